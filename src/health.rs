//! Health checks: how temps decides that a freshly started container serves.
//!
//! In order of preference: an HTTP GET on the project's health path (2xx/3xx); else the
//! image's own Docker HEALTHCHECK; else the container must keep running and, with a port,
//! hold a TCP connection open. Docker's userland proxy accepts a connection on a published
//! port before the app listens and then drops it, so a bare `connect()` proves nothing:
//! the TCP probe waits a moment for that drop.
//!
//! Every strategy races the engine's own "container exited" notice, so a container that
//! dies fails the check at once rather than at the timeout.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::clock::format_duration;
use crate::docker::{Engine, Health};
use crate::progress::Progress;
use crate::store::Publish;

/// Where and how to probe a container.
#[derive(Debug, Clone)]
pub enum Probe {
    Http {
        target: Target,
        path: String,
    },
    DockerHealthcheck,
    Tcp {
        target: Target,
    },
    /// No port, no health check: it must still be running after `RUNNING_GRACE`.
    Running,
}

/// The address a probe connects to.
#[derive(Debug, Clone)]
pub enum Target {
    /// The published host port: what users reach.
    Published(SocketAddr),
    /// Nothing published: the container's own address on its network.
    Container(u16),
}

/// How long a container without a port or health check must stay up to count as healthy.
const RUNNING_GRACE: Duration = Duration::from_secs(1);
/// How long the TCP probe waits for Docker's proxy to drop a connection nobody accepts.
const TCP_SETTLE: Duration = Duration::from_millis(25);

impl Probe {
    pub fn choose(
        health_path: Option<&str>,
        has_healthcheck: bool,
        container_port: Option<u16>,
        publish: Option<&Publish>,
    ) -> Probe {
        let target = container_port.map(|port| match publish {
            Some(publish) => {
                let ip = publish
                    .ip
                    .as_deref()
                    .and_then(|ip| ip.parse::<IpAddr>().ok())
                    .filter(|ip| !ip.is_unspecified())
                    .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
                Target::Published(SocketAddr::new(ip, publish.port))
            }
            None => Target::Container(port),
        });
        match (health_path, target) {
            (Some(path), Some(target)) => Probe::Http {
                target,
                path: path.to_string(),
            },
            _ if has_healthcheck => Probe::DockerHealthcheck,
            (_, Some(target)) => Probe::Tcp { target },
            _ => Probe::Running,
        }
    }

    /// What the spinner says while this probe waits.
    pub fn describe(&self) -> String {
        match self {
            Probe::Http { target, path } => format!("GET {path} on {}", target.describe()),
            Probe::DockerHealthcheck => "the image's HEALTHCHECK".to_string(),
            Probe::Tcp { target } => format!("a TCP connection on {}", target.describe()),
            Probe::Running => "the container to stay up".to_string(),
        }
    }
}

impl Target {
    fn describe(&self) -> String {
        match self {
            Target::Published(addr) => addr.to_string(),
            Target::Container(port) => format!("container port {port}"),
        }
    }
}

/// Why a container did not become healthy.
#[derive(Debug)]
pub enum Unhealthy {
    /// It stopped: its exit status and last output.
    Exited(String),
    /// The check failed for good: Docker reports it unhealthy, or it disappeared.
    Failed(String),
    /// Not healthy within the timeout, with the last answer and the container's last
    /// output; `silent` when nothing answered that last attempt at all (as opposed to an
    /// answer that was not healthy): an app that is slow to start, or listens elsewhere.
    TimedOut {
        why: String,
        silent: bool,
        timeout: Duration,
    },
    /// The engine failed while the container was watched: that is what to fix first.
    Docker(anyhow::Error),
}

impl std::fmt::Display for Unhealthy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unhealthy::Exited(why) | Unhealthy::Failed(why) | Unhealthy::TimedOut { why, .. } => {
                f.write_str(why)
            }
            Unhealthy::Docker(err) => write!(f, "{err:#}"),
        }
    }
}

impl Unhealthy {
    /// As an error: an engine failure keeps its exit code (6); the others are health
    /// failures, with `context` before them.
    pub fn into_error(self, context: impl std::fmt::Display) -> anyhow::Error {
        match self {
            Unhealthy::Docker(err) => err.context(context.to_string()),
            other => anyhow::anyhow!("{context}{other}"),
        }
    }

    /// Nothing answered on the port (as opposed to an answer that was not healthy, or
    /// a container that exited).
    pub fn nothing_answered(&self) -> bool {
        matches!(self, Unhealthy::TimedOut { silent: true, .. })
    }
}

/// Why one probe attempt did not pass. Written out, each says it as a person would
/// read it on the spinner or in an error.
#[derive(Debug)]
pub enum ProbeMiss {
    /// Connecting failed: refused, reset, unreachable.
    Connect {
        addr: SocketAddr,
        error: std::io::Error,
    },
    /// The GET could not be sent.
    Send { path: String, error: std::io::Error },
    /// The answer to the GET could not be read.
    Read { path: String, error: std::io::Error },
    /// The connection closed before the answer's status line.
    Closed { path: String },
    /// Something answered, but not in HTTP.
    NotHttp { path: String },
    /// An HTTP status other than 2xx or 3xx.
    Status { path: String, code: u16 },
    /// No answer to the GET within the attempt's time.
    HttpTimedOut { path: String },
    /// No connection within the attempt's time.
    ConnectTimedOut,
    /// A connection accepted and closed at once: Docker's proxy, with nothing behind it.
    AcceptedAndClosed { addr: SocketAddr },
    /// A connection accepted, then dropped with an error.
    Dropped {
        addr: SocketAddr,
        error: std::io::Error,
    },
    /// The image's HEALTHCHECK has not passed yet.
    Starting,
    /// The container does not run (`state`: Docker's word for it).
    NotRunning { container: String, state: String },
    /// The container runs, and Docker reports its HEALTHCHECK other than healthy.
    Reported { container: String, health: Health },
    /// The container does not exist.
    NoContainer { container: String },
    /// The container went away while its address was looked up.
    Disappeared { container: String },
    /// The container has no address on its network yet.
    NoAddress { container: String },
    /// The engine did not answer.
    Docker(anyhow::Error),
}

impl ProbeMiss {
    /// Something answered (a status, a health state), as opposed to silence: the app
    /// is up but not healthy.
    fn answered(&self) -> bool {
        matches!(
            self,
            ProbeMiss::Status { .. } | ProbeMiss::NotHttp { .. } | ProbeMiss::Starting
        )
    }
}

impl std::fmt::Display for ProbeMiss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProbeMiss::Connect { addr, error } => write!(f, "connecting to {addr}: {error}"),
            ProbeMiss::Send { path, error } => write!(f, "sending GET {path}: {error}"),
            ProbeMiss::Read { path, error } => {
                write!(f, "reading the answer to GET {path}: {error}")
            }
            ProbeMiss::Closed { path } => {
                write!(f, "connection closed before an answer to GET {path}")
            }
            ProbeMiss::NotHttp { path } => write!(f, "not an HTTP answer to GET {path}"),
            ProbeMiss::Status { path, code } => write!(f, "GET {path} → {code}"),
            ProbeMiss::HttpTimedOut { path } => write!(f, "GET {path} timed out"),
            ProbeMiss::ConnectTimedOut => f.write_str("connecting timed out"),
            ProbeMiss::AcceptedAndClosed { addr } => write!(
                f,
                "{addr} accepted and closed the connection: nothing listens yet"
            ),
            ProbeMiss::Dropped { addr, error } => {
                write!(f, "{addr} dropped the connection: {error}")
            }
            ProbeMiss::Starting => f.write_str("health: starting"),
            ProbeMiss::NotRunning { container, state } => {
                write!(f, "container {container} is {state}")
            }
            ProbeMiss::Reported { container, health } => f.write_str(
                &format!("Docker reports container {container} {health:?}").to_lowercase(),
            ),
            ProbeMiss::NoContainer { container } => {
                write!(f, "container {container} does not exist")
            }
            ProbeMiss::Disappeared { container } => {
                write!(f, "container {container} disappeared")
            }
            ProbeMiss::NoAddress { container } => {
                write!(f, "container {container} has no network address yet")
            }
            ProbeMiss::Docker(err) => write!(f, "{err:#}"),
        }
    }
}

/// Wait until `container` passes `probe`, fails it for good, exits, or `timeout` passes.
/// The error says why, with the container's last log lines when it exited.
pub async fn wait_healthy(
    engine: &Engine,
    container: &str,
    probe: &Probe,
    timeout: Duration,
    interval: Duration,
    progress: &dyn Progress,
) -> Result<(), Unhealthy> {
    let exited = engine.wait_exit(container);
    let probing = probe_until_healthy(engine, container, probe, timeout, interval, progress);
    tokio::pin!(exited, probing);
    tokio::select! {
        result = &mut probing => match result {
            Ok(()) => Ok(()),
            // A container that died meanwhile is the better reason.
            Err(why) => match engine.container(container).await {
                Ok(Some(facts)) if !facts.running => {
                    Err(Unhealthy::Exited(exit_reason(engine, container, facts.exit_code).await))
                }
                // Still running: what it said may tell why it did not answer (still
                // starting, listening elsewhere).
                _ => match why {
                    Unhealthy::TimedOut { why, silent, timeout } => {
                        let logs = engine.last_logs(container, 10).await;
                        let why = if logs.is_empty() {
                            format!("{why}; it has written nothing")
                        } else {
                            format!("{why}; its last output:\n{logs}")
                        };
                        Err(Unhealthy::TimedOut { why, silent, timeout })
                    }
                    other => Err(other),
                },
            },
        },
        code = &mut exited => {
            let code = code.map_err(Unhealthy::Docker)?;
            // A probe that already succeeded wins a tie.
            if let Some(Ok(())) = futures_util::FutureExt::now_or_never(&mut probing) {
                return Ok(());
            }
            Err(Unhealthy::Exited(exit_reason(engine, container, code).await))
        }
    }
}

/// One attempt of `probe` on a container that runs already (a warm standby): `Err` says
/// why it did not pass. A check that only waits (the image's HEALTHCHECK, staying up)
/// asks Docker what it last saw.
pub async fn probe_once(engine: &Engine, container: &str, probe: &Probe) -> Result<(), ProbeMiss> {
    const ATTEMPT: Duration = Duration::from_secs(2);
    let addr = match probe {
        Probe::Http { target, .. } | Probe::Tcp { target } => {
            Some(resolve(engine, container, target).await?)
        }
        Probe::DockerHealthcheck | Probe::Running => None,
    };
    match (probe, addr) {
        (Probe::Http { path, .. }, Some(addr)) => {
            tokio::time::timeout(ATTEMPT, http_get(addr, path))
                .await
                .unwrap_or_else(|_| Err(ProbeMiss::HttpTimedOut { path: path.clone() }))
        }
        (Probe::Tcp { .. }, Some(addr)) => tokio::time::timeout(ATTEMPT, tcp_holds(addr))
            .await
            .unwrap_or(Err(ProbeMiss::ConnectTimedOut)),
        _ => match engine.container(container).await {
            Ok(Some(facts)) if !facts.running => Err(ProbeMiss::NotRunning {
                container: container.to_string(),
                state: facts.state,
            }),
            Ok(Some(facts)) => match (probe, facts.health) {
                (Probe::DockerHealthcheck, Health::Healthy) | (Probe::Running, _) => Ok(()),
                (_, health) => Err(ProbeMiss::Reported {
                    container: container.to_string(),
                    health,
                }),
            },
            Ok(None) => Err(ProbeMiss::NoContainer {
                container: container.to_string(),
            }),
            Err(err) => Err(ProbeMiss::Docker(err)),
        },
    }
}

/// Why a container that should run does not: its exit and last output, once it has
/// stopped; `None` while it runs (or when Docker cannot say).
pub async fn why_not_running(engine: &Engine, container: &str) -> Option<String> {
    match engine.container(container).await {
        Ok(Some(facts)) if !facts.running => {
            Some(exit_reason(engine, container, facts.exit_code).await)
        }
        _ => None,
    }
}

/// "container … exited with status 3; its last output: …"
async fn exit_reason(engine: &Engine, container: &str, code: i64) -> String {
    let logs = engine.last_logs(container, 10).await;
    let mut reason = format!("container {container} exited with status {code}");
    if !logs.is_empty() {
        reason.push_str("; its last output:\n");
        reason.push_str(&logs);
    }
    reason
}

async fn probe_until_healthy(
    engine: &Engine,
    container: &str,
    probe: &Probe,
    timeout: Duration,
    interval: Duration,
    progress: &dyn Progress,
) -> Result<(), Unhealthy> {
    let deadline = Instant::now() + timeout;
    let interval = interval.max(Duration::from_millis(5));
    if let Probe::Running = probe {
        tokio::time::sleep(RUNNING_GRACE.min(timeout)).await;
        return Ok(());
    }
    // Looked up once: the published address, or the container's own (known once started).
    let mut addr: Option<SocketAddr> = None;
    // The last failure shown on the spinner, so it changes only when the answer does.
    let mut shown = String::new();
    loop {
        let attempt_timeout = deadline
            .saturating_duration_since(Instant::now())
            .clamp(Duration::from_millis(100), Duration::from_secs(2));
        if let (Probe::Http { target, .. } | Probe::Tcp { target }, None) = (probe, addr) {
            match resolve(engine, container, target).await {
                Ok(found) => addr = Some(found),
                Err(why) => {
                    if Instant::now() + interval >= deadline {
                        return Err(Unhealthy::TimedOut {
                            why: why.to_string(),
                            silent: true,
                            timeout,
                        });
                    }
                    tokio::time::sleep(interval).await;
                    continue;
                }
            }
        }
        let outcome = match (probe, addr) {
            (Probe::Http { path, .. }, Some(addr)) => {
                tokio::time::timeout(attempt_timeout, http_get(addr, path))
                    .await
                    .unwrap_or_else(|_| Err(ProbeMiss::HttpTimedOut { path: path.clone() }))
            }
            (Probe::Tcp { .. }, Some(addr)) => {
                tokio::time::timeout(attempt_timeout, tcp_holds(addr))
                    .await
                    .unwrap_or(Err(ProbeMiss::ConnectTimedOut))
            }
            _ => match engine.container(container).await {
                Ok(Some(facts)) => match facts.health {
                    Health::Healthy => Ok(()),
                    Health::Unhealthy => {
                        return Err(Unhealthy::Failed(format!(
                            "Docker reports container {container} unhealthy"
                        )))
                    }
                    Health::Starting | Health::None => Err(ProbeMiss::Starting),
                },
                Ok(None) => {
                    return Err(Unhealthy::Failed(format!(
                        "container {container} disappeared"
                    )))
                }
                Err(e) => return Err(Unhealthy::Docker(e)),
            },
        };
        let (last, answered) = match outcome {
            Ok(()) => return Ok(()),
            Err(miss) => (miss.to_string(), miss.answered()),
        };
        if Instant::now() + interval >= deadline {
            let verdict = if answered {
                "not healthy"
            } else {
                "did not answer"
            };
            return Err(Unhealthy::TimedOut {
                why: format!(
                    "{verdict} within {} (waited for {}; last: {last})",
                    format_duration(timeout),
                    probe.describe()
                ),
                silent: !answered,
                timeout,
            });
        }
        if last != shown {
            progress.step(&format!(
                "waiting for {} (up to {}); last: {last}",
                probe.describe(),
                format_duration(timeout)
            ));
            shown = last;
        }
        tokio::time::sleep(interval).await;
    }
}

async fn resolve(
    engine: &Engine,
    container: &str,
    target: &Target,
) -> Result<SocketAddr, ProbeMiss> {
    match target {
        Target::Published(addr) => Ok(*addr),
        Target::Container(port) => {
            let facts = engine
                .container(container)
                .await
                .map_err(ProbeMiss::Docker)?
                .ok_or_else(|| ProbeMiss::Disappeared {
                    container: container.to_string(),
                })?;
            let ip: IpAddr = facts
                .ip
                .as_deref()
                .and_then(|ip| ip.parse().ok())
                .ok_or_else(|| ProbeMiss::NoAddress {
                    container: container.to_string(),
                })?;
            Ok(SocketAddr::new(ip, *port))
        }
    }
}

/// One HTTP/1.0 GET; healthy on a 2xx or 3xx status.
async fn http_get(addr: SocketAddr, path: &str) -> Result<(), ProbeMiss> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|error| ProbeMiss::Connect { addr, error })?;
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nUser-Agent: temps\r\nConnection: close\r\n\r\n"
    );
    let path = || path.to_string();
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|error| ProbeMiss::Send {
            path: path(),
            error,
        })?;
    let mut head = [0u8; 64];
    let mut filled = 0;
    while filled < 12 {
        let n = stream
            .read(&mut head[filled..])
            .await
            .map_err(|error| ProbeMiss::Read {
                path: path(),
                error,
            })?;
        if n == 0 {
            return Err(ProbeMiss::Closed { path: path() });
        }
        filled += n;
    }
    let line = String::from_utf8_lossy(&head[..filled]);
    let code: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| ProbeMiss::NotHttp { path: path() })?;
    if (200..400).contains(&code) {
        Ok(())
    } else {
        Err(ProbeMiss::Status { path: path(), code })
    }
}

/// Connect and make sure the connection is held, not dropped by a proxy with nobody behind it.
async fn tcp_holds(addr: SocketAddr) -> Result<(), ProbeMiss> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|error| ProbeMiss::Connect { addr, error })?;
    let mut byte = [0u8; 1];
    match tokio::time::timeout(TCP_SETTLE, stream.read(&mut byte)).await {
        Err(_) => Ok(()),
        Ok(Ok(0)) => Err(ProbeMiss::AcceptedAndClosed { addr }),
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(ProbeMiss::Dropped { addr, error }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chooses_the_strongest_probe_available() {
        let publish: Publish = "8080".parse().unwrap();
        let http = Probe::choose(Some("/healthz"), true, Some(80), Some(&publish));
        assert!(
            matches!(http, Probe::Http { target: Target::Published(a), .. } if a.port() == 8080)
        );
        assert!(matches!(
            Probe::choose(None, true, Some(80), None),
            Probe::DockerHealthcheck
        ));
        assert!(matches!(
            Probe::choose(None, false, Some(80), None),
            Probe::Tcp {
                target: Target::Container(80)
            }
        ));
        assert!(matches!(
            Probe::choose(Some("/h"), false, None, None),
            Probe::Running
        ));
    }

    #[tokio::test]
    async fn http_probe_reads_the_status() {
        use tokio::net::TcpListener;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            for answer in [
                "HTTP/1.0 204 No Content\r\n\r\n",
                "HTTP/1.1 503 Busy\r\n\r\n",
            ] {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 256];
                let _ = s.read(&mut buf).await;
                s.write_all(answer.as_bytes()).await.unwrap();
            }
        });
        assert!(http_get(addr, "/healthz").await.is_ok());
        let err = http_get(addr, "/healthz").await.unwrap_err();
        assert_eq!(err.to_string(), "GET /healthz → 503");
        assert!(err.answered(), "{err:?}");
    }

    #[tokio::test]
    async fn tcp_probe_rejects_a_connection_dropped_at_once() {
        use tokio::net::TcpListener;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            drop(s);
            let (s, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
            drop(s);
        });
        let err = tcp_holds(addr).await.unwrap_err();
        assert!(
            matches!(
                err,
                ProbeMiss::AcceptedAndClosed { .. } | ProbeMiss::Dropped { .. }
            ),
            "{err:?}"
        );
        assert!(!err.answered());
        assert!(tcp_holds(addr).await.is_ok());
    }

    #[test]
    fn a_missed_probe_says_what_it_said_before() {
        let container = || "temps-web-production-4".to_string();
        assert_eq!(
            ProbeMiss::Reported {
                container: container(),
                health: Health::Unhealthy
            }
            .to_string(),
            "docker reports container temps-web-production-4 unhealthy"
        );
        assert_eq!(
            ProbeMiss::NotRunning {
                container: container(),
                state: "exited".into()
            }
            .to_string(),
            "container temps-web-production-4 is exited"
        );
        assert_eq!(
            ProbeMiss::HttpTimedOut {
                path: "/healthz".into()
            }
            .to_string(),
            "GET /healthz timed out"
        );
        assert_eq!(
            ProbeMiss::ConnectTimedOut.to_string(),
            "connecting timed out"
        );
        assert!(ProbeMiss::Starting.answered() && !ProbeMiss::ConnectTimedOut.answered());
    }
}
