//! Small things temps said that were not quite true: the watch spinner's doubled title,
//! a proxy status that read as out of sync, a name where a deployment id goes, and a
//! hint with a placeholder where the name is known.

use serde_json::json;

use crate::api::server::{token, Server};
use crate::common::*;
use crate::proxy::harness::Proxy;
use crate::require_docker;

#[test]
fn the_watch_spinner_says_its_line_once_and_no_watch_shows_none() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("spinner");
    let port = free_port().to_string();
    let first = env
        .terminal(
            &["deploy", &web, "--image", WEB_V1, "--publish", &port],
            &[PtyStep::Expect("deployed #1")],
        )
        .code(0);
    assert!(
        !first.text.contains("watching"),
        "no watch was asked for:\n{}",
        first.text
    );
    let watched = env
        .terminal(
            &["deploy", &web, "--image", WEB_V2, "--watch", "2s"],
            &[PtyStep::Expect("watched #2 for 2s")],
        )
        .code(0)
        .has("watching #2: ");
    assert!(
        !watched.text.contains("watching #2: watching #2"),
        "the spinner says its title twice:\n{}",
        watched.text
    );
}

#[test]
fn status_says_whether_the_running_proxy_serves_the_route_without_generations_that_disagree() {
    require_docker!();
    let env = TestEnv::new();
    let proxy = Proxy::start(&env);
    proxy.applied(0);
    let (first, second) = (env.web_project("genone"), env.web_project("gentwo"));
    for project in [&first, &second] {
        let listen = format!("127.0.0.1:{}", free_port());
        env.ok(&["deploy", project, "--image", WEB_V1, "--proxy", &listen]);
    }
    // The first route is generation 1, and the proxy is at 2 since the second's switch.
    let status = env.json(&["status", &first]);
    assert_eq!(status[0]["proxy"]["generation"], 1, "{status:#}");
    proxy.applied(2);
    let shown = env.ok(&["status", &first]).stdout;
    assert!(
        shown.contains("(the running proxy serves this route)"),
        "{shown}"
    );
    assert!(!shown.contains("generation"), "{shown}");
    drop(proxy);
    let stopped = env.ok(&["status", &first]).stdout;
    assert!(stopped.contains("no `temps proxy` runs"), "{stopped}");
}

#[test]
fn a_name_where_the_deployment_id_goes_points_to_project() {
    let env = TestEnv::new();
    let run = env.run(&["rollback", "web"]).code(2);
    assert!(
        run.stderr.contains("`temps rollback --project web`"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("invalid digit"), "{}", run.stderr);
    for args in [["promote", "web"], ["show", "12abc"]] {
        let run = env.run(&args).code(2);
        assert!(
            run.stderr.contains("is not a deployment id"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn an_api_hint_names_the_project_not_a_placeholder() {
    let env = TestEnv::new();
    let web = env.project_name("apihint");
    env.ok(&["project", "create", &web]);
    let reader = token(&env, "reader", "reader", &[]);
    let server = Server::start(&env);
    let answer = server
        .get(&format!("/api/projects/{web}/deployments/99"), &reader)
        .error(404, "not_found");
    let hint = answer.json()["error"]["hint"].clone();
    assert!(
        hint.as_str()
            .is_some_and(|h| h.contains(&format!("`temps list {web}`"))),
        "{hint}"
    );
    assert_ne!(hint, json!(null));
    assert!(!answer.body.contains("PROJECT"), "{answer:?}");
}
