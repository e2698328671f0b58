//! The HTTP API on an environment in swarm mode: the same routes, the same pipeline and
//! the same gate as on one host; the service converges on every node.

use serde_json::json;

use super::support::*;
use crate::api::server::{token, Server};
use crate::require_swarm;

#[test]
fn an_api_rollback_of_a_swarm_environment_converges_on_every_node() {
    let lab = require_swarm!();
    let _held = lab.shared();
    let project = SwarmProject::new(lab, "swapi");
    let port = lab.port();
    let publish = port.to_string();

    let first = project.deploy(
        lab.image("WEB_V1"),
        &["--swarm", "--replicas", "3", "--publish", &publish],
    );
    let second = project.deploy(lab.image("WEB_V2"), &[]);
    lab.wait_every_node_says(port, "v2", ANSWER);

    let oncall = token(&project.env, "oncall", "responder", &[]);
    let server = Server::listening(
        &project.env,
        "127.0.0.1:0",
        &[],
        &[("DOCKER_HOST", lab.manager.as_str())],
    );

    // The history as the API lists it offers the rollback the gate allows.
    let listed = server
        .get(
            &format!("/api/projects/{}/deployments", project.name),
            &oncall,
        )
        .status(200)
        .json();
    let items = listed.as_array().expect("an array");
    let older = items
        .iter()
        .find(|d| d["id"] == first["id"])
        .expect("the first deployment is listed");
    assert!(
        older["actions"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == "rollback")),
        "{older}"
    );

    let rolled = server
        .post(
            &format!(
                "/api/projects/{}/deployments/{}/rollback?wait=true",
                project.name,
                id(&first)
            ),
            &oncall,
            &json!({ "reason": "from the dashboard" }),
        )
        .status(200)
        .json();
    assert_eq!(rolled["status"], "deployed", "{rolled}");
    assert_eq!(rolled["is_rollback"], true);
    assert_eq!(rolled["rolled_back_from_id"], second["id"]);
    assert_eq!(rolled["rolled_back_to_id"], first["id"]);
    assert_eq!(rolled["image_id"], lab.digest("WEB_V1"));
    assert_eq!(rolled["created_by"], "token:oncall");

    let service = project.service("production");
    assert_eq!(lab.service_image(&service), lab.digest("WEB_V1"));
    assert_eq!(nodes_of(lab, &service), every_node(lab));
    lab.wait_every_node_says(port, "v1", ANSWER);
    let status = project.status("production");
    assert_eq!(status["state"], "rolled_back", "{status}");
    assert_eq!(status["current"]["id"], rolled["id"]);
    assert_eq!(status["drift"], json!([]), "{status}");

    // A rollback to what serves now is refused by the same gate, and changes nothing.
    server
        .post(
            &format!(
                "/api/projects/{}/deployments/{}/rollback?wait=true",
                project.name, rolled["id"]
            ),
            &oncall,
            &json!({}),
        )
        .error(422, "refused");
    assert_eq!(project.history().len(), 3);
}
