//! One operation per environment at a time (variable changes included): a second one
//! exits 7 naming the holder, or waits with `--wait-lock`; other environments are never
//! blocked; a dead holder's lock is taken over; many operations at once leave the
//! environment whole.

use std::process::Command;

use super::*;

/// A project whose production serves v2 as #2, with a long health wait, and a deploy of
/// the never-healthy image holding its lock in the health wait of its check (as #3).
fn held(env: &TestEnv, hint: &str) -> (String, u16, Background) {
    let (project, port) = serving_project(env, hint);
    env.ok(&["project", "update", &project, "--health-timeout", "10m"]);
    let mut holder = Background::start(env, &[], &["deploy", &project, "--image", NOHEALTH]);
    holder.wait_for_running(&check_container(&project, "production", 3));
    (project, port, holder)
}

#[test]
fn a_second_operation_on_a_busy_environment_exits_7_naming_the_holder() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port, holder) = held(&env, "busy");
    let holder_command = format!("temps deploy {project} --image {NOHEALTH}");
    let attempts: Vec<Vec<String>> = vec![
        vec![
            "deploy".into(),
            project.clone(),
            "--image".into(),
            WEB_V1.into(),
        ],
        vec!["rollback".into(), "1".into(), "--yes".into()],
        vec!["promote".into(), "1".into(), "--yes".into()],
        vec!["prune".into(), project.clone()],
        // Variables too: the deploy in flight records the ones its containers get.
        vec![
            "env".into(),
            "set".into(),
            project.clone(),
            "LOG_LEVEL=debug".into(),
        ],
        vec![
            "env".into(),
            "unset".into(),
            project.clone(),
            "LOG_LEVEL".into(),
        ],
    ];
    for args in &attempts {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = env.run(&args).code(7);
        assert_error_with_hint(&run);
        let run = run
            .stderr_has(&format!("{project}/production is busy"))
            .stderr_has(&format!("`{holder_command}`"))
            .stderr_has(&format!("by alice (pid {})", holder.pid()))
            .stderr_has("--wait-lock");
        // Since when: an RFC 3339 timestamp, and how long ago.
        assert!(
            run.stderr.contains(" since 20") && run.stderr.contains("Z ("),
            "no `since` time:\n{}",
            run.stderr
        );
    }
    // A short wait that runs out says how long it waited.
    env.run(&[
        "deploy",
        &project,
        "--image",
        WEB_V1,
        "--wait-lock",
        "300ms",
    ])
    .code(7)
    .stderr_has("is busy (waited 300ms)");

    // Another environment of the same project is not blocked.
    let staging = free_port();
    env.ok(&[
        "deploy",
        &project,
        "--environment",
        "staging",
        "--image",
        WEB_V1,
        "--publish",
        &staging.to_string(),
    ]);
    assert_eq!(serving(staging).as_deref(), Some("v1"));

    holder.signal("INT");
    holder.finish().code(130);
    // The busy attempts wrote nothing: #1, #2, the cancelled #3 and staging's #4.
    let ids: Vec<i64> = history(&env, &project)
        .iter()
        .filter_map(|d| d["id"].as_i64())
        .collect();
    assert_eq!(ids, vec![4, 3, 2, 1]);
    assert_eq!(invariants(&env, &project, port).as_deref(), Some("v2"));
}

#[test]
fn wait_lock_waits_for_the_holder_to_finish() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port) = serving_project(&env, "waitlock");
    // The holder fails its health check on its own after a few seconds (exit 5).
    env.ok(&["project", "update", &project, "--health-timeout", "4s"]);
    let mut holder = Background::start(&env, &[], &["deploy", &project, "--image", NOHEALTH]);
    holder.wait_for_running(&check_container(&project, "production", 3));
    let waiter = Background::start(
        &env,
        &[],
        &[
            "--output",
            "json",
            "deploy",
            &project,
            "--image",
            WEB_V1,
            "--wait-lock",
            "5m",
        ],
    );
    holder.finish().code(5);
    let done = waiter.finish().code(0).json();
    assert_eq!(done["id"], 4);
    assert_eq!(done["status"], "deployed");
    assert_eq!(deployment(&env, 3)["status"], "failed");
    assert_eq!(invariants(&env, &project, port).as_deref(), Some("v1"));
}

/// Eight deploys and rollbacks at once on one environment.
fn eight_at_once(env: &TestEnv, project: &str, wait: bool) -> Vec<Run> {
    let mut running = Vec::new();
    for i in 0..8 {
        let mut args: Vec<&str> = match i % 4 {
            0 => vec!["deploy", project, "--image", WEB_V1],
            2 => vec!["deploy", project, "--image", WEB_V2],
            _ => vec!["rollback", "1", "--yes"],
        };
        if wait {
            args.extend(["--wait-lock", "5m"]);
        }
        running.push(Background::start(env, &[], &args));
    }
    running.into_iter().map(Background::finish).collect()
}

#[test]
fn eight_operations_at_once_each_run_alone_or_exit_7() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port) = serving_project(&env, "eight");
    let runs = eight_at_once(&env, &project, false);
    let mut done = 0;
    for run in runs {
        match run.status {
            0 => done += 1,
            7 => {
                run.stderr_has("is busy");
            }
            other => panic!(
                "exit {other}, expected 0 or 7\n--- stdout\n{}\n--- stderr\n{}",
                run.stdout, run.stderr
            ),
        }
    }
    assert!(done >= 1, "none of the eight operations ran");
    // Each one that ran recorded exactly one deployment; the busy ones none.
    assert_eq!(history(&env, &project).len(), 2 + done);
    assert!(invariants(&env, &project, port).is_some());
}

#[test]
fn eight_operations_at_once_with_wait_lock_all_succeed_one_after_another() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port) = serving_project(&env, "queue");
    for run in eight_at_once(&env, &project, true) {
        run.code(0);
    }
    let history = history(&env, &project);
    assert_eq!(history.len(), 10);
    for d in &history {
        let status = d["status"].as_str().unwrap_or_default();
        assert!(
            ["deployed", "completed", "ready"].contains(&status),
            "#{} is {status}: {d}",
            d["id"]
        );
    }
    assert!(invariants(&env, &project, port).is_some());
}

#[test]
fn two_environments_deploy_in_parallel() {
    require_docker!();
    let env = TestEnv::new();
    let project = env.web_project("twoenv");
    let ports = [free_port(), free_port()];
    let mut running = Vec::new();
    for (environment, port) in ["production", "staging"].iter().zip(ports) {
        for image in [WEB_V1, WEB_V2, WEB_V1, WEB_V2] {
            running.push(Background::start(
                &env,
                &[],
                &[
                    "deploy",
                    &project,
                    "--environment",
                    environment,
                    "--image",
                    image,
                    "--publish",
                    &port.to_string(),
                    "--wait-lock",
                    "5m",
                ],
            ));
        }
    }
    for run in running {
        run.finish().code(0);
    }
    assert!(invariants(&env, &project, ports[0]).is_some());
    let staging = environment(&env, &project, "staging");
    assert_eq!(staging["publish"], ports[1].to_string());
    assert!(serving(ports[1]).is_some());
    assert_eq!(history(&env, &project).len(), 8);
}

/// Put a lock row into the history, as a holder that never released it would leave.
fn plant_lock(env: &TestEnv, pid: u32, pid_start: Option<i64>, host: &str, command: &str) {
    let script = "import sqlite3, sys\n\
        db, pid, start, host, command = sys.argv[1:]\n\
        c = sqlite3.connect(db)\n\
        c.execute(\"INSERT OR REPLACE INTO locks (project_id, environment, pid, pid_start, host, user, command, started_at) \
        VALUES (1, 'production', ?, ?, ?, 'bob', ?, 1700000000000)\", (int(pid), None if start == '' else int(start), host, command))\n\
        c.commit()\n";
    let status = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(env.db())
        .arg(pid.to_string())
        .arg(pid_start.map(|s| s.to_string()).unwrap_or_default())
        .arg(host)
        .arg(command)
        .status()
        .expect("python3");
    assert!(status.success(), "planting a lock failed");
}

fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("hostname")
        .trim()
        .to_string()
}

/// A pid that no process has now.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().expect("true");
    let pid = child.id();
    child.wait().expect("wait");
    pid
}

#[test]
fn the_lock_of_a_process_that_is_gone_is_taken_over_with_a_warning() {
    require_docker!();
    let env = TestEnv::new();
    let project = env.web_project("takeover");
    let port = free_port();
    plant_lock(
        &env,
        dead_pid(),
        None,
        &this_host(),
        "deploy web --image old:1",
    );
    env.ok(&[
        "deploy",
        &project,
        "--image",
        WEB_V1,
        "--publish",
        &port.to_string(),
    ])
    .stderr_has("took over the lock of `temps deploy web --image old:1`")
    .stderr_has("bob")
    .stderr_has("interrupted");
    // The lock was released: the next operation runs without a word about it.
    let next = env.ok(&["deploy", &project, "--image", WEB_V2]);
    assert!(!next.stderr.contains("took over"), "{}", next.stderr);

    // A live pid whose process started at another time is a reused pid: taken over too.
    plant_lock(
        &env,
        std::process::id(),
        Some(1),
        &this_host(),
        "rollback 1",
    );
    env.ok(&["rollback", "1", "--yes"])
        .stderr_has("took over the lock of `temps rollback 1`");
    assert_eq!(invariants(&env, &project, port).as_deref(), Some("v1"));
}

#[test]
fn a_lock_held_on_another_host_is_presumed_alive() {
    require_docker!();
    let env = TestEnv::new();
    let project = env.web_project("remote");
    plant_lock(
        &env,
        dead_pid(),
        None,
        "build-box-7",
        "deploy web --image old:1",
    );
    let run = env
        .run(&["deploy", &project, "--image", WEB_V1])
        .code(7)
        .stderr_has("on build-box-7")
        .stderr_has("`temps deploy web --image old:1` by bob");
    assert_error_with_hint(&run);
    assert!(history(&env, &project).is_empty());
}
