//! `--response-timeout`: an app that hangs is answered 504 by the proxy after the
//! environment's timeout, on HTTP/1.1 and h2c, while its other requests are served.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::Site;
use crate::common::{SLOW_V1, SLOW_V2};
use crate::proxy::harness::Client;
use crate::require_docker;

/// How long `/cgi-bin/slow` waits before it answers: far beyond the timeout.
const HANG: &str = "/cgi-bin/slow?20";
const APP_ANSWERS_AFTER: Duration = Duration::from_secs(20);

/// `GET path` over h2c (prior knowledge): the status and the body.
fn h2c_get(port: u16, path: &str) -> (u16, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .expect("an HTTP/2 handshake");
        tokio::spawn(connection);
        let request = hyper::Request::get(format!("http://shop.example:{port}{path}"))
            .body(Empty::<Bytes>::new())
            .expect("request");
        let response = sender.send_request(request).await.expect("an answer");
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    })
}

/// `GET path` on a connection of its own, and the whole answer (the CGI's answers are
/// delimited by the connection's end).
fn get_to_the_end(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("the answer");
    answer
}

#[test]
fn a_hung_app_is_answered_504_after_the_response_timeout_on_both_protocols() {
    require_docker!();
    let site = Site::new("timeout");
    let listen = site.listen();
    let deployment = site.env.json(&[
        "deploy",
        &site.project,
        "--image",
        SLOW_V1,
        "--proxy",
        &listen,
        "--response-timeout",
        "1s",
    ]);
    assert_eq!(deployment["status"], "deployed", "{deployment:#}");

    // HTTP/1.1: the proxy answers in the app's stead, and the connection goes on.
    let mut client = Client::connect(site.port);
    let asked = Instant::now();
    let answer = client.get(HANG, "");
    let took = asked.elapsed();
    assert_eq!(answer.status, 504, "{answer:?}");
    assert!(answer.body.starts_with("504 gateway timeout"), "{answer:?}");
    assert!(
        took >= Duration::from_secs(1) && took < APP_ANSWERS_AFTER / 2,
        "answered after {took:?}"
    );
    let answer = client.get("/", "");
    assert_eq!((answer.status, answer.body.as_str()), (200, "v1\n"));

    // h2c: the same.
    let asked = Instant::now();
    let (status, body) = h2c_get(site.port, HANG);
    let took = asked.elapsed();
    assert_eq!(status, 504, "{body}");
    assert!(body.starts_with("504 gateway timeout"), "{body}");
    assert!(took < APP_ANSWERS_AFTER / 2, "answered after {took:?}");
    assert_eq!(h2c_get(site.port, "/"), (200, "v1\n".to_string()));

    // A slow answer within the timeout is passed on, and the environment remembers its
    // timeout for the next deploy.
    let next = site.env.json(&[
        "deploy",
        &site.project,
        "--image",
        SLOW_V2,
        "--response-timeout",
        "5s",
    ]);
    assert_eq!(next["status"], "deployed", "{next:#}");
    let answer = get_to_the_end(site.port, "/cgi-bin/slow?2");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(answer.ends_with("\r\n\r\nv2\n"), "{answer}");
    let first = deployment["id"].to_string();
    let rolled = site.env.json(&["rollback", &first, "--yes"]);
    assert_eq!(rolled["status"], "deployed", "{rolled:#}");
    let mut client = Client::connect(site.port);
    let asked = Instant::now();
    let answer = client.get("/cgi-bin/slow?8", "");
    let took = asked.elapsed();
    assert_eq!(answer.status, 504, "{answer:?}");
    assert!(took >= Duration::from_secs(5), "answered after {took:?}");
}

#[test]
fn a_response_timeout_applies_to_proxy_mode_only() {
    require_docker!();
    let env = crate::common::TestEnv::new();
    let project = env.web_project("timeout-usage");
    let run = env
        .run(&[
            "deploy",
            &project,
            "--image",
            crate::common::WEB_V1,
            "--response-timeout",
            "5s",
        ])
        .code(2);
    assert!(
        run.stderr.contains("--response-timeout")
            && run.stderr.contains("apply to environments in proxy mode"),
        "{}",
        run.stderr
    );
}
