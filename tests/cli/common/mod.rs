//! The test environment: a private history database, a pinned user and a clean process
//! environment for every test, helpers to reach what a deployment serves, and cleanup of
//! the Docker objects a test made.
//!
//! Tests that need Docker call `require_docker!()`, tests that drive a browser
//! `require_browser!()`, and tests on the swarm lab `require_swarm!()` (`swarm.rs`):
//! without one they skip with a visible message, except on CI (`CI` set), where they fail.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use assert_cmd::cargo::CommandCargoExt;
use tempfile::TempDir;

pub mod pebble;
mod ports;
mod swarm;
pub use ports::free_port;
pub use swarm::*;

/// The fields of a deployment record that SPEC.md ("Deployment JSON") fixes.
pub const SPEC_DEPLOYMENT_FIELDS: [&str; 17] = [
    "id",
    "project",
    "environment",
    "image",
    "image_id",
    "status",
    "is_rollback",
    "rolled_back_from_id",
    "rolled_back_to_id",
    "is_promote",
    "created_at",
    "finished_at",
    "created_by",
    "reason",
    "error",
    "containers",
    "warm_until",
];

pub const WEB_V1: &str = "temps-test/web:v1";
pub const WEB_V2: &str = "temps-test/web:v2";
pub const CRASH: &str = "temps-test/crash:v1";
pub const NOHEALTH: &str = "temps-test/nohealth:v1";
pub const CHECKED: &str = "temps-test/checked:v1";
pub const SICK: &str = "temps-test/sick:v1";
pub const QUIET: &str = "temps-test/quiet:v1";
/// `/` says "souring", `/healthz` answers 200, `/cgi-bin/boom` always 500; with
/// `SOUR_AFTER=N`, N seconds after the container started `/` answers 500 ("sour") and
/// `/healthz` 404; with `EXIT_AFTER=N`, the container exits N seconds after it started.
pub const SOURING: &str = "temps-test/souring:v1";
/// Ignores SIGTERM (httpd as PID 1 with no handler): killed only at the stop timeout.
pub const STUBBORN: &str = "temps-test/stubborn:v1";

/// True when a Docker engine answers and the fixture images exist (building them once if
/// needed). Without an engine: false (skip) locally, a panic on CI.
pub fn docker_ready() -> bool {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    let ready = READY.get_or_init(|| {
        let info = Command::new("docker")
            .args(["info", "--format", "{{.ServerVersion}}"])
            .output();
        match info {
            Ok(out) if out.status.success() => {}
            Ok(out) => return Err(String::from_utf8_lossy(&out.stderr).trim().to_string()),
            Err(e) => return Err(format!("no docker client: {e}")),
        }
        let have = Command::new("docker")
            .args([
                "image", "inspect", WEB_V1, WEB_V2, CRASH, NOHEALTH, CHECKED, SICK, QUIET, FLAKY,
                SLOW_V1, SLOW_V2, SOURING,
            ])
            .output()
            .is_ok_and(|o| o.status.success());
        if !have {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/build.sh");
            let built = Command::new("bash").arg(script).status();
            if !built.is_ok_and(|s| s.success()) {
                return Err("building the fixture images failed (tests/fixtures/build.sh)".into());
            }
        }
        Ok(())
    });
    match ready {
        Ok(()) => true,
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("CI needs a Docker engine, and none is usable: {why}; run `bash tests/docker-up.sh`")
        }
        Err(why) => {
            eprintln!("SKIPPED: no usable Docker engine ({why}); run `bash tests/docker-up.sh` to test against one");
            false
        }
    }
}

/// Skip (locally) or fail (on CI) a test that needs Docker.
#[macro_export]
macro_rules! require_docker {
    () => {
        if !$crate::common::docker_ready() {
            return;
        }
    };
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// One test's world: a temporary folder holding the history, and the projects it made.
pub struct TestEnv {
    pub dir: TempDir,
    projects: std::sync::Mutex<Vec<String>>,
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEnv {
    pub fn new() -> TestEnv {
        TestEnv {
            dir: tempfile::Builder::new()
                .prefix("temps-test-")
                .tempdir()
                .expect("temp dir"),
            projects: std::sync::Mutex::new(Vec::new()),
        }
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("data/temps.db")
    }

    /// A project name no other test (or test run) uses, so container names never clash.
    /// It is cleaned up (containers and pinned tags) when the environment drops.
    pub fn project_name(&self, hint: &str) -> String {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("{hint}-{}-{n}", std::process::id());
        self.projects.lock().unwrap().push(name.clone());
        name
    }

    /// `temps` with a clean environment: the test's database, a pinned user, no colour.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::cargo_bin("temps").expect("temps binary");
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("USER", "alice")
            .env("TEMPS_DB", self.db())
            .env("NO_COLOR", "1");
        if let Some(host) = std::env::var_os("DOCKER_HOST") {
            cmd.env("DOCKER_HOST", host);
        }
        cmd
    }

    /// Run `temps ARGS` to completion.
    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.cmd().args(args).output().expect("run temps"))
    }

    /// Run `temps ARGS` and expect exit 0.
    pub fn ok(&self, args: &[&str]) -> Run {
        self.run(args).code(0)
    }

    /// Create a docker-preset project with a health path, named after `hint`.
    pub fn web_project(&self, hint: &str) -> String {
        let name = self.project_name(hint);
        self.ok(&[
            "project",
            "create",
            &name,
            "--health-path",
            "/healthz",
            "--health-timeout",
            "10s",
        ]);
        name
    }

    /// The JSON document a command printed on stdout.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut full = vec!["--output", "json"];
        full.extend_from_slice(args);
        self.ok(&full).json()
    }

    /// `temps list ARGS… -o json` once Docker has had its say: `can_roll_back` (and the
    /// NOTE `image gone`) is given only when the engine answers within 100 ms, so on a
    /// busy machine `list` is asked again, for up to a minute, until every record has it.
    /// For docker projects on one host (swarm mode asks no engine for its images).
    pub fn history_heard(&self, args: &[&str]) -> serde_json::Value {
        let mut full = vec!["list"];
        full.extend_from_slice(args);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let records = self.json(&full);
            let heard = records
                .as_array()
                .is_some_and(|all| all.iter().all(|d| !d["can_roll_back"].is_null()));
            if heard {
                return records;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "Docker never answered `temps list` within its budget: {records}"
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    /// `temps list ARGS… -o json`, the history's records without `can_roll_back`:
    /// Docker's word on which images remain, given within 100 ms or not at all, so two
    /// reads of an unchanged history may differ in it on a busy machine.
    pub fn history(&self, args: &[&str]) -> serde_json::Value {
        let mut full = vec!["list"];
        full.extend_from_slice(args);
        let mut records = self.json(&full);
        for record in records.as_array_mut().into_iter().flatten() {
            if let Some(record) = record.as_object_mut() {
                record.remove("can_roll_back");
            }
        }
        records
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let projects = self.projects.lock().map(|p| p.clone()).unwrap_or_default();
        for project in projects {
            remove_project_objects(&project);
        }
    }
}

/// Remove the containers and pinned tags temps made for a project.
pub fn remove_project_objects(project: &str) {
    let filter = format!("label=dev.temps.project={project}");
    if let Ok(out) = Command::new("docker")
        .args(["ps", "-aq", "--filter", &filter])
        .output()
    {
        let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(String::from)
            .collect();
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f"])
                .args(&ids)
                .output();
        }
    }
    if let Ok(out) = Command::new("docker")
        .args([
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}}",
            &format!("temps/{project}"),
        ])
        .output()
    {
        let tags: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(String::from)
            .collect();
        if !tags.is_empty() {
            let _ = Command::new("docker").arg("rmi").args(&tags).output();
        }
    }
}

/// What a finished `temps` run left: exit code, stdout, stderr.
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Assert the exit code, showing both streams when it differs.
    #[track_caller]
    pub fn code(self, expected: i32) -> Run {
        assert_eq!(
            self.status, expected,
            "exit code {} (expected {expected})\n--- stdout\n{}\n--- stderr\n{}",
            self.status, self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn stdout_has(self, text: &str) -> Run {
        assert!(
            self.stdout.contains(text),
            "stdout lacks {text:?}:\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn stderr_has(self, text: &str) -> Run {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}:\n{}",
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}):\n{}\n--- stderr\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// The error names what failed on an `error:` line, and the next step on a `hint:` line.
#[track_caller]
pub fn assert_error_with_hint(run: &Run) {
    assert!(
        run.stderr.lines().any(|l| l.starts_with("error: ")),
        "no `error:` line on stderr:\n{}",
        run.stderr
    );
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("hint: ") && l.len() > "hint: ".len()),
        "no `hint:` line on stderr:\n{}",
        run.stderr
    );
}

/// The body of `GET path` on 127.0.0.1:port, or `None` when nothing answers with 200.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.0 200")
        .then(|| body.to_string())
        .or_else(|| head.starts_with("HTTP/1.1 200").then(|| body.to_string()))
}

/// What the app on `port` says at `/`, trimmed: `v1`, `v2`, …
pub fn serving(port: u16) -> Option<String> {
    http_get(port, "/").map(|b| b.trim().to_string())
}

/// `docker inspect -f FORMAT NAME`, trimmed; `None` when it does not exist.
pub fn docker_inspect(name: &str, format: &str) -> Option<String> {
    let out = Command::new("docker")
        .args(["inspect", "-f", format, name])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Run a docker CLI command in a test (temps itself never does).
pub fn docker(args: &[&str]) -> Run {
    Run::from(
        Command::new("docker")
            .args(args)
            .output()
            .expect("docker client"),
    )
}

/// Like the web images (`/` says "flaky"; `/healthz`, `/cgi-bin/env`), with a Docker
/// HEALTHCHECK that passes, unless the container runs with `BROKEN=1`.
pub const FLAKY: &str = "temps-test/flaky:v1";

/// A `DOCKER_HOST` where no engine answers.
pub const NO_DOCKER: &str = "unix:///nonexistent/docker.sock";

impl TestEnv {
    /// Run `temps ARGS` with extra (or overriding) environment variables.
    pub fn run_with(&self, vars: &[(&str, &str)], args: &[&str]) -> Run {
        let mut cmd = self.cmd();
        for (key, value) in vars {
            cmd.env(key, value);
        }
        Run::from(cmd.args(args).output().expect("run temps"))
    }

    /// Run `temps ARGS` on a pseudo-terminal (tests/pty.py), as a person at a keyboard:
    /// the steps run in order, then the session lasts until temps exits.
    pub fn terminal(&self, args: &[&str], steps: &[PtyStep]) -> PtyRun {
        let temps = self.cmd();
        let mut cmd = Command::new("python3");
        cmd.env_clear();
        for (key, value) in temps.get_envs() {
            if let Some(value) = value {
                cmd.env(key, value);
            }
        }
        cmd.env("TERM", "xterm")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pty.py"));
        for step in steps {
            match step {
                PtyStep::Expect(text) => cmd.args(["--expect", text]),
                PtyStep::Press(keys) => cmd.args(["--send", &escape_keys(keys)]),
            };
        }
        cmd.arg("--").arg(temps.get_program()).args(args);
        let out = cmd.output().expect("python3 runs tests/pty.py");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "tests/pty.py printed no report ({e}):\n{}\n--- stderr\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        PtyRun {
            status: report["exit_code"].as_i64().map(|c| c as i32),
            text: report["text"].as_str().unwrap_or_default().to_string(),
            output: report["output"].as_str().unwrap_or_default().to_string(),
            error: report["error"].as_str().map(String::from),
        }
    }
}

/// What to do on the terminal, in order.
pub enum PtyStep<'a> {
    /// Wait until the text appears (escape sequences removed), after the previous match.
    Expect(&'a str),
    /// Wait until temps reads a key (a prompt waits), then type these characters at once:
    /// `"y"`, `"\r"` (Enter), `"\x1b[B"` (down arrow).
    Press(&'a str),
}

/// How a terminal session ended.
pub struct PtyRun {
    /// Exit code; `None` when temps was killed (by a signal, or after a step timed out).
    pub status: Option<i32>,
    /// Everything temps wrote on its terminal, escape sequences and `\r` removed.
    pub text: String,
    /// Everything temps wrote on its terminal, as it wrote it (escape sequences included).
    pub output: String,
    /// What went wrong in driving the session (a step that never came), if anything.
    pub error: Option<String>,
}

impl PtyRun {
    /// Assert that every step was done and temps exited with `expected`.
    #[track_caller]
    pub fn code(self, expected: i32) -> PtyRun {
        assert!(
            self.error.is_none() && self.status == Some(expected),
            "terminal session: {} (exit code {:?}, expected {expected})\n--- terminal\n{}",
            self.error.as_deref().unwrap_or("every step done"),
            self.status,
            self.text
        );
        self
    }

    #[track_caller]
    pub fn has(self, text: &str) -> PtyRun {
        assert!(
            self.text.contains(text),
            "the terminal lacks {text:?}:\n{}",
            self.text
        );
        self
    }
}

/// Keys as tests/pty.py reads them: control characters as `\xNN`, `\` doubled.
fn escape_keys(keys: &str) -> String {
    keys.chars()
        .map(|c| match c {
            '\\' => "\\\\".to_string(),
            c if c.is_control() => format!("\\x{:02x}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

/// Like the web images (`/` says "v1"/"v2", `/healthz`), plus `/cgi-bin/slow`, which
/// answers the version after 2 s (or after the seconds in its query: `/cgi-bin/slow?4`).
pub const SLOW_V1: &str = "temps-test/slow:v1";
pub const SLOW_V2: &str = "temps-test/slow:v2";

/// A headless browser to drive: Debian's chromium and its chromedriver.
#[derive(Debug, Clone)]
pub struct Browser {
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
}

/// The browser, when chromium and chromedriver are installed. Without them: `None` (skip)
/// locally, a panic on CI.
pub fn browser() -> Option<Browser> {
    let find = |names: &[&str]| {
        let path = std::env::var_os("PATH").unwrap_or_default();
        names.iter().find_map(|name| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(name))
                .find(|candidate| candidate.is_file())
        })
    };
    let chromium = find(&["chromium", "chromium-browser", "google-chrome"]);
    let chromedriver = find(&["chromedriver"]);
    match (chromium, chromedriver) {
        (Some(chromium), Some(chromedriver)) => Some(Browser {
            chromium,
            chromedriver,
        }),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI needs chromium and chromedriver, and they are missing; run `bash tests/browser-up.sh`")
        }
        _ => {
            eprintln!("SKIPPED: no chromium and chromedriver; run `bash tests/browser-up.sh` to test the dashboard in a browser");
            None
        }
    }
}

/// The browser for a test that drives one, or skip it (locally) or fail it (on CI).
#[macro_export]
macro_rules! require_browser {
    () => {
        match $crate::common::browser() {
            Some(browser) => browser,
            None => return,
        }
    };
}
