//! The API's errors: `{"error":{"code","message","hint"},"deployment":…}`, from the same
//! failures the command line exits with. A [`Code`] names what went wrong; its HTTP
//! status is decided in one place, [`ApiError`]'s `IntoResponse`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::error::{failure_of, ExitStatus};

/// What went wrong, as the error document's `code` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    Busy,
    TooLarge,
    UriTooLong,
    UnsupportedMediaType,
    Refused,
    HeadersTooLarge,
    Internal,
    HealthFailed,
    Unavailable,
    DockerUnreachable,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BadRequest => "bad_request",
            Code::Unauthorized => "unauthorized",
            Code::Forbidden => "forbidden",
            Code::NotFound => "not_found",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::RequestTimeout => "request_timeout",
            Code::Busy => "busy",
            Code::TooLarge => "too_large",
            Code::UriTooLong => "uri_too_long",
            Code::UnsupportedMediaType => "unsupported_media_type",
            Code::Refused => "refused",
            Code::HeadersTooLarge => "headers_too_large",
            Code::Internal => "internal",
            Code::HealthFailed => "health_failed",
            Code::Unavailable => "unavailable",
            Code::DockerUnreachable => "docker_unreachable",
        }
    }

    /// The one status mapping (README, "Routes": the table of codes).
    fn status(self) -> StatusCode {
        match self {
            Code::BadRequest => StatusCode::BAD_REQUEST,
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::Forbidden => StatusCode::FORBIDDEN,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Code::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Code::Busy => StatusCode::CONFLICT,
            Code::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::UriTooLong => StatusCode::URI_TOO_LONG,
            Code::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::Refused => StatusCode::UNPROCESSABLE_ENTITY,
            Code::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Code::HealthFailed => StatusCode::BAD_GATEWAY,
            Code::Unavailable | Code::DockerUnreachable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The code of an answer the HTTP layer made with this status (no route's own).
    pub fn of_status(status: StatusCode) -> Code {
        match status.as_u16() {
            401 => Code::Unauthorized,
            403 => Code::Forbidden,
            404 => Code::NotFound,
            405 => Code::MethodNotAllowed,
            408 => Code::RequestTimeout,
            409 => Code::Busy,
            413 => Code::TooLarge,
            414 => Code::UriTooLong,
            415 => Code::UnsupportedMediaType,
            422 => Code::Refused,
            431 => Code::HeadersTooLarge,
            503 => Code::Unavailable,
            400..=499 => Code::BadRequest,
            _ => Code::Internal,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: Code,
    pub message: String,
    pub hint: Option<String>,
    pub deployment: Option<Value>,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            hint: None,
            deployment: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> ApiError {
        self.hint = Some(hint.into());
        self
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(Code::BadRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(Code::NotFound, message)
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            Code::Unauthorized,
            "a valid token is needed: missing, unknown, revoked or expired",
        )
        .hint(
            "send `Authorization: Bearer tps_…`; `temps token create NAME --role reader` makes one",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(Code::Forbidden, message)
    }

    pub fn too_large() -> ApiError {
        ApiError::new(Code::TooLarge, "the request body is larger than 64 KiB")
            .hint("send less: variables are set a few at a time")
    }

    pub fn unsupported_media_type() -> ApiError {
        ApiError::new(Code::UnsupportedMediaType, "the request body must be JSON")
            .hint("send `Content-Type: application/json`")
    }

    pub fn request_timeout() -> ApiError {
        ApiError::new(
            Code::RequestTimeout,
            "the request body did not arrive in time: 30 s after the head, or 1 KB/s at least",
        )
        .hint("send the whole body at once, right after the head")
    }

    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(Code::Unavailable, message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(Code::Internal, message)
    }

    /// An answer the HTTP layer itself made (a wrong method, a malformed path, a head it
    /// could not read), as an error document; `message` is what it said, if anything.
    pub fn of_layer(status: StatusCode, message: &str) -> ApiError {
        let code = Code::of_status(status);
        let said = message.trim();
        let message = if said.is_empty() {
            match code {
                Code::MethodNotAllowed => "this route does not take that method".to_string(),
                Code::HeadersTooLarge => "the request's head is larger than 64 KiB".to_string(),
                Code::UriTooLong => "the request's path is too long".to_string(),
                _ => format!(
                    "the request could not be read: {}",
                    status.canonical_reason().unwrap_or("bad request")
                ),
            }
        } else {
            crate::text::printable(&said.chars().take(200).collect::<String>()).into_owned()
        };
        ApiError::new(code, message).hint("the routes are listed in the README (HTTP API)")
    }

    /// The error document, as the body of an answer or of an `error` event.
    pub fn body(&self) -> Value {
        json!({
            "error": {"code": self.code.as_str(), "message": self.message, "hint": self.hint},
            "deployment": self.deployment,
        })
    }

    /// The whole answer as bytes on an HTTP/1.1 connection that closes after it, for the
    /// HTTP layer's own answers written below hyper (see `edge`).
    pub fn http1_bytes(&self, extra_headers: &str) -> Vec<u8> {
        let status = self.code.status();
        let body = self.body().to_string();
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra_headers}\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(body.as_bytes());
        out
    }

    /// From an operation's error: its failure's exit status decides the code.
    pub fn from_anyhow(err: &anyhow::Error) -> ApiError {
        let failure = failure_of(err);
        let code = match failure.map(|f| f.status) {
            Some(ExitStatus::Usage) => Code::BadRequest,
            Some(ExitStatus::NotFound) => Code::NotFound,
            Some(ExitStatus::Refused) => Code::Refused,
            Some(ExitStatus::HealthFailed) => Code::HealthFailed,
            Some(ExitStatus::DockerUnreachable) => Code::DockerUnreachable,
            Some(ExitStatus::Busy) => Code::Busy,
            _ => Code::Internal,
        };
        let message = match failure {
            Some(f) => f.message.clone(),
            None => format!("{err:#}"),
        };
        ApiError {
            code,
            message: without_resolver(&message),
            hint: failure
                .and_then(|f| f.hint.as_deref())
                .map(without_resolver),
            deployment: failure.and_then(|f| f.document.clone()),
        }
    }
}

/// `text` without the address of the engine's DNS resolver, which Docker's errors quote
/// (`lookup registry.example on 10.0.0.2:53: no such host`): a client of the API learns
/// that the name did not resolve, not where the host's resolver is.
fn without_resolver(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("lookup ") {
        let (before, after) = rest.split_at(at + "lookup ".len());
        out.push_str(before);
        rest = after;
        // `lookup NAME on SERVER: why`: keep the name, drop ` on SERVER`.
        let name_end = rest.find([' ', ':']).unwrap_or(rest.len());
        out.push_str(&rest[..name_end]);
        rest = &rest[name_end..];
        if let Some(server) = rest.strip_prefix(" on ") {
            if let Some(end) = server.find(": ") {
                if !server[..end].contains(' ') {
                    rest = &server[end..];
                }
            }
        }
    }
    out.push_str(rest);
    out
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> ApiError {
        ApiError::from_anyhow(&err)
    }
}

impl From<crate::error::Failure> for ApiError {
    fn from(failure: crate::error::Failure) -> ApiError {
        ApiError::from_anyhow(&anyhow::Error::new(failure))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        let mut response = (status, axum::Json(self.body())).into_response();
        let headers = response.headers_mut();
        match self.code {
            Code::Unauthorized => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"temps\""),
                );
            }
            // The rest of a body that came too slowly is not waited for.
            Code::RequestTimeout => {
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Code::Unavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resolver_address_is_left_out_and_the_rest_kept() {
        assert_eq!(
            without_resolver(
                "pulling image `r.invalid/x:1`: Get \"https://r.invalid/v2/\": dial tcp: lookup r.invalid on 10.255.255.53:53: no such host"
            ),
            "pulling image `r.invalid/x:1`: Get \"https://r.invalid/v2/\": dial tcp: lookup r.invalid: no such host"
        );
        assert_eq!(
            without_resolver("lookup a on [::1]:53: x; lookup b on 127.0.0.11:53: y"),
            "lookup a: x; lookup b: y"
        );
        for kept in [
            "dial tcp 127.0.0.1:1: connect: connection refused",
            "lookup",
            "a lookup of nothing on the way: fine",
        ] {
            assert_eq!(without_resolver(kept), kept);
        }
    }

    #[test]
    fn every_code_has_its_status_and_name() {
        for (code, status, name) in [
            (Code::BadRequest, 400, "bad_request"),
            (Code::Unauthorized, 401, "unauthorized"),
            (Code::Forbidden, 403, "forbidden"),
            (Code::NotFound, 404, "not_found"),
            (Code::MethodNotAllowed, 405, "method_not_allowed"),
            (Code::RequestTimeout, 408, "request_timeout"),
            (Code::Busy, 409, "busy"),
            (Code::TooLarge, 413, "too_large"),
            (Code::UriTooLong, 414, "uri_too_long"),
            (Code::UnsupportedMediaType, 415, "unsupported_media_type"),
            (Code::Refused, 422, "refused"),
            (Code::HeadersTooLarge, 431, "headers_too_large"),
            (Code::Internal, 500, "internal"),
            (Code::HealthFailed, 502, "health_failed"),
            (Code::Unavailable, 503, "unavailable"),
            (Code::DockerUnreachable, 503, "docker_unreachable"),
        ] {
            assert_eq!(code.status().as_u16(), status, "{name}");
            assert_eq!(code.as_str(), name);
            if !matches!(code, Code::DockerUnreachable | Code::HealthFailed) {
                assert_eq!(Code::of_status(code.status()), code, "{name}");
            }
        }
    }
}
