//! `temps serve` at its edges, probed as an attacker would (README, "What `temps serve`
//! enforces"): the HTTP layer's own answers, a body that never comes, a client that
//! holds many connections or guesses tokens, CONNECT on every protocol, a log line that
//! a client tries to forge. Malformed heads and trickling bodies go over raw sockets on
//! purpose; the rest through real clients.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::{Method, Request};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};

use super::routes::static_pair;
use super::server::{history_text, token, Server, PATIENCE};
use crate::common::*;
use crate::proxy::attacks::{empty, h2c, runtime};
use crate::require_docker;

/// A raw HTTP/1.1 connection, from a loopback address of the test's choosing.
struct Raw {
    stream: TcpStream,
}

impl Raw {
    fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(PATIENCE))
            .expect("a read timeout");
        Raw { stream }
    }

    fn send(&mut self, bytes: &[u8]) -> &mut Raw {
        self.stream.write_all(bytes).expect("send");
        self
    }

    /// One answer: its head (status line and headers, names in lower case) and its body
    /// (by `content-length`).
    fn answer(&mut self) -> (u16, String, Value) {
        let mut got = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&got[..end]).to_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|n| n.trim().parse().expect("a length"))
                    .unwrap_or_else(|| panic!("no content-length:\n{head}"));
                if got.len() >= end + 4 + length {
                    let status = head[9..12].parse().expect("a status");
                    let body = &got[end + 4..end + 4 + length];
                    let doc = serde_json::from_slice(body).unwrap_or_else(|e| {
                        panic!("not JSON ({e}):\n{}", String::from_utf8_lossy(&got))
                    });
                    return (status, head, doc);
                }
            }
            let n = self.stream.read(&mut chunk).expect("an answer in time");
            assert!(
                n > 0,
                "closed before a whole answer:\n{}",
                String::from_utf8_lossy(&got)
            );
            got.extend_from_slice(&chunk[..n]);
        }
    }

    /// The server closes the connection (without waiting for anything more from us).
    fn closed(&mut self) {
        let mut rest = Vec::new();
        self.stream
            .read_to_end(&mut rest)
            .expect("the server closes the connection");
        assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    }
}

#[track_caller]
fn assert_document(status: u16, head: &str, doc: &Value, want: u16, code: &str) {
    assert_eq!(status, want, "{head}\n{doc}");
    assert_eq!(doc["error"]["code"], code, "{doc}");
    assert!(doc["error"]["message"].is_string(), "{doc}");
    assert!(doc.get("deployment").is_some(), "{doc}");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(head.contains("cache-control: no-store"), "{head}");
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
}

#[test]
fn the_http_layers_own_answers_are_error_documents_too() {
    let env = TestEnv::new();
    let reader = token(&env, "watch", "reader", &[]);
    let server = Server::start(&env);

    // A head hyper cannot read: 400, and the connection closes.
    let mut raw = Raw::connect(server.port);
    let (status, head, doc) = raw
        .send(b"GET /a b c HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .answer();
    assert_document(status, &head, &doc, 400, "bad_request");
    raw.closed();
    // A head over 64 KiB: 431.
    let mut raw = Raw::connect(server.port);
    let mut big = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 70 * 1024));
    big.extend_from_slice(b"\r\n\r\n");
    let (status, head, doc) = raw.send(&big).answer();
    assert_document(status, &head, &doc, 431, "headers_too_large");

    // A method the route does not take: 405, saying which it does.
    let answer = server
        .req("PATCH", "/api/health")
        .send()
        .error(405, "method_not_allowed");
    assert!(
        answer.header("allow").is_some_and(|a| a.contains("GET")),
        "{answer:?}"
    );
    // That one comes before the token: it says nothing of what the route would do.
    server
        .req("POST", "/api/projects")
        .send()
        .error(405, "method_not_allowed");
    // A path value that is not UTF-8 once decoded: 400.
    server
        .get("/api/projects/%FF", &reader)
        .error(400, "bad_request");
    // An id is digits: not `+1`, not `01`.
    for id in ["+1", "01", "1.0"] {
        server
            .get(&format!("/api/projects/web/deployments/{id}"), &reader)
            .error(400, "bad_request");
    }
}

#[test]
fn connect_answers_405_on_http1_h2c_and_h2() {
    let env = TestEnv::new();
    let server = Server::start(&env);
    let mut raw = Raw::connect(server.port);
    let (status, head, doc) = raw
        .send(b"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n")
        .answer();
    assert_document(status, &head, &doc, 405, "method_not_allowed");

    // A standard HTTP/2 CONNECT (`:method` and `:authority` only), over h2c...
    let port = server.port;
    let (status, body) = runtime().block_on(async {
        let (sender, _driver) = h2c(port, None).await;
        h2_connect(sender).await
    });
    assert_eq!(status, 405, "{body}");
    assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");

    // ... and over TLS (h2 by ALPN).
    let (cert, key) = crate::serve::certificate(env.dir.path());
    let tls = Server::listening(
        &env,
        "127.0.0.1:0",
        &["--tls-cert", &cert, "--tls-key", &key],
        &[],
    );
    let port = tls.port;
    let (status, body) = runtime().block_on(async {
        let sender = h2_over_tls(port, &cert).await;
        h2_connect(sender).await
    });
    assert_eq!(status, 405, "{body}");
    assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
}

type H2Sender = hyper::client::conn::http2::SendRequest<crate::proxy::attacks::H2Body>;

/// `CONNECT evil.example:443` on an HTTP/2 connection: the status and the JSON body.
async fn h2_connect(mut sender: H2Sender) -> (u16, Value) {
    let request = Request::builder()
        .method(Method::CONNECT)
        .uri("evil.example:443")
        .body(empty())
        .expect("a request");
    let answer = tokio::time::timeout(PATIENCE, sender.send_request(request))
        .await
        .expect("an answer in time")
        .expect("an answer, not a reset stream");
    let status = answer.status().as_u16();
    let body = answer
        .into_body()
        .collect()
        .await
        .expect("the body")
        .to_bytes();
    (status, serde_json::from_slice(&body).expect("JSON"))
}

/// An HTTP/2 connection over TLS (ALPN `h2`) to 127.0.0.1:`port`, trusting `cert`.
async fn h2_over_tls(port: u16, cert: &str) -> H2Sender {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    for der in CertificateDer::pem_file_iter(cert).expect("the certificate") {
        roots.add(der.expect("a certificate")).expect("a root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(
            ServerName::IpAddress(std::net::IpAddr::from(Ipv4Addr::LOCALHOST).into()),
            tcp,
        )
        .await
        .expect("a TLS handshake");
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .handshake(TokioIo::new(stream))
        .await
        .expect("an HTTP/2 handshake");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    sender
}

#[test]
fn without_a_token_the_head_is_answered_and_the_body_never_waited_for() {
    let env = TestEnv::new();
    let server = Server::start(&env);
    // A body announced and never sent: 401 on the head, then the connection closes.
    let mut raw = Raw::connect(server.port);
    let (status, head, doc) = raw
        .send(
            b"POST /api/projects/web/deployments/1/rollback HTTP/1.1\r\nHost: 127.0.0.1\r\n\
              Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
        )
        .answer();
    assert_document(status, &head, &doc, 401, "unauthorized");
    raw.closed();
}

#[test]
fn a_body_that_does_not_arrive_in_time_gets_408_and_the_connection_closes() {
    let env = TestEnv::new();
    let site = static_pair(&env, "slowbody");
    let oncall = token(&env, "oncall", "responder", &[]);
    let server = Server::start(&env);
    let before = history_text(&env, &site);
    let mut raw = Raw::connect(server.port);
    // A tenth of the body, then nothing (the server's limit is 30 s after the head).
    let head = format!(
        "POST /api/projects/{site}/deployments/1/rollback HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Authorization: Bearer {oncall}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{\"reason\":"
    );
    let (status, head, doc) = raw.send(head.as_bytes()).answer();
    assert_document(status, &head, &doc, 408, "request_timeout");
    assert!(head.contains("connection: close"), "{head}");
    raw.closed();
    assert_eq!(
        history_text(&env, &site),
        before,
        "a timed-out body changed the history"
    );
}

#[test]
fn one_client_holds_at_most_256_connections_and_the_next_is_answered_503() {
    let env = TestEnv::new();
    // Kept-alive connections stay for the whole test.
    let server = Server::listening(&env, "127.0.0.1:0", &["--idle-timeout", "10m"], &[]);
    let mut held: Vec<Raw> = (0..256)
        .map(|_| {
            let mut raw = Raw::connect(server.port);
            let (status, _, _) = raw
                .send(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                .answer();
            assert_eq!(status, 200);
            raw
        })
        .collect();
    let mut one_more = Raw::connect(server.port);
    let (status, head, doc) = one_more
        .send(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .answer();
    assert_document(status, &head, &doc, 503, "unavailable");
    assert!(
        doc["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("256 connections")),
        "{doc}"
    );
    assert!(head.contains("retry-after:"), "{head}");
    one_more.closed();
    assert!(
        server.stderr().contains(
            "temps serve: answering 503 to new connections: 127.0.0.1 holds 256 connections"
        ),
        "{}",
        server.stderr()
    );
    // Another client is served as usual...
    server
        .req("GET", "/api/health")
        .from(Ipv4Addr::new(127, 0, 2, 1))
        .send()
        .status(200);
    // ... and this one again once it lets a connection go.
    drop(held.pop());
    let started = std::time::Instant::now();
    loop {
        let mut raw = Raw::connect(server.port);
        let (status, _, _) = raw
            .send(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .answer();
        if status == 200 {
            break;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "still 503 after a connection closed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn failed_authentications_are_logged_by_address_and_slow_that_client_after_ten_a_minute() {
    let env = TestEnv::new();
    let reader = token(&env, "watch", "reader", &[]);
    let server = Server::start(&env);
    let guesser = Ipv4Addr::new(127, 0, 3, 7);
    let guesses: Vec<String> = (0..12).map(|i| format!("tps_{i:0>40}")).collect();
    for guess in &guesses {
        server
            .req("GET", "/api/projects")
            .from(guesser)
            .bearer(guess)
            .send()
            .error(401, "unauthorized");
    }
    server
        .req("POST", "/api/session")
        .from(guesser)
        .json(&json!({ "token": "tps_not-even-a-token" }))
        .send()
        .error(401, "unauthorized");
    // Slowed, not shut out: the right token still gets in.
    server
        .req("GET", "/api/projects")
        .from(guesser)
        .bearer(&reader)
        .send()
        .status(200);
    // A request without any token is no failed guess.
    server
        .req("GET", "/api/projects")
        .from(guesser)
        .send()
        .error(401, "unauthorized");

    let log = server.stderr();
    let failed: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("temps serve: authentication failed from 127.0.3.7: "))
        .collect();
    assert_eq!(failed.len(), 13, "{log}");
    assert_eq!(
        failed.iter().filter(|l| l.contains("a sign-in")).count(),
        1,
        "{log}"
    );
    let slowed: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("temps serve: 127.0.3.7: 10 failed authentications in a minute"))
        .collect();
    assert_eq!(slowed.len(), 1, "{log}");
    for secret in guesses.iter().chain([&reader]) {
        assert!(
            !log.contains(secret.as_str()),
            "a secret in the log:\n{log}"
        );
    }
    assert!(!log.contains("tps_not-even"), "{log}");
}

#[test]
fn a_reason_with_control_characters_is_a_400_and_nothing_is_recorded() {
    let env = TestEnv::new();
    let site = static_pair(&env, "reason");
    let oncall = token(&env, "oncall", "responder", &[]);
    let admin = token(&env, "root", "admin", &[]);
    let server = Server::start(&env);
    let before = history_text(&env, &site);
    let base = format!("/api/projects/{site}");
    let nasty = "\u{1b}[2J\u{1b}]0;pwned\u{7}checkout errors";
    for (path, token) in [
        (format!("{base}/deployments/1/rollback"), &oncall),
        (format!("{base}/deployments/1/rollback?wait=true"), &oncall),
        (
            format!("{base}/deployments/1/rollback?dry_run=true"),
            &oncall,
        ),
        (format!("{base}/deployments/2/promote"), &oncall),
        (format!("{base}/rollback"), &oncall),
    ] {
        let answer = server
            .post(&path, token, &json!({ "reason": nasty }))
            .error(400, "bad_request");
        assert!(answer.body.contains("control character"), "{answer:?}");
        assert_eq!(
            history_text(&env, &site),
            before,
            "{path} recorded something"
        );
    }
    server
        .post(
            &format!("{base}/deployments"),
            &admin,
            &json!({ "image": "web:1", "reason": "a\u{9b}31mb" }),
        )
        .error(400, "bad_request");
    assert_eq!(history_text(&env, &site), before);
    // Line breaks and tabs are whitespace, not control: they become one space.
    let record = server
        .post(
            &format!("{base}/deployments/1/rollback?wait=true"),
            &oncall,
            &json!({ "reason": "checkout\n\terrors" }),
        )
        .status(200)
        .json();
    assert_eq!(record["reason"], "checkout errors", "{record}");
}

#[test]
fn what_a_client_sends_cannot_forge_a_log_line() {
    let env = TestEnv::new();
    let project = env.project_name("forge");
    env.ok(&["project", "create", &project]);
    let ci = token(&env, "ci", "deployer", &[]);
    // No engine to reach: the deploy ends at once, and its log line quotes the image.
    let server = Server::listening(&env, "127.0.0.1:0", &[], &[("DOCKER_HOST", NO_DOCKER)]);
    let answer = server.post(
        &format!("/api/projects/{project}/deployments"),
        &ci,
        &json!({ "image": "web:1\ntemps serve: token:root: rollback 1: #9 deployed\u{1b}[2J" }),
    );
    assert!(answer.status >= 400, "{answer:?}");
    let started = std::time::Instant::now();
    while !server.stderr().contains("token:ci: deploy") {
        assert!(
            started.elapsed() < PATIENCE,
            "no log line:\n{}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = server.stderr();
    assert!(
        !log.lines()
            .any(|l| l.starts_with("temps serve: token:root")),
        "a forged line:\n{log}"
    );
    assert!(!log.contains('\u{1b}'), "a raw escape in the log:\n{log}");
    let line = log
        .lines()
        .find(|l| l.contains("token:ci: deploy"))
        .expect("the deploy's line");
    assert!(line.contains("web:1\\ntemps serve: token:root"), "{line}");
    assert!(line.contains("\\x1b[2J"), "{line}");
}

#[test]
fn a_failed_pull_answers_422_without_the_hosts_resolver_address() {
    require_docker!();
    let env = TestEnv::new();
    let project = env.web_project("resolver");
    let ci = token(&env, "ci", "deployer", &[]);
    let server = Server::start(&env);
    let answer = server
        .post(
            &format!("/api/projects/{project}/deployments"),
            &ci,
            &json!({ "image": "temps-test.invalid/web:1" }),
        )
        .error(422, "refused");
    let message = answer.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // Still useful: what failed and why.
    assert!(
        message.contains("temps-test.invalid/web:1") && message.contains("could not be pulled"),
        "{message}"
    );
    let resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    for server in resolv
        .lines()
        .filter_map(|l| l.strip_prefix("nameserver"))
        .map(str::trim)
    {
        assert!(
            !message.contains(server),
            "the resolver {server} in: {message}"
        );
    }
    assert!(!message.contains(":53:"), "{message}");
    assert_eq!(
        env.json(&["list", &project]),
        json!([]),
        "a refusal recorded something"
    );
}
