//! Bad surroundings (a published port another process holds) and secrets (variable
//! values never printed without `--reveal`: not in results, errors, spinners or JSON).

use std::net::TcpListener;

use super::*;

#[test]
fn a_published_port_taken_by_another_process_fails_and_the_previous_version_serves() {
    require_docker!();
    let env = TestEnv::new();
    let (project, port) = serving_project(&env, "porttaken");
    let squatter = TcpListener::bind("0.0.0.0:0").expect("bind");
    let taken = squatter.local_addr().expect("addr").port();
    let run = env
        .run(&[
            "deploy",
            &project,
            "--image",
            WEB_V1,
            "--publish",
            &taken.to_string(),
        ])
        .code(5)
        .stderr_has(&taken.to_string())
        .stderr_has("#2 is serving again");
    assert_error_with_hint(&run);
    let record = deployment(&env, 3);
    assert_eq!(record["status"], "failed");
    let error = record["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(&taken.to_string()) && error.contains("#2 restored"),
        "{record}"
    );
    // The environment keeps its port, and the squatter keeps its own.
    assert_eq!(
        environment(&env, &project, "production")["publish"],
        port.to_string()
    );
    assert_eq!(invariants(&env, &project, port).as_deref(), Some("v2"));
    assert_eq!(
        squatter.local_addr().expect("addr").port(),
        taken,
        "the squatter lost its port"
    );
}

#[test]
fn a_first_deploy_on_a_taken_port_fails_and_leaves_nothing_running() {
    require_docker!();
    let env = TestEnv::new();
    let project = env.web_project("portfirst");
    let squatter = TcpListener::bind("0.0.0.0:0").expect("bind");
    let taken = squatter.local_addr().expect("addr").port();
    let run = env
        .run(&[
            "deploy",
            &project,
            "--image",
            WEB_V1,
            "--publish",
            &taken.to_string(),
        ])
        .code(5)
        .stderr_has(&taken.to_string())
        .stderr_has("nothing was serving before");
    assert_error_with_hint(&run);
    assert_eq!(deployment(&env, 1)["status"], "failed");
    assert_eq!(invariants(&env, &project, taken), None);
    assert!(running_containers(&project).is_empty());
    // The environment keeps the address it was given: the next deploy, once the port is
    // free, serves there without being told again.
    let production = environment(&env, &project, "production");
    assert_eq!(
        production["publish"],
        serde_json::json!(taken.to_string()),
        "{production}"
    );
    drop(squatter);
}

/// Assert that no output of a run holds a secret.
#[track_caller]
fn assert_hidden(what: &str, run: &Run, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "`{what}` printed a secret value:\n--- stdout\n{}\n--- stderr\n{}",
            run.stdout,
            run.stderr
        );
    }
}

#[test]
fn variable_values_are_never_printed_without_reveal() {
    require_docker!();
    let env = TestEnv::new();
    let project = env.web_project("secrets");
    let first = format!("s3cr3t-{}-first", std::process::id());
    let second = format!("s3cr3t-{}-second", std::process::id());
    let secrets = [first.as_str(), second.as_str()];
    let port = free_port();
    let publish = port.to_string();

    let set = env.ok(&[
        "env",
        "set",
        &project,
        &format!("SECRET={first}"),
        "GREETING=hello",
    ]);
    assert_hidden("env set", &set, &secrets);
    let deployed = env.ok(&["deploy", &project, "--image", WEB_V1, "--publish", &publish]);
    assert_hidden("deploy", &deployed, &secrets);
    // The container did get it.
    let inside = http_get(port, "/cgi-bin/env").expect("cgi answers");
    assert!(inside.contains(&format!("SECRET={first}")), "{inside}");

    let json_deploy = env.ok(&["--output", "json", "deploy", &project, "--image", WEB_V2]);
    assert_hidden("deploy -o json", &json_deploy, &secrets);
    env.ok(&["env", "set", &project, &format!("SECRET={second}")]);

    let reads: [&[&str]; 12] = [
        &["list", &project],
        &["--output", "json", "list", &project, "--limit", "0"],
        &["show", "1"],
        &["--output", "json", "show", "1"],
        &["status", &project],
        &["--output", "json", "status"],
        &["--output", "json", "project", "show", &project],
        &["env", "list", &project],
        &["--output", "json", "env", "list", &project],
        &["rollback", "1", "--dry-run"],
        &["--output", "json", "rollback", "1", "--dry-run"],
        &["prune", &project, "--dry-run"],
    ];
    for args in reads {
        let run = env.ok(args);
        assert_hidden(&args.join(" "), &run, &secrets);
    }
    env.ok(&["env", "list", &project]).stdout_has("********");
    // The plan names what changed, not to what.
    env.ok(&["rollback", "1", "--dry-run"]).stdout_has("SECRET");
    env.ok(&["env", "list", &project, "--reveal"])
        .stdout_has(&second);
    let revealed = env.json(&["env", "list", &project, "--reveal"]);
    assert_eq!(revealed["variables"]["SECRET"], second.as_str());

    // Errors: a deploy that fails, in both formats; a bad key beside a secret value.
    let failed = env.run(&["deploy", &project, "--image", CRASH]).code(5);
    assert_hidden("a failed deploy", &failed, &secrets);
    let failed = env
        .run(&["--output", "json", "deploy", &project, "--image", CRASH])
        .code(5);
    assert_hidden("a failed deploy -o json", &failed, &secrets);
    let bad = env
        .run(&["env", "set", &project, &format!("BAD-KEY={second}")])
        .code(2);
    assert_hidden("env set with a bad key", &bad, &secrets);

    // Spinners and the confirmation, on a terminal.
    let session = env
        .terminal(&["deploy", &project, "--image", WEB_V1], &[])
        .code(0);
    assert!(
        !secrets.iter().any(|s| session.text.contains(s)),
        "the terminal showed a secret:\n{}",
        session.text
    );
    let session = env
        .terminal(
            &["rollback", "2"],
            &[
                PtyStep::Expect("Roll back production to #2?"),
                PtyStep::Press("n"),
            ],
        )
        .code(2)
        .has("SECRET");
    assert!(
        !secrets.iter().any(|s| session.text.contains(s)),
        "the confirmation showed a secret:\n{}",
        session.text
    );
    assert_eq!(invariants(&env, &project, port).as_deref(), Some("v1"));
}
