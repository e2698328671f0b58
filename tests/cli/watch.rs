//! The watch window: after a switch, temps watches the new deployment and rolls back by
//! itself when it goes bad (exit 5, an `automatic:` rollback in the history, the
//! environment rolled back, the previous version serving), in port mode and in proxy
//! mode; a quiet watch, a few 5xx among few requests, Ctrl-C and a person's own rollback
//! during the watch leave the new version alone.

use std::io::{BufRead, BufReader};
use std::process::{Child, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::api::server::{token, Server};
use crate::common::*;
use crate::proxy::harness::Proxy;
use crate::proxy_mode::load::{self, Load};
use crate::require_docker;

/// A project in port mode serving v1 on its own port.
fn port_mode(env: &TestEnv, hint: &str) -> (String, u16, i64) {
    let project = env.web_project(hint);
    let port = free_port();
    let publish = format!("127.0.0.1:{port}");
    let v1 = env.json(&["deploy", &project, "--image", WEB_V1, "--publish", &publish]);
    (project, port, v1["id"].as_i64().expect("an id"))
}

/// The deployments of a project, newest first.
fn history(env: &TestEnv, project: &str) -> Vec<Value> {
    env.json(&["list", project, "--limit", "0"])
        .as_array()
        .expect("a list")
        .clone()
}

/// The environment's state (`normal`, `rolled_back`) and current deployment's id.
fn state(env: &TestEnv, project: &str) -> (String, i64) {
    let status = env.json(&["status", project]);
    let production = &status[0];
    (
        production["state"].as_str().unwrap_or_default().to_string(),
        production["current"]["id"].as_i64().unwrap_or_default(),
    )
}

/// After an automatic rollback of `watched` (the JSON the command printed): it is
/// failed with an `automatic:` error, one rollback record goes back to `previous` with an
/// `automatic:` reason, serves, and the environment is rolled back.
#[track_caller]
fn assert_rolled_back_automatically(env: &TestEnv, project: &str, watched: &Value, previous: i64) {
    let id = watched["id"].as_i64().expect("the watched deployment's id");
    assert_eq!(watched["status"], "failed", "{watched:#}");
    let error = watched["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("automatic:"), "{watched:#}");
    let rollbacks: Vec<Value> = history(env, project)
        .into_iter()
        .filter(|d| d["is_rollback"] == true)
        .collect();
    assert_eq!(rollbacks.len(), 1, "{rollbacks:#?}");
    let rollback = &rollbacks[0];
    assert_eq!(rollback["rolled_back_from_id"], id, "{rollback:#}");
    assert_eq!(rollback["rolled_back_to_id"], previous, "{rollback:#}");
    assert_eq!(rollback["status"], "deployed", "{rollback:#}");
    let reason = rollback["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("automatic:"), "{rollback:#}");
    assert!(reason.contains(&format!("#{id}")), "{rollback:#}");
    let (state, current) = state(env, project);
    assert_eq!(state, "rolled_back");
    assert_eq!(current, rollback["id"].as_i64().unwrap_or_default());
}

#[test]
fn an_app_that_turns_unhealthy_is_rolled_back_automatically_in_port_mode() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port, v1) = port_mode(&env, "watchsick");
    env.ok(&["env", "set", &project, "SOUR_AFTER=3"]);
    let run = env.run(&[
        "--output", "json", "deploy", &project, "--image", SOURING, "--watch", "60s",
    ]);
    let run = run.code(5);
    assert!(
        run.stderr
            .contains("failed its health check 3 times in a row"),
        "{}",
        run.stderr
    );
    assert_error_with_hint(&run);
    let watched = run.json();
    assert_rolled_back_automatically(&env, &project, &watched, v1);
    assert_eq!(serving(port).as_deref(), Some("v1"));
    // The bad version's container is stopped and kept, as any replaced one.
    let name = watched["containers"][0].as_str().expect("a container");
    assert_eq!(
        docker_inspect(name, "{{.State.Running}}").as_deref(),
        Some("false")
    );
    // A pipeline that pushes the same build again cannot undo the rollback.
    let again = env.json(&["deploy", &project, "--image", SOURING, "--watch", "60s"]);
    assert_eq!(again["status"], "ready", "{again:#}");
    assert_eq!(serving(port).as_deref(), Some("v1"));
}

#[test]
fn a_container_that_exits_is_rolled_back_at_once_and_the_post_rollback_hook_runs() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port, v1) = port_mode(&env, "watchexit");
    // A runbook's hook: it sees the automatic rollback as any other.
    let seen = env.dir.path().join("post-rollback.seen");
    install_hook(
        &env,
        &project,
        "post-rollback",
        &format!(
            "printf '%s\\n%s\\n' \"$TEMPS_OUTCOME\" \"$TEMPS_REASON\" > '{}'",
            seen.display()
        ),
    );
    env.ok(&["env", "set", &project, "EXIT_AFTER=2"]);
    let run = env
        .run(&[
            "--output", "json", "deploy", &project, "--image", SOURING, "--watch", "60s",
        ])
        .code(5);
    assert!(
        run.stderr.contains("exited with status 0"),
        "{}",
        run.stderr
    );
    let watched = run.json();
    assert_rolled_back_automatically(&env, &project, &watched, v1);
    assert_eq!(serving(port).as_deref(), Some("v1"));
    let seen = std::fs::read_to_string(&seen).expect("the post-rollback hook ran");
    let mut lines = seen.lines();
    assert_eq!(lines.next(), Some("deployed"), "{seen}");
    assert!(
        lines
            .next()
            .unwrap_or_default()
            .starts_with("automatic: container"),
        "{seen}"
    );
}

/// The lines `KEY=VALUE` a hook wrote (see [`HOOK_ENVIRONMENT`]), as a map.
fn hook_saw(file: &std::path::Path) -> std::collections::BTreeMap<String, String> {
    let text = std::fs::read_to_string(file)
        .unwrap_or_else(|e| panic!("the hook never wrote {}: {e}", file.display()));
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A hook's script that writes what it was told into `$SEEN_FILE`.
const HOOK_ENVIRONMENT: &str = "for key in TEMPS_HOOK TEMPS_OUTCOME TEMPS_DEPLOYMENT_ID \
     TEMPS_ROLLED_BACK_FROM_ID TEMPS_ROLLED_BACK_TO_ID TEMPS_REASON TEMPS_USER; do \
     eval \"echo $key=\\$$key\"; done > 'SEEN_FILE'";

#[test]
fn the_automatic_rollback_runs_the_pre_rollback_hook_as_a_rollback_by_hand_would() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port, v1) = port_mode(&env, "watchprehook");
    let seen = env.dir.path().join("pre-rollback.seen");
    install_hook(
        &env,
        &project,
        "pre-rollback",
        &HOOK_ENVIRONMENT.replace("SEEN_FILE", &seen.to_string_lossy()),
    );
    env.ok(&["env", "set", &project, "EXIT_AFTER=2"]);
    let run = env
        .run(&[
            "--output", "json", "deploy", &project, "--image", SOURING, "--watch", "60s",
        ])
        .code(5);
    let watched = run.json();
    assert_rolled_back_automatically(&env, &project, &watched, v1);
    assert_eq!(serving(port).as_deref(), Some("v1"));
    // The hook ran before anything changed, told it is an automatic rollback of the
    // watched deployment to the one before.
    let told = hook_saw(&seen);
    let id = watched["id"].to_string();
    assert_eq!(told["TEMPS_HOOK"], "pre-rollback", "{told:?}");
    assert_eq!(told["TEMPS_OUTCOME"], "pending", "{told:?}");
    assert_eq!(told["TEMPS_DEPLOYMENT_ID"], "", "{told:?}");
    assert_eq!(told["TEMPS_ROLLED_BACK_FROM_ID"], id, "{told:?}");
    assert_eq!(told["TEMPS_ROLLED_BACK_TO_ID"], v1.to_string(), "{told:?}");
    assert!(
        told["TEMPS_REASON"].starts_with("automatic: container"),
        "{told:?}"
    );
    assert_eq!(told["TEMPS_USER"], "alice", "{told:?}");
}

#[test]
fn a_pre_rollback_hook_that_refuses_stops_the_automatic_rollback_too() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port, v1) = port_mode(&env, "watchvetohook");
    install_hook(
        &env,
        &project,
        "pre-rollback",
        "echo 'change freeze until 14:00'\nexit 3",
    );
    env.ok(&["env", "set", &project, "SOUR_AFTER=3"]);
    let run = env.run(&[
        "--output", "json", "deploy", &project, "--image", SOURING, "--watch", "60s",
    ]);
    // As for a rollback by hand: refused by the hook (exit 4), nothing recorded, its words
    // shown; the watched version still serves and nothing rolled it back.
    let run = run.code(4);
    assert_error_with_hint(&run);
    assert!(
        run.stderr
            .contains(&format!("the automatic rollback to #{v1} failed")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("change freeze until 14:00"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "", "nothing was recorded to print");
    let records = history(&env, &project);
    assert!(
        records.iter().all(|d| d["is_rollback"] != true),
        "{records:#?}"
    );
    let (state, current) = state(&env, &project);
    assert_eq!(state, "normal");
    assert_eq!(records[0]["id"], current);
    assert_eq!(records[0]["status"], "deployed");
    assert_eq!(
        serving(port).as_deref(),
        None,
        "the bad version answers 500"
    );
    assert_eq!(http_get(port, "/healthz"), None);
}

#[test]
fn a_healthy_deployment_passes_its_watch_with_exit_0() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port, _) = port_mode(&env, "watchquiet");
    env.ok(&["project", "update", &project, "--watch", "3s"]);
    let shown = env.json(&["project", "show", &project]);
    assert_eq!(shown["watch"], "3s", "{shown:#}");
    let run = env.ok(&["deploy", &project, "--image", WEB_V2]);
    assert!(run.stderr.contains("no signal"), "{}", run.stderr);
    assert_eq!(serving(port).as_deref(), Some("v2"));
    let (state, current) = state(&env, &project);
    assert_eq!(state, "normal");
    let newest = &history(&env, &project)[0];
    assert_eq!(newest["id"], current);
    assert_eq!(newest["status"], "deployed");
    // --watch 0s skips the project's watch: the command returns at once.
    let run = env.ok(&["deploy", &project, "--image", WEB_V1, "--watch", "0s"]);
    assert!(!run.stderr.contains("watch"), "{}", run.stderr);
}

#[test]
fn on_a_terminal_the_spinner_shows_the_time_left_and_the_proxy_counts() {
    require_docker!();
    let (site, v1) = ProxySite::new("watchtty", &[]);
    let listen = format!("127.0.0.1:{}", site.port);
    site.env.ok(&[
        "deploy",
        &site.project,
        "--image",
        WEB_V2,
        "--proxy",
        &listen,
    ]);
    // Requests all along, so that the spinner has answers to count.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let client = {
        let (stop, port) = (Arc::clone(&stop), site.port);
        thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let _ = load::get(port, "/");
                thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let run = site.env.terminal(
        &["rollback", &v1.to_string(), "--yes", "--watch", "4s"],
        &[PtyStep::Expect("watching #"), PtyStep::Expect("s left, ")],
    );
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    client.join().expect("the client");
    let run = run.code(0).has("requests, 0 errors").has("no signal (");
    assert!(!run.text.contains("no signal (0 requests"), "{}", run.text);
}

/// A `NAME` hook (a shell script) in the project's hooks folder, made the project's.
pub(crate) fn install_hook(env: &TestEnv, project: &str, name: &str, script: &str) {
    let hooks = env.dir.path().join("hooks");
    std::fs::create_dir_all(&hooks).expect("hooks folder");
    let hook = hooks.join(name);
    std::fs::write(&hook, format!("#!/bin/sh\n{script}\n")).expect("write the hook");
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("make the hook executable");
    env.ok(&[
        "project",
        "update",
        project,
        "--hooks",
        &hooks.to_string_lossy(),
    ]);
}

/// `temps ARGS` running in the background, its stderr collected as it comes.
struct Background {
    child: Child,
    stderr: Arc<Mutex<String>>,
    /// Reads stderr until temps closes it.
    reader: thread::JoinHandle<()>,
}

impl Background {
    fn start(env: &TestEnv, args: &[&str]) -> Background {
        let mut child = env
            .cmd()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start temps");
        let pipe = child.stderr.take().expect("stderr");
        let stderr = Arc::new(Mutex::new(String::new()));
        let log = Arc::clone(&stderr);
        let reader = thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut log = log.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Background {
            child,
            stderr,
            reader,
        }
    }

    /// Wait until the watch has begun: its first line is on stderr, said once Ctrl-C
    /// stops the watch.
    #[track_caller]
    fn watching(&self) {
        wait_for("the watch to begin", || {
            self.stderr.lock().unwrap().contains("watching #")
        });
    }

    fn finish(self) -> Run {
        let out: Output = self.child.wait_with_output().expect("temps ends");
        self.reader.join().expect("the stderr reader");
        let stderr = self.stderr.lock().unwrap().clone();
        Run {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr,
        }
    }
}

/// Wait until `check` holds (at most 60 s).
#[track_caller]
fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ctrl_c_stops_the_watch_and_the_new_version_keeps_serving() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port, _) = port_mode(&env, "watchint");
    let deploy = Background::start(
        &env,
        &["deploy", &project, "--image", WEB_V2, "--watch", "2m"],
    );
    deploy.watching();
    assert_eq!(serving(port).as_deref(), Some("v2"));
    // SAFETY: a signal to the child this test started.
    unsafe {
        libc::kill(deploy.child.id() as i32, libc::SIGINT);
    }
    let run = deploy.finish().code(0);
    assert!(run.stderr.contains("stopped watching"), "{}", run.stderr);
    assert_eq!(serving(port).as_deref(), Some("v2"));
    let (state, current) = state(&env, &project);
    assert_eq!(state, "normal");
    let newest = &history(&env, &project)[0];
    assert_eq!(
        (newest["id"].as_i64().unwrap_or_default(), &newest["status"]),
        (current, &json!("deployed"))
    );
}

#[test]
fn a_manual_rollback_during_the_watch_ends_it_without_a_second_rollback() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port, v1) = port_mode(&env, "watchhand");
    let deploy = Background::start(
        &env,
        &["deploy", &project, "--image", WEB_V2, "--watch", "2m"],
    );
    deploy.watching();
    // The lock is free during the watch: a person rolls back at once.
    let rollback = env.json(&["rollback", &v1.to_string(), "--yes", "--reason", "by hand"]);
    let run = deploy.finish().code(0);
    assert!(run.stderr.contains("the watch of"), "{}", run.stderr);
    assert_eq!(serving(port).as_deref(), Some("v1"));
    let rollbacks: Vec<Value> = history(&env, &project)
        .into_iter()
        .filter(|d| d["is_rollback"] == true)
        .collect();
    assert_eq!(rollbacks.len(), 1, "{rollbacks:#?}");
    assert_eq!(rollbacks[0]["reason"], "by hand");
    let (state, current) = state(&env, &project);
    assert_eq!(
        (state.as_str(), current),
        ("rolled_back", rollback["id"].as_i64().unwrap_or_default())
    );
    // The watched deployment was replaced by a person, not failed by the watch.
    let watched = env.json(&["show", &rollback["rolled_back_from_id"].to_string()]);
    assert_eq!(watched["status"], "completed", "{watched:#}");
}

/// A project in proxy mode on its own address with a running proxy, serving v1 with a
/// warm standby after each switch.
struct ProxySite {
    /// Dropped (killed) before the environment removes the containers.
    _proxy: Proxy,
    env: TestEnv,
    project: String,
    port: u16,
}

impl ProxySite {
    fn new(hint: &str, variables: &[&str]) -> (ProxySite, i64) {
        let env = TestEnv::new();
        let project = env.web_project(hint);
        let proxy = Proxy::start(&env);
        proxy.applied(0);
        if !variables.is_empty() {
            let mut args = vec!["env", "set", &project];
            args.extend_from_slice(variables);
            env.ok(&args);
        }
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let v1 = env.json(&[
            "deploy", &project, "--image", WEB_V1, "--proxy", &listen, "--drain", "2s",
        ]);
        let site = ProxySite {
            _proxy: proxy,
            env,
            project,
            port,
        };
        (site, v1["id"].as_i64().expect("an id"))
    }
}

#[test]
fn an_app_that_answers_500_under_load_is_rolled_back_in_proxy_mode() {
    require_docker!();
    let (site, v1) = ProxySite::new("watch500", &["SOUR_AFTER=3"]);
    let load = Load::start(site.port, "/", 2, 2);
    load.warmed_up(50);
    let run = site.env.run(&[
        "--output",
        "json",
        "deploy",
        &site.project,
        "--image",
        SOURING,
        "--watch",
        "60s",
    ]);
    let exited = load.now();
    load.wait_sent_after(exited, 10);
    let report = load.stop();
    let run = run.code(5);
    assert!(run.stderr.contains("5xx on"), "{}", run.stderr);
    let watched = run.json();
    assert_rolled_back_automatically(&site.env, &site.project, &watched, v1);
    let reason = history(&site.env, &site.project)[0]["reason"].clone();
    assert!(
        reason.as_str().unwrap_or_default().contains("requests"),
        "{reason}"
    );
    // No request was lost beyond those the bad version answered (500 "sour"); the old
    // version answers again, and every request sent after the command returned reached it.
    let lost: Vec<_> = report
        .samples
        .iter()
        .filter(|s| !matches!(&s.outcome, Ok(b) if b == "v1" || b == "souring"))
        .filter(|s| s.outcome.as_ref().err().map(String::as_str) != Some("HTTP 500: sour"))
        .collect();
    assert!(
        lost.is_empty(),
        "{} requests lost: {:#?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    assert!(report
        .samples
        .iter()
        .any(|s| s.outcome.as_ref().err().map(String::as_str) == Some("HTTP 500: sour")));
    let after: Vec<_> = report.samples.iter().filter(|s| s.sent > exited).collect();
    assert!(!after.is_empty(), "{}", report.summary());
    assert!(
        after.iter().all(|s| s.outcome.as_deref() == Ok("v1")),
        "after the rollback: {:#?}",
        &after[..after.len().min(10)]
    );
    assert_eq!(load::get(site.port, "/").as_deref(), Ok("v1"));
}

#[test]
fn a_few_500s_among_few_requests_never_fire() {
    require_docker!();
    let (site, _) = ProxySite::new("watchfew", &[]);
    let deploy = Background::start(
        &site.env,
        &["deploy", &site.project, "--image", SOURING, "--watch", "4s"],
    );
    wait_for("the new version to serve", || {
        load::get(site.port, "/").as_deref() == Ok("souring")
    });
    // 5 errors of 10 requests: half of them, but too few to mean anything.
    for _ in 0..5 {
        assert_eq!(
            load::get(site.port, "/cgi-bin/boom"),
            Err("HTTP 500: boom".to_string())
        );
    }
    for _ in 0..4 {
        assert_eq!(load::get(site.port, "/").as_deref(), Ok("souring"));
    }
    let run = deploy.finish().code(0);
    assert!(run.stderr.contains("no signal"), "{}", run.stderr);
    assert!(
        run.stderr.contains("10 requests, 5 errors"),
        "{}",
        run.stderr
    );
    assert_eq!(load::get(site.port, "/").as_deref(), Ok("souring"));
    let (state, _) = state(&site.env, &site.project);
    assert_eq!(state, "normal");
}

#[test]
fn the_api_watches_a_deploy_with_the_watch_query() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port, v1) = port_mode(&env, "watchapi");
    env.ok(&["env", "set", &project, "SOUR_AFTER=3"]);
    let deployer = token(&env, "ci", "deployer", &[]);
    let server = Server::start(&env);
    let answer = server
        .req(
            "POST",
            &format!("/api/projects/{project}/deployments?watch=60s&wait=true"),
        )
        .bearer(&deployer)
        .json(&json!({ "image": SOURING }))
        .send()
        .error(502, "health_failed");
    let body = answer.json();
    assert_rolled_back_automatically(&env, &project, &body["deployment"], v1);
    let rollback = &history(&env, &project)[0];
    assert_eq!(rollback["created_by"], "token:ci");
    assert_eq!(serving(port).as_deref(), Some("v1"));
    // A bad duration is refused before anything is recorded.
    server
        .req(
            "POST",
            &format!("/api/projects/{project}/deployments?watch=soon"),
        )
        .bearer(&deployer)
        .json(&json!({ "image": WEB_V2 }))
        .send()
        .error(400, "bad_request");
}

#[test]
fn ctrl_c_while_the_automatic_rollback_waits_for_a_held_lock_gives_it_up_and_changes_nothing() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port, v1) = port_mode(&env, "watchwait");
    // A pre-deploy hook that, once told to, holds its deploy (and so the environment's
    // lock) until the test lets it go.
    let (hold, holding, release) = (
        env.dir.path().join("hold"),
        env.dir.path().join("holding"),
        env.dir.path().join("release"),
    );
    install_hook(
        &env,
        &project,
        "pre-deploy",
        &format!(
            "[ -f '{hold}' ] || exit 0\ntouch '{holding}'\nwhile [ ! -f '{release}' ]; do sleep 0.05; done",
            hold = hold.display(),
            holding = holding.display(),
            release = release.display()
        ),
    );
    env.ok(&["project", "update", &project, "--hook-timeout", "5m"]);

    let watcher = Background::start(
        &env,
        &["deploy", &project, "--image", WEB_V2, "--watch", "5m"],
    );
    watcher.watching();
    let watched = history(&env, &project)[0].clone();
    assert_eq!(watched["status"], "deployed", "{watched:#}");

    // Someone's deploy takes the lock and stays in its hook.
    std::fs::write(&hold, "").expect("hold");
    let holder = Background::start(&env, &["deploy", &project, "--image", WEB_V1]);
    wait_for("the other deploy to hold the lock", || holding.exists());

    // The watched version goes bad: the automatic rollback has to wait for the lock.
    let container = watched["containers"][0].as_str().expect("a container");
    docker(&["kill", container]);
    wait_for("the automatic rollback to wait for the lock", || {
        watcher
            .stderr
            .lock()
            .unwrap()
            .contains("waiting for `temps deploy")
    });
    // SAFETY: a signal to the child this test started.
    unsafe {
        libc::kill(watcher.child.id() as i32, libc::SIGINT);
    }
    // As any Ctrl-C during a watch: exit 0 with warnings, the new version serving.
    let run = watcher.finish().code(0);
    assert!(
        run.stderr.contains("the automatic rollback of") && run.stderr.contains("was given up"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("stopped watching"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("temps rollback {v1}")),
        "{}",
        run.stderr
    );

    // Nothing was changed by the watch: no rollback recorded, the watched deployment
    // still the current one.
    let records = history(&env, &project);
    assert!(
        records.iter().all(|d| d["is_rollback"] != true),
        "{records:#?}"
    );
    let (state, current) = state(&env, &project);
    assert_eq!(
        (state.as_str(), current),
        ("normal", watched["id"].as_i64().unwrap_or_default())
    );

    // The other deploy goes on once its hook lets go.
    std::fs::write(&release, "").expect("release");
    holder.finish().code(0);
    assert_eq!(serving(port).as_deref(), Some("v1"));
}
