//! Clients hammering an address while a command switches what serves it: some open a
//! new connection for every request, some keep one connection alive for all of theirs.
//! Every request is recorded (when it was sent, when its answer came, what it said or
//! how it failed), so that a test can check that none failed and that none sent after
//! the switch reached the old version.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long one request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How a client reaches the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A new connection for every request (`Connection: close`).
    NewConnection,
    /// One connection, kept alive, for every request of the client.
    KeptAlive,
}

/// One request and what came of it.
#[derive(Debug, Clone)]
pub struct Sample {
    pub client: usize,
    pub mode: Mode,
    /// Which of the client's connections carried it (1, 2, …).
    pub connection: u32,
    /// When the request was sent (its connection opened, for a new connection), since
    /// the load started.
    pub sent: Duration,
    /// When its answer (or failure) came, since the load started.
    pub received: Duration,
    /// The answer's body, trimmed (`v1`), or how the request failed.
    pub outcome: Result<String, String>,
}

/// Clients running until [`Load::stop`].
pub struct Load {
    started: Instant,
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
    /// Every request so far, as each ends.
    samples: Arc<Mutex<Vec<Sample>>>,
    clients: Vec<JoinHandle<()>>,
}

impl Load {
    /// Start `new_connection` + `kept_alive` clients sending `GET path` to 127.0.0.1:port
    /// one request after the other, as fast as answers come.
    pub fn start(port: u16, path: &str, new_connection: usize, kept_alive: usize) -> Load {
        let started = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicUsize::new(0));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let modes = std::iter::repeat_n(Mode::NewConnection, new_connection)
            .chain(std::iter::repeat_n(Mode::KeptAlive, kept_alive));
        let clients = modes
            .enumerate()
            .map(|(client, mode)| {
                let worker = Worker {
                    client,
                    mode,
                    addr: SocketAddr::from(([127, 0, 0, 1], port)),
                    path: path.to_string(),
                    started,
                    stop: Arc::clone(&stop),
                    answered: Arc::clone(&answered),
                    samples: Arc::clone(&samples),
                };
                thread::spawn(move || worker.run())
            })
            .collect();
        Load {
            started,
            stop,
            answered,
            samples,
            clients,
        }
    }

    /// The time since the load started, on the clock the samples use.
    pub fn now(&self) -> Duration {
        self.started.elapsed()
    }

    /// Wait (at most 10 s) until the clients have had `n` good answers in all.
    #[track_caller]
    pub fn warmed_up(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.answered.load(Ordering::SeqCst) < n {
            assert!(
                Instant::now() < deadline,
                "the clients got {} good answers in 10 s, not {n}",
                self.answered.load(Ordering::SeqCst)
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Wait (at most 60 s) until clients of every kind have sent at least `n` requests
    /// after `after` (on the clock of [`Load::now`]) and had their answers.
    #[track_caller]
    pub fn wait_sent_after(&self, after: Duration, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let counts: Vec<(Mode, usize)> = [Mode::NewConnection, Mode::KeptAlive]
                .into_iter()
                .map(|mode| {
                    let samples = self.samples.lock().unwrap();
                    let kind = samples.iter().filter(|s| s.mode == mode);
                    let after = kind.clone().filter(|s| s.sent > after).count();
                    (mode, if kind.count() == 0 { n } else { after })
                })
                .collect();
            if counts.iter().all(|(_, count)| *count >= n) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the clients did not send {n} requests of each kind after {after:?}: {counts:?}"
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stop the clients (each finishes its request) and collect what they saw.
    pub fn stop(self) -> Report {
        self.stop.store(true, Ordering::SeqCst);
        for client in self.clients {
            client.join().expect("a client thread");
        }
        let mut samples = std::mem::take(&mut *self.samples.lock().unwrap());
        samples.sort_by_key(|s| s.sent);
        Report { samples }
    }
}

struct Worker {
    client: usize,
    mode: Mode,
    addr: SocketAddr,
    path: String,
    started: Instant,
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
    samples: Arc<Mutex<Vec<Sample>>>,
}

impl Worker {
    fn run(self) {
        let mut kept: Option<BufReader<TcpStream>> = None;
        let mut connections = 0;
        while !self.stop.load(Ordering::SeqCst) {
            let sent = self.started.elapsed();
            let outcome = match self.mode {
                Mode::NewConnection => {
                    connections += 1;
                    connect(self.addr).and_then(|mut conn| {
                        request(&mut conn, &self.path, true).map(|(body, _)| body)
                    })
                }
                Mode::KeptAlive => {
                    let conn = match kept.take() {
                        Some(conn) => Ok(conn),
                        None => {
                            connections += 1;
                            connect(self.addr)
                        }
                    };
                    conn.and_then(|mut conn| {
                        let (body, reusable) = request(&mut conn, &self.path, false)?;
                        // A connection the proxy ended is not an error by itself; reusing
                        // one it has closed would be (it shows as a failure next time).
                        if reusable {
                            kept = Some(conn);
                        }
                        Ok(body)
                    })
                }
            };
            if outcome.is_ok() {
                self.answered.fetch_add(1, Ordering::SeqCst);
            }
            self.samples.lock().unwrap().push(Sample {
                client: self.client,
                mode: self.mode,
                connection: connections,
                sent,
                received: self.started.elapsed(),
                outcome,
            });
        }
    }
}

fn connect(addr: SocketAddr) -> Result<BufReader<TcpStream>, String> {
    let stream =
        TcpStream::connect_timeout(&addr, REQUEST_TIMEOUT).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(REQUEST_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(REQUEST_TIMEOUT)))
        .and_then(|()| stream.set_nodelay(true))
        .map_err(|e| format!("socket options: {e}"))?;
    Ok(BufReader::new(stream))
}

/// `GET path` on `conn`: the body (trimmed) of a 200 answer, and whether the connection
/// can carry another request. Anything else is a failure, described.
pub fn request(
    conn: &mut BufReader<TcpStream>,
    path: &str,
    close: bool,
) -> Result<(String, bool), String> {
    let connection = if close { "Connection: close\r\n" } else { "" };
    conn.get_mut()
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: shop.example\r\n{connection}\r\n").as_bytes(),
        )
        .map_err(|e| format!("send: {e}"))?;
    let mut status_line = String::new();
    match conn.read_line(&mut status_line) {
        Ok(0) => return Err("closed before an answer".into()),
        Ok(_) => {}
        Err(e) => return Err(format!("reading the answer: {e}")),
    }
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("status line {status_line:?}"))?;
    let (mut length, mut chunked, mut keep) = (None, false, !close);
    loop {
        let mut line = String::new();
        match conn.read_line(&mut line) {
            Ok(0) => return Err("closed in the headers".into()),
            Ok(_) => {}
            Err(e) => return Err(format!("reading the headers: {e}")),
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("header line {line:?}"));
        };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        match name.as_str() {
            "content-length" => length = value.parse::<usize>().ok(),
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "connection" if value.eq_ignore_ascii_case("close") => keep = false,
            _ => {}
        }
    }
    let body = if chunked {
        read_chunked(conn)?
    } else if let Some(length) = length {
        let mut body = vec![0; length];
        conn.read_exact(&mut body)
            .map_err(|e| format!("reading the body: {e}"))?;
        body
    } else {
        keep = false;
        let mut body = Vec::new();
        conn.read_to_end(&mut body)
            .map_err(|e| format!("reading the body: {e}"))?;
        body
    };
    let body = String::from_utf8_lossy(&body).trim().to_string();
    if status != 200 {
        return Err(format!("HTTP {status}: {body}"));
    }
    Ok((body, keep))
}

fn read_chunked(conn: &mut BufReader<TcpStream>) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        conn.read_line(&mut size)
            .map_err(|e| format!("reading a chunk: {e}"))?;
        let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
            .map_err(|_| format!("chunk size {size:?}"))?;
        let mut chunk = vec![0; size + 2];
        conn.read_exact(&mut chunk)
            .map_err(|e| format!("reading a chunk: {e}"))?;
        if size == 0 {
            return Ok(body);
        }
        body.extend_from_slice(&chunk[..size]);
    }
}

/// One `GET path` on a new connection: the body of a 200 answer, or why not.
pub fn get(port: u16, path: &str) -> Result<String, String> {
    let mut conn = connect(SocketAddr::from(([127, 0, 0, 1], port)))?;
    request(&mut conn, path, true).map(|(body, _)| body)
}

/// What the clients saw, in the order the requests were sent.
pub struct Report {
    pub samples: Vec<Sample>,
}

impl Report {
    pub fn failures(&self) -> Vec<&Sample> {
        self.samples.iter().filter(|s| s.outcome.is_err()).collect()
    }

    fn count(&self, mode: Mode) -> usize {
        self.samples.iter().filter(|s| s.mode == mode).count()
    }

    /// The longest time with no good answer, between two good answers.
    pub fn longest_gap(&self) -> Duration {
        let mut times: Vec<Duration> = self
            .samples
            .iter()
            .filter(|s| s.outcome.is_ok())
            .map(|s| s.received)
            .collect();
        times.sort();
        times
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or_default()
    }

    /// One line for the test's log.
    pub fn summary(&self) -> String {
        let clients = self.samples.iter().map(|s| s.client + 1).max();
        format!(
            "{} requests from {} clients ({} on new connections, {} kept alive), {} failed, \
             longest gap {:?}",
            self.samples.len(),
            clients.unwrap_or(0),
            self.count(Mode::NewConnection),
            self.count(Mode::KeptAlive),
            self.failures().len(),
            self.longest_gap()
        )
    }

    /// No request failed, and every answer was `old` or `new`.
    #[track_caller]
    pub fn assert_no_failure(&self, old: &str, new: &str) {
        let failures = self.failures();
        assert!(
            failures.is_empty(),
            "{} of {} requests failed; the first ones: {:#?}",
            failures.len(),
            self.samples.len(),
            &failures[..failures.len().min(10)]
        );
        let strange: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| !matches!(&s.outcome, Ok(b) if b == old || b == new))
            .collect();
        assert!(
            strange.is_empty(),
            "answers from neither {old} nor {new}: {:#?}",
            &strange[..strange.len().min(10)]
        );
    }

    /// A switch from `old` to `new` during the load, by a command that returned at
    /// `exited`: no request failed; `old` answered before the return and `new` after it began;
    /// no request sent after the first `new` answer arrived (on any client), nor after the
    /// command returned, reached `old`; and both kinds of clients sent enough requests
    /// after the return for that to mean something.
    #[track_caller]
    pub fn assert_switched(&self, old: &str, new: &str, exited: Duration) {
        self.assert_no_failure(old, new);
        let is = |s: &Sample, version: &str| s.outcome.as_deref() == Ok(version);
        assert!(
            self.samples.iter().any(|s| is(s, old) && s.sent < exited),
            "{old} never answered before the switch: {}",
            self.summary()
        );
        let first_new = self
            .samples
            .iter()
            .filter(|s| is(s, new))
            .map(|s| s.received)
            .min()
            .unwrap_or_else(|| panic!("{new} never answered: {}", self.summary()));
        // The first answer of `new` may arrive just after the command returned: the command
        // returns once the proxy applies the route, and a request routed then is still on
        // its way (a warm switch waits for no drain). What must hold is below: nothing sent
        // after that answer, or after the return, reaches `old`.
        let late: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| is(s, old) && (s.sent > first_new || s.sent > exited))
            .collect();
        assert!(
            late.is_empty(),
            "{} requests reached {old} although sent after {new} answered ({first_new:?}) or \
             the command returned ({exited:?}): {:#?}",
            late.len(),
            &late[..late.len().min(10)]
        );
        let reconnected: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| s.mode == Mode::KeptAlive && s.connection > 1)
            .take(1)
            .collect();
        assert!(
            reconnected.is_empty(),
            "a kept-alive client had to open another connection: {reconnected:#?}"
        );
        for mode in [Mode::NewConnection, Mode::KeptAlive] {
            let after = self
                .samples
                .iter()
                .filter(|s| s.mode == mode && s.sent > exited)
                .count();
            assert!(
                after >= 10,
                "only {after} requests ({mode:?}) were sent after the command returned"
            );
        }
        // Requests sent before the return whose answer came after it may be `old` only
        // because the answer was on its way: say how many, for the log.
        let in_flight = self
            .samples
            .iter()
            .filter(|s| is(s, old) && s.received > exited)
            .count();
        let last_old = self
            .samples
            .iter()
            .filter(|s| is(s, old))
            .map(|s| s.received)
            .max()
            .unwrap_or_default();
        eprintln!(
            "{old} -> {new}: {}; first {new} answer {:.0} ms before the return, last {old} \
             answer {:.0} ms before it ({in_flight} answered after it)",
            self.summary(),
            (exited.as_secs_f64() - first_new.as_secs_f64()) * 1000.0,
            (exited.as_secs_f64() - last_old.as_secs_f64()) * 1000.0,
        );
    }
}
