//! temps in shells and runbooks: completion scripts a real bash uses, man pages `man`
//! renders, one JSON document on stdout for every command, output that suits people
//! (80 columns, relative times, colour only on a terminal, `--quiet`), `temps prune`, and
//! the hooks a project runs around its deploys, rollbacks and promotes.

mod completions;
mod hooks;
mod json;
mod man;
mod people;
mod prune;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::*;

/// The repository: where `completions/`, `man/` and `tests/pty.py` are.
fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// True when `tool` runs (`tool ARG` exits, whatever its status). Without it: false (the
/// test skips with a visible message) locally, a panic on CI, where it must be installed.
fn have_tool(tool: &str, arg: &str) -> bool {
    if Command::new(tool).arg(arg).output().is_ok() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("CI needs `{tool}` for this test, and it is not installed (apt-get install {tool})");
    }
    eprintln!("SKIPPED: `{tool}` is not installed; install it to run this test");
    false
}

/// `temps --output json deploy PROJECT --image IMAGE EXTRA…`, expecting success.
fn deploy(env: &TestEnv, project: &str, image: &str, extra: &[&str]) -> Value {
    let mut args = vec!["deploy", project, "--image", image];
    args.extend_from_slice(extra);
    env.json(&args)
}

/// A deployment's id, as the argument temps takes.
fn id(record: &Value) -> String {
    record["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no id in {record}"))
        .to_string()
}

/// The whole history of a project, newest first (with `can_roll_back`).
fn history(env: &TestEnv, project: &str) -> Vec<Value> {
    match env.json(&["list", project, "--limit", "0"]) {
        Value::Array(all) => all,
        other => panic!("`temps list` printed {other}, not an array"),
    }
}

/// One deployment of `history`, by id.
fn listed(all: &[Value], record: &Value) -> Value {
    all.iter()
        .find(|d| d["id"] == record["id"])
        .unwrap_or_else(|| panic!("`temps list` lacks #{}: {all:?}", record["id"]))
        .clone()
}

/// A docker project with a health path, whose hooks live in a new folder `hooks/`.
fn project_with_hooks(env: &TestEnv, hint: &str) -> (String, PathBuf) {
    let name = env.web_project(hint);
    let hooks = env.dir.path().join("hooks");
    std::fs::create_dir_all(&hooks).expect("hooks folder");
    env.ok(&[
        "project",
        "update",
        &name,
        "--hooks",
        &hooks.to_string_lossy(),
    ]);
    (name, hooks)
}

/// Write the hook `name` (a shell script) into `dir`, executable or not.
fn write_hook(dir: &Path, name: &str, body: &str, executable: bool) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write hook");
    let mode = if executable { 0o755 } else { 0o644 };
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod hook");
    path
}

/// `temps ARGS` on a pseudo-terminal, with `vars` set (`None`: removed) on top of the
/// test's environment: the exit code and everything written to the terminal, escape
/// sequences included.
fn on_terminal(
    env: &TestEnv,
    vars: &[(&str, Option<&str>)],
    args: &[&str],
) -> (Option<i32>, String) {
    let mut temps = env.cmd();
    for (key, value) in vars {
        match value {
            Some(value) => temps.env(key, value),
            None => temps.env_remove(key),
        };
    }
    let mut cmd = Command::new("python3");
    cmd.env_clear();
    for (key, value) in temps.get_envs() {
        if let Some(value) = value {
            cmd.env(key, value);
        }
    }
    cmd.env("TERM", "xterm")
        .arg(repo().join("tests/pty.py"))
        .args(["--cols", "80", "--"])
        .arg(temps.get_program())
        .args(args);
    let out = cmd.output().expect("python3 runs tests/pty.py");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "tests/pty.py printed no report ({e}):\n{}\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        report["error"].is_null(),
        "terminal session: {}\n{}",
        report["error"],
        report["text"]
    );
    (
        report["exit_code"].as_i64().map(|c| c as i32),
        report["output"].as_str().unwrap_or_default().to_string(),
    )
}
