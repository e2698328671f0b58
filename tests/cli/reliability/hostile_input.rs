//! Ids, names, reasons and variables that are huge, empty, malformed or not UTF-8: each
//! refused with a short, clear message and its documented exit code, nothing written.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use super::*;

/// `temps ARGS`, where arguments may be any bytes.
fn run_os(env: &TestEnv, args: &[&OsStr]) -> Run {
    Run::from(env.cmd().args(args).output().expect("run temps"))
}

fn os(text: &str) -> OsString {
    OsString::from(text)
}

fn not_utf8() -> OsString {
    OsStr::from_bytes(b"web\xff\xfe").to_os_string()
}

/// A short message: a huge argument is never echoed whole.
#[track_caller]
fn assert_short(run: &Run) {
    assert!(
        run.stderr.len() < 2000,
        "stderr holds {} bytes; starts with {:?}",
        run.stderr.len(),
        &run.stderr[..run.stderr.len().min(300)]
    );
}

/// Run each command line; collect those that do not exit `expected` with a short message.
fn expect_each(env: &TestEnv, cases: &[Vec<OsString>], expected: i32) -> Vec<String> {
    let mut wrong = Vec::new();
    for args in cases {
        let refs: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
        let run = run_os(env, &refs);
        let shown: Vec<String> = args
            .iter()
            .map(|a| {
                let text = a.to_string_lossy();
                if text.len() > 40 {
                    format!("<{} bytes>", a.len())
                } else {
                    format!("{text:?}")
                }
            })
            .collect();
        if run.status != expected {
            wrong.push(format!(
                "temps {}: exit {} (expected {expected}): {}",
                shown.join(" "),
                run.status,
                run.stderr.chars().take(300).collect::<String>()
            ));
        } else if run.stderr.len() >= 2000 {
            wrong.push(format!(
                "temps {}: {} bytes of stderr",
                shown.join(" "),
                run.stderr.len()
            ));
        } else if !run.stderr.contains("error") {
            wrong.push(format!("temps {}: no error message", shown.join(" ")));
        }
    }
    wrong
}

#[test]
fn deployment_ids_that_are_huge_zero_negative_or_not_numbers() {
    let env = TestEnv::new();
    env.ok(&["project", "create", "web"]);
    let mut wrong = Vec::new();
    for (id, expected) in [
        ("99999999999999999999", 2),
        ("18446744073709551616", 2),
        ("12abc", 2),
        ("", 2),
        ("0", 3),
        ("-1", 3),
        ("9223372036854775807", 3),
    ] {
        let cases: Vec<Vec<OsString>> = vec![
            vec![os("show"), os("--"), os(id)],
            vec![os("rollback"), os("--yes"), os("--"), os(id)],
            vec![os("promote"), os("--yes"), os("--"), os(id)],
        ];
        wrong.extend(expect_each(&env, &cases, expected));
    }
    let cases = vec![
        vec![os("show"), not_utf8()],
        vec![os("rollback"), os("--yes"), not_utf8()],
    ];
    wrong.extend(expect_each(&env, &cases, 2));
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // A missing deployment says how to find one.
    assert_error_with_hint(&env.run(&["rollback", "0", "--yes"]).code(3));
}

#[test]
fn project_names_that_are_empty_huge_or_not_utf8_are_usage_errors() {
    let env = TestEnv::new();
    env.ok(&["project", "create", "web"]);
    let huge = os(&"a".repeat(100_000));
    let mut wrong = Vec::new();
    for name in &[os(""), huge, not_utf8()] {
        let cases: Vec<Vec<OsString>> = vec![
            vec![os("project"), os("create"), name.clone()],
            vec![os("project"), os("show"), name.clone()],
            vec![
                os("project"),
                os("update"),
                name.clone(),
                os("--health-path"),
                os("/"),
            ],
            vec![os("deploy"), name.clone(), os("--image"), os(WEB_V1)],
            vec![os("list"), name.clone()],
            vec![os("status"), name.clone()],
            vec![os("rollback"), os("--yes"), os("--project"), name.clone()],
            vec![os("env"), os("set"), name.clone(), os("A=1")],
            vec![os("env"), os("list"), name.clone()],
            vec![os("prune"), name.clone()],
        ];
        wrong.extend(expect_each(&env, &cases, 2));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let projects = env.json(&["project", "list"]);
    assert_eq!(projects.as_array().map(Vec::len), Some(1), "{projects}");
}

#[test]
fn environment_names_that_are_empty_huge_or_not_utf8_are_usage_errors() {
    let env = TestEnv::new();
    env.ok(&["project", "create", "web"]);
    let huge = os(&"e".repeat(100_000));
    let mut wrong = Vec::new();
    for name in [os(""), huge, not_utf8()] {
        let cases: Vec<Vec<OsString>> = vec![
            vec![
                os("deploy"),
                os("web"),
                os("--image"),
                os(WEB_V1),
                os("-e"),
                name.clone(),
            ],
            vec![
                os("env"),
                os("set"),
                os("web"),
                os("A=1"),
                os("-e"),
                name.clone(),
            ],
            vec![os("env"), os("list"), os("web"), os("-e"), name.clone()],
            vec![os("list"), os("web"), os("-e"), name.clone()],
            vec![
                os("rollback"),
                os("--yes"),
                os("--project"),
                os("web"),
                os("-e"),
                name.clone(),
            ],
        ];
        wrong.extend(expect_each(&env, &cases, 2));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let shown = env.json(&["project", "show", "web"]);
    assert_eq!(shown["environments"], serde_json::json!([]), "{shown}");
}

#[test]
fn reasons_that_are_huge_or_not_utf8_are_refused_and_nothing_is_written() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port) = serving_project(&env, "reason");
    let huge = os(&"why ".repeat(25_000));
    let too_long = os(&"x".repeat(501));
    let mut wrong = Vec::new();
    for reason in [huge, too_long, not_utf8()] {
        let cases: Vec<Vec<OsString>> = vec![
            vec![
                os("deploy"),
                os(&project),
                os("--image"),
                os(WEB_V1),
                os("--reason"),
                reason.clone(),
            ],
            vec![
                os("rollback"),
                os("1"),
                os("--yes"),
                os("--reason"),
                reason.clone(),
            ],
        ];
        wrong.extend(expect_each(&env, &cases, 2));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let run = env
        .run(&[
            "deploy",
            &project,
            "--image",
            WEB_V1,
            "--reason",
            &"x".repeat(100_000),
        ])
        .code(2);
    assert_error_with_hint(&run);
    assert_short(&run);
    assert_eq!(
        history(&env, &project).len(),
        2,
        "a refused reason wrote history"
    );
    assert_eq!(invariants(&env, &project, port).as_deref(), Some("v2"));

    // 500 characters are allowed, and an empty reason is no reason.
    let long = "y".repeat(500);
    let done = env.json(&["deploy", &project, "--image", WEB_V1, "--reason", &long]);
    assert_eq!(done["reason"], long);
    let done = env.json(&["deploy", &project, "--image", WEB_V2, "--reason", ""]);
    assert_eq!(done["reason"], serde_json::Value::Null);
}

#[test]
fn image_references_that_are_empty_huge_or_not_utf8_are_usage_errors() {
    require_docker!();
    let env = TestEnv::new();
    let project = env.web_project("badimage");
    let huge = os(&"a".repeat(100_000));
    let cases: Vec<Vec<OsString>> = [os(""), huge, not_utf8()]
        .into_iter()
        .map(|image| vec![os("deploy"), os(&project), os("--image"), image])
        .collect();
    let wrong = expect_each(&env, &cases, 2);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(history(&env, &project).is_empty());
    assert!(running_containers(&project).is_empty());
}

#[test]
fn invalid_variable_names_are_refused_and_nothing_is_written() {
    let env = TestEnv::new();
    env.ok(&["project", "create", "web"]);
    env.ok(&["env", "set", "web", "KEEP=old"]);
    let long_key = format!("{}=x", "K".repeat(300));
    let bad_pairs = [
        "1A=secret-value-1",
        "A-B=secret-value-1",
        "=secret-value-1",
        "Ä=secret-value-1",
        "A B=secret-value-1",
        "A.B=secret-value-1",
        "NO_EQUALS_SIGN",
        long_key.as_str(),
    ];
    for bad in bad_pairs {
        // A valid pair beside an invalid one is not written either.
        let run = env
            .run(&["env", "set", "web", "KEEP=new", "GOOD=1", bad])
            .code(2);
        assert_error_with_hint(&run);
        assert_short(&run);
        assert!(
            !run.stderr.contains("secret-value-1") && !run.stdout.contains("secret-value-1"),
            "a value was printed:\n{}",
            run.stderr
        );
    }
    let run = run_os(
        &env,
        &[
            OsStr::new("env"),
            OsStr::new("set"),
            OsStr::new("web"),
            OsStr::from_bytes(b"K\xff=v"),
        ],
    )
    .code(2);
    assert!(run.stderr.contains("error"), "{}", run.stderr);
    let listed = env.json(&["env", "list", "web", "--reveal"]);
    assert_eq!(
        listed["variables"],
        serde_json::json!({"KEEP": "old"}),
        "{listed}"
    );
}
