//! `kill -9` from outside during the health check: `temps status` shows the drift it
//! left, and the next operation on the environment recovers before it proceeds.

use super::*;

#[test]
fn kill_9_during_the_health_check_is_recovered_by_the_next_deploy() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port) = serving_project(&env, "kill9");
    env.ok(&["project", "update", &project, "--health-timeout", "10m"]);
    let mut deploy = Background::start(&env, &[], &["deploy", &project, "--image", NOHEALTH]);
    let new = container(&project, "production", 3);
    let check = check_container(&project, "production", 3);
    deploy.wait_for_running(&check);
    deploy.signal("KILL");
    assert_killed(&deploy.output());

    // The new version was being tried beside the serving one: #2 still serves, and
    // `status` shows the check container as drift.
    assert_eq!(deployment(&env, 3)["status"], "deploying");
    assert!(is_running(&container(&project, "production", 2)));
    assert_eq!(serving(port).as_deref(), Some("v2"));
    env.ok(&["status", &project])
        .stdout_has(&format!(
            "drift      {check} runs but is not the current deployment"
        ))
        .stdout_has("hint: ");
    let json = env.json(&["status", &project]);
    let drift = json[0]["drift"].as_array().expect("drift");
    assert_eq!(drift.len(), 1, "{json}");

    let run = env.ok(&["deploy", &project, "--image", WEB_V1]);
    assert_recovered(
        &env,
        &run,
        &project,
        3,
        &format!("deploy {project} --image {NOHEALTH}"),
    );
    run.stderr_has(&format!("removed {new}"))
        .stderr_has(&format!("removed {check}"));
    assert_eq!(docker_inspect(&new, "{{.Name}}"), None, "{new} is left");
    assert_eq!(docker_inspect(&check, "{{.Name}}"), None, "{check} is left");
    assert_eq!(deployment(&env, 4)["status"], "deployed");
    assert_eq!(invariants(&env, &project, port).as_deref(), Some("v1"));
    // And `temps status` sees no drift any more.
    let json = env.json(&["status", &project]);
    assert_eq!(json[0]["drift"], serde_json::json!([]), "{json}");
}

#[test]
fn status_reports_drift_with_a_hint_and_no_drift_when_docker_agrees() {
    require_docker!();
    let env = TestEnv::new();
    let (project, _port) = serving_project(&env, "drift");
    let json = env.json(&["status", &project]);
    assert_eq!(json[0]["drift"], serde_json::json!([]), "{json}");
    let clean = env.ok(&["status", &project]);
    assert!(!clean.stdout.contains("  drift "), "{}", clean.stdout);

    // Someone stops the serving container by hand.
    let current = container(&project, "production", 2);
    docker(&["stop", "-t", "1", &current]).code(0);
    let run = env
        .ok(&["status", &project])
        .stdout_has(&format!("{current} should serve but is exited"))
        .stdout_has("hint: ");
    assert!(run.stdout.contains("  drift "), "{}", run.stdout);

    // And starts an old one instead.
    let old = container(&project, "production", 1);
    docker(&["start", &old]).code(0);
    env.ok(&["status", &project])
        .stdout_has(&format!("{old} runs but is not the current deployment"));
    let json = env.json(&["status", &project]);
    assert_eq!(json[0]["drift"].as_array().map(Vec::len), Some(2), "{json}");

    // Removed altogether.
    docker(&["rm", "-f", &current]).code(0);
    env.ok(&["status", &project])
        .stdout_has(&format!("{current} should serve but does not exist"));
}
