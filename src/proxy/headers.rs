//! What a proxy changes in the headers it passes on: hop-by-hop headers belong to one
//! connection and are dropped, and the upstream is told who asked (`X-Forwarded-*`).
//! Which names are which is shared; the rewriting of an HTTP/2 request's `HeaderMap` is
//! here, HTTP/1.1's byte-level one in [`super::h1`].

use std::net::IpAddr;

use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};

pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Headers that describe one connection, never passed on (RFC 9110 §7.6.1, and the
/// common non-standard ones). `Transfer-Encoding` is not among them: HTTP/1.1 bodies pass
/// through still encoded, so their coding goes on with them; HTTP/2 drops it.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
];

pub fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.iter().any(|h| name.eq_ignore_ascii_case(h))
}

pub fn is_forwarding(name: &str) -> bool {
    [&X_FORWARDED_FOR, &X_FORWARDED_PROTO, &X_FORWARDED_HOST]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h.as_str()))
}

/// Whether a header `Connection` names may be dropped as hop-by-hop, on either path. Not
/// the ones that frame a message or name its host (the framing was read from them, and
/// the next hop has to read the same), nor the ones the proxy sets itself.
pub fn connection_may_drop(name: &str) -> bool {
    !["content-length", "transfer-encoding", "host"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
        && !is_forwarding(name)
}

/// A name with `_` standing for `-` that spells a header the proxy sets, frames by or
/// drops (`X_Forwarded_For`): apps that read headers CGI-style cannot tell the two apart,
/// so the client could pass off its own value as the proxy's.
pub fn is_underscore_alias(name: &str) -> bool {
    if !name.contains('_') {
        return false;
    }
    let dashed = name.replace('_', "-");
    is_hop_by_hop(&dashed)
        || is_forwarding(&dashed)
        || dashed.eq_ignore_ascii_case("content-length")
        || dashed.eq_ignore_ascii_case("transfer-encoding")
}

/// Whether a `Host` value, an `:authority` or an absolute-form target's authority names
/// one host: `host[:port]`, where the host is a name of letters, digits, `-`, `.`, `_`
/// and `~` (an IPv4 address is one) or a bracketed IPv6 address, and the port is digits.
/// Anything else (spaces, `/`, `,`, `@`, `?`, `#`, percent-encoding, no name at all) is
/// refused: the proxy routes by the host, and an app, a cache or a log that reads such a
/// value another way would see another host than the one routed by.
pub fn is_valid_host(value: &[u8]) -> bool {
    let (host_ok, port) = match value.strip_prefix(b"[") {
        Some(literal) => match literal.iter().position(|b| *b == b']') {
            Some(end) => (
                std::str::from_utf8(&literal[..end])
                    .is_ok_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok()),
                &literal[end + 1..],
            ),
            None => return false,
        },
        None => {
            let end = value.iter().position(|b| *b == b':').unwrap_or(value.len());
            let name = &value[..end];
            (
                !name.is_empty()
                    && name.iter().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
                    }),
                &value[end..],
            )
        }
    };
    host_ok
        && match port.split_first() {
            None => true,
            Some((b':', digits)) => digits.len() <= 5 && digits.iter().all(u8::is_ascii_digit),
            Some(_) => false,
        }
}

/// Whether a request method is passed on: upper-case letters, `-` and `_`, as nginx
/// accepts. Methods are case-sensitive (RFC 9110 §9.1), so `head` is not `HEAD`; but an
/// app that compares them without case answers it as `HEAD`, without a body, while the
/// proxy waits for that body. A method in any other case is refused (400), as nginx does.
pub fn is_valid_method(method: &[u8]) -> bool {
    !method.is_empty()
        && method
            .iter()
            .all(|b| b.is_ascii_uppercase() || matches!(b, b'-' | b'_'))
}

/// The body length that `Content-Length` values give, over all of a message's headers
/// of that name: None when there is none; `Err` when one is not a number or two disagree.
/// A list of equal values (`5, 5`) or equal headers is one value, and goes on as one.
#[allow(clippy::result_unit_err)]
pub fn content_length<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Result<Option<u64>, ()> {
    let mut length = None;
    for value in values {
        for value in value.split(|b| *b == b',').map(<[u8]>::trim_ascii) {
            if value.is_empty() || value.len() > 18 || !value.iter().all(u8::is_ascii_digit) {
                return Err(());
            }
            let n = value.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
            if length.is_some_and(|l| l != n) {
                return Err(());
            }
            length = Some(n);
        }
    }
    Ok(length)
}

/// Drop the hop-by-hop headers and the ones `Connection` names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most requests have no Connection header at all (HTTP/1.1 keeps alive by default,
    // HTTP/2 has none): skip collecting names then.
    if headers.contains_key(header::CONNECTION) {
        let named: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
            .filter(|name| {
                !matches!(name.as_str(), "keep-alive" | "close" | "upgrade")
                    && connection_may_drop(name.as_str())
            })
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(header::TRANSFER_ENCODING);
}

/// Drop the request headers that spell one the proxy sets or drops with `_` for `-`
/// (`x_forwarded_for`): apps that read headers CGI-style cannot tell the two apart.
pub fn drop_underscore_aliases(headers: &mut HeaderMap) {
    let aliases: Vec<HeaderName> = headers
        .keys()
        .filter(|name| is_underscore_alias(name.as_str()))
        .cloned()
        .collect();
    for name in aliases {
        headers.remove(name);
    }
}

/// Tell the upstream who asked: append the client's address to `X-Forwarded-For`, set
/// `X-Forwarded-Proto` (`https` over TLS, else `http`) and `X-Forwarded-Host` to the
/// host the client asked for (removed when there was none, so a client cannot make one
/// up).
pub fn add_forwarding(
    headers: &mut HeaderMap,
    client: IpAddr,
    host: Option<HeaderValue>,
    https: bool,
) {
    let client = client.to_canonical().to_string();
    let mut earlier = headers.get_all(&X_FORWARDED_FOR).iter().peekable();
    let forwarded_for = if earlier.peek().is_none() {
        HeaderValue::from_str(&client)
    } else {
        let mut list = Vec::new();
        for value in earlier {
            list.extend_from_slice(value.as_bytes());
            list.extend_from_slice(b", ");
        }
        list.extend_from_slice(client.as_bytes());
        HeaderValue::from_bytes(&list)
    };
    if let Ok(value) = forwarded_for {
        headers.insert(&X_FORWARDED_FOR, value);
    }
    headers.insert(
        &X_FORWARDED_PROTO,
        HeaderValue::from_static(if https { "https" } else { "http" }),
    );
    match host {
        Some(host) => headers.insert(&X_FORWARDED_HOST, host),
        None => headers.remove(&X_FORWARDED_HOST),
    };
}

/// The host a request names, as domains are matched: lower case, without the port or a
/// final dot. `None` for a host that cannot be a domain (an IP literal in brackets, say).
pub fn request_host(host: &[u8]) -> Option<String> {
    let host = std::str::from_utf8(host).ok()?.trim();
    if host.starts_with('[') {
        return None;
    }
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    Some(name.trim_end_matches('.').to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn names(map: &HeaderMap) -> Vec<&str> {
        let mut names: Vec<_> = map.keys().map(|k| k.as_str()).collect();
        names.sort();
        names
    }

    #[test]
    fn a_host_is_one_name_or_address_and_a_port() {
        for good in [
            "shop.example",
            "shop.example:8080",
            "shop.example:",
            "127.0.0.1:80",
            "[::1]",
            "[2001:db8::1]:443",
            "my_host.example.",
            "a~b-c",
        ] {
            assert!(is_valid_host(good.as_bytes()), "{good}");
        }
        for bad in [
            "",
            ":80",
            "good.example evil.example",
            "good.example/evil",
            "good.example,evil.example",
            "user@good.example",
            "good.example?",
            "good.example#",
            "good%2eexample",
            "good.example:80x",
            "good.example:123456",
            "[::1",
            "[::1]x",
            "[evil]",
            "good.example\t",
        ] {
            assert!(!is_valid_host(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn methods_are_upper_case_tokens() {
        for good in ["GET", "HEAD", "PROPFIND", "M-SEARCH", "X_CUSTOM"] {
            assert!(is_valid_method(good.as_bytes()), "{good}");
        }
        for bad in ["", "head", "Get", "hEAD", "GET1", "GE T"] {
            assert!(!is_valid_method(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn equal_lengths_are_one_length() {
        let length = |values: &[&str]| content_length(values.iter().map(|v| v.as_bytes()));
        assert_eq!(length(&[]), Ok(None));
        assert_eq!(length(&["5"]), Ok(Some(5)));
        assert_eq!(length(&["5, 5"]), Ok(Some(5)));
        assert_eq!(length(&["5", " 5 "]), Ok(Some(5)));
        assert_eq!(length(&["5", "6"]), Err(()));
        assert_eq!(length(&["5,"]), Err(()));
        assert_eq!(length(&["+5"]), Err(()));
    }

    #[test]
    fn hop_by_hop_headers_are_dropped() {
        let mut map = headers(&[
            ("host", "example.com"),
            ("connection", "keep-alive, X-Trace"),
            ("keep-alive", "timeout=5"),
            ("x-trace", "1"),
            ("te", "trailers"),
            ("transfer-encoding", "chunked"),
            ("proxy-authorization", "Basic eA=="),
            ("upgrade", "websocket"),
            ("accept", "*/*"),
        ]);
        strip_hop_by_hop(&mut map);
        assert_eq!(names(&map), ["accept", "host"]);
    }

    #[test]
    fn underscore_aliases_of_the_proxy_headers_are_dropped() {
        let mut map = headers(&[
            ("x_forwarded_for", "203.0.113.66"),
            ("x_forwarded_proto", "https"),
            ("content_length", "5"),
            ("x_request_id", "7"),
        ]);
        drop_underscore_aliases(&mut map);
        assert_eq!(names(&map), ["x_request_id"]);
    }

    #[test]
    fn connection_cannot_remove_the_forwarding_headers() {
        let mut map = headers(&[
            ("connection", "x-forwarded-for"),
            ("x-forwarded-for", "10.0.0.1"),
        ]);
        strip_hop_by_hop(&mut map);
        assert_eq!(map["x-forwarded-for"], "10.0.0.1");
    }

    #[test]
    fn connection_cannot_remove_the_framing_or_the_host() {
        let mut map = headers(&[
            ("connection", "content-length, host, x-trace"),
            ("content-length", "5"),
            ("host", "shop.example"),
            ("x-trace", "1"),
        ]);
        strip_hop_by_hop(&mut map);
        assert_eq!(names(&map), ["content-length", "host"]);
    }

    #[test]
    fn forwarding_headers_name_the_client_and_the_host() {
        let mut map = headers(&[("x-forwarded-host", "evil.example")]);
        add_forwarding(
            &mut map,
            "192.0.2.7".parse().unwrap(),
            Some(HeaderValue::from_static("shop.example:8080")),
            false,
        );
        assert_eq!(map["x-forwarded-for"], "192.0.2.7");
        assert_eq!(map["x-forwarded-proto"], "http");
        assert_eq!(map["x-forwarded-host"], "shop.example:8080");

        let mut map = headers(&[
            ("x-forwarded-for", "203.0.113.1"),
            ("x-forwarded-for", "10.0.0.2"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.example"),
        ]);
        add_forwarding(&mut map, "::ffff:192.0.2.7".parse().unwrap(), None, false);
        assert_eq!(map["x-forwarded-for"], "203.0.113.1, 10.0.0.2, 192.0.2.7");
        assert_eq!(map.get_all("x-forwarded-for").iter().count(), 1);
        assert_eq!(map["x-forwarded-proto"], "http");
        add_forwarding(&mut map, "192.0.2.7".parse().unwrap(), None, true);
        assert_eq!(map["x-forwarded-proto"], "https");
        assert!(!map.contains_key("x-forwarded-host"));
    }

    #[test]
    fn request_hosts_lose_their_port_and_case() {
        assert_eq!(
            request_host(b"Shop.Example.com:8080").as_deref(),
            Some("shop.example.com")
        );
        assert_eq!(
            request_host(b"shop.example.com.").as_deref(),
            Some("shop.example.com")
        );
        assert_eq!(request_host(b"[::1]:80"), None);
    }
}
