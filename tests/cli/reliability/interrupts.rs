//! SIGINT and SIGTERM during a swap: the new container goes, the previous version serves
//! (it was never stopped while the new one was tried beside it, or it is started again
//! once any stop the engine has under way is over), the deployment is `cancelled` with
//! what was restored, and temps exits 130. After a proxy-mode switch an interrupt cannot
//! undo it, and says so.

use super::*;

#[test]
fn sigint_during_the_health_check_of_a_deploy_leaves_the_previous_version_serving() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port) = serving_project(&env, "sigint");
    env.ok(&["project", "update", &project, "--health-timeout", "10m"]);
    let mut deploy = Background::start(
        &env,
        &[],
        &["--output", "json", "deploy", &project, "--image", NOHEALTH],
    );
    let new = container(&project, "production", 3);
    let check = check_container(&project, "production", 3);
    deploy.wait_for_running(&check);
    let started = docker_inspect(
        &container(&project, "production", 2),
        "{{.State.StartedAt}}",
    );
    deploy.signal("INT");
    let run = deploy
        .finish()
        .code(130)
        .stderr_has("deployment #3 was cancelled: interrupted by SIGINT")
        .stderr_has("#2 kept serving: it was never stopped");
    assert_error_with_hint(&run);

    // The failure's document on stdout is the cancelled record, as `temps show` has it.
    let printed = run.json();
    assert_eq!(printed["id"], 3);
    assert_eq!(printed["status"], "cancelled");
    let record = deployment(&env, 3);
    assert_eq!(record["status"], "cancelled");
    let error = record["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("SIGINT") && error.contains("#2 kept serving"),
        "{record}"
    );
    assert!(record["finished_at"].is_string(), "{record}");

    assert_eq!(docker_inspect(&new, "{{.Name}}"), None, "{new} is left");
    assert_eq!(docker_inspect(&check, "{{.Name}}"), None, "{check} is left");
    // Never restarted: the same start as before the deploy.
    assert_eq!(
        docker_inspect(
            &container(&project, "production", 2),
            "{{.State.StartedAt}}"
        ),
        started
    );
    assert_eq!(
        environment(&env, &project, "production")["current_deployment_id"],
        2
    );
    assert_eq!(invariants(&env, &project, port).as_deref(), Some("v2"));
}

#[test]
fn sigterm_during_the_health_check_of_a_rollback_leaves_the_previous_version_serving() {
    require_docker!();
    let env = TestEnv::new();
    // Without a health path, the never-healthy image passes on TCP: #1 serves.
    let project = env.project_name("sigterm");
    env.ok(&["project", "create", &project]);
    let port = free_port();
    env.ok(&[
        "deploy",
        &project,
        "--image",
        NOHEALTH,
        "--publish",
        &port.to_string(),
    ]);
    env.ok(&["deploy", &project, "--image", WEB_V1]);
    // With one, rolling back to #1 waits for a health check that never passes.
    env.ok(&["project", "update", &project, "--health-path", "/healthz"]);
    let mut rollback = Background::start(
        &env,
        &[],
        &["rollback", "1", "--yes", "--health-timeout", "10m"],
    );
    let new = container(&project, "production", 3);
    rollback.wait_for_running(&check_container(&project, "production", 3));
    rollback.signal("TERM");
    let run = rollback
        .finish()
        .code(130)
        .stderr_has("interrupted by SIGTERM")
        .stderr_has("#2 kept serving")
        .stderr_has("`temps rollback 1` tries again");
    assert_error_with_hint(&run);

    let record = deployment(&env, 3);
    assert_eq!(record["status"], "cancelled");
    assert_eq!(record["is_rollback"], true);
    assert_eq!(record["rolled_back_to_id"], 1);
    let error = record["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("SIGTERM") && error.contains("#2 kept serving"),
        "{record}"
    );
    assert_eq!(docker_inspect(&new, "{{.Name}}"), None, "{new} is left");
    // The environment was not left rolled back.
    let production = environment(&env, &project, "production");
    assert_eq!(production["state"], "normal");
    assert_eq!(production["current_deployment_id"], 2);
    assert_eq!(invariants(&env, &project, port).as_deref(), Some("v1"));
}

#[test]
fn sigint_during_a_first_deploy_leaves_nothing_running() {
    require_docker!();
    let env = TestEnv::new();
    let project = env.web_project("firstint");
    env.ok(&["project", "update", &project, "--health-timeout", "10m"]);
    let port = free_port();
    let mut deploy = Background::start(
        &env,
        &[],
        &[
            "deploy",
            &project,
            "--image",
            NOHEALTH,
            "--publish",
            &port.to_string(),
        ],
    );
    let new = container(&project, "production", 1);
    deploy.wait_for_running(&new);
    deploy.signal("INT");
    deploy
        .finish()
        .code(130)
        .stderr_has("nothing was serving before");
    let record = deployment(&env, 1);
    assert_eq!(record["status"], "cancelled");
    assert_eq!(docker_inspect(&new, "{{.Name}}"), None, "{new} is left");
    assert_eq!(invariants(&env, &project, port), None);
    assert!(running_containers(&project).is_empty());
}

/// Docker's `kill`, `die` and `start` events for a running `container`, as they come
/// (`kill 15`, `kill 9`, `die`, `start`); the watcher ends with the test.
struct ContainerEvents {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl ContainerEvents {
    /// Watch `container` (running), returning once the engine sends its events: `docker
    /// events` says nothing when it has subscribed, so the container's `top` (an event
    /// of its own, harmless) is asked for until its event comes through.
    fn watch(container: &str) -> ContainerEvents {
        let mut child = std::process::Command::new("docker")
            .args([
                "events",
                "--filter",
                &format!("container={container}"),
                "--filter",
                "event=kill",
                "--filter",
                "event=die",
                "--filter",
                "event=start",
                "--filter",
                "event=top",
                "--format",
                "{{.Action}} {{index .Actor.Attributes \"signal\"}}",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker events");
        let stdout = child.stdout.take().expect("stdout");
        let (send, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if send.send(line.trim().to_string()).is_err() {
                    break;
                }
            }
        });
        let events = ContainerEvents { child, lines };
        let started = Instant::now();
        loop {
            docker(&["top", container]).code(0);
            match events.lines.recv_timeout(Duration::from_secs(1)) {
                Ok(line) if line == "top" => return events,
                Ok(line) => panic!("an event of {container} before the watch began: {line}"),
                Err(_) => assert!(
                    started.elapsed() < PATIENCE,
                    "`docker events` never reported {container}'s top"
                ),
            }
        }
    }

    /// The next event of the container (a `top` asked for while subscribing aside).
    fn next(&self) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(PATIENCE)
                .expect("no event from the engine");
            if line != "top" {
                return line;
            }
        }
    }

    /// The events up to and with the first `last`.
    fn until(&self, last: &str) -> Vec<String> {
        let mut seen = Vec::new();
        while seen.last().map(String::as_str) != Some(last) {
            seen.push(self.next());
        }
        seen
    }
}

impl Drop for ContainerEvents {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A web project whose production serves the SIGTERM-ignoring app as #1 on a free port,
/// with `stop_timeout`.
fn stubborn_serving(env: &TestEnv, hint: &str, stop_timeout: &str) -> (String, u16) {
    let project = env.web_project(hint);
    env.ok(&[
        "project",
        "update",
        &project,
        "--stop-timeout",
        stop_timeout,
    ]);
    let port = free_port();
    env.ok(&[
        "deploy",
        &project,
        "--image",
        STUBBORN,
        "--publish",
        &port.to_string(),
    ]);
    (project, port)
}

#[test]
fn sigint_during_a_slow_stop_waits_for_it_and_the_old_version_serves_past_its_stop_timeout() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port) = stubborn_serving(&env, "slowstop", "3s");
    let old = container(&project, "production", 1);
    let events = ContainerEvents::watch(&old);
    let deploy = Background::start(&env, &[], &["deploy", &project, "--image", WEB_V1]);
    // The engine's stop of #1 begins with SIGTERM; #1 ignores it and runs until the kill
    // at 3 s. The interrupt comes in the middle of it.
    let first = events.next();
    assert_eq!(first, "kill 15", "the stop began with {first}, not SIGTERM");
    deploy.signal("INT");
    let run = deploy
        .finish()
        .code(130)
        .stderr_has("deployment #2 was cancelled: interrupted by SIGINT")
        .stderr_has("#1 is serving again");
    assert_error_with_hint(&run);
    // temps started #1 again only once the engine's stop was over (the kill at the stop
    // timeout, #1 dead): a start while the stop was under way would have been undone by
    // that kill. (Waiting for the stop, temps may ask for it again: another SIGTERM.)
    let seen = events.until("start");
    let died = seen.iter().position(|e| e == "die");
    assert!(
        died.is_some_and(|died| died + 2 == seen.len() && seen[..died].contains(&"kill 9".into())),
        "the engine's events for {old} after its SIGTERM: {seen:?}"
    );
    let record = deployment(&env, 2);
    assert_eq!(record["status"], "cancelled");
    assert!(
        record["error"]
            .as_str()
            .unwrap_or_default()
            .contains("#1 restored"),
        "{record}"
    );

    // Past the stop timeout, what temps reported serving still serves.
    assert!(is_running(&old), "{old} does not run");
    assert_eq!(serving(port).as_deref(), Some("stubborn"));
    assert_eq!(
        invariants(&env, &project, port).as_deref(),
        Some("stubborn")
    );
}

#[test]
fn an_app_that_ignores_sigterm_is_named_with_the_fix() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port) = stubborn_serving(&env, "ignores", "2s");
    env.ok(&["deploy", &project, "--image", WEB_V1])
        .stderr_has(&format!(
            "{} ignored SIGTERM and was killed after 2s",
            container(&project, "production", 1)
        ))
        .stderr_has("STOPSIGNAL")
        .stderr_has("--stop-timeout");
    // An app that stops on SIGTERM gets no such word.
    let quiet = env.ok(&["deploy", &project, "--image", WEB_V2]);
    assert!(
        !quiet.stderr.contains("ignored SIGTERM"),
        "{}",
        quiet.stderr
    );
    assert_eq!(invariants(&env, &project, port).as_deref(), Some("v2"));
}

#[test]
fn sigint_after_a_proxy_mode_switch_says_it_cannot_undo_it() {
    require_docker!();
    let env = TestEnv::new();
    let project = env.web_project("afterswitch");
    env.ok(&["project", "update", &project, "--stop-timeout", "3s"]);
    let listen = format!("127.0.0.1:{}", free_port());
    env.ok(&[
        "deploy",
        &project,
        "--image",
        STUBBORN,
        "--proxy",
        &listen,
        "--standby",
        "0s",
    ]);
    let old = container(&project, "production", 1);
    let mut deploy = Background::start(&env, &[], &["deploy", &project, "--image", WEB_V1]);
    deploy.wait_for_running(&container(&project, "production", 2));
    // Switched: #2 serves in the history while #1 is still being stopped (3 s).
    let started = Instant::now();
    while deployment(&env, 2)["status"] != "deployed" {
        assert!(started.elapsed() < PATIENCE, "#2 never switched");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        is_running(&old),
        "{old} stopped before the interrupt could be sent"
    );
    deploy.signal("INT");
    deploy
        .finish()
        .code(0)
        .stderr_has("SIGINT after the switch")
        .stderr_has("cannot undo that")
        .stderr_has("`temps rollback 1` does");
    assert_eq!(deployment(&env, 2)["status"], "deployed");
    assert!(!is_running(&old), "{old} still runs");
}
