//! `temps status`: what each environment serves, its containers' live state, and the drift
//! between the history and Docker when someone changed the containers behind temps' back.

use super::*;

/// Status of one project, as JSON: its environments.
fn status(env: &TestEnv, project: &str) -> Vec<Value> {
    match env.json(&["status", project]) {
        Value::Array(all) => all,
        other => panic!("`temps status` printed {other}, not an array"),
    }
}

#[test]
fn status_shows_what_serves_and_the_state_of_its_containers() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("status");
    let port = free_port();
    let v1 = deploy_json(&env, &web, WEB_V1, Some(port));
    let v2 = deploy_json(&env, &web, WEB_V2, None);
    let (old, new) = (
        v1["containers"][0].as_str().unwrap(),
        v2["containers"][0].as_str().unwrap(),
    );

    let all = status(&env, &web);
    assert_eq!(all.len(), 1, "{all:?}");
    let production = &all[0];
    assert_eq!(production["project"], web.as_str());
    assert_eq!(production["environment"], "production");
    assert_eq!(production["state"], "normal");
    assert_eq!(production["publish"], port.to_string());
    assert_same_deployment(&production["current"], &v2);
    assert_eq!(production["drift"], serde_json::json!([]));
    let containers = production["containers"].as_array().unwrap();
    let state_of = |name: &str| {
        containers
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {containers:?}"))["state"]
            .clone()
    };
    assert_eq!(state_of(new), "running");
    assert_eq!(state_of(old), "exited");

    let id = v2["id"].to_string();
    let table = env
        .ok(&["status", &web])
        .stdout_has(&format!("{web}/production  normal"))
        .stdout_has(&format!("serving    #{id} {WEB_V2}"))
        .stdout_has("by alice")
        .stdout_has(&format!("published  {port}"))
        .stdout_has(&format!("container  {new}  running"))
        .stdout_has(&format!("container  {old}  exited"));
    assert!(!table.stdout.contains("drift"), "{}", table.stdout);

    // Without a project: every project of this history.
    let everything = env.json(&["status"]);
    assert_eq!(everything.as_array().unwrap().len(), 1);
    assert_eq!(everything[0]["current"]["id"], v2["id"]);
}

#[test]
fn status_reports_drift_when_the_serving_container_is_stopped_then_removed() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("drift");
    let d = deploy_json(&env, &web, WEB_V1, Some(free_port()));
    let container = d["containers"][0].as_str().unwrap().to_string();

    docker(&["stop", &container]).code(0);
    let drift = status(&env, &web)[0]["drift"].clone();
    let text = drift.to_string();
    assert!(
        text.contains(&container) && text.contains("exited"),
        "{drift}"
    );
    env.ok(&["status", &web])
        .stdout_has(&format!(
            "drift      {container} should serve but is exited"
        ))
        .stdout_has("hint:");

    docker(&["rm", &container]).code(0);
    let drift = status(&env, &web)[0]["drift"].clone();
    assert!(drift.to_string().contains("does not exist"), "{drift}");
    env.ok(&["status", &web]).stdout_has("does not exist");
}

#[test]
fn status_reports_a_running_container_that_is_not_the_current_deployment() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("stray");
    let v1 = deploy_json(&env, &web, WEB_V1, None);
    deploy_json(&env, &web, WEB_V2, None);
    let old = v1["containers"][0].as_str().unwrap();
    docker(&["start", old]).code(0);
    let drift = status(&env, &web)[0]["drift"].to_string();
    assert!(
        drift.contains(old) && drift.contains("not the current"),
        "{drift}"
    );
}

#[test]
fn status_of_a_project_never_deployed_serves_nothing() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("idle");
    assert_eq!(env.json(&["status", &web]), serde_json::json!([]));
    env.ok(&["status", &web]).stderr_has("nothing deployed yet");
}
