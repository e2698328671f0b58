//! The plain `--http` address in front of the TLS ones: ACME's HTTP-01 challenges are
//! answered there, and every other request for a TLS domain is sent to `https://` with
//! 308 (the method and body stay as they were). Requests for other hosts go on as on any
//! plain address: to the environment routed there, if any, else 404.

use super::Challenges;

/// Where HTTP-01 challenges are asked for (RFC 8555 §8.3).
const CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

/// What the edge answers itself.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// 200 with this key authorization.
    Challenge(String),
    /// 308 to this `https://` URL.
    Redirect(String),
}

/// The edge's answer to a request for `host` (lower case, no port) with `target` (its
/// origin-form path and query), given the port of the TLS address that serves `host`
/// (`https_port`), if one does.
pub fn answer(
    challenges: &Challenges,
    https_port: impl Fn(&str) -> Option<u16>,
    host: Option<&str>,
    target: &str,
) -> Option<Answer> {
    if let Some(token) = target.strip_prefix(CHALLENGE_PREFIX) {
        if let Some(key_authorization) = challenges.http(token) {
            return Some(Answer::Challenge(key_authorization));
        }
    }
    let host = host?;
    let port = https_port(host)?;
    let target = if target.starts_with('/') { target } else { "/" };
    Some(Answer::Redirect(if port == 443 {
        format!("https://{host}{target}")
    } else {
        format!("https://{host}:{port}{target}")
    }))
}

/// The answer as HTTP/1.1 bytes; `close` adds `Connection: close`.
pub fn http1(answer: &Answer, close: bool) -> Vec<u8> {
    let connection = if close { "Connection: close\r\n" } else { "" };
    match answer {
        Answer::Challenge(key_authorization) => format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{connection}\r\n{key_authorization}",
            key_authorization.len()
        ),
        Answer::Redirect(location) => {
            let body = format!("308 permanent redirect: {location}\n");
            format!(
                "HTTP/1.1 308 Permanent Redirect\r\nLocation: {location}\r\nContent-Type: text/plain; charset=utf-8\r\n\
                 Content-Length: {}\r\n{connection}\r\n{body}",
                body.len()
            )
        }
    }
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_answered_and_tls_domains_redirected() {
        let challenges = Challenges::default();
        challenges.set_http("tok", "tok.thumb");
        let port = |host: &str| (host == "shop.example.com").then_some(8443);
        assert_eq!(
            answer(
                &challenges,
                port,
                Some("other.example"),
                "/.well-known/acme-challenge/tok"
            ),
            Some(Answer::Challenge("tok.thumb".into()))
        );
        assert_eq!(
            answer(&challenges, port, Some("shop.example.com"), "/a?b=c"),
            Some(Answer::Redirect(
                "https://shop.example.com:8443/a?b=c".into()
            ))
        );
        assert_eq!(answer(&challenges, port, Some("other.example"), "/"), None);
        assert_eq!(
            answer(&challenges, |_| Some(443), Some("shop.example.com"), "/"),
            Some(Answer::Redirect("https://shop.example.com/".into()))
        );
    }
}
