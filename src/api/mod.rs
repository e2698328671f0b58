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

/// How long a new connection may stay silent, and a request head take.
const FIRST_BYTE: Duration = Duration::from_secs(30);

/// How `temps serve` was asked to run.
pub struct ServeOptions {
    pub db: PathBuf,
    pub listen: SocketAddr,
    /// Certificate chain and private key, PEM.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub insecure_http: bool,
    /// How long a signal waits for the operations in flight.
    pub shutdown_timeout: Duration,
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
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
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
    let connections = Arc::new(tokio::sync::Semaphore::new(4096));
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
                let service = TowerToHyperService::new(router.clone());
                let builder = builder.clone();
                match &tls {
                    None => {
                        let watcher = graceful.watcher();
                        tokio::spawn(async move {
                            // A connection that never sends a byte is closed, as one
                            // that stalls in a request head is (hyper's header timeout
                            // starts only with a request).
                            let mut first = [0u8; 1];
                            let spoke = tokio::time::timeout(FIRST_BYTE, stream.peek(&mut first)).await;
                            if matches!(spoke, Ok(Ok(n)) if n > 0) {
                                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                                let _ = watcher.watch(conn.into_owned()).await;
                            }
                            drop(permit);
                        });
                    }
                    Some(acceptor) => {
                        let acceptor = acceptor.clone();
                        let watcher = graceful.watcher();
                        tokio::spawn(async move {
                            let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await;
                            if let Ok(Ok(stream)) = handshake {
                                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                                let _ = watcher.watch(conn.into_owned()).await;
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
    let connections_closed = tokio::spawn(graceful.shutdown());
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
