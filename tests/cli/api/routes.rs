//! Every route of SPEC.md's table through a real `temps serve`: who may call it, what it
//! answers, and that a refused or malformed request leaves the history as it was.

use std::net::Ipv4Addr;
use std::path::Path;

use serde_json::{json, Value};

use super::server::{history_text, token, Answer, Server, PATIENCE};
use crate::common::*;
use crate::reliability::{invariants, serving_soon};
use crate::require_docker;

/// A web project whose production serves v1 as #1, then v2 as #2, on a loopback port.
fn web_pair(env: &TestEnv, hint: &str) -> (String, u16) {
    let project = env.web_project(hint);
    let port = free_port();
    let publish = format!("127.0.0.1:{port}");
    env.ok(&["deploy", &project, "--image", WEB_V1, "--publish", &publish]);
    env.ok(&["deploy", &project, "--image", WEB_V2]);
    assert_eq!(serving(port).as_deref(), Some("v2"));
    (project, port)
}

/// A static project whose releases `one` and then `two` were deployed (no Docker needed).
pub(super) fn static_pair(env: &TestEnv, hint: &str) -> String {
    let project = env.project_name(hint);
    env.ok(&["project", "create", &project, "--preset", "static"]);
    for text in ["one", "two"] {
        let dir = env.dir.path().join(format!("{project}-{text}"));
        std::fs::create_dir_all(&dir).expect("a site folder");
        std::fs::write(dir.join("index.html"), text).expect("index.html");
        env.ok(&[
            "deploy",
            &project,
            "--dir",
            dir.to_str().expect("utf-8 path"),
        ]);
    }
    project
}

/// The id of a record.
fn id_of(record: &Value) -> i64 {
    record["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no id: {record}"))
}

/// Records without the API's `actions` and `list`'s `can_roll_back` (Docker's word of
/// the moment, `null` when the engine is slow), to compare with what the CLI prints.
fn without_actions(list: &Value) -> Value {
    let mut list = list.clone();
    for item in list.as_array_mut().expect("an array") {
        let item = item.as_object_mut().expect("an object");
        item.remove("actions");
        item.remove("can_roll_back");
    }
    list
}

fn actions(record: &Value) -> Vec<String> {
    record["actions"]
        .as_array()
        .unwrap_or_else(|| panic!("no actions: {record}"))
        .iter()
        .map(|a| a.as_str().expect("an action").to_string())
        .collect()
}

#[track_caller]
fn assert_unauthorized(answer: Answer) {
    let answer = answer.error(401, "unauthorized");
    assert!(
        answer
            .header("www-authenticate")
            .is_some_and(|v| v.starts_with("Bearer")),
        "{answer:?}"
    );
}

/// Every route but `/api/health` and its method, on `project`, with a body where it
/// takes one.
fn every_route(project: &str) -> Vec<(&'static str, String, Option<Value>)> {
    let base = format!("/api/projects/{project}");
    let variables = format!("{base}/environments/production/variables");
    vec![
        ("GET", "/api/projects".to_string(), None),
        ("GET", base.clone(), None),
        ("GET", format!("{base}/status"), None),
        ("GET", format!("{base}/deployments"), None),
        ("GET", format!("{base}/deployments/1"), None),
        ("GET", format!("{base}/deployments/1/events"), None),
        (
            "POST",
            format!("{base}/deployments"),
            Some(json!({"image": WEB_V1})),
        ),
        (
            "POST",
            format!("{base}/deployments/1/rollback"),
            Some(json!({})),
        ),
        (
            "POST",
            format!("{base}/deployments/1/promote"),
            Some(json!({})),
        ),
        ("POST", format!("{base}/rollback"), Some(json!({}))),
        ("GET", variables.clone(), None),
        ("PUT", variables.clone(), Some(json!({"A": "b"}))),
        ("DELETE", format!("{variables}/A"), None),
        ("GET", "/api/session".to_string(), None),
    ]
}

/// A client of its own: another loopback address, so that a test's deliberate failures
/// to authenticate do not add up to the ten a minute that slow one client down.
fn client(n: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 1, u8::try_from(n % 250 + 1).expect("a byte"))
}

#[test]
fn health_is_open_and_every_other_route_wants_a_live_token() {
    let env = TestEnv::new();
    let reader = token(&env, "watch", "reader", &[]);
    let revoked = token(&env, "gone", "admin", &[]);
    env.ok(&["token", "revoke", "gone"]);
    let expired = token(&env, "brief", "admin", &["--expires", "1s"]);
    let lasting = token(&env, "lasting", "reader", &["--expires", "1h"]);
    let listed = env.ok(&["--output", "json", "token", "list"]).stdout;
    for secret in [&reader, &revoked, &expired, &lasting] {
        assert!(
            !listed.contains(secret.as_str()),
            "a secret is listed: {listed}"
        );
    }
    let server = Server::start(&env);

    // A token with an expiry works until then...
    server.get("/api/projects", &lasting).status(200);
    let who = server.get("/api/session", &lasting).status(200).json();
    assert_eq!(who["name"], "lasting", "{who}");
    assert!(who["expires_at"].is_string(), "{who}");
    // ... and not after (asked until its second has passed).
    let started = std::time::Instant::now();
    while server.get("/api/projects", &expired).status != 401 {
        assert!(started.elapsed() < PATIENCE, "a 1s token still works");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    let health = server.req("GET", "/api/health").send().status(200).json();
    assert_eq!(health["status"], "ok", "{health}");
    assert!(health["version"].is_string(), "{health}");

    let unknown = format!("tps_{}", "x".repeat(40));
    for (n, (method, path, body)) in every_route("web").iter().enumerate() {
        let request = |auth: Option<String>| {
            let mut r = server.req(method, path).from(client(n));
            if let Some(auth) = auth {
                r = r.header("Authorization", &auth);
            }
            if let Some(body) = body {
                r = r.json(body);
            }
            r.send()
        };
        assert_unauthorized(request(None));
        assert_unauthorized(request(Some(format!("Bearer {unknown}"))));
        assert_unauthorized(request(Some(format!("Basic {reader}"))));
        assert_unauthorized(request(Some(format!("Bearer {revoked}"))));
        assert_unauthorized(request(Some(format!("Bearer {expired}"))));
        assert_unauthorized(request(Some("Bearer".to_string())));
    }
    // The live one gets in.
    assert_eq!(
        server.get("/api/projects", &reader).status(200).json(),
        json!([])
    );
    let who = server.get("/api/session", &reader).status(200).json();
    assert_eq!(who["name"], "watch", "{who}");
    assert_eq!(who["role"], "reader", "{who}");
    // A route the spec does not have: 404 with a token, 401 without.
    server
        .get("/api/nothing-here", &reader)
        .error(404, "not_found");
    assert_unauthorized(server.req("GET", "/api/nothing-here").send());
    // The secrets never reach the log.
    let log = server.stderr();
    for secret in [&reader, &revoked, &expired, &lasting, &unknown] {
        assert!(
            !log.contains(secret.as_str()),
            "a secret in the log:\n{log}"
        );
    }
}

#[test]
fn without_a_token_nothing_of_a_request_is_judged_it_is_401() {
    let env = TestEnv::new();
    let site = static_pair(&env, "apijudged");
    let admin = token(&env, "root", "admin", &[]);
    let server = Server::start(&env);
    let before = history_text(&env, &site);
    let big = vec![b'x'; 70 * 1024];
    for (n, (method, path, body)) in every_route(&site).iter().enumerate() {
        // What would be 400, 413 or 415 with a token.
        let mut refusals = vec![
            server.req(method, &format!("{path}?unknown=1")),
            server.req(method, &path.replace("/1", "/+1")),
            server.req(method, &path.replace(&site, "Bad_Name")),
        ];
        if body.is_some() {
            refusals.extend([
                server
                    .req(method, path)
                    .body("application/json", b"{\"a\":".to_vec()),
                server
                    .req(method, path)
                    .body("application/json", b"[1]".to_vec()),
                server.req(method, path).body("text/plain", b"{}".to_vec()),
                server
                    .req(method, path)
                    .body("application/json", big.clone()),
            ]);
        }
        for request in refusals {
            assert_unauthorized(request.from(client(n)).send());
        }
    }
    // With one, those are judged: an unknown query parameter on any route is a 400.
    for (method, path, body) in every_route(&site) {
        let mut request = server
            .req(method, &format!("{path}?unknown=1"))
            .bearer(&admin);
        if let Some(body) = &body {
            request = request.json(body);
        }
        request.send().error(400, "bad_request");
    }
    assert_eq!(
        history_text(&env, &site),
        before,
        "a refused request changed the history"
    );
    server
        .req("GET", "/api/health?unknown=1")
        .send()
        .error(400, "bad_request");
    // Two `Authorization` headers are one too many, even both valid.
    server
        .req("GET", "/api/projects")
        .bearer(&admin)
        .bearer(&admin)
        .send()
        .error(400, "bad_request");
}

#[test]
fn a_responder_rolls_back_a_deployer_deploys_ready_and_promote_clears_the_state() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port) = web_pair(&env, "apiseed");
    let reader = token(&env, "watch", "reader", &[]);
    let oncall = token(&env, "oncall", "responder", &[]);
    let ci = token(&env, "ci", "deployer", &[]);
    let server = Server::start(&env);
    let base = format!("/api/projects/{project}");

    // Reading: the same documents the command line prints.
    let projects = server.get("/api/projects", &reader).status(200).json();
    let shown = env.json(&["project", "show", &project]);
    assert_eq!(projects, json!([shown.clone()]));
    assert_eq!(server.get(&base, &reader).status(200).json(), shown);
    let status = server
        .get(&format!("{base}/status"), &reader)
        .status(200)
        .json();
    assert_eq!(status, env.json(&["status", &project]));
    assert_eq!(status[0]["current"]["id"], 2, "{status}");
    assert_eq!(status[0]["state"], "normal", "{status}");

    let listed = server
        .get(&format!("{base}/deployments"), &reader)
        .status(200)
        .json();
    assert_eq!(
        without_actions(&listed),
        without_actions(&env.json(&["list", &project]))
    );
    for record in listed.as_array().expect("an array") {
        assert!(record.get("can_roll_back").is_some(), "as `list`: {record}");
        assert_eq!(
            actions(record),
            Vec::<String>::new(),
            "a reader may do nothing"
        );
        for field in SPEC_DEPLOYMENT_FIELDS {
            assert!(record.get(field).is_some(), "no {field}: {record}");
        }
    }
    let listed = server
        .get(&format!("{base}/deployments"), &oncall)
        .status(200)
        .json();
    assert_eq!(id_of(&listed[0]), 2);
    assert!(
        actions(&listed[0]).is_empty(),
        "the current deployment of a normal environment is no rollback target, and \
         promoting it would change nothing: {}",
        listed[0]
    );
    assert_eq!(
        actions(&listed[1]),
        ["rollback", "promote"],
        "{}",
        listed[1]
    );
    let one = server
        .get(&format!("{base}/deployments/1"), &oncall)
        .status(200)
        .json();
    assert_eq!(actions(&one), actions(&listed[1]));
    assert_eq!(without_actions(&json!([one]))[0], env.json(&["show", "1"]));
    let newest = server
        .get(
            &format!("{base}/deployments?environment=production&limit=1"),
            &reader,
        )
        .status(200)
        .json();
    assert_eq!(newest.as_array().map(Vec::len), Some(1), "{newest}");
    assert_eq!(id_of(&newest[0]), 2);

    // A dry run shows the plan the command line shows, and records nothing.
    let before = history_text(&env, &project);
    let plan = server
        .post(
            &format!("{base}/deployments/1/rollback?dry_run=true"),
            &oncall,
            &json!({}),
        )
        .status(200)
        .json();
    assert_eq!(plan["dry_run"], true, "{plan}");
    assert_eq!(plan["action"], "rollback", "{plan}");
    assert_eq!(plan["current"]["id"], 2, "{plan}");
    assert_eq!(plan["target"]["id"], 1, "{plan}");
    assert!(plan["changed_variables"].is_array(), "{plan}");
    assert_eq!(
        plan["addresses"],
        json!([format!("127.0.0.1:{port}")]),
        "{plan}"
    );
    assert_eq!(plan, env.json(&["rollback", "1", "--dry-run"]));
    assert_eq!(
        history_text(&env, &project),
        before,
        "a dry run recorded something"
    );

    // The rollback: 202 at once, then followed to its end.
    let answer = server
        .post(
            &format!("{base}/deployments/1/rollback"),
            &oncall,
            &json!({"reason": "checkout errors after v2"}),
        )
        .status(202);
    let record = answer.json();
    let id = id_of(&record);
    let location = format!("{base}/deployments/{id}");
    assert_eq!(
        answer.header("location"),
        Some(location.as_str()),
        "{answer:?}"
    );
    assert_eq!(record["status"], "deploying", "{record}");
    assert_eq!(record["is_rollback"], true, "{record}");
    assert_eq!(record["rolled_back_to_id"], 1, "{record}");
    assert_eq!(record["rolled_back_from_id"], 2, "{record}");
    assert_eq!(record["created_by"], "token:oncall", "{record}");
    assert_eq!(record["reason"], "checkout errors after v2", "{record}");
    for field in SPEC_DEPLOYMENT_FIELDS {
        assert!(record.get(field).is_some(), "no {field}: {record}");
    }
    let events = server.events(&project, id, &reader);
    let (last, progress) = events.split_last().expect("events");
    assert_eq!(last.0, "done", "{events:?}");
    assert_eq!(last.1["id"], id, "{events:?}");
    assert_eq!(last.1["status"], "deployed", "{events:?}");
    assert!(!progress.is_empty(), "no progress before done: {events:?}");
    for (name, data) in progress {
        assert_eq!(name, "progress", "{events:?}");
        assert!(data["step"].is_string(), "{data}");
        assert!(
            data["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{data}"
        );
        assert!(data["elapsed_ms"].is_u64(), "{data}");
    }
    assert_eq!(serving_soon(port).as_deref(), Some("v1"));
    let shown = server.get(&location, &reader).status(200).json();
    assert_eq!(shown["status"], "deployed", "{shown}");
    assert_eq!(
        without_actions(&json!([shown]))[0],
        env.json(&["show", &id.to_string()])
    );
    let status = server
        .get(&format!("{base}/status"), &reader)
        .status(200)
        .json();
    assert_eq!(status[0]["state"], "rolled_back", "{status}");
    assert_eq!(status[0]["current"]["id"], id, "{status}");
    // An ended deployment's stream says `done` at once, with its record.
    let ended = server.events(&project, 1, &reader);
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(ended[0].0, "done");
    assert_eq!(ended[0].1, env.json(&["show", "1"]));

    // While rolled back, a new image is recorded `ready` and does not serve.
    let answer = server
        .post(
            &format!("{base}/deployments"),
            &ci,
            &json!({"image": WEB_V2, "reason": "the fix"}),
        )
        .status(202);
    let ready = answer.json();
    let ready_id = id_of(&ready);
    assert_eq!(
        answer.header("location"),
        Some(format!("{base}/deployments/{ready_id}").as_str())
    );
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["created_by"], "token:ci", "{ready}");
    assert_eq!(ready["image"], WEB_V2, "{ready}");
    let events = server.events(&project, ready_id, &ci);
    let done = events.last().expect("events");
    assert_eq!(
        (done.0.as_str(), &done.1["status"]),
        ("done", &json!("ready")),
        "{events:?}"
    );
    assert_eq!(serving(port).as_deref(), Some("v1"));
    let listed = server
        .get(&format!("{base}/deployments"), &oncall)
        .status(200)
        .json();
    assert!(
        actions(&listed[0]).contains(&"promote".to_string()),
        "{}",
        listed[0]
    );

    // Promote, waiting for the end: the state is normal again.
    let answer = server
        .post(
            &format!("{base}/deployments/{ready_id}/promote?wait=true"),
            &oncall,
            &json!({"reason": "the fix is out"}),
        )
        .status(200);
    let promoted = answer.json();
    assert_eq!(promoted["status"], "deployed", "{promoted}");
    assert_eq!(promoted["is_promote"], true, "{promoted}");
    assert_eq!(promoted["created_by"], "token:oncall", "{promoted}");
    assert_eq!(
        answer.header("location"),
        Some(format!("{base}/deployments/{}", id_of(&promoted)).as_str())
    );
    assert_eq!(serving_soon(port).as_deref(), Some("v2"));
    let status = server
        .get(&format!("{base}/status"), &reader)
        .status(200)
        .json();
    assert_eq!(status[0]["state"], "normal", "{status}");

    // A rollback with no id goes to the most recent valid target, as the command line
    // would choose it.
    let cli_plan = env.json(&["rollback", "--project", &project, "--dry-run"]);
    let target = id_of(&cli_plan["target"]);
    let plan = server
        .post(
            &format!("{base}/rollback?dry_run=true"),
            &oncall,
            &json!({}),
        )
        .status(200)
        .json();
    assert_eq!(plan, cli_plan);
    let answer = server
        .post(
            &format!("{base}/rollback?wait=true"),
            &oncall,
            &json!({"environment": "production", "reason": "again"}),
        )
        .status(200);
    let record = answer.json();
    assert_eq!(record["status"], "deployed", "{record}");
    assert_eq!(record["rolled_back_to_id"], target, "{record}");
    assert_eq!(record["image"], WEB_V1, "{record}");
    assert_eq!(invariants(&env, &project, port).as_deref(), Some("v1"));
}

/// An answer's JSON with `from` written as `to` wherever it appears: what one name was
/// answered, as it would read for another.
fn renamed(answer: &Answer, from: &str, to: &str) -> Value {
    serde_json::from_str(&answer.body.replace(from, to)).expect("JSON")
}

#[test]
fn refusals_and_bad_input_answer_the_spec_codes_and_change_nothing() {
    require_docker!();
    let env = TestEnv::new();
    let (project, web_port) = web_pair(&env, "apierr");
    // #3 never became healthy.
    env.run(&["deploy", &project, "--image", CRASH]).code(5);
    let other = static_pair(&env, "apiother");
    let other_id = id_of(&env.json(&["list", &other, "--limit", "1"])[0]);
    env.ok(&["env", "set", &project, "SECRET_KEY=hunter2"]);
    let reader = token(&env, "watch", "reader", &[]);
    let oncall = token(&env, "oncall", "responder", &[]);
    let ci = token(&env, "ci", "deployer", &[]);
    let admin = token(&env, "root", "admin", &[]);
    let elsewhere = token(&env, "elsewhere", "admin", &["--project", &other]);
    let staging = token(
        &env,
        "staging",
        "admin",
        &["--project", &project, "--environment", "staging"],
    );
    let server = Server::start(&env);
    let base = format!("/api/projects/{project}");
    let variables = format!("{base}/environments/production/variables");
    let before = history_text(&env, &project);
    let other_before = history_text(&env, &other);
    let env_list = |reveal: bool| {
        let mut args = vec!["env", "list", project.as_str()];
        if reveal {
            args.push("--reveal");
        }
        env.json(&args)
    };
    let unchanged = |what: &str| {
        assert_eq!(
            history_text(&env, &project),
            before,
            "{what} changed the history"
        );
        assert_eq!(
            history_text(&env, &other),
            other_before,
            "{what} changed the history"
        );
    };

    // Every role reads every route.
    for secret in [&reader, &oncall, &ci, &admin] {
        for path in [
            "/api/projects".to_string(),
            base.clone(),
            format!("{base}/status"),
            format!("{base}/deployments"),
            format!("{base}/deployments/1"),
            variables.clone(),
        ] {
            server.get(&path, secret).status(200);
        }
        let events = server.events(&project, 3, secret);
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(
            (events[0].0.as_str(), &events[0].1["status"]),
            ("done", &json!("failed"))
        );
    }

    // 403: a known token without the permission.
    for (secret, method, path, body) in [
        (
            &reader,
            "POST",
            format!("{base}/deployments/1/rollback"),
            json!({}),
        ),
        (
            &reader,
            "POST",
            format!("{base}/deployments/1/promote"),
            json!({}),
        ),
        (&reader, "POST", format!("{base}/rollback"), json!({})),
        (
            &reader,
            "POST",
            format!("{base}/deployments/1/rollback?dry_run=true"),
            json!({}),
        ),
        (
            &oncall,
            "POST",
            format!("{base}/deployments"),
            json!({"image": WEB_V1}),
        ),
        (
            &reader,
            "POST",
            format!("{base}/deployments"),
            json!({"image": WEB_V1}),
        ),
        (
            &ci,
            "PUT",
            variables.clone(),
            json!({"SECRET_KEY": "stolen"}),
        ),
        (
            &oncall,
            "PUT",
            variables.clone(),
            json!({"SECRET_KEY": "stolen"}),
        ),
    ] {
        server
            .req(method, &path)
            .bearer(secret)
            .json(&body)
            .send()
            .error(403, "forbidden");
        unchanged(&format!("{method} {path}"));
    }
    for secret in [&reader, &oncall, &ci] {
        server
            .req("DELETE", &format!("{variables}/SECRET_KEY"))
            .bearer(secret)
            .send()
            .error(403, "forbidden");
        let answer = server
            .get(&format!("{variables}?reveal=true"), secret)
            .error(403, "forbidden");
        assert!(!answer.body.contains("hunter2"), "{answer:?}");
    }
    // ... and the roles that have it get past the check (a dry run; a bad environment).
    for secret in [&oncall, &ci, &admin] {
        server
            .post(
                &format!("{base}/deployments/1/rollback?dry_run=true"),
                secret,
                &json!({}),
            )
            .status(200);
        server
            .post(
                &format!("{base}/deployments/1/promote?dry_run=true"),
                secret,
                &json!({}),
            )
            .status(200);
    }
    for secret in [&ci, &admin] {
        server
            .post(
                &format!("{base}/deployments"),
                secret,
                &json!({"image": WEB_V1, "environment": "Not_A_Name"}),
            )
            .error(400, "bad_request");
    }
    unchanged("the permitted dry runs");

    // 404: nothing there, another project's id, and what a scoped token does not see,
    // answered exactly as what does not exist.
    let missing = server
        .get("/api/projects/no-such-project", &reader)
        .error(404, "not_found");
    server
        .get("/api/projects/no-such-project/deployments", &reader)
        .error(404, "not_found");
    server
        .get(&format!("{base}/deployments/{other_id}"), &reader)
        .error(404, "not_found");
    let no_id = server
        .get(&format!("{base}/deployments/999999"), &reader)
        .error(404, "not_found");
    server
        .post(
            &format!("{base}/deployments/{other_id}/rollback"),
            &oncall,
            &json!({}),
        )
        .error(404, "not_found");
    server
        .get(&format!("{base}/deployments/{other_id}/events"), &reader)
        .error(404, "not_found");
    let answer = server.get(&base, &elsewhere).error(404, "not_found");
    assert_eq!(
        answer.json(),
        renamed(&missing, "no-such-project", &project)
    );
    for path in [
        format!("{base}/status"),
        format!("{base}/deployments"),
        format!("{base}/deployments/1"),
        variables.clone(),
        format!("{variables}?reveal=true"),
    ] {
        server.get(&path, &elsewhere).error(404, "not_found");
    }
    server
        .post(
            &format!("{base}/deployments/1/rollback"),
            &elsewhere,
            &json!({}),
        )
        .error(404, "not_found");
    server
        .post(
            &format!("{base}/deployments"),
            &elsewhere,
            &json!({"image": WEB_V1}),
        )
        .error(404, "not_found");
    server
        .req("PUT", &variables)
        .bearer(&elsewhere)
        .json(&json!({"A": "b"}))
        .send()
        .error(404, "not_found");
    let seen: Vec<Value> = server
        .get("/api/projects", &elsewhere)
        .status(200)
        .json()
        .as_array()
        .expect("an array")
        .iter()
        .map(|p| p["name"].clone())
        .collect();
    assert_eq!(seen, [json!(other)]);

    let answer = server
        .get(&format!("{base}/deployments/1"), &staging)
        .error(404, "not_found");
    assert_eq!(
        answer.json(),
        renamed(&no_id, "999999", "1"),
        "a deployment outside the token's environment answers as one that does not exist"
    );
    let no_env = server
        .get(&format!("{base}/environments/nowhere/variables"), &admin)
        .error(404, "not_found");
    let answer = server.get(&variables, &staging).error(404, "not_found");
    assert_eq!(answer.json(), renamed(&no_env, "nowhere", "production"));
    server
        .post(
            &format!("{base}/deployments/1/rollback"),
            &staging,
            &json!({}),
        )
        .error(404, "not_found");
    server
        .post(
            &format!("{base}/rollback"),
            &staging,
            &json!({"environment": "production"}),
        )
        .error(404, "not_found");
    assert_eq!(
        server
            .get(&format!("{base}/deployments"), &staging)
            .status(200)
            .json(),
        json!([])
    );
    assert_eq!(
        server
            .get(&format!("{base}/status"), &staging)
            .status(200)
            .json(),
        json!([])
    );
    let shown = server.get(&base, &staging).status(200).json();
    assert!(
        !shown.to_string().contains("\"production\""),
        "a token scoped to staging sees production: {shown}"
    );
    unchanged("the requests answered 404");

    // 413, 415 and 400: the body and the path are checked before anything happens.
    let big = "x".repeat(70 * 1024);
    server
        .req("PUT", &variables)
        .bearer(&admin)
        .json(&json!({ "BIG": big }))
        .send()
        .error(413, "too_large");
    server
        .req("PUT", &variables)
        .bearer(&admin)
        .json(&json!({ "BIG": big }))
        .chunked()
        .send()
        .error(413, "too_large");
    assert!(!env_list(true).to_string().contains("BIG"));
    server
        .post(
            &format!("{base}/deployments/1/rollback"),
            &oncall,
            &json!({ "reason": big }),
        )
        .error(413, "too_large");
    server
        .req("POST", &format!("{base}/deployments/1/rollback"))
        .bearer(&oncall)
        .body("text/plain", b"{}".to_vec())
        .send()
        .error(415, "unsupported_media_type");
    server
        .req("PUT", &variables)
        .bearer(&admin)
        .body("text/plain", br#"{"A":"b"}"#.to_vec())
        .send()
        .error(415, "unsupported_media_type");
    let rollback_1 = format!("{base}/deployments/1/rollback");
    for (method, path, body) in [
        ("POST", rollback_1.clone(), br#"{"reason":"#.to_vec()),
        ("POST", rollback_1.clone(), br#"{"reasn":"typo"}"#.to_vec()),
        ("POST", rollback_1.clone(), br#"["a list"]"#.to_vec()),
        ("POST", format!("{rollback_1}?force=true"), b"{}".to_vec()),
        ("POST", format!("{rollback_1}?wait=maybe"), b"{}".to_vec()),
        (
            "POST",
            format!("{base}/deployments/abc/rollback"),
            b"{}".to_vec(),
        ),
        (
            "POST",
            format!("{base}/deployments/0/promote"),
            b"{}".to_vec(),
        ),
        (
            "POST",
            "/api/projects/Bad_Name/deployments/1/rollback".into(),
            b"{}".to_vec(),
        ),
        (
            "POST",
            "/api/projects/Bad_Name/rollback".into(),
            b"{}".to_vec(),
        ),
        (
            "POST",
            format!("{base}/rollback"),
            br#"{"environment":"Bad_Env"}"#.to_vec(),
        ),
        (
            "POST",
            format!("{base}/deployments"),
            br#"{"image":1}"#.to_vec(),
        ),
        (
            "POST",
            format!("{base}/deployments"),
            br#"{"environment":"production"}"#.to_vec(),
        ),
        ("PUT", variables.clone(), br#"{"A":1}"#.to_vec()),
        ("PUT", variables.clone(), br#"{"A":"#.to_vec()),
        ("PUT", variables.clone(), b"{}".to_vec()),
        ("PUT", variables.clone(), br#"{"1 BAD":"x"}"#.to_vec()),
        (
            "PUT",
            format!("{base}/environments/Bad_Env/variables"),
            br#"{"A":"b"}"#.to_vec(),
        ),
        ("DELETE", format!("{variables}/1%20BAD"), Vec::new()),
        ("GET", format!("{base}/deployments/abc"), Vec::new()),
        ("GET", format!("{base}/deployments/+1"), Vec::new()),
        (
            "POST",
            format!("{base}/deployments/+1/rollback"),
            b"{}".to_vec(),
        ),
        ("GET", format!("{base}/deployments/abc/events"), Vec::new()),
        ("GET", format!("{base}/deployments?limit=many"), Vec::new()),
        ("GET", "/api/projects/Bad_Name".into(), Vec::new()),
    ] {
        let mut request = server.req(method, &path).bearer(&admin);
        if !body.is_empty() {
            request = request.body("application/json", body.clone());
        }
        let answer = request.send();
        assert_eq!(
            answer.status,
            400,
            "{method} {path} {}: {answer:?}",
            String::from_utf8_lossy(&body)
        );
        answer.error(400, "bad_request");
        unchanged(&format!("{method} {path}"));
    }

    // 422: refused by validation, before anything is recorded, waiting or not.
    for path in [
        format!("{base}/deployments/2/rollback"),
        format!("{base}/deployments/2/rollback?wait=true"),
        format!("{base}/deployments/3/rollback"),
        format!("{base}/deployments/3/rollback?wait=true"),
        format!("{base}/deployments/3/promote"),
    ] {
        let answer = server
            .post(&path, &oncall, &json!({}))
            .error(422, "refused");
        assert_eq!(answer.json()["deployment"], Value::Null, "{answer:?}");
        unchanged(&path);
    }

    // Variables: names for all, values for an admin only; set and unset by an admin.
    let masked = server.get(&variables, &reader).status(200).json();
    assert_eq!(masked, env_list(false));
    assert!(masked.to_string().contains("SECRET_KEY"), "{masked}");
    assert!(!masked.to_string().contains("hunter2"), "{masked}");
    let revealed = server
        .get(&format!("{variables}?reveal=true"), &admin)
        .status(200)
        .json();
    assert_eq!(revealed, env_list(true));
    assert!(revealed.to_string().contains("hunter2"), "{revealed}");
    let set = server
        .req("PUT", &variables)
        .bearer(&admin)
        .json(&json!({"LOG_LEVEL": "debug", "SECRET_KEY": "hunter3"}))
        .send()
        .status(200)
        .json();
    assert_eq!(set, env_list(false));
    assert!(!set.to_string().contains("hunter3"), "{set}");
    assert!(env_list(true).to_string().contains("hunter3"));
    assert!(env_list(true).to_string().contains("debug"));
    let answer = server
        .req("DELETE", &format!("{variables}/LOG_LEVEL"))
        .bearer(&admin)
        .send()
        .status(204);
    assert_eq!(answer.body, "", "{answer:?}");
    assert!(!env_list(true).to_string().contains("LOG_LEVEL"));
    server
        .req("DELETE", &format!("{variables}/LOG_LEVEL"))
        .bearer(&admin)
        .send()
        .error(404, "not_found");
    unchanged("the variables' changes");

    // 503 when Docker does not answer, before anything is recorded.
    let blind = Server::listening(&env, "127.0.0.1:0", &[], &[("DOCKER_HOST", NO_DOCKER)]);
    blind
        .post(
            &format!("{base}/deployments/1/rollback"),
            &oncall,
            &json!({}),
        )
        .error(503, "docker_unreachable");
    blind
        .post(
            &format!("{base}/deployments"),
            &ci,
            &json!({"image": WEB_V1}),
        )
        .error(503, "docker_unreachable");
    unchanged("the requests without Docker");
    drop(blind);

    // 502 with `?wait=true` when the new version never becomes healthy: the record
    // comes with the error, and its event stream says so before `done`.
    let answer = server
        .post(
            &format!("{base}/deployments?wait=true"),
            &ci,
            &json!({"image": CRASH}),
        )
        .error(502, "health_failed");
    let failed = answer.json()["deployment"].clone();
    assert_eq!(failed["status"], "failed", "{answer:?}");
    assert_eq!(failed["created_by"], "token:ci", "{answer:?}");
    let events = server.events(&project, id_of(&failed), &reader);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names[names.len() - 2..], ["error", "done"], "{events:?}");
    assert_eq!(
        events[names.len() - 3].1["step"],
        "unlock",
        "the lock is let go before the error: {events:?}"
    );
    assert_eq!(
        events[names.len() - 2].1["code"],
        "health_failed",
        "{events:?}"
    );
    assert_eq!(events[names.len() - 1].1, failed);
    assert_eq!(serving(web_port).as_deref(), Some("v2"));
}

#[test]
fn a_session_cookie_reads_anywhere_and_changes_only_from_the_same_origin() {
    let env = TestEnv::new();
    let site = static_pair(&env, "apisession");
    let oncall = token(&env, "oncall", "responder", &[]);
    let server = Server::start(&env);
    let base = format!("/api/projects/{site}");
    let origin = format!("http://127.0.0.1:{}", server.port);
    let sign_in = |secret: &str| {
        server
            .req("POST", "/api/session")
            .json(&json!({ "token": secret }))
            .send()
    };

    assert_unauthorized(sign_in(&format!("tps_{}", "0".repeat(40))));
    let answer = sign_in(&oncall).status(200);
    let doc = answer.json();
    assert_eq!(doc["name"], "oncall", "{doc}");
    assert_eq!(doc["role"], "responder", "{doc}");
    let set = answer.header("set-cookie").expect("a cookie").to_string();
    let attributes: Vec<&str> = set.split(';').map(str::trim).collect();
    for wanted in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(attributes.contains(&wanted), "{set}");
    }
    assert!(!attributes.contains(&"Secure"), "Secure without TLS: {set}");
    let cookie = attributes[0].to_string();
    assert!(
        cookie.starts_with("temps_session=") && cookie.len() > 30,
        "{set}"
    );
    assert!(
        !cookie.contains(&oncall),
        "the cookie carries the secret: {set}"
    );

    let projects = server
        .req("GET", "/api/projects")
        .cookie(&cookie)
        .send()
        .status(200)
        .json();
    assert_eq!(projects[0]["name"], json!(site), "{projects}");
    let who = server
        .req("GET", "/api/session")
        .cookie(&cookie)
        .send()
        .status(200)
        .json();
    assert_eq!(who, doc);

    // A change by cookie needs the page's own origin.
    let before = history_text(&env, &site);
    let rollback = format!("{base}/deployments/1/rollback");
    for origin in [None, Some("http://evil.example"), Some("null")] {
        let mut request = server
            .req("POST", &rollback)
            .cookie(&cookie)
            .json(&json!({}));
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        request.send().error(403, "forbidden");
        assert_eq!(
            history_text(&env, &site),
            before,
            "a cross-origin POST changed the history"
        );
    }
    let answer = server
        .req("POST", &rollback)
        .cookie(&cookie)
        .header("Origin", &origin)
        .json(&json!({"reason": "from the dashboard"}))
        .send()
        .status(202);
    let id = id_of(&answer.json());
    let events = server.events(&site, id, &oncall);
    let done = &events.last().expect("events").1;
    assert_eq!(done["status"], "deployed", "{events:?}");
    assert_eq!(done["created_by"], "token:oncall", "{done}");
    assert_eq!(done["rolled_back_to_id"], 1, "{done}");
    let current = env
        .dir
        .path()
        .join(format!("data/static/{site}/production/current"));
    assert_eq!(
        std::fs::read_to_string(Path::new(&current).join("index.html")).expect("the release"),
        "one"
    );

    // Signing out is a change like any other: from the page's origin, it ends the session.
    server
        .req("DELETE", "/api/session")
        .cookie(&cookie)
        .send()
        .error(403, "forbidden");
    server.req("GET", &base).cookie(&cookie).send().status(200);
    let answer = server
        .req("DELETE", "/api/session")
        .cookie(&cookie)
        .header("Origin", &origin)
        .send()
        .status(204);
    assert!(
        answer
            .header("set-cookie")
            .is_some_and(|c| c.contains("Max-Age=0")),
        "{answer:?}"
    );
    assert_unauthorized(server.req("GET", "/api/projects").cookie(&cookie).send());

    // A revoked token's session ends with it.
    let answer = sign_in(&oncall).status(200);
    let cookie = answer
        .header("set-cookie")
        .expect("a cookie")
        .split(';')
        .next()
        .expect("a pair")
        .to_string();
    server.req("GET", &base).cookie(&cookie).send().status(200);
    env.ok(&["token", "revoke", "oncall"]);
    assert_unauthorized(server.req("GET", &base).cookie(&cookie).send());
    assert_unauthorized(server.get(&base, &oncall));
}

/// The session cookie `temps serve` sets when `secret` signs in.
fn signed_in(server: &Server, secret: &str) -> String {
    let answer = server
        .req("POST", "/api/session")
        .json(&json!({ "token": secret }))
        .send()
        .status(200);
    answer
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string()
}

/// A dry run of a rollback over h2c (`:authority` 127.0.0.1:PORT, no `Host`) by cookie,
/// from `origin`: the status.
fn h2c_dry_run_by_cookie(server: &Server, site: &str, cookie: &str, origin: &str) -> u16 {
    use crate::proxy::attacks::{h2c, runtime};
    use http_body_util::BodyExt;
    let port = server.port;
    runtime().block_on(async {
        let (mut sender, _driver) = h2c(port, None).await;
        let request = hyper::Request::post(format!(
            "http://127.0.0.1:{port}/api/projects/{site}/deployments/1/rollback?dry_run=true"
        ))
        .header("cookie", cookie)
        .header("origin", origin)
        .header("content-type", "application/json")
        .body(
            http_body_util::Full::new(hyper::body::Bytes::from_static(b"{}"))
                .map_err(|never| match never {})
                .boxed(),
        )
        .expect("a request");
        let answer = sender.send_request(request).await.expect("an answer");
        assert!(answer.headers().get("host").is_none());
        answer.status().as_u16()
    })
}

#[test]
fn a_cookie_request_over_http2_is_judged_by_its_authority_or_by_the_public_url() {
    let env = TestEnv::new();
    let site = static_pair(&env, "apih2origin");
    let oncall = token(&env, "oncall", "responder", &[]);
    let server = Server::start(&env);
    let cookie = signed_in(&server, &oncall);
    let own = format!("http://127.0.0.1:{}", server.port);
    assert_eq!(h2c_dry_run_by_cookie(&server, &site, &cookie, &own), 200);
    assert_eq!(
        h2c_dry_run_by_cookie(&server, &site, &cookie, "http://evil.example"),
        403
    );
    drop(server);

    // Behind a proxy that changes the scheme and host, the page's origin is the public one.
    let server = Server::listening(
        &env,
        "127.0.0.1:0",
        &["--public-url", "https://Temps.Example.com/"],
        &[],
    );
    let cookie = signed_in(&server, &oncall);
    let own = format!("http://127.0.0.1:{}", server.port);
    assert_eq!(h2c_dry_run_by_cookie(&server, &site, &cookie, &own), 403);
    assert_eq!(
        h2c_dry_run_by_cookie(&server, &site, &cookie, "https://temps.example.com"),
        200
    );
    server
        .req(
            "POST",
            &format!("/api/projects/{site}/deployments/1/rollback?dry_run=true"),
        )
        .cookie(&cookie)
        .header("Origin", "https://temps.example.com:443")
        .json(&json!({}))
        .send()
        .status(200);
    // A public URL with a path is no origin.
    let run = env
        .run(&[
            "serve",
            "--public-url",
            "https://temps.example.com/dashboard",
        ])
        .code(2);
    assert!(run.stderr.contains("--public-url"), "{}", run.stderr);
}
