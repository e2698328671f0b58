//! The API's errors: `{"error":{"code","message","hint"},"deployment":…}` with the
//! status of the spec's table, from the same failures the command line exits with.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::error::{failure_of, ExitStatus};

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub hint: Option<String>,
    pub deployment: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
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
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid token is needed: missing, unknown, revoked or expired",
        )
        .hint(
            "send `Authorization: Bearer tps_…`; `temps token create NAME --role reader` makes one",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn too_large() -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the request body is larger than 64 KiB",
        )
        .hint("send less: variables are set a few at a time")
    }

    pub fn unsupported_media_type() -> ApiError {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the request body must be JSON",
        )
        .hint("send `Content-Type: application/json`")
    }

    /// The error document, as the body of an answer or of an `error` event.
    pub fn body(&self) -> Value {
        json!({
            "error": {"code": self.code, "message": self.message, "hint": self.hint},
            "deployment": self.deployment,
        })
    }

    /// From an operation's error: its failure's exit status decides the code.
    pub fn from_anyhow(err: &anyhow::Error) -> ApiError {
        let failure = failure_of(err);
        let (status, code) = match failure.map(|f| f.status) {
            Some(ExitStatus::Usage) => (StatusCode::BAD_REQUEST, "bad_request"),
            Some(ExitStatus::NotFound) => (StatusCode::NOT_FOUND, "not_found"),
            Some(ExitStatus::Refused) => (StatusCode::UNPROCESSABLE_ENTITY, "refused"),
            Some(ExitStatus::HealthFailed) => (StatusCode::BAD_GATEWAY, "health_failed"),
            Some(ExitStatus::DockerUnreachable) => {
                (StatusCode::SERVICE_UNAVAILABLE, "docker_unreachable")
            }
            Some(ExitStatus::Busy) => (StatusCode::CONFLICT, "busy"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let message = match failure {
            Some(f) => f.message.clone(),
            None => format!("{err:#}"),
        };
        ApiError {
            status,
            code,
            message,
            hint: failure.and_then(|f| f.hint.clone()),
            deployment: failure.and_then(|f| f.document.clone()),
        }
    }
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
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"temps\""),
            );
        }
        response
    }
}
