//! Output for people: tables that fit an 80-column terminal, relative times, colour only
//! on a terminal and never with NO_COLOR, no spinners or prompts without a terminal, and
//! `--quiet`.

use super::*;
use crate::require_docker;

/// A typical project's history: v1, v2, a rollback to v1, a deploy that failed its health
/// check, and two variables. Returns the project's name.
fn typical_history(env: &TestEnv, hint: &str) -> String {
    let web = env.web_project(hint);
    let port = free_port().to_string();
    let v1 = deploy(
        env,
        &web,
        WEB_V1,
        &["--publish", &port, "--reason", "first"],
    );
    deploy(env, &web, WEB_V2, &[]);
    env.ok(&["rollback", &id(&v1), "--yes", "--reason", "v2 is broken"]);
    env.ok(&["promote", &id(&v1), "--yes"]);
    env.run(&["deploy", &web, "--image", CRASH]).code(5);
    env.ok(&[
        "env",
        "set",
        &web,
        "GREETING=hello",
        "DATABASE_URL=postgres://app:secret@db.internal:5432/app",
    ]);
    web
}

/// Assert that every line of `temps ARGS` fits 80 columns, for a project named `web`
/// (the test's project has a longer, unique name: it is shown as `web`).
#[track_caller]
fn fits_80_columns(env: &TestEnv, project: &str, args: &[&str]) {
    let run = env.ok(args);
    assert!(
        !run.stdout.trim().is_empty(),
        "`temps {}` printed nothing",
        args.join(" ")
    );
    let text = run.stdout.replace(project, "web");
    let wide: Vec<String> = text
        .lines()
        .filter(|l| l.chars().count() > 80)
        .map(|l| format!("{:>3} columns: {l}", l.chars().count()))
        .collect();
    assert!(
        wide.is_empty(),
        "`temps {}` prints lines wider than 80 columns:\n{}\n--- all of it\n{text}",
        args.join(" ").replace(project, "web"),
        wide.join("\n")
    );
}

#[test]
fn list_of_one_environment_fits_80_columns() {
    require_docker!();
    let env = TestEnv::new();
    let web = typical_history(&env, "w");
    fits_80_columns(&env, &web, &["list", &web]);
    fits_80_columns(&env, &web, &["list", &web, "--environment", "production"]);
}

#[test]
fn list_of_several_environments_fits_80_columns() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("w");
    let v1 = deploy(&env, &web, WEB_V1, &[]);
    deploy(&env, &web, WEB_V2, &[]);
    env.ok(&["rollback", &id(&v1), "--yes"]);
    deploy(&env, &web, WEB_V1, &["--environment", "staging"]);
    fits_80_columns(&env, &web, &["list", &web]);
}

#[test]
fn status_and_the_other_tables_fit_80_columns() {
    require_docker!();
    let env = TestEnv::new();
    let web = typical_history(&env, "w");
    fits_80_columns(&env, &web, &["status"]);
    fits_80_columns(&env, &web, &["status", &web]);
    fits_80_columns(&env, &web, &["project", "list"]);
    fits_80_columns(&env, &web, &["project", "show", &web]);
    fits_80_columns(&env, &web, &["env", "list", &web]);
    fits_80_columns(&env, &web, &["env", "list", &web, "--reveal"]);
}

/// True when `text` holds an escape sequence that sets colour or weight (SGR: `ESC [ … m`).
fn has_sgr(text: &str) -> bool {
    text.split('\u{1b}').skip(1).any(|rest| {
        rest.strip_prefix('[').is_some_and(|params| {
            params.chars().find(|c| !(c.is_ascii_digit() || *c == ';')) == Some('m')
        })
    })
}

/// Spinner frames (indicatif's default braille dots) or carriage returns.
fn has_spinner(text: &str) -> bool {
    text.chars()
        .any(|c| ('\u{2800}'..='\u{28ff}').contains(&c) || c == '\r')
}

/// Whether `text` holds an RFC 3339 time such as `2026-12-01T10:10:23Z`
/// (a temporary folder's random name may hold a `Z` or `T0` of its own).
fn has_rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |from: usize, n: usize| b[from..from + n].iter().all(u8::is_ascii_digit);
    (0..b.len().saturating_sub(15)).any(|i| {
        digits(i, 4)
            && b[i + 4] == b'-'
            && digits(i + 5, 2)
            && b[i + 7] == b'-'
            && digits(i + 8, 2)
            && matches!(b[i + 10], b'T' | b' ')
            && digits(i + 11, 2)
            && b[i + 13] == b':'
    })
}

#[test]
fn list_shows_relative_times() {
    let env = TestEnv::new();
    let site = env.project_name("ago");
    env.ok(&["project", "create", &site, "--preset", "static"]);
    let dist = env.dir.path().join("dist");
    std::fs::create_dir_all(&dist).expect("dist");
    std::fs::write(dist.join("index.html"), "hi\n").expect("index");
    for _ in 0..2 {
        env.ok(&["deploy", &site, "--dir", &dist.to_string_lossy()]);
    }
    let list = env.ok(&["list", &site]).stdout;
    let rows: Vec<&str> = list.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{list}");
    let relative = |row: &str| {
        row.contains(" just now ")
            || row
                .split_whitespace()
                .collect::<Vec<_>>()
                .windows(2)
                .any(|w| {
                    w[1] == "ago"
                        && w[0].len() > 1
                        && w[0][..w[0].len() - 1].chars().all(|c| c.is_ascii_digit())
                        && matches!(w[0].chars().last(), Some('s' | 'm'))
                })
    };
    for row in &rows {
        assert!(
            relative(row),
            "no relative time like `just now` or `5s ago` in {row:?}\n{list}"
        );
        assert!(!has_rfc3339(row), "an absolute time in {row:?}");
    }
    let header = list.lines().next().unwrap_or_default();
    assert!(header.contains("CREATED"), "{list}");
}

#[test]
fn no_colour_and_no_spinner_without_a_terminal_even_without_no_color() {
    require_docker!();
    let env = TestEnv::new();
    let colourful = |args: &[&str]| {
        let mut cmd = env.cmd();
        cmd.env_remove("NO_COLOR").args(args);
        Run::from(cmd.output().expect("run temps"))
    };
    let web = env.project_name("plain");
    let port = free_port().to_string();
    let mut runs = vec![colourful(&[
        "project",
        "create",
        &web,
        "--health-path",
        "/healthz",
    ])];
    let v1 = deploy(&env, &web, WEB_V1, &["--publish", &port]);
    runs.push(colourful(&["deploy", &web, "--image", CRASH]).code(5));
    for args in [
        vec!["deploy", web.as_str(), "--image", WEB_V2],
        vec!["rollback", &id(&v1), "--yes"],
        vec!["deploy", web.as_str(), "--image", WEB_V2],
        vec!["list", web.as_str()],
        vec!["status"],
        vec!["project", "show", web.as_str()],
        vec!["env", "set", web.as_str(), "A=1"],
        vec!["env", "list", web.as_str()],
        vec!["prune", web.as_str(), "--keep", "0"],
    ] {
        runs.push(colourful(&args).code(0));
    }
    runs.push(colourful(&["show", "987654"]).code(3));
    runs.push(colourful(&["rollback", &id(&v1)]).code(2));
    for run in &runs {
        for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
            assert!(
                !text.contains('\u{1b}'),
                "an escape sequence on {stream} without a terminal: {text:?}"
            );
        }
        assert!(
            !has_spinner(&run.stderr),
            "a spinner on stderr without a terminal: {:?}",
            run.stderr
        );
    }
    assert!(
        runs.iter().any(|r| r.stderr.contains("ROLLED BACK")),
        "no loud ROLLED BACK note was printed to check"
    );
}

#[test]
fn colour_on_a_terminal_unless_no_color() {
    if !have_tool("python3", "--version") {
        return;
    }
    let env = TestEnv::new();
    let site = env.project_name("colour");
    env.ok(&["project", "create", &site, "--preset", "static"]);
    let dist = env.dir.path().join("dist");
    std::fs::create_dir_all(&dist).expect("dist");
    std::fs::write(dist.join("index.html"), "hi\n").expect("index");
    let first = env.json(&["deploy", &site, "--dir", &dist.to_string_lossy()]);
    env.ok(&["deploy", &site, "--dir", &dist.to_string_lossy()]);
    env.ok(&["rollback", &id(&first), "--yes"]);

    let (code, list) = on_terminal(&env, &[("NO_COLOR", None)], &["list", &site]);
    assert_eq!(code, Some(0), "{list:?}");
    assert!(
        list.contains("\u{1b}[1m"),
        "`temps list` on a terminal has no bold header: {list:?}"
    );
    let (code, status) = on_terminal(&env, &[("NO_COLOR", None)], &["status", &site]);
    assert_eq!(code, Some(0), "{status:?}");
    assert!(
        has_sgr(&status),
        "`temps status` on a terminal has no colour: {status:?}"
    );
    let (_, empty) = on_terminal(&env, &[("NO_COLOR", Some(""))], &["list", &site]);
    assert!(
        has_sgr(&empty),
        "an empty NO_COLOR turned colour off: {empty:?}"
    );

    for args in [
        vec!["list", site.as_str()],
        vec!["status", site.as_str()],
        vec!["project", "show", site.as_str()],
        vec!["show", "987654"],
    ] {
        let (_, plain) = on_terminal(&env, &[("NO_COLOR", Some("1"))], &args);
        assert!(
            !has_sgr(&plain),
            "`temps {}` is coloured on a terminal with NO_COLOR=1: {plain:?}",
            args.join(" ")
        );
        assert!(
            !plain.is_empty(),
            "`temps {}` printed nothing",
            args.join(" ")
        );
    }
    let (_, listed) = on_terminal(&env, &[("NO_COLOR", Some("1"))], &["list", &site]);
    assert!(
        !listed.contains('\u{1b}'),
        "escapes with NO_COLOR=1: {listed:?}"
    );
}

#[test]
fn quiet_leaves_only_the_results() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.project_name("quiet");
    let port = free_port().to_string();
    let silent = |args: &[&str]| {
        let mut full = vec!["--quiet"];
        full.extend_from_slice(args);
        let run = env.ok(&full);
        assert_eq!(run.stderr, "", "`temps {}` wrote on stderr", full.join(" "));
        run
    };
    silent(&["project", "create", &web, "--health-path", "/healthz"]);
    silent(&["deploy", &web, "--image", WEB_V1, "--publish", &port]).stdout_has("deployed #");
    let v1 = history(&env, &web)[0].clone();
    // `-q` after the subcommand, too.
    let run = env.ok(&["deploy", &web, "--image", WEB_V2, "-q"]);
    assert_eq!(run.stderr, "", "`temps deploy … -q` wrote on stderr");
    assert!(run.stdout.contains("deployed #"), "{}", run.stdout);
    assert_eq!(serving(port.parse().unwrap()).as_deref(), Some("v2"));
    silent(&["rollback", &id(&v1), "--yes"]).stdout_has("rolled back");
    silent(&["deploy", &web, "--image", WEB_V2]).stdout_has("ready");
    let ready = history(&env, &web)[0].clone();
    silent(&["promote", &id(&ready), "--yes"]).stdout_has("promoted");
    silent(&["env", "set", &web, "A=1"]);
    silent(&["prune", &web, "--keep", "0"]).stdout_has("removed");
    silent(&["list", &web]).stdout_has("deployed");
    // Errors still speak.
    env.run(&["--quiet", "show", "987654"])
        .code(3)
        .stderr_has("error:");
}

#[test]
fn no_prompt_without_a_terminal() {
    let env = TestEnv::new();
    let site = env.project_name("noprompt");
    env.ok(&["project", "create", &site, "--preset", "static"]);
    let dist = env.dir.path().join("dist");
    std::fs::create_dir_all(&dist).expect("dist");
    let first = env.json(&["deploy", &site, "--dir", &dist.to_string_lossy()]);
    env.ok(&["deploy", &site, "--dir", &dist.to_string_lossy()]);
    for args in [
        vec!["rollback", &id(&first)],
        vec!["rollback", "--project", &site],
    ] {
        let run = env.run(&args).code(2).stderr_has("--yes");
        assert!(
            !run.stderr.contains("[y/N]"),
            "a prompt without a terminal: {}",
            run.stderr
        );
        assert!(!has_spinner(&run.stderr), "{:?}", run.stderr);
    }
}
