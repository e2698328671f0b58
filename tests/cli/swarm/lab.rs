//! The lab itself: what the swarm-mode tests build on holds on this machine. A service
//! spreads over every node and answers on each node's address, an update converges, a
//! node can go away and come back, and the registry refuses a digest once it is deleted.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::*;
use crate::require_swarm;

/// The longest a service is given to converge (an update of three tasks, one after the
/// other, takes about 12 s here).
const CONVERGE: Duration = Duration::from_secs(120);
/// The longest a task that runs is given to answer on its port.
const ANSWER: Duration = Duration::from_secs(30);

/// The digest part of a reference: `…@sha256:abc` -> `sha256:abc`.
fn digest_of(reference: &str) -> &str {
    reference
        .rsplit_once('@')
        .unwrap_or_else(|| panic!("{reference} names no digest"))
        .1
}

#[test]
fn a_service_runs_a_task_on_every_node_each_answers_on_its_own_address_and_an_update_converges() {
    let lab = require_swarm!();
    let _held = lab.shared();
    let port = lab.port();
    let publish = format!("mode=host,published={port},target=8080");
    let service = SwarmService::create(
        lab,
        "spread",
        &[
            "--replicas",
            "3",
            "--replicas-max-per-node",
            "1",
            "--publish",
            &publish,
            lab.image("WEB_V1"),
        ],
    );

    let tasks = lab.wait_converged(&service.name, 3, CONVERGE);
    let on: BTreeSet<&str> = tasks.iter().map(|t| t.node.as_str()).collect();
    let every: BTreeSet<&str> = lab.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(on, every, "one task on every node: {tasks:?}");
    assert!(
        lab.service_image(&service.name)
            .ends_with(digest_of(lab.digest("WEB_V1"))),
        "the manager pinned the tag to the digest the registry has"
    );
    lab.wait_every_node_says(port, "v1", ANSWER);

    lab.manager_docker(&[
        "service",
        "update",
        "--detach",
        "--image",
        lab.image("WEB_V2"),
        &service.name,
    ])
    .code(0);
    let tasks = lab.wait_converged(&service.name, 3, CONVERGE);
    let v2 = digest_of(lab.digest("WEB_V2"));
    assert!(
        tasks.iter().all(|t| t.image.ends_with(v2)),
        "every task runs v2's digest: {tasks:?}"
    );
    let on: BTreeSet<&str> = tasks.iter().map(|t| t.node.as_str()).collect();
    assert_eq!(on, every, "still one task on every node: {tasks:?}");
    lab.wait_every_node_says(port, "v2", ANSWER);
}

#[test]
fn the_registry_refuses_a_digest_once_deleted_and_the_other_repositories_keep_theirs() {
    let lab = require_swarm!();
    let _held = lab.shared();
    let repo = format!("lab/gone-{}", std::process::id());
    let pushed = lab.push(WEB_V2, &format!("{repo}:v2"));
    let digest = digest_of(&pushed).to_string();
    assert!(lab.has_manifest(&repo, &digest), "{pushed} was pushed");
    assert!(lab.has_manifest(&repo, "v2"));

    lab.delete_digest(&repo, &digest);
    assert!(!lab.has_manifest(&repo, &digest), "{pushed} is gone");
    assert!(
        !lab.has_manifest(&repo, "v2"),
        "the tag that named it went with it"
    );
    // A node that never had it cannot pull it any more.
    let pull = lab.docker("node2", &["pull", &pushed]);
    assert_ne!(pull.status, 0, "the pull of {pushed} succeeded");
    assert!(
        pull.stderr.contains("manifest unknown"),
        "the registry says why: {}",
        pull.stderr
    );
    // The seeded repositories are untouched.
    let seeded = lab.digest("WEB_V2");
    assert!(lab.has_manifest("temps-test/web", digest_of(seeded)));
    assert!(lab.has_manifest("temps-test/web", "v2"));
}

#[test]
fn a_worker_that_stops_is_reported_down_and_ready_again_once_started() {
    let lab = require_swarm!();
    let _held = lab.exclusive();
    let worker = lab.workers().last().expect("a worker").name.clone();
    let state = |node: &str| {
        lab.manager_docker(&[
            "node",
            "ls",
            "--filter",
            &format!("name={node}"),
            "--format",
            "{{.Hostname}} {{.Status}}",
        ])
        .code(0)
        .stdout
    };

    lab.stop_node(&worker);
    lab.wait_node(&worker, "down", 60);
    assert!(
        state(&worker).contains(&format!("{worker} Down")),
        "{}",
        state(&worker)
    );
    let gone = lab.docker(&worker, &["version"]);
    assert_ne!(gone.status, 0, "its engine is stopped");

    lab.start_node(&worker);
    assert!(
        state(&worker).contains(&format!("{worker} Ready")),
        "{}",
        state(&worker)
    );
    let back = lab.docker(&worker, &["info", "--format", "{{.Swarm.LocalNodeState}}"]);
    assert_eq!(back.code(0).stdout.trim(), "active", "still a member");
}
