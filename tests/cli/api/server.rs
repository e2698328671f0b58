//! A real `temps serve` on a port the system chose (`--listen 127.0.0.1:0`, read back
//! from its `listening on` line), and a real HTTP client (hyper's) that shows what came
//! back: status, headers and body, as a curl user would see them; event streams are
//! read as they arrive.
//!
//! Tests that must break HTTP on purpose (a malformed head, a body that trickles) use
//! the raw sockets of `edges.rs` instead.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper_util::rt::TokioIo;
use serde_json::Value;

use crate::common::TestEnv;

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
    /// `temps serve --listen 127.0.0.1:0` on the test's history, once it listens.
    pub fn start(env: &TestEnv) -> Server {
        Server::listening(env, "127.0.0.1:0", &[], &[])
    }

    /// `temps serve --listen LISTEN ARGS` with extra environment variables, reached on
    /// 127.0.0.1 at the port its `listening on` line names.
    pub fn listening(env: &TestEnv, listen: &str, args: &[&str], vars: &[(&str, &str)]) -> Server {
        let log = tempfile::Builder::new()
            .prefix("serve-")
            .suffix(".log")
            .tempfile_in(env.dir.path())
            .expect("a log file")
            .into_temp_path()
            .keep()
            .expect("keep the log file");
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
            port: 0,
            log,
        };
        server.port = server.wait_listening();
        server
    }

    /// The port of the `temps serve: listening on SCHEME://ADDR` line, once it is written.
    fn wait_listening(&mut self) -> u16 {
        let started = Instant::now();
        loop {
            let stderr = self.stderr();
            let address = stderr
                .lines()
                .find_map(|l| l.strip_prefix("temps serve: listening on "));
            if let Some(address) = address {
                let port = address
                    .rsplit_once(':')
                    .and_then(|(_, port)| port.parse::<u16>().ok())
                    .unwrap_or_else(|| panic!("no port in {address:?}"));
                assert_ne!(port, 0, "{stderr}");
                return port;
            }
            if let Some(status) = self.child_mut().try_wait().expect("wait") {
                panic!("temps serve ended ({status}) before it listened:\n{stderr}");
            }
            assert!(
                started.elapsed() < PATIENCE,
                "temps serve never said where it listens:\n{stderr}"
            );
            std::thread::sleep(Duration::from_millis(20));
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
            from: None,
        }
    }

    pub fn get(&self, path: &str, token: &str) -> Answer {
        self.req("GET", path).bearer(token).send()
    }

    pub fn post(&self, path: &str, token: &str, body: &Value) -> Answer {
        self.req("POST", path).bearer(token).json(body).send()
    }

    /// The event stream of a deployment, open: its events are read as they arrive.
    pub fn event_stream(&self, project: &str, id: i64, token: &str) -> EventStream {
        self.req(
            "GET",
            &format!("/api/projects/{project}/deployments/{id}/events"),
        )
        .bearer(token)
        .stream()
    }

    /// Every event of a deployment's stream, read until the server ends it (after `done`).
    pub fn events(&self, project: &str, id: i64, token: &str) -> Vec<(String, Value)> {
        let mut stream = self.event_stream(project, id, token);
        let mut events = Vec::new();
        while let Some(event) = stream.next() {
            events.push(event);
        }
        events
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

/// One request, on a connection of its own.
#[derive(Clone)]
pub struct Request {
    port: u16,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    chunked: bool,
    /// The loopback address to connect from (`127.0.0.1` unless given).
    from: Option<std::net::Ipv4Addr>,
}

type Body = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

impl Request {
    /// Send the body as one chunk of `Transfer-Encoding: chunked`, with no length ahead.
    pub fn chunked(mut self) -> Request {
        self.chunked = true;
        self
    }

    /// Connect from this loopback address (127.0.0.0/8), as another client would.
    pub fn from(mut self, address: std::net::Ipv4Addr) -> Request {
        self.from = Some(address);
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
        let runtime = runtime();
        let (status, headers, body) = runtime
            .block_on(async {
                let response = self.response().await?;
                let (parts, body) = response.into_parts();
                let body = tokio::time::timeout(PATIENCE, body.collect())
                    .await
                    .map_err(|_| "the body did not end".to_string())?
                    .map_err(|e| format!("reading the body: {e}"))?
                    .to_bytes();
                Ok::<_, String>((parts.status, parts.headers, body))
            })
            .unwrap_or_else(|e| {
                panic!(
                    "no answer to {} {} on port {}: {e}",
                    self.method, self.path, self.port
                )
            });
        let answer = Answer {
            status: status.as_u16(),
            headers: headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        // Every `/api` answer, whatever its status, is kept out of caches and sniffing.
        if self.path.starts_with("/api") {
            assert_eq!(
                answer.header("cache-control"),
                Some("no-store"),
                "{answer:?}"
            );
            assert_eq!(
                answer.header("x-content-type-options"),
                Some("nosniff"),
                "{answer:?}"
            );
        }
        answer
    }

    /// The answer's head, its body left to read as it arrives.
    #[track_caller]
    pub fn stream(&self) -> EventStream {
        let runtime = runtime();
        let response = runtime
            .block_on(self.response())
            .unwrap_or_else(|e| panic!("no answer to {} {}: {e}", self.method, self.path));
        assert_eq!(
            response.status(),
            200,
            "{} {}: {response:?}",
            self.method,
            self.path
        );
        let content_type = response.headers().get("content-type").cloned();
        assert!(
            content_type
                .as_ref()
                .is_some_and(|t| t.as_bytes().starts_with(b"text/event-stream")),
            "{content_type:?}"
        );
        EventStream {
            runtime,
            body: response.into_body(),
            buffer: String::new(),
        }
    }

    async fn response(&self) -> Result<hyper::Response<Incoming>, String> {
        let socket = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
        let from = self.from.unwrap_or(std::net::Ipv4Addr::LOCALHOST);
        socket
            .bind((from, 0).into())
            .map_err(|e| format!("binding {from}: {e}"))?;
        let stream = socket
            .connect(([127, 0, 0, 1], self.port).into())
            .await
            .map_err(|e| format!("connecting: {e}"))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake::<_, Body>(TokioIo::new(stream))
                .await
                .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut request = hyper::Request::builder()
            .method(self.method.as_str())
            .uri(self.path.as_str())
            .header("host", format!("127.0.0.1:{}", self.port));
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let bytes = Bytes::from(self.body.clone().unwrap_or_default());
        let body: Body = if self.chunked {
            // A stream of unknown length: hyper sends it chunked.
            let frames = futures_util::stream::iter([Ok(Frame::data(bytes))]);
            StreamBody::new(frames).boxed()
        } else {
            Full::new(bytes).boxed()
        };
        let request = request.body(body).map_err(|e| e.to_string())?;
        tokio::time::timeout(PATIENCE, sender.send_request(request))
            .await
            .map_err(|_| "no answer in time".to_string())?
            .map_err(|e| format!("sending: {e}"))
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// An event stream being read: each `next` waits for the next event to arrive.
pub struct EventStream {
    runtime: tokio::runtime::Runtime,
    body: Incoming,
    buffer: String,
}

impl EventStream {
    /// The next `event: NAME` / `data: JSON` frame (comments, the keep-alives, are
    /// skipped); `None` once the server has ended the stream.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<(String, Value)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse_event(&frame) {
                    return Some(event);
                }
                continue;
            }
            let frame = self
                .runtime
                .block_on(async { tokio::time::timeout(PATIENCE, self.body.frame()).await })
                .expect("an event, or the stream's end, in time")?
                .expect("the stream reads");
            if let Ok(data) = frame.into_data() {
                self.buffer.push_str(&String::from_utf8_lossy(&data));
            }
        }
    }
}

/// One frame's event, unless it is only a comment.
fn parse_event(frame: &str) -> Option<(String, Value)> {
    let mut name = None;
    let mut data = String::new();
    for line in frame.lines() {
        if let Some(value) = line.strip_prefix("event:") {
            name = Some(value.trim().to_string());
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push_str(value.trim_start());
        }
    }
    let name = name?;
    let data = serde_json::from_str(&data)
        .unwrap_or_else(|e| panic!("event {name} carries no JSON ({e}): {data:?}"));
    Some((name, data))
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
        assert!(
            doc["error"]["hint"].as_str().is_some_and(|h| !h.is_empty()),
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
