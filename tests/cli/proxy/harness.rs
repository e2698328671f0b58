//! A proxy under test: `temps proxy` as a child process against the test's history, tiny
//! upstreams that say who they are (and what headers reached them), and a kept-alive
//! HTTP/1.1 client. No Docker needed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use temps::store::{ProxyState, Store};

use crate::common::TestEnv;

/// Wait up to 5 s for `check` to give a value.
#[track_caller]
pub fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(2));
    }
}

/// An environment of a fresh project in the test's history, ready for routes.
pub fn environment(env: &TestEnv, project: &str) -> i64 {
    env.ok(&["project", "create", project]);
    let mut store = Store::open(&env.db()).expect("open the history");
    let project = store.project(project).expect("project");
    store
        .set_variables(project.id, "production", &[])
        .expect("create the environment");
    store
        .environment(project.id, "production")
        .expect("read the environment")
        .expect("the environment")
        .id
}

/// Route an environment, as the deploy side does; returns the new generation.
pub fn route(env: &TestEnv, environment_id: i64, listen: &str, upstreams: &[&str]) -> i64 {
    let upstreams: Vec<String> = upstreams.iter().map(|u| u.to_string()).collect();
    Store::open(&env.db())
        .expect("open the history")
        .set_route(environment_id, listen, &upstreams, None)
        .expect("set the route")
}

/// Run `temps proxy` expecting it to exit on its own within 5 s (killed and failed
/// otherwise); returns its exit code and stderr.
pub fn proxy_refused(env: &TestEnv) -> (Option<i32>, String) {
    let mut child = env
        .cmd()
        .arg("proxy")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start temps proxy");
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("a second `temps proxy` kept running");
        }
        thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr);
    (status.code(), stderr)
}

/// `temps proxy`, running until SIGTERM (or killed when dropped).
pub struct Proxy {
    child: Child,
    stderr: Arc<Mutex<String>>,
    db: std::path::PathBuf,
}

impl Proxy {
    pub fn start(env: &TestEnv) -> Proxy {
        Proxy::start_with(env, &[])
    }

    /// `temps proxy` with these options.
    pub fn start_with(env: &TestEnv, options: &[&str]) -> Proxy {
        Proxy::start_with_env(env, options, &[])
    }

    /// `temps proxy` with these options and these environment variables.
    pub fn start_with_env(env: &TestEnv, options: &[&str], vars: &[(&str, &str)]) -> Proxy {
        let mut child = env
            .cmd()
            .envs(vars.iter().copied())
            .arg("proxy")
            .args(options)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start temps proxy");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("stderr");
        let log = Arc::clone(&stderr);
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut log = log.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Proxy {
            child,
            stderr,
            db: env.db(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Wait until the proxy's log has `text` (it is read on another thread).
    #[track_caller]
    pub fn logged(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.stderr().contains(text) {
            assert!(
                Instant::now() < deadline,
                "the proxy did not log `{text}`; stderr:\n{}",
                self.stderr()
            );
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// What the proxy last reported.
    pub fn state(&self) -> Option<ProxyState> {
        Store::open(&self.db).ok()?.proxy_state().ok()?
    }

    /// Wait until this proxy (not one before it, whose last report may still be there)
    /// reports `generation` applied; returns the report.
    #[track_caller]
    pub fn applied(&self, generation: i64) -> ProxyState {
        let stderr = Arc::clone(&self.stderr);
        let what = format!("generation {generation} to be applied");
        let state = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            eventually(&what, || {
                self.state()
                    .filter(|s| s.pid == self.pid() && s.generation >= generation)
            })
        }));
        state.unwrap_or_else(|_| panic!("{what}; stderr:\n{}", stderr.lock().unwrap()))
    }

    /// Requests in flight on `upstream`, as last reported.
    pub fn in_flight(&self, upstream: &str) -> u64 {
        self.state()
            .and_then(|s| s.in_flight.get(upstream).copied())
            .unwrap_or(0)
    }

    /// Wait (at most `limit`) for it to exit by itself.
    pub fn exited(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "temps proxy did not exit within {limit:?}; stderr:\n{}",
                self.stderr()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// `temps proxy` started by `command` (already set up), its stderr collected.
    pub fn spawn(mut command: std::process::Command, db: std::path::PathBuf) -> Proxy {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start temps proxy");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("stderr");
        let log = Arc::clone(&stderr);
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut log = log.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Proxy { child, stderr, db }
    }

    /// Send SIGTERM and wait (at most 15 s) for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        self.sigterm();
        self.wait_exit()
    }

    /// Send SIGTERM, and return at once.
    pub fn sigterm(&self) {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
    }

    /// Whether the proxy still runs.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("wait").is_none()
    }

    /// Wait (at most 15 s) for the exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "temps proxy did not exit after SIGTERM"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Holds `/slow` requests until released.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

/// An HTTP/1.1 upstream that answers with its name and the headers that reached it;
/// `/slow` waits for [`Upstream::release`], `/ws` switches protocols and echoes every
/// read back prefixed with its name.
pub struct Upstream {
    pub addr: String,
    gate: Arc<Gate>,
}

impl Upstream {
    pub fn start(name: &'static str) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind an upstream");
        let addr = listener.local_addr().expect("addr").to_string();
        let gate = Arc::new(Gate::default());
        let shared = Arc::clone(&gate);
        thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let gate = Arc::clone(&shared);
                thread::spawn(move || serve_upstream(name, stream, &gate));
            }
        });
        Upstream { addr, gate }
    }

    pub fn release(&self) {
        *self.gate.open.lock().unwrap() = true;
        self.gate.opened.notify_all();
    }
}

fn serve_upstream(name: &str, stream: TcpStream, gate: &Gate) {
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    while let Some((request_line, headers)) = read_head(&mut reader) {
        let header = |n: &str| {
            headers
                .iter()
                .filter(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
                .join(" | ")
        };
        let mut received = Vec::new();
        if let Ok(length) = header("content-length").parse::<usize>() {
            received = vec![0; length];
            reader.read_exact(&mut received).expect("request body");
        }
        let path = request_line.split(' ').nth(1).unwrap_or("/").to_string();
        if path == "/ws" {
            let _ = write!(
                writer,
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
            );
            let mut buf = [0; 1024];
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                let echo = format!("{name}:{}", String::from_utf8_lossy(&buf[..n]));
                let _ = writer.write_all(echo.as_bytes());
            }
            return;
        }
        if path == "/slow" {
            let open = gate.open.lock().unwrap();
            let _ = gate
                .opened
                .wait_timeout_while(open, Duration::from_secs(60), |open| !*open);
        }
        let body = format!(
            "{name}\nhost: {}\nx-forwarded-for: {}\nx-forwarded-proto: {}\nx-forwarded-host: {}\nconnection: {}\nx-hop: {}\nbody: {}\n",
            header("host"),
            header("x-forwarded-for"),
            header("x-forwarded-proto"),
            header("x-forwarded-host"),
            header("connection"),
            header("x-hop"),
            String::from_utf8_lossy(&received),
        );
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nKeep-Alive: timeout=5\r\n\r\n{body}",
            body.len()
        );
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// The request or status line and the headers (names lowercased); None at the end.
pub fn read_head(reader: &mut impl BufRead) -> Option<(String, Vec<(String, String)>)> {
    let mut first = String::new();
    if reader.read_line(&mut first).ok()? == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            return Some((first.trim_end().to_string(), headers));
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
}

/// What came back for one request.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    /// The upstream that answered: the first line of its body.
    pub fn from(&self) -> &str {
        self.body.lines().next().unwrap_or_default()
    }

    /// The value of `name` as the upstream saw it (from the body it echoes).
    pub fn seen(&self, name: &str) -> &str {
        let prefix = format!("{name}: ");
        self.body
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_default()
    }
}

/// One kept-alive client connection.
pub struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the proxy");
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .expect("timeout");
        Client {
            reader: BufReader::new(stream),
        }
    }

    pub fn send(&mut self, head: &str) {
        self.reader
            .get_mut()
            .write_all(head.as_bytes())
            .expect("send");
    }

    /// `GET path` with extra header lines, on this connection.
    pub fn get(&mut self, path: &str, extra: &str) -> Answer {
        self.send(&format!(
            "GET {path} HTTP/1.1\r\nHost: shop.example\r\n{extra}\r\n"
        ));
        self.answer()
    }

    /// `POST path` with a body, on this connection.
    pub fn post(&mut self, path: &str, body: &str) -> Answer {
        self.send(&format!(
            "POST {path} HTTP/1.1\r\nHost: shop.example\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
        self.answer()
    }

    pub fn answer(&mut self) -> Answer {
        let (status_line, headers) = read_head(&mut self.reader).expect("an answer");
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("status line `{status_line}`"));
        let length: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .map_or(0, |(_, v)| v.parse().expect("content-length"));
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).expect("body");
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// Raw bytes after a switch of protocols.
    pub fn exchange(&mut self, text: &str) -> String {
        self.reader
            .get_mut()
            .write_all(text.as_bytes())
            .expect("write");
        let mut buf = [0; 1024];
        let n = self.reader.read(&mut buf).expect("read");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}
