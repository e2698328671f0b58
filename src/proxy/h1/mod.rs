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

mod parse;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{tcp, TcpStream};
use tokio::sync::watch;
use tokio::time::{sleep_until, timeout, timeout_at, Instant};

use self::parse::{BadChunk, Chunked, Framing, Parsed, Request};
use super::policy::{Local, CONNECT_TIMEOUT, HEADER_READ_TIMEOUT, MAX_HEAD, SEND_TIMEOUT};
use super::server::stop_requested;
use super::table::{FlightGuard, Pick, Routes, Upstream};

/// What a head is read into at first; it grows up to [`MAX_HEAD`].
const HEAD_BUFFER: usize = 8 * 1024;
/// What a body larger than that is copied through.
const BODY_BUFFER: usize = 64 * 1024;
/// After refusing a request, how long the rest of it may still be read (and thrown away)
/// so that the refusal reaches the client before the connection closes.
const LINGER: Duration = Duration::from_secs(2);
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How a client connection ended.
pub enum Ended {
    Closed,
    /// It speaks HTTP/2 (prior knowledge): here it is, with what was read of it so far.
    Http2(TcpStream, Vec<u8>),
}

/// Serve the HTTP/1.1 requests of one client connection until it closes, stays idle
/// longer than `idle`, or the listener stops.
pub async fn serve(
    client: TcpStream,
    peer: IpAddr,
    listen: SocketAddr,
    routes: &Routes,
    idle: Duration,
    stopped: watch::Receiver<bool>,
) -> Ended {
    let mut connection = Connection {
        client,
        idle,
        // As X-Forwarded-For names it, once for every request of the connection.
        peer: peer.to_canonical().to_string(),
        listen,
        routes,
        stopped,
        input: Vec::new(),
    };
    let mut first = true;
    loop {
        if connection.input.is_empty() {
            // Nothing pending: give the buffer back while the client thinks.
            connection.input = Vec::new();
            if !connection.wait_for_request().await {
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

/// Where a body stands: bytes left, chunks, or everything until the sender closes.
enum Remaining {
    Bytes(u64),
    Chunks(Chunked),
    UntilClose,
}

impl Remaining {
    fn of(framing: Framing) -> Remaining {
        match framing {
            Framing::Empty => Remaining::Bytes(0),
            Framing::Length(n) => Remaining::Bytes(n),
            Framing::Chunked => Remaining::Chunks(Chunked::default()),
            Framing::UntilClose => Remaining::UntilClose,
        }
    }

    /// How many of `bytes` (the next ones read) belong to the body, and whether it ends
    /// with them.
    fn take(&mut self, bytes: &[u8]) -> Result<(usize, bool), BadChunk> {
        Ok(match self {
            Remaining::Bytes(left) => {
                let take = bytes
                    .len()
                    .min(usize::try_from(*left).unwrap_or(usize::MAX));
                *left -= take as u64;
                (take, *left == 0)
            }
            Remaining::Chunks(chunked) => match chunked.scan(bytes)? {
                Some(end) => (end, true),
                None => (bytes.len(), false),
            },
            Remaining::UntilClose => (bytes.len(), false),
        })
    }
}

/// Why a body could not be passed on whole.
#[derive(Debug, PartialEq, Eq)]
enum Broken {
    /// Reading it failed, ended early or stalled: its sender is gone or broken.
    Read,
    /// Writing it failed: its receiver is gone, or will not take more.
    Write,
    /// A malformed chunked body.
    Chunk,
}

impl From<BadChunk> for Broken {
    fn from(_: BadChunk) -> Broken {
        Broken::Chunk
    }
}

/// Copy a body from `from` to `to`: first what is already in `pending` (bytes read from
/// `from`), then what is read, up to the body's end. `first` goes out before it, in the
/// same write (a head). Leaves in `pending` what was read past the end. With `stall`, a
/// read that waits longer than that fails.
async fn copy_body<R, W>(
    from: &mut R,
    to: &mut W,
    mut remaining: Remaining,
    pending: &mut Vec<u8>,
    mut first: Vec<u8>,
    stall: Option<Duration>,
) -> Result<(), Broken>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    loop {
        let (take, done) = remaining.take(pending)?;
        if first.is_empty() {
            if take > 0 {
                send(to, &pending[..take])
                    .await
                    .map_err(|_| Broken::Write)?;
            }
        } else {
            first.extend_from_slice(&pending[..take]);
            send(to, &first).await.map_err(|_| Broken::Write)?;
            first = Vec::new();
        }
        pending.drain(..take);
        if done {
            return Ok(());
        }
        if pending.capacity() - pending.len() < HEAD_BUFFER {
            pending.reserve(BODY_BUFFER);
        }
        let read = match stall {
            Some(stall) => timeout(stall, from.read_buf(pending))
                .await
                .unwrap_or(Err(io::ErrorKind::TimedOut.into())),
            None => from.read_buf(pending).await,
        };
        match (read, &remaining) {
            (Ok(0), Remaining::UntilClose) => return Ok(()),
            (Ok(0) | Err(_), _) => return Err(Broken::Read),
            (Ok(_), _) => {}
        }
    }
}

struct Connection<'a> {
    client: TcpStream,
    peer: String,
    listen: SocketAddr,
    routes: &'a Routes,
    /// How long the client may wait before its next request.
    idle: Duration,
    stopped: watch::Receiver<bool>,
    /// Bytes read from the client and not passed on yet.
    input: Vec<u8>,
}

impl Connection<'_> {
    /// Wait until the client sends something; false when it stays silent too long or
    /// the listener stops first.
    async fn wait_for_request(&mut self) -> bool {
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
                match parse::request(&self.input, &self.peer) {
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
    async fn read_more(&mut self) -> io::Result<usize> {
        loop {
            self.client.readable().await?;
            if self.input.capacity() == self.input.len() {
                self.input.reserve(HEAD_BUFFER);
            }
            match self.client.try_read_buf(&mut self.input) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    if self.input.is_empty() {
                        self.input = Vec::new();
                    }
                }
                read => return read,
            }
        }
    }

    /// Answer one request: on its environment's next upstream; on another if that one
    /// refuses the connection; on a new connection if a kept-alive one was found closed.
    async fn exchange(&mut self, request: &Request) -> bool {
        let mut failed: Option<FlightGuard> = None;
        let mut reuse = true;
        for attempt in 0..3 {
            let skip = failed.as_ref().map(|guard| guard.upstream().as_ref());
            let (guard, others, response_timeout) = match self.routes.begin(self.listen, skip) {
                Pick::Upstream {
                    guard,
                    others,
                    response_timeout,
                } => (guard, others, response_timeout),
                _ if failed.is_some() => return self.fail(Local::BadGateway, request).await,
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
            let sent = Sent {
                retry,
                response_timeout,
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
        } = sent;
        let retry = retry && complete;
        let sent = if in_hand == 0 {
            send(&mut upstream, &request.head).await
        } else {
            let mut out = Vec::with_capacity(request.head.len() + in_hand);
            out.extend_from_slice(&request.head);
            out.extend_from_slice(&self.input[..in_hand]);
            send(&mut upstream, &out).await
        };
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
        let body_sent = AtomicBool::new(complete);
        let answer_begun = AtomicBool::new(false);
        // The answer must begin within the response timeout of the request being sent
        // whole (or of the app no longer taking its body).
        let answer_by = |now: Instant| response_timeout.map(|limit| now + limit);
        let mut deadline = if complete {
            answer_by(Instant::now())
        } else {
            None
        };
        let relayed = {
            let (client_read, mut client_write) = self.client.split();
            let (mut upstream_read, mut upstream_write) = upstream.split();
            let input = &mut self.input;
            let sent_flag = &body_sent;
            // The rest of the body, as the client sends it; the client's read half comes
            // back when it is done, to watch the client while the answer is awaited.
            let send = async move {
                let mut client_read = client_read;
                if !complete {
                    copy_body(
                        &mut client_read,
                        &mut upstream_write,
                        body,
                        input,
                        Vec::new(),
                        Some(HEADER_READ_TIMEOUT),
                    )
                    .await?;
                    sent_flag.store(true, Ordering::Relaxed);
                }
                Ok::<_, Broken>((client_read, input))
            };
            let receive = relay(
                &mut upstream_read,
                &mut client_write,
                request,
                Progress {
                    body_sent: &body_sent,
                    answer_begun: &answer_begun,
                },
                &self.stopped,
                guard.upstream(),
            );
            tokio::pin!(send, receive);
            let mut sending = true;
            let mut watched = None;
            loop {
                tokio::select! {
                    sent = &mut send, if sending => {
                        sending = false;
                        deadline = answer_by(Instant::now());
                        match sent {
                            Ok(watch) => watched = Some(watch),
                            // The upstream takes no more of the body: its answer (a 413,
                            // say) may still come, and is passed on.
                            Err(Broken::Write) => {}
                            // The client went away or sent a broken body: nothing more
                            // can be answered on either connection.
                            Err(Broken::Read | Broken::Chunk) => break Err(Failure::Broken),
                        }
                    },
                    gone = client_gone(watched.as_mut()), if watched.is_some() => {
                        // Gone while its answer is awaited: let the upstream go too. What
                        // it sends meanwhile (pipelined requests) waits in its input, up
                        // to a head's worth; then it waits in the socket, unwatched.
                        if gone {
                            break Err(Failure::Broken);
                        }
                        if watched.as_ref().is_some_and(|(_, input)| input.len() >= MAX_HEAD) {
                            watched = None;
                        }
                    },
                    relayed = &mut receive => break relayed,
                    () = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                        if answer_begun.load(Ordering::Relaxed) {
                            deadline = None;
                        } else {
                            break Err(Failure::TimedOut);
                        }
                    },
                }
            }
        };
        match relayed {
            Ok(Relayed::Answered {
                keep_client,
                reuse_upstream,
            }) => {
                if complete {
                    self.input.drain(..in_hand);
                }
                if reuse_upstream && body_sent.load(Ordering::Relaxed) {
                    guard.upstream().put_idle(upstream);
                }
                Forwarded::Done { keep: keep_client }
            }
            Ok(Relayed::Switched { head, rest }) if body_sent.load(Ordering::Relaxed) => {
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
            Err(Failure::Stale | Failure::Upstream) => Forwarded::Done {
                keep: self
                    .answer(Local::BadGateway, request, complete.then_some(in_hand))
                    .await,
            },
            // The upstream connection is dropped here: its late answer goes nowhere.
            Err(Failure::TimedOut) => {
                let in_hand = if complete {
                    Some(in_hand)
                } else {
                    body_sent.load(Ordering::Relaxed).then_some(0)
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
}

/// What the two halves of an exchange tell each other.
#[derive(Clone, Copy)]
struct Progress<'a> {
    /// The request's body was all sent.
    body_sent: &'a AtomicBool,
    /// The final answer's head came: the response timeout no longer runs.
    answer_begun: &'a AtomicBool,
}

/// How an answer went, when it did.
enum Relayed {
    Answered {
        keep_client: bool,
        reuse_upstream: bool,
    },
    /// A switch of protocols: the head for the client and what came after it.
    Switched { head: Vec<u8>, rest: Vec<u8> },
}

enum Failure {
    /// The upstream closed before sending a byte.
    Stale,
    /// The upstream's answer did not begin within the response timeout.
    TimedOut,
    /// The upstream broke off before its answer's head was whole, or sent a bad one.
    Upstream,
    /// The answer was cut off, or the client went away: close.
    Broken,
}

/// Read the upstream's answer and pass it to the client: informational answers (100
/// Continue) as they come, then the final one, its body framed as the upstream framed it.
async fn relay<R, W>(
    upstream: &mut R,
    client: &mut W,
    request: &Request,
    progress: Progress<'_>,
    stopped: &watch::Receiver<bool>,
    from: &Upstream,
) -> Result<Relayed, Failure>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut pending = Vec::with_capacity(HEAD_BUFFER);
    let mut answered = false;
    loop {
        let mut response = loop {
            match parse::response(&pending, request.head_only) {
                Parsed::Done(response) => break response,
                // Not an answer: on a kept-alive connection, whatever the app left there
                // (its idle timeout's notice, say); sent again on a new one when safe.
                Parsed::Refuse(_) if answered => return Err(Failure::Upstream),
                Parsed::Refuse(_) => return Err(Failure::Stale),
                Parsed::Partial => {}
            }
            if pending.capacity() == pending.len() {
                pending.reserve(HEAD_BUFFER);
            }
            match upstream.read_buf(&mut pending).await {
                Ok(1..) => {}
                _ if answered || !pending.is_empty() => return Err(Failure::Upstream),
                _ => return Err(Failure::Stale),
            }
        };
        answered = true;
        from.mark_up();
        pending.drain(..response.len);
        match response.status {
            101 if request.upgrade => {
                response.finish_switch();
                return Ok(Relayed::Switched {
                    head: response.head,
                    rest: pending,
                });
            }
            // A switch nobody asked for cannot be passed on.
            101 => return Err(Failure::Upstream),
            // Interim answers (100 Continue) are not for HTTP/1.0 clients.
            100..=199 if request.http10 => continue,
            100..=199 => {
                response.finish(false, false);
                send(client, &response.head)
                    .await
                    .map_err(|_| Failure::Broken)?;
                continue;
            }
            _ => {}
        }
        progress.answer_begun.store(true, Ordering::Relaxed);
        // An answer that comes before the request's body was all sent ends the exchange:
        // the rest of the body is never read, so the client connection closes after it.
        let keep_client = request.keep_alive
            && !*stopped.borrow()
            && response.framing != Framing::UntilClose
            && progress.body_sent.load(Ordering::Relaxed);
        response.finish(!keep_client, request.http10);
        copy_body(
            upstream,
            client,
            Remaining::of(response.framing),
            &mut pending,
            response.head,
            None,
        )
        .await
        .map_err(|_| Failure::Broken)?;
        return Ok(Relayed::Answered {
            keep_client,
            reuse_upstream: response.keep_alive && pending.is_empty(),
        });
    }
}

/// Read what the client sends while its answer is awaited into its input: true once it
/// closed its connection (or the connection broke). Never resolves without a client.
async fn client_gone(watched: Option<&mut (tcp::ReadHalf<'_>, &mut Vec<u8>)>) -> bool {
    let Some((client, input)) = watched else {
        return std::future::pending().await;
    };
    if input.capacity() - input.len() < HEAD_BUFFER / 2 {
        input.reserve(HEAD_BUFFER);
    }
    matches!(client.read_buf(*input).await, Ok(0) | Err(_))
}

/// Write all of `bytes`, within [`SEND_TIMEOUT`].
async fn send<W: AsyncWrite + Unpin>(to: &mut W, bytes: &[u8]) -> io::Result<()> {
    timeout(SEND_TIMEOUT, to.write_all(bytes))
        .await
        .unwrap_or(Err(io::ErrorKind::TimedOut.into()))
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
