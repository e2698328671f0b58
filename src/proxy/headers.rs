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
                    && !is_forwarding(name.as_str())
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
/// `X-Forwarded-Proto: http` and `X-Forwarded-Host` to the host the client asked for
/// (removed when there was none, so a client cannot make one up).
pub fn add_forwarding(headers: &mut HeaderMap, client: IpAddr, host: Option<HeaderValue>) {
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
    headers.insert(&X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    match host {
        Some(host) => headers.insert(&X_FORWARDED_HOST, host),
        None => headers.remove(&X_FORWARDED_HOST),
    };
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
    fn forwarding_headers_name_the_client_and_the_host() {
        let mut map = headers(&[("x-forwarded-host", "evil.example")]);
        add_forwarding(
            &mut map,
            "192.0.2.7".parse().unwrap(),
            Some(HeaderValue::from_static("shop.example:8080")),
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
        add_forwarding(&mut map, "::ffff:192.0.2.7".parse().unwrap(), None);
        assert_eq!(map["x-forwarded-for"], "203.0.113.1, 10.0.0.2, 192.0.2.7");
        assert_eq!(map.get_all("x-forwarded-for").iter().count(), 1);
        assert_eq!(map["x-forwarded-proto"], "http");
        assert!(!map.contains_key("x-forwarded-host"));
    }
}
