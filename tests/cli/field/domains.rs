//! An environment that joins a proxy address other environments share by domain must
//! say which hosts it answers, or `--domain '*'` to answer every host the others do not
//! name: joining with no domain never makes it the catch-all by accident.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;
use crate::proxy::harness::Proxy;
use crate::require_docker;

/// `GET /` through the proxy naming `host`: (status, body).
fn get(port: u16, host: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the proxy");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.trim().to_string())
        .unwrap_or_default();
    (status, body)
}

/// What a refused deploy must leave as it was: the project's history and environments,
/// and its containers and pinned tags (none).
fn untouched(env: &TestEnv, project: &str) {
    assert_eq!(env.json(&["list", project]), json!([]));
    let shown = env.json(&["project", "show", project]);
    assert_eq!(shown["environments"], json!([]), "{shown:#}");
    let containers = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=dev.temps.project={project}"),
    ]);
    assert_eq!(containers.stdout.trim(), "", "containers were made");
    let tags = docker(&["images", "-q", &format!("temps/{project}")]);
    assert_eq!(tags.stdout.trim(), "", "the image was pinned");
}

#[test]
fn joining_a_shared_address_without_a_domain_is_refused_unless_it_asks_for_every_host() {
    require_docker!();
    let env = TestEnv::new();
    let proxy = Proxy::start(&env);
    proxy.applied(0);
    let (shop, blog, other) = (
        env.web_project("joinshop"),
        env.web_project("joinblog"),
        env.web_project("joinother"),
    );
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let deploy = |project: &str, image: &str, domains: &[&str]| {
        let mut args = vec![
            "deploy",
            project,
            "--image",
            image,
            "--proxy",
            &listen,
            "--standby",
            "0s",
        ];
        for domain in domains {
            args.extend(["--domain", domain]);
        }
        env.run(&args)
    };
    deploy(&shop, WEB_V1, &["shop.example.test"]).code(0);
    assert_eq!(get(port, "shop.example.test"), (200, "v1".into()));
    assert_eq!(get(port, "unknown.example.test").0, 404);

    // No domain: refused, and said how to ask; nothing recorded, nothing in Docker.
    let refused = deploy(&blog, WEB_V1, &[])
        .code(4)
        .stderr_has("shared by domain")
        .stderr_has(&shop)
        .stderr_has("--domain '*'");
    assert_error_with_hint(&refused);
    untouched(&env, &blog);
    assert_eq!(get(port, "unknown.example.test").0, 404);

    // Asked for by name, the catch-all answers every host the shop does not name.
    deploy(&blog, WEB_V2, &["*"]).code(0);
    assert_eq!(get(port, "unknown.example.test"), (200, "v2".into()));
    assert_eq!(get(port, "shop.example.test"), (200, "v1".into()));
    let status: Value = env.json(&["status", &blog]);
    assert_eq!(status[0]["proxy"]["domains"], json!([]), "{status:#}");
    // Its later deploys keep it so.
    deploy(&blog, WEB_V1, &[]).code(0);
    assert_eq!(get(port, "unknown.example.test"), (200, "v1".into()));

    // One catch-all per address; '*' goes alone.
    deploy(&other, WEB_V1, &["*"])
        .code(4)
        .stderr_has("answers every host");
    untouched(&env, &other);
    deploy(&other, WEB_V1, &["*", "other.example.test"]).code(2);
    untouched(&env, &other);
    // With a domain of its own, it joins.
    deploy(&other, WEB_V2, &["other.example.test"]).code(0);
    assert_eq!(get(port, "other.example.test"), (200, "v2".into()));
    assert_eq!(get(port, "unknown.example.test"), (200, "v1".into()));
}
