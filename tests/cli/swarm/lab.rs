//! The lab itself: what the swarm-mode tests build on holds on this machine. A service
//! spreads over every node and answers on each node's address, an update converges, a
//! HEALTHCHECK runs on every node, a node can go away and come back, and the registry
//! refuses a digest once it is deleted.

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
    let service =
        SwarmService::one_per_node(lab, "spread", &["--publish", &publish], lab.image("WEB_V1"));

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
fn a_healthcheck_passes_on_every_node() {
    let lab = require_swarm!();
    let _held = lab.shared();
    let service = SwarmService::one_per_node(lab, "checked", &[], lab.image("CHECKED_V1"));
    lab.wait_converged(&service.name, 3, CONVERGE);
    let started = std::time::Instant::now();
    loop {
        let health = lab.health(&service.name);
        if health.len() == 3 && health.iter().all(|(_, h)| h == "healthy") {
            break;
        }
        assert!(
            started.elapsed() < ANSWER,
            "not every task healthy within {ANSWER:?}: {health:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
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
    let (status, body) = lab.distribution(&pushed);
    assert_eq!(status, 200, "the manager's engine sees it: {body}");
    assert!(body.contains(&digest), "{body}");

    lab.delete_digest(&repo, &digest);
    assert!(!lab.has_manifest(&repo, &digest), "{pushed} is gone");
    assert!(
        !lab.has_manifest(&repo, "v2"),
        "the tag that named it went with it"
    );
    let (status, body) = lab.distribution(&pushed);
    assert_eq!(
        (status, body.contains("manifest unknown")),
        (404, true),
        "the manager's engine sees it gone: {body}"
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
fn a_version_built_from_a_seeded_image_has_a_digest_of_its_own_and_every_node_pulls_it() {
    let lab = require_swarm!();
    let _held = lab.shared();
    let repo = format!("lab/built-{}", std::process::id());
    let v3 = lab.build(&format!("{repo}:v3"), "v3", WEB_V1);
    let v4 = lab.build(&format!("{repo}:v4"), "v4", WEB_V1);
    let digests = [
        digest_of(&v3),
        digest_of(&v4),
        digest_of(lab.digest("WEB_V1")),
    ];
    let distinct: BTreeSet<&str> = digests.iter().copied().collect();
    assert_eq!(distinct.len(), 3, "{digests:?}");
    assert!(lab.has_manifest(&repo, "v3") && lab.has_manifest(&repo, "v4"));
    for node in &lab.nodes {
        lab.docker(&node.name, &["pull", "--quiet", &v4]).code(0);
        lab.docker(&node.name, &["image", "rm", &v4]).code(0);
    }
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

    let away = lab.away(&worker, Away::Stopped);
    lab.wait_node(&worker, "down", 60);
    assert!(
        state(&worker).contains(&format!("{worker} Down")),
        "{}",
        state(&worker)
    );
    let gone = lab.docker(&worker, &["version"]);
    assert_ne!(gone.status, 0, "its engine is stopped");

    away.come_back();
    assert!(
        state(&worker).contains(&format!("{worker} Ready")),
        "{}",
        state(&worker)
    );
    let back = lab.docker(&worker, &["info", "--format", "{{.Swarm.LocalNodeState}}"]);
    assert_eq!(back.code(0).stdout.trim(), "active", "still a member");
}

#[test]
fn a_worker_whose_link_is_cut_keeps_its_task_but_is_reported_down_until_mended() {
    let lab = require_swarm!();
    let _held = lab.exclusive();
    let worker = lab.workers().next().expect("a worker").clone();
    let port = lab.port();
    let publish = format!("mode=host,published={port},target=8080");
    let service =
        SwarmService::one_per_node(lab, "cut", &["--publish", &publish], lab.image("WEB_V1"));
    lab.wait_converged(&service.name, 3, CONVERGE);

    let away = lab.away(&worker.name, Away::Cut);
    lab.wait_node(&worker.name, "down", 60);
    assert_eq!(
        lab.get(&worker.addr, port, "/"),
        None,
        "nothing reaches a cut node"
    );
    let running = lab.docker(
        &worker.name,
        &[
            "ps",
            "-q",
            "--filter",
            &format!("label=com.docker.swarm.service.name={}", service.name),
        ],
    );
    assert!(
        !running.code(0).stdout.trim().is_empty(),
        "its container keeps running behind the cut"
    );

    away.come_back();
    lab.wait_converged(&service.name, 3, CONVERGE);
    lab.wait_every_node_says(port, "v1", ANSWER);
}
