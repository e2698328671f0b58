//! One request's exchange on one upstream connection, once its head was sent: the rest
//! of the body goes up as the client sends it, the answer comes back as the upstream
//! sends it, the client is watched meanwhile, and the answer must begin within the
//! environment's response timeout. Generic over the four stream halves, so that tests
//! drive it with in-memory streams.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::{sleep_until, timeout, Instant};

use super::parse::{self, BadChunk, Chunked, Framing, Parsed, Request};
use crate::proxy::policy::{HEADER_READ_TIMEOUT, MAX_HEAD, SEND_TIMEOUT};
use crate::proxy::table::Upstream;

/// What a head is read into at first; it grows up to [`MAX_HEAD`].
pub(super) const HEAD_BUFFER: usize = 8 * 1024;
/// What a body larger than that is copied through.
const BODY_BUFFER: usize = 64 * 1024;

/// The two connections of an exchange, each split in its two directions.
pub(super) struct Halves<CR, CW, UR, UW> {
    pub client_read: CR,
    pub client_write: CW,
    pub upstream_read: UR,
    pub upstream_write: UW,
}

/// What an exchange goes by.
pub(super) struct Terms<'a> {
    pub request: &'a Request,
    /// The listener stopped: the client connection closes after this answer.
    pub stopped: &'a watch::Receiver<bool>,
    /// The upstream, marked up once it answers.
    pub from: &'a Upstream,
    /// The answer must begin within this once the request was sent whole.
    pub response_timeout: Option<Duration>,
    /// The `Strict-Transport-Security` max-age the answer gets when it has none (0:
    /// none).
    pub hsts_secs: u64,
}

/// How an exchange ended.
pub(super) struct Passed {
    pub relayed: Result<Relayed, Failure>,
    /// The request's body was all sent.
    pub body_sent: bool,
}

/// Send a request's head to the upstream, with the bytes of its body already in hand,
/// in one write.
pub(super) async fn send_head<W: AsyncWrite + Unpin>(
    upstream: &mut W,
    request: &Request,
    in_hand: &[u8],
) -> io::Result<()> {
    if in_hand.is_empty() {
        return send(upstream, &request.head).await;
    }
    let mut out = Vec::with_capacity(request.head.len() + in_hand.len());
    out.extend_from_slice(&request.head);
    out.extend_from_slice(in_hand);
    send(upstream, &out).await
}

/// Pass the rest of a request (its head and what was in hand of its body were sent) and
/// its answer. `body` is what remains of the body to read from the client, None when it
/// was all in hand (then still at the start of `input`). Bytes the client sends beyond
/// the body (pipelined requests) are left in `input`.
pub(super) async fn pass<CR, CW, UR, UW>(
    halves: Halves<CR, CW, UR, UW>,
    input: &mut Vec<u8>,
    body: Option<Remaining>,
    terms: Terms<'_>,
) -> Passed
where
    CR: AsyncRead + Unpin,
    CW: AsyncWrite + Unpin,
    UR: AsyncRead + Unpin,
    UW: AsyncWrite + Unpin,
{
    let Halves {
        client_read,
        mut client_write,
        mut upstream_read,
        mut upstream_write,
    } = halves;
    let complete = body.is_none();
    let body_sent = AtomicBool::new(complete);
    let answer_begun = AtomicBool::new(false);
    // The answer must begin within the response timeout of the request being sent whole
    // (or of the app no longer taking its body).
    let answer_by = |now: Instant| terms.response_timeout.map(|limit| now + limit);
    let mut deadline = if complete {
        answer_by(Instant::now())
    } else {
        None
    };
    let sent_flag = &body_sent;
    // The rest of the body, as the client sends it; the client's read half comes back
    // when it is done, to watch the client while the answer is awaited.
    let send = async move {
        let mut client_read = client_read;
        if let Some(body) = body {
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
        terms.request,
        Progress {
            body_sent: &body_sent,
            answer_begun: &answer_begun,
        },
        terms.stopped,
        terms.from,
        terms.hsts_secs,
    );
    tokio::pin!(send, receive);
    let mut sending = true;
    let mut watched = None;
    let relayed = loop {
        tokio::select! {
            sent = &mut send, if sending => {
                sending = false;
                deadline = answer_by(Instant::now());
                match sent {
                    Ok(watch) => watched = Some(watch),
                    // The upstream takes no more of the body: its answer (a 413, say) may
                    // still come, and is passed on.
                    Err(Broken::Write) => {}
                    // The client went away or sent a broken body: nothing more can be
                    // answered on either connection.
                    Err(Broken::Read | Broken::Chunk) => break Err(Failure::Broken),
                }
            },
            gone = client_gone(watched.as_mut()), if watched.is_some() => {
                // Gone while its answer is awaited: let the upstream go too. What it
                // sends meanwhile (pipelined requests) waits in its input, up to a head's
                // worth; then it waits in the socket, unwatched.
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
    };
    Passed {
        relayed,
        body_sent: body_sent.load(Ordering::Relaxed),
    }
}

/// Where a body stands: bytes left, chunks, or everything until the sender closes.
pub(super) enum Remaining {
    Bytes(u64),
    Chunks(Chunked),
    UntilClose,
}

impl Remaining {
    pub(super) fn of(framing: Framing) -> Remaining {
        match framing {
            Framing::Empty => Remaining::Bytes(0),
            Framing::Length(n) => Remaining::Bytes(n),
            Framing::Chunked => Remaining::Chunks(Chunked::default()),
            Framing::UntilClose => Remaining::UntilClose,
        }
    }

    /// How many of `bytes` (the next ones read) belong to the body, and whether it ends
    /// with them.
    pub(super) fn take(&mut self, bytes: &[u8]) -> Result<(usize, bool), BadChunk> {
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
pub(super) enum Broken {
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

/// What the two halves of an exchange tell each other.
#[derive(Clone, Copy)]
struct Progress<'a> {
    /// The request's body was all sent.
    body_sent: &'a AtomicBool,
    /// The final answer's head came: the response timeout no longer runs.
    answer_begun: &'a AtomicBool,
}

/// How an answer went, when it did.
pub(super) enum Relayed {
    Answered {
        keep_client: bool,
        reuse_upstream: bool,
    },
    /// A switch of protocols: the head for the client and what came after it.
    Switched { head: Vec<u8>, rest: Vec<u8> },
}

pub(super) enum Failure {
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
    hsts_secs: u64,
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
        from.answered(response.status);
        // An answer that comes before the request's body was all sent ends the exchange:
        // the rest of the body is never read, so the client connection closes after it.
        let keep_client = request.keep_alive
            && !*stopped.borrow()
            && response.framing != Framing::UntilClose
            && progress.body_sent.load(Ordering::Relaxed);
        if hsts_secs > 0 && !response.has_hsts {
            response.head.extend_from_slice(
                format!("Strict-Transport-Security: max-age={hsts_secs}\r\n").as_bytes(),
            );
        }
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
async fn client_gone<R: AsyncRead + Unpin>(watched: Option<&mut (R, &mut Vec<u8>)>) -> bool {
    let Some((client, input)) = watched else {
        return std::future::pending().await;
    };
    if input.capacity() - input.len() < HEAD_BUFFER / 2 {
        input.reserve(HEAD_BUFFER);
    }
    matches!(client.read_buf(*input).await, Ok(0) | Err(_))
}

/// Write all of `bytes`, within [`SEND_TIMEOUT`].
pub(super) async fn send<W: AsyncWrite + Unpin>(to: &mut W, bytes: &[u8]) -> io::Result<()> {
    timeout(SEND_TIMEOUT, to.write_all(bytes))
        .await
        .unwrap_or(Err(io::ErrorKind::TimedOut.into()))
}

/// The forwarding loop driven through in-memory streams: a fake client and a fake
/// upstream on the far ends of two duplex pipes, the real code in between, and time
/// paused (tokio advances it whenever every task waits), so stalls cost nothing.
#[cfg(test)]
mod tests {
    use tokio::io::{duplex, split, DuplexStream, ReadHalf, WriteHalf};

    use super::*;

    /// One client connection and one upstream connection, as the proxy holds them.
    struct Rig {
        proxy_client: (ReadHalf<DuplexStream>, WriteHalf<DuplexStream>),
        proxy_upstream: (ReadHalf<DuplexStream>, WriteHalf<DuplexStream>),
        from: Upstream,
        stopped: watch::Receiver<bool>,
        _stop: watch::Sender<bool>,
    }

    impl Rig {
        /// The rig, and the far ends of its connections: the client's and the app's.
        fn new() -> (Rig, DuplexStream, DuplexStream) {
            let (client, proxy_client) = duplex(64 * 1024);
            let (upstream, proxy_upstream) = duplex(64 * 1024);
            let (stop, stopped) = watch::channel(false);
            let rig = Rig {
                proxy_client: split(proxy_client),
                proxy_upstream: split(proxy_upstream),
                from: Upstream::new("127.0.0.1:9").unwrap(),
                stopped,
                _stop: stop,
            };
            (rig, client, upstream)
        }
    }

    /// Forward the request at the start of `input` as the proxy does: its head and
    /// what is in hand of its body, then the rest of the exchange.
    async fn forward(
        rig: &mut Rig,
        input: &mut Vec<u8>,
        response_timeout: Option<Duration>,
    ) -> Passed {
        let request = match parse::request(input, "192.0.2.7", false) {
            Parsed::Done(request) => request,
            other => panic!("not a request: {other:?}"),
        };
        input.drain(..request.len);
        let mut body = Remaining::of(request.framing);
        let (in_hand, complete) = body.take(input).unwrap();
        send_head(&mut rig.proxy_upstream.1, &request, &input[..in_hand])
            .await
            .unwrap();
        if !complete {
            input.drain(..in_hand);
        }
        let passed = pass(
            Halves {
                client_read: &mut rig.proxy_client.0,
                client_write: &mut rig.proxy_client.1,
                upstream_read: &mut rig.proxy_upstream.0,
                upstream_write: &mut rig.proxy_upstream.1,
            },
            input,
            (!complete).then_some(body),
            Terms {
                request: &request,
                stopped: &rig.stopped,
                from: &rig.from,
                hsts_secs: 0,
                response_timeout,
            },
        )
        .await;
        if complete && passed.relayed.is_ok() {
            input.drain(..in_hand);
        }
        passed
    }

    /// Read from `stream` until what was read ends with `end`.
    async fn read_until(stream: &mut DuplexStream, end: &str) -> String {
        let mut read = Vec::new();
        while !read.ends_with(end.as_bytes()) {
            let mut byte = [0; 1];
            assert_eq!(stream.read(&mut byte).await.unwrap(), 1, "closed early");
            read.push(byte[0]);
        }
        String::from_utf8(read).unwrap()
    }

    /// Everything that can be read from `stream` without waiting.
    async fn read_ready(stream: &mut DuplexStream) -> String {
        let mut read = vec![0; 64 * 1024];
        let n = timeout(Duration::from_millis(1), stream.read(&mut read))
            .await
            .map_or(0, Result::unwrap);
        String::from_utf8_lossy(&read[..n]).into_owned()
    }

    fn answered(passed: &Passed) -> (bool, bool) {
        match passed.relayed {
            Ok(Relayed::Answered {
                keep_client,
                reuse_upstream,
            }) => (keep_client, reuse_upstream),
            _ => panic!("not answered"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn pipelined_requests_are_answered_in_order_on_one_upstream_connection() {
        let (mut rig, mut client, mut upstream) = Rig::new();
        let mut input =
            b"GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n".to_vec();
        let app = async move {
            let first = read_until(&mut upstream, "\r\n\r\n").await;
            assert!(first.starts_with("GET /a "), "{first}");
            assert_eq!(read_ready(&mut upstream).await, "", "one request at a time");
            upstream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na")
                .await
                .unwrap();
            upstream
        };
        let (passed, back) = tokio::join!(forward(&mut rig, &mut input, None), app);
        upstream = back;
        assert_eq!(answered(&passed), (true, true));
        assert!(passed.body_sent);
        assert!(
            input.starts_with(b"GET /b "),
            "the next request waits in the input"
        );

        let app = async move {
            let second = read_until(&mut upstream, "\r\n\r\n").await;
            assert!(second.starts_with("GET /b "), "{second}");
            upstream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb")
                .await
                .unwrap();
            upstream
        };
        let (passed, _upstream) = tokio::join!(forward(&mut rig, &mut input, None), app);
        assert_eq!(answered(&passed), (true, true));
        assert!(input.is_empty());
        let answers = read_ready(&mut client).await;
        assert_eq!(
            answers,
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na\
             HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_early_answer_ends_the_exchange_and_closes_the_client_connection() {
        let (mut rig, mut client, mut upstream) = Rig::new();
        let mut input =
            b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc".to_vec();
        let app = async move {
            let head = read_until(&mut upstream, "\r\n\r\nabc").await;
            assert!(head.starts_with("POST /upload "), "{head}");
            upstream
                .write_all(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n")
                .await
                .unwrap();
            upstream
        };
        let (passed, _upstream) = tokio::join!(forward(&mut rig, &mut input, None), app);
        let (keep_client, _) = answered(&passed);
        assert!(!keep_client, "the rest of the body was never read");
        assert!(!passed.body_sent);
        let answer = read_ready(&mut client).await;
        assert_eq!(
            answer,
            "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stalls_is_given_up_after_the_read_timeout() {
        // The app's end stays open: it waits for the rest of the body.
        let (mut rig, mut client, _upstream) = Rig::new();
        let mut input =
            b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc".to_vec();
        let started = Instant::now();
        // The client stays connected and sends nothing more; the app waits for the rest.
        let passed = forward(&mut rig, &mut input, Some(Duration::from_secs(1))).await;
        assert!(matches!(passed.relayed, Err(Failure::Broken)));
        assert!(!passed.body_sent);
        assert!(
            started.elapsed() >= HEADER_READ_TIMEOUT,
            "the response timeout runs only once the body was sent: {:?}",
            started.elapsed()
        );
        assert_eq!(read_ready(&mut client).await, "", "nothing was answered");
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_without_length_ends_when_the_upstream_closes() {
        let (mut rig, mut client, mut upstream) = Rig::new();
        let mut input = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec();
        let app = async move {
            read_until(&mut upstream, "\r\n\r\n").await;
            upstream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello, ")
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
            upstream.write_all(b"world").await.unwrap();
            // Dropped: the upstream closes, and that ends the answer.
        };
        let (passed, ()) = tokio::join!(forward(&mut rig, &mut input, None), app);
        assert_eq!(answered(&passed), (false, false));
        let answer = read_ready(&mut client).await;
        assert_eq!(
            answer,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nhello, world"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_that_does_not_begin_in_time_times_out() {
        for interim in ["", "HTTP/1.1 100 Continue\r\n\r\n"] {
            let (mut rig, mut client, mut upstream) = Rig::new();
            let mut input = b"PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi".to_vec();
            let started = Instant::now();
            let app = async move {
                read_until(&mut upstream, "\r\n\r\nhi").await;
                upstream.write_all(interim.as_bytes()).await.unwrap();
                // The app hangs.
                upstream
            };
            let (passed, _upstream) = tokio::join!(
                forward(&mut rig, &mut input, Some(Duration::from_secs(2))),
                app
            );
            assert!(
                matches!(passed.relayed, Err(Failure::TimedOut)),
                "{interim:?}"
            );
            assert!(passed.body_sent);
            let waited = started.elapsed();
            assert!(
                waited >= Duration::from_secs(2) && waited < Duration::from_secs(3),
                "{waited:?}"
            );
            // What came before the final answer reached the client; the 504 is the
            // caller's to send.
            assert_eq!(read_ready(&mut client).await, interim);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_answer_that_began_in_time_is_not_cut() {
        let (mut rig, mut client, mut upstream) = Rig::new();
        let mut input = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec();
        let app = async move {
            read_until(&mut upstream, "\r\n\r\n").await;
            upstream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab")
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_secs(10)).await;
            upstream.write_all(b"cd").await.unwrap();
            upstream
        };
        let (passed, _upstream) = tokio::join!(
            forward(&mut rig, &mut input, Some(Duration::from_secs(1))),
            app
        );
        assert_eq!(answered(&passed), (true, true));
        assert!(read_ready(&mut client).await.ends_with("\r\n\r\nabcd"));
    }
}
