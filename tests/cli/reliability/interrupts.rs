//! SIGINT and SIGTERM during a swap: the new container goes, the previous version serves
//! again, the deployment is `cancelled` with what was restored, and temps exits 130.

use super::*;

#[test]
fn sigint_during_the_health_wait_of_a_deploy_restores_the_previous_version() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port) = serving_project(&env, "sigint");
    env.ok(&["project", "update", &project, "--health-timeout", "10m"]);
    let mut deploy = Background::start(
        &env,
        &[],
        &["--output", "json", "deploy", &project, "--image", NOHEALTH],
    );
    let new = container(&project, "production", 3);
    deploy.wait_for_running(&new);
    deploy.signal("INT");
    let run = deploy
        .finish()
        .code(130)
        .stderr_has("deployment #3 was cancelled: interrupted by SIGINT")
        .stderr_has("#2 is serving again");
    assert_error_with_hint(&run);

    // The failure's document on stdout is the cancelled record, as `temps show` has it.
    let printed = run.json();
    assert_eq!(printed["id"], 3);
    assert_eq!(printed["status"], "cancelled");
    let record = deployment(&env, 3);
    assert_eq!(record["status"], "cancelled");
    let error = record["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("SIGINT") && error.contains("#2 restored"),
        "{record}"
    );
    assert!(record["finished_at"].is_string(), "{record}");

    assert_eq!(docker_inspect(&new, "{{.Name}}"), None, "{new} is left");
    assert_eq!(
        environment(&env, &project, "production")["current_deployment_id"],
        2
    );
    assert_eq!(invariants(&env, &project, port).as_deref(), Some("v2"));
}

#[test]
fn sigterm_during_the_health_wait_of_a_rollback_restores_the_previous_version() {
    require_docker!();
    let env = TestEnv::new();
    // Without a health path, the never-healthy image passes on TCP: #1 serves.
    let project = env.project_name("sigterm");
    env.ok(&["project", "create", &project]);
    let port = free_port();
    env.ok(&[
        "deploy",
        &project,
        "--image",
        NOHEALTH,
        "--publish",
        &port.to_string(),
    ]);
    env.ok(&["deploy", &project, "--image", WEB_V1]);
    // With one, rolling back to #1 waits for a health check that never passes.
    env.ok(&["project", "update", &project, "--health-path", "/healthz"]);
    let mut rollback = Background::start(
        &env,
        &[],
        &["rollback", "1", "--yes", "--health-timeout", "10m"],
    );
    let new = container(&project, "production", 3);
    rollback.wait_for_running(&new);
    rollback.signal("TERM");
    let run = rollback
        .finish()
        .code(130)
        .stderr_has("interrupted by SIGTERM")
        .stderr_has("#2 is serving again");
    assert_error_with_hint(&run);

    let record = deployment(&env, 3);
    assert_eq!(record["status"], "cancelled");
    assert_eq!(record["is_rollback"], true);
    assert_eq!(record["rolled_back_to_id"], 1);
    let error = record["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("SIGTERM") && error.contains("#2 restored"),
        "{record}"
    );
    assert_eq!(docker_inspect(&new, "{{.Name}}"), None, "{new} is left");
    // The environment was not left rolled back.
    let production = environment(&env, &project, "production");
    assert_eq!(production["state"], "normal");
    assert_eq!(production["current_deployment_id"], 2);
    assert_eq!(invariants(&env, &project, port).as_deref(), Some("v1"));
}

#[test]
fn sigint_during_a_first_deploy_leaves_nothing_running() {
    require_docker!();
    let env = TestEnv::new();
    let project = env.web_project("firstint");
    env.ok(&["project", "update", &project, "--health-timeout", "10m"]);
    let port = free_port();
    let mut deploy = Background::start(
        &env,
        &[],
        &[
            "deploy",
            &project,
            "--image",
            NOHEALTH,
            "--publish",
            &port.to_string(),
        ],
    );
    let new = container(&project, "production", 1);
    deploy.wait_for_running(&new);
    deploy.signal("INT");
    deploy
        .finish()
        .code(130)
        .stderr_has("nothing was serving before");
    let record = deployment(&env, 1);
    assert_eq!(record["status"], "cancelled");
    assert_eq!(docker_inspect(&new, "{{.Name}}"), None, "{new} is left");
    assert_eq!(invariants(&env, &project, port), None);
    assert!(running_containers(&project).is_empty());
}
