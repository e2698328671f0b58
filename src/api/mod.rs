//! `temps serve`: the HTTP API and the dashboard, in one foreground process.
//!
//! Every route runs the same operations as the command line (`crate::ops`), through the
//! same environment locks; an operation started here runs on a thread of its own with
//! its own connection to the history, so it carries on when its client goes away, and a
//! crash of the server leaves what a crash of the command line leaves (recovered by the
//! next operation). On SIGTERM or SIGINT the server stops accepting connections and
//! waits for the operations in flight to finish.

mod app;
mod error;
mod operations;
mod routes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

pub use app::App;

use crate::error::Failure;
use crate::idle::{Counted, Open};

/// How long a new connection may stay silent, and a request head take.
const FIRST_BYTE: Duration = Duration::from_secs(30);

/// Connections served at once; more are closed as they arrive.
const MAX_CONNECTIONS: usize = 4096;

/// How `temps serve` was asked to run.
pub struct ServeOptions {
    pub db: PathBuf,
    pub listen: SocketAddr,
    /// Certificate chain and private key, PEM.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub insecure_http: bool,
    /// How long a signal waits for the operations in flight.
    pub shutdown_timeout: Duration,
    /// How long a connection may stay open with no request in flight (HTTP/1.1 and
    /// HTTP/2 alike; PINGs do not count as requests).
    pub idle_timeout: Duration,
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
    // A signal stops the server, never an operation it runs.
    crate::ops::let_operations_finish();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run(options, tls))
}

async fn run(options: ServeOptions, tls: Option<tokio_rustls::TlsAcceptor>) -> Result<()> {
    let app = Arc::new(App::new(options.db.clone(), tls.is_some())?);
    let listener = TcpListener::bind(options.listen).await.map_err(|e| {
        Failure::usage(format!("cannot listen on {}: {e}", options.listen))
            .hint("choose another address with `--listen` (or `TEMPS_LISTEN`)")
    })?;
    let local = listener.local_addr()?;
    let router = routes::router(app.clone());
    let scheme = if tls.is_some() { "https" } else { "http" };
    eprintln!("temps serve: listening on {scheme}://{local}");

    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).context("catching SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("catching SIGINT")?;
    // Every connection watches this; `true` asks them to finish what they answer, then close.
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
    let connections = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let signal_name = loop {
        tokio::select! {
            _ = terminate.recv() => break "SIGTERM",
            _ = interrupt.recv() => break "SIGINT",
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(pair) => pair,
                    Err(_) => {
                        // Out of descriptors, say: wait a little rather than spin.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(permit) = connections.clone().try_acquire_owned() else {
                    drop(stream);
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let router = router.clone();
                let builder = builder.clone();
                let stop = stop.clone();
                let idle = options.idle_timeout;
                match &tls {
                    None => {
                        tokio::spawn(async move {
                            // A connection that never sends a byte is closed, as one
                            // that stalls in a request head is (hyper's header timeout
                            // starts only with a request).
                            let mut first = [0u8; 1];
                            let spoke = tokio::time::timeout(FIRST_BYTE, stream.peek(&mut first)).await;
                            if matches!(spoke, Ok(Ok(n)) if n > 0) {
                                connection(&builder, TokioIo::new(stream), router, stop, idle).await;
                            }
                            drop(permit);
                        });
                    }
                    Some(acceptor) => {
                        let acceptor = acceptor.clone();
                        tokio::spawn(async move {
                            let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await;
                            if let Ok(Ok(stream)) = handshake {
                                connection(&builder, TokioIo::new(stream), router, stop, idle).await;
                            }
                            drop(permit);
                        });
                    }
                }
            }
        }
    };
    drop(listener);
    app.operations.close();
    // Connections finish the request they are answering, then close.
    let _ = stopping.send(true);
    let connections_closed = async move {
        let _ = connections.acquire_many(MAX_CONNECTIONS as u32).await;
    };
    let running = app.operations.running();
    if running > 0 {
        eprintln!(
            "temps serve: {signal_name}: no longer accepting connections; waiting for {running} operation(s) in flight"
        );
    } else {
        eprintln!("temps serve: {signal_name}: stopping");
    }
    if !app.operations.wait_idle(options.shutdown_timeout).await {
        eprintln!(
            "temps serve: operations still running after {}; exiting: the next operation on their environments recovers them",
            crate::clock::format_duration(options.shutdown_timeout)
        );
    }
    // Answers in progress (a `?wait=true` of an operation that just ended, an event
    // stream's last event) get a moment.
    let _ = tokio::time::timeout(Duration::from_secs(2), connections_closed).await;
    Ok(())
}

/// Serve one connection until it ends, or has had no request in flight for `idle`, or
/// the server stops: then the requests open finish (HTTP/2: GOAWAY), and a client that
/// holds the connection open after them is let go after the idle limit once more.
async fn connection<I>(
    builder: &auto::Builder<TokioExecutor>,
    io: I,
    router: axum::Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
    idle: Duration,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    use hyper::service::Service as _;
    let open = Open::new();
    let requests = open.clone();
    let inner = TowerToHyperService::new(router);
    let service = hyper::service::service_fn(move |request| {
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
    let conn = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = stop.wait_for(|stopping| *stopping) => {}
        _ = open.idle_for(idle) => {}
    }
    conn.as_mut().graceful_shutdown();
    tokio::select! {
        _ = conn => {}
        _ = open.idle_for(idle) => {}
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
