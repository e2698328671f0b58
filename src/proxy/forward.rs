//! One HTTP/2 request through the proxy (HTTP/1.1 connections are served by
//! [`super::h1`]): pick the environment's next upstream, forward the request over a
//! kept-alive HTTP/1.1 connection to it with hyper's client, and stream the answer back
//! while the request counts as in flight there.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, HOST, STRICT_TRANSPORT_SECURITY};
use hyper::http::uri::{PathAndQuery, Scheme};
use hyper::{Request, Response, StatusCode, Uri, Version};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::watch;

use super::headers::{add_forwarding, content_length, drop_underscore_aliases, strip_hop_by_hop};
use super::policy::{
    admit_method, passes_status, requested_host, retried_on_stale, Local, CONNECT_TIMEOUT,
    LOCAL_CONTENT_TYPE, UPSTREAM_IDLE,
};
use super::table::{FlightGuard, Pick, Routes};

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
            .pool_idle_timeout(UPSTREAM_IDLE)
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
        https: bool,
        request: Request<Incoming>,
    ) -> Response<ProxyBody> {
        let (parts, body) = request.into_parts();
        if let Err(refused) = acceptable(&parts) {
            return local(refused);
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
        let route_host = host
            .as_ref()
            .and_then(|h| crate::proxy::headers::request_host(h.as_bytes()));
        strip_hop_by_hop(&mut headers);
        drop_underscore_aliases(&mut headers);
        add_forwarding(&mut headers, client, host, https);
        let path = parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let body = Arc::new(BodySlot::new(body));

        // On a refused connect, once more on another upstream (the body is still unread);
        // on a connection that closed before answering, once more when the policy says
        // the method may be sent again and the body is still unread.
        let retried = retried_on_stale(parts.method.as_str().as_bytes());
        let mut failed: Option<FlightGuard> = None;
        let mut stale_retried = false;
        for attempt in 0..2 {
            let skip = failed.as_ref().map(|guard| guard.upstream().as_ref());
            let (guard, others, response_timeout) =
                match self.routes.begin(listen, route_host.as_deref(), skip) {
                    Pick::Upstream {
                        guard,
                        others,
                        response_timeout,
                        hsts_secs,
                    } => (guard, others, (response_timeout, hsts_secs)),
                    _ if failed.is_some() => return local(Local::BadGateway),
                    Pick::UnknownHost => return local(Local::NotFound),
                    Pick::NoRoute | Pick::NoUpstream => return local(Local::Unavailable),
                };
            drop(failed.take());
            let last = attempt == 1 || !(others || retried);
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
            let (response_timeout, hsts_secs) = response_timeout;
            let requested = self.client.request(upstream_request);
            let answered = match response_timeout {
                None => requested.await,
                Some(limit) => tokio::select! {
                    answered = requested => answered,
                    // Dropping the request closes its connection: the late answer can
                    // never reach the next request.
                    () = body.sent_for(limit) => {
                        guard.upstream().failed(504);
                        return local(Local::GatewayTimeout);
                    }
                },
            };
            match answered {
                Ok(response) => {
                    guard.upstream().mark_up();
                    let mut response = response;
                    if hsts_secs > 0 {
                        let headers = response.headers_mut();
                        if !headers.contains_key(STRICT_TRANSPORT_SECURITY) {
                            if let Ok(value) =
                                HeaderValue::from_str(&format!("max-age={hsts_secs}"))
                            {
                                headers.insert(STRICT_TRANSPORT_SECURITY, value);
                            }
                        }
                    }
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
                    if last || !others || body.polled.load(Ordering::SeqCst) {
                        return local(Local::BadGateway);
                    }
                    failed = Some(guard);
                }
                // A kept-alive connection closed before a byte of answer: as on HTTP/1.1,
                // sent once more when that is safe.
                Err(err)
                    if retried
                        && !last
                        && !stale_retried
                        && closed_before_answer(&err)
                        && !body.polled.load(Ordering::SeqCst) =>
                {
                    stale_retried = true;
                }
                // The upstream broke the connection or the request: nothing to retry safely.
                Err(_) => return local(Local::BadGateway),
            }
        }
        local(Local::BadGateway)
    }
}

/// Whether a request may be passed on, as on HTTP/1.1: not CONNECT (nor extended
/// CONNECT, which hyper's server does not take), an upper-case method, and one host
/// named at most once, the same in `:authority` and `Host` when both are given.
fn acceptable(request: &hyper::http::request::Parts) -> Result<(), Local> {
    admit_method(request.method.as_str().as_bytes())?;
    requested_host(
        request.uri.authority().map(|a| a.as_str().as_bytes()),
        request
            .headers
            .get_all(HOST)
            .iter()
            .map(HeaderValue::as_bytes),
        true,
    )?;
    Ok(())
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
    guard.upstream().answered(response.status().as_u16());
    // HTTP/2 has no switch of protocols to pass one on.
    if response.status() == StatusCode::SWITCHING_PROTOCOLS
        || !passes_status(response.status().as_u16())
    {
        return local(Local::BadGateway);
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
            Ok(None) | Err(()) => return local(Local::BadGateway),
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

/// An answer of the proxy's own, as [`Local`] writes it.
fn local(answer: Local) -> Response<ProxyBody> {
    let text = answer.text();
    let mut response = Response::new(ProxyBody::Local(Some(Bytes::from_static(text.as_bytes()))));
    *response.status_mut() =
        StatusCode::from_u16(answer.status()).unwrap_or(StatusCode::BAD_GATEWAY);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(LOCAL_CONTENT_TYPE));
    response
}

/// The upstream connection closed before a byte of the answer came: a kept-alive one
/// the app had closed meanwhile, as a rule.
fn closed_before_answer(err: &hyper_util::client::legacy::Error) -> bool {
    std::error::Error::source(err)
        .and_then(|source| source.downcast_ref::<hyper::Error>())
        .is_some_and(hyper::Error::is_incomplete_message)
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
    /// True once the body was handed over whole: the response timeout runs from then.
    sent: watch::Sender<bool>,
    end_stream: bool,
    size_hint: SizeHint,
}

impl BodySlot {
    fn new(body: Incoming) -> BodySlot {
        BodySlot {
            end_stream: body.is_end_stream(),
            size_hint: body.size_hint(),
            sent: watch::Sender::new(body.is_end_stream()),
            body: Mutex::new(Some(body)),
            polled: AtomicBool::new(false),
        }
    }

    /// Resolves `limit` after the body was sent whole.
    async fn sent_for(&self, limit: Duration) {
        let mut sent = self.sent.subscribe();
        if sent.wait_for(|sent| *sent).await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(limit).await;
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
        let polled = ready!(Pin::new(&mut *body).poll_frame(cx));
        if matches!(polled, None | Some(Ok(_))) && (polled.is_none() || body.is_end_stream()) {
            self.slot.sent.send_replace(true);
        }
        match polled {
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
