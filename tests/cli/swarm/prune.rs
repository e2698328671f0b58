//! `temps prune` in swarm mode: the registry keeps the images and nothing is pinned on the
//! nodes (README, "Images by digest"), so prune has nothing to remove there. It leaves the
//! service and the history as they are, and every deployment still rolls back.

use super::support::*;
use crate::require_swarm;

#[test]
fn prune_of_a_swarm_environment_removes_nothing_and_every_deployment_still_rolls_back() {
    let lab = require_swarm!();
    let _held = lab.shared();
    let project = SwarmProject::new(lab, "swprune");
    let port = lab.port();
    let publish = port.to_string();
    let first = project.deploy(
        lab.image("WEB_V1"),
        &["--swarm", "--replicas", "3", "--publish", &publish],
    );
    project.deploy(lab.image("WEB_V2"), &[]);
    let third = project.deploy(lab.image("CHECKED_V1"), &[]);
    lab.wait_every_node_says(port, "checked", ANSWER);
    let service = project.service("production");
    let before = project.history();

    // With --keep 0 the first two are beyond what is kept; still nothing to remove.
    for dry_run in [true, false] {
        let mut args = vec!["prune", &project.name, "--keep", "0"];
        if dry_run {
            args.push("--dry-run");
        }
        let pruned = project.json(&args);
        assert_eq!(pruned["dry_run"], dry_run, "{pruned}");
        assert_eq!(pruned["pruned"], serde_json::json!([]), "{pruned}");
    }
    assert_eq!(project.history(), before, "the history is kept whole");
    assert_eq!(lab.service_image(&service), lab.digest("CHECKED_V1"));
    assert_eq!(nodes_of(lab, &service), every_node(lab));
    let status = project.status("production");
    assert_eq!(status["current"]["id"], third["id"]);
    assert_eq!(status["drift"], serde_json::json!([]), "{status}");

    // What a prune would have made unusable on one host still rolls back from the
    // registry, three deployments back.
    let rollback = project.json(&["rollback", &id(&first), "--yes"]);
    assert_eq!(rollback["status"], "deployed", "{rollback}");
    assert_eq!(rollback["image_id"], lab.digest("WEB_V1"));
    lab.wait_every_node_says(port, "v1", ANSWER);
}
