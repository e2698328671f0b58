//! `temps status` in swarm mode: each task with its node, state and health, and drift
//! when the service runs what the history does not say.

use super::support::*;
use crate::require_swarm;

#[test]
fn status_shows_every_task_and_drift_when_the_service_was_changed_by_hand() {
    let lab = require_swarm!();
    let _held = lab.shared();
    let project = SwarmProject::new(lab, "swstatus");
    let first = project.deploy(lab.image("CHECKED_V1"), &["--swarm", "--replicas", "3"]);

    let status = project.status("production");
    let swarm = &status["swarm"];
    assert_eq!(swarm["service"], project.service("production"));
    assert_eq!(swarm["replicas"], 3);
    let tasks = swarm["tasks"].as_array().expect("tasks");
    let mut nodes: Vec<String> = tasks
        .iter()
        .map(|t| t["node"].as_str().expect("node").to_string())
        .collect();
    nodes.sort();
    assert_eq!(nodes, every_node(lab));
    for task in tasks {
        assert_eq!(task["state"], "running", "{task}");
        assert_eq!(
            task["health"], "healthy",
            "the image has a HEALTHCHECK: {task}"
        );
        assert_eq!(task["deployment_id"], first["id"]);
        assert_eq!(task["drift"], false);
    }
    assert_eq!(status["drift"], serde_json::json!([]));
    let table = project.ok(&["status", &project.name]).stdout;
    for node in every_node(lab) {
        assert!(table.contains(&node), "the table names {node}:\n{table}");
    }

    // Someone updates the service by hand, behind temps' back.
    let service = project.service("production");
    lab.manager_docker(&[
        "service",
        "update",
        "--quiet",
        "--image",
        lab.digest("WEB_V2"),
        &service,
    ])
    .code(0);
    let status = project.status("production");
    let drift: Vec<String> = status["drift"]
        .as_array()
        .expect("drift")
        .iter()
        .map(|d| d.as_str().expect("text").to_string())
        .collect();
    assert!(
        drift
            .iter()
            .any(|d| d.contains(&format!("not the current deployment #{}", id(&first)))),
        "{drift:?}"
    );
    assert!(
        status["swarm"]["tasks"]
            .as_array()
            .expect("tasks")
            .iter()
            .any(|t| t["drift"] == true),
        "the hand-made tasks drift: {status}"
    );
    assert!(project
        .ok(&["status", &project.name])
        .stdout
        .contains("DRIFT"));

    // The next operation puts the service back in line before its own change.
    let second = project.deploy(lab.image("WEB_V1"), &[]);
    assert_eq!(second["status"], "deployed");
    let status = project.status("production");
    assert_eq!(status["drift"], serde_json::json!([]));
}
