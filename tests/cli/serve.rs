//! `temps serve` as a process: TLS from PEM files, the refusal of plain HTTP on a public
//! address, and an operation that outlives the client that started it. (The routes,
//! roles and error codes are tested in `api`.)

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::api::server::{Server, PATIENCE};
use crate::common::*;
use crate::require_docker;

/// `temps serve --listen 127.0.0.1:0 EXTRA`, on the port its `listening on` line names.
fn serve(env: &TestEnv, extra: &[&str]) -> Server {
    Server::listening(env, "127.0.0.1:0", extra, &[])
}

/// `curl` with `args`: (HTTP status, body).
fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (status.trim().parse().unwrap_or(0), body.to_string())
}

fn token(env: &TestEnv, name: &str, role: &str) -> String {
    env.json(&["token", "create", name, "--role", role])["token"]
        .as_str()
        .expect("token")
        .to_string()
}

/// A self-signed certificate for 127.0.0.1, by openssl.
pub(crate) fn certificate(dir: &Path) -> (String, String) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        // A server's own certificate, not a CA's: what rustls clients accept as one.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run openssl");
    assert!(made.success(), "openssl made no certificate");
    (
        cert.to_string_lossy().into_owned(),
        key.to_string_lossy().into_owned(),
    )
}

#[test]
fn tls_from_pem_files_serves_https_and_marks_the_session_cookie_secure() {
    let env = TestEnv::new();
    let (cert, key) = certificate(env.dir.path());
    let admin = token(&env, "tls-admin", "admin");
    let served = serve(&env, &["--tls-cert", &cert, "--tls-key", &key]);
    let base = format!("https://127.0.0.1:{}", served.port);
    let (status, body) = curl(&["--cacert", &cert, &format!("{base}/api/health")]);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"ok\""), "{body}");
    // HTTP/2 by ALPN, as browsers ask.
    let (status, _) = curl(&["--http2", "--cacert", &cert, &format!("{base}/api/health")]);
    assert_eq!(status, 200);
    // Plain HTTP on the TLS port gets nothing served.
    let (status, _) = curl(&[
        "--max-time",
        "3",
        &format!("http://127.0.0.1:{}/api/health", served.port),
    ]);
    assert_ne!(status, 200);
    let out = Command::new("curl")
        .args(["-sS", "-D", "-", "-o", "/dev/null", "--cacert", &cert])
        .args(["-H", "Content-Type: application/json"])
        .args(["-d", &format!("{{\"token\":\"{admin}\"}}")])
        .arg(format!("{base}/api/session"))
        .output()
        .expect("curl");
    let headers = String::from_utf8_lossy(&out.stdout).to_lowercase();
    let cookie = headers
        .lines()
        .find(|l| l.starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no cookie in {headers}"));
    // The `__Host-` prefix: a browser keeps it only Secure, for `/`, from this very host.
    assert!(
        cookie.starts_with("set-cookie: __host-temps_session="),
        "{cookie}"
    );
    for part in ["httponly", "samesite=strict", "secure", "path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("domain="), "{cookie}");

    // Under TLS every answer says to come back over HTTPS only, on both protocols.
    for (http, path) in [
        ("--http1.1", "/api/health"),
        ("--http2", "/api/health"),
        ("--http2", "/"),
        ("--http1.1", "/nothing"),
    ] {
        let out = Command::new("curl")
            .args(["-sS", "-D", "-", "-o", "/dev/null", "--cacert", &cert, http])
            .arg(format!("{base}{path}"))
            .output()
            .expect("curl");
        let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
        assert!(
            head.lines()
                .any(|l| l.trim() == "strict-transport-security: max-age=31536000"),
            "{http} {path}:\n{head}"
        );
    }
}

#[test]
fn bad_tls_files_and_plain_http_on_a_public_address_are_refused() {
    let env = TestEnv::new();
    let missing = env.dir.path().join("nope.pem");
    let missing = missing.to_string_lossy();
    let run = env
        .run(&["serve", "--tls-cert", &missing, "--tls-key", &missing])
        .code(2);
    assert!(run.stderr.contains("nope.pem"), "{}", run.stderr);
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    let run = env.run(&["serve", "--listen", "0.0.0.0:0"]).code(2);
    assert!(run.stderr.contains("--insecure-http"), "{}", run.stderr);
    env.run(&["serve", "--tls-cert", &missing]).code(2);
}

#[test]
fn an_operation_finishes_when_its_client_goes_away() {
    require_docker!();
    let env = TestEnv::new();
    let project = env.web_project("gone");
    let port = free_port();
    let publish = format!("127.0.0.1:{port}");
    env.ok(&["deploy", &project, "--image", WEB_V1, "--publish", &publish]);
    env.ok(&["deploy", &project, "--image", WEB_V2]);
    let responder = token(&env, "gone-oncall", "responder");
    let served = serve(&env, &[]);
    let url = format!(
        "http://127.0.0.1:{}/api/projects/{project}/deployments/1/rollback?wait=true",
        served.port
    );
    // The client gives up long before the rollback can end (a check container and a
    // health check take hundreds of milliseconds).
    let (status, _) = curl(&[
        "-X",
        "POST",
        "--max-time",
        "0.05",
        "-H",
        &format!("Authorization: Bearer {responder}"),
        &url,
    ]);
    assert_eq!(status, 0, "the client should have given up first");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let list = env.json(&["list", &project]);
        let newest = &list[0];
        if newest["id"] == 3 && newest["status"] == "deployed" {
            assert_eq!(newest["rolled_back_to_id"], 1);
            assert_eq!(newest["created_by"], "token:gone-oncall");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rollback did not finish: {list:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(http_get(port, "/").as_deref().map(str::trim), Some("v1"));
}

#[test]
fn an_idle_connection_is_closed_after_the_idle_limit_on_http1_and_http2() {
    use crate::proxy::attacks::{empty, h2c, runtime};
    use http_body_util::BodyExt;
    use std::io::{Read, Write};

    let env = TestEnv::new();
    let served = serve(&env, &["--idle-timeout", "2s"]);
    let port = served.port;
    runtime().block_on(async {
        // HTTP/2 (prior knowledge), PINGing every 200 ms: PINGs are not requests.
        let (mut sender, driver) = h2c(port, Some(Duration::from_millis(200))).await;
        for _ in 0..2 {
            // The connection stays open between requests (the second one is served)...
            let request = hyper::Request::get(format!("http://127.0.0.1:{port}/api/health"))
                .body(empty())
                .expect("a request");
            let answer = sender
                .send_request(request)
                .await
                .expect("an answer over HTTP/2");
            assert_eq!(answer.status(), 200);
            answer.into_body().collect().await.expect("the body");
        }
        // ... and the server closes it once idle, whatever PINGs it answers.
        tokio::time::timeout(PATIENCE, driver)
            .await
            .expect("the idle HTTP/2 connection is closed by the server")
            .expect("join");
    });

    // HTTP/1.1 keeps the same limit between requests.
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    conn.set_read_timeout(Some(PATIENCE))
        .expect("a read timeout");
    let mut chunk = [0u8; 4096];
    for _ in 0..2 {
        conn.write_all(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .expect("send");
        // The whole answer: its head, then as many bytes as it announces.
        let mut got = Vec::new();
        let complete = |got: &[u8]| {
            let end = got.windows(4).position(|w| w == b"\r\n\r\n")?;
            let head = String::from_utf8_lossy(&got[..end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))?
                .trim()
                .parse()
                .ok()?;
            (got.len() >= end + 4 + length).then_some(())
        };
        while complete(&got).is_none() {
            let n = conn.read(&mut chunk).expect("an answer");
            assert!(
                n > 0,
                "closed before answering: {}",
                String::from_utf8_lossy(&got)
            );
            got.extend_from_slice(&chunk[..n]);
        }
        let answer = String::from_utf8_lossy(&got);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    loop {
        match conn.read(&mut chunk).expect("closed by the server") {
            0 => break,
            _ => continue,
        }
    }
}
