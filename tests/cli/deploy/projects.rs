//! Registering projects: create, update, list, show; names and settings are checked, and
//! an unknown project is "not found" (exit 3) for every command that names one.

use super::*;

#[test]
fn a_project_is_created_shown_updated_and_listed() {
    let env = TestEnv::new();
    let web = env.project_name("web");
    env.ok(&[
        "project",
        "create",
        &web,
        "--health-path",
        "/healthz",
        "--health-timeout",
        "10s",
    ])
    .stdout_has(&format!("{web}  (docker preset)"))
    .stdout_has("GET /healthz")
    .stderr_has(&format!("temps deploy {web}"));

    let shown = env.json(&["project", "show", &web]);
    assert_eq!(shown["name"], web.as_str());
    assert_eq!(shown["preset"], "docker");
    assert!(shown["container_port"].is_null());
    assert_eq!(shown["health_path"], "/healthz");
    assert_eq!(shown["health_timeout"], "10s");
    assert_eq!(shown["health_interval"], "50ms");
    assert_eq!(shown["stop_timeout"], "10s");
    assert_utc_timestamp(&shown["created_at"]);
    assert_eq!(shown["environments"], serde_json::json!([]));

    let updated = env.json(&[
        "project",
        "update",
        &web,
        "--health-timeout",
        "2s",
        "--container-port",
        "8080",
        "--stop-timeout",
        "500ms",
    ]);
    assert_eq!(updated["health_timeout"], "2s");
    assert_eq!(updated["container_port"], 8080);
    assert_eq!(updated["stop_timeout"], "500ms");
    assert_eq!(
        updated["health_path"], "/healthz",
        "untouched settings stay"
    );

    env.ok(&["project", "update", &web, "--health-path", ""]);
    assert!(env.json(&["project", "show", &web])["health_path"].is_null());
    env.ok(&["project", "show", &web])
        .stdout_has("health timeout   2s")
        .stdout_has("container port   8080")
        .stdout_has("HEALTHCHECK");

    let site = env.project_name("site");
    env.ok(&["project", "create", &site, "--preset", "static"])
        .stdout_has("(static preset)");
    let listed = env.json(&["project", "list"]);
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let mut expected = vec![site.as_str(), web.as_str()];
    expected.sort();
    assert_eq!(names, expected);
    let table = env
        .ok(&["project", "list"])
        .stdout_has("NAME")
        .stdout_has("PRESET");
    let row = |name: &str| {
        table
            .stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{}", table.stdout))
            .to_string()
    };
    assert!(row(&web).contains("docker") && row(&web).contains("8080"));
    assert!(row(&site).contains("static"));
    env.ok(&["project", "ls"]).stdout_has(&web);
}

#[test]
fn no_projects_yet_is_said_on_stderr_and_an_empty_list_in_json() {
    let env = TestEnv::new();
    let run = env.ok(&["project", "list"]).stderr_has("project create");
    assert!(run.stdout.trim().is_empty(), "{}", run.stdout);
    assert_eq!(env.json(&["project", "list"]), serde_json::json!([]));
}

#[test]
fn an_invalid_project_name_is_a_usage_error() {
    let env = TestEnv::new();
    let too_long = "a".repeat(64);
    for bad in ["Web", "-web", "web_1", "web.app", "", too_long.as_str()] {
        // `--` so that `-web` reaches temps as a name, not as a flag.
        let run = env.run(&["project", "create", "--", bad]).code(2);
        assert_error_with_hint(&run);
    }
    assert_eq!(env.json(&["project", "list"]), serde_json::json!([]));
}

#[test]
fn invalid_settings_are_usage_errors_with_a_hint() {
    let env = TestEnv::new();
    let web = env.project_name("settings");
    for bad in [
        &["--health-path", "healthz"][..],
        &["--health-path", "/health z"],
        &["--health-timeout", "0"],
        &["--health-interval", "0"],
    ] {
        let mut args = vec!["project", "create", web.as_str()];
        args.extend_from_slice(bad);
        let run = env.run(&args).code(2);
        assert_error_with_hint(&run);
    }
    for bad in [&["--health-timeout", "30"][..], &["--container-port", "0"]] {
        let mut args = vec!["project", "create", web.as_str()];
        args.extend_from_slice(bad);
        env.run(&args).code(2);
    }
    assert_eq!(env.json(&["project", "list"]), serde_json::json!([]));
}

#[test]
fn a_duplicate_project_is_a_usage_error() {
    let env = TestEnv::new();
    let web = env.project_name("dup");
    env.ok(&["project", "create", &web]);
    let run = env
        .run(&["project", "create", &web, "--preset", "static"])
        .code(2)
        .stderr_has("already exists")
        .stderr_has(&format!("temps project update {web}"));
    assert_error_with_hint(&run);
    assert_eq!(env.json(&["project", "show", &web])["preset"], "docker");
}

#[test]
fn an_unknown_project_is_not_found_for_every_command() {
    let env = TestEnv::new();
    let ghost = env.project_name("ghost");
    let commands: Vec<Vec<&str>> = vec![
        vec!["deploy", &ghost, "--image", WEB_V1],
        vec!["deploy", &ghost, "--dir", "."],
        vec!["list", &ghost],
        vec!["ls", &ghost],
        vec!["status", &ghost],
        vec!["env", "set", &ghost, "A=1"],
        vec!["env", "unset", &ghost, "A"],
        vec!["env", "list", &ghost],
        vec!["project", "show", &ghost],
        vec!["project", "update", &ghost, "--health-timeout", "2s"],
    ];
    for args in commands {
        let run = env.run(&args).code(3);
        assert_error_with_hint(&run);
        assert!(run.stderr.contains(&ghost), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        // The same in JSON mode: nothing but errors, and nothing on stdout.
        let mut json = vec!["--output", "json"];
        json.extend_from_slice(&args);
        let run = env.run(&json).code(3);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
    }
}
