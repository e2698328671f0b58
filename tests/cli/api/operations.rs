//! Operations started through the API under pressure: many at once, racing the command
//! line, the server stopped by SIGTERM or killed while one runs, and the refusal to
//! serve plain HTTP beyond loopback.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::routes::static_pair;
use super::server::{token, Answer, Server, PATIENCE};
use crate::common::*;
use crate::reliability::{
    assert_recovered, check_container, container, deployment, history, invariants, is_running,
};
use crate::require_docker;
use crate::watch::install_hook;

/// A web project serving v1 as #1, then the SIGTERM-ignoring app as #2 with a 3 s stop
/// timeout: a rollback to #1 holds the environment's lock for at least that stop.
fn slow_to_leave(env: &TestEnv, hint: &str) -> (String, u16) {
    let project = env.web_project(hint);
    env.ok(&["project", "update", &project, "--stop-timeout", "3s"]);
    let port = free_port();
    let publish = format!("127.0.0.1:{port}");
    env.ok(&["deploy", &project, "--image", WEB_V1, "--publish", &publish]);
    env.ok(&["deploy", &project, "--image", STUBBORN]);
    assert_eq!(serving(port).as_deref(), Some("stubborn"));
    (project, port)
}

/// The invariants, plus: the one `deployed` record is what `temps status` calls current.
#[track_caller]
fn consistent(env: &TestEnv, project: &str, port: u16) -> Option<String> {
    let serving = invariants(env, project, port);
    let status = env.json(&["status", project]);
    let deployed: Vec<i64> = history(env, project)
        .iter()
        .filter(|d| d["status"] == "deployed")
        .filter_map(|d| d["id"].as_i64())
        .collect();
    assert_eq!(
        json!(deployed),
        json!([status[0]["current"]["id"]]),
        "{status}"
    );
    assert_eq!(status[0]["drift"], json!([]), "{status}");
    serving
}

#[test]
fn eight_api_rollbacks_at_once_one_runs_and_seven_are_busy() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port) = slow_to_leave(&env, "apieight");
    let oncall = token(&env, "oncall", "responder", &[]);
    let server = Server::start(&env);
    let recorded = history(&env, &project).len();

    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let request = server
                .req(
                    "POST",
                    &format!("/api/projects/{project}/deployments/1/rollback?wait=true"),
                )
                .bearer(&oncall)
                .json(&json!({ "reason": format!("caller {i}") }));
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                request.send()
            })
        })
        .collect();
    let answers: Vec<Answer> = threads
        .into_iter()
        .map(|t| t.join().expect("a caller"))
        .collect();
    let (won, lost): (Vec<Answer>, Vec<Answer>) =
        answers.into_iter().partition(|a| a.status == 200);
    assert_eq!(won.len(), 1, "exactly one runs: {won:?} {lost:?}");
    let winner = won[0].json();
    assert_eq!(winner["status"], "deployed", "{winner}");
    assert_eq!(winner["rolled_back_to_id"], 1, "{winner}");
    for answer in lost {
        let doc = answer.error(409, "busy").json();
        assert_eq!(doc["deployment"], Value::Null, "{doc}");
    }
    assert_eq!(
        history(&env, &project).len(),
        recorded + 1,
        "one record, for the one that ran"
    );
    assert_eq!(consistent(&env, &project, port).as_deref(), Some("v1"));
    let status = env.json(&["status", &project]);
    assert_eq!(status[0]["current"]["id"], winner["id"], "{status}");
}

#[test]
fn a_cli_rollback_and_an_api_rollback_of_one_environment_never_run_at_once() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port) = slow_to_leave(&env, "apirace");
    let oncall = token(&env, "oncall", "responder", &[]);
    let server = Server::start(&env);
    let recorded = history(&env, &project).len();

    let barrier = Barrier::new(2);
    let (cli, api) = std::thread::scope(|scope| {
        let cli = scope.spawn(|| {
            let mut cmd = env.cmd();
            cmd.args(["rollback", "1", "--yes", "--reason", "from the terminal"])
                .stdin(Stdio::null());
            barrier.wait();
            Run::from(cmd.output().expect("temps rollback"))
        });
        let api = scope.spawn(|| {
            let request = server
                .req(
                    "POST",
                    &format!("/api/projects/{project}/deployments/1/rollback?wait=true"),
                )
                .bearer(&oncall)
                .json(&json!({"reason": "from the API"}));
            barrier.wait();
            request.send()
        });
        (cli.join().expect("the CLI"), api.join().expect("the API"))
    });
    match (cli.status, api.status) {
        (0, 409) => {
            api.error(409, "busy");
        }
        (7, 200) => {
            assert_error_with_hint(&cli);
            assert_eq!(api.json()["status"], "deployed", "{api:?}");
        }
        _ => panic!(
            "one must run and the other be busy: CLI exit {}\n{}\n--- API\n{api:?}",
            cli.status, cli.stderr
        ),
    }
    assert_eq!(history(&env, &project).len(), recorded + 1);
    assert_eq!(consistent(&env, &project, port).as_deref(), Some("v1"));
}

#[test]
fn sigterm_lets_the_api_rollback_in_flight_finish_then_exits_0() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port) = slow_to_leave(&env, "apiterm");
    let oncall = token(&env, "oncall", "responder", &[]);
    let mut server = Server::start(&env);
    let record = server
        .post(
            &format!("/api/projects/{project}/deployments/1/rollback"),
            &oncall,
            &json!({}),
        )
        .status(202)
        .json();
    let id = record["id"].as_i64().expect("an id");
    // #2 takes its 3 s stop timeout to go: the operation is still running.
    let status = server.signal_and_wait("TERM");
    let stderr = server.stderr();
    assert_eq!(status.code(), Some(0), "{status}\n{stderr}");
    assert!(
        stderr.contains("SIGTERM") && stderr.contains("waiting for 1 operation(s) in flight"),
        "{stderr}"
    );
    let record = deployment(&env, id);
    assert_eq!(record["status"], "deployed", "{record}");
    assert_eq!(record["error"], Value::Null, "{record}");
    assert_eq!(consistent(&env, &project, port).as_deref(), Some("v1"));
}

/// A web project serving, in port mode, the image whose `/healthz` answers 404 as #1
/// (without a health path it passes on TCP), then v1 as #2; then given the health path
/// `/healthz` with a 10-minute timeout: a rollback to #1 waits, as long as no container
/// of it has a `/healthz`.
fn rollback_waits_for_healthz(env: &TestEnv, hint: &str) -> (String, u16) {
    let project = env.project_name(hint);
    env.ok(&["project", "create", &project]);
    let port = free_port();
    let publish = format!("127.0.0.1:{port}");
    env.ok(&[
        "deploy",
        &project,
        "--image",
        NOHEALTH,
        "--publish",
        &publish,
    ]);
    env.ok(&["deploy", &project, "--image", WEB_V1]);
    env.ok(&[
        "project",
        "update",
        &project,
        "--health-path",
        "/healthz",
        "--health-timeout",
        "10m",
    ]);
    (project, port)
}

#[test]
fn kill_9_of_the_server_mid_rollback_is_recovered_by_the_next_cli_operation() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port) = rollback_waits_for_healthz(&env, "apikill");
    let oncall = token(&env, "oncall", "responder", &[]);
    let mut server = Server::start(&env);
    let record = server
        .post(
            &format!("/api/projects/{project}/deployments/1/rollback"),
            &oncall,
            &json!({}),
        )
        .status(202)
        .json();
    assert_eq!(record["id"], 3, "{record}");
    let check = check_container(&project, "production", 3);
    let started = Instant::now();
    while !is_running(&check) {
        assert!(started.elapsed() < PATIENCE, "{check} never ran");
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = server.signal_and_wait("KILL");
    assert_eq!(status.signal(), Some(9), "{status}");

    // The server died with #3 in the middle: #2 still serves, `status` shows the drift.
    assert_eq!(deployment(&env, 3)["status"], "deploying");
    assert_eq!(serving(port).as_deref(), Some("v1"));
    let status = env.json(&["status", &project]);
    assert_eq!(
        status[0]["drift"].as_array().map(Vec::len),
        Some(1),
        "{status}"
    );

    let run = env.ok(&["deploy", &project, "--image", WEB_V2]);
    assert_recovered(&env, &run, &project, 3, "rollback 1");
    assert_eq!(docker_inspect(&check, "{{.Name}}"), None, "{check} is left");
    assert_eq!(deployment(&env, 4)["status"], "deployed");
    assert_eq!(consistent(&env, &project, port).as_deref(), Some("v2"));
}

#[test]
fn plain_http_beyond_loopback_is_refused_unless_insecure_http_says_why() {
    let env = TestEnv::new();
    let listen = "0.0.0.0:0";
    let mut child = env
        .cmd()
        .args(["serve", "--listen", listen])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn temps serve");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > PATIENCE {
            let _ = child.kill();
            panic!("temps serve --listen {listen} kept running without TLS");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let run = Run::from(child.wait_with_output().expect("output")).code(2);
    assert_error_with_hint(&run);
    assert!(
        run.stderr.contains(listen) && run.stderr.contains("--insecure-http"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");

    // Allowed, it says at start what it gives up, then where it listens.
    let mut server = Server::listening(&env, listen, &["--insecure-http"], &[]);
    let stderr = server.stderr();
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines[0].starts_with("temps serve: warning: serving plain HTTP on 0.0.0.0:0")
            && lines[0].contains("in clear"),
        "{stderr}"
    );
    assert_eq!(
        lines[1],
        format!("temps serve: listening on http://0.0.0.0:{}", server.port),
        "{stderr}"
    );
    server.req("GET", "/api/health").send().status(200);
    let status = server.signal_and_wait("TERM");
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
}

/// Wait (bounded) until `path` exists.
fn wait_for_file(path: &std::path::Path) {
    let started = Instant::now();
    while !path.exists() {
        assert!(
            started.elapsed() < PATIENCE,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_event_stream_delivers_progress_while_its_operation_runs() {
    let env = TestEnv::new();
    let site = static_pair(&env, "apistream");
    // The post-rollback hook holds the operation until the test lets it go.
    let (holding, release) = (
        env.dir.path().join("holding"),
        env.dir.path().join("release"),
    );
    install_hook(
        &env,
        &site,
        "post-rollback",
        &format!(
            "touch '{}'\nwhile [ ! -f '{}' ]; do sleep 0.05; done",
            holding.display(),
            release.display()
        ),
    );
    let oncall = token(&env, "oncall", "responder", &[]);
    let server = Server::start(&env);
    let record = server
        .post(
            &format!("/api/projects/{site}/deployments/1/rollback"),
            &oncall,
            &json!({}),
        )
        .status(202)
        .json();
    let id = record["id"].as_i64().expect("an id");
    let mut stream = server.event_stream(&site, id, &oncall);
    // Progress arrives as the operation goes, up to the hook that holds it...
    let mut steps = Vec::new();
    while steps.last().map(String::as_str) != Some("post-hook") {
        let (name, data) = stream.next().expect("an event while the operation runs");
        assert_eq!(name, "progress", "{data}");
        steps.push(data["step"].as_str().expect("a step").to_string());
    }
    assert_eq!(steps[0], "lock", "{steps:?}");
    wait_for_file(&holding);
    // ... while the operation has not ended: the hook still holds it.
    let log = server.stderr();
    assert!(
        !log.contains("token:oncall: rollback"),
        "the operation ended before its hook was let go:\n{log}"
    );
    std::fs::write(&release, "").expect("let the hook go");
    let mut rest = Vec::new();
    while let Some(event) = stream.next() {
        rest.push(event);
    }
    let (last, _) = rest.split_last().expect("the end of the stream");
    assert_eq!(last.0, "done", "{rest:?}");
    assert_eq!(last.1["id"], id, "{rest:?}");
    assert_eq!(last.1["status"], "deployed", "{rest:?}");
    assert!(
        server
            .stderr()
            .contains(&format!("token:oncall: rollback {}: #{id} deployed", 1)),
        "{}",
        server.stderr()
    );
}

#[test]
fn twenty_streams_of_a_command_line_rollback_each_end_with_it() {
    require_docker!();
    let env = TestEnv::new();
    // The test gives #1's new containers their /healthz once the streams are open.
    let (project, port) = rollback_waits_for_healthz(&env, "apipoll");
    let reader = token(&env, "watch", "reader", &[]);
    let server = Server::start(&env);
    let mut cli = env
        .cmd()
        .args(["rollback", "1", "--yes"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("temps rollback");
    let check = check_container(&project, "production", 3);
    let started = Instant::now();
    while !is_running(&check) {
        assert!(started.elapsed() < PATIENCE, "{check} never ran");
        std::thread::sleep(Duration::from_millis(50));
    }
    // #3 is deploying, held by its health check: every stream waits on the shared poller.
    let mut streams: Vec<_> = (0..20)
        .map(|_| server.event_stream(&project, 3, &reader))
        .collect();
    assert_eq!(deployment(&env, 3)["status"], "deploying");
    for name in [check.clone(), container(&project, "production", 3)] {
        let started = Instant::now();
        loop {
            let healed = docker(&["exec", &name, "sh", "-c", "echo ok > /www/healthz"]);
            if healed.status == 0 {
                break;
            }
            assert!(started.elapsed() < PATIENCE, "{name}: {}", healed.stderr);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    for stream in &mut streams {
        let (name, done) = stream.next().expect("an event");
        assert_eq!(name, "done", "{done}");
        assert_eq!(done["id"], 3, "{done}");
        assert_eq!(done["status"], "deployed", "{done}");
        assert!(stream.next().is_none(), "the stream goes on after done");
    }
    assert!(cli.wait().expect("the CLI ends").success());
    assert_eq!(serving(port).as_deref(), Some("up"));
}

#[test]
fn the_watch_query_watches_an_api_rollback_and_promote_and_rolls_them_back() {
    require_docker!();
    let env = TestEnv::new();
    let project = env.web_project("apiwatch");
    let port = free_port();
    let publish = format!("127.0.0.1:{port}");
    // #1 the app that turns bad once told to (`SOUR_AFTER`), #2 v1.
    env.ok(&[
        "deploy",
        &project,
        "--image",
        SOURING,
        "--publish",
        &publish,
    ]);
    env.ok(&["deploy", &project, "--image", WEB_V1]);
    env.ok(&["env", "set", &project, "SOUR_AFTER=3"]);
    let oncall = token(&env, "oncall", "responder", &[]);
    let ci = token(&env, "ci", "deployer", &[]);
    let server = Server::start(&env);
    let base = format!("/api/projects/{project}");

    // A rollback to #1, watched: it sours, and is rolled back to what served before.
    let answer = server
        .post(
            &format!("{base}/deployments/1/rollback?watch=60s&wait=true"),
            &oncall,
            &json!({"reason": "try the old one"}),
        )
        .error(502, "health_failed");
    let watched = answer.json()["deployment"].clone();
    assert_watched_and_rolled_back(&env, &project, &watched, 2);
    assert_eq!(serving(port).as_deref(), Some("v1"));

    // Rolled back, a new deploy waits as `ready`; its promote, watched, goes the same way.
    let ready = server
        .post(
            &format!("{base}/deployments"),
            &ci,
            &json!({"image": SOURING}),
        )
        .status(202)
        .json();
    assert_eq!(ready["status"], "ready", "{ready}");
    let serving_before = env.json(&["status", &project])[0]["current"]["id"]
        .as_i64()
        .expect("what serves");
    let answer = server
        .post(
            &format!(
                "{base}/deployments/{}/promote?watch=60s&wait=true",
                ready["id"]
            ),
            &oncall,
            &json!({}),
        )
        .error(502, "health_failed");
    let watched = answer.json()["deployment"].clone();
    assert_eq!(watched["is_promote"], true, "{watched}");
    assert_watched_and_rolled_back(&env, &project, &watched, serving_before);
    assert_eq!(serving(port).as_deref(), Some("v1"));

    // A bad window is refused before anything is recorded.
    let before = history(&env, &project).len();
    for kind in ["rollback", "promote"] {
        server
            .post(
                &format!("{base}/deployments/1/{kind}?watch=soon"),
                &oncall,
                &json!({}),
            )
            .error(400, "bad_request");
    }
    assert_eq!(history(&env, &project).len(), before);
}

/// `watched` (the record an API answer carried) failed its watch window, and the newest
/// record is the automatic rollback from it to `previous`, serving.
#[track_caller]
fn assert_watched_and_rolled_back(env: &TestEnv, project: &str, watched: &Value, previous: i64) {
    assert_eq!(watched["status"], "failed", "{watched}");
    assert!(
        watched["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("automatic:")),
        "{watched}"
    );
    let newest = &history(env, project)[0];
    assert_eq!(newest["is_rollback"], true, "{newest}");
    assert_eq!(newest["rolled_back_from_id"], watched["id"], "{newest}");
    assert_eq!(newest["rolled_back_to_id"], previous, "{newest}");
    assert_eq!(newest["status"], "deployed", "{newest}");
    assert_eq!(newest["created_by"], "token:oncall", "{newest}");
}
