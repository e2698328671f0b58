//! `kill -9` at every step of a swap (`TEMPS_FAULT=<point>`, with the `fault-points`
//! feature), then the next command on the environment: it takes over the dead process's
//! lock, removes what it made, starts the previous version again if it was stopped,
//! cancels the interrupted deployment, says so, and proceeds.

use super::*;

/// Run `temps ARGS`, killed by SIGKILL at `point`.
fn crash_at(env: &TestEnv, point: &str, args: &[&str]) {
    let out = env
        .cmd()
        .env("TEMPS_FAULT", point)
        .args(args)
        .output()
        .expect("run temps");
    assert_killed(&out);
}

/// Production serves v2 as #2; a deploy of v1 (#3) is killed at `point`.
fn crashed_deploy(env: &TestEnv, hint: &str, point: &str) -> (String, u16) {
    let (project, port) = serving_project(env, hint);
    crash_at(env, point, &["deploy", &project, "--image", WEB_V1]);
    (project, port)
}

fn deploy_command(project: &str, image: &str) -> String {
    format!("deploy {project} --image {image}")
}

#[test]
fn killed_once_recorded_then_the_next_deploy_recovers() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port) = crashed_deploy(&env, "fprec", "recorded");
    let record = deployment(&env, 3);
    assert_eq!(record["status"], "pending", "{record}");
    assert_eq!(
        docker_inspect(&container(&project, "production", 3), "{{.Name}}"),
        None
    );
    assert!(is_running(&container(&project, "production", 2)));

    let run = env.ok(&["deploy", &project, "--image", WEB_V1]);
    assert_recovered(&env, &run, &project, 3, &deploy_command(&project, WEB_V1));
    run.stderr_has("recovery nothing had changed");
    assert_eq!(deployment(&env, 4)["status"], "deployed");
    assert_eq!(invariants(&env, &project, port).as_deref(), Some("v1"));
}

#[test]
fn killed_once_the_new_container_is_created_then_a_rollback_recovers() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port) = crashed_deploy(&env, "fpcre", "created");
    let new = container(&project, "production", 3);
    assert_eq!(deployment(&env, 3)["status"], "deploying");
    assert_eq!(
        docker_inspect(&new, "{{.State.Status}}").as_deref(),
        Some("created")
    );
    assert!(is_running(&container(&project, "production", 2)));

    let run = env.ok(&["rollback", "1", "--yes"]);
    assert_recovered(&env, &run, &project, 3, &deploy_command(&project, WEB_V1));
    run.stderr_has(&format!("removed {new}"));
    assert_eq!(docker_inspect(&new, "{{.Name}}"), None, "{new} is left");
    let rollback = deployment(&env, 4);
    assert_eq!(rollback["status"], "deployed");
    assert_eq!(rollback["is_rollback"], true);
    assert_eq!(invariants(&env, &project, port).as_deref(), Some("v1"));
}

#[test]
fn killed_once_the_old_container_is_stopped_then_prune_recovers() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port) = crashed_deploy(&env, "fpstop", "stopped");
    let new = container(&project, "production", 3);
    assert!(!is_running(&container(&project, "production", 2)));
    assert_eq!(
        docker_inspect(&new, "{{.State.Status}}").as_deref(),
        Some("created")
    );
    assert_eq!(
        serving(port),
        None,
        "nothing should serve while half-switched"
    );

    let run = env.ok(&["prune", &project]);
    assert_recovered(&env, &run, &project, 3, &deploy_command(&project, WEB_V1));
    run.stderr_has(&format!("removed {new}"))
        .stderr_has("started #2 again");
    assert_eq!(history(&env, &project).len(), 3, "prune records nothing");
    assert_eq!(invariants(&env, &project, port).as_deref(), Some("v2"));
}

#[test]
fn killed_once_the_new_container_is_started_then_status_shows_drift_and_promote_recovers() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port) = crashed_deploy(&env, "fpstart", "started");
    let new = container(&project, "production", 3);
    assert!(is_running(&new));
    assert!(!is_running(&container(&project, "production", 2)));
    // `temps status` changes nothing, and says what is wrong.
    env.ok(&["status", &project])
        .stdout_has(&format!("{new} runs but is not the current deployment"))
        .stdout_has("hint: ");
    assert!(is_running(&new));
    assert_eq!(deployment(&env, 3)["status"], "deploying");

    let run = env.ok(&["promote", "1", "--yes"]);
    assert_recovered(&env, &run, &project, 3, &deploy_command(&project, WEB_V1));
    run.stderr_has(&format!("removed {new}"))
        .stderr_has("started #2 again");
    let promote = deployment(&env, 4);
    assert_eq!(promote["status"], "deployed");
    assert_eq!(promote["is_promote"], true);
    assert_eq!(invariants(&env, &project, port).as_deref(), Some("v1"));
}

#[test]
fn killed_after_the_health_check_before_routing_then_the_next_deploy_recovers() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port) = crashed_deploy(&env, "fphealthy", "healthy");
    let new = container(&project, "production", 3);
    assert!(is_running(&new));
    // Healthy and answering, but never routed: the history still says #2.
    assert_eq!(serving(port).as_deref(), Some("v1"));
    assert_eq!(deployment(&env, 3)["status"], "deploying");
    assert_eq!(
        environment(&env, &project, "production")["current_deployment_id"],
        2
    );

    let run = env.ok(&["deploy", &project, "--image", WEB_V2]);
    assert_recovered(&env, &run, &project, 3, &deploy_command(&project, WEB_V1));
    run.stderr_has(&format!("removed {new}"))
        .stderr_has("started #2 again");
    assert_eq!(deployment(&env, 4)["status"], "deployed");
    assert_eq!(invariants(&env, &project, port).as_deref(), Some("v2"));
}

#[test]
fn a_rollback_killed_mid_swap_is_recovered_by_the_next_rollback() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port) = serving_project(&env, "fprb");
    crash_at(&env, "stopped", &["rollback", "1", "--yes"]);
    assert!(!is_running(&container(&project, "production", 2)));
    let crashed = deployment(&env, 3);
    assert_eq!(crashed["status"], "deploying");
    assert_eq!(crashed["is_rollback"], true);

    let run = env.ok(&["rollback", "1", "--yes"]);
    assert_recovered(&env, &run, &project, 3, "rollback 1");
    run.stderr_has("started #2 again");
    let rollback = deployment(&env, 4);
    assert_eq!(rollback["status"], "deployed");
    assert_eq!(rollback["rolled_back_from_id"], 2);
    assert_eq!(
        environment(&env, &project, "production")["state"],
        "rolled_back"
    );
    assert_eq!(invariants(&env, &project, port).as_deref(), Some("v1"));
}

#[test]
fn a_first_deploy_killed_once_started_is_recovered_with_nothing_to_start_again() {
    require_docker!();
    let env = TestEnv::new();
    let project = env.web_project("fpfirst");
    let port = free_port();
    let publish = port.to_string();
    crash_at(
        &env,
        "started",
        &["deploy", &project, "--image", WEB_V1, "--publish", &publish],
    );
    let new = container(&project, "production", 1);
    assert!(is_running(&new));

    let run = env.ok(&["deploy", &project, "--image", WEB_V2, "--publish", &publish]);
    assert_recovered(&env, &run, &project, 1, &deploy_command(&project, WEB_V1));
    run.stderr_has(&format!("removed {new}"));
    assert_eq!(docker_inspect(&new, "{{.Name}}"), None, "{new} is left");
    assert_eq!(invariants(&env, &project, port).as_deref(), Some("v2"));
}

#[test]
fn killed_once_the_new_version_passed_its_check_then_the_next_deploy_removes_the_check() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port) = crashed_deploy(&env, "fpcheck", "checked");
    let check = format!("{}-check", container(&project, "production", 3));
    // Tried beside the serving one, and healthy there; nothing was stopped yet.
    assert!(is_running(&check), "{check} does not run");
    assert!(is_running(&container(&project, "production", 2)));
    assert_eq!(serving_soon(port).as_deref(), Some("v2"));

    let run = env.ok(&["deploy", &project, "--image", WEB_V1]);
    assert_recovered(&env, &run, &project, 3, &deploy_command(&project, WEB_V1));
    run.stderr_has(&format!("removed {check}"));
    assert_eq!(docker_inspect(&check, "{{.Name}}"), None, "{check} is left");
    assert_eq!(invariants(&env, &project, port).as_deref(), Some("v1"));
}

#[test]
fn every_fault_point_in_a_row_on_one_environment_ends_whole() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port) = serving_project(&env, "fpall");
    let mut id = 2;
    let mut serving = "v2";
    for point in [
        "recorded", "created", "checked", "stopped", "started", "healthy",
    ] {
        let image = if serving == "v2" { WEB_V1 } else { WEB_V2 };
        crash_at(&env, point, &["deploy", &project, "--image", image]);
        id += 1;
        // The next one crashes too, at the same point: it recovers the first on its way.
        crash_at(&env, point, &["deploy", &project, "--image", image]);
        id += 1;
        let run = env.ok(&["deploy", &project, "--image", image]);
        assert_recovered(&env, &run, &project, id, &deploy_command(&project, image));
        assert_eq!(deployment(&env, id - 1)["status"], "cancelled");
        id += 1;
        serving = if serving == "v2" { "v1" } else { "v2" };
        assert_eq!(
            invariants(&env, &project, port).as_deref(),
            Some(serving),
            "after a crash at {point}"
        );
    }
}
