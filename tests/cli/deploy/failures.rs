//! Deploys that fail: the previous version keeps serving, the new deployment is `failed`
//! with the reason, its container is gone, and the exit code says so (5).

use std::net::TcpListener;

use super::*;

/// A web project serving v1 on a port, with a short health timeout.
fn serving_v1(env: &TestEnv, hint: &str) -> (String, u16, i64) {
    let web = env.web_project(hint);
    env.ok(&["project", "update", &web, "--health-timeout", "2s"]);
    let port = free_port();
    let v1 = deploy_json(env, &web, WEB_V1, Some(port));
    assert_eq!(serving(port).as_deref(), Some("v1"));
    (web, port, v1["id"].as_i64().expect("id"))
}

/// After a failed deploy: v1 serves, the history says failed then deployed, the failed
/// deployment's container is removed. Returns the failed record.
#[track_caller]
fn assert_v1_still_serves(env: &TestEnv, web: &str, port: u16, v1: i64) -> Value {
    assert_eq!(serving(port).as_deref(), Some("v1"));
    let all = history(env, web);
    assert_eq!(all.len(), 2, "{all:?}");
    let (failed, previous) = (&all[0], &all[1]);
    assert_eq!(failed["status"], "failed");
    assert!(failed["error"].is_string(), "no error in {failed}");
    assert_utc_timestamp(&failed["finished_at"]);
    assert_eq!(previous["id"], v1);
    assert_eq!(previous["status"], "deployed");
    assert_eq!(
        environment(env, web, "production")["current_deployment_id"],
        v1
    );
    let name = format!("temps-{web}-production-{}", failed["id"]);
    assert_eq!(container_state(&name), None, "{name} was left behind");
    failed.clone()
}

#[test]
fn a_crashing_image_fails_and_the_previous_version_keeps_serving() {
    require_docker!();
    let env = TestEnv::new();
    let (web, port, v1) = serving_v1(&env, "crash");

    let run = env.run(&["deploy", &web, "--image", CRASH]).code(5);
    assert_error_with_hint(&run);
    let run = run
        .stderr_has("exited with status 3")
        .stderr_has("boom: missing DATABASE_URL")
        .stderr_has(&format!("#{v1} kept serving: it was never stopped"));
    assert!(run.stdout.is_empty(), "stdout: {}", run.stdout);

    let failed = assert_v1_still_serves(&env, &web, port, v1);
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("status 3"), "{error}");
    assert!(error.contains("boom"), "{error}");

    // The table shows the failure and why.
    env.ok(&["list", &web])
        .stdout_has("failed")
        .stdout_has(CRASH);
}

#[test]
fn an_image_whose_health_path_never_answers_200_fails_at_the_timeout() {
    require_docker!();
    let env = TestEnv::new();
    let (web, port, v1) = serving_v1(&env, "nohealth");
    let run = env.run(&["deploy", &web, "--image", NOHEALTH]).code(5);
    assert_error_with_hint(&run);
    run.stderr_has("/healthz").stderr_has("404");
    let failed = assert_v1_still_serves(&env, &web, port, v1);
    assert!(
        failed["error"].as_str().unwrap().contains("404"),
        "{failed}"
    );
}

#[test]
fn an_image_docker_reports_unhealthy_fails() {
    require_docker!();
    let env = TestEnv::new();
    // No health path: the image's own HEALTHCHECK decides.
    let web = env.project_name("sick");
    env.ok(&["project", "create", &web, "--health-timeout", "20s"]);
    let port = free_port();
    let v1 = deploy_json(&env, &web, WEB_V1, Some(port));
    let v1 = v1["id"].as_i64().unwrap();

    let run = env.run(&["deploy", &web, "--image", SICK]).code(5);
    assert_error_with_hint(&run);
    run.stderr_has("unhealthy");
    let failed = assert_v1_still_serves(&env, &web, port, v1);
    assert!(failed["error"].as_str().unwrap().contains("unhealthy"));
}

#[test]
fn a_first_deploy_that_fails_exits_5_and_serves_nothing() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("first");
    let port = free_port();
    let run = env
        .run(&[
            "deploy",
            &web,
            "--image",
            CRASH,
            "--publish",
            &port.to_string(),
        ])
        .code(5);
    assert_error_with_hint(&run);
    run.stderr_has("boom").stderr_has("nothing serves now");
    assert_eq!(statuses(&env, &web), ["failed"]);
    assert_eq!(serving(port), None);
    let production = environment(&env, &web, "production");
    assert!(
        production["current_deployment_id"].is_null(),
        "{production}"
    );
    let left = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=dev.temps.project={web}"),
    ]);
    assert_eq!(left.stdout.trim(), "", "containers left behind");
}

#[test]
fn a_failed_deploy_in_json_mode_prints_the_failed_record_and_the_error_on_stderr() {
    require_docker!();
    let env = TestEnv::new();
    let (web, _port, v1) = serving_v1(&env, "jsonfail");
    let run = env
        .run(&["--output", "json", "deploy", &web, "--image", CRASH])
        .code(5);
    let record = run.json();
    assert_eq!(record["status"], "failed");
    assert_eq!(record["project"], web.as_str());
    assert_eq!(record["image"], CRASH);
    assert!(record["id"].as_i64() > Some(v1));
    assert!(
        record["error"].as_str().unwrap().contains("boom"),
        "{record}"
    );
    assert_error_with_hint(&run);
    assert_same_deployment(&history(&env, &web)[0], &record);
}

#[test]
fn an_image_that_is_neither_here_nor_pullable_is_refused_and_nothing_is_recorded() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("absent");
    let run = env
        .run(&["deploy", &web, "--image", "temps-test/absent:nope"])
        .code(4);
    assert_error_with_hint(&run);
    run.stderr_has("temps-test/absent:nope");
    assert!(history(&env, &web).is_empty());
    let shown = env.json(&["project", "show", &web]);
    assert_eq!(shown["environments"], serde_json::json!([]));
}

#[test]
fn a_first_deploy_onto_a_port_another_process_holds_fails() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("taken");
    let holder = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = holder.local_addr().unwrap().port();
    let run = env
        .run(&[
            "deploy",
            &web,
            "--image",
            WEB_V1,
            "--publish",
            &port.to_string(),
        ])
        .code(5);
    assert_error_with_hint(&run);
    run.stderr_has(&port.to_string());
    assert_eq!(statuses(&env, &web), ["failed"]);
    let id = history(&env, &web)[0]["id"].clone();
    assert_eq!(
        container_state(&format!("temps-{web}-production-{id}")),
        None
    );
    drop(holder);
}

/// Moving to a port another process holds fails at start; v1 keeps serving on its own port,
/// and the environment keeps publishing where v1 does.
#[test]
fn a_deploy_onto_a_taken_port_leaves_the_previous_version_serving_where_it_was() {
    require_docker!();
    let env = TestEnv::new();
    let (web, port, v1) = serving_v1(&env, "moveport");
    let holder = TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken = holder.local_addr().unwrap().port();
    let run = env
        .run(&[
            "deploy",
            &web,
            "--image",
            WEB_V2,
            "--publish",
            &taken.to_string(),
        ])
        .code(5);
    assert_error_with_hint(&run);
    assert_v1_still_serves(&env, &web, port, v1);
    assert_eq!(
        environment(&env, &web, "production")["publish"],
        port.to_string(),
        "a failed deploy changed where the environment publishes"
    );
    drop(holder);
}

#[test]
fn without_a_docker_engine_deploy_and_status_exit_6_but_the_history_still_reads() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("nodocker");
    let v1 = deploy_json(&env, &web, WEB_V1, None);
    let id = v1["id"].to_string();

    for args in [
        vec!["deploy", web.as_str(), "--image", WEB_V2],
        vec!["status", web.as_str()],
        vec!["status"],
    ] {
        let run = without_docker(&env, &args).code(6);
        assert_error_with_hint(&run);
        run.stderr_has("nonexistent/docker.sock");
    }
    assert_eq!(
        statuses(&env, &web),
        ["deployed"],
        "the failed attempt recorded something"
    );

    let run = without_docker(&env, &["list", &web]).code(0);
    assert!(run.stdout.contains(WEB_V1), "{}", run.stdout);
    without_docker(&env, &["show", &id])
        .code(0)
        .stdout_has("deployed");
    let shown = without_docker(&env, &["--output", "json", "show", &id]).code(0);
    assert_same_deployment(&shown.json(), &v1);
}
