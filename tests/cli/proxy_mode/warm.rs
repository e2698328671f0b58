//! Warm standby end to end: after a switch the replaced version keeps running with no
//! traffic until its `warm_until`; a rollback to it then only switches the route (the
//! warm path), under load, without starting a container; changed variables, an expired
//! standby or a dead warm container send it down the cold path instead; and a crash in
//! the middle of a warm switch leaves one deployment serving and the standby usable.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::Site;
use crate::common::{docker, docker_inspect, TestEnv, WEB_V1, WEB_V2};
use crate::proxy::harness::Proxy;
use crate::require_docker;
use temps::clock::now_ms;
use temps::store::Store;

impl Site {
    /// `temps deploy` in proxy mode with this standby; returns the deployment.
    fn deploy_warm(&self, image: &str, standby: &str) -> Value {
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
            "--standby",
            standby,
        ]);
        assert_eq!(deployment["status"], "deployed", "{deployment:#}");
        deployment
    }

    fn show(&self, id: i64) -> Value {
        self.env.json(&["show", &id.to_string()])
    }
}

fn running(name: &str) -> bool {
    docker_inspect(name, "{{.State.Running}}").as_deref() == Some("true")
}

fn names(containers: &Value) -> Vec<String> {
    containers
        .as_array()
        .expect("containers")
        .iter()
        .map(|c| c.as_str().expect("a name").to_string())
        .collect()
}

/// The ids of the running containers of a project, sorted.
fn running_ids(project: &str) -> Vec<String> {
    let run = docker(&[
        "ps",
        "-q",
        "--no-trunc",
        "--filter",
        &format!("label=dev.temps.project={project}"),
    ]);
    let mut ids: Vec<String> = run.stdout.lines().map(str::to_string).collect();
    ids.sort();
    ids
}

#[test]
fn a_replaced_version_stays_warm_and_the_next_operation_stops_it_once_expired() {
    require_docker!();
    let site = Site::new("wexpire");
    let first = site.deploy_warm(WEB_V1, "2s");
    let old = names(&first["containers"]);
    let second = site.deploy_warm(WEB_V2, "2s");
    let first = site.show(first["id"].as_i64().expect("an id"));
    assert!(first["warm_until"].is_string(), "{first:#}");
    assert!(second["warm_until"].is_null(), "{second:#}");
    assert!(old.iter().all(|c| running(c)), "{old:?} stay warm");
    let status = site.status();
    let warm: Vec<&Value> = status["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .filter(|c| c["warm_until"].is_string())
        .collect();
    assert_eq!(warm.len(), 1, "{status:#}");
    assert_eq!(status["drift"], serde_json::json!([]), "{status:#}");
    let listed = site.env.ok(&["list", &site.project]);
    assert!(listed.stdout.contains("warm until"), "{}", listed.stdout);

    // Until its standby has ended (the clock past its `warm_until`, as the history has it).
    let until = Store::open(&site.env.db())
        .expect("open the history")
        .expect_deployment(first["id"].as_i64().expect("an id"))
        .expect("the first deployment")
        .warm_until
        .expect("a warm_until");
    let deadline = Instant::now() + Duration::from_secs(30);
    while now_ms() <= until {
        assert!(Instant::now() < deadline, "the standby never ended");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The proxy checks only every 30 s: the next operation's reconciliation stops it.
    assert!(
        old.iter().all(|c| running(c)),
        "nothing stopped {old:?} yet"
    );
    site.env.ok(&["deploy", &site.project, "--image", WEB_V2]);
    assert!(old.iter().all(|c| !running(c)), "{old:?} stopped");
    let listed = site.env.ok(&["list", &site.project]);
    assert_eq!(
        listed.stdout.matches("warm until").count(),
        1,
        "{}",
        listed.stdout
    );
}

#[test]
fn a_running_proxy_stops_an_expired_standby_by_itself() {
    require_docker!();
    let env = TestEnv::new();
    let project = env.web_project("wproxy");
    let proxy = Proxy::start_with_env(&env, &[], &[("TEMPS_STANDBY_CHECK_MS", "200")]);
    proxy.applied(0);
    let site = Site {
        proxy,
        env,
        project,
        port: crate::common::free_port(),
    };
    let first = site.deploy_warm(WEB_V1, "1s");
    let old = names(&first["containers"]);
    site.deploy_warm(WEB_V2, "1s");
    let started = Instant::now();
    while old.iter().any(|c| running(c)) {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the proxy did not stop {old:?}; its log:\n{}",
            site.proxy.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    site.proxy.logged("its standby ended");
    let status = site.status();
    assert_eq!(status["drift"], serde_json::json!([]), "{status:#}");
}

/// `temps -o json ARGS` in proxy mode: exit 0, and the command never found the proxy
/// missing (it would say so and go on: a proxy that never applies the route is not
/// "running" to the waiting side after its timeout).
fn switched(site: &Site, args: &[&str]) -> Value {
    let mut full = vec!["-o", "json"];
    full.extend_from_slice(args);
    let run = site.env.run(&full).code(0);
    assert!(
        !run.stderr.contains("no `temps proxy` is running"),
        "{}\n--- proxy\n{}",
        run.stderr,
        site.proxy.stderr()
    );
    run.json()
}

#[test]
fn a_switch_wakes_the_proxy_instead_of_waiting_for_its_poll() {
    require_docker!();
    let env = TestEnv::new();
    let project = env.web_project("wwake");
    // Polling once an hour: only the switch's wake-up can make this proxy see a route
    // change while the test runs.
    let proxy = Proxy::start_with(&env, &["--poll-interval", "1h"]);
    proxy.applied(0);
    let mut site = Site {
        proxy,
        env,
        project,
        port: crate::common::free_port(),
    };
    let listen = site.listen();
    let deploy = |site: &Site, image: &str| {
        switched(
            site,
            &[
                "deploy",
                &site.project,
                "--image",
                image,
                "--proxy",
                &listen,
                "--drain",
                "5s",
                "--standby",
                "30m",
            ],
        )
    };
    let first = deploy(&site, WEB_V1);
    assert_eq!(site.serving().as_deref(), Ok("v1"));
    deploy(&site, WEB_V2);
    assert_eq!(site.serving().as_deref(), Ok("v2"));
    let first_id = first["id"].as_i64().expect("an id").to_string();
    let rollback = switched(&site, &["rollback", &first_id, "--yes"]);
    assert_eq!(
        rollback["containers"], first["containers"],
        "the warm path: {rollback:#}"
    );
    assert_eq!(site.serving().as_deref(), Ok("v1"), "answered at once");

    // Killed, the proxy leaves its socket file behind; the next one takes its place and
    // is woken the same way.
    let socket = {
        let mut name = std::fs::canonicalize(site.env.db())
            .expect("the history")
            .into_os_string();
        name.push("-proxy.sock");
        std::path::PathBuf::from(name)
    };
    assert!(socket.exists(), "{} while the proxy runs", socket.display());
    drop(std::mem::replace(
        &mut site.proxy,
        Proxy::start_with(&site.env, &["--poll-interval", "1h"]),
    ));
    let restarted = &site.proxy;
    // Its first look at the routes needs no wake-up.
    restarted.logged("applied generation");
    assert_eq!(site.serving().as_deref(), Ok("v1"));
    let second_id = (first["id"].as_i64().expect("an id") + 1).to_string();
    let promote = switched(&site, &["promote", &second_id, "--yes"]);
    assert_eq!(site.serving().as_deref(), Ok("v2"), "{promote:#}");
    assert!(
        !site.proxy.stderr().contains("no wake-up socket"),
        "{}",
        site.proxy.stderr()
    );

    // Stopped cleanly, the proxy removes its socket.
    let status = site.proxy.terminate();
    assert!(status.success(), "{status:?}");
    assert!(!socket.exists(), "{} removed on exit", socket.display());
}

/// A site serving v2 through the proxy, with v1 (returned) replaced by it and warm.
fn v1_warm_behind_v2(hint: &str) -> (Site, Value) {
    let site = Site::new(hint);
    let first = site.deploy_warm(WEB_V1, "30m");
    site.deploy_warm(WEB_V2, "30m");
    assert_eq!(site.serving().as_deref(), Ok("v2"));
    let first = site.show(first["id"].as_i64().expect("an id"));
    assert!(first["warm_until"].is_string(), "{first:#}");
    (site, first)
}

/// The dry-run plan of a rollback to `id`.
fn plan(site: &Site, id: i64) -> Value {
    site.env.json(&["rollback", &id.to_string(), "--dry-run"])
}

#[test]
fn a_rollback_to_a_warm_standby_under_load_only_switches_the_route() {
    require_docker!();
    let (site, first) = v1_warm_behind_v2("wroll");
    let first_id = first["id"].as_i64().expect("an id");
    let plan = plan(&site, first_id);
    assert_eq!(plan["path"], "warm", "{plan:#}");
    assert!(
        plan["path_reason"]
            .as_str()
            .is_some_and(|r| r.contains("runs warm")),
        "{plan:#}"
    );
    site.env
        .ok(&["rollback", &first_id.to_string(), "--dry-run"])
        .stdout_has("path     warm: #");
    let before = running_ids(&site.project);
    assert_eq!(before.len(), 2, "v1 warm and v2 serving: {before:?}");

    let (run, report, exited) =
        site.under_load(&["-o", "json", "rollback", &first_id.to_string(), "--yes"]);
    let rollback = run.code(0).json();
    report.assert_switched("v2", "v1", exited);
    assert_eq!(rollback["containers"], first["containers"], "{rollback:#}");
    assert!(rollback["warm_until"].is_null(), "{rollback:#}");
    assert_eq!(
        running_ids(&site.project),
        before,
        "no container started or stopped: v2 stays warm"
    );
    let status = site.status();
    assert_eq!(status["current"]["id"], rollback["id"], "{status:#}");
    assert_eq!(status["state"], "rolled_back", "{status:#}");
    assert_eq!(status["drift"], serde_json::json!([]), "{status:#}");
    let second = site.show(first_id + 1);
    assert!(
        second["warm_until"].is_string(),
        "v2 is warm now: {second:#}"
    );

    // And back again: the version just left is warm in turn.
    let (run, report, exited) = site.under_load(&[
        "-o",
        "json",
        "promote",
        &(first_id + 1).to_string(),
        "--yes",
    ]);
    let promote = run.code(0).json();
    report.assert_switched("v1", "v2", exited);
    assert_eq!(promote["containers"], second["containers"], "{promote:#}");
    assert_eq!(running_ids(&site.project), before);
}

#[test]
fn changed_variables_send_a_rollback_down_the_cold_path() {
    require_docker!();
    let (site, first) = v1_warm_behind_v2("wvars");
    let first_id = first["id"].as_i64().expect("an id");
    site.env
        .ok(&["env", "set", &site.project, "GREETING=hello"]);
    let plan = plan(&site, first_id);
    assert_eq!(plan["path"], "cold", "{plan:#}");
    assert!(
        plan["path_reason"]
            .as_str()
            .is_some_and(|r| r.contains("variables changed") && r.contains("GREETING")),
        "{plan:#}"
    );
    let (run, report, exited) =
        site.under_load(&["-o", "json", "rollback", &first_id.to_string(), "--yes"]);
    let rollback = run.code(0).json();
    report.assert_switched("v2", "v1", exited);
    assert_ne!(rollback["containers"], first["containers"], "{rollback:#}");
    // The standby it did not use is over, and its containers are stopped.
    for name in names(&first["containers"]) {
        assert!(!running(&name), "{name}");
    }
    let status = site.status();
    assert_eq!(status["drift"], serde_json::json!([]), "{status:#}");

    // Back to v2: cold again (it ran without GREETING), and the cold v1 stays warm. Its
    // containers run #1's image with the current variables: the next rollback to #1
    // takes them.
    let second = first_id + 1;
    assert_eq!(self::plan(&site, second)["path"], "cold");
    site.env.ok(&["rollback", &second.to_string(), "--yes"]);
    let warm = self::plan(&site, first_id);
    assert_eq!(warm["path"], "warm", "{warm:#}");
    let again = site.env.json(&["rollback", &first_id.to_string(), "--yes"]);
    assert_eq!(again["containers"], rollback["containers"], "{again:#}");
    assert_eq!(site.serving().as_deref(), Ok("v1"));
}

#[test]
fn a_killed_warm_container_means_the_cold_path_with_no_outage() {
    require_docker!();
    let (site, first) = v1_warm_behind_v2("wkilled");
    let first_id = first["id"].as_i64().expect("an id");
    for name in names(&first["containers"]) {
        docker(&["kill", &name]);
    }
    let plan = plan(&site, first_id);
    assert_eq!(plan["path"], "cold", "{plan:#}");
    assert!(
        plan["path_reason"]
            .as_str()
            .is_some_and(|r| r.contains("does not run")),
        "{plan:#}"
    );
    let (run, report, exited) =
        site.under_load(&["-o", "json", "rollback", &first_id.to_string(), "--yes"]);
    let rollback = run.code(0).json();
    report.assert_switched("v2", "v1", exited);
    assert_ne!(rollback["containers"], first["containers"], "{rollback:#}");
}

#[test]
fn a_warm_container_that_fails_its_probe_falls_back_to_the_cold_path_with_no_outage() {
    require_docker!();
    let (site, first) = v1_warm_behind_v2("wpaused");
    let first_id = first["id"].as_i64().expect("an id");
    // Paused, it still counts as running, and answers no request: its probe times out.
    for name in names(&first["containers"]) {
        docker(&["pause", &name]);
    }
    assert_eq!(plan(&site, first_id)["path"], "warm");
    let (run, report, exited) =
        site.under_load(&["-o", "json", "rollback", &first_id.to_string(), "--yes"]);
    let run = run.code(0);
    assert!(
        run.stderr.contains("taking the cold path"),
        "{}",
        run.stderr
    );
    let rollback = run.json();
    report.assert_switched("v2", "v1", exited);
    assert_ne!(rollback["containers"], first["containers"], "{rollback:#}");
    let status = site.status();
    assert_eq!(status["current"]["id"], rollback["id"], "{status:#}");
}

#[test]
#[cfg(feature = "fault-points")]
fn a_kill_in_the_middle_of_a_warm_switch_leaves_one_version_serving_and_the_standby_usable() {
    require_docker!();
    let (site, first) = v1_warm_behind_v2("wcrash");
    let first_id = first["id"].as_i64().expect("an id");
    let before = running_ids(&site.project);

    // Killed after the probes, before the switch: v2 serves, v1 stays warm.
    site.env
        .run_with(
            &[("TEMPS_FAULT", "warm-probed")],
            &["rollback", &first_id.to_string(), "--yes"],
        )
        .code(-1);
    assert_eq!(site.serving().as_deref(), Ok("v2"));
    assert_eq!(running_ids(&site.project), before, "nothing was removed");
    // The next operation recovers and still finds v1 warm.
    let rollback = site.env.json(&["rollback", &first_id.to_string(), "--yes"]);
    assert_eq!(rollback["containers"], first["containers"], "{rollback:#}");
    assert_eq!(site.serving().as_deref(), Ok("v1"));
    let cancelled = site.show(rollback["id"].as_i64().expect("an id") - 1);
    assert_eq!(cancelled["status"], "cancelled", "{cancelled:#}");
    assert_eq!(running_ids(&site.project), before);

    // Killed right after the switch: v2's switch is made, v1 is warm.
    let second = first_id + 1;
    site.env
        .run_with(
            &[("TEMPS_FAULT", "switched")],
            &["promote", &second.to_string(), "--yes"],
        )
        .code(-1);
    // The route is written; the proxy applies it within its poll interval.
    crate::proxy::harness::eventually("the proxy to serve v2", || {
        (site.serving().as_deref() == Ok("v2")).then_some(())
    });
    let status = site.status();
    assert_eq!(status["drift"], serde_json::json!([]), "{status:#}");
    assert_eq!(running_ids(&site.project), before);
    // And the standby left is usable: back to v1 the warm way.
    assert_eq!(plan(&site, first_id)["path"], "warm");
    let again = site.env.json(&["rollback", &first_id.to_string(), "--yes"]);
    assert_eq!(again["containers"], first["containers"], "{again:#}");
    assert_eq!(site.serving().as_deref(), Ok("v1"));
    assert_eq!(running_ids(&site.project), before);
}

#[test]
fn prune_keeps_what_a_warm_rollback_serves_from_and_ends_the_standby_it_removes() {
    require_docker!();
    let (site, first) = v1_warm_behind_v2("wprune");
    let first_id = first["id"].as_i64().expect("an id");
    let rollback = site.env.json(&["rollback", &first_id.to_string(), "--yes"]);
    assert_eq!(rollback["containers"], first["containers"], "{rollback:#}");
    let second = site.show(first_id + 1);
    assert!(second["warm_until"].is_string(), "{second:#}");

    site.env
        .ok(&["prune", &site.project, "--keep", "1", "--yes"]);
    assert_eq!(site.serving().as_deref(), Ok("v1"));
    for name in names(&first["containers"]) {
        assert!(running(&name), "{name} serves the rollback and must stay");
    }
    let pin = format!("temps/{}:{first_id}", site.project);
    assert!(
        docker(&["image", "inspect", &pin]).status == 0,
        "{pin} pins the image the rollback runs"
    );
    // The warm v2 was pruned: its standby is over.
    for name in names(&second["containers"]) {
        assert!(
            docker_inspect(&name, "{{.Name}}").is_none(),
            "{name} removed"
        );
    }
    let listed = site.env.ok(&["list", &site.project]);
    assert!(!listed.stdout.contains("warm until"), "{}", listed.stdout);
    let status = site.status();
    assert_eq!(status["drift"], serde_json::json!([]), "{status:#}");
}
