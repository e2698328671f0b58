//! An app that is slow to start: the failure says it did not answer within the timeout,
//! shows what the app wrote, and gives the command that allows it longer
//! (`--health-timeout`, which deploy takes for one deploy as rollback does); the failed
//! record names no container that is gone.

use std::process::Command;

use crate::common::*;
use crate::require_docker;

/// An image like web:v1 whose app writes a line, then takes `seconds` before it listens;
/// removed when dropped.
struct SlowStarter {
    tag: String,
}

impl SlowStarter {
    fn build(seconds: u32) -> SlowStarter {
        let tag = format!("temps-test-field/slowstart:{}", std::process::id());
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("Dockerfile"),
            format!(
                "FROM {WEB_V1}\n\
                 CMD [\"sh\", \"-c\", \"echo loading the model; sleep {seconds}; echo listening; \
                 trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait\"]\n"
            ),
        )
        .expect("Dockerfile");
        let built = Command::new("docker")
            .args(["build", "-q", "-t", &tag])
            .arg(dir.path())
            .env("DOCKER_BUILDKIT", "0")
            .output()
            .expect("docker build");
        assert!(
            built.status.success(),
            "building {tag}: {}",
            String::from_utf8_lossy(&built.stderr)
        );
        SlowStarter { tag }
    }
}

impl Drop for SlowStarter {
    fn drop(&mut self) {
        let _ = docker(&["rmi", "-f", &self.tag]);
    }
}

#[test]
fn a_slow_start_is_told_to_take_longer_and_deploy_health_timeout_gives_it_that() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.project_name("slowstart");
    env.ok(&[
        "project",
        "create",
        &web,
        "--health-path",
        "/healthz",
        "--health-timeout",
        "2s",
    ]);
    let port = free_port();
    env.ok(&[
        "deploy",
        &web,
        "--image",
        WEB_V1,
        "--publish",
        &port.to_string(),
    ]); // #1
    let slow = SlowStarter::build(6);

    let failed = env
        .run(&["deploy", &web, "--image", &slow.tag])
        .code(5)
        .stderr_has("did not answer within 2s")
        .stderr_has("its last output:\nloading the model")
        .stderr_has("#1 kept serving")
        .stderr_has(&format!(
            "`temps deploy {web} --image {} --health-timeout 4s`",
            slow.tag
        ))
        .stderr_has(&format!("`temps project update {web} --health-timeout 4s`"));
    assert!(
        !failed.stderr.contains("fix the cause"),
        "{}",
        failed.stderr
    );
    assert_error_with_hint(&failed);
    assert_eq!(serving(port).as_deref(), Some("v1"));

    // The record names no container: the one it made was removed, as was the check.
    let record = env.json(&["show", "2"]);
    assert_eq!(record["status"], "failed");
    assert_eq!(record["containers"], serde_json::json!([]), "{record:#}");
    let shown = env.ok(&["show", "2"]).stdout;
    assert!(!shown.contains("containers"), "{shown}");
    for name in [
        format!("temps-{web}-production-2"),
        format!("temps-{web}-production-2-check"),
    ] {
        assert_eq!(docker_inspect(&name, "{{.Name}}"), None, "{name} is left");
    }

    // Given the time, it serves; the project's own timeout is left as it was.
    env.run(&[
        "deploy",
        &web,
        "--image",
        &slow.tag,
        "--health-timeout",
        "0s",
    ])
    .code(2);
    let deployed = env.json(&[
        "deploy",
        &web,
        "--image",
        &slow.tag,
        "--health-timeout",
        "2m",
    ]);
    assert_eq!(deployed["status"], "deployed", "{deployed:#}");
    assert_eq!(serving(port).as_deref(), Some("v1"));
    env.ok(&["project", "show", &web])
        .stdout_has("health timeout   2s");
}
