//! One HTTP/2 request through the proxy (HTTP/1.1 connections are served by
//! [`super::h1`]): pick the environment's next upstream, forward the request over a
//! kept-alive HTTP/1.1 connection to it with hyper's client, and stream the answer back
//! while the request counts as in flight there.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, HOST};
use hyper::http::uri::{PathAndQuery, Scheme};
use hyper::{Method, Request, Response, StatusCode, Uri, Version};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::headers::{
    add_forwarding, content_length, drop_underscore_aliases, is_valid_host, is_valid_method,
    strip_hop_by_hop,
};
use super::table::{FlightGuard, Pick, Routes, CONNECT_TIMEOUT, IDLE_FOR};

/// The socket send buffer of a connection to an app (the kernel doubles it).
const UPSTREAM_SEND_BUFFER: usize = 64 * 1024;

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
        // What the kernel may hold of a request body an app does not read: without a
        // bound it grows to 4 MB per connection (tcp_wmem), out of the proxy's sight.
        connector.set_send_buffer_size(Some(UPSTREAM_SEND_BUFFER));
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(IDLE_FOR)
            // What one upstream connection may buffer of a request body for an app that
            // reads slowly (hyper's default is 400 KB; this is its least). The body's
            // data is queued as [`RequestBody`] copied it, each piece its own size: a
            // flattened buffer grew to 32 KB (8 KB and a frame, doubled). The bound
            // holds for answer heads too: 8 KB from an app on this path (nginx's default).
            .http1_max_buf_size(8192)
            .http1_writev(true)
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
        if let Err(status) = acceptable(&parts) {
            return local(status);
        }
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

/// Whether a request may be passed on, as on HTTP/1.1: not CONNECT (nor extended
/// CONNECT, which hyper's server does not take), an upper-case method, and one host
/// named at most once, the same in `:authority` and `Host` when both are given.
fn acceptable(request: &hyper::http::request::Parts) -> Result<(), StatusCode> {
    if request.method == Method::CONNECT {
        return Err(StatusCode::METHOD_NOT_ALLOWED);
    }
    if !is_valid_method(request.method.as_str().as_bytes()) {
        return Err(StatusCode::BAD_REQUEST);
    }
    let authority = request.uri.authority().map(|a| a.as_str());
    let mut hosts = request.headers.get_all(HOST).iter();
    let host = hosts.next();
    let one_host = hosts.next().is_none()
        && authority.is_none_or(|a| is_valid_host(a.as_bytes()))
        && host.is_none_or(|h| is_valid_host(h.as_bytes()))
        && match (authority, host) {
            (Some(a), Some(h)) => a.as_bytes().eq_ignore_ascii_case(h.as_bytes()),
            _ => true,
        };
    if one_host {
        Ok(())
    } else {
        Err(StatusCode::BAD_REQUEST)
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
    // `5, 5`, or two equal lengths, go on as one; lengths that disagree cannot.
    if parts.headers.contains_key(CONTENT_LENGTH) {
        match content_length(
            parts
                .headers
                .get_all(CONTENT_LENGTH)
                .iter()
                .map(|v| v.as_bytes()),
        ) {
            Ok(Some(n)) => {
                parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(n));
            }
            Ok(None) | Err(()) => return local(StatusCode::BAD_GATEWAY),
        }
    }
    Response::from_parts(
        parts,
        ProxyBody::Upstream {
            body,
            guard: Some(guard),
        },
    )
}

/// An answer of the proxy's own: 400 (a request that cannot be passed on), 405
/// (CONNECT), 502 (the upstream cannot be reached), 503 (no upstream).
fn local(status: StatusCode) -> Response<ProxyBody> {
    let text: &'static str = match status {
        StatusCode::BAD_REQUEST => "400 bad request\n",
        StatusCode::METHOD_NOT_ALLOWED => "405 method not allowed: CONNECT is not proxied\n",
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
        let Some(body) = body.as_mut() else {
            return Poll::Ready(None);
        };
        match ready!(Pin::new(body).poll_frame(cx)) {
            Some(Ok(frame)) => Poll::Ready(Some(Ok(match frame.into_data() {
                // Copied: the data is a slice of the HTTP/2 connection's read buffer,
                // which it would keep alive, whole, while it waits for the app.
                Ok(data) => Frame::data(Bytes::copy_from_slice(&data)),
                Err(frame) => frame,
            }))),
            other => Poll::Ready(other),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.slot.end_stream
    }

    fn size_hint(&self) -> SizeHint {
        self.slot.size_hint
    }
}
