//! `--response-timeout`: an app that hangs is answered 504 by the proxy after the
//! environment's timeout, on HTTP/1.1 and h2c, while its other requests are served; an
//! answer within the timeout passes; `0s` is no timeout.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::Site;
use crate::common::{SLOW_V1, SLOW_V2};
use crate::proxy::harness::Client;
use crate::require_docker;

/// `/cgi-bin/slow` answers after the seconds it is given: far beyond the timeouts here,
/// then beyond 1 s, then beyond 5 s.
const HANG: &str = "/cgi-bin/slow?20";
const ANSWERS_IN_2S: &str = "/cgi-bin/slow?2";
const ANSWERS_IN_8S: &str = "/cgi-bin/slow?8";

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

    // HTTP/1.1: the proxy answers in the app's stead (the app answers after 20 s), and
    // the connection goes on. When it answers is `benches/limits.sh`'s to measure.
    let mut client = Client::connect(site.port);
    let answer = client.get(HANG, "");
    assert_eq!(answer.status, 504, "{answer:?}");
    assert!(answer.body.starts_with("504 gateway timeout"), "{answer:?}");
    let answer = client.get("/", "");
    assert_eq!((answer.status, answer.body.as_str()), (200, "v1\n"));
    // An answer that takes longer than the timeout (2 s) gets 504 too.
    assert_eq!(client.get(ANSWERS_IN_2S, "").status, 504);

    // h2c: the same.
    let (status, body) = h2c_get(site.port, HANG);
    assert_eq!(status, 504, "{body}");
    assert!(body.starts_with("504 gateway timeout"), "{body}");
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
    let answer = get_to_the_end(site.port, ANSWERS_IN_2S);
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(answer.ends_with("\r\n\r\nv2\n"), "{answer}");
    // A rollback keeps the environment's timeout (5 s), not the one its target ran with.
    let first = deployment["id"].to_string();
    let rolled = site.env.json(&["rollback", &first, "--yes"]);
    assert_eq!(rolled["status"], "deployed", "{rolled:#}");
    let answer = get_to_the_end(site.port, ANSWERS_IN_2S);
    assert!(answer.ends_with("\r\n\r\nv1\n"), "{answer}");
    let mut client = Client::connect(site.port);
    let answer = client.get(ANSWERS_IN_8S, "");
    assert_eq!(answer.status, 504, "{answer:?}");
}

#[test]
fn a_response_timeout_of_0s_is_none() {
    require_docker!();
    let site = Site::new("timeout0");
    let listen = site.listen();
    let deploy = |image: &str, timeout: &str| {
        let deployment = site.env.json(&[
            "deploy",
            &site.project,
            "--image",
            image,
            "--proxy",
            &listen,
            "--response-timeout",
            timeout,
        ]);
        assert_eq!(deployment["status"], "deployed", "{deployment:#}");
    };
    deploy(SLOW_V1, "1s");
    assert_eq!(
        Client::connect(site.port).get(ANSWERS_IN_2S, "").status,
        504
    );
    // `0s`: no timeout at all, not one of no time: the app's answer, however late, and
    // never an instant 504.
    deploy(SLOW_V2, "0s");
    let answer = get_to_the_end(site.port, ANSWERS_IN_8S);
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(answer.ends_with("\r\n\r\nv2\n"), "{answer}");
    let (status, body) = h2c_get(site.port, ANSWERS_IN_2S);
    assert_eq!((status, body.as_str()), (200, "v2\n"));
    // Remembered like any other: the next deploy (no flag) still waits for the app.
    let next = site
        .env
        .json(&["deploy", &site.project, "--image", SLOW_V1]);
    assert_eq!(next["status"], "deployed", "{next:#}");
    let answer = get_to_the_end(site.port, ANSWERS_IN_2S);
    assert!(answer.ends_with("\r\n\r\nv1\n"), "{answer}");
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
