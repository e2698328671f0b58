//! A real `temps serve` on a free loopback port, and a small HTTP/1.1 client that
//! shows what came back: status, headers and body, as a curl user would see them.

use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{free_port, TestEnv};

/// How long a bounded wait polls before it gives up (a guard against a hang, never a
/// timing assertion).
pub const PATIENCE: Duration = Duration::from_secs(90);

/// `temps serve`, killed when dropped.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
    log: PathBuf,
}

impl Server {
    /// `temps serve --listen 127.0.0.1:PORT` on the test's history, once it answers
    /// `GET /api/health`.
    pub fn start(env: &TestEnv) -> Server {
        let port = free_port();
        Server::listening(env, &format!("127.0.0.1:{port}"), port, &[], &[])
    }

    /// `temps serve --listen LISTEN ARGS` with extra environment variables, reached on
    /// 127.0.0.1:`port`.
    pub fn listening(
        env: &TestEnv,
        listen: &str,
        port: u16,
        args: &[&str],
        vars: &[(&str, &str)],
    ) -> Server {
        let log = env.dir.path().join(format!("serve-{port}.log"));
        let mut cmd = env.cmd();
        for (key, value) in vars {
            cmd.env(key, value);
        }
        let child = cmd
            .args(["serve", "--listen", listen])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("a log file"))
            .spawn()
            .expect("spawn temps serve");
        let mut server = Server {
            child: Some(child),
            port,
            log,
        };
        let started = Instant::now();
        loop {
            if let Some(answer) = server.try_send(&server.req("GET", "/api/health")) {
                assert_eq!(answer.status, 200, "{answer:?}");
                return server;
            }
            let exited = server.child_mut().try_wait().expect("wait");
            if let Some(status) = exited {
                panic!(
                    "temps serve ended ({status}) before it answered:\n{}",
                    server.stderr()
                );
            }
            assert!(
                started.elapsed() < PATIENCE,
                "temps serve never answered:\n{}",
                server.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn child_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("the server runs")
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the server runs").id()
    }

    /// What the server wrote on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Send `signal` (`TERM`, `KILL`) and wait for the process to end.
    pub fn signal_and_wait(&mut self, signal: &str) -> ExitStatus {
        let sent = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill");
        assert!(sent.success(), "kill -{signal} {}", self.pid());
        let mut child = self.child.take().expect("the server runs");
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            if started.elapsed() > PATIENCE {
                let _ = child.kill();
                let _ = child.wait();
                panic!("temps serve did not end after SIGTERM:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A request to this server.
    pub fn req(&self, method: &str, path: &str) -> Request {
        Request {
            port: self.port,
            method: method.to_string(),
            path: path.to_string(),
            headers: Vec::new(),
            body: None,
            chunked: false,
        }
    }

    pub fn get(&self, path: &str, token: &str) -> Answer {
        self.req("GET", path).bearer(token).send()
    }

    pub fn post(&self, path: &str, token: &str, body: &Value) -> Answer {
        self.req("POST", path).bearer(token).json(body).send()
    }

    fn try_send(&self, request: &Request) -> Option<Answer> {
        request.try_send()
    }

    /// The event stream of a deployment, read until the server ends it (after `done`).
    pub fn events(&self, project: &str, id: i64, token: &str) -> Vec<(String, Value)> {
        let answer = self.get(
            &format!("/api/projects/{project}/deployments/{id}/events"),
            token,
        );
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(
            answer
                .header("content-type")
                .is_some_and(|t| t.starts_with("text/event-stream")),
            "{answer:?}"
        );
        parse_events(&answer.body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `event: NAME` / `data: JSON` frames, comments (keep-alives) left out.
pub fn parse_events(stream: &str) -> Vec<(String, Value)> {
    let mut events = Vec::new();
    for frame in stream.split("\n\n") {
        let mut name = None;
        let mut data = String::new();
        for line in frame.lines() {
            if let Some(value) = line.strip_prefix("event:") {
                name = Some(value.trim().to_string());
            } else if let Some(value) = line.strip_prefix("data:") {
                data.push_str(value.trim_start());
            }
        }
        if let Some(name) = name {
            let data = serde_json::from_str(&data)
                .unwrap_or_else(|e| panic!("event {name} carries no JSON ({e}): {data:?}"));
            events.push((name, data));
        }
    }
    events
}

/// One HTTP/1.1 request (`Connection: close`).
pub struct Request {
    port: u16,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    chunked: bool,
}

impl Request {
    /// Send the body as one chunk of `Transfer-Encoding: chunked`, with no length ahead.
    pub fn chunked(mut self) -> Request {
        self.chunked = true;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn bearer(self, token: &str) -> Request {
        self.header("Authorization", &format!("Bearer {token}"))
    }

    pub fn cookie(self, cookie: &str) -> Request {
        self.header("Cookie", cookie)
    }

    /// A JSON body with `Content-Type: application/json`.
    pub fn json(self, body: &Value) -> Request {
        self.body("application/json", body.to_string().into_bytes())
    }

    pub fn body(mut self, content_type: &str, body: Vec<u8>) -> Request {
        self.body = Some(body);
        self.header("Content-Type", content_type)
    }

    #[track_caller]
    pub fn send(&self) -> Answer {
        self.try_send().unwrap_or_else(|| {
            panic!(
                "no answer to {} {} on port {}",
                self.method, self.path, self.port
            )
        })
    }

    /// The answer, or `None` when nothing (or nothing HTTP) answered.
    fn try_send(&self) -> Option<Answer> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(PATIENCE)).ok()?;
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n",
            self.method, self.path, self.port
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let body = self.body.as_deref().unwrap_or_default();
        if self.chunked {
            head.push_str("Transfer-Encoding: chunked\r\n");
        } else if self.body.is_some() || matches!(self.method.as_str(), "POST" | "PUT") {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut request = head.into_bytes();
        if self.chunked {
            request.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
            request.extend_from_slice(body);
            request.extend_from_slice(b"\r\n0\r\n\r\n");
        } else {
            request.extend_from_slice(body);
        }
        // A server may answer (413) before it reads the whole body: what it said counts.
        let _ = stream.write_all(&request);
        let mut raw = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        Answer::parse(&raw)
    }
}

/// What came back.
pub struct Answer {
    pub status: u16,
    /// Names in lower case, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        for (name, value) in &self.headers {
            write!(f, "\n{name}: {value}")?;
        }
        write!(f, "\n\n{}", self.body)
    }
}

impl Answer {
    fn parse(raw: &[u8]) -> Option<Answer> {
        let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = std::str::from_utf8(&raw[..end]).ok()?;
        let mut lines = head.split("\r\n");
        let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let rest = &raw[end + 4..];
        let chunked = headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
        let body = if chunked {
            dechunk(rest)
        } else {
            rest.to_vec()
        };
        Some(Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("the body is not JSON ({e}):\n{self:?}"))
    }

    /// Assert the status, showing the whole answer when it differs.
    #[track_caller]
    pub fn status(self, expected: u16) -> Answer {
        assert_eq!(self.status, expected, "expected {expected}:\n{self:?}");
        self
    }

    /// Assert the spec's error document with this status and code, and a hint.
    #[track_caller]
    pub fn error(self, status: u16, code: &str) -> Answer {
        let answer = self.status(status);
        let doc = answer.json();
        assert_eq!(doc["error"]["code"], code, "{answer:?}");
        assert!(
            doc["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{answer:?}"
        );
        assert!(doc.get("deployment").is_some(), "{answer:?}");
        assert!(
            answer
                .header("content-type")
                .is_some_and(|t| t.starts_with("application/json")),
            "{answer:?}"
        );
        answer
    }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&rest[..line_end])
            .ok()
            .and_then(|l| usize::from_str_radix(l.split(';').next()?.trim(), 16).ok());
        let Some(size) = size else { break };
        rest = &rest[line_end + 2..];
        if size == 0 || rest.len() < size {
            body.extend_from_slice(&rest[..size.min(rest.len())]);
            break;
        }
        body.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
    body
}

/// `temps token create NAME --role ROLE ARGS -o json`: the secret.
pub fn token(env: &TestEnv, name: &str, role: &str, args: &[&str]) -> String {
    let mut full = vec!["token", "create", name, "--role", role];
    full.extend_from_slice(args);
    let created = env.json(&full);
    let secret = created["token"].as_str().expect("a secret").to_string();
    assert!(secret.starts_with("tps_"), "{created}");
    secret
}

/// The whole history of a project as `temps list -o json` prints it, to compare byte
/// for byte, without `can_roll_back`: that one is Docker's word of the moment (`null`
/// when the engine is slow to answer), not the history's.
pub fn history_text(env: &TestEnv, project: &str) -> String {
    let listed = env
        .ok(&["--output", "json", "list", project, "--limit", "0"])
        .stdout;
    listed
        .lines()
        .map(|line| match line.rfind(",\"can_roll_back\":") {
            Some(at) => {
                let rest = &line[at..];
                let end = rest.find('}').unwrap_or(rest.len());
                format!("{}{}", &line[..at], &rest[end..])
            }
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}
