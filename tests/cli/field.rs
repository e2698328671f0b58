//! What real apps showed: a no-id rollback never goes forward to the version it fled, a
//! version that cannot start or never becomes healthy costs a port-mode environment no
//! outage at all, an environment keeps the address it was given even when its first
//! deploy fails, and the messages say why.

mod domains;
mod free_text;
mod list;
mod prompts;
mod slow_start;
mod small_truths;
mod standby;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serde_json::Value;

use crate::common::*;
use crate::require_docker;

fn deploy(env: &TestEnv, project: &str, image: &str, extra: &[&str]) -> Value {
    let mut args = vec!["deploy", project, "--image", image];
    args.extend(extra);
    env.json(&args)
}

fn rollback_no_id(env: &TestEnv, project: &str) -> Run {
    env.run(&[
        "--output",
        "json",
        "rollback",
        "--project",
        project,
        "--yes",
    ])
}

#[test]
fn a_no_id_rollback_run_twice_never_goes_forward_to_the_version_it_fled() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("twice");
    let port = free_port();
    deploy(&env, &web, WEB_V1, &["--publish", &port.to_string()]); // #1
    deploy(&env, &web, WEB_V2, &[]); // #2
    deploy(&env, &web, FLAKY, &[]); // #3: the bad release
    env.ok(&["rollback", "2", "--yes", "--reason", "checkout errors"]); // #4, from #3
    assert_eq!(serving(port).as_deref(), Some("v2"));

    // The runbook's step runs again: #3 was fled and #2 runs what serves now, so the
    // most recent valid target is #1 — never #3.
    let again = rollback_no_id(&env, &web).code(0).json();
    assert_eq!(again["rolled_back_to_id"], 1, "{again}");
    assert_eq!(again["rolled_back_from_id"], 4, "{again}");
    assert_eq!(serving(port).as_deref(), Some("v1"));

    // And once more: every earlier deployment is now either fled (#4 and #2 run v2,
    // which #5 left; #3 was left by #4) or runs v1, what serves: refused, nothing written.
    // The history's rows (not `can_roll_back`, which depends on Docker answering fast).
    let rows = || -> Vec<(i64, String)> {
        match env.json(&["list", &web, "--limit", "0"]) {
            Value::Array(all) => all
                .iter()
                .map(|d| (d["id"].as_i64().unwrap_or(0), d["status"].to_string()))
                .collect(),
            other => panic!("`temps list` printed {other}"),
        }
    };
    let before = rows();
    let refused = rollback_no_id(&env, &web)
        .code(4)
        .stderr_has("without being told which")
        .stderr_has("rolled back from")
        .stderr_has("checkout errors")
        .stderr_has("same image as now");
    assert_error_with_hint(&refused);
    assert_eq!(rows(), before);
    assert_eq!(serving(port).as_deref(), Some("v1"));

    // Named explicitly, a fled deployment can still be gone back to, and the plan says
    // what it is.
    env.ok(&["rollback", "3", "--dry-run"])
        .stdout_has("note     #3: rolled back from")
        .stdout_has("by #4: \"checkout errors\"");
}

#[test]
fn the_picker_preselects_past_the_fled_version_and_says_why_each_is_marked() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("marks");
    let port = free_port();
    deploy(&env, &web, WEB_V1, &["--publish", &port.to_string()]); // #1
    deploy(&env, &web, WEB_V2, &[]); // #2
    deploy(&env, &web, FLAKY, &[]); // #3
    env.ok(&["rollback", "2", "--yes", "--reason", "checkout errors"]); // #4
    let session = env
        .terminal(
            &["rollback", "--project", &web],
            &[
                PtyStep::Expect("> #1 "),
                PtyStep::Press("\r"),
                PtyStep::Expect("Roll back production to #1?"),
                PtyStep::Press("y"),
            ],
        )
        .code(0);
    let text = &session.text;
    assert!(
        text.contains("#3")
            && text.contains("rolled back from")
            && text.contains("checkout errors"),
        "the picker does not say #3 was fled:\n{text}"
    );
    assert!(
        text.contains("same image as now"),
        "the picker does not mark #2:\n{text}"
    );
    assert_eq!(serving(port).as_deref(), Some("v1"));
}

/// A client that asks the old version for `/` as fast as it can until stopped; counts
/// good and failed answers.
struct Hammer {
    stop: Arc<AtomicBool>,
    good: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Hammer {
    fn start(port: u16) -> Hammer {
        let stop = Arc::new(AtomicBool::new(false));
        let good = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, good, failed) = (stop.clone(), good.clone(), failed.clone());
            thread::spawn(move || {
                // Bounded: a test never runs this long.
                let deadline = std::time::Instant::now() + Duration::from_secs(120);
                while !stop.load(Ordering::Relaxed) && std::time::Instant::now() < deadline {
                    match serving(port) {
                        Some(_) => good.fetch_add(1, Ordering::Relaxed),
                        None => failed.fetch_add(1, Ordering::Relaxed),
                    };
                    thread::sleep(Duration::from_millis(2));
                }
            })
        };
        Hammer {
            stop,
            good,
            failed,
            thread: Some(thread),
        }
    }

    /// Stop; returns (good, failed).
    fn finish(mut self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("the client thread");
        }
        (
            self.good.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}

#[test]
fn a_version_that_never_becomes_healthy_or_cannot_start_fails_no_request_in_port_mode() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("nooutage");
    env.ok(&["project", "update", &web, "--health-timeout", "3s"]);
    let port = free_port();
    deploy(&env, &web, WEB_V1, &["--publish", &port.to_string()]); // #1
    let old = format!("temps-{web}-production-1");
    let started = docker_inspect(&old, "{{.State.StartedAt}}");

    let hammer = Hammer::start(port);
    thread::sleep(Duration::from_millis(200));
    // Never healthy: /healthz answers 404; the failure shows the last answer.
    env.run(&["deploy", &web, "--image", NOHEALTH])
        .code(5)
        .stderr_has("GET /healthz → 404")
        .stderr_has("#1 kept serving: it was never stopped");
    // Cannot start: exits at once; its last output is shown.
    env.run(&["deploy", &web, "--image", CRASH])
        .code(5)
        .stderr_has("boom: missing DATABASE_URL")
        .stderr_has("#1 kept serving");
    thread::sleep(Duration::from_millis(200));
    let (good, failed) = hammer.finish();
    assert_eq!(failed, 0, "{failed} requests failed ({good} answered)");
    assert!(good > 20, "only {good} requests were answered");

    // The old container was never stopped or restarted, and nothing else is left.
    assert_eq!(docker_inspect(&old, "{{.State.StartedAt}}"), started);
    for id in [2, 3] {
        for name in [
            format!("temps-{web}-production-{id}"),
            format!("temps-{web}-production-{id}-check"),
        ] {
            assert_eq!(docker_inspect(&name, "{{.Name}}"), None, "{name} is left");
        }
    }
    assert_eq!(serving(port).as_deref(), Some("v1"));
}

#[test]
fn a_failed_first_deploy_keeps_its_publish_for_the_next_one() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("keeppub");
    let port = free_port();
    env.run(&[
        "deploy",
        &web,
        "--image",
        CRASH,
        "--publish",
        &format!("127.0.0.1:{port}"),
    ])
    .code(5)
    .stderr_has("nothing was serving before");
    let next = env.ok(&["deploy", &web, "--image", WEB_V1]);
    assert!(
        !next.stderr.contains("publishes no port"),
        "the remembered address was forgotten:\n{}",
        next.stderr
    );
    next.stderr_has(&format!("serving on port 127.0.0.1:{port}"));
    assert_eq!(serving(port).as_deref(), Some("v1"));
    env.ok(&["status", &web])
        .stdout_has(&format!("published  127.0.0.1:{port}"));
}

#[test]
fn a_docker_environment_that_publishes_nothing_says_so_loudly() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("nopub");
    env.ok(&["deploy", &web, "--image", WEB_V1])
        .stderr_has("publishes no port and is not in proxy mode");
    env.ok(&["status", &web]).stdout_has("published  nothing");
    // A worker with no port at all has no address to miss.
    let worker = env.project_name("worker");
    env.ok(&["project", "create", &worker]);
    let quiet = env.ok(&["deploy", &worker, "--image", QUIET]);
    assert!(
        !quiet.stderr.contains("publishes no port"),
        "{}",
        quiet.stderr
    );
}

#[test]
fn a_failed_first_proxy_mode_deploy_keeps_its_address_and_shows_why_the_app_exited() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("keepproxy");
    let listen = format!("127.0.0.1:{}", free_port());
    env.run(&["deploy", &web, "--image", CRASH, "--proxy", &listen])
        .code(5)
        .stderr_has("exited with status 3")
        .stderr_has("boom: missing DATABASE_URL");
    // No proxy runs here: the address is kept, and temps does not claim it serves.
    let deployed = env
        .ok(&["deploy", &web, "--image", WEB_V1])
        .stderr_has(&format!(
            "routed on {listen}; it serves there once `temps proxy` runs"
        ));
    assert!(
        !deployed.stderr.contains("serving on"),
        "{}",
        deployed.stderr
    );
    let status = env.json(&["status", &web]);
    assert_eq!(status[0]["proxy"]["listen"], listen.as_str(), "{status}");
}
