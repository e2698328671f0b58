//! A node leaving mid-update. With a host-mode port each node holds one task, so the
//! gone node's task can be placed nowhere and Swarm's updater (one task at a time) waits
//! on it for good. temps runs as many replicas as the ready nodes hold, says so, and
//! finishes the update on them; status reports the shortfall as drift until the next
//! deploy, rollback or promote asks for the environment's count again.

use std::process::Stdio;

use super::support::*;
use crate::common::Away;
use crate::require_swarm;

/// The worker that goes away when every worker's task is replaced already (node1 is the
/// manager temps talks to).
const LEAVING: &str = "node3";

#[test]
fn a_node_leaving_mid_update_leaves_the_others_on_the_new_version_and_says_so() {
    let lab = require_swarm!();
    let _alone = lab.exclusive();
    let project = SwarmProject::new(lab, "swnode");
    let port = lab.port();
    let publish = port.to_string();
    let first = project.deploy(
        lab.image("WEB_V1"),
        &["--swarm", "--replicas", "3", "--publish", &publish],
    );

    let update = {
        let mut cmd = project.env.cmd();
        cmd.env("DOCKER_HOST", &lab.manager).args([
            "-o",
            "json",
            "deploy",
            &project.name,
            "--image",
            lab.image("WEB_V2"),
        ]);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.spawn().expect("start the update")
    };
    // The update is under way: Swarm replaces the tasks one at a time from here on.
    let service = project.service("production");
    wait_for_update(lab, &service, lab.digest("WEB_V2"));
    // A worker whose task the update has not replaced yet goes: its engine stops
    // answering (SIGSTOP), so the update cannot finish its task there, and the manager
    // lists it Down once it misses its heartbeats.
    let v1 = lab.digest("WEB_V1");
    let leaving = lab
        .tasks(&service)
        .into_iter()
        .find(|t| t.image == v1 && lab.workers().any(|w| w.name == t.node))
        .map(|t| t.node)
        .unwrap_or_else(|| LEAVING.to_string());
    let leaving = leaving.as_str();
    let away = lab.away(leaving, Away::Paused);
    let done = crate::common::Run::from(update.wait_with_output().expect("the update ends"))
        .code(0)
        .stderr_has("node(s) ready");
    let record = done.json();
    assert_eq!(record["status"], "deployed");
    assert_eq!(record["rolled_back_from_id"], serde_json::Value::Null);

    let mut staying: Vec<String> = every_node(lab)
        .into_iter()
        .filter(|n| n != leaving)
        .collect();
    staying.sort();
    assert_eq!(nodes_of(lab, &service), staying);
    for node in lab.nodes.iter().filter(|n| n.name != leaving) {
        assert_eq!(
            lab.get(&node.addr, port, "/").map(|b| b.trim().to_string()),
            Some("v2".to_string()),
            "{} serves the new version",
            node.name
        );
    }
    let status = project.status("production");
    assert_eq!(status["current"]["id"], record["id"]);
    assert!(
        status["drift"].as_array().expect("drift").iter().any(|d| d
            .as_str()
            .is_some_and(|d| d.contains("the environment to 3"))),
        "{status}"
    );

    // Back with every node: a rollback asks for three replicas again.
    away.come_back();
    let rollback = project.json(&["rollback", &id(&first), "--yes"]);
    assert_eq!(rollback["status"], "deployed");
    assert_eq!(nodes_of(lab, &service), every_node(lab));
    lab.wait_every_node_says(port, "v1", ANSWER);
}
