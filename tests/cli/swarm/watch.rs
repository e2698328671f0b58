//! The watch window in swarm mode: the service's tasks stand for the containers. A new
//! version whose task ends inside the watch is rolled back by itself, through the same
//! pipeline as on one host.

use super::support::*;
use crate::common::*;
use crate::require_swarm;

#[test]
fn a_version_whose_task_exits_during_its_watch_is_rolled_back_automatically() {
    let lab = require_swarm!();
    let _held = lab.shared();
    let project = SwarmProject::new(lab, "swwatch");
    let first = project.deploy(lab.image("WEB_V1"), &["--swarm", "--replicas", "1"]);
    // Healthy through Swarm's monitor window, then its process ends by itself.
    let repo = format!("lab/{}", project.name);
    let leaving = lab.build_with(
        &format!("{repo}:leaving"),
        "leaving",
        "temps-test/souring:v1",
        "EXIT_AFTER=20",
    );

    let run = project
        .run(&[
            "-o",
            "json",
            "deploy",
            &project.name,
            "--image",
            &leaving,
            "--watch",
            "5m",
        ])
        .code(5);
    assert_error_with_hint(&run);
    let watched = run.json();
    assert_eq!(watched["status"], "failed", "{watched}");
    let error = watched["error"].as_str().expect("an error");
    assert!(
        error.starts_with("automatic: task ") && error.contains("ended"),
        "names the task that ended: {error}"
    );

    let history = project.history();
    let rollback = &history[0];
    assert_eq!(rollback["is_rollback"], true, "{rollback}");
    assert_eq!(rollback["rolled_back_to_id"], first["id"]);
    assert_eq!(rollback["status"], "deployed");
    assert!(
        rollback["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("automatic:")),
        "{rollback}"
    );
    let status = project.status("production");
    assert_eq!(status["state"], "rolled_back", "{status}");
    let service = project.service("production");
    assert_eq!(lab.service_image(&service), lab.digest("WEB_V1"));
}
