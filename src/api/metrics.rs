//! The metrics of `temps serve`: `GET /metrics` with an admin token for every project,
//! and `--metrics ADDR`, a listener of its own on loopback that asks for no token (what
//! a Prometheus on the same host scrapes).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::app::App;
use super::auth::{Admin, Caller};
use super::error::ApiError;
use super::input::{NoQuery, Params};
use crate::error::Failure;
use crate::ops::view::metrics::render;

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics`: an admin of every project (the metrics name them all).
pub(super) async fn route(
    State(app): State<Arc<App>>,
    caller: Caller<Admin>,
    Params(NoQuery {}): Params<NoQuery>,
) -> Result<Response, ApiError> {
    if caller.token.project.is_some() {
        return Err(ApiError::forbidden(
            "the metrics name every project: they need an admin token for every project",
        ));
    }
    let text = scrape(&app).await?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response())
}

async fn scrape(app: &Arc<App>) -> Result<String, ApiError> {
    app.read(|store| render(store).map_err(|e| ApiError::from_anyhow(&e)))
        .await
}

/// Serve the metrics on `--metrics ADDR`, when given, from now on.
pub async fn start(addr: Option<SocketAddr>, app: &Arc<App>) -> anyhow::Result<()> {
    if let Some(addr) = addr {
        let listener = bind(addr).await?;
        super::log(&format!(
            "metrics on http://{}/metrics",
            listener.local_addr()?
        ));
        tokio::spawn(serve(listener, Arc::clone(app)));
    }
    Ok(())
}

/// Bind `--metrics ADDR`, which must be a loopback address: it asks for no token.
async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, Failure> {
    if !addr.ip().is_loopback() {
        return Err(Failure::usage(format!(
            "refusing metrics without a token on {addr}, which is not a loopback address"
        ))
        .hint(
            "give a loopback address (`127.0.0.1:9464`), or scrape `/metrics` with an admin token",
        ));
    }
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        Failure::usage(format!("cannot listen for metrics on {addr}: {e}"))
            .hint("choose another address with `--metrics`")
    })
}

/// Answer every request on `listener` with the metrics, until the process ends.
async fn serve(listener: tokio::net::TcpListener, app: Arc<App>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |_request| {
                let app = Arc::clone(&app);
                async move {
                    let (status, text) = match scrape(&app).await {
                        Ok(text) => (200, text),
                        Err(e) => (500, format!("{}\n", e.body())),
                    };
                    hyper::Response::builder()
                        .status(status)
                        .header("content-type", CONTENT_TYPE)
                        .body(http_body_util::Full::new(hyper::body::Bytes::from(text)))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}
