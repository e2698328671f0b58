//! The forwarding policy, one for both paths (HTTP/1.1 in [`super::h1`], HTTP/2 in
//! [`super::forward`]): how long each side may take, which requests are admitted and
//! which are sent again, and the proxy's own answers. Written once, so that the two
//! paths cannot drift apart on what they promise a client or an app.

use std::time::Duration;

use super::headers::{is_valid_host, is_valid_method};

/// How long a client connection may take to send a request's head, and may sit idle
/// between requests: a slow or silent client cannot hold a connection (and its memory
/// and file descriptor) for ever. A request body that stalls this long is given up too.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest head accepted, request or response, on HTTP/1.1; on HTTP/2 the longest
/// header list (hyper's default is larger; nginx's is 4 × 8 KB for a request).
pub const MAX_HEAD: usize = 64 * 1024;

/// Upstreams run on this host: a connect that takes longer is not going to work.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a write may wait for its receiver to take the bytes (a client that stopped
/// reading its answer, an app that stopped reading a body), as nginx's `send_timeout`.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(60);

pub use crate::store::DEFAULT_RESPONSE_TIMEOUT;

/// How long an unused kept-alive connection to an upstream stays open.
pub const UPSTREAM_IDLE: Duration = Duration::from_secs(30);

/// The longest chunk extension (`;name=value` after a chunk's size) passed on: the
/// proxy does not read them, and an app that does should not be handed an unbounded
/// line. Longer ones are refused (400) as a malformed body.
pub const MAX_CHUNK_EXTENSION: usize = 16 * 1024;

/// The response timeout of a route, as the history stores it: zero is no limit.
pub fn response_timeout(ms: u64) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(ms))
}

/// Whether a request may be sent once more, on a new connection, when the kept-alive
/// one it went out on closed before a byte of answer came: only the idempotent methods
/// (RFC 9110 §9.2.2), whose second copy cannot do what the first did not.
pub fn retried_on_stale(method: &[u8]) -> bool {
    matches!(
        method,
        b"GET" | b"HEAD" | b"OPTIONS" | b"TRACE" | b"PUT" | b"DELETE"
    )
}

/// Whether an app's status code may be passed on: three digits, the first 1 to 5 (RFC
/// 9110 §15). Another answer gets 502.
pub fn passes_status(status: u16) -> bool {
    (100..600).contains(&status)
}

/// Whether a request's method may be passed on: not CONNECT (405: the proxy makes no
/// tunnels), and an upper-case token (400), as nginx.
pub fn admit_method(method: &[u8]) -> Result<(), Local> {
    if method == b"CONNECT" {
        return Err(Local::MethodNotAllowed);
    }
    if !is_valid_method(method) {
        return Err(Local::BadRequest);
    }
    Ok(())
}

/// The host a request names: its target's authority (HTTP/1.1's absolute form, HTTP/2's
/// `:authority`), else its one `Host` header. Refused (400): two `Host` headers, a value
/// that is not one `host[:port]`, and, with `must_agree` (HTTP/2, where both are the
/// client's own words for one thing), a `Host` other than the authority.
pub fn requested_host<'a>(
    authority: Option<&'a [u8]>,
    mut hosts: impl Iterator<Item = &'a [u8]>,
    must_agree: bool,
) -> Result<Option<&'a [u8]>, Local> {
    let host = hosts.next();
    let admitted = hosts.next().is_none()
        && authority.is_none_or(is_valid_host)
        && host.is_none_or(is_valid_host)
        && match (authority, host) {
            (Some(a), Some(h)) if must_agree => a.eq_ignore_ascii_case(h),
            _ => true,
        };
    if admitted {
        Ok(authority.or(host))
    } else {
        Err(Local::BadRequest)
    }
}

/// An answer of the proxy's own, the same on both paths: a short plain-text body that
/// says why, and on HTTP/1.1 whether the connection closes after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Local {
    /// A request that cannot be passed on as it is.
    BadRequest,
    /// No environment on this address serves the host asked for (routing by domain).
    NotFound,
    /// CONNECT.
    MethodNotAllowed,
    /// A request head that came too slowly.
    RequestTimeout,
    /// A request head too large.
    HeadersTooLarge,
    /// The upstream cannot be reached, or its answer cannot be passed on.
    BadGateway,
    /// Nothing serves this address now.
    Unavailable,
    /// The upstream's answer did not begin within the environment's response timeout.
    GatewayTimeout,
}

/// The content type of every answer of the proxy's own.
pub const LOCAL_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

impl Local {
    pub fn status(self) -> u16 {
        match self {
            Local::BadRequest => 400,
            Local::NotFound => 404,
            Local::MethodNotAllowed => 405,
            Local::RequestTimeout => 408,
            Local::HeadersTooLarge => 431,
            Local::BadGateway => 502,
            Local::Unavailable => 503,
            Local::GatewayTimeout => 504,
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Local::BadRequest => "Bad Request",
            Local::NotFound => "Not Found",
            Local::MethodNotAllowed => "Method Not Allowed",
            Local::RequestTimeout => "Request Timeout",
            Local::HeadersTooLarge => "Request Header Fields Too Large",
            Local::BadGateway => "Bad Gateway",
            Local::Unavailable => "Service Unavailable",
            Local::GatewayTimeout => "Gateway Timeout",
        }
    }

    /// The body.
    pub fn text(self) -> &'static str {
        match self {
            Local::BadRequest => "400 bad request\n",
            Local::NotFound => "404 not found: no environment serves this host here\n",
            Local::MethodNotAllowed => "405 method not allowed: CONNECT is not proxied\n",
            Local::RequestTimeout => "408 request timeout: the request's head came too slowly\n",
            Local::HeadersTooLarge => "431 request header fields too large\n",
            Local::BadGateway => "502 bad gateway: the upstream cannot be reached\n",
            Local::Unavailable => "503 service unavailable: nothing serves this address now\n",
            Local::GatewayTimeout => "504 gateway timeout: the upstream did not answer in time\n",
        }
    }

    /// The whole answer on HTTP/1.1, saying `Connection: close` when `close`.
    pub fn http1(self, close: bool) -> Vec<u8> {
        let text = self.text();
        format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {LOCAL_CONTENT_TYPE}\r\nContent-Length: {}\r\n{}\r\n{text}",
            self.status(),
            self.reason(),
            text.len(),
            if close { "Connection: close\r\n" } else { "" },
        )
        .into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_answers_are_whole_http1_messages() {
        for local in [
            Local::BadRequest,
            Local::NotFound,
            Local::MethodNotAllowed,
            Local::RequestTimeout,
            Local::HeadersTooLarge,
            Local::BadGateway,
            Local::Unavailable,
            Local::GatewayTimeout,
        ] {
            let answer = String::from_utf8(local.http1(true)).unwrap();
            let (head, body) = answer.split_once("\r\n\r\n").unwrap();
            assert!(
                head.starts_with(&format!("HTTP/1.1 {} ", local.status())),
                "{head}"
            );
            assert!(head.contains(&format!("Content-Length: {}", body.len())));
            assert!(head.ends_with("Connection: close"), "{head}");
            assert!(body.starts_with(&local.status().to_string()));
            assert!(!String::from_utf8(local.http1(false))
                .unwrap()
                .contains("Connection"));
        }
    }

    #[test]
    fn hosts_and_methods_are_admitted_alike_on_both_paths() {
        let one = |a: Option<&'static str>, hosts: &[&'static str], agree| {
            requested_host(
                a.map(str::as_bytes),
                hosts.iter().map(|h| h.as_bytes()),
                agree,
            )
            .map(|h| h.map(|h| String::from_utf8_lossy(h).into_owned()))
        };
        assert_eq!(one(None, &["a"], false), Ok(Some("a".into())));
        assert_eq!(one(Some("b"), &["a"], false), Ok(Some("b".into())));
        assert_eq!(one(Some("b"), &["a"], true), Err(Local::BadRequest));
        assert_eq!(one(Some("A"), &["a"], true), Ok(Some("A".into())));
        assert_eq!(one(None, &["a", "a"], false), Err(Local::BadRequest));
        assert_eq!(one(None, &["a b"], false), Err(Local::BadRequest));
        assert_eq!(one(None, &[], false), Ok(None));
        assert_eq!(admit_method(b"CONNECT"), Err(Local::MethodNotAllowed));
        assert_eq!(admit_method(b"head"), Err(Local::BadRequest));
        assert_eq!(admit_method(b"PROPFIND"), Ok(()));
        assert!(retried_on_stale(b"PUT") && !retried_on_stale(b"POST"));
        assert!(passes_status(100) && passes_status(599));
        assert!(!passes_status(0) && !passes_status(99) && !passes_status(600));
        assert_eq!(response_timeout(0), None);
        assert_eq!(response_timeout(1500), Some(Duration::from_millis(1500)));
    }
}
