//! HTTP/1.1 message heads as a proxy reads and rewrites them, and the framing of their
//! bodies (RFC 9112). Pure functions over bytes: no I/O here.
//!
//! Heads are parsed with httparse (hyper's parser) and rewritten straight into the bytes
//! to send on: the hop-by-hop headers and the ones `Connection` names stay behind, the
//! `X-Forwarded-*` headers are set. Bodies are never decoded: their bytes pass through as
//! they came, and [`Chunked`] only finds where a chunked body ends.

use crate::proxy::headers::{self, is_forwarding, is_hop_by_hop, is_underscore_alias};
use crate::proxy::policy::{self, Local, MAX_HEAD};

const MAX_HEADERS: usize = 100;
/// The longest trailer section of a chunked body.
const MAX_TRAILERS: usize = 16 * 1024;

/// How a message's body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    Empty,
    /// This many bytes.
    Length(u64),
    /// Chunks, up to the last chunk and the trailers.
    Chunked,
    /// Everything until the sender closes (responses only).
    UntilClose,
}

/// What reading a head gave.
#[derive(Debug)]
pub enum Parsed<T> {
    /// Not all of it yet: read more.
    Partial,
    Done(T),
    /// Answer the client with this and close: the message cannot be passed on.
    Refuse(Local),
}

/// A client's request, rewritten for the upstream.
#[derive(Debug)]
pub struct Request {
    /// The head to send upstream, whole.
    pub head: Vec<u8>,
    /// How many bytes of the input the client's head took.
    pub len: usize,
    pub framing: Framing,
    /// The client wants the connection kept open after the answer.
    pub keep_alive: bool,
    /// A switch of protocols is asked for (a WebSocket handshake).
    pub upgrade: bool,
    /// A `HEAD` request: its answer has no body whatever it says.
    pub head_only: bool,
    /// Safe to send again when a kept-alive upstream connection turns out to have been
    /// closed before answering (RFC 9110 §9.2.2).
    pub idempotent: bool,
    pub http10: bool,
    /// The host it names (lower case, no port), for routing by domain.
    pub host: Option<String>,
}

impl Request {
    /// Its target as sent on (origin form: path and query), from the head's first line.
    pub fn target(&self) -> &[u8] {
        let line = self.head.split(|b| *b == b'\r').next().unwrap_or_default();
        let mut parts = line.splitn(3, |b| *b == b' ');
        parts.nth(1).unwrap_or(b"/")
    }
}

/// An upstream's answer head, rewritten for the client, without its final blank line:
/// the caller adds its own `Connection` header first (see [`Response::finish`]).
#[derive(Debug)]
pub struct Response {
    pub head: Vec<u8>,
    pub len: usize,
    pub status: u16,
    pub framing: Framing,
    /// The upstream lets its connection be used again.
    pub keep_alive: bool,
    /// It has a `Strict-Transport-Security` header of its own.
    pub has_hsts: bool,
}

impl Response {
    /// The head to send to the client: with `Connection: close` when the proxy will close
    /// the client's connection after this answer, else `Connection: keep-alive` for an
    /// HTTP/1.0 client (which closes otherwise).
    pub fn finish(&mut self, close: bool, http10_client: bool) {
        if close {
            self.head.extend_from_slice(b"Connection: close\r\n");
        } else if http10_client {
            self.head.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        self.head.extend_from_slice(b"\r\n");
    }

    /// The head of a switch of protocols (101) for the client.
    pub fn finish_switch(&mut self) {
        self.head.extend_from_slice(b"Connection: upgrade\r\n\r\n");
    }
}

/// Which headers `Connection` names, and the tokens the proxy acts on.
#[derive(Default)]
struct ConnectionTokens<'a> {
    close: bool,
    keep_alive: bool,
    upgrade: bool,
    named: Vec<&'a [u8]>,
}

impl<'a> ConnectionTokens<'a> {
    fn read(headers: &[httparse::Header<'a>]) -> ConnectionTokens<'a> {
        let mut tokens = ConnectionTokens::default();
        for header in headers {
            if !header.name.eq_ignore_ascii_case("connection") {
                continue;
            }
            for token in header.value.split(|b| *b == b',').map(trim) {
                if token.eq_ignore_ascii_case(b"close") {
                    tokens.close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    tokens.keep_alive = true;
                } else if token.eq_ignore_ascii_case(b"upgrade") {
                    tokens.upgrade = true;
                } else if !token.is_empty() {
                    tokens.named.push(token);
                }
            }
        }
        tokens
    }

    /// Whether `Connection` names `name` as hop-by-hop, and it may be dropped as such
    /// (see [`headers::connection_may_drop`]).
    fn names(&self, name: &str) -> bool {
        headers::connection_may_drop(name)
            && self
                .named
                .iter()
                .any(|n| n.eq_ignore_ascii_case(name.as_bytes()))
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// The body length the `Content-Length` headers give (see [`headers::content_length`]).
fn content_length(headers: &[httparse::Header]) -> Result<Option<u64>, ()> {
    headers::content_length(
        headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("content-length"))
            .map(|h| h.value),
    )
}

/// The codings `Transfer-Encoding` lists, when there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    /// Exactly `chunked`.
    Chunked,
    /// Others, with `chunked` last.
    EndsChunked,
    /// `chunked` is not last: the body ends when the sender closes.
    NotChunked,
}

/// What `Transfer-Encoding` says, over all its headers; `Err` when `chunked` comes
/// before another coding (it must be the last, and only once).
fn transfer_encoding(headers: &[httparse::Header]) -> Result<Option<Coding>, ()> {
    let (mut count, mut chunked_last) = (0, false);
    for header in headers {
        if header.name.eq_ignore_ascii_case("transfer-encoding") {
            for coding in header.value.split(|b| *b == b',').map(trim) {
                if chunked_last {
                    return Err(());
                }
                count += 1;
                chunked_last = coding.eq_ignore_ascii_case(b"chunked");
            }
        }
    }
    Ok(match (count, chunked_last) {
        (0, _) => None,
        (1, true) => Some(Coding::Chunked),
        (_, true) => Some(Coding::EndsChunked),
        (_, false) => Some(Coding::NotChunked),
    })
}

fn header_line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Read a client's request head from the start of `input` and rewrite it for an upstream
/// (origin-form target, `Host`, `X-Forwarded-For/-Proto/-Host`, no hop-by-hop headers).
/// Anything that could make the proxy and the upstream disagree about where the request
/// ends is refused with 400 (RFC 9112 §6.3): `Content-Length` with `Transfer-Encoding`,
/// a bad or ambiguous length, a coding other than chunked. `client` is the client's
/// address as `X-Forwarded-For` gives it.
pub fn request(input: &[u8], client: &str, https: bool) -> Parsed<Request> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let len = match parsed.parse(input) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if input.len() >= MAX_HEAD => {
            return Parsed::Refuse(Local::HeadersTooLarge)
        }
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => return Parsed::Refuse(Local::HeadersTooLarge),
        Err(_) => return Parsed::Refuse(Local::BadRequest),
    };
    let (Some(method), Some(target), Some(minor)) = (parsed.method, parsed.path, parsed.version)
    else {
        return Parsed::Refuse(Local::BadRequest);
    };
    let headers = parsed.headers;
    if let Err(refused) = policy::admit_method(method.as_bytes()) {
        return Parsed::Refuse(refused);
    }
    // A request target never carries a fragment (RFC 9112 §3.2).
    if target.contains('#') {
        return Parsed::Refuse(Local::BadRequest);
    }
    // Absolute form (`GET http://host/path`): the authority replaces Host (RFC 9112 §3.2.2).
    let (authority, path) = match target.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("http://") => {
            let rest = &target[7..];
            let split = rest.find(['/', '?']).unwrap_or(rest.len());
            (Some(&rest[..split]), &rest[split..])
        }
        _ if target.starts_with('/') || target == "*" => (None, target),
        _ => return Parsed::Refuse(Local::BadRequest),
    };
    let hosts = headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("host"))
        .map(|h| h.value);
    // The absolute form's authority replaces Host (RFC 9112 §3.2.2): they need not agree.
    let host = match policy::requested_host(authority.map(str::as_bytes), hosts, false) {
        Ok(host) => host,
        Err(refused) => return Parsed::Refuse(refused),
    };
    if minor == 1 && host.is_none() {
        return Parsed::Refuse(Local::BadRequest);
    }

    let (Ok(length), Ok(coding)) = (content_length(headers), transfer_encoding(headers)) else {
        return Parsed::Refuse(Local::BadRequest);
    };
    // A request body may only be chunked, and nothing else: no other coding is worth
    // the risk of the proxy and the app reading its end differently.
    let framing = match (coding, length) {
        (None, None | Some(0)) => Framing::Empty,
        (None, Some(n)) => Framing::Length(n),
        (Some(Coding::Chunked), None) if minor == 1 => Framing::Chunked,
        _ => return Parsed::Refuse(Local::BadRequest),
    };
    let tokens = ConnectionTokens::read(headers);
    let upgrade_value = headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("upgrade"))
        .map(|h| h.value);
    let upgrade = minor == 1 && tokens.upgrade && upgrade_value.is_some();
    let keep_alive = if minor == 1 {
        !tokens.close
    } else {
        tokens.keep_alive && !tokens.close
    };

    let mut head = Vec::with_capacity(len + 160);
    head.extend_from_slice(method.as_bytes());
    head.push(b' ');
    if authority.is_some() && !path.starts_with('/') {
        head.push(b'/');
    }
    head.extend_from_slice(path.as_bytes());
    // An HTTP/1.0 request goes on as one, so that the answer is framed for its client.
    head.extend_from_slice(if minor == 1 {
        b" HTTP/1.1\r\n"
    } else {
        b" HTTP/1.0\r\n"
    });
    let mut forwarded_for: Vec<u8> = Vec::new();
    for header in headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("x-forwarded-for") {
            forwarded_for.extend_from_slice(header.value);
            forwarded_for.extend_from_slice(b", ");
            continue;
        }
        if is_hop_by_hop(name)
            || is_forwarding(name)
            || is_underscore_alias(name)
            || name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
            || (name.eq_ignore_ascii_case("host") && authority.is_some())
            || tokens.names(name)
        {
            continue;
        }
        header_line(&mut head, name.as_bytes(), header.value);
    }
    if let Some(authority) = authority {
        header_line(&mut head, b"Host", authority.as_bytes());
    }
    match framing {
        Framing::Length(n) => header_line(&mut head, b"Content-Length", n.to_string().as_bytes()),
        Framing::Chunked => head.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
        Framing::Empty | Framing::UntilClose => {}
    }
    forwarded_for.extend_from_slice(client.as_bytes());
    header_line(&mut head, b"X-Forwarded-For", &forwarded_for);
    head.extend_from_slice(if https {
        b"X-Forwarded-Proto: https\r\n"
    } else {
        b"X-Forwarded-Proto: http\r\n"
    });
    if let Some(host) = host {
        header_line(&mut head, b"X-Forwarded-Host", host);
    }
    match upgrade_value {
        Some(value) if upgrade => {
            header_line(&mut head, b"Upgrade", value);
            head.extend_from_slice(b"Connection: upgrade\r\n");
        }
        _ if minor == 0 => head.extend_from_slice(b"Connection: keep-alive\r\n"),
        _ => {}
    }
    head.extend_from_slice(b"\r\n");
    Parsed::Done(Request {
        head,
        len,
        framing,
        keep_alive,
        upgrade,
        head_only: method == "HEAD",
        idempotent: policy::retried_on_stale(method.as_bytes()),
        http10: minor == 0,
        host: host.and_then(crate::proxy::headers::request_host),
    })
}

/// Read an upstream's answer head from the start of `input` and rewrite it for the client.
/// `head_only`: the request was `HEAD`. An answer that cannot be framed is refused (502).
pub fn response(input: &[u8], head_only: bool) -> Parsed<Response> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut headers);
    let len = match parsed.parse(input) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if input.len() < MAX_HEAD => return Parsed::Partial,
        _ => return Parsed::Refuse(Local::BadGateway),
    };
    let (Some(minor), Some(status)) = (parsed.version, parsed.code) else {
        return Parsed::Refuse(Local::BadGateway);
    };
    // httparse reads `000` as status 0, which would go to the client as `HTTP/1.1 0`,
    // an answer no client can read.
    if !policy::passes_status(status) {
        return Parsed::Refuse(Local::BadGateway);
    }
    let reason = parsed.reason.unwrap_or_default();
    let headers = parsed.headers;
    let tokens = ConnectionTokens::read(headers);
    let Ok(chunked) = transfer_encoding(headers) else {
        return Parsed::Refuse(Local::BadGateway);
    };
    // Lengths that disagree cannot be passed on, even where they frame nothing; where a
    // coding frames the body, the length is dropped and not read.
    let length = match (chunked, content_length(headers)) {
        (Some(_), _) => None,
        (None, Ok(length)) => length,
        (None, Err(())) => return Parsed::Refuse(Local::BadGateway),
    };
    let framing = if head_only || (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::Empty
    } else {
        match (chunked, length) {
            (Some(Coding::Chunked | Coding::EndsChunked), _) => Framing::Chunked,
            (Some(Coding::NotChunked), _) => Framing::UntilClose,
            (None, Some(0)) => Framing::Empty,
            (None, Some(n)) => Framing::Length(n),
            (None, None) => Framing::UntilClose,
        }
    };
    // The connection goes back to the pool only when where this answer ends is beyond
    // doubt: not after an answer without a body that announced one (a HEAD answer, a 304
    // with a length: a wrong app sends the body anyway, later, into the next request's
    // answer), nor after an HTTP/1.0 answer with a coding (RFC 9112 §6.1).
    let announced_body = chunked.is_some() || !matches!(length, None | Some(0));
    let keep_alive = framing != Framing::UntilClose
        && !(framing == Framing::Empty && announced_body)
        && !(minor == 0 && chunked.is_some())
        && if minor == 1 {
            !tokens.close
        } else {
            tokens.keep_alive && !tokens.close
        };

    let mut head = Vec::with_capacity(len + 32);
    head.extend_from_slice(format!("HTTP/1.1 {status} {reason}\r\n").as_bytes());
    let mut length_written = false;
    let mut has_hsts = false;
    for header in headers.iter() {
        let name = header.name;
        has_hsts |= name.eq_ignore_ascii_case("strict-transport-security");
        // The length goes on once, where it first came (`5, 5` or two equal headers
        // become one `5`), also where it frames nothing (HEAD, 304); it goes where a
        // coding frames the body instead. A switch of protocols keeps its `Upgrade`.
        if name.eq_ignore_ascii_case("content-length") {
            if let (Some(n), false) = (length, length_written) {
                header_line(&mut head, b"Content-Length", n.to_string().as_bytes());
                length_written = true;
            }
            continue;
        }
        let upgrade_kept = status == 101 && name.eq_ignore_ascii_case("upgrade");
        if (is_hop_by_hop(name) && !upgrade_kept) || tokens.names(name) {
            continue;
        }
        header_line(&mut head, name.as_bytes(), header.value);
    }
    Parsed::Done(Response {
        head,
        len,
        status,
        framing,
        keep_alive,
        has_hsts,
    })
}

/// Finds where a chunked body ends as its bytes pass by, without changing them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunked {
    state: State,
    trailers: usize,
    /// Bytes of the current chunk's extensions so far.
    extension: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The first hex digit of a chunk size.
    SizeStart,
    Size(u64),
    /// Spaces after the size: only `;` (an extension) or the line's end may follow.
    SizeSpace(u64),
    /// A chunk extension, up to the end of the line.
    Extension(u64),
    SizeLf(u64),
    Data(u64),
    DataCr,
    DataLf,
    /// The start of a trailer line, or of the final blank line.
    LineStart,
    /// A trailer field's name, up to its `:`.
    TrailerName,
    /// A trailer field's value, up to the line's end.
    Trailer,
    TrailerLf,
    FinalLf,
    Done,
}

/// A character of a token (RFC 9110 §5.6.2): a header field's name, say.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The chunked body is malformed: the connection cannot be used any more.
#[derive(Debug, PartialEq, Eq)]
pub struct BadChunk;

impl Default for Chunked {
    fn default() -> Chunked {
        Chunked {
            state: State::SizeStart,
            trailers: 0,
            extension: 0,
        }
    }
}

impl Chunked {
    /// Look at the next bytes of the body: `Some(n)` when it ends after the first `n` of
    /// them (what follows belongs to the next message), None when it goes on.
    pub fn scan(&mut self, bytes: &[u8]) -> Result<Option<usize>, BadChunk> {
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            self.state = match self.state {
                State::SizeStart | State::Size(_) => {
                    let size = match self.state {
                        State::Size(size) => size,
                        _ => 0,
                    };
                    match (b as char).to_digit(16) {
                        Some(d) if size < 1 << 59 => State::Size(size * 16 + u64::from(d)),
                        None if self.state != State::SizeStart => match b {
                            b'\r' => State::SizeLf(size),
                            b';' => {
                                self.extension = 0;
                                State::Extension(size)
                            }
                            b' ' | b'\t' => State::SizeSpace(size),
                            _ => return Err(BadChunk),
                        },
                        _ => return Err(BadChunk),
                    }
                }
                State::SizeSpace(size) => match b {
                    b' ' | b'\t' => State::SizeSpace(size),
                    b';' => {
                        self.extension = 0;
                        State::Extension(size)
                    }
                    b'\r' => State::SizeLf(size),
                    _ => return Err(BadChunk),
                },
                State::Extension(size) => match b {
                    b'\r' => State::SizeLf(size),
                    b'\n' => return Err(BadChunk),
                    _ => {
                        // A chunk's extensions, `;` to the line's end, are bounded
                        // (refused as a malformed body beyond that).
                        self.extension += 1;
                        if self.extension >= policy::MAX_CHUNK_EXTENSION {
                            return Err(BadChunk);
                        }
                        State::Extension(size)
                    }
                },
                State::SizeLf(size) if b == b'\n' => {
                    if size == 0 {
                        State::LineStart
                    } else {
                        State::Data(size)
                    }
                }
                State::Data(left) => {
                    let take = (bytes.len() - i).min(usize::try_from(left).unwrap_or(usize::MAX));
                    i += take;
                    let left = left - take as u64;
                    self.state = if left == 0 {
                        State::DataCr
                    } else {
                        State::Data(left)
                    };
                    continue;
                }
                State::DataCr if b == b'\r' => State::DataLf,
                State::DataLf if b == b'\n' => State::SizeStart,
                State::LineStart if b == b'\r' => State::FinalLf,
                // Trailer fields are read as header fields are (a token, `:`, a value
                // without control characters): a reader that takes a malformed line
                // for the end of the trailers would find the next request elsewhere.
                State::LineStart | State::TrailerName | State::Trailer => {
                    self.trailers += 1;
                    if self.trailers > MAX_TRAILERS {
                        return Err(BadChunk);
                    }
                    match (self.state, b) {
                        (State::LineStart | State::TrailerName, b) if is_token(b) => {
                            State::TrailerName
                        }
                        (State::TrailerName, b':') => State::Trailer,
                        (State::Trailer, b'\r') => State::TrailerLf,
                        (State::Trailer, b) if b == b'\t' || !(b.is_ascii_control()) => {
                            State::Trailer
                        }
                        _ => return Err(BadChunk),
                    }
                }
                State::TrailerLf if b == b'\n' => State::LineStart,
                State::FinalLf if b == b'\n' => {
                    self.state = State::Done;
                    return Ok(Some(i + 1));
                }
                State::Done => return Ok(Some(0)),
                _ => return Err(BadChunk),
            };
            i += 1;
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> &'static str {
        "192.0.2.7"
    }

    fn rewritten(input: &str) -> (String, Request) {
        match request(input.as_bytes(), client(), false) {
            Parsed::Done(r) => (String::from_utf8(r.head.clone()).unwrap(), r),
            other => panic!("{input:?} gave {other:?}"),
        }
    }

    fn refused(input: &str) -> u16 {
        match request(input.as_bytes(), client(), false) {
            Parsed::Refuse(answer) => answer.status(),
            other => panic!("{input:?} gave {other:?}"),
        }
    }

    #[test]
    fn a_request_loses_its_hop_by_hop_headers_and_names_its_client() {
        let input = "GET /a?b=1 HTTP/1.1\r\nHost: shop.example\r\nConnection: keep-alive, X-Trace\r\n\
             Keep-Alive: timeout=5\r\nX-Trace: 1\r\nTE: trailers\r\nProxy-Authorization: Basic eA==\r\n\
             X-Forwarded-For: 203.0.113.1\r\nX-Forwarded-For: 10.0.0.2\r\nX-Forwarded-Host: evil\r\n\
             X-Forwarded-Proto: https\r\nAccept: */*\r\n\r\nnext";
        let (head, request) = rewritten(input);
        assert_eq!(
            head,
            "GET /a?b=1 HTTP/1.1\r\nHost: shop.example\r\nAccept: */*\r\n\
             X-Forwarded-For: 203.0.113.1, 10.0.0.2, 192.0.2.7\r\nX-Forwarded-Proto: http\r\n\
             X-Forwarded-Host: shop.example\r\n\r\n"
        );
        assert_eq!(&input[request.len..], "next");
        assert!(request.keep_alive);
        assert_eq!(request.framing, Framing::Empty);
    }

    #[test]
    fn the_head_length_excludes_what_follows() {
        let input = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET";
        let (_, request) = rewritten(input);
        assert_eq!(&input[request.len..], "abcGET");
        assert_eq!(request.framing, Framing::Length(3));
    }

    #[test]
    fn connection_cannot_remove_the_forwarding_headers() {
        let (head, _) = rewritten(
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: x-forwarded-for\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n",
        );
        assert!(
            head.contains("X-Forwarded-For: 10.0.0.1, 192.0.2.7\r\n"),
            "{head}"
        );
    }

    #[test]
    fn underscore_spellings_of_the_headers_the_proxy_sets_are_dropped() {
        let (head, _) = rewritten(
            "GET / HTTP/1.1\r\nHost: a\r\nX_Forwarded_For: 203.0.113.66\r\nX_Forwarded_Proto: https\r\n\
             x_forwarded-host: evil\r\nContent_Length: 5\r\nX_Request_Id: 7\r\n\r\n",
        );
        assert!(!head.to_ascii_lowercase().contains("x_forwarded"), "{head}");
        assert!(!head.contains("Content_Length"), "{head}");
        assert!(
            head.contains("X_Request_Id: 7\r\n"),
            "other names keep their underscores"
        );
    }

    #[test]
    fn connection_cannot_remove_the_framing_or_the_host() {
        let (head, request) = rewritten(
            "POST / HTTP/1.1\r\nHost: a\r\nConnection: transfer-encoding, host, content-length\r\n\
             Transfer-Encoding: chunked\r\n\r\n",
        );
        assert_eq!(request.framing, Framing::Chunked);
        assert!(head.contains("\r\nHost: a\r\n"), "{head}");
        assert!(
            head.contains("\r\nTransfer-Encoding: chunked\r\n"),
            "{head}"
        );
        let (head, _) = rewritten(
            "POST / HTTP/1.1\r\nHost: a\r\nConnection: content-length\r\nContent-Length: 2\r\n\r\n",
        );
        assert!(head.contains("\r\nContent-Length: 2\r\n"), "{head}");
        let (head, r) = answer(
            "HTTP/1.1 200 OK\r\nConnection: content-length, transfer-encoding\r\nContent-Length: 5\r\n\r\n",
            false,
        );
        assert_eq!(r.framing, Framing::Length(5));
        assert!(head.contains("Content-Length: 5\r\n"), "{head}");
    }

    #[test]
    fn an_upgrade_keeps_its_two_headers() {
        let (head, request) = rewritten(
            "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        );
        assert!(request.upgrade);
        assert!(
            head.ends_with("Upgrade: websocket\r\nConnection: upgrade\r\n\r\n"),
            "{head}"
        );
        assert!(head.contains("Sec-WebSocket-Key"));
        let (_, plain) = rewritten("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n");
        assert!(
            !plain.upgrade,
            "Upgrade without Connection: upgrade is no handshake"
        );
    }

    #[test]
    fn the_absolute_form_becomes_origin_form_and_names_the_host() {
        let (head, _) = rewritten("GET http://shop.example:8080?q HTTP/1.1\r\nHost: other\r\n\r\n");
        assert!(
            head.starts_with("GET /?q HTTP/1.1\r\nHost: shop.example:8080\r\n"),
            "{head}"
        );
        assert!(head.contains("X-Forwarded-Host: shop.example:8080\r\n"));
        let (head, _) = rewritten("GET http://shop.example HTTP/1.1\r\n\r\n");
        assert!(
            head.starts_with("GET / HTTP/1.1\r\nHost: shop.example\r\n"),
            "{head}"
        );
    }

    #[test]
    fn http10_keeps_alive_only_when_asked_and_goes_on_as_http10() {
        let (head, request) = rewritten("GET / HTTP/1.0\r\n\r\n");
        assert!(!request.keep_alive);
        assert!(head.starts_with("GET / HTTP/1.0\r\n"));
        assert!(head.ends_with("Connection: keep-alive\r\n\r\n"), "{head}");
        assert!(!head.contains("X-Forwarded-Host"));
        let (_, request) = rewritten("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
        assert!(request.keep_alive);
        let (_, request) = rewritten("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        assert!(!request.keep_alive);
    }

    #[test]
    fn ambiguous_framing_is_refused() {
        let both =
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(refused(both), 400);
        assert_eq!(
            refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"),
            400
        );
        assert_eq!(
            refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12abc\r\n\r\n"),
            400
        );
        assert_eq!(
            refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"),
            400
        );
        assert_eq!(
            refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
            400
        );
        assert_eq!(
            refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            400
        );
        assert_eq!(
            refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
            400,
            "chunked twice"
        );
        assert_eq!(
            refused("GET / HTTP/1.1\r\n\r\n"),
            400,
            "HTTP/1.1 needs a Host"
        );
        assert_eq!(refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
        assert_eq!(refused("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400);
        assert_eq!(refused("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n"), 405);
        let (_, same) = rewritten("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n");
        assert_eq!(same.framing, Framing::Length(3));
        assert_eq!(
            refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            400,
            "a request body is chunked and nothing else"
        );
        let (head, chunked) =
            rewritten("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n");
        assert_eq!(chunked.framing, Framing::Chunked);
        assert!(
            head.contains("\r\nTransfer-Encoding: chunked\r\n"),
            "{head}"
        );
    }

    #[test]
    fn a_host_or_method_that_could_be_read_another_way_is_refused() {
        for bad in [
            "GET / HTTP/1.1\r\nHost: good.example evil.example\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: good.example/x\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a,b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n",
            "GET / HTTP/1.0\r\nHost: \r\n\r\n",
            "GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET http://a/#x HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET http://a HTTP/1.1\r\nHost: a b\r\n\r\n",
            "GET /#x HTTP/1.1\r\nHost: a\r\n\r\n",
            "head / HTTP/1.1\r\nHost: a\r\n\r\n",
            "Get / HTTP/1.1\r\nHost: a\r\n\r\n",
        ] {
            assert_eq!(refused(bad), 400, "{bad:?}");
        }
        let (head, _) = rewritten("PROPFIND / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n");
        assert!(
            head.starts_with("PROPFIND / HTTP/1.1\r\nHost: [::1]:8080\r\n"),
            "{head}"
        );
    }

    #[test]
    fn an_answer_with_a_status_out_of_range_cannot_be_passed_on() {
        for input in [
            "HTTP/1.1 000 OK\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n",
        ] {
            assert!(
                matches!(
                    response(input.as_bytes(), false),
                    Parsed::Refuse(Local::BadGateway)
                ),
                "{input:?}"
            );
        }
        let (_, r) = answer("HTTP/1.1 599 Custom\r\nContent-Length: 0\r\n\r\n", false);
        assert_eq!(r.status, 599);
    }

    #[test]
    fn an_answer_gives_its_length_once() {
        for input in [
            "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nX-A: 1\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nX-A: 1\r\nContent-Length: 5\r\n\r\n",
        ] {
            let (head, r) = answer(input, false);
            assert_eq!(r.framing, Framing::Length(5));
            assert_eq!(
                head,
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\n"
            );
        }
        assert!(matches!(
            response(
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                true
            ),
            Parsed::Refuse(Local::BadGateway)
        ));
    }

    #[test]
    fn an_oversized_head_is_refused_431() {
        let mut input = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        while input.len() < MAX_HEAD {
            input.extend_from_slice(
                b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
            );
        }
        assert!(matches!(
            request(&input, client(), false),
            Parsed::Refuse(Local::HeadersTooLarge)
        ));
        assert!(matches!(
            request(&input[..1000], client(), false),
            Parsed::Partial
        ));
    }

    fn answer(input: &str, head_only: bool) -> (String, Response) {
        match response(input.as_bytes(), head_only) {
            Parsed::Done(mut r) => {
                r.finish(false, false);
                (String::from_utf8(r.head.clone()).unwrap(), r)
            }
            other => panic!("{input:?} gave {other:?}"),
        }
    }

    #[test]
    fn answers_are_framed_as_rfc_9112_says() {
        let (head, r) = answer(
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nKeep-Alive: timeout=5\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nhello",
            false,
        );
        assert_eq!(
            head,
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n"
        );
        assert_eq!(
            (r.framing, r.keep_alive, r.status),
            (Framing::Length(5), true, 200)
        );
        let (_, r) = answer("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true);
        assert_eq!(r.framing, Framing::Empty, "HEAD");
        assert!(!r.keep_alive, "a body could still follow: not reused");
        let (_, r) = answer("HTTP/1.1 204 No Content\r\n\r\n", false);
        assert!(r.keep_alive);
        let (_, r) = answer(
            "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n",
            false,
        );
        assert!(!r.keep_alive, "HTTP/1.0 with a coding");
        let (head, r) = answer(
            "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
            false,
        );
        assert_eq!(r.framing, Framing::Empty);
        assert!(
            head.contains("Content-Length: 5"),
            "kept where it frames nothing"
        );
        let (head, r) = answer(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
            false,
        );
        assert_eq!(r.framing, Framing::Chunked);
        assert_eq!(
            head,
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        let (_, r) = answer(
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n",
            false,
        );
        assert_eq!((r.framing, r.keep_alive), (Framing::Length(1), false));
        let (_, r) = answer("HTTP/1.1 200 OK\r\n\r\n", false);
        assert_eq!((r.framing, r.keep_alive), (Framing::UntilClose, false));
        let (_, r) = answer("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false);
        assert!(!r.keep_alive, "HTTP/1.0 closes unless it says keep-alive");
        let (_, r) = answer(
            "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n",
            false,
        );
        assert!(r.keep_alive);
        assert!(matches!(
            response(b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n", false),
            Parsed::Refuse(Local::BadGateway)
        ));
        let mut r = match response(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n", false) {
            Parsed::Done(r) => r,
            other => panic!("{other:?}"),
        };
        r.finish(true, false);
        assert!(String::from_utf8(r.head)
            .unwrap()
            .ends_with("Connection: close\r\n\r\n"));
    }

    fn scan_all(pieces: &[&str]) -> Result<Option<usize>, BadChunk> {
        let mut chunked = Chunked::default();
        let mut offset = 0;
        for piece in pieces {
            if let Some(end) = chunked.scan(piece.as_bytes())? {
                return Ok(Some(offset + end));
            }
            offset += piece.len();
        }
        Ok(None)
    }

    #[test]
    fn a_chunked_body_ends_after_its_last_chunk_and_trailers() {
        let body = "5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Sum: 1\r\n\r\n";
        let with_next = format!("{body}GET / HTTP/1.1\r\n");
        assert_eq!(scan_all(&[&with_next]), Ok(Some(body.len())));
        // Byte by byte, the end is found at the same place.
        let bytes: Vec<String> = with_next.chars().map(String::from).collect();
        let pieces: Vec<&str> = bytes.iter().map(String::as_str).collect();
        assert_eq!(scan_all(&pieces), Ok(Some(body.len())));
        assert_eq!(scan_all(&["0\r\n\r\n"]), Ok(Some(5)));
        assert_eq!(scan_all(&["5\r\nhel"]), Ok(None));
        assert_eq!(scan_all(&["A\r\n0123456789\r\n0\r\n\r\n"]), Ok(Some(20)));
        assert_eq!(scan_all(&["1 \t;x\r\na\r\n0 \r\n\r\n"]), Ok(Some(16)));
    }

    #[test]
    fn chunk_extensions_over_16_kib_are_refused() {
        // `;` and what follows it up to the line's end: at most 16 KiB.
        let extension = |len: usize| format!(";{}", "e".repeat(len - 1));
        let at_limit = format!("1{}\r\na\r\n0\r\n\r\n", extension(16 * 1024));
        assert_eq!(scan_all(&[&at_limit]), Ok(Some(at_limit.len())));
        let over = format!("1{}\r\na\r\n0\r\n\r\n", extension(16 * 1024 + 1));
        assert_eq!(scan_all(&[&over]), Err(BadChunk));
        // Byte by byte, the same.
        let pieces: Vec<String> = over.chars().map(String::from).collect();
        let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
        assert_eq!(scan_all(&pieces), Err(BadChunk));
        // The bound is per chunk, not per body; the last chunk's counts too.
        let many = format!("1{}\r\na\r\n", extension(16 * 1024)).repeat(3) + "0\r\n\r\n";
        assert_eq!(scan_all(&[&many]), Ok(Some(many.len())));
        let last = format!("0{}\r\n\r\n", extension(16 * 1024 + 1));
        assert_eq!(scan_all(&[&last]), Err(BadChunk));
    }

    #[test]
    fn a_malformed_chunked_body_is_refused() {
        for bad in [
            "x\r\n",
            "\r\n",
            "5\nhello\r\n",
            "5\r\nhelloX\r\n",
            "0\r\n\n",
            "fffffffffffffffffff\r\n",
            "5;ext\nhello",
            "5 xyz\r\nhello\r\n",
            "0\r\nX-Sum.1\r\n\r\n",
            "0\r\n: 1\r\n\r\n",
            "0\r\nX Sum: 1\r\n\r\n",
            "0\r\nX-Sum: a\x01b\r\n\r\n",
        ] {
            assert_eq!(scan_all(&[bad]), Err(BadChunk), "{bad:?}");
        }
    }
}
