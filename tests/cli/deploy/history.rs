//! `temps list` (alias `ls`) and `temps show`: the history, newest first, in a table for
//! people and in JSON for scripts. Static deploys make a long history cheaply.

use std::fs;

use super::*;

/// A static project with `count` deployments to `environment`; returns their ids in order.
fn static_history(env: &TestEnv, project: &str, environment: &str, count: usize) -> Vec<i64> {
    let dir = env.dir.path().join(format!("site-{environment}"));
    fs::create_dir_all(&dir).unwrap();
    (0..count)
        .map(|i| {
            fs::write(dir.join("index.html"), format!("release {i}\n")).unwrap();
            let d = env.json(&[
                "deploy",
                project,
                "--dir",
                dir.to_str().unwrap(),
                "--environment",
                environment,
            ]);
            d["id"].as_i64().unwrap()
        })
        .collect()
}

fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect()
}

#[test]
fn the_history_is_newest_first_with_a_default_limit_of_20() {
    let env = TestEnv::new();
    let site = env.project_name("history");
    env.ok(&["project", "create", &site, "--preset", "static"]);
    let made = static_history(&env, &site, "production", 22);
    let newest_first: Vec<i64> = made.iter().rev().copied().collect();

    assert_eq!(ids(&env.json(&["list", &site])), newest_first[..20]);
    assert_eq!(
        ids(&env.json(&["list", &site, "--limit", "3"])),
        newest_first[..3]
    );
    assert_eq!(
        ids(&env.json(&["list", &site, "--limit", "0"])),
        newest_first
    );
    assert_eq!(ids(&env.json(&["ls", &site, "--limit", "0"])), newest_first);

    let table = env.ok(&["list", &site]);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 21, "a header and 20 rows:\n{}", table.stdout);
    for column in ["ID", "STATUS", "IMAGE", "CREATED", "BY", "NOTE"] {
        assert!(lines[0].contains(column), "no {column} in {}", lines[0]);
    }
    assert!(
        lines[1].starts_with(&newest_first[0].to_string()),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains("deployed") && lines[1].contains("alice"));
    assert!(lines[2].contains("completed"), "{}", lines[2]);
    assert_eq!(
        env.ok(&["ls", &site, "--limit", "0"])
            .stdout
            .lines()
            .count(),
        23
    );
}

#[test]
fn the_history_can_be_narrowed_to_one_environment() {
    let env = TestEnv::new();
    let site = env.project_name("envhistory");
    env.ok(&["project", "create", &site, "--preset", "static"]);
    let production = static_history(&env, &site, "production", 2);
    let staging = static_history(&env, &site, "staging", 2);
    let later = static_history(&env, &site, "production", 1);

    let only_staging = env.json(&["list", &site, "--environment", "staging"]);
    assert_eq!(ids(&only_staging), [staging[1], staging[0]]);
    let only_production = env.json(&["list", &site, "-e", "production", "--limit", "2"]);
    assert_eq!(ids(&only_production), [later[0], production[1]]);

    // Two environments: the table says which row is which.
    env.ok(&["list", &site])
        .stdout_has("ENV")
        .stdout_has("staging");

    let run = env
        .run(&["list", &site, "--environment", "qa"])
        .code(3)
        .stderr_has("qa");
    assert_error_with_hint(&run);
}

#[test]
fn an_empty_history_is_an_empty_array() {
    let env = TestEnv::new();
    let web = env.project_name("empty");
    env.ok(&["project", "create", &web]);
    assert_eq!(env.json(&["list", &web]), serde_json::json!([]));
    let run = env.ok(&["list", &web]).stderr_has("no deployments yet");
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

#[test]
fn show_prints_one_deployment_in_full() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("show");
    let d = env.json(&[
        "deploy",
        &web,
        "--image",
        WEB_V1,
        "--reason",
        "first   release\n of the app",
    ]);
    let id = d["id"].to_string();
    assert_eq!(d["reason"], "first release of the app", "one line");

    assert_same_deployment(&env.json(&["show", &id]), &d);
    let image_id = d["image_id"].as_str().unwrap();
    env.ok(&["show", &id])
        .stdout_has(&format!("#{id}  {web}/production  deployed"))
        .stdout_has(&format!("image        {WEB_V1}"))
        .stdout_has(image_id)
        .stdout_has("by alice")
        .stdout_has("first release of the app")
        .stdout_has(&format!("temps-{web}-production-{id}"));

    let run = env.run(&["show", "999999"]).code(3).stderr_has("#999999");
    assert_error_with_hint(&run);
    let run = env.run(&["--output", "json", "show", "999999"]).code(3);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}
