//! Schema-aware rollback, end to end: images built offline `FROM` the fixtures with
//! `dev.temps.schema` / `dev.temps.schema.compat` labels, deployed for real; the one gate
//! refuses a rollback or promote below the database's floor (exit 4, API 422), names the
//! way out (`--accept-schema`, recorded), and `list`, the API's `actions`, the picker's
//! default, the dry-run plan and the watch's automatic rollback all obey it.

use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::api::server::{token, Server};
use crate::common::*;
use crate::require_docker;

/// `temps-test/schema:TAG`, built once per run from `from` with the labels given (a
/// `docker build` of a Dockerfile with `LABEL` lines: no registry involved).
fn labelled(tag: &str, from: &str, labels: &[(&str, &str)]) -> String {
    let image = format!("temps-test/schema:{tag}");
    let dir = tempfile::tempdir().expect("a build folder");
    let mut dockerfile = format!("FROM {from}\n");
    for (key, value) in labels {
        dockerfile.push_str(&format!("LABEL {key}=\"{value}\"\n"));
    }
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).expect("a Dockerfile");
    let dir_arg = dir.path().to_string_lossy().to_string();
    docker(&["build", "-q", "-t", &image, &dir_arg]).code(0);
    image
}

/// The labelled images every test here uses.
pub(crate) struct Images {
    /// Schema 35 (its own compat).
    pub s35: String,
    /// Schema 40, whose code still runs against 35 (an expand migration).
    pub s40_compat35: String,
    /// Schema 42, which needs code of 40 or newer (a contract migration).
    pub s42_compat40: String,
    /// Schema 42 that turns unhealthy (the souring fixture), needing code of 42.
    souring42: String,
    /// A label that is no version.
    bad: String,
}

pub(crate) fn images() -> &'static Images {
    static IMAGES: OnceLock<Images> = OnceLock::new();
    IMAGES.get_or_init(|| Images {
        s35: labelled("s35", WEB_V1, &[("dev.temps.schema", "35")]),
        s40_compat35: labelled(
            "s40",
            WEB_V2,
            &[
                ("dev.temps.schema", "40"),
                ("dev.temps.schema.compat", "35"),
            ],
        ),
        s42_compat40: labelled(
            "s42",
            WEB_V1,
            &[
                ("dev.temps.schema", "42"),
                ("dev.temps.schema.compat", "40"),
            ],
        ),
        souring42: labelled("souring42", SOURING, &[("dev.temps.schema", "42")]),
        bad: labelled("bad", WEB_V1, &[("dev.temps.schema", "v2-beta")]),
    })
}

/// `temps deploy PROJECT --image IMAGE EXTRA…`: the new record.
fn deploy(env: &TestEnv, project: &str, image: &str, extra: &[&str]) -> Value {
    let mut args = vec!["deploy", project, "--image", image];
    args.extend_from_slice(extra);
    env.json(&args)
}

fn id(record: &Value) -> i64 {
    record["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no id in {record}"))
}

/// A project serving on its own port: a deployment without a schema (`web:v1`), then one
/// of schema 35, then one of schema 42 needing code of 40: the database is at 42, its
/// floor 40 (set by the last).
fn at_42(env: &TestEnv, hint: &str) -> (String, u16, [i64; 3]) {
    let images = images();
    let project = env.web_project(hint);
    let port = free_port();
    let publish = format!("127.0.0.1:{port}");
    let unknown = deploy(env, &project, WEB_V1, &["--publish", &publish]);
    assert_eq!(unknown["schema"], Value::Null, "{unknown:#}");
    assert_eq!(unknown["schema_compat"], Value::Null, "{unknown:#}");
    let old = deploy(env, &project, &images.s35, &[]);
    assert_eq!(old["schema"], "35", "{old:#}");
    assert_eq!(old["schema_compat"], "35", "{old:#}");
    let new = deploy(env, &project, &images.s42_compat40, &[]);
    assert_eq!(new["schema"], "42", "{new:#}");
    assert_eq!(new["schema_compat"], "40", "{new:#}");
    assert_eq!(new["schema_accepted_by"], Value::Null, "{new:#}");
    (project, port, [id(&unknown), id(&old), id(&new)])
}

#[test]
fn a_rollback_below_the_floor_is_refused_until_a_person_accepts_it() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port, [unknown, old, new]) = at_42(&env, "schemarb");
    let before = env.history(&[&project]);

    // Refused, naming the numbers and the way out; nothing recorded, v1 (#new) serves.
    let refused = env
        .run(&["rollback", &old.to_string(), "--yes"])
        .code(4)
        .stderr_has(&format!(
            "the database of {project}/production is at schema 42 and needs code of schema 40 or newer (#{new}); #{old} is schema 35"
        ))
        .stderr_has("--accept-schema");
    assert_error_with_hint(&refused);
    env.run(&["rollback", &old.to_string(), "--dry-run"])
        .code(4);
    assert_eq!(env.history(&[&project]), before);

    // `list`: the gate's word, and why.
    let list = env.json(&["list", &project]);
    let row = |id: i64| {
        list.as_array()
            .expect("a list")
            .iter()
            .find(|d| d["id"] == id)
            .cloned()
            .expect("in the list")
    };
    assert_eq!(row(old)["can_roll_back"], false, "{list:#}");
    assert_ne!(row(unknown)["can_roll_back"], false, "{list:#}");
    let table = env.ok(&["list", &project]).stdout;
    assert!(table.contains("below the schema floor"), "{table}");

    // The picker's default (and `--yes`) skips it for the one without a schema, which
    // is never judged; its plan says the schema is unknown.
    let plan = env.json(&["rollback", "--project", &project, "--yes", "--dry-run"]);
    assert_eq!(plan["target"]["id"], unknown, "{plan:#}");
    assert_eq!(
        plan["schema"],
        json!({"database": "42", "floor": "40", "target": null, "compatible": null}),
        "{plan:#}"
    );
    let text = env
        .ok(&["rollback", "--project", &project, "--yes", "--dry-run"])
        .stdout;
    assert!(
        text.contains("database 42 (needs 40 or newer)") && text.contains("compatibility unknown"),
        "{text}"
    );

    // Accepted: it runs, recorded with who accepted; the database is at 35 from then on.
    let plan = env.json(&["rollback", &old.to_string(), "--dry-run", "--accept-schema"]);
    assert_eq!(
        plan["schema"],
        json!({"database": "42", "floor": "40", "target": "35", "compatible": false}),
        "{plan:#}"
    );
    let accepted = env.json(&[
        "rollback",
        &old.to_string(),
        "--yes",
        "--accept-schema",
        "--reason",
        "ran the down migrations to 35",
    ]);
    assert_eq!(accepted["status"], "deployed", "{accepted:#}");
    assert_eq!(accepted["schema"], "35", "{accepted:#}");
    assert_eq!(accepted["schema_accepted_by"], "alice", "{accepted:#}");
    assert_eq!(serving(port).as_deref(), Some("v1"));
    let shown = env.json(&["show", &id(&accepted).to_string()]);
    assert_eq!(shown["schema_accepted_by"], "alice", "{shown:#}");
    // Going forward again is compatible: 42 is above the floor of 35.
    let plan = env.json(&["rollback", &new.to_string(), "--dry-run"]);
    assert_eq!(
        plan["schema"],
        json!({"database": "35", "floor": "35", "target": "42", "compatible": true}),
        "{plan:#}"
    );
}

#[test]
fn a_compatible_rollback_and_promote_run_and_a_promote_below_the_floor_is_refused() {
    require_docker!();
    let images = images();
    let env = TestEnv::new();
    let project = env.web_project("schemapro");
    let port = free_port();
    let publish = format!("127.0.0.1:{port}");
    let old = id(&deploy(
        &env,
        &project,
        &images.s35,
        &["--publish", &publish],
    ));
    let expand = id(&deploy(&env, &project, &images.s40_compat35, &[]));
    assert_eq!(serving(port).as_deref(), Some("v2"));

    // 40 runs with code of 35: the rollback is compatible.
    let plan = env.json(&["rollback", &old.to_string(), "--dry-run"]);
    assert_eq!(
        plan["schema"],
        json!({"database": "40", "floor": "35", "target": "35", "compatible": true}),
        "{plan:#}"
    );
    let back = env.json(&["rollback", &old.to_string(), "--yes"]);
    assert_eq!(back["schema"], "35", "{back:#}");
    assert_eq!(back["schema_accepted_by"], Value::Null, "{back:#}");
    assert_eq!(serving(port).as_deref(), Some("v1"));
    env.json(&["promote", &expand.to_string(), "--yes"]);
    assert_eq!(serving(port).as_deref(), Some("v2"));

    // A contract migration to 42 needs code of 40: promoting #old is refused.
    let contract = id(&deploy(&env, &project, &images.s42_compat40, &[]));
    let refused = env
        .run(&["promote", &old.to_string(), "--yes"])
        .code(4)
        .stderr_has(&format!(
            "needs code of schema 40 or newer (#{contract}); #{old} is schema 35"
        ));
    assert_error_with_hint(&refused);
    let promoted = env.json(&["promote", &old.to_string(), "--yes", "--accept-schema"]);
    assert_eq!(promoted["is_promote"], true, "{promoted:#}");
    assert_eq!(promoted["schema_accepted_by"], "alice", "{promoted:#}");
    assert_eq!(serving(port).as_deref(), Some("v1"));
}

#[test]
fn versions_that_are_not_numbers_are_refused_at_deploy_with_exit_2() {
    require_docker!();
    let images = images();
    let env = TestEnv::new();
    let project = env.web_project("schemabad");
    for args in [
        vec!["--schema", "v2"],
        vec!["--schema", "1..2"],
        vec!["--schema", "40", "--schema-compat", "41"],
        vec!["--schema-compat", "3"],
    ] {
        let mut full = vec!["deploy", project.as_str(), "--image", WEB_V1];
        full.extend_from_slice(&args);
        let run = env.run(&full).code(2);
        assert!(!run.stderr.is_empty(), "{args:?}");
    }
    let run = env
        .run(&["deploy", &project, "--image", &images.bad])
        .code(2)
        .stderr_has("dev.temps.schema");
    assert_error_with_hint(&run);
    // The flag wins over the label, and dotted numbers are versions.
    let flagged = deploy(
        &env,
        &project,
        &images.bad,
        &["--schema", "2.10.1", "--schema-compat", "2.9"],
    );
    assert_eq!(flagged["schema"], "2.10.1", "{flagged:#}");
    assert_eq!(flagged["schema_compat"], "2.9", "{flagged:#}");
    let list = env.json(&["list", &project]);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list:#}");
}

#[test]
fn the_api_offers_no_rollback_below_the_floor_and_refuses_it_with_422_unless_accepted() {
    require_docker!();
    let env = TestEnv::new();
    let (project, _port, [unknown, old, _new]) = at_42(&env, "schemaapi");
    let oncall = token(&env, "pager", "admin", &[]);
    let server = Server::start(&env);
    let base = format!("/api/projects/{project}");
    let list = server
        .get(&format!("{base}/deployments"), &oncall)
        .status(200)
        .json();
    let actions = |id: i64| {
        list.as_array()
            .expect("a list")
            .iter()
            .find(|d| d["id"] == id)
            .map(|d| d["actions"].clone())
            .expect("in the list")
    };
    assert_eq!(actions(old), json!([]), "{list:#}");
    assert_eq!(actions(unknown), json!(["rollback", "promote"]), "{list:#}");

    let refused = server
        .post(
            &format!("{base}/deployments/{old}/rollback?wait=true"),
            &oncall,
            &json!({}),
        )
        .error(422, "refused");
    let body = refused.json();
    assert!(body.to_string().contains("is at schema 42"), "{body:#}");
    server
        .post(
            &format!("{base}/deployments/{old}/rollback"),
            &oncall,
            &json!({"accept_schema": "yes"}),
        )
        .error(400, "bad_request");
    let plan = server
        .post(
            &format!("{base}/deployments/{old}/rollback?dry_run=true"),
            &oncall,
            &json!({"accept_schema": true}),
        )
        .status(200)
        .json();
    assert_eq!(plan["schema"]["compatible"], false, "{plan:#}");
    let done = server
        .post(
            &format!("{base}/deployments/{old}/rollback?wait=true"),
            &oncall,
            &json!({"accept_schema": true, "reason": "down migrations run"}),
        )
        .status(200)
        .json();
    assert_eq!(done["status"], "deployed", "{done:#}");
    assert_eq!(done["schema_accepted_by"], "token:pager", "{done:#}");
}

#[test]
fn the_watch_does_not_roll_back_below_the_floor_and_the_new_version_keeps_serving() {
    require_docker!();
    let images = images();
    let env = TestEnv::new();
    let project = env.web_project("schemawatch");
    let port = free_port();
    let publish = format!("127.0.0.1:{port}");
    let old = id(&deploy(
        &env,
        &project,
        &images.s35,
        &["--publish", &publish],
    ));
    env.ok(&["env", "set", &project, "SOUR_AFTER=3"]);
    let run = env
        .run(&[
            "--output",
            "json",
            "deploy",
            &project,
            "--image",
            &images.souring42,
            "--watch",
            "60s",
        ])
        .code(5)
        .stderr_has("failed its health check 3 times in a row")
        .stderr_has("NOT rolled back automatically")
        .stderr_has(&format!("#{old} is schema 35"))
        .stderr_has(&format!("temps rollback {old} --accept-schema"));
    assert_error_with_hint(&run);
    let watched = run.json();
    let history = env.json(&["list", &project, "--limit", "0"]);
    let rows = history.as_array().expect("a list");
    assert!(
        rows.iter().all(|d| d["is_rollback"] == false),
        "no rollback: {history:#}"
    );
    let status = env.json(&["status", &project]);
    assert_eq!(status[0]["current"]["id"], watched["id"], "{status:#}");
    assert_eq!(status[0]["state"], "normal", "{status:#}");
    assert_eq!(watched["status"], "deployed", "{watched:#}");
}

#[test]
fn on_a_terminal_the_picker_preselects_the_target_the_schema_allows_and_says_why_not_the_other() {
    require_docker!();
    let env = TestEnv::new();
    let (project, _port, [unknown, old, _new]) = at_42(&env, "schemapick");
    let before = env.history(&[&project]);
    let preselected = format!("> #{unknown:<5} {WEB_V1}");
    let session = env
        .terminal(
            &["rollback", "--project", &project],
            &[
                // Newest first: #old, marked, then the preselected one.
                PtyStep::Expect("below the database's floor 40"),
                PtyStep::Expect(&preselected),
                PtyStep::Press("\x1b"),
            ],
        )
        .code(2);
    let shown = &session.text;
    assert!(
        shown.contains(&format!("#{old}")) && shown.contains("schema 35"),
        "{shown}"
    );
    assert_eq!(env.history(&[&project]), before, "Esc changed the history");
}
