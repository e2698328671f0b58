//! A differential test of where a request ends: the same bytes go to the proxy's parser
//! (the head, then its body's framing) and to hyper's HTTP/1.1 server, a reference an
//! app could well run. Wherever the proxy passes a request on, the two must read the
//! same requests, in the same order, with bodies of the same length; a difference there
//! is how requests are smuggled past a proxy. What the proxy refuses, or cuts off by
//! closing the connection, cannot be smuggled and is not compared further.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;

use super::parse::{self, Chunked, Framing, Parsed};
use crate::proxy::fuzz::mutate::{corpus, mutate, Rng};

/// How far a reader got with a request's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// Read whole: this many bytes of content (chunked bodies decoded).
    Whole(usize),
    /// Still waiting for more of it.
    Waiting,
    /// Refused as malformed: the connection ends here.
    Cut,
}

/// One request as a reader saw it: `METHOD target` and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    line: String,
    body: Body,
}

/// The requests the proxy passes on from `input`, in order, until it refuses one, waits
/// for more of one, or closes the connection after one.
fn proxy_reads(mut input: &[u8]) -> Vec<Seen> {
    let mut seen = Vec::new();
    loop {
        let Parsed::Done(request) = parse::request(input, "192.0.2.7", false) else {
            return seen;
        };
        let head = String::from_utf8_lossy(&request.head);
        let line = head.lines().next().unwrap_or_default();
        let line = line.rsplit_once(' ').map_or(line, |(l, _)| l).to_string();
        input = &input[request.len..];
        let (body, used) = match request.framing {
            Framing::Empty => (Body::Whole(0), 0),
            Framing::Length(n) => match usize::try_from(n) {
                Ok(n) if n <= input.len() => (Body::Whole(n), n),
                _ => (Body::Waiting, 0),
            },
            Framing::Chunked => match Chunked::default().scan(input) {
                Ok(Some(end)) => (Body::Whole(decoded_length(&input[..end])), end),
                Ok(None) => (Body::Waiting, 0),
                Err(_) => (Body::Cut, 0),
            },
            Framing::UntilClose => unreachable!("a request body never runs until the close"),
        };
        seen.push(Seen { line, body });
        if !matches!(body, Body::Whole(_)) {
            return seen;
        }
        input = &input[used..];
        if !request.keep_alive || request.upgrade {
            return seen;
        }
    }
}

/// The content length of a chunked body the proxy's scanner accepted whole.
fn decoded_length(mut body: &[u8]) -> usize {
    let mut total = 0;
    loop {
        let digits = body.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        let size = std::str::from_utf8(&body[..digits])
            .ok()
            .and_then(|d| usize::from_str_radix(d, 16).ok())
            .unwrap_or(0);
        let line_end = body
            .iter()
            .position(|b| *b == b'\n')
            .map_or(body.len(), |i| i + 1);
        body = &body[line_end..];
        if size == 0 {
            return total;
        }
        total += size;
        body = &body[(size + 2).min(body.len())..];
    }
}

/// The requests hyper's HTTP/1.1 server reads from `input` (the client then waits),
/// in paused time: whatever hyper waits for never comes.
fn hyper_reads(runtime: &tokio::runtime::Runtime, input: &[u8]) -> Vec<Seen> {
    let seen = Arc::new(Mutex::new(Vec::<Seen>::new()));
    let log = Arc::clone(&seen);
    runtime.block_on(async move {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        client.write_all(input).await.expect("write the input");
        let service = service_fn(move |request: Request<Incoming>| {
            let log = Arc::clone(&log);
            async move {
                let target = request
                    .uri()
                    .path_and_query()
                    .map_or_else(|| request.uri().to_string(), |p| p.to_string());
                let index = {
                    let mut log = log.lock().unwrap();
                    log.push(Seen {
                        line: format!("{} {target}", request.method()),
                        body: Body::Waiting,
                    });
                    log.len() - 1
                };
                let body = match request.into_body().collect().await {
                    Ok(body) => Body::Whole(body.to_bytes().len()),
                    Err(_) => Body::Cut,
                };
                log.lock().unwrap()[index].body = body;
                Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new()))
            }
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(server), service);
        let _ = tokio::time::timeout(Duration::from_secs(60), connection).await;
        drop(client);
    });
    let seen = seen.lock().unwrap().clone();
    seen
}

/// Where the two readers disagree about a request the proxy passes on, if they do.
fn disagreement(proxy: &[Seen], reference: &[Seen]) -> Option<String> {
    for (i, (p, h)) in proxy.iter().zip(reference).enumerate() {
        let more_in_proxy = proxy.len() > i + 1;
        let more_in_reference = reference.len() > i + 1;
        let differ = p.line != h.line
            || match (p.body, h.body) {
                (Body::Whole(a), Body::Whole(b)) => a != b,
                // The proxy passes on a request the reference reads as part of a body.
                (Body::Whole(_), _) => more_in_proxy,
                // The proxy would pass the reference's next request on as this body.
                (Body::Waiting, Body::Whole(_)) => more_in_reference,
                _ => false,
            };
        if differ {
            return Some(format!("request {i}: proxy {p:?}, reference {h:?}"));
        }
    }
    None
}

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime")
}

/// Each case, then a request that must be read as a request of its own.
const NEXT: &[u8] = b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n";

#[track_caller]
fn check(runtime: &tokio::runtime::Runtime, case: &[u8]) {
    let input = [case, NEXT].concat();
    let (proxy, reference) = (proxy_reads(&input), hyper_reads(runtime, &input));
    if let Some(why) = disagreement(&proxy, &reference) {
        panic!(
            "the proxy and hyper read {:?} differently: {why}\nproxy: {proxy:?}\nhyper: {reference:?}",
            String::from_utf8_lossy(&input)
        );
    }
}

#[test]
fn a_request_read_as_a_body_is_a_disagreement() {
    let seen = |line: &str, body| Seen {
        line: line.to_string(),
        body,
    };
    let proxy = [
        seen("POST /", Body::Whole(0)),
        seen("GET /next", Body::Whole(0)),
    ];
    // CL.TE: the reference still reads the first body when the proxy passes the next.
    assert!(disagreement(&proxy, &[seen("POST /", Body::Waiting)]).is_some());
    // TE.CL: the proxy waits for a body where the reference reads a request.
    let waiting = [seen("POST /", Body::Waiting)];
    let reference = [
        seen("POST /", Body::Whole(0)),
        seen("GET /next", Body::Whole(0)),
    ];
    assert!(disagreement(&waiting, &reference).is_some());
    assert!(disagreement(&proxy, &[seen("POST /", Body::Whole(4))]).is_some());
    assert!(disagreement(&proxy, &reference).is_none());
    // What the proxy cut off, nothing follows.
    assert!(disagreement(&[seen("POST /", Body::Cut)], &reference).is_none());
}

#[test]
fn the_proxy_and_hyper_agree_where_smuggling_is_tried() {
    let runtime = paused_runtime();
    for case in [
        &b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG"[..],
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x3\r\n\r\nabc",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n003\r\nabc\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX: 1\r\n\r\n",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n0\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
        b"GET / HTTP/1.1\r\nHost: a\r\n Content-Length: 5\r\n\r\nhello",
        b"GET / HTTP/1.1\nHost: a\n\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n folded\r\n\r\n",
    ] {
        check(&runtime, case);
    }
}

#[test]
fn the_proxy_and_hyper_agree_on_the_corpus_and_its_mutations() {
    let runtime = paused_runtime();
    let corpus = corpus("request");
    for case in &corpus {
        check(&runtime, case);
    }
    let mut rng = Rng::new(0xd1ff_0001);
    for _ in 0..3_000 {
        let input = &corpus[rng.below(corpus.len())];
        let other = &corpus[rng.below(corpus.len())];
        check(&runtime, &mutate(&mut rng, input, other));
    }
}
