//! Proxy mode end to end: real containers behind the real `temps proxy`, with clients
//! hammering the public address while deploy, rollback and promote switch versions.
//! No request may fail, none sent after the switch may reach the old version (also across
//! replicas), a request in flight finishes where it started and is waited for up to
//! `--drain` (or until an interrupt), a restarted proxy serves the current route, and a
//! rollback that fails its health check leaves the route alone.

mod domains;
pub mod load;
mod timeout;
mod tls;
mod warm;

use std::thread;
use std::time::{Duration, Instant};

use crate::proxy::harness::{eventually, Proxy};
use load::{Load, Report};
use serde_json::Value;

use crate::common::{docker_inspect, free_port, Run, TestEnv, SLOW_V1, SLOW_V2, WEB_V1, WEB_V2};
use crate::require_docker;

/// How many requests of each kind of client go on after the command returned: every one
/// must reach the new version.
const AFTER: usize = 10;

/// A project in proxy mode on its own address, and the `temps proxy` serving it.
struct Site {
    /// Dropped (killed) before the environment removes the containers.
    proxy: Proxy,
    env: TestEnv,
    project: String,
    port: u16,
}

impl Site {
    /// A fresh history with a web project (health path /healthz) and a running proxy.
    fn new(hint: &str) -> Site {
        let env = TestEnv::new();
        let project = env.web_project(hint);
        let proxy = Proxy::start(&env);
        // The proxy has reported once: a deploy from now on waits for it to apply.
        let state = proxy.applied(0);
        assert_eq!(state.pid, proxy.pid());
        Site {
            proxy,
            env,
            project,
            port: free_port(),
        }
    }

    fn listen(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `temps deploy` in proxy mode; returns the deployment's id.
    fn deploy(&self, image: &str) -> i64 {
        let listen = self.listen();
        let deployment = self.env.json(&[
            "deploy",
            &self.project,
            "--image",
            image,
            "--proxy",
            &listen,
            "--drain",
            "5s",
            // These tests are about the cold path: a replaced version stops once drained.
            "--standby",
            "0s",
        ]);
        assert_eq!(deployment["status"], "deployed", "{deployment:#}");
        deployment["id"].as_i64().expect("an id")
    }

    /// The environment's `temps status` document.
    fn status(&self) -> Value {
        let all = self.env.json(&["status", &self.project]);
        all[0].clone()
    }

    /// What `/` says through the proxy, now.
    fn serving(&self) -> Result<String, String> {
        load::get(self.port, "/")
    }

    /// Run `temps ARGS` while clients (two on new connections, two kept alive) hammer the
    /// proxy, from before the command until each kind has sent [`AFTER`] requests after
    /// it returned. Returns the run, what the clients saw, and when the command returned
    /// on their clock.
    fn under_load(&self, args: &[&str]) -> (Run, Report, Duration) {
        let load = Load::start(self.port, "/", 2, 2);
        load.warmed_up(100);
        let run = self.env.run(args);
        let exited = load.now();
        load.wait_sent_after(exited, AFTER);
        (run, load.stop(), exited)
    }

    /// After a switch to `current`: the history, the route and the proxy agree, the
    /// route moved on by one generation from `generation_before`, and the containers of
    /// `replaced` are stopped. Returns the route's generation.
    #[track_caller]
    fn assert_settled(&self, current: i64, replaced: &Value, generation_before: i64) -> i64 {
        let status = self.status();
        assert_eq!(status["current"]["id"], current, "{status:#}");
        let proxy = &status["proxy"];
        let generation = proxy["generation"].as_i64().expect("a generation");
        assert_eq!(generation, generation_before + 1, "{status:#}");
        assert_eq!(proxy["running"], true, "{status:#}");
        assert_eq!(proxy["applied_generation"], generation, "{status:#}");
        assert_eq!(status["drift"], serde_json::json!([]), "{status:#}");
        for name in replaced.as_array().expect("containers") {
            let name = name.as_str().expect("a name");
            assert_eq!(
                docker_inspect(name, "{{.State.Running}}").as_deref(),
                Some("false"),
                "{name} was replaced and must be stopped"
            );
        }
        generation
    }
}

/// The route in a status document: address, generation, upstreams, what the proxy applies.
fn route_of(status: &Value) -> Value {
    let proxy = &status["proxy"];
    let upstreams: Vec<&Value> = proxy["upstreams"]
        .as_array()
        .expect("upstreams")
        .iter()
        .map(|u| &u["address"])
        .collect();
    serde_json::json!({
        "listen": proxy["listen"],
        "generation": proxy["generation"],
        "applied_generation": proxy["applied_generation"],
        "upstreams": upstreams,
    })
}

fn id_of(run: &Run) -> i64 {
    run.json()["id"].as_i64().expect("an id")
}

#[test]
fn deploy_rollback_and_promote_under_load_fail_no_request_and_switch_for_good() {
    require_docker!();
    let site = Site::new("pmload");
    let first = site.deploy(WEB_V1);
    assert_eq!(site.serving().as_deref(), Ok("v1"));
    let generation = site.status()["proxy"]["generation"]
        .as_i64()
        .expect("a generation");
    let containers_of = |id: i64| site.env.json(&["show", &id.to_string()])["containers"].clone();

    let listen = site.listen();
    let (run, report, exited) = site.under_load(&[
        "-o",
        "json",
        "deploy",
        &site.project,
        "--image",
        WEB_V2,
        "--proxy",
        &listen,
        "--drain",
        "5s",
    ]);
    let second = id_of(&run.code(0));
    report.assert_switched("v1", "v2", exited);
    let generation = site.assert_settled(second, &containers_of(first), generation);

    let (run, report, exited) =
        site.under_load(&["-o", "json", "rollback", &first.to_string(), "--yes"]);
    let rollback = run.code(0).json();
    assert_eq!(rollback["is_rollback"], true, "{rollback:#}");
    report.assert_switched("v2", "v1", exited);
    let rollback = rollback["id"].as_i64().expect("an id");
    let generation = site.assert_settled(rollback, &containers_of(second), generation);
    assert_eq!(site.status()["state"], "rolled_back");

    let (run, report, exited) =
        site.under_load(&["-o", "json", "promote", &second.to_string(), "--yes"]);
    let promote = run.code(0).json();
    assert_eq!(promote["is_promote"], true, "{promote:#}");
    report.assert_switched("v1", "v2", exited);
    let promote = promote["id"].as_i64().expect("an id");
    site.assert_settled(promote, &containers_of(rollback), generation);
    assert_eq!(site.status()["state"], "normal");
}

#[test]
fn a_slow_request_in_flight_at_the_switch_finishes_on_the_old_version_and_is_waited_for() {
    require_docker!();
    let site = Site::new("pmslow");
    let first = site.deploy(SLOW_V1);
    let old = site.status()["proxy"]["upstreams"][0]["address"]
        .as_str()
        .expect("an upstream")
        .to_string();

    let load = Load::start(site.port, "/", 1, 1);
    load.warmed_up(20);
    let (port, clock) = (site.port, Instant::now() - load.now());
    // Long enough to still be running when the new version has started and is healthy.
    let slow = thread::spawn(move || {
        let sent = clock.elapsed();
        let answer = load::get(port, "/cgi-bin/slow?4");
        (answer, sent, clock.elapsed())
    });
    eventually(
        "the slow request to be in flight on the old version",
        || (site.proxy.in_flight(&old) == 1).then_some(()),
    );
    let listen = site.listen();
    let run = site.env.run(&[
        "-o",
        "json",
        "deploy",
        &site.project,
        "--image",
        SLOW_V2,
        "--proxy",
        &listen,
        "--drain",
        "10s",
    ]);
    let exited = load.now();
    load.wait_sent_after(exited, AFTER);
    let report = load.stop();
    let run = run.code(0);
    let second = id_of(&run);
    let (answer, sent, answered) = slow.join().expect("the slow request");

    assert_eq!(
        answer.as_deref(),
        Ok("v1"),
        "the slow request finishes on the version it started on"
    );
    report.assert_switched("v1", "v2", exited);
    let switched = report
        .samples
        .iter()
        .filter(|s| s.outcome.as_deref() == Ok("v2"))
        .map(|s| s.received)
        .min()
        .expect("a v2 answer");
    assert!(
        sent < switched && switched < answered,
        "the switch ({switched:?}) came while the slow request was in flight ({sent:?} to {answered:?})"
    );
    assert!(
        answered <= exited,
        "the command returned ({exited:?}) before the slow request was answered ({answered:?})"
    );
    // The drain ended because nothing was left in flight, not at its limit (10 s): how
    // soon after the answer the command returns is `benches/limits.sh`'s to measure.
    assert!(!run.stderr.contains("ended at its limit"), "{}", run.stderr);
    eprintln!(
        "slow request: sent at {sent:?}, switch at {switched:?}, answered at {answered:?}, \
         command returned at {exited:?}"
    );
    let status = site.status();
    assert_eq!(status["current"]["id"], second, "{status:#}");
    let old_container = format!("temps-{}-production-{first}", site.project);
    assert_eq!(
        docker_inspect(&old_container, "{{.State.Running}}").as_deref(),
        Some("false")
    );
}

#[test]
fn the_drain_ends_at_the_drain_time_even_with_a_request_still_in_flight() {
    require_docker!();
    let site = Site::new("pmdrain");
    let first = site.deploy(SLOW_V1);
    let old = site.status()["proxy"]["upstreams"][0]["address"]
        .as_str()
        .expect("an upstream")
        .to_string();
    let port = site.port;
    let slow = thread::spawn(move || load::get(port, "/cgi-bin/slow?20"));
    eventually(
        "the slow request to be in flight on the old version",
        || (site.proxy.in_flight(&old) == 1).then_some(()),
    );
    let listen = site.listen();
    // The drain ends at its limit, the request (20 s) still in flight, and says so.
    site.env
        .run(&[
            "deploy",
            &site.project,
            "--image",
            SLOW_V2,
            "--proxy",
            &listen,
            "--drain",
            "1s",
        ])
        .code(0)
        .stderr_has(&format!(
            "the drain of #{first} ended at its limit (1s) with 1 request(s) still in flight"
        ));
    let old_container = format!("temps-{}-production-{first}", site.project);
    assert_eq!(
        docker_inspect(&old_container, "{{.State.Running}}").as_deref(),
        Some("false"),
        "the old version is stopped after the drain time"
    );
    let answer = slow.join().expect("the slow request");
    assert!(
        answer.is_err(),
        "the request cut off by the stop does not succeed: {answer:?}"
    );
    assert_eq!(site.serving().as_deref(), Ok("v2"));
}

/// Start a proxy; the first answer it gives on `/` (polling until it listens, at most
/// 30 s). How soon it comes is `benches/limits.sh`'s to measure.
fn restart(site: &mut Site) -> Result<String, String> {
    site.proxy = Proxy::start(&site.env);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match site.serving() {
            Err(why) if why.starts_with("connect") && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(2));
            }
            answer => return answer,
        }
    }
}

#[test]
fn a_restarted_proxy_serves_the_current_route_at_once() {
    require_docker!();
    let mut site = Site::new("pmrestart");
    let first = site.deploy(WEB_V1);
    site.deploy(WEB_V2);

    let stopped = site.proxy.terminate();
    assert_eq!(stopped.code(), Some(0), "{}", site.proxy.stderr());
    assert!(site.serving().is_err(), "nothing listens once it stopped");
    // The very first answer it gives is the current route's: no 503 before it knows.
    let answer = restart(&mut site);
    assert_eq!(answer.as_deref(), Ok("v2"), "{}", site.proxy.stderr());

    // Rolled back while no proxy runs: the next proxy serves the rollback.
    assert_eq!(site.proxy.terminate().code(), Some(0));
    let rollback = site
        .env
        .run(&["-o", "json", "rollback", &first.to_string(), "--yes"])
        .code(0)
        .stderr_has("no `temps proxy` is running");
    let rollback = id_of(&rollback);
    let generation = site.status()["proxy"]["generation"].clone();
    let answer = restart(&mut site);
    assert_eq!(answer.as_deref(), Ok("v1"), "{}", site.proxy.stderr());
    let status = site.status();
    assert_eq!(status["current"]["id"], rollback, "{status:#}");
    assert_eq!(status["proxy"]["generation"], generation, "{status:#}");
    eventually("the new proxy to report the route applied", || {
        let status = site.status();
        (status["proxy"]["applied_generation"] == generation).then_some(())
    });
}

#[test]
fn a_rollback_that_fails_its_health_check_leaves_the_route_and_fails_no_request() {
    require_docker!();
    let site = Site::new("pmfail");
    let first = site.deploy(WEB_V1);
    let second = site.deploy(WEB_V2);
    site.env.ok(&[
        "project",
        "update",
        &site.project,
        "--health-path",
        "/missing",
        "--health-timeout",
        "2s",
    ]);
    let before = site.status();
    let applied = site.proxy.state().expect("a report").generation;

    let (run, report, _) = site.under_load(&["rollback", &first.to_string(), "--yes"]);
    run.code(5).stderr_has("the route was not changed");
    // Every answer came from the version serving before: none failed, none from v1.
    report.assert_no_failure("v2", "v2");
    eprintln!("failed rollback: {}", report.summary());

    let after = site.status();
    assert_eq!(
        route_of(&after),
        route_of(&before),
        "the route is unchanged"
    );
    assert_eq!(after["current"]["id"], second, "{after:#}");
    assert_eq!(after["state"], "normal", "{after:#}");
    assert_eq!(site.proxy.state().expect("a report").generation, applied);
    let failed = second + 1;
    let record = site.env.json(&["show", &failed.to_string()]);
    assert_eq!(record["status"], "failed", "{record:#}");
    assert_eq!(
        docker_inspect(
            &format!("temps-{}-production-{failed}", site.project),
            "{{.Id}}"
        ),
        None,
        "the failed rollback's container is removed"
    );
    assert_eq!(
        docker_inspect(
            &format!("temps-{}-production-{second}", site.project),
            "{{.State.Running}}"
        )
        .as_deref(),
        Some("true")
    );
    assert_eq!(site.serving().as_deref(), Ok("v2"));
}

#[test]
fn an_interrupt_during_the_drain_ends_it_early_and_the_new_version_keeps_serving() {
    require_docker!();
    let site = Site::new("pmsigint");
    let first = site.deploy(SLOW_V1);
    let status = site.status();
    let old = status["proxy"]["upstreams"][0]["address"]
        .as_str()
        .expect("an upstream")
        .to_string();
    let generation = status["proxy"]["generation"]
        .as_i64()
        .expect("a generation");
    let port = site.port;
    let slow = thread::spawn(move || load::get(port, "/cgi-bin/slow?20"));
    eventually(
        "the slow request to be in flight on the old version",
        || (site.proxy.in_flight(&old) == 1).then_some(()),
    );
    let listen = site.listen();
    let mut deploy = site
        .env
        .cmd()
        .args([
            "deploy",
            &site.project,
            "--image",
            SLOW_V2,
            "--proxy",
            &listen,
            "--drain",
            "30s",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start temps deploy");
    // Switched (the proxy applies the new route): from here on the command catches the
    // interrupt, which the drain sees as soon as it begins, if not already under way.
    site.proxy.applied(generation + 1);
    assert!(deploy.try_wait().expect("wait").is_none(), "still draining");
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(deploy.id() as libc::pid_t, libc::SIGINT) };
    let run = Run::from(deploy.wait_with_output().expect("output"));
    // The switch stands: the new version serves, the old one is stopped. The drain (30 s)
    // ended before the slow request (20 s) could finish: it was cut off below.
    run.code(0).stderr_has("draining stopped early");
    assert_eq!(site.serving().as_deref(), Ok("v2"));
    let old_container = format!("temps-{}-production-{first}", site.project);
    assert_eq!(
        docker_inspect(&old_container, "{{.State.Running}}").as_deref(),
        Some("false")
    );
    let answer = slow.join().expect("the slow request");
    assert!(answer.is_err(), "cut off by the stop: {answer:?}");
}

#[test]
fn a_rollback_across_two_replicas_under_load_fails_no_request() {
    require_docker!();
    let site = Site::new("pmreplicas");
    let listen = site.listen();
    let deploy = |image: &str| {
        let run = site.env.ok(&[
            "-o",
            "json",
            "deploy",
            &site.project,
            "--image",
            image,
            "--proxy",
            &listen,
            "--replicas",
            "2",
            "--drain",
            "5s",
            "--standby",
            "0s",
        ]);
        id_of(&run)
    };
    let first = deploy(WEB_V1);
    deploy(WEB_V2);
    let replaced = site.status()["current"]["containers"].clone();
    assert_eq!(replaced.as_array().map(Vec::len), Some(2), "{replaced}");

    let (run, report, exited) =
        site.under_load(&["-o", "json", "rollback", &first.to_string(), "--yes"]);
    let rollback = id_of(&run.code(0));
    report.assert_switched("v2", "v1", exited);
    let status = site.status();
    assert_eq!(
        status["proxy"]["upstreams"].as_array().map(Vec::len),
        Some(2),
        "both replicas are routed: {status:#}"
    );
    assert_eq!(status["current"]["id"], rollback, "{status:#}");
    for name in status["current"]["containers"]
        .as_array()
        .expect("containers")
    {
        let name = name.as_str().expect("a name");
        assert_eq!(
            docker_inspect(name, "{{.State.Running}}").as_deref(),
            Some("true"),
            "{name}"
        );
    }
    for name in replaced.as_array().expect("containers") {
        let name = name.as_str().expect("a name");
        assert_eq!(
            docker_inspect(name, "{{.State.Running}}").as_deref(),
            Some("false"),
            "{name} was replaced"
        );
    }
}
