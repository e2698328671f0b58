//! Deploying, as a user sees it: register a project, deploy an image, and what it serves
//! and what the history says afterwards. Deploys that fail, variables, the history, status
//! and the static preset have their own files under `deploy/`.

mod failures;
mod health;
mod history;
mod projects;
mod static_site;
mod status;
mod variables;

use serde_json::Value;

use crate::common::*;
use crate::require_docker;

/// `temps --output json deploy PROJECT --image IMAGE [--publish PORT]`, expecting success.
fn deploy_json(env: &TestEnv, project: &str, image: &str, port: Option<u16>) -> Value {
    let port = port.map(|p| p.to_string());
    let mut args = vec!["deploy", project, "--image", image];
    if let Some(port) = &port {
        args.extend(["--publish", port.as_str()]);
    }
    env.json(&args)
}

/// The whole history of a project, newest first.
fn history(env: &TestEnv, project: &str) -> Vec<Value> {
    match env.json(&["list", project, "--limit", "0"]) {
        Value::Array(all) => all,
        other => panic!("`temps list` printed {other}, not an array"),
    }
}

/// The statuses of a project's history, newest first.
fn statuses(env: &TestEnv, project: &str) -> Vec<String> {
    history(env, project)
        .iter()
        .map(|d| d["status"].as_str().expect("status").to_string())
        .collect()
}

/// What `temps project show` says of an environment.
fn environment(env: &TestEnv, project: &str, name: &str) -> Value {
    let shown = env.json(&["project", "show", project]);
    shown["environments"]
        .as_array()
        .expect("environments")
        .iter()
        .find(|e| e["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no environment {name} in {shown}"))
}

/// `temps ARGS` against a Docker engine that does not exist.
fn without_docker(env: &TestEnv, args: &[&str]) -> Run {
    Run::from(
        env.cmd()
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .args(args)
            .output()
            .expect("run temps"),
    )
}

/// Two prints of the same deployment (by deploy, list, show or status) agree on every
/// field of the spec; a command may add fields of its own.
#[track_caller]
fn assert_same_deployment(printed: &Value, expected: &Value) {
    for field in SPEC_DEPLOYMENT_FIELDS {
        assert!(expected.get(field).is_some(), "no {field} in {expected}");
        assert_eq!(
            printed.get(field),
            expected.get(field),
            "{field} differs:\n{printed}\n{expected}"
        );
    }
}

/// `2026-11-22T12:00:03Z`: RFC 3339, UTC, whole seconds.
#[track_caller]
fn assert_utc_timestamp(value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not a string"));
    let shape = text.chars().enumerate().all(|(i, c)| match i {
        4 | 7 => c == '-',
        10 => c == 'T',
        13 | 16 => c == ':',
        19 => c == 'Z',
        _ => c.is_ascii_digit(),
    });
    assert!(shape && text.len() == 20, "{text} is not RFC 3339 UTC");
}

/// `running`, `exited`, …; `None` when the container does not exist.
fn container_state(name: &str) -> Option<String> {
    docker_inspect(name, "{{.State.Status}}")
}

fn label(container: &str, key: &str) -> Option<String> {
    docker_inspect(
        container,
        &format!("{{{{index .Config.Labels \"{key}\"}}}}"),
    )
}

#[test]
fn deploying_v1_then_v2_serves_v2_and_keeps_v1_stopped_as_standby() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("web");
    let port = free_port();

    let first = env
        .ok(&[
            "deploy",
            &web,
            "--image",
            WEB_V1,
            "--publish",
            &port.to_string(),
        ])
        .stdout_has(&format!("to {web}/production"))
        .stdout_has(WEB_V1)
        .stderr_has(&format!("serving on port {port}"));
    assert!(first.stdout.starts_with("deployed #"), "{}", first.stdout);
    assert_eq!(serving(port).as_deref(), Some("v1"));

    let v2 = env.json(&["deploy", &web, "--image", WEB_V2, "--reason", "ship v2"]);
    assert_eq!(serving(port).as_deref(), Some("v2"));

    let id = v2["id"].as_i64().expect("id");
    let container = format!("temps-{web}-production-{id}");
    assert_eq!(v2["project"], web.as_str());
    assert_eq!(v2["environment"], "production");
    assert_eq!(v2["image"], WEB_V2);
    let image_id = v2["image_id"].as_str().expect("image_id");
    assert!(image_id.starts_with("sha256:"), "{image_id}");
    assert_eq!(v2["status"], "deployed");
    assert_eq!(v2["is_rollback"], false);
    assert!(v2["rolled_back_from_id"].is_null());
    assert!(v2["rolled_back_to_id"].is_null());
    assert_eq!(v2["is_promote"], false);
    assert_utc_timestamp(&v2["created_at"]);
    assert_utc_timestamp(&v2["finished_at"]);
    assert!(v2["finished_at"].as_str() >= v2["created_at"].as_str());
    assert_eq!(v2["created_by"], "alice");
    assert_eq!(v2["reason"], "ship v2");
    assert!(v2["error"].is_null());
    assert_eq!(v2["containers"], serde_json::json!([container]));

    // The history: v2 serves, v1 served before and is a rollback target.
    let all = history(&env, &web);
    assert_eq!(all.len(), 2);
    assert_same_deployment(&all[0], &v2);
    assert_eq!(all[1]["status"], "completed");
    assert!(all[1]["id"].as_i64() < Some(id));
    assert_eq!(
        environment(&env, &web, "production")["current_deployment_id"],
        id
    );

    // Docker: labelled container, pinned image, the previous container kept, stopped.
    assert_eq!(container_state(&container).as_deref(), Some("running"));
    assert_eq!(
        label(&container, "dev.temps.project").as_deref(),
        Some(web.as_str())
    );
    assert_eq!(
        label(&container, "dev.temps.environment").as_deref(),
        Some("production")
    );
    assert_eq!(
        label(&container, "dev.temps.deployment"),
        Some(id.to_string())
    );
    let pinned = format!("temps/{web}:{id}");
    assert_eq!(
        docker_inspect(&pinned, "{{.Id}}").as_deref(),
        Some(image_id)
    );
    let previous = all[1]["containers"][0]
        .as_str()
        .expect("previous container");
    assert_eq!(container_state(previous).as_deref(), Some("exited"));
}

#[test]
fn the_published_port_is_remembered_by_the_environment() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("remember");
    let port = free_port();
    deploy_json(&env, &web, WEB_V1, Some(port));
    assert_eq!(
        environment(&env, &web, "production")["publish"],
        port.to_string()
    );

    // No --publish this time: the environment still publishes on the same port.
    deploy_json(&env, &web, WEB_V2, None);
    assert_eq!(serving(port).as_deref(), Some("v2"));
    assert_eq!(
        environment(&env, &web, "production")["publish"],
        port.to_string()
    );
    env.ok(&["project", "show", &web])
        .stdout_has(&format!("published on {port}"));
}

#[test]
fn environments_are_created_on_first_deploy_and_serve_side_by_side() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("envs");
    let (production, staging) = (free_port(), free_port());
    deploy_json(&env, &web, WEB_V1, Some(production));
    let staged = env.json(&[
        "deploy",
        &web,
        "--image",
        WEB_V2,
        "--environment",
        "staging",
        "--publish",
        &staging.to_string(),
    ]);
    assert_eq!(staged["environment"], "staging");
    let id = staged["id"].as_i64().unwrap();
    assert_eq!(staged["containers"][0], format!("temps-{web}-staging-{id}"));
    assert_eq!(serving(production).as_deref(), Some("v1"));
    assert_eq!(serving(staging).as_deref(), Some("v2"));
    // Each environment has its own serving deployment.
    assert_eq!(statuses(&env, &web), ["deployed", "deployed"]);

    let bad = env
        .run(&["deploy", &web, "--image", WEB_V2, "--environment", "Prod"])
        .code(2);
    assert_error_with_hint(&bad);
}

#[test]
fn a_malformed_publish_address_is_a_usage_error() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("publish");
    for bad in ["http", "0", "70000", "localhost:8080"] {
        let run = env
            .run(&["deploy", &web, "--image", WEB_V1, "--publish", bad])
            .code(2);
        assert_error_with_hint(&run);
    }
    assert!(history(&env, &web).is_empty());
}

#[test]
fn a_port_can_be_published_on_one_address() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("address");
    let port = free_port();
    let publish = format!("127.0.0.1:{port}");
    env.ok(&["deploy", &web, "--image", WEB_V1, "--publish", &publish])
        .stderr_has(&format!("serving on port {publish}"));
    assert_eq!(serving(port).as_deref(), Some("v1"));
    assert_eq!(environment(&env, &web, "production")["publish"], publish);
}

#[test]
fn without_a_terminal_a_deploy_prints_its_result_and_no_progress() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("quietly");
    let port = free_port().to_string();
    let run = env.ok(&["deploy", &web, "--image", WEB_V1, "--publish", &port]);
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
    assert_eq!(run.stderr.trim(), format!("serving on port {port}"));

    // --quiet: the result line only.
    let run = env.ok(&["--quiet", "deploy", &web, "--image", WEB_V2]);
    assert!(run.stdout.starts_with("deployed #2 "), "{}", run.stdout);
    assert_eq!(run.stderr, "", "--quiet printed on stderr");
}
