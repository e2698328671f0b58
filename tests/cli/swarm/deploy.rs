//! `temps deploy --swarm`: the environment becomes one service with a task on every node,
//! the tag is pinned to its repository digest once, and the history records it.

use super::support::*;
use crate::common::*;
use crate::{require_docker, require_swarm};

#[test]
fn a_swarm_deploy_runs_a_replica_on_every_node_and_records_the_repository_digest() {
    let lab = require_swarm!();
    let _held = lab.shared();
    let project = SwarmProject::new(lab, "swdeploy");
    let port = lab.port().to_string();

    let record = project.deploy(
        lab.image("WEB_V1"),
        &["--swarm", "--replicas", "3", "--publish", &port],
    );
    assert_eq!(record["status"], "deployed");
    assert_eq!(record["image"], lab.image("WEB_V1"));
    assert_eq!(
        record["image_id"],
        lab.digest("WEB_V1"),
        "the tag is recorded as the digest the registry has"
    );
    let service = project.service("production");
    assert_eq!(
        nodes_of(lab, &service),
        every_node(lab),
        "one task per node"
    );
    assert_eq!(lab.service_image(&service), lab.digest("WEB_V1"));
    lab.wait_every_node_says(port.parse().expect("port"), "v1", ANSWER);
    let shown = project.json(&["project", "show", &project.name]);
    assert_eq!(
        shown["environments"][0]["swarm"],
        serde_json::json!({"service": service, "replicas": 3}),
        "{shown}"
    );

    // Remembered: the next deploy needs no --swarm, and still goes by digest.
    let second = project.deploy(lab.image("WEB_V2"), &[]);
    assert_eq!(second["image_id"], lab.digest("WEB_V2"));
    lab.wait_every_node_says(port.parse().expect("port"), "v2", ANSWER);
    let history = project.history();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["status"], "deployed");
    assert_eq!(history[1]["status"], "completed");
    assert_eq!(history[1]["image_id"], lab.digest("WEB_V1"));
}

#[test]
fn swarm_mode_needs_a_manager_and_one_port_on_every_node() {
    let lab = require_swarm!();
    let _held = lab.shared();
    let project = SwarmProject::new(lab, "swrefuse");

    // A worker cannot change services: refused before anything is recorded.
    let worker = lab.workers().next().expect("a worker").host.clone();
    let run = Run::from(
        project
            .env
            .cmd()
            .env("DOCKER_HOST", &worker)
            .args([
                "deploy",
                &project.name,
                "--image",
                lab.image("WEB_V1"),
                "--swarm",
            ])
            .output()
            .expect("run temps"),
    )
    .code(4)
    .stderr_has("swarm worker");
    assert_error_with_hint(&run);

    // An address is one host's: in swarm mode the port is every node's.
    project
        .run(&[
            "deploy",
            &project.name,
            "--image",
            lab.image("WEB_V1"),
            "--swarm",
            "--publish",
            "127.0.0.1:8080",
        ])
        .code(2)
        .stderr_has("hint: `--publish 8080`");
    assert!(project.history().is_empty(), "nothing was recorded");
}

#[test]
fn an_engine_outside_a_swarm_is_refused_with_the_way_to_make_one() {
    require_docker!();
    let env = TestEnv::new();
    let project = env.web_project("swnone");
    // The default engine is in no swarm (the lab's nodes are).
    let run = env
        .run(&["deploy", &project, "--image", WEB_V1, "--swarm"])
        .code(4)
        .stderr_has("not a swarm manager")
        .stderr_has("docker swarm init");
    assert_error_with_hint(&run);
}
