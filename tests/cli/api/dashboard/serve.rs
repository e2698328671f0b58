//! `temps serve` as a child process of the test, on a free loopback port, over the test's
//! history; and a small HTTP/1.1 client for the requests a browser would not make.

use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::{free_port, http_get, TestEnv};

/// A running `temps serve`; killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    log: PathBuf,
}

impl Server {
    /// Start `temps serve --listen 127.0.0.1:PORT` with the same environment as every
    /// `temps` the test runs, and wait until `/api/health` answers.
    pub fn start(env: &TestEnv) -> Server {
        let port = free_port();
        let log = env.dir.path().join("serve.log");
        let out = File::create(&log).expect("the server's log file");
        let db = env.db();
        let child = env
            .cmd()
            .arg("--db")
            .arg(&db)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log file"))
            .stderr(out)
            .spawn()
            .expect("start temps serve");
        let mut server = Server { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if http_get(port, "/api/health").is_some_and(|body| body.contains("ok")) {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("temps serve exited ({status}):\n{}", server.log());
            }
            assert!(
                Instant::now() < deadline,
                "temps serve did not answer /api/health within 20 s:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// What the server wrote on stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `METHOD path` with a bearer token and an optional JSON body.
    pub fn request(&self, method: &str, path: &str, token: &str, body: Option<&str>) -> Answer {
        request(self.port, method, path, token, body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer: status code and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {self:?}"))
    }
}

/// One request on its own connection (`Connection: close`).
pub fn request(port: u16, method: &str, path: &str, token: &str, body: Option<&str>) -> Answer {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to temps serve");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\nAccept: application/json\r\n"
    );
    if let Some(body) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("send the request");
    if let Some(body) = body {
        stream.write_all(body.as_bytes()).expect("send the body");
    }
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the answer");
    let raw = String::from_utf8_lossy(&raw);
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {raw:?}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let chunked = head.lines().any(|line| {
        let line = line.to_ascii_lowercase();
        line.starts_with("transfer-encoding:") && line.contains("chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Answer { status, body }
}

/// A chunked body, joined.
fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or_else(|_| panic!("a bad chunk size in {rest:?}"));
        if size == 0 {
            break;
        }
        body.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    body
}
