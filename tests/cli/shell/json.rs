//! `--output json` everywhere: every command that prints puts exactly one JSON document
//! on stdout; errors go to stderr and keep their exit codes.

use super::*;
use crate::require_docker;

/// `temps --output json ARGS`, expecting exit 0 and exactly one JSON document on stdout
/// (`serde_json::from_str` of the whole of it).
#[track_caller]
fn one_document(env: &TestEnv, args: &[&str]) -> Value {
    env.json(args)
}

#[track_caller]
fn array(value: Value, what: &str) -> Vec<Value> {
    match value {
        Value::Array(all) => all,
        other => panic!("{what} printed {other}, not an array"),
    }
}

#[test]
fn every_command_prints_one_json_document() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.project_name("json");
    let port = free_port().to_string();

    let created = one_document(
        &env,
        &["project", "create", &web, "--health-path", "/healthz"],
    );
    assert_eq!(created["name"], web.as_str(), "{created}");
    let updated = one_document(
        &env,
        &["project", "update", &web, "--health-timeout", "20s"],
    );
    assert_eq!(updated["health_timeout"], "20s", "{updated}");
    let projects = array(one_document(&env, &["project", "list"]), "`project list`");
    assert!(
        projects.iter().any(|p| p["name"] == web.as_str()),
        "{projects:?}"
    );
    array(one_document(&env, &["project", "ls"]), "`project ls`");
    let shown = one_document(&env, &["project", "show", &web]);
    assert_eq!(shown["name"], web.as_str(), "{shown}");

    let set = one_document(&env, &["env", "set", &web, "GREETING=hi", "SECRET=s3"]);
    assert!(set.is_object(), "{set}");
    let unset = one_document(&env, &["env", "unset", &web, "SECRET"]);
    assert!(unset.is_object(), "{unset}");
    let vars = one_document(&env, &["env", "list", &web]);
    assert_eq!(vars["project"], web.as_str(), "{vars}");
    one_document(&env, &["env", "ls", &web, "--reveal"]);

    let v1 = one_document(
        &env,
        &["deploy", &web, "--image", WEB_V1, "--publish", &port],
    );
    assert_eq!(v1["status"], "deployed", "{v1}");
    let v2 = one_document(
        &env,
        &["deploy", &web, "--image", WEB_V2, "--reason", "two"],
    );
    assert_eq!(v2["status"], "deployed", "{v2}");
    let list = array(one_document(&env, &["list", &web]), "`list`");
    assert_eq!(list.len(), 2, "{list:?}");
    assert!(
        list.iter().all(|d| d.get("can_roll_back").is_some()),
        "{list:?}"
    );
    array(one_document(&env, &["ls", &web, "--limit", "1"]), "`ls`");
    // The global flag after the subcommand works the same.
    let after = env.ok(&["list", &web, "--output", "json"]).json();
    assert!(after.is_array(), "{after}");
    let one = one_document(&env, &["show", &id(&v1)]);
    assert_eq!(one["id"], v1["id"], "{one}");
    array(one_document(&env, &["status", &web]), "`status PROJECT`");
    array(one_document(&env, &["status"]), "`status`");

    let plan = one_document(&env, &["rollback", &id(&v1), "--dry-run"]);
    assert_eq!(plan["dry_run"], true, "{plan}");
    let rollback = one_document(&env, &["rollback", &id(&v1), "--yes"]);
    assert_eq!(rollback["is_rollback"], true, "{rollback}");
    let ready = one_document(&env, &["deploy", &web, "--image", WEB_V2]);
    assert_eq!(ready["status"], "ready", "{ready}");
    let promoted = one_document(&env, &["promote", &id(&ready), "--yes"]);
    assert_eq!(promoted["is_promote"], true, "{promoted}");
    let cleared = one_document(&env, &["promote", &id(&promoted), "--yes"]);
    assert_eq!(cleared["id"], promoted["id"], "{cleared}");

    let dry = one_document(&env, &["prune", &web, "--keep", "0", "--dry-run"]);
    assert_eq!(dry["dry_run"], true, "{dry}");
    assert!(
        dry["pruned"].as_array().is_some_and(|p| !p.is_empty()),
        "{dry}"
    );
    let pruned = one_document(&env, &["prune", &web, "--keep", "0"]);
    assert_eq!(pruned["dry_run"], false, "{pruned}");
    assert_eq!(
        pruned["pruned"], dry["pruned"],
        "the dry run said otherwise"
    );
    let nothing = one_document(&env, &["prune", &web]);
    assert_eq!(nothing["pruned"], serde_json::json!([]), "{nothing}");
}

#[test]
fn a_static_project_prints_one_json_document_too() {
    let env = TestEnv::new();
    let site = env.project_name("json-site");
    one_document(&env, &["project", "create", &site, "--preset", "static"]);
    let dist = env.dir.path().join("dist");
    std::fs::create_dir_all(&dist).expect("dist");
    std::fs::write(dist.join("index.html"), "one\n").expect("index");
    let first = one_document(&env, &["deploy", &site, "--dir", &dist.to_string_lossy()]);
    assert!(
        first["image"].is_null() && first["artifact"].is_string(),
        "{first}"
    );
    let second = one_document(&env, &["deploy", &site, "--dir", &dist.to_string_lossy()]);
    let list = array(one_document(&env, &["list", &site]), "`list`");
    assert_eq!(list.len(), 2, "{list:?}");
    one_document(&env, &["rollback", &id(&first), "--dry-run"]);
    one_document(&env, &["rollback", &id(&first), "--yes"]);
    one_document(&env, &["promote", &id(&second), "--yes"]);
    one_document(&env, &["status", &site]);
    one_document(&env, &["prune", &site, "--keep", "0", "--dry-run"]);
    one_document(&env, &["prune", &site, "--keep", "0"]);
}

/// An error in JSON mode: the exit code; on stdout the deployment's record, exactly one
/// JSON document, when the operation had recorded one (a failed health check: exit 5;
/// an interrupt: 130), else nothing at all (README, "JSON output"); the error and its
/// hint on stderr.
#[track_caller]
fn json_error(env: &TestEnv, args: &[&str], code: i32) -> Run {
    let mut full = vec!["--output", "json"];
    full.extend_from_slice(args);
    let run = env.run(&full).code(code);
    if matches!(code, 5 | 130) {
        let record = run.json();
        assert!(record["id"].is_i64(), "not a deployment: {record}");
    } else {
        assert_eq!(
            run.stdout,
            "",
            "`temps {}` (exit {code}) printed a document",
            full.join(" ")
        );
    }
    assert!(
        run.stderr.contains("error:"),
        "`temps {}` (exit {code}) put no error on stderr:\n{}",
        full.join(" "),
        run.stderr
    );
    run
}

#[test]
fn errors_go_to_stderr_and_keep_their_exit_codes_in_json_mode() {
    let env = TestEnv::new();
    let ghost = env.project_name("ghost");
    for args in [
        vec!["project", "show", ghost.as_str()],
        vec!["project", "update", ghost.as_str(), "--health-path", "/x"],
        vec!["list", ghost.as_str()],
        vec!["status", ghost.as_str()],
        vec!["env", "list", ghost.as_str()],
        vec!["env", "set", ghost.as_str(), "A=1"],
        vec!["env", "unset", ghost.as_str(), "A"],
        vec!["prune", ghost.as_str()],
        vec!["prune", ghost.as_str(), "--dry-run"],
        vec!["deploy", ghost.as_str(), "--image", WEB_V1],
        vec!["show", "987654"],
        vec!["rollback", "987654", "--yes"],
        vec!["rollback", "987654", "--dry-run"],
        vec!["promote", "987654", "--yes"],
    ] {
        let run = json_error(&env, &args, 3);
        assert!(
            run.stdout.trim().is_empty(),
            "`temps {}` found nothing and still printed {}",
            args.join(" "),
            run.stdout
        );
    }
    // Usage errors: exit 2, nothing on stdout.
    let run = json_error(&env, &["rollback"], 2);
    assert_eq!(run.stdout, "");
    let run = json_error(&env, &["project", "create", "Not_A_Name"], 2);
    assert_eq!(run.stdout, "");
}

#[test]
fn failed_and_refused_operations_keep_their_codes_in_json_mode() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("json-fail");
    let port = free_port().to_string();
    let v1 = deploy(&env, &web, WEB_V1, &["--publish", &port]);

    // A failed health check: exit 5, the failed record on stdout, the error on stderr.
    let failed = json_error(&env, &["deploy", &web, "--image", CRASH], 5);
    let record = failed.json();
    assert_eq!(record["status"], "failed", "{record}");
    // Refused: the target serves already.
    json_error(&env, &["rollback", &id(&v1), "--yes"], 4);
    // Confirmation needed and no terminal.
    let v2 = deploy(&env, &web, WEB_V2, &[]);
    assert_eq!(v2["status"], "deployed");
    json_error(&env, &["rollback", &id(&v1)], 2);
    // Docker unreachable.
    let run = env.run_with(
        &[("DOCKER_HOST", NO_DOCKER)],
        &["--output", "json", "rollback", &id(&v1), "--yes"],
    );
    let run = run.code(6);
    assert_eq!(run.stdout, "", "nothing was recorded to print");
    assert!(run.stderr.contains("error:"), "{}", run.stderr);
    assert_eq!(serving(port.parse().unwrap()).as_deref(), Some("v2"));
}
