//! A first sentence of the README, as a test.

use crate::common::*;
use crate::require_docker;

#[test]
fn deploys_two_versions_and_serves_the_second() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("web");
    let port = free_port();
    env.ok(&[
        "deploy",
        &web,
        "--image",
        WEB_V1,
        "--publish",
        &port.to_string(),
    ]);
    assert_eq!(serving(port).as_deref(), Some("v1"));
    env.ok(&["deploy", &web, "--image", WEB_V2]);
    assert_eq!(serving(port).as_deref(), Some("v2"));
    let list = env.json(&["list", &web]);
    let statuses: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["deployed", "completed"]);
}
