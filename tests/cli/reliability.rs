//! Never half-switched: environment locks, interrupts, crash recovery, drift, and hostile
//! input or surroundings. Every test that disturbs an operation ends by checking the
//! invariant with [`invariants`]: exactly one `deployed` deployment per environment that
//! has one, its container running and serving, nothing left `pending` or `deploying`, and
//! no running container that the history does not know as current.
//!
//! Docker going away in the middle of an operation is not tested here: the engine is
//! shared with every other test, and stopping it would break them.

mod crash;
mod docker_gone;
#[cfg(feature = "fault-points")]
mod fault_points;
mod hostile_db;
mod hostile_input;
mod interrupts;
mod locks;
mod surroundings;

use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;
use crate::require_docker;

/// How long a bounded wait polls before it gives up (never a timing assertion: only a
/// guard against a test hanging).
const PATIENCE: Duration = Duration::from_secs(90);

/// The whole history of a project, newest first.
pub(crate) fn history(env: &TestEnv, project: &str) -> Vec<Value> {
    match env.json(&["list", project, "--limit", "0"]) {
        Value::Array(all) => all,
        other => panic!("`temps list` printed {other}, not an array"),
    }
}

/// One deployment, as `temps show` prints it.
pub(crate) fn deployment(env: &TestEnv, id: i64) -> Value {
    env.json(&["show", &id.to_string()])
}

/// What `temps project show` says of an environment.
pub(crate) fn environment(env: &TestEnv, project: &str, name: &str) -> Value {
    let shown = env.json(&["project", "show", project]);
    shown["environments"]
        .as_array()
        .expect("environments")
        .iter()
        .find(|e| e["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no environment {name} in {shown}"))
}

/// The name temps gives a deployment's container.
pub(crate) fn container(project: &str, environment: &str, id: i64) -> String {
    format!("temps-{project}-{environment}-{id}")
}

/// The container a port-mode swap tries the new version in, beside the serving one.
pub(crate) fn check_container(project: &str, environment: &str, id: i64) -> String {
    format!("{}-check", container(project, environment, id))
}

pub(crate) fn is_running(name: &str) -> bool {
    docker_inspect(name, "{{.State.Running}}").as_deref() == Some("true")
}

/// A project's running containers, with the environment each is labelled with.
fn running_containers(project: &str) -> Vec<(String, String)> {
    let run = docker(&[
        "ps",
        "--filter",
        &format!("label=dev.temps.project={project}"),
        "--format",
        "{{.Names}}|{{.Label \"dev.temps.environment\"}}",
    ])
    .code(0);
    run.stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (name, env) = l.split_once('|').unwrap_or((l, ""));
            (name.trim().to_string(), env.trim().to_string())
        })
        .collect()
}

/// What serves on `port`, polling a while: a container that was just started again can
/// take a moment before Docker's proxy reaches it.
pub(crate) fn serving_soon(port: u16) -> Option<String> {
    let started = Instant::now();
    loop {
        if let Some(body) = serving(port) {
            return Some(body);
        }
        if started.elapsed() > Duration::from_secs(20) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The host port of a `publish` as `temps project show` prints it (`8080`, `127.0.0.1:8080`).
fn port_of(publish: &str) -> u16 {
    publish
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in publish {publish:?}"))
}

/// Check, through `temps list`, `temps project show` and `docker ps`, that the project is
/// not half-switched anywhere: nothing `pending` or `deploying`; per environment exactly
/// one `deployed` deployment when it has a current one (and it is the current one), none
/// otherwise; the current deployment's containers run and serve on the published port;
/// no other container of the project runs. Returns what the `production` environment
/// serves on `port` (`None` when nothing is deployed there).
#[track_caller]
pub(crate) fn invariants(env: &TestEnv, project: &str, port: u16) -> Option<String> {
    let history = history(env, project);
    let dump = || serde_json::to_string_pretty(&history).unwrap_or_default();
    for d in &history {
        let status = d["status"].as_str().expect("status");
        assert!(
            status != "pending" && status != "deploying",
            "#{} is left {status}:\n{}",
            d["id"],
            dump()
        );
    }
    let shown = env.json(&["project", "show", project]);
    let environments = shown["environments"].as_array().expect("environments");
    for d in &history {
        assert!(
            environments.iter().any(|e| e["name"] == d["environment"]),
            "#{} names an environment `project show` does not know:\n{shown}",
            d["id"]
        );
    }
    let running = running_containers(project);
    let mut current_containers = Vec::new();
    let mut production = None;
    for e in environments {
        let name = e["name"].as_str().expect("environment name");
        let deployed: Vec<&Value> = history
            .iter()
            .filter(|d| d["environment"] == name && d["status"] == "deployed")
            .collect();
        let deployed_ids: Vec<i64> = deployed.iter().filter_map(|d| d["id"].as_i64()).collect();
        let Some(current) = e["current_deployment_id"].as_i64() else {
            assert!(
                deployed.is_empty(),
                "{name} has no current deployment, yet {deployed_ids:?} are `deployed`:\n{}",
                dump()
            );
            continue;
        };
        assert_eq!(
            deployed_ids,
            vec![current],
            "{name}: exactly one `deployed` deployment, the current #{current}:\n{}",
            dump()
        );
        let containers: Vec<String> = deployed[0]["containers"]
            .as_array()
            .expect("containers")
            .iter()
            .map(|c| c.as_str().expect("container name").to_string())
            .collect();
        assert!(
            !containers.is_empty(),
            "#{current} serves {name} with no container"
        );
        for c in &containers {
            assert!(
                running.iter().any(|(r, env)| r == c && env == name),
                "{c} of the current #{current} of {name} does not run; running: {running:?}"
            );
        }
        if let Some(publish) = e["publish"].as_str() {
            let published = port_of(publish);
            let body = serving_soon(published).unwrap_or_else(|| {
                panic!("#{current} of {name} runs, but nothing answers on port {published}")
            });
            if name == "production" {
                assert_eq!(published, port, "production publishes another port");
                production = Some(body);
            }
        }
        current_containers.extend(containers);
    }
    for (name, env_name) in &running {
        assert!(
            current_containers.contains(name),
            "{name} runs on {env_name}, but the history does not know it as current:\n{}",
            dump()
        );
    }
    production
}

/// A docker project with a health path whose production environment serves `v2` as #2
/// (after `v1` as #1) on a free port.
fn serving_project(env: &TestEnv, hint: &str) -> (String, u16) {
    let project = env.web_project(hint);
    let port = free_port();
    env.ok(&[
        "deploy",
        &project,
        "--image",
        WEB_V1,
        "--publish",
        &port.to_string(),
    ]);
    env.ok(&["deploy", &project, "--image", WEB_V2]);
    assert_eq!(serving(port).as_deref(), Some("v2"));
    (project, port)
}

/// A `temps` process running in the background; killed if a test gives up on it.
struct Background {
    child: Option<Child>,
    what: String,
}

impl Background {
    fn start(env: &TestEnv, vars: &[(&str, &str)], args: &[&str]) -> Background {
        let mut cmd = env.cmd();
        for (key, value) in vars {
            cmd.env(key, value);
        }
        let child = cmd
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn temps");
        Background {
            child: Some(child),
            what: format!("temps {}", args.join(" ")),
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// `kill -SIGNAL pid`, through the `kill` utility.
    fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal} {} failed", self.pid());
    }

    /// Wait until the container runs, failing at once if temps ends before it does.
    #[track_caller]
    fn wait_for_running(&mut self, container: &str) {
        let started = Instant::now();
        loop {
            if is_running(container) {
                return;
            }
            let exited = self
                .child
                .as_mut()
                .expect("running")
                .try_wait()
                .expect("wait");
            if exited.is_some() {
                let out = self
                    .child
                    .take()
                    .expect("child")
                    .wait_with_output()
                    .expect("output");
                panic!(
                    "`{}` ended ({}) before {container} ran\n--- stdout\n{}\n--- stderr\n{}",
                    self.what,
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            assert!(
                started.elapsed() < PATIENCE,
                "gave up waiting for {container} to run"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait for the process to end.
    fn output(mut self) -> Output {
        self.child
            .take()
            .expect("running")
            .wait_with_output()
            .expect("output")
    }

    /// Wait for the process to end, expecting an exit code.
    fn finish(self) -> Run {
        let out = self.output();
        assert!(
            out.status.code().is_some(),
            "temps was killed by signal {:?}\n--- stderr\n{}",
            out.status.signal(),
            String::from_utf8_lossy(&out.stderr)
        );
        Run::from(out)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The process died by SIGKILL (a fault point, or `kill -9`).
#[track_caller]
fn assert_killed(out: &Output) {
    assert_eq!(
        out.status.signal(),
        Some(9),
        "expected death by SIGKILL, got {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The command after a crash took over the dead process's lock and cancelled its
/// deployment, saying so; the record says it was interrupted.
#[track_caller]
pub(crate) fn assert_recovered(
    env: &TestEnv,
    run: &Run,
    project: &str,
    crashed: i64,
    crashed_command: &str,
) {
    assert!(
        run.stderr
            .contains(&format!("took over the lock of `temps {crashed_command}`")),
        "no warning about taking over the lock of `temps {crashed_command}`:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!(
            "deployment #{crashed} on {project}/production was interrupted and is now cancelled"
        )),
        "no word of cancelling #{crashed}:\n{}",
        run.stderr
    );
    let record = deployment(env, crashed);
    assert_eq!(record["status"], "cancelled", "{record}");
    let error = record["error"].as_str().unwrap_or_default();
    assert!(error.contains("interrupted"), "{record}");
    assert!(record["finished_at"].is_string(), "{record}");
}
