//! Environments of two projects behind one proxy address, told apart by domain: each is
//! rolled back without touching the other, an unknown host gets the proxy's 404, and a
//! domain claimed twice is refused.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::Site;
use crate::common::{WEB_V1, WEB_V2};
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

#[test]
fn two_projects_share_one_address_by_domain_and_roll_back_apart() {
    require_docker!();
    let site = Site::new("shop");
    let env = &site.env;
    let shop = site.project.clone();
    let blog = env.web_project("blog");
    let listen = site.listen();
    let deploy = |project: &str, image: &str, domains: &[&str]| {
        let mut args = vec![
            "deploy", project, "--image", image, "--proxy", &listen, "--drain", "1s",
        ];
        for domain in domains {
            args.extend(["--domain", domain]);
        }
        let record = env.json(&args);
        assert_eq!(record["status"], "deployed", "{record:#}");
        record["id"].as_i64().expect("an id")
    };
    let shop_v1 = deploy(&shop, WEB_V1, &["Shop.Example.test"]);
    let blog_v1 = deploy(&blog, WEB_V1, &["blog.example.test", "*.blog.example.test"]);
    // Later deploys keep the domains the environments remember.
    deploy(&shop, WEB_V2, &[]);
    deploy(&blog, WEB_V2, &[]);
    let port = site.port;
    assert_eq!(get(port, "shop.example.test"), (200, "v2".into()));
    assert_eq!(get(port, "SHOP.example.test:80"), (200, "v2".into()));
    assert_eq!(get(port, "blog.example.test"), (200, "v2".into()));
    assert_eq!(get(port, "news.blog.example.test"), (200, "v2".into()));
    // No environment here answers every host: anything else is the proxy's 404.
    assert_eq!(get(port, "other.example.test").0, 404);
    assert_eq!(get(port, "a.news.blog.example.test").0, 404);

    // The plan names the domains that move.
    let plan = env.json(&["rollback", &shop_v1.to_string(), "--dry-run"]);
    assert_eq!(
        plan["domains"],
        serde_json::json!(["shop.example.test"]),
        "{plan:#}"
    );

    env.ok(&["rollback", &shop_v1.to_string(), "--yes"]);
    assert_eq!(get(port, "shop.example.test"), (200, "v1".into()));
    assert_eq!(
        get(port, "blog.example.test"),
        (200, "v2".into()),
        "the blog was not touched"
    );
    env.ok(&["rollback", &blog_v1.to_string(), "--yes"]);
    assert_eq!(get(port, "news.blog.example.test"), (200, "v1".into()));
    assert_eq!(get(port, "shop.example.test"), (200, "v1".into()));

    let status = env.json(&["status", &blog]);
    assert_eq!(
        status[0]["proxy"]["domains"],
        serde_json::json!(["blog.example.test", "*.blog.example.test"]),
        "{status:#}"
    );

    // A third project cannot take a domain the shop holds on this address, and is told
    // who holds it; nothing is recorded for it.
    let thief = env.web_project("thief");
    let run = env.run(&[
        "deploy",
        &thief,
        "--image",
        WEB_V1,
        "--proxy",
        &listen,
        "--domain",
        "shop.example.test",
    ]);
    let run = run.code(4);
    assert!(run.stderr.contains("shop.example.test"), "{}", run.stderr);
    assert!(run.stderr.contains(&shop), "{}", run.stderr);
    assert_eq!(env.json(&["list", &thief]), serde_json::json!([]));
    // A domain that is not a host name is a usage error.
    env.run(&[
        "deploy", &thief, "--image", WEB_V1, "--proxy", &listen, "--domain", "a b",
    ])
    .code(2);
    assert_eq!(get(port, "shop.example.test"), (200, "v1".into()));
}
