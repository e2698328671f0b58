//! HTTP/1.1 client connections, served without a general-purpose HTTP stack: read a
//! request head, pick the environment's upstream for it, send the rewritten head and the
//! body's bytes as they come over a kept-alive connection to that upstream, and pass the
//! answer back the same way, in one task per client connection.
//!
//! Two things follow. A request costs the proxy little more than the system calls that
//! move its bytes. And a connection that waits for its next request holds no buffer:
//! its memory is the socket and a small task, so thousands of idle keep-alive clients
//! cost little.
//!
//! A connection that opens with the HTTP/2 preface is handed back for hyper to serve.

#[cfg(test)]
mod differential;
mod exchange;
pub(super) mod parse;

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{timeout, timeout_at, Instant};

use self::exchange::{
    pass, send, send_head, Failure, Halves, Passed, Relayed, Remaining, Terms, HEAD_BUFFER,
};
use self::parse::{BadChunk, Parsed, Request};
use super::policy::{Local, CONNECT_TIMEOUT, HEADER_READ_TIMEOUT};
use super::table::{FlightGuard, Pick, Routes, Upstream};
use crate::idle::stop_requested;
/// After refusing a request, how long the rest of it may still be read (and thrown away)
/// so that the refusal reaches the client before the connection closes.
const LINGER: Duration = Duration::from_secs(2);
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// How long a new connection may take to send its first request (within the idle limit).
const FIRST_REQUEST_GRACE: Duration = Duration::from_secs(10);

/// How a client connection ended.
pub enum Ended<S> {
    Closed,
    /// It speaks HTTP/2 (prior knowledge): here it is, with what was read of it so far.
    Http2(S, Vec<u8>),
}

/// A client connection: plain TCP, or TLS over it.
pub trait ClientStream: AsyncRead + AsyncWrite + Unpin + Send {
    type Reader<'a>: AsyncRead + Unpin + Send
    where
        Self: 'a;
    type Writer<'a>: AsyncWrite + Unpin + Send
    where
        Self: 'a;

    /// Resolves when a read may find something (spurious wake-ups allowed, but never
    /// readiness that a read cannot act on, which would spin).
    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send;

    /// Its two directions, to be used at once within one task.
    fn halves(&mut self) -> (Self::Reader<'_>, Self::Writer<'_>);
}

impl ClientStream for TcpStream {
    type Reader<'a> = tokio::net::tcp::ReadHalf<'a>;
    type Writer<'a> = tokio::net::tcp::WriteHalf<'a>;

    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send {
        TcpStream::readable(self)
    }

    fn halves(&mut self) -> (Self::Reader<'_>, Self::Writer<'_>) {
        self.split()
    }
}

type TlsClient = tokio_rustls::server::TlsStream<TcpStream>;

impl ClientStream for TlsClient {
    type Reader<'a> = tokio::io::ReadHalf<&'a mut TlsClient>;
    type Writer<'a> = tokio::io::WriteHalf<&'a mut TlsClient>;

    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send {
        let (socket, tls) = self.get_ref();
        // Decrypted bytes waiting in rustls (or its peer's close) are readable now,
        // whatever the socket says.
        let buffered = !tls.wants_read();
        async move {
            if buffered {
                Ok(())
            } else {
                socket.readable().await
            }
        }
    }

    fn halves(&mut self) -> (Self::Reader<'_>, Self::Writer<'_>) {
        tokio::io::split(self)
    }
}

/// Serve the HTTP/1.1 requests of one client connection until it closes, stays idle
/// longer than `idle`, or the listener stops. `https`: it came over TLS.
pub async fn serve<S: ClientStream>(
    client: S,
    peer: IpAddr,
    listen: SocketAddr,
    routes: &Routes,
    idle: Duration,
    stopped: watch::Receiver<bool>,
    https: bool,
) -> Ended<S> {
    let mut connection = Connection {
        client,
        idle,
        // As X-Forwarded-For names it, once for every request of the connection.
        peer: peer.to_canonical().to_string(),
        listen,
        routes,
        stopped,
        input: Vec::new(),
        https,
        edge: routes.edge == Some(listen) && !https,
    };
    let mut first = true;
    loop {
        if connection.input.is_empty() {
            // Nothing pending: give the buffer back while the client thinks.
            connection.input = Vec::new();
            if !connection.wait_for_request(first).await {
                return Ended::Closed;
            }
        }
        let request = match connection.read_head(first).await {
            Head::Request(request) => request,
            Head::Http2 => return Ended::Http2(connection.client, connection.input),
            Head::Refuse(status) => {
                connection.refuse(status).await;
                connection.linger().await;
                return Ended::Closed;
            }
            Head::Gone => return Ended::Closed,
        };
        first = false;
        // Boxed: the exchange's state is large, and a connection waiting for its next
        // request should not carry it.
        if !Box::pin(connection.exchange(&request)).await {
            connection.linger().await;
            return Ended::Closed;
        }
        if *connection.stopped.borrow() {
            return Ended::Closed;
        }
    }
}

enum Head {
    Request(Request),
    Http2,
    Refuse(Local),
    Gone,
}

/// The outcome of one request on one upstream connection.
enum Forwarded {
    /// Answered (or abandoned); keep the client connection open or not.
    Done { keep: bool },
    /// A kept-alive upstream connection was closed before it answered: send again on a
    /// new one.
    Stale,
}

struct Connection<'a, S> {
    client: S,
    /// It came over TLS: the upstream is told `X-Forwarded-Proto: https`.
    https: bool,
    /// It came to the `--http` address: ACME's challenges and redirects to HTTPS first.
    edge: bool,
    peer: String,
    listen: SocketAddr,
    routes: &'a Routes,
    /// How long the client may wait before its next request.
    idle: Duration,
    stopped: watch::Receiver<bool>,
    /// Bytes read from the client and not passed on yet.
    input: Vec<u8>,
}

impl<S: ClientStream> Connection<'_, S> {
    /// Wait until the client sends something; false when it stays silent too long or
    /// the listener stops first.
    async fn wait_for_request(&mut self, first: bool) -> bool {
        // A connection just accepted gets its first request answered even when the
        // listener stops meanwhile (a restart or an upgrade): its client sent it
        // already, or is about to, and closing would fail it.
        if first {
            return tokio::select! {
                readable = self.client.readable() => readable.is_ok(),
                () = tokio::time::sleep(self.idle.min(FIRST_REQUEST_GRACE)) => false,
            };
        }
        tokio::select! {
            readable = self.client.readable() => readable.is_ok(),
            () = tokio::time::sleep(self.idle) => false,
            () = stop_requested(&mut self.stopped) => false,
        }
    }

    /// Read up to a whole request head, within [`HEADER_READ_TIMEOUT`]. On the first
    /// request, tell the HTTP/2 preface apart.
    async fn read_head(&mut self, first: bool) -> Head {
        let deadline = Instant::now() + HEADER_READ_TIMEOUT;
        loop {
            let preface = first && {
                let seen = self.input.len().min(H2_PREFACE.len());
                seen > 0 && self.input[..seen] == H2_PREFACE[..seen]
            };
            if preface {
                if self.input.len() >= H2_PREFACE.len() {
                    return Head::Http2;
                }
            } else {
                match parse::request(&self.input, &self.peer, self.https) {
                    Parsed::Done(request) => {
                        self.input.drain(..request.len);
                        return Head::Request(request);
                    }
                    Parsed::Refuse(status) => return Head::Refuse(status),
                    Parsed::Partial => {}
                }
            }
            match timeout_at(deadline, self.read_more()).await {
                Ok(Ok(0) | Err(_)) => return Head::Gone,
                Ok(Ok(_)) => {}
                Err(_) if self.input.is_empty() => return Head::Gone,
                Err(_) => return Head::Refuse(Local::RequestTimeout),
            }
        }
    }

    /// Read what the client sent next into the input. The buffer is only made once
    /// there is something to read (readiness can be announced spuriously), so a silent
    /// client costs none.
    ///
    /// The read goes through the stream's `poll_read` once rather than `try_read_buf`:
    /// a read that does not fill the buffer tells tokio the socket is drained, so the
    /// watch on the client while its answer is awaited waits for epoll instead of
    /// trying a read that finds nothing (one system call less per request).
    async fn read_more(&mut self) -> io::Result<usize> {
        loop {
            self.client.readable().await?;
            if self.input.capacity() == self.input.len() {
                self.input.reserve(HEAD_BUFFER);
            }
            let read = {
                let mut once = std::pin::pin!(self.client.read_buf(&mut self.input));
                std::future::poll_fn(|cx| match Future::poll(once.as_mut(), cx) {
                    std::task::Poll::Pending => std::task::Poll::Ready(None),
                    std::task::Poll::Ready(read) => std::task::Poll::Ready(Some(read)),
                })
                .await
            };
            match read {
                None => {
                    if self.input.is_empty() {
                        self.input = Vec::new();
                    }
                }
                Some(read) => return read,
            }
        }
    }

    /// Answer one request: on its environment's next upstream; on another if that one
    /// refuses the connection; on a new connection if a kept-alive one was found closed.
    async fn exchange(&mut self, request: &Request) -> bool {
        if self.edge {
            if let Some(keep) = self.edge_answer(request).await {
                return keep;
            }
        }
        let mut failed: Option<FlightGuard> = None;
        let mut reuse = true;
        for attempt in 0..3 {
            let skip = failed.as_ref().map(|guard| guard.upstream().as_ref());
            let (guard, others, response_timeout) =
                match self
                    .routes
                    .begin(self.listen, request.host.as_deref(), skip)
                {
                    Pick::Upstream {
                        guard,
                        others,
                        response_timeout,
                        hsts_secs,
                    } => (guard, others, (response_timeout, hsts_secs)),
                    _ if failed.is_some() => return self.fail(Local::BadGateway, request).await,
                    Pick::UnknownHost => return self.fail(Local::NotFound, request).await,
                    Pick::NoRoute | Pick::NoUpstream => {
                        return self.fail(Local::Unavailable, request).await
                    }
                };
            drop(failed.take());
            let upstream = guard.upstream();
            let idle = if reuse { upstream.take_idle() } else { None };
            let reused = idle.is_some();
            let stream = match idle {
                Some(stream) => stream,
                None => match connect(upstream).await {
                    Ok(stream) => stream,
                    Err(err) => {
                        if upstream.mark_down() {
                            super::problem(format!(
                                "cannot connect to upstream {}: {err}",
                                upstream.addr
                            ));
                        }
                        if others && attempt == 0 {
                            failed = Some(guard);
                            continue;
                        }
                        return self.fail(Local::BadGateway, request).await;
                    }
                },
            };
            let retry = reused && request.idempotent;
            let (response_timeout, hsts_secs) = response_timeout;
            let sent = Sent {
                retry,
                response_timeout,
                hsts_secs,
            };
            match self.forward(request, stream, &guard, sent).await {
                Forwarded::Done { keep } => return keep,
                Forwarded::Stale => reuse = false,
            }
        }
        self.fail(Local::BadGateway, request).await
    }

    /// Send `request` on `upstream` and pass its answer back. With `sent.retry`, a
    /// connection that closes before answering gives [`Forwarded::Stale`] (nothing was
    /// read of the client's body beyond what is in hand, and nothing was written back).
    /// The `--http` address's own answer (an ACME challenge, a redirect to HTTPS), or
    /// `None` to route the request as usual. Some(keep) once answered.
    async fn edge_answer(&mut self, request: &Request) -> Option<bool> {
        let certificates = &self.routes.certificates;
        let target = request.target();
        let answer = crate::proxy::tls::edge::answer(
            &certificates.challenges,
            |host| self.routes.https_port(host),
            request.host.as_deref(),
            &String::from_utf8_lossy(target),
        );
        let Some(answer) = answer else {
            if self.routes.routes_on(self.listen) {
                return None;
            }
            return Some(self.fail(Local::NotFound, request).await);
        };
        let in_hand = match Remaining::of(request.framing).take(&self.input) {
            Ok((taken, true)) => Some(taken),
            _ => None,
        };
        let keep = request.keep_alive && in_hand.is_some();
        if let Some(in_hand) = in_hand {
            self.input.drain(..in_hand);
        }
        let sent = send(
            &mut self.client,
            &crate::proxy::tls::edge::http1(&answer, !keep),
        )
        .await;
        Some(keep && sent.is_ok())
    }

    async fn forward(
        &mut self,
        request: &Request,
        mut upstream: TcpStream,
        guard: &FlightGuard,
        sent: Sent,
    ) -> Forwarded {
        let mut body = Remaining::of(request.framing);
        let (in_hand, complete) = match body.take(&self.input) {
            Ok(taken) => taken,
            Err(BadChunk) => {
                self.refuse(Local::BadRequest).await;
                return Forwarded::Done { keep: false };
            }
        };
        let Sent {
            retry,
            response_timeout,
            hsts_secs,
        } = sent;
        let retry = retry && complete;
        let sent = send_head(&mut upstream, request, &self.input[..in_hand]).await;
        if sent.is_err() {
            if retry {
                return Forwarded::Stale;
            }
            return Forwarded::Done {
                keep: self
                    .answer(Local::BadGateway, request, complete.then_some(in_hand))
                    .await,
            };
        }
        if !complete {
            self.input.drain(..in_hand);
        }
        let (client_read, client_write) = self.client.halves();
        let (upstream_read, upstream_write) = upstream.split();
        let Passed { relayed, body_sent } = pass(
            Halves {
                client_read,
                client_write,
                upstream_read,
                upstream_write,
            },
            &mut self.input,
            (!complete).then_some(body),
            Terms {
                request,
                stopped: &self.stopped,
                from: guard.upstream(),
                response_timeout,
                hsts_secs,
            },
        )
        .await;
        match relayed {
            Ok(Relayed::Answered {
                keep_client,
                reuse_upstream,
            }) => {
                if complete {
                    self.input.drain(..in_hand);
                }
                if reuse_upstream && body_sent {
                    guard.upstream().put_idle(upstream);
                }
                Forwarded::Done { keep: keep_client }
            }
            Ok(Relayed::Switched { head, rest }) if body_sent => {
                if complete {
                    self.input.drain(..in_hand);
                }
                self.splice(upstream, head, rest).await;
                Forwarded::Done { keep: false }
            }
            // A switch before the request's body was all sent: where its bytes end cannot
            // be told any more.
            Ok(Relayed::Switched { .. }) => Forwarded::Done { keep: false },
            Err(Failure::Stale) if retry => Forwarded::Stale,
            Err(Failure::Stale | Failure::Upstream) => {
                guard.upstream().failed(502);
                Forwarded::Done {
                    keep: self
                        .answer(Local::BadGateway, request, complete.then_some(in_hand))
                        .await,
                }
            }
            // The upstream connection is dropped here: its late answer goes nowhere.
            Err(Failure::TimedOut) => {
                guard.upstream().failed(504);
                let in_hand = if complete {
                    Some(in_hand)
                } else {
                    body_sent.then_some(0)
                };
                Forwarded::Done {
                    keep: self.answer(Local::GatewayTimeout, request, in_hand).await,
                }
            }
            Err(Failure::Broken) => Forwarded::Done { keep: false },
        }
    }

    /// The upstream switched protocols: pass its answer on, then bytes both ways until
    /// either side closes. The request stays in flight on its upstream until then.
    async fn splice(&mut self, mut upstream: TcpStream, mut head: Vec<u8>, rest: Vec<u8>) {
        head.extend_from_slice(&rest);
        if send(&mut self.client, &head).await.is_err() {
            return;
        }
        if !self.input.is_empty() {
            if send(&mut upstream, &self.input).await.is_err() {
                return;
            }
            self.input = Vec::new();
        }
        let _ = tokio::io::copy_bidirectional(&mut self.client, &mut upstream).await;
    }

    /// Answer with the proxy's own `status` before anything of the request was passed on.
    async fn fail(&mut self, status: Local, request: &Request) -> bool {
        let in_hand = match Remaining::of(request.framing).take(&self.input) {
            Ok((taken, true)) => Some(taken),
            _ => None,
        };
        self.answer(status, request, in_hand).await
    }

    /// Answer with the proxy's own `status`. The connection stays open when the client
    /// wants it and the request's body was all in hand (its first `in_hand` bytes of the
    /// input, dropped then); true then.
    async fn answer(&mut self, status: Local, request: &Request, in_hand: Option<usize>) -> bool {
        match in_hand {
            Some(in_hand) if request.keep_alive => {
                self.input.drain(..in_hand);
                let _ = send(&mut self.client, &status.http1(false)).await;
                true
            }
            _ => {
                self.refuse(status).await;
                false
            }
        }
    }

    /// Answer with `status`, saying that the connection closes.
    async fn refuse(&mut self, status: Local) {
        let _ = send(&mut self.client, &status.http1(true)).await;
    }

    /// Close the client's connection, after reading (and dropping) what it still sends
    /// for a moment: closing with unread input would reset the connection, and the
    /// client could lose the answer it was sent last.
    async fn linger(&mut self) {
        if self.client.shutdown().await.is_err() {
            return;
        }
        let mut sink = vec![0; HEAD_BUFFER];
        let _ = timeout(LINGER, async {
            while matches!(self.client.read(&mut sink).await, Ok(1..)) {}
        })
        .await;
    }
}

/// How a request goes on the upstream connection picked for it.
#[derive(Clone, Copy)]
struct Sent {
    /// Send it again on a new connection if this one turns out stale.
    retry: bool,
    /// The answer must begin within this once the request was sent whole.
    response_timeout: Option<Duration>,
    /// The `Strict-Transport-Security` max-age to add to the answer (0: none).
    hsts_secs: u64,
}

async fn connect(upstream: &Upstream) -> io::Result<TcpStream> {
    let connecting = async {
        match upstream.socket {
            Some(addr) => TcpStream::connect(addr).await,
            None => TcpStream::connect(upstream.addr.as_str()).await,
        }
    };
    let stream = timeout(CONNECT_TIMEOUT, connecting)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}
