//! The Docker engine going away in the middle of a swap. The shared engine keeps
//! running: temps talks to it through a relay (`tests/docker_relay.py`) that the test
//! cuts while the new version's health is being waited for.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use super::*;

/// A relay to the real engine on a socket of the test's own; `cut` makes it vanish.
struct Relay {
    child: std::process::Child,
    socket: std::path::PathBuf,
}

impl Relay {
    fn start(env: &TestEnv) -> Relay {
        let socket = env.dir.path().join("engine.sock");
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/docker_relay.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(&socket)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the relay");
        let mut ready = String::new();
        let stdout = child.stdout.take().expect("relay stdout");
        BufReader::new(stdout)
            .read_line(&mut ready)
            .expect("relay says ready");
        assert_eq!(ready.trim(), "ready");
        Relay { child, socket }
    }

    fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    fn cut(&mut self) {
        let _ = Command::new("kill")
            .arg("-USR1")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn docker_going_away_mid_swap_exits_6_and_the_next_operation_puts_things_right() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port) = serving_project(&env, "gone");
    env.ok(&["project", "update", &project, "--health-timeout", "10m"]);
    let mut relay = Relay::start(&env);
    let host = relay.docker_host();
    let mut deploy = Background::start(
        &env,
        &[("DOCKER_HOST", host.as_str())],
        &["deploy", &project, "--image", NOHEALTH],
    );
    let new = check_container(&project, "production", 3);
    deploy.wait_for_running(&new);
    relay.cut();
    let run = deploy
        .finish()
        .code(6)
        .stderr_has("deployment #3 failed")
        .stderr_has("does not answer");
    assert_error_with_hint(&run);

    // The history says what happened; nothing is left pending or deploying. The new
    // version was being tried beside the serving one, which was never stopped.
    let record = deployment(&env, 3);
    assert_eq!(record["status"], "failed", "{record}");
    let error = record["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("#2 kept serving") && error.contains("the next operation removes it"),
        "{record}"
    );
    assert!(is_running(&container(&project, "production", 2)));

    // Docker is back (through its own socket): the next operation reconciles first —
    // what the failed deploy left is removed — then deploys.
    let next = env.ok(&["deploy", &project, "--image", WEB_V1]);
    assert!(
        next.stderr.contains("did not match the history"),
        "{}",
        next.stderr
    );
    assert_eq!(invariants(&env, &project, port).as_deref(), Some("v1"));
    assert_ne!(
        docker_inspect(&new, "{{.State.Running}}").as_deref(),
        Some("true")
    );
}
