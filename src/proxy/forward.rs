//! One HTTP/2 request through the proxy (HTTP/1.1 connections are served by
//! [`super::h1`]): pick the environment's next upstream, forward the request over a
//! kept-alive HTTP/1.1 connection to it with hyper's client, and stream the answer back
//! while the request counts as in flight there.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{HeaderValue, CONTENT_TYPE, HOST};
use hyper::http::uri::{PathAndQuery, Scheme};
use hyper::{Request, Response, StatusCode, Uri, Version};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::headers::{add_forwarding, drop_underscore_aliases, strip_hop_by_hop};
use super::table::{FlightGuard, Pick, Routes, CONNECT_TIMEOUT, IDLE_FOR};

/// Forwards requests; shared by every connection of every listener.
pub struct Forwarder {
    routes: Arc<Routes>,
    client: Client<HttpConnector, RequestBody>,
}

impl Forwarder {
    pub fn new(routes: Arc<Routes>) -> Forwarder {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(IDLE_FOR)
            .build(connector);
        Forwarder { routes, client }
    }

    /// Answer one request that arrived on `listen` from `client`.
    pub async fn handle(
        &self,
        listen: SocketAddr,
        client: IpAddr,
        request: Request<Incoming>,
    ) -> Response<ProxyBody> {
        let (parts, body) = request.into_parts();
        let mut headers = parts.headers;
        // HTTP/2 clients name the host in the URI; HTTP/1.1 upstreams want a Host header.
        let host = headers.get(HOST).cloned().or_else(|| {
            let authority = parts.uri.authority()?;
            HeaderValue::from_str(authority.as_str()).ok()
        });
        if let (false, Some(host)) = (headers.contains_key(HOST), &host) {
            headers.insert(HOST, host.clone());
        }
        strip_hop_by_hop(&mut headers);
        drop_underscore_aliases(&mut headers);
        add_forwarding(&mut headers, client, host);
        let path = parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let body = Arc::new(BodySlot::new(body));

        // On a refused connect, once more on another upstream (the body is still unread).
        let mut failed: Option<FlightGuard> = None;
        for attempt in 0..2 {
            let skip = failed.as_ref().map(|guard| guard.upstream().as_ref());
            let (guard, others) = match self.routes.begin(listen, skip) {
                Pick::Upstream { guard, others } => (guard, others),
                _ if failed.is_some() => return local(StatusCode::BAD_GATEWAY),
                Pick::NoRoute | Pick::NoUpstream => return local(StatusCode::SERVICE_UNAVAILABLE),
            };
            drop(failed.take());
            let last = attempt == 1 || !others;
            let mut upstream_request = Request::new(RequestBody {
                slot: Arc::clone(&body),
            });
            *upstream_request.method_mut() = parts.method.clone();
            *upstream_request.uri_mut() = upstream_uri(&guard, &path);
            *upstream_request.version_mut() = Version::HTTP_11;
            *upstream_request.headers_mut() = if last {
                std::mem::take(&mut headers)
            } else {
                headers.clone()
            };
            match self.client.request(upstream_request).await {
                Ok(response) => {
                    guard.upstream().mark_up();
                    return respond(response, guard);
                }
                Err(err) if err.is_connect() => {
                    if guard.upstream().mark_down() {
                        super::problem(format!(
                            "cannot connect to upstream {}: {}",
                            guard.upstream().addr,
                            error_chain(&err)
                        ));
                    }
                    if last || body.polled.load(Ordering::SeqCst) {
                        return local(StatusCode::BAD_GATEWAY);
                    }
                    failed = Some(guard);
                }
                // The upstream broke the connection or the request: nothing to retry safely.
                Err(_) => return local(StatusCode::BAD_GATEWAY),
            }
        }
        local(StatusCode::BAD_GATEWAY)
    }
}

fn upstream_uri(guard: &FlightGuard, path: &PathAndQuery) -> Uri {
    let mut parts = hyper::http::uri::Parts::default();
    parts.scheme = Some(Scheme::HTTP);
    parts.authority = Some(guard.upstream().authority.clone());
    parts.path_and_query = Some(path.clone());
    // Scheme, authority and path are each valid: so is the whole.
    Uri::from_parts(parts).unwrap_or_default()
}

/// The upstream's answer on its way back.
fn respond(response: Response<Incoming>, guard: FlightGuard) -> Response<ProxyBody> {
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        // HTTP/2 has no switch of protocols to pass one on.
        return local(StatusCode::BAD_GATEWAY);
    }
    let (mut parts, body) = response.into_parts();
    parts.extensions = Default::default();
    parts.version = Version::HTTP_11;
    strip_hop_by_hop(&mut parts.headers);
    Response::from_parts(
        parts,
        ProxyBody::Upstream {
            body,
            guard: Some(guard),
        },
    )
}

/// An answer of the proxy's own: 502 (the upstream cannot be reached), 503 (no upstream).
fn local(status: StatusCode) -> Response<ProxyBody> {
    let text: &'static str = match status {
        StatusCode::BAD_GATEWAY => "502 bad gateway: the upstream cannot be reached\n",
        _ => "503 service unavailable: nothing serves this address now\n",
    };
    let mut response = Response::new(ProxyBody::Local(Some(Bytes::from_static(text.as_bytes()))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A response body for the client: the upstream's, which keeps its request counted in
/// flight until it has ended (or the client went away), or a short one of the proxy's own.
pub enum ProxyBody {
    Upstream {
        body: Incoming,
        guard: Option<FlightGuard>,
    },
    Local(Option<Bytes>),
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            ProxyBody::Upstream { body, guard } => {
                let polled = Pin::new(body).poll_frame(cx);
                if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
                    guard.take();
                }
                polled
            }
            ProxyBody::Local(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ProxyBody::Upstream { body, .. } => body.is_end_stream(),
            ProxyBody::Local(bytes) => bytes.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ProxyBody::Upstream { body, .. } => body.size_hint(),
            ProxyBody::Local(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
        }
    }
}

/// The client's request body, held where a retry can find it again: a connect that fails
/// never reads it, so the same body can go to the next upstream.
struct BodySlot {
    body: Mutex<Option<Incoming>>,
    polled: AtomicBool,
    end_stream: bool,
    size_hint: SizeHint,
}

impl BodySlot {
    fn new(body: Incoming) -> BodySlot {
        BodySlot {
            end_stream: body.is_end_stream(),
            size_hint: body.size_hint(),
            body: Mutex::new(Some(body)),
            polled: AtomicBool::new(false),
        }
    }
}

pub struct RequestBody {
    slot: Arc<BodySlot>,
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        self.slot.polled.store(true, Ordering::SeqCst);
        let mut body = self
            .slot
            .body
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match body.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.slot.end_stream
    }

    fn size_hint(&self) -> SizeHint {
        self.slot.size_hint
    }
}
