//! How a new version proves it is healthy when the project names no health path: the
//! image's Docker HEALTHCHECK, else a TCP connection to its port, else staying up.

use super::*;

/// A docker-preset project with no health path.
fn plain_project(env: &TestEnv, hint: &str) -> String {
    let name = env.project_name(hint);
    env.ok(&["project", "create", &name, "--health-timeout", "20s"]);
    name
}

#[test]
fn an_image_with_a_docker_healthcheck_deploys_without_a_health_path() {
    require_docker!();
    let env = TestEnv::new();
    let project = plain_project(&env, "checked");
    let port = free_port();
    let d = deploy_json(&env, &project, CHECKED, Some(port));
    assert_eq!(d["status"], "deployed");
    assert_eq!(serving(port).as_deref(), Some("checked"));
    let container = d["containers"][0].as_str().unwrap();
    assert_eq!(
        docker_inspect(container, "{{.State.Health.Status}}").as_deref(),
        Some("healthy")
    );
}

#[test]
fn an_image_without_a_port_deploys_when_it_keeps_running() {
    require_docker!();
    let env = TestEnv::new();
    let project = plain_project(&env, "quiet");
    let d = deploy_json(&env, &project, QUIET, None);
    assert_eq!(d["status"], "deployed");
    let container = d["containers"][0].as_str().unwrap();
    assert_eq!(container_state(container).as_deref(), Some("running"));

    // A second version replaces it the same way.
    let again = deploy_json(&env, &project, QUIET, None);
    assert_eq!(statuses(&env, &project), ["deployed", "completed"]);
    let current = again["containers"][0].as_str().unwrap();
    assert_eq!(container_state(current).as_deref(), Some("running"));
    assert_eq!(container_state(container).as_deref(), Some("exited"));
}

#[test]
fn an_image_without_a_port_cannot_be_published() {
    require_docker!();
    let env = TestEnv::new();
    let project = plain_project(&env, "quietpub");
    let run = env
        .run(&[
            "deploy",
            &project,
            "--image",
            QUIET,
            "--publish",
            &free_port().to_string(),
        ])
        .code(2);
    assert_error_with_hint(&run);
    run.stderr_has("--container-port");
    assert!(history(&env, &project).is_empty());
}

#[test]
fn without_a_health_path_a_web_image_is_checked_over_tcp() {
    require_docker!();
    let env = TestEnv::new();
    let project = plain_project(&env, "tcp");
    let port = free_port();
    deploy_json(&env, &project, WEB_V1, Some(port));
    assert_eq!(serving(port).as_deref(), Some("v1"));
    deploy_json(&env, &project, WEB_V2, None);
    assert_eq!(serving(port).as_deref(), Some("v2"));
    // Unpublished, the probe reaches the container on its own network.
    let staged = env.json(&[
        "deploy",
        &project,
        "--image",
        WEB_V1,
        "--environment",
        "staging",
    ]);
    assert_eq!(staged["status"], "deployed");
}

#[test]
fn a_crashing_image_fails_at_once_whatever_the_probe() {
    require_docker!();
    let env = TestEnv::new();
    let project = plain_project(&env, "crashtcp");
    // A long timeout: the exit, not the timeout, must end the check.
    env.ok(&["project", "update", &project, "--health-timeout", "10m"]);
    let run = env.run(&["deploy", &project, "--image", CRASH]).code(5);
    run.stderr_has("exited with status 3").stderr_has("boom");
    assert_eq!(statuses(&env, &project), ["failed"]);
}
