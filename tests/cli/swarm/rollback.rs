//! `temps rollback` and `temps promote` in swarm mode: a service update to the digest
//! the history recorded, to any deployment in it, converging on every node.

use super::support::*;
use crate::require_swarm;

#[test]
fn a_rollback_three_deployments_back_converges_on_every_node_and_a_promote_goes_forward() {
    let lab = require_swarm!();
    let _held = lab.shared();
    let project = SwarmProject::new(lab, "swback");
    let port = lab.port();
    let publish = port.to_string();

    let first = project.deploy(
        lab.image("WEB_V1"),
        &["--swarm", "--replicas", "3", "--publish", &publish],
    );
    project.deploy(lab.image("WEB_V2"), &[]);
    project.deploy(lab.image("SLOW_V1"), &[]);
    let fourth = project.deploy(lab.image("CHECKED_V1"), &[]);
    lab.wait_every_node_says(port, "checked", ANSWER);

    let rollback = project.json(&[
        "rollback",
        &id(&first),
        "--yes",
        "--reason",
        "checkout errors",
    ]);
    assert_eq!(rollback["status"], "deployed");
    assert_eq!(rollback["is_rollback"], true);
    assert_eq!(rollback["rolled_back_from_id"], fourth["id"]);
    assert_eq!(rollback["rolled_back_to_id"], first["id"]);
    assert_eq!(rollback["image_id"], lab.digest("WEB_V1"));
    assert_eq!(rollback["reason"], "checkout errors");
    let service = project.service("production");
    assert_eq!(nodes_of(lab, &service), every_node(lab));
    assert_eq!(lab.service_image(&service), lab.digest("WEB_V1"));
    lab.wait_every_node_says(port, "v1", ANSWER);

    // The history records it as on one host.
    let history = project.history();
    assert_eq!(history.len(), 5);
    assert_eq!(history[0]["id"], rollback["id"]);
    assert_eq!(history[1]["id"], fourth["id"]);
    assert_eq!(history[1]["status"], "completed");
    let status = project.status("production");
    assert_eq!(status["state"], "rolled_back");
    assert_eq!(status["current"]["id"], rollback["id"]);
    assert_eq!(status["drift"], serde_json::json!([]));

    // New deploys wait as `ready`, and change nothing on the nodes.
    let ready = project.deploy(lab.image("WEB_V2"), &[]);
    assert_eq!(ready["status"], "ready");
    assert_eq!(lab.service_image(&service), lab.digest("WEB_V1"));

    let promoted = project.json(&["promote", &id(&ready), "--yes"]);
    assert_eq!(promoted["is_promote"], true);
    assert_eq!(promoted["status"], "deployed");
    assert_eq!(promoted["image_id"], lab.digest("WEB_V2"));
    lab.wait_every_node_says(port, "v2", ANSWER);
    assert_eq!(project.status("production")["state"], "normal");
}
