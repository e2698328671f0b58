//! Free text that reaches an operator's terminal: a reason, an error, an image reference,
//! who made a deployment. What is already in the history (written before control
//! characters were refused, or by a hand on the database) is shown escaped (`\x1b`)
//! by every table, `show`, `status`, plan, picker and error; the JSON stays exact. A
//! `--reason` with a control character is refused (exit 2) with nothing changed.

use std::process::Command;

use serde_json::Value;

use crate::common::*;
use crate::require_docker;

/// Clears the screen and sets the window title, when sent raw.
const CLEAR_AND_TITLE: &str = "\u{1b}[2J\u{1b}]0;pwned\u{7}";

/// Run one SQL statement on the test's history, with `values` bound to `?1`, `?2`, …
/// (as a hand on the database, or an older temps, would have written them).
fn sql(env: &TestEnv, statement: &str, values: &[&str]) {
    let status = Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3, sys\n\
             c = sqlite3.connect(sys.argv[1])\n\
             c.execute(sys.argv[2], sys.argv[3:])\n\
             c.commit()\n\
             c.close()\n",
        )
        .arg(env.db())
        .arg(statement)
        .args(values)
        .status()
        .expect("python3");
    assert!(status.success(), "python3 sqlite3 failed: {statement}");
}

/// Nothing but printable text and line breaks reached the terminal.
#[track_caller]
fn assert_printable(what: &str, run: &Run) {
    for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        if let Some(c) = text.chars().find(|c| c.is_control() && *c != '\n') {
            panic!("`temps {what}` wrote {c:?} raw on {stream}:\n{text:?}");
        }
    }
}

/// `temps ARGS`, with the exit code expected, checked for raw control characters.
#[track_caller]
fn shown(env: &TestEnv, args: &[&str], code: i32) -> Run {
    let run = env.run(args).code(code);
    assert_printable(&args.join(" "), &run);
    run
}

/// Every deployment of a project, as the history holds it.
fn rows(env: &TestEnv, project: &str) -> Value {
    env.history(&[project, "--limit", "0"])
}

#[test]
fn hostile_text_in_the_history_reaches_the_terminal_escaped() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("freetext");
    let port = free_port();
    env.ok(&[
        "deploy",
        &web,
        "--image",
        WEB_V1,
        "--publish",
        &port.to_string(),
    ]); // #1
        // Who deploys comes from the environment: `$USER` may hold anything.
    env.run_with(
        &[("USER", "mallory\u{1b}[31m")],
        &["deploy", &web, "--image", WEB_V2],
    )
    .code(0); // #2
    env.run(&["deploy", &web, "--image", CRASH]).code(5); // #3, failed
    env.ok(&["rollback", "1", "--yes", "--reason", "checkout errors"]); // #4, leaves #2
    let forged_image = "temps-test/web:v1\ntemps serve: forged line";
    let reason = format!("{CLEAR_AND_TITLE}bad release");
    let error = "boom\u{1b}[31m red\r\nforged\u{7}";
    sql(
        &env,
        "UPDATE deployments SET reason = ?1 WHERE id = 1",
        &[&reason],
    );
    sql(
        &env,
        "UPDATE deployments SET image = ?1 WHERE id IN (1, 4)",
        &[forged_image],
    );
    sql(
        &env,
        "UPDATE deployments SET error = ?1 WHERE id = 3",
        &[error],
    );
    sql(
        &env,
        "UPDATE deployments SET reason = ?1 WHERE id = 4",
        &["checkout \u{1b}]0;pwned\u{7}errors"],
    );

    let list = shown(&env, &["list", &web], 0);
    assert!(list.stdout.contains("boom\\x1b[31m red"), "{}", list.stdout);
    let show = shown(&env, &["show", "1"], 0);
    show.stdout_has("\\x1b[2J\\x1b]0;pwned\\x07bad release")
        .stdout_has("temps-test/web:v1\\ntemps serve: forged line");
    shown(&env, &["show", "2"], 0).stdout_has("by mallory\\x1b[31m");
    shown(&env, &["show", "3"], 0).stdout_has("boom\\x1b[31m red\\r");
    shown(&env, &["status", &web], 0).stdout_has("web:v1\\ntemps serve");
    // The plan quotes the reason of the rollback that left #2, and who made it.
    shown(&env, &["rollback", "2", "--dry-run"], 0)
        .stdout_has("checkout \\x1b]0;pwned\\x07errors")
        .stdout_has("mallory\\x1b[31m");

    // The picker, on a terminal: the same text, escaped, among the picker's own sequences.
    let picker = env
        .terminal(
            &["rollback", "--project", &web],
            &[PtyStep::Expect("#1 "), PtyStep::Press("q")],
        )
        .code(2);
    for raw in ["\u{1b}]0;pwned", "\u{1b}[31m", "\u{1b}[2J", "\r\nforged"] {
        assert!(
            !picker.output.contains(raw),
            "the picker sent {raw:?} raw:\n{:?}",
            picker.output
        );
    }
    assert!(picker.text.contains("mallory\\x1b[31m"), "{}", picker.text);

    // The JSON keeps the text exactly as stored: its own escaping is safe.
    let record = env.json(&["show", "1"]);
    assert_eq!(record["reason"], reason.as_str());
    assert_eq!(record["image"], forged_image);
    assert_eq!(env.json(&["show", "3"])["error"], error);

    // An error that names the image: its reference is escaped in the message and hint.
    sql(
        &env,
        "UPDATE deployments SET image_id = ?1 WHERE id = 1",
        &[&format!("sha256:{}", "0".repeat(64))],
    );
    let before = rows(&env, &web);
    let refused =
        shown(&env, &["rollback", "1", "--yes"], 4).stderr_has("web:v1\\ntemps serve: forged line");
    assert_error_with_hint(&refused);
    assert_eq!(rows(&env, &web), before);
    assert_eq!(serving(port).as_deref(), Some("v1"));
}

#[test]
fn a_reason_with_a_control_character_is_refused_and_changes_nothing() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("badreason");
    let port = free_port();
    env.ok(&[
        "deploy",
        &web,
        "--image",
        WEB_V1,
        "--publish",
        &port.to_string(),
    ]); // #1
    env.ok(&["deploy", &web, "--image", WEB_V2]); // #2
    let history = rows(&env, &web);
    let containers = || {
        docker(&[
            "ps",
            "-a",
            "--filter",
            &format!("label=dev.temps.project={web}"),
            "--format",
            "{{.Names}} {{.State}}",
        ])
        .stdout
    };
    let before = containers();
    let started = docker_inspect(&format!("temps-{web}-production-2"), "{{.State.StartedAt}}");
    let tags = || {
        let listed = docker(&["images", "--format", "{{.Tag}}", &format!("temps/{web}")]).stdout;
        let mut tags: Vec<String> = listed.lines().map(String::from).collect();
        tags.sort();
        tags
    };
    let pinned = tags();

    for (args, bad) in [
        (
            vec!["deploy", &web, "--image", WEB_V1, "--reason"],
            "\u{1b}[2J wipe",
        ),
        (vec!["rollback", "1", "--yes", "--reason"], "a\u{7}b"),
        (
            vec!["rollback", "1", "--dry-run", "--reason"],
            "\u{1b}]0;t\u{7}",
        ),
        (
            vec!["rollback", "--project", &web, "--yes", "--reason"],
            "x\u{202e}y",
        ),
        (vec!["promote", "1", "--yes", "--reason"], "\u{9b}31m"),
    ] {
        let mut args = args.clone();
        args.push(bad);
        let run = shown(&env, &args, 2).stderr_has("control character");
        assert_error_with_hint(&run);
    }
    assert_eq!(rows(&env, &web), history);
    assert_eq!(containers(), before);
    assert_eq!(
        docker_inspect(&format!("temps-{web}-production-2"), "{{.State.StartedAt}}"),
        started
    );
    assert_eq!(tags(), pinned);
    assert_eq!(serving(port).as_deref(), Some("v2"));

    // A static release is refused before anything is copied.
    let site = env.project_name("badreasonsite");
    env.ok(&["project", "create", &site, "--preset", "static"]);
    let dir = env.dir.path().join("dist");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("index.html"), "hi").expect("write");
    let dir = dir.to_string_lossy().into_owned();
    shown(
        &env,
        &["deploy", &site, "--dir", &dir, "--reason", "\u{1b}[2J"],
        2,
    );
    assert_eq!(rows(&env, &site), Value::Array(Vec::new()));
    let releases = env.db().with_file_name("static").join(&site);
    assert!(!releases.exists(), "{} was made", releases.display());
}
