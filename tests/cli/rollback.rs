//! `temps rollback` and `temps promote`, end to end: the built binary against the real
//! engine (and, for the static preset, against no engine at all), on a pseudo-terminal
//! where a person would answer the prompts.

use std::fs;
use std::path::PathBuf;

use serde_json::Value;

use crate::common::*;
use crate::require_docker;

/// `temps deploy PROJECT --image IMAGE EXTRA…` that must succeed: the new record.
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

/// `temps show ID`, as JSON.
fn show(env: &TestEnv, id: &str) -> Value {
    env.json(&["show", id])
}

/// What a command printed is the deployment record the history holds for it: every
/// field of the record, each as `temps show` and `temps list` have it (they may say
/// more about it).
#[track_caller]
fn assert_is_the_record(env: &TestEnv, printed: &Value) {
    for field in SPEC_DEPLOYMENT_FIELDS {
        assert!(
            printed.get(field).is_some(),
            "the record lacks `{field}`: {printed}"
        );
    }
    let listed = history(env, printed["project"].as_str().expect("project"))
        .into_iter()
        .find(|d| d["id"] == printed["id"])
        .unwrap_or_else(|| panic!("`temps list` lacks {printed}"));
    for (how, stored) in [("show", show(env, &id(printed))), ("list", listed)] {
        for (field, value) in printed.as_object().expect("a record is an object") {
            assert_eq!(
                stored.get(field),
                Some(value),
                "`{field}` differs from `temps {how}`:\nprinted {printed}\nstored {stored}"
            );
        }
    }
}

/// The whole history of a project, newest first.
fn history(env: &TestEnv, project: &str) -> Vec<Value> {
    env.json(&["list", project, "--limit", "0"])
        .as_array()
        .expect("list prints an array")
        .clone()
}

/// An environment as `project show` reports it (state, current_deployment_id, publish).
fn environment(env: &TestEnv, project: &str, name: &str) -> Value {
    let shown = env.json(&["project", "show", project]);
    shown["environments"]
        .as_array()
        .expect("environments")
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no environment {name} in {shown}"))
        .clone()
}

/// Everything the history says of a project, byte for byte: the full list and the
/// project with its environments. The list is read without Docker, so that its
/// `can_roll_back` (which asks Docker, briefly) cannot differ on a busy machine.
fn snapshot(env: &TestEnv, project: &str) -> (String, String) {
    let list = env
        .run_with(
            &[("DOCKER_HOST", NO_DOCKER)],
            &["--output", "json", "list", project, "--limit", "0"],
        )
        .code(0)
        .stdout;
    let shown = env
        .ok(&["--output", "json", "project", "show", project])
        .stdout;
    (list, shown)
}

/// Run `temps ARGS` (with extra environment variables), expect exit `code`, and the
/// history of `project` unchanged by it, byte for byte.
#[track_caller]
fn refused_with(
    env: &TestEnv,
    vars: &[(&str, &str)],
    project: &str,
    args: &[&str],
    code: i32,
) -> Run {
    let before = snapshot(env, project);
    let run = env.run_with(vars, args).code(code);
    let after = snapshot(env, project);
    assert_eq!(
        before.0,
        after.0,
        "`temps {}` changed the history",
        args.join(" ")
    );
    assert_eq!(
        before.1,
        after.1,
        "`temps {}` changed the project or its environments",
        args.join(" ")
    );
    run
}

#[track_caller]
fn refused(env: &TestEnv, project: &str, args: &[&str], code: i32) -> Run {
    refused_with(env, &[], project, args, code)
}

/// Two ports nothing listens on, different from each other.
fn two_free_ports() -> (u16, u16) {
    let first = free_port();
    loop {
        let second = free_port();
        if second != first {
            return (first, second);
        }
    }
}

/// A web project serving v1 (first) then v2 (second, current) on a published port.
fn two_versions(env: &TestEnv, hint: &str) -> (String, u16, Value, Value) {
    let web = env.web_project(hint);
    let port = free_port();
    let v1 = deploy(env, &web, WEB_V1, &["--publish", &port.to_string()]);
    let v2 = deploy(env, &web, WEB_V2, &[]);
    assert_eq!(serving(port).as_deref(), Some("v2"));
    (web, port, v1, v2)
}

/// Check the plan a rollback shows (dry run or prompt): the current and the target
/// deployment, each with its id, image and author, and what is not reverted.
#[track_caller]
fn assert_plan(text: &str, current: &Value, target: &Value) {
    let line = |word: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(word))
            .unwrap_or_else(|| panic!("the plan has no `{word}` line:\n{text}"))
    };
    for (word, record) in [("current", current), ("target", target)] {
        let shown = line(word);
        let image = record["image"].as_str().expect("image");
        assert!(
            shown.contains(&format!("#{} ", id(record)))
                && shown.contains(image)
                && shown.contains("alice"),
            "the `{word}` line does not name #{} ({image}, by alice):\n{text}",
            id(record)
        );
    }
    assert!(text.contains("not reverted"), "{text}");
}

fn container(project: &str, environment: &str, id: &str) -> String {
    format!("temps-{project}-{environment}-{id}")
}

// ---------------------------------------------------------------------------------------
// The happy path

#[test]
fn rollback_runs_the_earlier_image_again_with_the_current_variables() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("rb-happy");
    let port = free_port();
    let v1 = deploy(&env, &web, WEB_V1, &["--publish", &port.to_string()]);
    env.ok(&["env", "set", &web, "GREETING=hello"]);
    let v2 = deploy(&env, &web, WEB_V2, &[]);
    assert_eq!(serving(port).as_deref(), Some("v2"));

    let run = env.ok(&[
        "--output",
        "json",
        "rollback",
        &id(&v1),
        "--yes",
        "--reason",
        "checkout errors after v2",
    ]);
    let rb = run.json();

    // v1 serves again, with the variables the environment has now.
    assert_eq!(serving(port).as_deref(), Some("v1"));
    let vars = http_get(port, "/cgi-bin/env").expect("GET /cgi-bin/env answers 200");
    assert!(
        vars.contains("GREETING=hello"),
        "the rollback's container lacks the current variable:\n{vars}"
    );

    // The new record.
    assert_eq!(rb["is_rollback"], true, "{rb}");
    assert_eq!(rb["is_promote"], false, "{rb}");
    assert_eq!(rb["rolled_back_from_id"], v2["id"], "{rb}");
    assert_eq!(rb["rolled_back_to_id"], v1["id"], "{rb}");
    assert_eq!(rb["image"], v1["image"], "{rb}");
    assert_eq!(rb["image_id"], v1["image_id"], "{rb}");
    assert_eq!(rb["status"], "deployed", "{rb}");
    assert_eq!(rb["project"], web.as_str(), "{rb}");
    assert_eq!(rb["environment"], "production", "{rb}");
    assert_eq!(rb["created_by"], "alice", "{rb}");
    assert_eq!(rb["reason"], "checkout errors after v2", "{rb}");
    assert_eq!(rb["error"], Value::Null, "{rb}");
    assert!(rb["id"].as_i64() > v2["id"].as_i64(), "{rb}");
    let new_container = container(&web, "production", &id(&rb));
    assert_eq!(rb["containers"], serde_json::json!([new_container]), "{rb}");

    // `--output json` printed exactly the record the history holds.
    assert_is_the_record(&env, &rb);
    let list = history(&env, &web);
    assert_eq!(list[0]["id"], rb["id"]);
    let statuses: Vec<&str> = list.iter().map(|d| d["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["deployed", "completed", "completed"]);
    assert_eq!(list[1]["id"], v2["id"]);

    // Docker: the new container runs v1's image by id; v2's is kept, stopped; the
    // image is pinned for the new deployment too.
    assert_eq!(
        docker_inspect(&new_container, "{{.State.Running}}").as_deref(),
        Some("true")
    );
    assert_eq!(
        docker_inspect(&new_container, "{{.Image}}"),
        v1["image_id"].as_str().map(String::from)
    );
    assert_eq!(
        docker_inspect(
            &container(&web, "production", &id(&v2)),
            "{{.State.Running}}"
        )
        .as_deref(),
        Some("false"),
        "v2's container is kept, stopped"
    );
    assert_eq!(
        docker_inspect(&format!("temps/{web}:{}", id(&rb)), "{{.Id}}"),
        v1["image_id"].as_str().map(String::from)
    );

    // The environment is rolled back, loudly.
    let production = environment(&env, &web, "production");
    assert_eq!(production["state"], "rolled_back", "{production}");
    assert_eq!(
        production["current_deployment_id"], rb["id"],
        "{production}"
    );
    env.ok(&["status", &web]).stdout_has("ROLLED BACK");
}

// ---------------------------------------------------------------------------------------
// Validation: refused before anything changes

#[test]
fn rollback_to_an_unknown_deployment_exits_3() {
    require_docker!();
    let env = TestEnv::new();
    let (web, port, _v1, _v2) = two_versions(&env, "rb-unknown");
    refused(&env, &web, &["rollback", "999999", "--yes"], 3)
        .stderr_has("#999999")
        .stderr_has("hint:");
    refused(&env, &web, &["promote", "999999", "--yes"], 3).stderr_has("hint:");
    assert_eq!(serving(port).as_deref(), Some("v2"));
}

#[test]
fn a_failed_deployment_can_be_neither_rolled_back_to_nor_promoted() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("rb-failed");
    let port = free_port();
    deploy(&env, &web, WEB_V1, &["--publish", &port.to_string()]);
    let crashed = env
        .run(&["--output", "json", "deploy", &web, "--image", CRASH])
        .code(5)
        .json();
    assert_eq!(crashed["status"], "failed", "{crashed}");
    assert_eq!(serving(port).as_deref(), Some("v1"));

    refused(&env, &web, &["rollback", &id(&crashed), "--yes"], 4)
        .stderr_has("failed")
        .stderr_has("hint:");
    refused(&env, &web, &["promote", &id(&crashed), "--yes"], 4)
        .stderr_has("failed")
        .stderr_has("hint:");
    assert_eq!(serving(port).as_deref(), Some("v1"));
}

#[test]
fn rollback_to_the_current_deployment_exits_4() {
    require_docker!();
    let env = TestEnv::new();
    let (web, port, _v1, v2) = two_versions(&env, "rb-current");
    refused(&env, &web, &["rollback", &id(&v2), "--yes"], 4).stderr_has("hint:");
    assert_eq!(serving(port).as_deref(), Some("v2"));
}

#[test]
fn rollback_to_a_ready_deployment_exits_4() {
    require_docker!();
    let env = TestEnv::new();
    let (web, port, v1, _v2) = two_versions(&env, "rb-ready");
    env.ok(&["rollback", &id(&v1), "--yes"]);
    let ready = deploy(&env, &web, FLAKY, &[]);
    assert_eq!(ready["status"], "ready", "{ready}");
    refused(&env, &web, &["rollback", &id(&ready), "--yes"], 4)
        .stderr_has("ready")
        .stderr_has("hint:");
    assert_eq!(serving(port).as_deref(), Some("v1"));
}

/// An image of its own (a new id), so that the test may remove it from the host.
struct OwnImage {
    tag: String,
}

impl OwnImage {
    fn new(unique: &str) -> OwnImage {
        let tag = format!("temps-test/own-{unique}:v1");
        let made = docker(&["create", WEB_V1]).code(0);
        let scratch = made.stdout.trim().to_string();
        docker(&[
            "commit",
            "--change",
            &format!("LABEL dev.temps.test={unique}"),
            &scratch,
            &tag,
        ])
        .code(0);
        docker(&["rm", &scratch]).code(0);
        OwnImage { tag }
    }
}

impl Drop for OwnImage {
    fn drop(&mut self) {
        let _ = docker(&["rmi", "-f", &self.tag]);
    }
}

#[test]
fn rollback_to_an_image_gone_from_the_host_exits_4_with_a_redeploy_hint() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("rb-gone");
    let own = OwnImage::new(&web);
    let port = free_port();
    let old = deploy(&env, &web, &own.tag, &["--publish", &port.to_string()]);
    assert_eq!(serving(port).as_deref(), Some("v1"));
    deploy(&env, &web, WEB_V2, &[]);
    let image_id = old["image_id"].as_str().expect("image_id").to_string();
    assert_ne!(
        docker_inspect(WEB_V1, "{{.Id}}").as_deref(),
        Some(image_id.as_str()),
        "the test image must be one of its own"
    );

    // Remove every trace of the old image: its container, its tags, the image itself.
    docker(&["rm", "-f", &container(&web, "production", &id(&old))]).code(0);
    docker(&["rmi", &own.tag, &format!("temps/{web}:{}", id(&old))]).code(0);
    let _ = docker(&["rmi", "-f", &image_id]);
    assert_eq!(
        docker_inspect(&image_id, "{{.Id}}"),
        None,
        "the image is gone"
    );

    refused(&env, &web, &["rollback", &id(&old), "--yes"], 4)
        .stderr_has("hint:")
        .stderr_has(&format!("temps deploy {web} --image"));
    refused(&env, &web, &["rollback", &id(&old), "--dry-run"], 4)
        .stderr_has(&format!("temps deploy {web} --image"));
    assert_eq!(serving(port).as_deref(), Some("v2"));
}

/// A tag of the test's own, removed at the end.
struct OwnTag(String);

impl Drop for OwnTag {
    fn drop(&mut self) {
        let _ = docker(&["rmi", &self.0]);
    }
}

#[test]
fn rollback_runs_the_recorded_image_id_even_when_its_tag_moved_on() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("rb-moved");
    let tag = OwnTag(format!("temps-test/moving-{web}:live"));
    docker(&["tag", WEB_V1, &tag.0]).code(0);
    let port = free_port();
    let old = deploy(&env, &web, &tag.0, &["--publish", &port.to_string()]);
    deploy(&env, &web, WEB_V2, &[]);
    // The tag now names another image; the rollback must not re-resolve it.
    docker(&["tag", FLAKY, &tag.0]).code(0);

    let rb = env.json(&["rollback", &id(&old), "--yes"]);
    assert_eq!(rb["image_id"], old["image_id"], "{rb}");
    assert_eq!(serving(port).as_deref(), Some("v1"));
    assert_eq!(
        docker_inspect(&container(&web, "production", &id(&rb)), "{{.Image}}"),
        old["image_id"].as_str().map(String::from)
    );
}

#[test]
fn rollback_without_a_docker_engine_exits_6() {
    require_docker!();
    let env = TestEnv::new();
    let (web, port, v1, _v2) = two_versions(&env, "rb-nodocker");
    refused_with(
        &env,
        &[("DOCKER_HOST", NO_DOCKER)],
        &web,
        &["rollback", &id(&v1), "--yes"],
        6,
    )
    .stderr_has("hint:");
    refused_with(
        &env,
        &[("DOCKER_HOST", NO_DOCKER)],
        &web,
        &["rollback", &id(&v1), "--dry-run"],
        6,
    );
    assert_eq!(serving(port).as_deref(), Some("v2"));
}

// ---------------------------------------------------------------------------------------
// Confirmation and the plan

#[test]
fn rollback_without_a_terminal_needs_yes() {
    require_docker!();
    let env = TestEnv::new();
    let (web, port, v1, _v2) = two_versions(&env, "rb-noyes");
    refused(&env, &web, &["rollback", &id(&v1)], 2).stderr_has("--yes");
    refused(&env, &web, &["rollback", "--project", &web], 2).stderr_has("--yes");
    refused(&env, &web, &["promote", &id(&v1)], 2).stderr_has("--yes");
    assert_eq!(serving(port).as_deref(), Some("v2"));
    // Nothing was left behind (a lock, say): the confirmed rollback runs.
    env.ok(&["rollback", &id(&v1), "--yes"]);
    assert_eq!(serving(port).as_deref(), Some("v1"));
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    require_docker!();
    let env = TestEnv::new();
    let (web, port, v1, v2) = two_versions(&env, "rb-dry");
    let secret = format!("s3cret-{web}");
    env.ok(&["env", "set", &web, &format!("GREETING={secret}")]);

    let plan = refused(&env, &web, &["rollback", &id(&v1), "--dry-run"], 0).stdout_has("GREETING");
    assert_plan(&plan.stdout, &v2, &v1);
    assert!(
        !plan.stdout.contains(&secret) && !plan.stderr.contains(&secret),
        "the plan shows a variable's value:\n{}\n{}",
        plan.stdout,
        plan.stderr
    );

    let run = refused(
        &env,
        &web,
        &["--output", "json", "rollback", &id(&v1), "--dry-run"],
        0,
    );
    assert!(!run.stdout.contains(&secret), "{}", run.stdout);
    let doc = run.json();
    assert_eq!(doc["dry_run"], true, "{doc}");
    assert_eq!(doc["target"]["id"], v1["id"], "{doc}");
    assert_eq!(doc["current"]["id"], v2["id"], "{doc}");
    assert_eq!(
        doc["changed_variables"],
        serde_json::json!(["GREETING"]),
        "{doc}"
    );
    assert_eq!(serving(port).as_deref(), Some("v2"));
}

// ---------------------------------------------------------------------------------------
// A rollback that fails its health check

#[test]
fn rollback_that_fails_its_health_check_restores_the_previous_version() {
    require_docker!();
    let env = TestEnv::new();
    // No health path: the image's own HEALTHCHECK decides.
    let web = env.project_name("rb-unhealthy");
    env.ok(&["project", "create", &web, "--health-timeout", "20s"]);
    let port = free_port();
    let flaky = deploy(&env, &web, FLAKY, &["--publish", &port.to_string()]);
    assert_eq!(serving(port).as_deref(), Some("flaky"));
    let v2 = deploy(&env, &web, WEB_V2, &[]);
    assert_eq!(serving(port).as_deref(), Some("v2"));
    // The environment's current variables break the earlier image's health check.
    env.ok(&["env", "set", &web, "BROKEN=1"]);

    let run = env
        .run(&["--output", "json", "rollback", &id(&flaky), "--yes"])
        .code(5)
        .stderr_has("hint:");
    let failed = run.json();

    assert_eq!(
        serving(port).as_deref(),
        Some("v2"),
        "the previous version serves"
    );
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["is_rollback"], true, "{failed}");
    assert_eq!(failed["rolled_back_from_id"], v2["id"], "{failed}");
    assert_eq!(failed["rolled_back_to_id"], flaky["id"], "{failed}");
    assert!(
        failed["error"].as_str().is_some_and(|e| !e.is_empty()),
        "a failed rollback says why: {failed}"
    );
    assert_is_the_record(&env, &failed);
    assert_eq!(
        docker_inspect(&container(&web, "production", &id(&failed)), "{{.Id}}"),
        None,
        "the failed rollback's container is removed"
    );

    let list = history(&env, &web);
    let statuses: Vec<&str> = list.iter().map(|d| d["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["failed", "deployed", "completed"]);
    assert_eq!(list[1]["id"], v2["id"]);
    let production = environment(&env, &web, "production");
    assert_eq!(
        production["current_deployment_id"], v2["id"],
        "{production}"
    );
    assert_eq!(production["state"], "normal", "{production}");
}

// ---------------------------------------------------------------------------------------
// The rolled-back state and promote

#[test]
fn deploys_wait_as_ready_while_rolled_back_until_promoted() {
    require_docker!();
    let env = TestEnv::new();
    let (web, port, v1, _v2) = two_versions(&env, "rb-promote");
    let rb = env.json(&["rollback", &id(&v1), "--yes"]);
    assert_eq!(serving(port).as_deref(), Some("v1"));

    // A new push does not undo the rollback.
    let ready = deploy(&env, &web, FLAKY, &[]);
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(
        serving(port).as_deref(),
        Some("v1"),
        "a ready deployment does not serve"
    );
    let production = environment(&env, &web, "production");
    assert_eq!(production["state"], "rolled_back", "{production}");
    assert_eq!(
        production["current_deployment_id"], rb["id"],
        "{production}"
    );

    // Promote makes it serve and ends the rolled-back state.
    let promoted = env.json(&["promote", &id(&ready), "--yes"]);
    assert_eq!(serving(port).as_deref(), Some("flaky"));
    assert_eq!(promoted["is_promote"], true, "{promoted}");
    assert_eq!(promoted["is_rollback"], false, "{promoted}");
    assert_eq!(promoted["status"], "deployed", "{promoted}");
    assert_eq!(promoted["image_id"], ready["image_id"], "{promoted}");
    assert!(promoted["id"].as_i64() > ready["id"].as_i64(), "{promoted}");
    assert_is_the_record(&env, &promoted);
    assert_eq!(show(&env, &id(&rb))["status"], "completed");
    let production = environment(&env, &web, "production");
    assert_eq!(production["state"], "normal", "{production}");
    assert_eq!(
        production["current_deployment_id"], promoted["id"],
        "{production}"
    );

    // And the next deploy serves at once.
    let next = deploy(&env, &web, WEB_V2, &[]);
    assert_eq!(next["status"], "deployed", "{next}");
    assert_eq!(serving(port).as_deref(), Some("v2"));
}

#[test]
fn promoting_a_completed_deployment_serves_it_and_leaves_the_environment_normal() {
    require_docker!();
    let env = TestEnv::new();
    let (web, port, v1, v2) = two_versions(&env, "rb-promote-old");
    let promoted = env.json(&["promote", &id(&v1), "--yes"]);
    assert_eq!(serving(port).as_deref(), Some("v1"));
    assert_eq!(promoted["is_promote"], true, "{promoted}");
    assert_eq!(promoted["image_id"], v1["image_id"], "{promoted}");
    assert_eq!(promoted["status"], "deployed", "{promoted}");
    assert_eq!(show(&env, &id(&v2))["status"], "completed");
    let production = environment(&env, &web, "production");
    assert_eq!(production["state"], "normal", "{production}");
    assert_eq!(
        production["current_deployment_id"], promoted["id"],
        "{production}"
    );
}

#[test]
fn a_promote_that_fails_its_health_check_keeps_the_rollback_serving() {
    require_docker!();
    let env = TestEnv::new();
    // No health path: the image's own HEALTHCHECK decides.
    let web = env.project_name("rb-promote-sick");
    env.ok(&["project", "create", &web, "--health-timeout", "20s"]);
    let port = free_port();
    let v1 = deploy(&env, &web, WEB_V1, &["--publish", &port.to_string()]);
    deploy(&env, &web, WEB_V2, &[]);
    let rb = env.json(&["rollback", &id(&v1), "--yes"]);
    let ready = deploy(&env, &web, FLAKY, &[]);
    assert_eq!(ready["status"], "ready", "{ready}");
    env.ok(&["env", "set", &web, "BROKEN=1"]);

    let failed = env
        .run(&["--output", "json", "promote", &id(&ready), "--yes"])
        .code(5)
        .stderr_has("hint:")
        .json();
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["is_promote"], true, "{failed}");
    assert!(
        failed["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{failed}"
    );
    assert_eq!(
        serving(port).as_deref(),
        Some("v1"),
        "the rollback serves again"
    );
    let production = environment(&env, &web, "production");
    assert_eq!(
        production["current_deployment_id"], rb["id"],
        "{production}"
    );
    assert_eq!(production["state"], "rolled_back", "{production}");
    assert_eq!(show(&env, &id(&rb))["status"], "deployed");
    assert_eq!(show(&env, &id(&ready))["status"], "ready");
}

#[test]
fn promoting_the_current_deployment_only_clears_the_state() {
    require_docker!();
    let env = TestEnv::new();
    let (web, port, v1, _v2) = two_versions(&env, "rb-clear");
    let rb = env.json(&["rollback", &id(&v1), "--yes"]);
    let before = history(&env, &web);

    env.ok(&["promote", &id(&rb), "--yes"]);
    assert_eq!(
        history(&env, &web),
        before,
        "no new record, no status changed"
    );
    let production = environment(&env, &web, "production");
    assert_eq!(production["state"], "normal", "{production}");
    assert_eq!(
        production["current_deployment_id"], rb["id"],
        "{production}"
    );
    assert_eq!(serving(port).as_deref(), Some("v1"));

    let next = deploy(&env, &web, WEB_V2, &[]);
    assert_eq!(next["status"], "deployed", "{next}");
    assert_eq!(serving(port).as_deref(), Some("v2"));
}

// ---------------------------------------------------------------------------------------
// Choosing the target

#[test]
fn rollback_of_a_project_with_yes_picks_the_most_recent_target() {
    require_docker!();
    let env = TestEnv::new();
    let (web, port, _v1, v2) = two_versions(&env, "rb-pick");
    let flaky = deploy(&env, &web, FLAKY, &[]);
    assert_eq!(serving(port).as_deref(), Some("flaky"));

    let rb = env.json(&["rollback", "--project", &web, "--yes"]);
    assert_eq!(rb["rolled_back_to_id"], v2["id"], "{rb}");
    assert_eq!(rb["rolled_back_from_id"], flaky["id"], "{rb}");
    assert_eq!(serving(port).as_deref(), Some("v2"));
}

#[test]
fn rollback_needs_a_deployment_or_a_project() {
    let env = TestEnv::new();
    env.run(&["rollback", "--yes"])
        .code(2)
        .stderr_has("--project");
}

// ---------------------------------------------------------------------------------------
// On a terminal

#[test]
fn the_confirmation_defaults_to_no() {
    require_docker!();
    let env = TestEnv::new();
    let (web, port, v1, v2) = two_versions(&env, "rb-no");
    let secret = format!("s3cret-{web}");
    env.ok(&["env", "set", &web, &format!("GREETING={secret}")]);
    let before = snapshot(&env, &web);

    let session = env
        .terminal(
            &["rollback", &id(&v1)],
            &[PtyStep::Expect("[y/N]"), PtyStep::Press("n")],
        )
        .code(2)
        .has("production")
        .has("GREETING");
    assert_plan(&session.text, &v2, &v1);
    assert!(
        !session.text.contains(&secret),
        "the prompt shows a variable's value:\n{}",
        session.text
    );
    assert_eq!(
        snapshot(&env, &web),
        before,
        "answering n changed the history"
    );

    env.terminal(
        &["rollback", &id(&v1)],
        &[PtyStep::Expect("[y/N]"), PtyStep::Press("\r")],
    )
    .code(2);
    assert_eq!(
        snapshot(&env, &web),
        before,
        "pressing Enter changed the history"
    );
    assert_eq!(serving(port).as_deref(), Some("v2"));
    env.ok(&["rollback", &id(&v1), "--yes"]);
    assert_eq!(serving(port).as_deref(), Some("v1"));
}

#[test]
fn the_confirmation_answered_yes_rolls_back() {
    require_docker!();
    let env = TestEnv::new();
    let (web, port, v1, _v2) = two_versions(&env, "rb-yes");
    env.terminal(
        &["rollback", &id(&v1)],
        &[
            PtyStep::Expect(&format!("Roll back production to #{}?", id(&v1))),
            PtyStep::Press("y"),
        ],
    )
    .code(0);
    assert_eq!(serving(port).as_deref(), Some("v1"));
    let latest = &history(&env, &web)[0];
    assert_eq!(latest["is_rollback"], true, "{latest}");
    assert_eq!(latest["rolled_back_to_id"], v1["id"], "{latest}");
    assert_eq!(latest["status"], "deployed", "{latest}");
}

/// v1, v2, then flaky (current): the targets are v2 and v1, newest first.
fn three_versions(env: &TestEnv, hint: &str) -> (String, u16, Value, Value) {
    let (web, port, v1, v2) = two_versions(env, hint);
    deploy(env, &web, FLAKY, &[]);
    assert_eq!(serving(port).as_deref(), Some("flaky"));
    (web, port, v1, v2)
}

/// How the picker shows a deployment, from its id on, after the `>` of the selection.
fn item(record: &Value) -> String {
    format!(
        "#{:<5} {}",
        id(record),
        record["image"].as_str().expect("image")
    )
}

#[test]
fn the_picker_preselects_the_most_recent_target() {
    require_docker!();
    let env = TestEnv::new();
    let (web, port, v1, v2) = three_versions(&env, "rb-picker");
    let prompt = format!("Roll back {web}/production to");
    let selected = format!("> {}", item(&v2));
    let confirm = format!("Roll back production to #{}?", id(&v2));

    // Esc chooses nothing, and nothing changes.
    let before = snapshot(&env, &web);
    env.terminal(
        &["rollback", "--project", &web],
        &[PtyStep::Expect(&selected), PtyStep::Press("\x1b")],
    )
    .code(2);
    assert_eq!(
        snapshot(&env, &web),
        before,
        "Esc in the picker changed the history"
    );

    let session = env
        .terminal(
            &["rollback", "--project", &web],
            &[
                PtyStep::Expect(&prompt),
                PtyStep::Expect(&selected),
                PtyStep::Press("\r"),
                PtyStep::Expect(&confirm),
                PtyStep::Press("y"),
            ],
        )
        .code(0);

    // Newest first: v2 is listed before v1.
    let shown = &session.text[session.text.find(&prompt).unwrap()..];
    let (at_v2, at_v1) = (shown.find(&item(&v2)), shown.find(&item(&v1)));
    assert!(
        at_v2.is_some() && at_v1.is_some() && at_v2 < at_v1,
        "the picker lists v2 then v1:\n{shown}"
    );
    assert_eq!(serving(port).as_deref(), Some("v2"));
    let latest = &history(&env, &web)[0];
    assert_eq!(latest["rolled_back_to_id"], v2["id"], "{latest}");
}

#[test]
fn the_picker_moves_down_to_an_older_target() {
    require_docker!();
    let env = TestEnv::new();
    let (web, port, v1, v2) = three_versions(&env, "rb-down");
    let preselected = format!("> {}", item(&v2));
    let moved = format!("> {}", item(&v1));
    let confirm = format!("Roll back production to #{}?", id(&v1));
    env.terminal(
        &["rollback", "--project", &web],
        &[
            PtyStep::Expect(&preselected),
            PtyStep::Press("\x1b[B"),
            PtyStep::Expect(&moved),
            PtyStep::Press("\r"),
            PtyStep::Expect(&confirm),
            PtyStep::Press("y"),
        ],
    )
    .code(0);
    assert_eq!(serving(port).as_deref(), Some("v1"));
    let latest = &history(&env, &web)[0];
    assert_eq!(latest["rolled_back_to_id"], v1["id"], "{latest}");
}

// ---------------------------------------------------------------------------------------
// The static preset: no Docker at all

/// Run temps where no Docker engine answers.
fn no_docker(env: &TestEnv, args: &[&str]) -> Run {
    env.run_with(&[("DOCKER_HOST", NO_DOCKER)], args)
}

/// A static project with two releases (`one`, then `two`), deployed without Docker.
fn two_releases(env: &TestEnv, hint: &str) -> (String, Value, Value) {
    let site = env.project_name(hint);
    no_docker(env, &["project", "create", &site, "--preset", "static"]).code(0);
    let mut records = Vec::new();
    for body in ["one", "two"] {
        let dir = env.dir.path().join(format!("build-{body}"));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("index.html"), body).unwrap();
        let run = no_docker(
            env,
            &[
                "--output",
                "json",
                "deploy",
                &site,
                "--dir",
                dir.to_str().unwrap(),
            ],
        )
        .code(0);
        records.push(run.json());
    }
    let second = records.pop().unwrap();
    let first = records.pop().unwrap();
    (site, first, second)
}

/// `<dir of the db>/static/<project>/<environment>/current`.
fn current_link(env: &TestEnv, project: &str, environment: &str) -> PathBuf {
    env.db()
        .parent()
        .unwrap()
        .join("static")
        .join(project)
        .join(environment)
        .join("current")
}

fn served_file(env: &TestEnv, project: &str) -> String {
    fs::read_to_string(current_link(env, project, "production").join("index.html"))
        .expect("the current release has index.html")
}

#[test]
fn static_rollback_and_promote_move_the_current_link_without_docker() {
    let env = TestEnv::new();
    let (site, first, second) = two_releases(&env, "rb-static");
    let release = |record: &Value| {
        env.db()
            .parent()
            .unwrap()
            .join("static")
            .join(&site)
            .join("releases")
            .join(id(record))
    };
    let link = current_link(&env, &site, "production");
    assert_eq!(served_file(&env, &site), "two");

    let run = no_docker(
        &env,
        &["--output", "json", "rollback", &id(&first), "--yes"],
    )
    .code(0);
    let rb = run.json();
    assert_eq!(rb["is_rollback"], true, "{rb}");
    assert_eq!(rb["rolled_back_from_id"], second["id"], "{rb}");
    assert_eq!(rb["rolled_back_to_id"], first["id"], "{rb}");
    assert_eq!(rb["status"], "deployed", "{rb}");
    assert_eq!(rb["image"], Value::Null, "{rb}");
    assert_eq!(rb["artifact"], first["artifact"], "{rb}");
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "{} is a symlink",
        link.display()
    );
    assert_eq!(
        fs::canonicalize(&link).unwrap(),
        fs::canonicalize(release(&first)).unwrap()
    );
    assert_eq!(served_file(&env, &site), "one");
    assert_eq!(
        environment(&env, &site, "production")["state"],
        "rolled_back"
    );

    // A new release while rolled back waits as `ready`: the link stays.
    let dir = env.dir.path().join("build-three");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("index.html"), "three").unwrap();
    let ready = no_docker(
        &env,
        &[
            "--output",
            "json",
            "deploy",
            &site,
            "--dir",
            dir.to_str().unwrap(),
        ],
    )
    .code(0)
    .json();
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(served_file(&env, &site), "one");

    let promoted = no_docker(
        &env,
        &["--output", "json", "promote", &id(&second), "--yes"],
    )
    .code(0)
    .json();
    assert_eq!(promoted["is_promote"], true, "{promoted}");
    assert_eq!(promoted["status"], "deployed", "{promoted}");
    assert_eq!(
        fs::canonicalize(&link).unwrap(),
        fs::canonicalize(release(&second)).unwrap()
    );
    assert_eq!(served_file(&env, &site), "two");
    let production = environment(&env, &site, "production");
    assert_eq!(production["state"], "normal", "{production}");
    assert_eq!(
        production["current_deployment_id"], promoted["id"],
        "{production}"
    );
}

#[test]
fn static_rollback_to_a_removed_release_exits_4() {
    let env = TestEnv::new();
    let (site, first, _second) = two_releases(&env, "rb-static-gone");
    let release = PathBuf::from(first["artifact"].as_str().expect("artifact"));
    assert!(release.is_dir(), "{}", release.display());
    fs::remove_dir_all(&release).unwrap();

    refused_with(
        &env,
        &[("DOCKER_HOST", NO_DOCKER)],
        &site,
        &["rollback", &id(&first), "--yes"],
        4,
    )
    .stderr_has("hint:");
    assert_eq!(served_file(&env, &site), "two");
}

// ---------------------------------------------------------------------------------------
// Environments are independent

#[test]
fn a_rollback_in_staging_leaves_production_alone() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("rb-envs");
    let (prod_port, staging_port) = two_free_ports();
    deploy(&env, &web, WEB_V1, &["--publish", &prod_port.to_string()]);
    let staged = deploy(
        &env,
        &web,
        WEB_V1,
        &[
            "--environment",
            "staging",
            "--publish",
            &staging_port.to_string(),
        ],
    );
    let staged_v2 = deploy(&env, &web, WEB_V2, &["--environment", "staging"]);
    let prod_v2 = deploy(&env, &web, WEB_V2, &[]);
    let production_history =
        |env: &TestEnv| env.history(&[&web, "--environment", "production", "--limit", "0"]);
    let prod_before = production_history(&env);
    let prod_env_before = environment(&env, &web, "production");

    let plan = env.json(&[
        "rollback",
        "--project",
        &web,
        "--environment",
        "staging",
        "--dry-run",
    ]);
    assert_eq!(plan["environment"], "staging", "{plan}");
    assert_eq!(plan["target"]["id"], staged["id"], "{plan}");
    assert_eq!(plan["current"]["id"], staged_v2["id"], "{plan}");

    let rb = env.json(&["rollback", &id(&staged), "--yes"]);
    assert_eq!(rb["environment"], "staging", "{rb}");
    assert_eq!(rb["rolled_back_from_id"], staged_v2["id"], "{rb}");
    assert_eq!(serving(staging_port).as_deref(), Some("v1"));
    assert_eq!(serving(prod_port).as_deref(), Some("v2"));

    assert_eq!(production_history(&env), prod_before);
    assert_eq!(environment(&env, &web, "production"), prod_env_before);
    assert_eq!(prod_env_before["state"], "normal");
    assert_eq!(prod_env_before["current_deployment_id"], prod_v2["id"]);
    let staging = environment(&env, &web, "staging");
    assert_eq!(staging["state"], "rolled_back", "{staging}");
    assert_eq!(staging["current_deployment_id"], rb["id"], "{staging}");
    assert_eq!(
        docker_inspect(
            &container(&web, "production", &id(&prod_v2)),
            "{{.State.Running}}"
        )
        .as_deref(),
        Some("true")
    );
}
