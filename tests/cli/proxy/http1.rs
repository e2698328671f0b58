//! HTTP/1.1 framing through `temps proxy`, byte by byte: request and answer bodies of
//! every framing (length, chunked, close-delimited, none), keep-alive and pipelining,
//! `Expect: 100-continue`, and the requests a proxy must refuse rather than forward.
//! The upstream is a raw socket whose answers each test scripts; the client is a raw
//! socket too.

use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::harness::{environment, eventually, read_head, route, Proxy};
use crate::common::{free_port, TestEnv};

pub(super) type Headers = Vec<(String, String)>;

/// The values of header `name` (lowercase), in order.
pub(super) fn values<'a>(headers: &'a Headers, name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// How a body was delimited.
#[derive(Debug, PartialEq)]
enum Framing {
    None,
    Length,
    Chunked,
    Close,
}

/// Read a body as `headers` frame it; `Close` (read to the end) when neither a length nor
/// chunked is given and `until_close`, no body otherwise.
fn read_body(
    reader: &mut impl BufRead,
    headers: &Headers,
    until_close: bool,
) -> io::Result<(Vec<u8>, Framing)> {
    let mut body = Vec::new();
    let chunked = values(headers, "transfer-encoding")
        .last()
        .is_some_and(|te| te.to_ascii_lowercase().ends_with("chunked"));
    if chunked {
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let size = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| io::Error::new(ErrorKind::InvalidData, format!("chunk {line:?}")))?;
            if size == 0 {
                // Trailers, up to an empty line.
                while {
                    line.clear();
                    reader.read_line(&mut line)? > 2
                } {}
                return Ok((body, Framing::Chunked));
            }
            let start = body.len();
            body.resize(start + size + 2, 0);
            reader.read_exact(&mut body[start..])?;
            if body.split_off(start + size) != b"\r\n" {
                return Err(io::Error::new(
                    ErrorKind::InvalidData,
                    "no CRLF after a chunk",
                ));
            }
        }
    }
    if let Some(length) = values(headers, "content-length").first() {
        body.resize(length.parse().expect("a valid content-length"), 0);
        reader.read_exact(&mut body)?;
        return Ok((body, Framing::Length));
    }
    if until_close {
        reader.read_to_end(&mut body)?;
        return Ok((body, Framing::Close));
    }
    Ok((body, Framing::None))
}

/// A request as the upstream decoded it.
#[derive(Clone, Debug)]
pub(super) struct Seen {
    /// The port the proxy's connection came from: one per upstream connection.
    pub(super) peer: u16,
    pub(super) line: String,
    pub(super) headers: Headers,
    pub(super) body: Vec<u8>,
}

impl Seen {
    pub(super) fn path(&self) -> &str {
        self.line.split(' ').nth(1).unwrap_or_default()
    }
}

/// What the upstream writes back, raw; with `close`, it then closes the connection.
pub(super) struct Reply {
    bytes: Vec<u8>,
    close: bool,
}

impl Reply {
    pub(super) fn raw(bytes: impl Into<Vec<u8>>) -> Reply {
        Reply {
            bytes: bytes.into(),
            close: false,
        }
    }

    pub(super) fn closing(self) -> Reply {
        Reply {
            close: true,
            ..self
        }
    }
}

/// 200 with a Content-Length and `body`.
pub(super) fn ok(body: &[u8]) -> Reply {
    let mut bytes =
        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    bytes.extend_from_slice(body);
    Reply::raw(bytes)
}

/// 200 echoing the request line, a newline and the request body.
pub(super) fn echo(seen: &Seen) -> Reply {
    ok(&[seen.line.as_bytes(), b"\n", &seen.body].concat())
}

/// An upstream on a raw socket: every request is decoded (an `Expect: 100-continue` is
/// answered first, as most servers do), logged, and answered as the test scripts.
pub(super) struct Scripted {
    pub(super) addr: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Connections with a request under way: bytes of it read, not yet answered.
    busy: Arc<AtomicUsize>,
}

impl Scripted {
    pub(super) fn start(script: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind an upstream");
        let addr = listener.local_addr().expect("addr").to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let busy = Arc::new(AtomicUsize::new(0));
        let (log, script, working) = (Arc::clone(&seen), Arc::new(script), Arc::clone(&busy));
        thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let (log, script, working) =
                    (Arc::clone(&log), Arc::clone(&script), Arc::clone(&working));
                thread::spawn(move || Scripted::serve(stream, &*script, &log, &working));
            }
        });
        Scripted { addr, seen, busy }
    }

    fn serve(
        stream: TcpStream,
        script: &dyn Fn(&Seen) -> Reply,
        log: &Mutex<Vec<Seen>>,
        busy: &AtomicUsize,
    ) {
        let peer = stream.peer_addr().map_or(0, |a| a.port());
        let mut writer = stream.try_clone().expect("clone");
        let mut reader = BufReader::new(stream);
        // Busy from a request's first byte until it is answered or the connection ends.
        while reader.fill_buf().is_ok_and(|bytes| !bytes.is_empty()) {
            busy.fetch_add(1, Ordering::SeqCst);
            let answered = Scripted::exchange(&mut reader, &mut writer, peer, script, log);
            busy.fetch_sub(1, Ordering::SeqCst);
            if !answered {
                return;
            }
        }
    }

    /// Read one request, answer it as scripted; false when the connection ends.
    fn exchange(
        reader: &mut BufReader<TcpStream>,
        writer: &mut TcpStream,
        peer: u16,
        script: &dyn Fn(&Seen) -> Reply,
        log: &Mutex<Vec<Seen>>,
    ) -> bool {
        let Some((line, headers)) = read_head(reader) else {
            return false;
        };
        if values(&headers, "expect").contains(&"100-continue") {
            let _ = writer.write_all(b"HTTP/1.1 100 Continue\r\nX-Continue-From: upstream\r\n\r\n");
        }
        let Ok((body, _)) = read_body(reader, &headers, false) else {
            return false;
        };
        let seen = Seen {
            peer,
            line,
            headers,
            body,
        };
        let reply = script(&seen);
        log.lock().unwrap().push(seen);
        writer.write_all(&reply.bytes).is_ok() && !reply.close
    }

    /// The requests that reached it so far.
    pub(super) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Wait until no connection is in the middle of a request: whatever reached the app
    /// has been read whole (and logged) or ended short.
    #[track_caller]
    pub(super) fn wait_idle(&self) {
        eventually("the app to finish what reached it", || {
            (self.busy.load(Ordering::SeqCst) == 0).then_some(())
        });
    }
}

/// An answer as the client decoded it.
#[derive(Debug)]
pub(super) struct Response {
    pub(super) line: String,
    pub(super) status: u16,
    pub(super) headers: Headers,
    pub(super) body: Vec<u8>,
    framing: Framing,
}

impl Response {
    pub(super) fn header(&self, name: &str) -> Vec<&str> {
        values(&self.headers, name)
    }

    pub(super) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One client connection on a raw socket; a read that waits 10 s fails the test.
pub(super) struct Conn {
    pub(super) reader: BufReader<TcpStream>,
}

impl Conn {
    pub(super) fn open(port: u16) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the proxy");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        Conn {
            reader: BufReader::new(stream),
        }
    }

    pub(super) fn send(&mut self, bytes: impl AsRef<[u8]>) -> &mut Conn {
        self.reader
            .get_mut()
            .write_all(bytes.as_ref())
            .expect("send to the proxy");
        self
    }

    /// `GET path`, kept alive.
    pub(super) fn get(&mut self, path: &str) -> &mut Conn {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: shop.example\r\n\r\n"))
    }

    /// The next answer; `to_head` when it answers a HEAD request (no body then).
    pub(super) fn answer_to(&mut self, to_head: bool) -> Response {
        let (line, headers) = read_head(&mut self.reader).expect("an answer from the proxy");
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("status line {line:?}"));
        let bodiless = to_head || matches!(status, 100..=199 | 204 | 304);
        let (body, framing) = if bodiless {
            (Vec::new(), Framing::None)
        } else {
            read_body(&mut self.reader, &headers, true)
                .unwrap_or_else(|e| panic!("the body of {line:?} {headers:?}: {e}"))
        };
        Response {
            line,
            status,
            headers,
            body,
            framing,
        }
    }

    pub(super) fn answer(&mut self) -> Response {
        self.answer_to(false)
    }

    /// Whatever else the proxy sends until it closes the connection (a reset counts as
    /// closed); fails when it keeps the connection open.
    pub(super) fn until_closed(&mut self) -> Vec<u8> {
        let mut rest = Vec::new();
        let mut buf = [0; 16 * 1024];
        loop {
            match self.reader.read(&mut buf) {
                Ok(0) => return rest,
                Ok(n) => rest.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return rest,
                Err(e) => panic!(
                    "the proxy kept the connection open ({e}) after {:?}",
                    String::from_utf8_lossy(&rest)
                ),
            }
        }
    }
}

/// `temps proxy` serving a fresh port for `upstream` (killed before its history goes).
pub(super) struct Proxied {
    pub(super) proxy: Proxy,
    pub(super) env: TestEnv,
    pub(super) web: i64,
    pub(super) port: u16,
    pub(super) upstream: Scripted,
}

impl Proxied {
    pub(super) fn start(script: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Proxied {
        Proxied::start_with(&[], script)
    }

    /// The same, `temps proxy` run with these options.
    pub(super) fn start_with(
        options: &[&str],
        script: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
    ) -> Proxied {
        let env = TestEnv::new();
        let web = environment(&env, "web");
        let upstream = Scripted::start(script);
        let port = free_port();
        let proxy = Proxy::start_with(&env, options);
        let proxied = Proxied {
            proxy,
            env,
            web,
            port,
            upstream,
        };
        proxied.reroute(&[&proxied.upstream.addr]);
        proxied
    }

    pub(super) fn reroute(&self, upstreams: &[&str]) {
        let listen = format!("127.0.0.1:{}", self.port);
        self.proxy
            .applied(route(&self.env, self.web, &listen, upstreams));
    }

    pub(super) fn conn(&self) -> Conn {
        Conn::open(self.port)
    }
}

/// `len` bytes of a pattern that no framing bug keeps intact.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// `body` as chunks of the given sizes (the rest in a last chunk), with a chunk
/// extension on the second and a trailer.
fn chunked(body: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    for (i, &size) in sizes.iter().chain([&body.len()]).enumerate() {
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        if chunk.is_empty() {
            break;
        }
        let ext = if i == 1 { ";name=value" } else { "" };
        out.extend_from_slice(format!("{:x}{ext}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
        rest = tail;
    }
    out.extend_from_slice(b"0\r\nX-Checksum: 42\r\n\r\n");
    out
}

#[test]
fn chunked_bodies_pass_whole_both_ways_and_the_connection_stays_alive() {
    let p = Proxied::start(|seen| match seen.path() {
        "/upload" => {
            let mut bytes = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            bytes.extend(chunked(&seen.body, &[1, 3000, 65536]));
            Reply::raw(bytes)
        }
        _ => echo(seen),
    });
    let body = [b"hello ".as_slice(), &pattern(100_000), b" world"].concat();
    let mut conn = p.conn();
    conn.send(b"POST /upload HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n")
        .send(chunked(&body, &[6, 0x1A, 70_000]));
    let answer = conn.answer();
    assert_eq!(answer.status, 200, "{}", answer.line);
    assert_eq!(answer.framing, Framing::Chunked, "{:?}", answer.headers);
    assert!(answer.body == body, "the answer's body came back changed");
    let seen = p.upstream.seen();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].body == body, "the upstream got another body");

    let again = conn.get("/again").answer();
    assert_eq!(again.text(), "GET /again HTTP/1.1\n");
}

#[test]
fn four_megabyte_bodies_arrive_intact_both_ways() {
    const SIZE: usize = 4 << 20;
    let p = Proxied::start(|seen| match seen.path() {
        "/download" => ok(&pattern(SIZE)),
        _ => ok(format!("{} bytes", seen.body.len()).as_bytes()),
    });
    let body: Vec<u8> = pattern(SIZE).into_iter().rev().collect();
    let mut conn = p.conn();
    conn.send(format!(
        "POST /upload HTTP/1.1\r\nHost: shop.example\r\nContent-Length: {SIZE}\r\n\r\n"
    ))
    .send(&body);
    assert_eq!(conn.answer().text(), format!("{SIZE} bytes"));
    assert!(
        p.upstream.seen()[0].body == body,
        "the upstream got another body"
    );

    let answer = conn.get("/download").answer();
    assert_eq!(answer.header("content-length"), [SIZE.to_string()]);
    assert!(answer.body == pattern(SIZE), "the client got another body");
}

#[test]
fn head_204_and_304_answers_have_no_body_and_the_connection_goes_on() {
    let p = Proxied::start(|seen| match seen.path() {
        _ if seen.line.starts_with("HEAD ") => Reply::raw(
            "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nContent-Type: text/plain\r\n\r\n",
        ),
        "/204" => Reply::raw("HTTP/1.1 204 No Content\r\nX-Kind: none\r\n\r\n"),
        // A 304 may give the length of the body a 200 would have had.
        "/304" => {
            Reply::raw("HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 1234\r\n\r\n")
        }
        _ => echo(seen),
    });
    let mut conn = p.conn();
    let head = conn
        .send("HEAD /page HTTP/1.1\r\nHost: shop.example\r\n\r\n")
        .answer_to(true);
    assert_eq!(head.status, 200, "{}", head.line);
    assert_eq!(head.header("content-length"), ["1234"]);
    assert!(head.header("transfer-encoding").is_empty(), "{head:?}");
    assert_eq!(
        conn.get("/after-head").answer().text(),
        "GET /after-head HTTP/1.1\n"
    );

    let none = conn.get("/204").answer();
    assert_eq!(none.status, 204, "{}", none.line);
    assert_eq!(none.header("x-kind"), ["none"]);
    for framing in ["transfer-encoding", "content-length"] {
        assert!(none.header(framing).is_empty(), "{none:?}");
    }
    assert_eq!(
        conn.get("/after-204").answer().text(),
        "GET /after-204 HTTP/1.1\n"
    );

    let same = conn.get("/304").answer();
    assert_eq!(same.status, 304, "{}", same.line);
    assert_eq!(same.header("etag"), ["\"v1\""]);
    assert!(same.header("transfer-encoding").is_empty(), "{same:?}");
    assert_eq!(
        conn.get("/after-304").answer().text(),
        "GET /after-304 HTTP/1.1\n"
    );
}

#[test]
fn pipelined_requests_are_all_answered_in_order() {
    let p = Proxied::start(echo);
    let mut conn = p.conn();
    conn.send(
        "GET /one HTTP/1.1\r\nHost: shop.example\r\n\r\n\
         POST /two HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 5\r\n\r\nhello\
         GET /three HTTP/1.1\r\nHost: shop.example\r\n\r\n",
    );
    let texts: Vec<String> = (0..3).map(|_| conn.answer().text()).collect();
    assert_eq!(
        texts,
        [
            "GET /one HTTP/1.1\n",
            "POST /two HTTP/1.1\nhello",
            "GET /three HTTP/1.1\n"
        ]
    );
}

#[test]
fn expect_100_continue_gets_a_continue_before_the_body_is_sent() {
    let p = Proxied::start(echo);
    let mut conn = p.conn();
    conn.send(
        "PUT /doc HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n",
    );
    let interim = conn.answer();
    assert_eq!(interim.line, "HTTP/1.1 100 Continue");
    conn.send("hello world");
    // Another 100 (the upstream's, passed on) may come first.
    let answer = loop {
        let answer = conn.answer();
        if answer.status != 100 {
            break answer;
        }
    };
    assert_eq!(answer.status, 200, "{}", answer.line);
    assert_eq!(answer.text(), "PUT /doc HTTP/1.1\nhello world");
    assert_eq!(conn.get("/next").answer().text(), "GET /next HTTP/1.1\n");
}

#[test]
fn a_close_delimited_answer_reaches_the_client_whole_and_ends() {
    let body = pattern(50_000);
    let sent = body.clone();
    let p = Proxied::start(move |seen| match seen.path() {
        "/stream" => {
            let mut bytes =
                b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec();
            bytes.extend_from_slice(&sent);
            Reply::raw(bytes).closing()
        }
        _ => echo(seen),
    });
    let mut conn = p.conn();
    let answer = conn.get("/stream").answer();
    assert_eq!(answer.status, 200, "{}", answer.line);
    assert!(
        answer.body == body,
        "the client got another body: {answer:?}"
    );
    // Either passed on close-delimited (then the connection ended) or framed anew (then
    // the connection goes on).
    if answer.framing != Framing::Close {
        assert_eq!(conn.get("/next").answer().text(), "GET /next HTTP/1.1\n");
    }
}

#[test]
fn an_http_1_0_request_is_answered_then_the_connection_closes() {
    let p = Proxied::start(echo);
    let mut conn = p.conn();
    let answer = conn
        .send("GET /old HTTP/1.0\r\nHost: shop.example\r\n\r\n")
        .answer();
    assert_eq!(answer.status, 200, "{}", answer.line);
    // It goes on as HTTP/1.0, so the upstream frames its answer for an HTTP/1.0 client.
    assert_eq!(answer.text(), "GET /old HTTP/1.0\n");
    assert_eq!(conn.until_closed(), b"");
}

/// `POST /` with these header lines and raw bytes after the header section.
fn post(headers: &str, rest: &str) -> String {
    format!("POST / HTTP/1.1\r\nHost: shop.example\r\n{headers}\r\n{rest}")
}

const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nHost: shop.example\r\n\r\n";

#[test]
fn requests_with_an_invalid_or_conflicting_length_get_400_and_never_reach_the_upstream() {
    let p = Proxied::start(echo);
    let refused = [
        post(
            "Content-Length: 5\r\nContent-Length: 51\r\n",
            &format!("hello{SMUGGLED}"),
        ),
        post("Content-Length: 12abc\r\n", "hello world!"),
        post("Content-Length: +12\r\n", "hello world!"),
        post("Content-Length: -1\r\n", "hello world!"),
        post("Content-Length : 5\r\n", "hello"),
        post("Transfer-Encoding: gzip\r\n", "hello"),
        post(
            "Transfer-Encoding: chunked, identity\r\n",
            "5\r\nhello\r\n0\r\n\r\n",
        ),
    ];
    for request in &refused {
        let mut conn = p.conn();
        let answer = conn.send(request).answer();
        assert_eq!(answer.status, 400, "{request:?}: {answer:?}");
        assert_eq!(conn.until_closed(), b"", "{request:?}");
    }
    assert_eq!(
        p.conn().get("/fine").answer().text(),
        "GET /fine HTTP/1.1\n"
    );
    let lines: Vec<String> = p.upstream.seen().into_iter().map(|s| s.line).collect();
    assert_eq!(
        lines,
        ["GET /fine HTTP/1.1"],
        "only the sound request went through"
    );
}

/// RFC 9112 §6.1 lets a server either reject a request with both or read it as chunked
/// alone; a proxy that forwards it leaves the app to choose, so temps takes the safe one
/// (README, "Security notes": 400, never forwarded), and closes the connection, so what
/// follows the body is never read as a request.
#[test]
fn content_length_with_chunked_gets_400_never_reaches_the_upstream_and_the_connection_closes() {
    let p = Proxied::start(echo);
    let body = format!("5\r\nhello\r\n0\r\n\r\n{SMUGGLED}");
    for headers in [
        "Content-Length: 40\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: chunked\r\nContent-Length: 40\r\n",
        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
    ] {
        let mut conn = p.conn();
        let answer = conn.send(post(headers, &body)).answer();
        assert_eq!(answer.status, 400, "{headers:?}: {answer:?}");
        assert_eq!(conn.until_closed(), b"", "{headers:?}");
    }
    // The proxy still serves, and nothing of the refused requests reached the app.
    assert_eq!(
        p.conn().get("/fine").answer().text(),
        "GET /fine HTTP/1.1\n"
    );
    let lines: Vec<String> = p.upstream.seen().into_iter().map(|s| s.line).collect();
    assert_eq!(
        lines,
        ["GET /fine HTTP/1.1"],
        "only the sound request went through"
    );
}

#[test]
fn a_megabyte_of_request_headers_gets_431_and_never_reaches_the_upstream() {
    let p = Proxied::start(echo);
    let mut conn = p.conn();
    let big = "a".repeat(1 << 20);
    let request = format!("GET /big HTTP/1.1\r\nHost: shop.example\r\nX-Big: {big}\r\n\r\n");
    // The proxy may answer and close before it has read it all: send on the side.
    let mut stream = conn.reader.get_ref().try_clone().expect("clone");
    let sender = thread::spawn(move || {
        let _ = stream.write_all(request.as_bytes());
    });
    let answer = conn.answer();
    assert_eq!(answer.status, 431, "{answer:?}");
    assert_eq!(conn.until_closed(), b"");
    sender.join().expect("send");
    assert!(p.upstream.seen().is_empty(), "forwarded");
}

/// Three Set-Cookie around hop-by-hop headers, and a chunked body.
const COOKIES: &str = "HTTP/1.1 200 OK\r\nSet-Cookie: a=1; Path=/\r\n\
    Connection: close, X-Secret\r\nX-Secret: upstream only\r\n\
    Keep-Alive: timeout=5, max=100\r\nSet-Cookie: b=2\r\nTransfer-Encoding: chunked\r\n\
    Set-Cookie: c=3\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";

#[test]
fn repeated_answer_headers_pass_in_order_and_upstream_hop_headers_stay_behind() {
    let p = Proxied::start(|seen| match seen.path() {
        "/cookies" => Reply::raw(COOKIES).closing(),
        _ => echo(seen),
    });
    let mut conn = p.conn();
    let answer = conn.get("/cookies").answer();
    assert_eq!(answer.status, 200, "{}", answer.line);
    assert_eq!(answer.header("set-cookie"), ["a=1; Path=/", "b=2", "c=3"]);
    assert_eq!(answer.text(), "hello world");
    for hop in ["keep-alive", "x-secret", "connection"] {
        assert!(
            answer.header(hop).is_empty(),
            "{hop} passed on: {:?}",
            answer.headers
        );
    }
    assert!(
        answer.header("transfer-encoding").len() <= 1,
        "{:?}",
        answer.headers
    );
    assert_eq!(conn.get("/next").answer().text(), "GET /next HTTP/1.1\n");
}

#[test]
fn an_upstream_dying_mid_answer_closes_the_client_connection_short() {
    let p = Proxied::start(|seen| match seen.path() {
        "/dies" => {
            Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789").closing()
        }
        _ => echo(seen),
    });
    let mut conn = p.conn();
    conn.get("/dies");
    let (line, headers) = read_head(&mut conn.reader).expect("the answer's head");
    assert!(line.starts_with("HTTP/1.1 200"), "{line}");
    assert_eq!(values(&headers, "content-length"), ["1000"]);
    // What arrived of the body (all of it, as the proxy streams), then the end.
    let body = conn.until_closed();
    assert!(b"0123456789".starts_with(&body), "{body:?}");
}

#[test]
fn an_upstream_not_listening_gets_502_and_the_connection_stays_usable() {
    let p = Proxied::start(echo);
    let dead = format!("127.0.0.1:{}", free_port());
    p.reroute(&[&dead]);
    let mut conn = p.conn();
    for _ in 0..2 {
        let answer = conn.get("/").answer();
        assert_eq!(answer.status, 502, "{}", answer.line);
        assert!(answer.text().contains("bad gateway"), "{answer:?}");
    }
    p.reroute(&[&p.upstream.addr]);
    assert_eq!(conn.get("/back").answer().text(), "GET /back HTTP/1.1\n");
}

#[test]
fn an_upstream_that_closes_its_kept_alive_connections_loses_no_get() {
    // Every answer looks kept alive, and the upstream closes right after it: the proxy
    // either sees the connection closed before reusing it, or sends the GET again on a
    // new one.
    let p = Proxied::start(|seen| echo(seen).closing());
    let mut conn = p.conn();
    for i in 0..30 {
        let answer = conn.get(&format!("/{i}")).answer();
        assert_eq!(answer.status, 200, "request {i}: {}", answer.line);
        assert_eq!(answer.text(), format!("GET /{i} HTTP/1.1\n"));
    }
    assert_eq!(
        p.upstream.seen().len(),
        30,
        "each GET reached the upstream once"
    );
}

#[test]
fn kept_alive_upstream_connections_are_reused_across_clients() {
    let p = Proxied::start(echo);
    for i in 0..5 {
        let mut conn = p.conn();
        assert_eq!(conn.get(&format!("/{i}")).answer().status, 200);
    }
    let seen = p.upstream.seen();
    let connections: std::collections::HashSet<u16> = seen.iter().map(|s| s.peer).collect();
    assert_eq!(seen.len(), 5);
    assert!(
        connections.len() < 5,
        "five clients one after the other took {} upstream connections",
        connections.len()
    );
}

#[test]
fn connection_cannot_strip_the_framing_and_smuggle_a_request() {
    // Were `Transfer-Encoding` dropped as hop-by-hop, the upstream would read the chunk
    // as a request of its own (`ACE /smuggled`), one the proxy never saw.
    let p = Proxied::start(echo);
    let inner = "Host: shop.example\r\nContent-Length: 5\r\n\r\nhello";
    let chunk = format!("/smuggled HTTP/1.1\r\n{inner}");
    let request = format!(
        "POST / HTTP/1.1\r\nHost: shop.example\r\nConnection: transfer-encoding\r\n\
         Transfer-Encoding: chunked\r\n\r\nACE{chunk}\r\n0\r\n\r\n"
    );
    let answer = p.conn().send(&request).answer();
    // Its chunk size line, `ACE/smuggled HTTP/1.1`, is no size: refused.
    assert_eq!(answer.status, 400, "{answer:?}");
    let seen: Vec<String> = p.upstream.seen().iter().map(|s| s.line.clone()).collect();
    assert!(seen.is_empty(), "the upstream saw {seen:?}");

    // Framed the same way, a good body reaches the upstream as the body it is.
    let body = "5\r\nhello\r\n0\r\n\r\n";
    let request = format!(
        "POST /framed HTTP/1.1\r\nHost: shop.example\r\nConnection: transfer-encoding, content-length\r\n\
         Transfer-Encoding: chunked\r\n\r\n{body}"
    );
    let answer = p.conn().send(&request).answer();
    assert_eq!(answer.text(), "POST /framed HTTP/1.1\nhello");
}

/// The proxy in front of an upstream on a raw socket that handles each connection with
/// `serve`; and that upstream's address.
pub(super) fn proxied_raw(serve: impl Fn(TcpStream) + Send + Sync + 'static) -> (Proxied, String) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an upstream");
    let addr = listener.local_addr().expect("addr").to_string();
    let serve = Arc::new(serve);
    thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let serve = Arc::clone(&serve);
            thread::spawn(move || serve(stream));
        }
    });
    let p = Proxied::start(echo);
    p.reroute(&[&addr]);
    (p, addr)
}

#[test]
fn an_answer_before_the_whole_body_reaches_the_client_even_when_the_upstream_resets() {
    // The upstream refuses the upload after its head and closes with the body unread, so
    // its kernel resets the connection: the proxy's next write fails, yet the answer
    // that came before must reach the client.
    let (p, _) = proxied_raw(|stream| {
        let mut reader = BufReader::new(stream);
        if read_head(&mut reader).is_some() {
            let _ = reader.get_mut().write_all(
                b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 9\r\nConnection: close\r\n\r\ntoo large",
            );
        }
    });
    for _ in 0..5 {
        let mut conn = p.conn();
        conn.send(
            "POST /upload HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 50000000\r\n\r\n",
        );
        let mut stream = conn.reader.get_ref().try_clone().expect("clone");
        let sender = thread::spawn(move || {
            let chunk = vec![b'x'; 64 * 1024];
            for _ in 0..100 {
                if stream.write_all(&chunk).is_err() {
                    break;
                }
            }
        });
        let answer = conn.answer();
        assert_eq!(answer.status, 413, "{}", answer.line);
        assert_eq!(answer.header("connection"), ["close"]);
        drop(conn);
        let _ = sender.join();
    }
}

/// A client sends a request the upstream never answers (and, with `pipelined`, the next
/// one in a packet of its own), then goes: its request no longer counts in flight.
fn a_client_leaves_while_its_answer_is_awaited(pipelined: bool) {
    let (p, addr) = proxied_raw(|stream| {
        let mut reader = BufReader::new(stream);
        while read_head(&mut reader).is_some() {}
    });
    let mut conn = p.conn();
    conn.get("/hangs");
    eventually("the request in flight", || {
        (p.proxy.in_flight(&addr) == 1).then_some(())
    });
    if pipelined {
        conn.get("/next");
    }
    drop(conn);
    eventually("the request no longer in flight", || {
        (p.proxy.in_flight(&addr) == 0).then_some(())
    });
}

#[test]
fn a_client_that_leaves_before_its_answer_is_no_longer_in_flight() {
    a_client_leaves_while_its_answer_is_awaited(false);
}

#[test]
fn a_client_that_pipelines_then_leaves_before_its_answer_is_no_longer_in_flight() {
    a_client_leaves_while_its_answer_is_awaited(true);
}

#[test]
fn a_body_sent_late_after_a_head_answer_never_reaches_another_client() {
    // A wrong app answers HEAD with a length and sends the body anyway, once the client
    // has the answer: had the connection gone back to the pool, the next request would
    // read it.
    let (go, late) = std::sync::mpsc::channel::<()>();
    let (written, body_written) = std::sync::mpsc::channel();
    let (late, written) = (Mutex::new(Some(late)), Mutex::new(Some(written)));
    let (p, _) = proxied_raw(move |stream| {
        let mut reader = BufReader::new(stream);
        while let Some((line, _)) = read_head(&mut reader) {
            let writer = reader.get_mut();
            if line.starts_with("HEAD ") {
                let _ = writer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
                if let Some(late) = late.lock().unwrap().take() {
                    let _ = late.recv_timeout(Duration::from_secs(30));
                }
                let _ = writer.write_all(b"hello");
                if let Some(written) = written.lock().unwrap().take() {
                    let _ = written.send(());
                }
            } else {
                let _ = writer.write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{line}",
                        line.len()
                    )
                    .as_bytes(),
                );
            }
        }
    });
    let head = p
        .conn()
        .send("HEAD /a HTTP/1.1\r\nHost: shop.example\r\n\r\n")
        .answer_to(true);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), ["5"]);
    // The client has its answer: now the late body, and only then the next request.
    go.send(()).expect("the app waits");
    body_written
        .recv_timeout(Duration::from_secs(30))
        .expect("the app wrote the late body");
    let answer = p.conn().get("/b").answer();
    assert_eq!(
        (answer.status, answer.text().as_str()),
        (200, "GET /b HTTP/1.1")
    );
}
