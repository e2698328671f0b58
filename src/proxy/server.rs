//! The listeners: one per routed address, each serving HTTP/1.1 and h2c (prior
//! knowledge) connections, with upgrades. A listener no longer routed stops accepting and
//! its connections close once their requests are answered; so do all on shutdown.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::forward::Forwarder;
use super::h1;
use super::policy::{HEADER_READ_TIMEOUT, MAX_HEAD};
use super::table::{plan, sweep_pool, Routes, Wanted};
use super::{event, problem};
use crate::idle::{stop_requested, Counted, Open};
use crate::store::Route;

/// What the listeners share with the reporter.
#[derive(Default)]
pub struct Serving {
    /// The addresses listened on, as the routes write them.
    pub listening: Mutex<Vec<String>>,
    /// Client connections open now, on any listener.
    pub connections: AtomicUsize,
}

struct Listener {
    wanted: Wanted,
    stop: watch::Sender<bool>,
    /// Its TLS configuration (None: plain HTTP), read at every accept.
    tls: watch::Sender<Option<TlsAcceptor>>,
    /// A second descriptor of the listening socket, to hand over to a successor.
    socket: OwnedFd,
}

/// What the proxy allows each client, and all of them together.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long a client connection may have no request in progress.
    pub idle: Duration,
    /// How many client connections may be open at once.
    pub connections: usize,
}

/// Every listener, and the table their requests are routed by.
pub struct Server {
    routes: Arc<Routes>,
    forwarder: Arc<Forwarder>,
    http2: Arc<http2::Builder<TokioExecutor>>,
    serving: Arc<Serving>,
    limits: Limits,
    listeners: HashMap<SocketAddr, Listener>,
    /// Routed addresses that could not be bound, with the last error (retried).
    unbound: BTreeMap<SocketAddr, Wanted>,
    bind_errors: HashMap<SocketAddr, String>,
    problems: HashSet<String>,
    /// Listening sockets given by systemd or by the proxy this one took over from, by
    /// address, until a route wants them.
    inherited: HashMap<SocketAddr, std::net::TcpListener>,
    /// Each TLS address's configuration, made once.
    tls_configs: HashMap<SocketAddr, TlsAcceptor>,
    /// The ACME domains the routes want, for the ACME manager.
    acme_domains: watch::Sender<BTreeSet<String>>,
}

/// HTTP/2's flow-control window, for a stream and for a whole connection: how much a
/// client may send ahead of what the app has read, which the proxy holds meanwhile.
/// Measured with a thousand uploads to an app that never reads: hyper's default of 1 MB
/// held 1.25 MB each; the protocol's default, 64 KiB, 156 KB; 16 KiB, 99 KB; 8 KiB,
/// 85 KB. A stream's upload runs at most a window per round trip: 8 KiB is 80 MB/s at
/// 0.1 ms (a client on the same host), 8 MB/s at 1 ms (the same network). Enough for a
/// client next door, which h2c has (a TLS terminator on the same host or network).
const HTTP2_WINDOW: u32 = 8 * 1024;
/// Streams one HTTP/2 connection may have open at once (nginx: 128).
const HTTP2_STREAMS: u32 = 100;
/// How much of its answers an HTTP/2 connection may queue for a client that reads slowly.
const HTTP2_SEND_BUFFER: usize = 64 * 1024;

/// HTTP/2 (prior knowledge) connections are served by hyper, within the bounds that keep
/// what a connection holds small, whatever its client does.
fn http2_builder() -> http2::Builder<TokioExecutor> {
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .keep_alive_interval(HEADER_READ_TIMEOUT)
        .keep_alive_timeout(Duration::from_secs(20))
        .initial_stream_window_size(HTTP2_WINDOW)
        .initial_connection_window_size(HTTP2_WINDOW)
        .adaptive_window(false)
        .max_concurrent_streams(HTTP2_STREAMS)
        // The same bound as an HTTP/1.1 request head's.
        .max_header_list_size(MAX_HEAD as u32)
        .max_send_buf_size(HTTP2_SEND_BUFFER);
    builder
}

impl Server {
    /// Made within the runtime: the pool of upstream connections is kept from here on.
    pub fn new(
        routes: Arc<Routes>,
        serving: Arc<Serving>,
        limits: Limits,
        inherited: Vec<std::net::TcpListener>,
        acme_domains: watch::Sender<BTreeSet<String>>,
    ) -> Server {
        tokio::spawn(sweep_pool(Arc::clone(&routes)));
        let inherited = inherited
            .into_iter()
            .filter_map(|socket| Some((socket.local_addr().ok()?, socket)))
            .collect();
        Server {
            inherited,
            tls_configs: HashMap::new(),
            acme_domains,
            forwarder: Arc::new(Forwarder::new(Arc::clone(&routes))),
            routes,
            http2: Arc::new(http2_builder()),
            serving,
            limits,
            listeners: HashMap::new(),
            unbound: BTreeMap::new(),
            bind_errors: HashMap::new(),
            problems: HashSet::new(),
        }
    }

    /// Serve `routes` from now on: switch the table, listen on new addresses, stop
    /// listening on addresses no longer routed. Returns the generation applied.
    pub async fn apply(&mut self, routes: &[Route]) -> i64 {
        let holders: HashMap<SocketAddr, i64> = self
            .listeners
            .iter()
            .map(|(addr, l)| (*addr, l.wanted.environment_id))
            .collect();
        let mut plan = plan(routes, &self.routes.upstreams, &holders);
        // The certificates first: a handshake on a new TLS address finds them.
        let certificates = self.routes.certificates.apply(&plan.secure);
        plan.problems.extend(certificates.problems);
        self.acme_domains.send_if_modified(|wanted| {
            let changed = *wanted != certificates.acme;
            *wanted = certificates.acme;
            changed
        });
        if let Some(edge) = self.routes.edge {
            match plan.listen.get(&edge) {
                Some(wanted) if wanted.tls => plan.problems.push(format!(
                    "--http {edge} is routed with HTTPS for {}: no ACME challenges or redirects there",
                    wanted.name
                )),
                Some(_) => {}
                None => {
                    plan.listen.insert(
                        edge,
                        Wanted {
                            written: edge.to_string(),
                            name: "--http (ACME challenges, redirects to HTTPS)".into(),
                            environment_id: 0,
                            tls: false,
                        },
                    );
                }
            }
        }
        for line in plan.problems.iter().filter(|p| !self.problems.contains(*p)) {
            problem(line);
        }
        self.problems = plan.problems.iter().cloned().collect();
        let generation = plan.table.generation;
        // Switch first, then open new addresses: a request on a new listener always
        // finds its route.
        self.routes.replace(plan.table);
        let mut stopped = Vec::new();
        self.listeners
            .retain(|addr, listener| match plan.listen.get(addr) {
                Some(wanted) => {
                    listener.wanted = wanted.clone();
                    true
                }
                None => {
                    let _ = listener.stop.send(true);
                    event(format!("stopped listening on {}", listener.wanted.written));
                    stopped.push(*addr);
                    false
                }
            });
        for addr in stopped {
            self.tls_configs.remove(&addr);
        }
        let addresses: Vec<(SocketAddr, bool)> = self
            .listeners
            .iter()
            .map(|(addr, l)| (*addr, l.wanted.tls))
            .collect();
        for (addr, tls) in addresses {
            let acceptor = self.acceptor(addr, tls);
            if let Some(listener) = self.listeners.get(&addr) {
                listener.tls.send_if_modified(|current| {
                    let changed = current.is_some() != acceptor.is_some();
                    *current = acceptor;
                    changed
                });
            }
        }
        self.unbound = plan
            .listen
            .into_iter()
            .filter(|(addr, _)| !self.listeners.contains_key(addr))
            .collect();
        self.bind_errors
            .retain(|addr, _| self.unbound.contains_key(addr));
        self.bind_unbound().await;
        generation
    }

    /// Try again to listen on the routed addresses that could not be bound; true when
    /// one more is listened on now.
    pub async fn retry_binds(&mut self) -> bool {
        if self.unbound.is_empty() {
            return false;
        }
        let before = self.listeners.len();
        self.bind_unbound().await;
        self.listeners.len() != before
    }

    /// The TLS acceptor of `addr` when it serves TLS (made once per address).
    fn acceptor(&mut self, addr: SocketAddr, tls: bool) -> Option<TlsAcceptor> {
        if !tls {
            return None;
        }
        if let Some(acceptor) = self.tls_configs.get(&addr) {
            return Some(acceptor.clone());
        }
        match super::tls::server_config(addr, Arc::clone(&self.routes.certificates)) {
            Ok(config) => {
                let acceptor = TlsAcceptor::from(config);
                self.tls_configs.insert(addr, acceptor.clone());
                Some(acceptor)
            }
            Err(err) => {
                problem(format!("no TLS on {addr}: {err}"));
                None
            }
        }
    }

    async fn bind_unbound(&mut self) {
        for (addr, wanted) in std::mem::take(&mut self.unbound) {
            let bound = match self.inherited.remove(&addr) {
                Some(socket) => adopt(socket).map(|s| (s, " (inherited)")),
                None => listen_on(addr).map(|s| (s, "")),
            };
            match bound.and_then(|(socket, how)| {
                let fd = socket.as_fd().try_clone_to_owned()?;
                Ok((socket, fd, how))
            }) {
                Ok((socket, fd, how)) => {
                    event(format!(
                        "listening on {}{how} for {}{}",
                        wanted.written,
                        wanted.name,
                        if wanted.tls { " (HTTPS)" } else { "" }
                    ));
                    self.bind_errors.remove(&addr);
                    let (stop, stopped) = watch::channel(false);
                    let (tls, tls_rx) = watch::channel(self.acceptor(addr, wanted.tls));
                    let shared = Connections {
                        routes: Arc::clone(&self.routes),
                        forwarder: Arc::clone(&self.forwarder),
                        http2: Arc::clone(&self.http2),
                        serving: Arc::clone(&self.serving),
                        limits: self.limits,
                    };
                    tokio::spawn(accept(socket, addr, stopped, tls_rx, shared));
                    self.listeners.insert(
                        addr,
                        Listener {
                            wanted,
                            stop,
                            tls,
                            socket: fd,
                        },
                    );
                }
                Err(err) => {
                    let why = err.to_string();
                    if self.bind_errors.get(&addr) != Some(&why) {
                        problem(format!(
                            "cannot listen on {} for {}: {why} (retrying every second)",
                            wanted.written, wanted.name
                        ));
                        self.bind_errors.insert(addr, why);
                    }
                    self.unbound.insert(addr, wanted);
                }
            }
        }
        let mut listening: Vec<String> = self
            .listeners
            .values()
            .map(|l| l.wanted.written.clone())
            .collect();
        listening.sort();
        *self
            .serving
            .listening
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = listening;
    }

    /// The listening sockets, by address (routed ones and inherited ones not routed
    /// yet): what a successor takes over.
    pub fn sockets(&self) -> Vec<(SocketAddr, std::os::fd::BorrowedFd<'_>)> {
        let mut sockets: Vec<_> = self
            .listeners
            .iter()
            .map(|(addr, l)| (*addr, l.socket.as_fd()))
            .chain(self.inherited.iter().map(|(addr, s)| (*addr, s.as_fd())))
            .collect();
        sockets.sort_by_key(|(addr, _)| *addr);
        sockets
    }

    /// Stop accepting everywhere; connections close as soon as their requests are answered.
    pub fn stop(&mut self) {
        for (_, listener) in self.listeners.drain() {
            let _ = listener.stop.send(true);
        }
        self.unbound.clear();
        self.inherited.clear();
        self.serving
            .listening
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Wait until no connection is open and nothing is in flight, at most `timeout`.
    /// Returns what is still in flight then.
    pub async fn drained(&self, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        loop {
            let in_flight = self.routes.upstreams.total_in_flight();
            let open = self.serving.connections.load(Ordering::SeqCst);
            if (in_flight == 0 && open == 0) || Instant::now() >= deadline {
                return in_flight;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// How many connections the kernel may hold for a listener before it accepts them:
/// tokio's 1024 overflowed when a thousand clients connected at once, and the ones
/// dropped then were reset after their handshake. The kernel caps it at `somaxconn`.
const LISTEN_BACKLOG: u32 = 4096;

/// A listening socket made elsewhere (systemd, the proxy before this one), for tokio.
fn adopt(socket: std::net::TcpListener) -> io::Result<TcpListener> {
    socket.set_nonblocking(true)?;
    TcpListener::from_std(socket)
}

fn listen_on(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // As tokio's `TcpListener::bind`: a restarted proxy binds at once.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// What every connection of a listener shares.
#[derive(Clone)]
struct Connections {
    routes: Arc<Routes>,
    forwarder: Arc<Forwarder>,
    http2: Arc<http2::Builder<TokioExecutor>>,
    serving: Arc<Serving>,
    limits: Limits,
}

async fn accept(
    socket: TcpListener,
    listen: SocketAddr,
    mut stopped: watch::Receiver<bool>,
    tls: watch::Receiver<Option<TlsAcceptor>>,
    shared: Connections,
) {
    let mut last_error: Option<Instant> = None;
    let mut last_full: Option<Instant> = None;
    let stop_connections = stopped.clone();
    loop {
        tokio::select! {
            accepted = socket.accept() => match accepted {
                Ok((stream, peer)) => {
                    // Over the limit, a connection is closed at once: accepting it frees
                    // the listen queue, and the client learns now rather than after a
                    // timeout. Said at most once a minute.
                    let Some(open) = OpenConnection::new(&shared.serving, shared.limits.connections) else {
                        drop(stream);
                        if last_full.is_none_or(|at| at.elapsed() > Duration::from_secs(60)) {
                            problem(format!(
                                "{} client connections are open, as many as --max-connections allows: \
                                 new ones are closed until some end",
                                shared.limits.connections
                            ));
                            last_full = Some(Instant::now());
                        }
                        continue;
                    };
                    let accepted = Accepted { open, peer, listen, stopped: stop_connections.clone() };
                    match tls.borrow().clone() {
                        None => tokio::spawn(connection(stream, accepted, shared.clone())),
                        Some(acceptor) => {
                            tokio::spawn(tls_connection(stream, acceptor, accepted, shared.clone()))
                        }
                    };
                }
                Err(err) => {
                    // Out of file descriptors, say: say so at most once a minute, and
                    // give the connections a moment to close.
                    if last_error.is_none_or(|at| at.elapsed() > Duration::from_secs(60)) {
                        problem(format!("accepting a connection on {listen}: {err}"));
                        last_error = Some(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            _ = stop_requested(&mut stopped) => return,
        }
    }
}

/// Counts a client connection open while it lives.
struct OpenConnection(Arc<Serving>);

impl OpenConnection {
    /// Count one more, unless `limit` are open already.
    fn new(serving: &Arc<Serving>, limit: usize) -> Option<OpenConnection> {
        serving
            .connections
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |open| {
                (open < limit).then_some(open + 1)
            })
            .ok()?;
        Some(OpenConnection(Arc::clone(serving)))
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A client connection just accepted.
struct Accepted {
    /// Counts it open while it lives.
    open: OpenConnection,
    peer: SocketAddr,
    listen: SocketAddr,
    stopped: watch::Receiver<bool>,
}

async fn connection(stream: TcpStream, accepted: Accepted, shared: Connections) {
    let _ = stream.set_nodelay(true);
    serve_http(stream, accepted, shared, false).await;
}

/// How long a new connection may take to send its first request once the listener stops.
const FIRST_REQUEST_GRACE: Duration = Duration::from_secs(10);

/// How long a client may take over its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to a TLS address: the handshake (its certificate picked by SNI, none
/// for an unknown name), then HTTP/2 or HTTP/1.1 as ALPN chose; an ACME TLS-ALPN-01
/// validation ends with its handshake.
async fn tls_connection(
    stream: TcpStream,
    acceptor: TlsAcceptor,
    accepted: Accepted,
    shared: Connections,
) {
    let _ = stream.set_nodelay(true);
    // Not cut short by a stop: the client's first request is answered (see `h1`).
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await;
    let Ok(Ok(mut stream)) = handshake else {
        return;
    };
    let alpn = stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    match alpn.as_deref() {
        Some(super::tls::ACME_TLS_ALPN) => {
            use tokio::io::AsyncWriteExt;
            let _ = stream.shutdown().await;
        }
        Some(b"h2") => Box::pin(http2(stream, Vec::new(), accepted, shared, true)).await,
        _ => serve_http(stream, accepted, shared, true).await,
    }
}

/// HTTP/1.1 on a client connection, and HTTP/2 when it opens with the preface.
async fn serve_http<S: h1::ClientStream + 'static>(
    stream: S,
    accepted: Accepted,
    shared: Connections,
    https: bool,
) {
    let h1::Ended::Http2(stream, read) = h1::serve(
        stream,
        accepted.peer.ip(),
        accepted.listen,
        &shared.routes,
        shared.limits.idle,
        accepted.stopped.clone(),
        https,
    )
    .await
    else {
        return;
    };
    // Boxed, so that an HTTP/1.1 connection's task does not carry HTTP/2's state.
    Box::pin(http2(stream, read, accepted, shared, https)).await;
}

async fn http2<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: S,
    read: Vec<u8>,
    accepted: Accepted,
    shared: Connections,
    https: bool,
) {
    let Accepted {
        open: _open,
        peer,
        listen,
        mut stopped,
    } = accepted;
    let client = peer.ip();
    let forwarder = shared.forwarder;
    let open = Open::new();
    let requests = open.clone();
    let first_request = Arc::new(tokio::sync::Notify::new());
    let began = Arc::clone(&first_request);
    let service = service_fn(move |request| {
        let forwarder = Arc::clone(&forwarder);
        let counted = requests.request();
        began.notify_one();
        async move {
            let response = forwarder.handle(listen, client, https, request).await;
            Ok::<_, std::convert::Infallible>(response.map(|body| Counted {
                body,
                request: counted,
            }))
        }
    });
    let io = TokioIo::new(Prefixed {
        read,
        at: 0,
        stream,
    });
    let conn = shared.http2.serve_connection(io, service);
    tokio::pin!(conn);
    let idle = shared.limits.idle;
    let mut stopping = false;
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = stop_requested(&mut stopped) => stopping = true,
        _ = open.idle_for(idle) => {}
    }
    // A connection just accepted gets its first request answered even when the
    // listener stops meanwhile (a restart or an upgrade): a GOAWAY before it would
    // refuse it.
    if stopping {
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = first_request.notified() => {}
            _ = tokio::time::sleep(idle.min(FIRST_REQUEST_GRACE)) => {}
        }
    }
    // GOAWAY: the streams open finish; a client that keeps the connection open after
    // them, without a stream, is let go after the idle limit once more.
    conn.as_mut().graceful_shutdown();
    tokio::select! {
        _ = conn => {}
        _ = open.idle_for(idle) => {}
    }
}

/// A connection some of whose bytes were already read: those come first.
struct Prefixed<S> {
    read: Vec<u8>,
    at: usize,
    stream: S,
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.at < this.read.len() {
            let n = (this.read.len() - this.at).min(buf.remaining());
            buf.put_slice(&this.read[this.at..this.at + n]);
            this.at += n;
            if this.at == this.read.len() {
                // The HTTP/1.1 read buffer (8 KB) is not kept for the connection's life.
                this.read = Vec::new();
                this.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
