//! An environment's variables: set, unset, listed masked unless `--reveal`, handed to the
//! containers of the next deploy, and never printed in a deployment record.

use super::*;

const SECRET: &str = "hunter2-do-not-print";

#[test]
fn values_are_masked_unless_revealed() {
    let env = TestEnv::new();
    let web = env.project_name("vars");
    env.ok(&["project", "create", &web]);

    let set = env
        .ok(&[
            "env",
            "set",
            &web,
            "GREETING=hello world",
            &format!("SECRET={SECRET}"),
        ])
        .stdout_has("GREETING")
        .stdout_has("SECRET")
        .stdout_has(&format!("{web}/production"));
    assert!(!set.stdout.contains(SECRET) && !set.stderr.contains(SECRET));

    let table = env
        .ok(&["env", "list", &web])
        .stdout_has("KEY")
        .stdout_has("********");
    assert!(!table.stdout.contains(SECRET), "{}", table.stdout);
    assert!(!table.stdout.contains("hello world"), "{}", table.stdout);
    env.ok(&["env", "list", &web, "--reveal"])
        .stdout_has(SECRET)
        .stdout_has("hello world");

    let masked = env.json(&["env", "list", &web]);
    assert_eq!(masked["revealed"], false);
    assert_eq!(masked["environment"], "production");
    assert_eq!(masked["variables"]["SECRET"], "********");
    assert!(!masked.to_string().contains(SECRET));
    let revealed = env.json(&["env", "ls", &web, "--reveal"]);
    assert_eq!(revealed["revealed"], true);
    assert_eq!(revealed["variables"]["SECRET"], SECRET);
    assert_eq!(revealed["variables"]["GREETING"], "hello world");

    // A value may hold `=`; setting again replaces.
    env.ok(&["env", "set", &web, "GREETING=a=b"]);
    let revealed = env.json(&["env", "list", &web, "--reveal"]);
    assert_eq!(revealed["variables"]["GREETING"], "a=b");

    env.ok(&["env", "unset", &web, "SECRET"])
        .stdout_has("SECRET");
    let left = env.json(&["env", "list", &web, "--reveal"]);
    assert_eq!(left["variables"], serde_json::json!({"GREETING": "a=b"}));
    env.ok(&["env", "unset", &web, "SECRET"])
        .stderr_has("warning:");

    // Environments do not share variables.
    let staging = env.json(&["env", "list", &web, "--environment", "staging"]);
    assert_eq!(staging["variables"], serde_json::json!({}));
}

#[test]
fn invalid_variable_names_are_usage_errors() {
    let env = TestEnv::new();
    let web = env.project_name("badvars");
    env.ok(&["project", "create", &web]);
    for bad in ["1A=x", "A-B=x", "=x", "NO_EQUALS_SIGN", "A B=x"] {
        let run = env.run(&["env", "set", &web, "GOOD=1", bad]).code(2);
        assert_error_with_hint(&run);
    }
    // All or nothing: the good pair given with a bad one was not set.
    assert_eq!(
        env.json(&["env", "list", &web])["variables"],
        serde_json::json!({})
    );
    let run = env
        .run(&["env", "set", &web, "A=1", "--environment", "Prod"])
        .code(2);
    assert_error_with_hint(&run);
}

#[test]
fn variables_reach_the_containers_of_the_next_deploy_and_no_record_shows_them() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("envdeploy");
    let port = free_port();
    deploy_json(&env, &web, WEB_V1, Some(port));
    let before = http_get(port, "/cgi-bin/env").expect("cgi answers");
    assert!(before.contains("GREETING=\n"), "{before}");

    env.ok(&[
        "env",
        "set",
        &web,
        "GREETING=hello",
        &format!("SECRET={SECRET}"),
    ]);
    // Running containers keep what they were created with.
    let unchanged = http_get(port, "/cgi-bin/env").expect("cgi answers");
    assert!(unchanged.contains("GREETING=\n"), "{unchanged}");

    let v2 = deploy_json(&env, &web, WEB_V2, None);
    let after = http_get(port, "/cgi-bin/env").expect("cgi answers");
    assert!(after.contains("GREETING=hello\n"), "{after}");
    assert!(after.contains(&format!("SECRET={SECRET}\n")), "{after}");

    // The values are nowhere in what temps prints about deployments.
    let id = v2["id"].to_string();
    for args in [
        vec!["--output", "json", "deploy", &web, "--image", WEB_V1],
        vec!["--output", "json", "show", &id],
        vec!["--output", "json", "list", &web],
        vec!["--output", "json", "status", &web],
        vec!["--output", "json", "project", "show", &web],
        vec!["show", &id],
        vec!["list", &web],
        vec!["status", &web],
    ] {
        let run = env.ok(&args);
        for text in [&run.stdout, &run.stderr] {
            assert!(
                !text.contains(SECRET),
                "{args:?} printed the secret:\n{text}"
            );
            assert!(!text.contains("hello"), "{args:?} printed a value:\n{text}");
        }
    }
    assert_eq!(serving(port).as_deref(), Some("v1"));
}
