//! A request's query and body, as typed extractors: only the names a route knows, each
//! once; a body of at most 64 KiB that says it is JSON and arrives in time. Both run
//! after the token is checked (their place in a handler's arguments: after `auth`'s).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use http_body_util::BodyExt;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};

use super::app::App;
use super::error::ApiError;
use super::Arrival;

/// The largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;
/// A body must arrive within this of its head...
pub const BODY_TIME: Duration = Duration::from_secs(30);
/// ...or at least this fast (bytes a second), whichever allows longer.
pub const BODY_RATE: u64 = 1024;

/// A route's query, with no unknown or repeated names (400 otherwise).
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| Params(q.0))
            .map_err(|rejection| {
                ApiError::bad_request(rejection.body_text())
                    .hint("see the README (HTTP API) for each route's query parameters")
            })
    }
}

/// The query of a route that takes none.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoQuery {}

/// `?name=true|false|1|0` (a bare `?name` is true).
#[derive(Debug, Default, Clone, Copy)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Flag, D::Error> {
        let text = String::deserialize(d)?;
        match text.as_str() {
            "" | "true" | "1" => Ok(Flag(true)),
            "false" | "0" => Ok(Flag(false)),
            other => Err(D::Error::custom(format!(
                "`{}` is not true or false",
                other.chars().take(40).collect::<String>()
            ))),
        }
    }
}

/// `?watch=5m`: a duration like `30s` or `5m` (`0s` for none).
#[derive(Debug, Clone, Copy)]
pub struct Window(pub Duration);

impl<'de> Deserialize<'de> for Window {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Window, D::Error> {
        let text = String::deserialize(d)?;
        crate::clock::parse_duration(&text)
            .map(Window)
            .map_err(|why| {
                D::Error::custom(format!(
                    "watch: {}",
                    why.chars().take(120).collect::<String>()
                ))
            })
    }
}

/// A JSON body of type `T`.
pub struct JsonBody<T>(pub T);

/// A body type, and what its parse error may say (a variable's value must never be
/// echoed back).
pub trait Document: DeserializeOwned {
    fn malformed(err: serde_json::Error) -> ApiError {
        ApiError::bad_request(format!("the body is not the JSON this route takes: {err}"))
            .hint("see the README (HTTP API) for each route's fields")
    }
}

impl<T: Document> FromRequest<Arc<App>> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &Arc<App>) -> Result<Self, ApiError> {
        let bytes = read_body(request).await?;
        // Every route's body is one object: serde would also take its fields as an array.
        if bytes.trim_ascii_start().first() != Some(&b'{') {
            return Err(ApiError::bad_request("the body must be one JSON object")
                .hint("see the README (HTTP API) for each route's fields"));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(T::malformed)
    }
}

/// The body, at most 64 KiB, within 30 s of the head or at 1 KB/s at least (else 408
/// and the connection closes); an empty body is `{}`. A body must say it is JSON.
async fn read_body(request: Request) -> Result<Vec<u8>, ApiError> {
    let arrived = Arrival::of_request(&request).at;
    let (parts, mut body) = request.into_parts();
    if declared_length(&parts.headers).is_some_and(|n| n > MAX_BODY as u64) {
        return Err(ApiError::too_large());
    }
    let mut bytes = Vec::new();
    loop {
        let allowed = BODY_TIME.max(Duration::from_secs(bytes.len() as u64 / BODY_RATE));
        let deadline = tokio::time::Instant::from_std(arrived + allowed);
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return Err(ApiError::request_timeout()),
            Ok(None) => break,
            Ok(Some(Err(_))) => {
                return Err(ApiError::bad_request("the request body could not be read")
                    .hint("send the body whole, as its length or chunks announce it"))
            }
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > MAX_BODY {
                return Err(ApiError::too_large());
            }
            bytes.extend_from_slice(&data);
        }
    }
    if bytes.is_empty() {
        return Ok(b"{}".to_vec());
    }
    let json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(ApiError::unsupported_media_type());
    }
    Ok(bytes)
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Waits {
        wait: Option<Flag>,
    }

    fn parse(query: &str) -> Result<bool, ApiError> {
        let uri: axum::http::Uri = format!("/x?{query}").parse().unwrap();
        axum::extract::Query::<Waits>::try_from_uri(&uri)
            .map(|q| q.0.wait.unwrap_or_default().0)
            .map_err(|r| ApiError::bad_request(r.body_text()))
    }

    #[test]
    fn queries_take_only_known_names_once() {
        assert!(parse("wait=true").unwrap());
        assert!(parse("wait").unwrap());
        assert!(!parse("").unwrap());
        assert!(!parse("wait=0").unwrap());
        assert!(parse("wat=1").is_err());
        assert!(parse("wait=1&wait=0").is_err());
        let maybe = parse("wait=maybe").unwrap_err();
        assert!(
            maybe.message.contains("`maybe` is not true or false"),
            "{}",
            maybe.message
        );
    }
}
