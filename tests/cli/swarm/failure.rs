//! A swarm update that fails: temps puts the previous deployment's spec back itself (not
//! Swarm's rollback), marks the deployment failed and exits 5.

use super::support::*;
use crate::common::*;
use crate::require_swarm;

#[test]
fn an_update_whose_tasks_exit_is_answered_by_the_previous_spec_and_exit_5() {
    let lab = require_swarm!();
    let _held = lab.shared();
    let project = SwarmProject::new(lab, "swcrash");
    let port = lab.port();
    let publish = port.to_string();
    let first = project.deploy(
        lab.image("WEB_V1"),
        &["--swarm", "--replicas", "3", "--publish", &publish],
    );

    let run = project
        .run(&[
            "-o",
            "json",
            "deploy",
            &project.name,
            "--image",
            lab.image("CRASH_V1"),
        ])
        .code(5)
        .stderr_has(&format!("#{} is serving again", id(&first)));
    assert_error_with_hint(&run);
    let failed = run.json();
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["image_id"], lab.digest("CRASH_V1"));
    let error = failed["error"].as_str().expect("an error");
    assert!(
        error.contains("non-zero exit"),
        "says how the task ended: {error}"
    );

    let service = project.service("production");
    assert_eq!(lab.service_image(&service), lab.digest("WEB_V1"));
    assert_eq!(nodes_of(lab, &service), every_node(lab));
    lab.wait_every_node_says(port, "v1", ANSWER);
    let status = project.status("production");
    assert_eq!(status["current"]["id"], first["id"]);
    assert_eq!(status["drift"], serde_json::json!([]));
}

#[test]
fn a_rollback_to_a_version_that_never_becomes_healthy_restores_what_served() {
    let lab = require_swarm!();
    let _held = lab.shared();
    let project = SwarmProject::new(lab, "swsick");
    let port = lab.port();
    let publish = port.to_string();
    project.deploy(
        lab.image("WEB_V1"),
        &["--swarm", "--replicas", "3", "--publish", &publish],
    );
    let second = project.deploy(lab.image("WEB_V2"), &[]);
    // A version that served once, then turned sick: its HEALTHCHECK fails on every node.
    let sick = project
        .run(&[
            "-o",
            "json",
            "deploy",
            &project.name,
            "--image",
            lab.image("SICK_V1"),
        ])
        .code(5)
        .json();
    assert_eq!(sick["status"], "failed");
    lab.wait_every_node_says(port, "v2", ANSWER);
    let history = project.history();
    assert_eq!(history[0]["id"], sick["id"]);
    assert_eq!(project.status("production")["current"]["id"], second["id"]);
    // A failed deployment is no rollback target.
    project
        .run(&["rollback", &id(&sick), "--yes"])
        .code(4)
        .stderr_has("it is failed");
}
