//! `temps serve`: the HTTP API and the dashboard, in one foreground process.
//!
//! Every route runs the same operations as the command line (`crate::ops`), through the
//! same environment locks; an operation started here runs on a thread of its own with
//! its own connection to the history, so it carries on when its client goes away, and a
//! crash of the server leaves what a crash of the command line leaves (recovered by the
//! next operation). On SIGTERM or SIGINT the server stops accepting connections and
//! waits for the operations in flight to finish.
//!
//! Where things are, in the order a request meets them:
//! - this file: the listener, the caps on connections (`clients`), TLS, and each
//!   connection's service, which stamps a request with its [`Arrival`];
//! - `edge`: what every answer carries, and the HTTP layer's own answers as error
//!   documents;
//! - `routes` (`operate`, `variables`): the handlers, small functions over extractors;
//! - `auth` (with `sessions`): who asks and what the path names, on the head; `input`:
//!   the query and the body, after it;
//! - `operations` and `events`: the operations started here, their logs and streams;
//! - `error`: the one error type and the one status mapping; `app`: the state.

mod app;
mod auth;
mod clients;
mod dashboard;
mod edge;
mod error;
mod events;
mod input;
mod metrics;
mod operations;
mod routes;
mod sessions;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use axum::extract::FromRequestParts;
use axum::response::IntoResponse;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

pub use app::App;

use crate::error::Failure;
use crate::idle::{Counted, Open};
use clients::{Admitted, Connections, Full};
use edge::LayerErrors;
use error::ApiError;

/// How long a new connection may stay silent, and a request head take.
const FIRST_BYTE: Duration = Duration::from_secs(30);
/// How long a TLS handshake may take.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// Connections over a cap answered `503` at once, at most; more are closed unanswered.
const TURNED_AWAY: usize = 256;
/// How long a connection over a cap is kept to be answered.
const TURN_AWAY_WITHIN: Duration = Duration::from_secs(10);

/// How `temps serve` was asked to run.
pub struct ServeOptions {
    pub db: PathBuf,
    pub listen: SocketAddr,
    /// Certificate chain and private key, PEM.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub insecure_http: bool,
    /// `--public-url`, as an origin (`https://temps.example.com`).
    pub public_url: Option<String>,
    /// How long a signal waits for the operations in flight.
    pub shutdown_timeout: Duration,
    /// How long a connection may stay open with no request in flight (HTTP/1.1 and
    /// HTTP/2 alike; PINGs do not count as requests).
    pub idle_timeout: Duration,
    /// `--metrics`: a loopback address serving the metrics without a token.
    pub metrics: Option<SocketAddr>,
}

/// One line on stderr, `temps serve: …`, with every control character escaped: what a
/// client sent (an image name, a path) can never start a line of its own.
pub fn log(line: &str) {
    eprintln!("temps serve: {}", crate::text::printable(line));
}

/// Where a request came from and when its head arrived, stamped by its connection.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    pub peer: SocketAddr,
    pub at: Instant,
}

impl Arrival {
    fn of(parts: &axum::http::request::Parts) -> Arrival {
        parts
            .extensions
            .get::<Arrival>()
            .copied()
            .unwrap_or_else(Arrival::unknown)
    }

    fn of_request(request: &axum::extract::Request) -> Arrival {
        request
            .extensions()
            .get::<Arrival>()
            .copied()
            .unwrap_or_else(Arrival::unknown)
    }

    fn unknown() -> Arrival {
        Arrival {
            peer: SocketAddr::from(([0, 0, 0, 0], 0)),
            at: Instant::now(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Arrival {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Arrival::of(parts))
    }
}

/// `--public-url URL`: the dashboard's origin as browsers send it, `scheme://host[:port]`.
pub fn parse_public_url(text: &str) -> Result<String, String> {
    let trimmed = text.trim().trim_end_matches('/');
    sessions::origin_key(trimmed).ok_or_else(|| {
        format!(
            "`{text}` is not an origin like `https://temps.example.com` (a scheme, a host, a port if any; no path)"
        )
    })
}

/// Plain HTTP on an address that is not loopback needs `--insecure-http`.
pub fn check_listen(options: &ServeOptions) -> Result<(), Failure> {
    if options.tls.is_none() && !options.listen.ip().is_loopback() && !options.insecure_http {
        return Err(Failure::usage(format!(
            "refusing plain HTTP on {}, which is not a loopback address: tokens would cross the network in clear",
            options.listen
        ))
        .hint(
            "give `--tls-cert PEM --tls-key PEM`, or `--insecure-http` when a TLS-terminating proxy stands in front",
        ));
    }
    Ok(())
}

/// Run until SIGTERM or SIGINT.
pub fn serve(options: ServeOptions) -> Result<()> {
    check_listen(&options)?;
    let tls = match &options.tls {
        Some((cert, key)) => Some(tls_acceptor(cert, key)?),
        None => None,
    };
    if tls.is_none() && !options.listen.ip().is_loopback() {
        log(&format!(
            "warning: serving plain HTTP on {}, which is not a loopback address (`--insecure-http`): \
             tokens and session cookies cross the network in clear up to the TLS-terminating proxy; \
             keep that hop on a network only it reaches",
            options.listen
        ));
    }
    // A signal stops the server, never an operation it runs.
    crate::ops::let_operations_finish();
    if let Err(why) = crate::ops::notify::spawn_retrier(options.db.clone(), "serve") {
        log(&format!(
            "warning: failed notifications will not be retried: {why}"
        ));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run(options, tls))
}

/// What every connection is served with.
#[derive(Clone)]
struct Serving {
    router: axum::Router,
    builder: Arc<auto::Builder<TokioExecutor>>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// `true` asks every connection to finish what it answers, then close.
    stop: tokio::sync::watch::Receiver<bool>,
    idle: Duration,
}

async fn run(options: ServeOptions, tls: Option<tokio_rustls::TlsAcceptor>) -> Result<()> {
    let app = Arc::new(App::new(
        options.db.clone(),
        tls.is_some(),
        options.public_url.clone(),
    )?);
    let listener = TcpListener::bind(options.listen).await.map_err(|e| {
        Failure::usage(format!("cannot listen on {}: {e}", options.listen))
            .hint("choose another address with `--listen` (or `TEMPS_LISTEN`)")
    })?;
    let local = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    metrics::start(options.metrics, &app).await?;
    // The one line a supervisor (or a test) reads for the address, with the port the
    // system chose for `--listen …:0`.
    log(&format!("listening on {scheme}://{local}"));

    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).context("catching SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("catching SIGINT")?;
    let (stopping, stop) = tokio::sync::watch::channel(false);
    let builder = {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(FIRST_BYTE)
            .max_buf_size(64 * 1024);
        builder
            .http2()
            .max_concurrent_streams(100)
            .max_header_list_size(64 * 1024)
            .initial_stream_window_size(64 * 1024)
            .initial_connection_window_size(256 * 1024);
        Arc::new(builder)
    };
    let serving = Serving {
        router: routes::router(app.clone()),
        builder,
        tls,
        stop,
        idle: options.idle_timeout,
    };
    let connections = Arc::new(Connections::default());
    let turned_away = Arc::new(tokio::sync::Semaphore::new(TURNED_AWAY));
    // When a connection over a cap was last logged: at most one line every 10 s.
    let mut logged_turning_away: Option<Instant> = None;
    let signal_name = loop {
        tokio::select! {
            _ = terminate.recv() => break "SIGTERM",
            _ = interrupt.recv() => break "SIGINT",
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(_) => {
                        // Out of descriptors, say: wait a little rather than spin.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                match connections.admit(peer.ip()) {
                    Ok(admitted) => {
                        tokio::spawn(serving.clone().serve(stream, peer, admitted));
                    }
                    Err(full) => {
                        if logged_turning_away.is_none_or(|at| at.elapsed() >= Duration::from_secs(10)) {
                            logged_turning_away = Some(Instant::now());
                            log(&format!("answering 503 to new connections: {}", match full {
                                Full::Server => format!("{} connections are open", clients::MAX_CONNECTIONS),
                                Full::Client => format!("{} holds {} connections", clients::client_of(peer.ip()), clients::MAX_PER_CLIENT),
                            }));
                        }
                        // Over a cap: a 503 that says why, while that costs little.
                        if let Ok(permit) = turned_away.clone().try_acquire_owned() {
                            let serving = serving.clone();
                            tokio::spawn(async move {
                                let _ = tokio::time::timeout(TURN_AWAY_WITHIN, serving.turn_away(stream, full)).await;
                                drop(permit);
                            });
                        }
                    }
                }
            }
        }
    };
    drop(listener);
    app.operations.close();
    // Connections finish the request they are answering, then close.
    let _ = stopping.send(true);
    let running = app.operations.running();
    if running > 0 {
        log(&format!(
            "{signal_name}: no longer accepting connections; waiting for {running} operation(s) in flight"
        ));
    } else {
        log(&format!("{signal_name}: stopping"));
    }
    if !app.operations.wait_idle(options.shutdown_timeout).await {
        log(&format!(
            "operations still running after {}; exiting: the next operation on their environments recovers them",
            crate::clock::format_duration(options.shutdown_timeout)
        ));
    }
    // Answers in progress (a `?wait=true` of an operation that just ended, an event
    // stream's last event) get a moment.
    let closed = async {
        while connections.count() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), closed).await;
    Ok(())
}

impl Serving {
    /// Serve one admitted connection (counted open until it ends).
    async fn serve(self, stream: tokio::net::TcpStream, peer: SocketAddr, admitted: Admitted) {
        match self.tls.clone() {
            None => {
                // A connection that never sends a byte is closed, as one that stalls in
                // a request head is (hyper's header timeout starts only with a request).
                let mut first = [0u8; 1];
                let spoke = tokio::time::timeout(FIRST_BYTE, stream.peek(&mut first)).await;
                if matches!(spoke, Ok(Ok(n)) if n > 0) {
                    self.connection(LayerErrors::new(TokioIo::new(stream), false), peer)
                        .await;
                }
            }
            Some(acceptor) => {
                let handshake = tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await;
                if let Ok(Ok(stream)) = handshake {
                    self.connection(LayerErrors::new(TokioIo::new(stream), true), peer)
                        .await;
                }
            }
        }
        drop(admitted);
    }

    /// Serve one connection until it ends, or has had no request in flight for `idle`,
    /// or the server stops: then the requests open finish (HTTP/2: GOAWAY), and a client
    /// that holds the connection open after them is let go after the idle limit once more.
    async fn connection<I>(mut self, io: I, peer: SocketAddr)
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        use hyper::service::Service as _;
        let open = Open::new();
        let requests = open.clone();
        let inner = TowerToHyperService::new(self.router.clone());
        let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
            request.extensions_mut().insert(Arrival {
                peer,
                at: Instant::now(),
            });
            let counted = requests.request();
            let answer = inner.call(request);
            async move {
                answer.await.map(|response| {
                    response.map(|body| Counted {
                        body,
                        request: counted,
                    })
                })
            }
        });
        let conn = self.builder.serve_connection_with_upgrades(io, service);
        tokio::pin!(conn);
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = self.stop.wait_for(|stopping| *stopping) => {}
            _ = open.idle_for(self.idle) => {}
        }
        conn.as_mut().graceful_shutdown();
        tokio::select! {
            _ = conn => {}
            _ = open.idle_for(self.idle) => {}
        }
    }

    /// A connection over a cap: every request on it answers `503 unavailable`, and it
    /// closes (the caller bounds how long this may take).
    async fn turn_away(self, stream: tokio::net::TcpStream, full: Full) {
        let error = match full {
            Full::Server => ApiError::unavailable(format!(
                "the server serves {} connections already",
                clients::MAX_CONNECTIONS
            )),
            Full::Client => ApiError::unavailable(format!(
                "this client holds {} connections already",
                clients::MAX_PER_CLIENT
            )),
        }
        .hint("close idle connections, or try again in a moment");
        let tls = self.tls.is_some();
        let service =
            hyper::service::service_fn(move |_: hyper::Request<hyper::body::Incoming>| {
                let mut response = error.clone().into_response();
                let headers = response.headers_mut();
                headers.insert(
                    axum::http::header::CONNECTION,
                    axum::http::HeaderValue::from_static("close"),
                );
                edge::every_answers_headers(headers, tls);
                async move { Ok::<_, std::convert::Infallible>(response) }
            });
        match self.tls {
            None => {
                let io = LayerErrors::new(TokioIo::new(stream), false);
                let _ = self.builder.serve_connection(io, service).await;
            }
            Some(acceptor) => {
                if let Ok(stream) = acceptor.accept(stream).await {
                    let io = LayerErrors::new(TokioIo::new(stream), true);
                    let _ = self.builder.serve_connection(io, service).await;
                }
            }
        }
    }
}

/// A TLS acceptor from PEM files (HTTP/2 and HTTP/1.1 by ALPN).
fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<tokio_rustls::TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what: &str, path: &std::path::Path, err: String| {
        Failure::usage(format!(
            "cannot read the TLS {what} `{}`: {err}",
            path.display()
        ))
        .hint("give PEM files: `--tls-cert fullchain.pem --tls-key privkey.pem`")
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad("certificate", cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad("certificate", cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("certificate", cert, "no certificate in it".into()).into());
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad("key", key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("choosing TLS versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            Failure::usage(format!(
                "the TLS certificate and key do not go together: {e}"
            ))
            .hint("give the key that belongs to the certificate")
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
