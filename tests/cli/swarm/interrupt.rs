//! Ctrl-C during a swarm update puts the previous spec back (exit 130); a `kill -9` is
//! put right by the next command on the environment, as on one host.

use std::process::{Child, Command, Stdio};

use super::support::*;
use crate::common::*;
use crate::require_swarm;

/// Start `temps ARGS` against the manager, its output captured.
fn spawn(project: &SwarmProject<'_>, args: &[&str]) -> Child {
    project
        .env
        .cmd()
        .env("DOCKER_HOST", &project.lab.manager)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start temps")
}

fn signal(child: &Child, name: &str) {
    Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill");
}

/// v1, then v2 on three nodes: (the first record, the second).
fn two_versions(project: &SwarmProject<'_>, port: u16) -> (serde_json::Value, serde_json::Value) {
    let publish = port.to_string();
    let first = project.deploy(
        project.lab.image("WEB_V1"),
        &["--swarm", "--replicas", "3", "--publish", &publish],
    );
    let second = project.deploy(project.lab.image("WEB_V2"), &[]);
    (first, second)
}

#[test]
fn ctrl_c_during_a_swarm_rollback_puts_the_previous_spec_back_and_exits_130() {
    let lab = require_swarm!();
    let _held = lab.shared();
    let project = SwarmProject::new(lab, "swint");
    let port = lab.port();
    let (first, second) = two_versions(&project, port);
    let service = project.service("production");

    let rollback = spawn(&project, &["rollback", &id(&first), "--yes"]);
    wait_for_update(lab, &service, lab.digest("WEB_V1"));
    signal(&rollback, "INT");
    let run = Run::from(rollback.wait_with_output().expect("rollback ends"))
        .code(130)
        .stderr_has(&format!("#{} is serving again", id(&second)));
    assert_error_with_hint(&run);

    assert_eq!(lab.service_image(&service), lab.digest("WEB_V2"));
    lab.wait_every_node_says(port, "v2", ANSWER);
    let history = project.history();
    assert_eq!(history[0]["status"], "cancelled");
    assert_eq!(history[0]["is_rollback"], true);
    let status = project.status("production");
    assert_eq!(status["current"]["id"], second["id"]);
    assert_eq!(status["state"], "normal");
    assert_eq!(status["drift"], serde_json::json!([]));
}

#[test]
fn a_kill_9_during_a_swarm_update_is_put_right_by_the_next_command() {
    let lab = require_swarm!();
    let _held = lab.shared();
    let project = SwarmProject::new(lab, "swkill");
    let port = lab.port();
    let (first, second) = two_versions(&project, port);
    let service = project.service("production");

    let rollback = spawn(&project, &["rollback", &id(&first), "--yes"]);
    wait_for_update(lab, &service, lab.digest("WEB_V1"));
    signal(&rollback, "KILL");
    rollback.wait_with_output().expect("rollback ends");

    // The history still says #2 serves; the service says otherwise.
    let status = project.status("production");
    assert_eq!(status["current"]["id"], second["id"]);
    assert!(
        status["drift"].as_array().is_some_and(|d| !d.is_empty()),
        "the service runs what the history does not say: {status}"
    );
    let killed = project.history()[0].clone();
    assert_eq!(killed["status"], "deploying");

    // The next command reconciles first: the service back to #2, the rollback cancelled.
    let third = project.deploy(lab.image("SLOW_V1"), &[]);
    assert_eq!(third["status"], "deployed");
    let killed = project.json(&["show", &id(&killed)]);
    assert_eq!(killed["status"], "cancelled");
    let error = killed["error"].as_str().expect("an error");
    assert!(
        error.contains(&format!("put service {service} back to #{}", id(&second))),
        "{error}"
    );
    assert_eq!(lab.service_image(&service), lab.digest("SLOW_V1"));
}
