//! What every answer of `temps serve` carries, and the answers the HTTP layer makes by
//! itself, as error documents like every route's.
//!
//! - [`finish`], a middleware around the router: `Cache-Control: no-store` and
//!   `X-Content-Type-Options: nosniff` on every answer, HSTS on every answer under TLS,
//!   CONNECT refused (no tunnels here), and axum's own answers (a wrong method, a path
//!   it could not decode) turned into the error document.
//! - [`LayerErrors`], below hyper: on HTTP/1.1 hyper answers a head it cannot read (400,
//!   414, 431) itself, with an empty body, before any service runs. The connection's
//!   writes are watched for exactly those answers, which are replaced by the same status
//!   with the error document (the connection closes after it, as hyper meant).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::app::App;
use super::error::{ApiError, Code};

/// `Strict-Transport-Security` under TLS: a year, as browsers' preload lists ask.
pub const HSTS: &str = "max-age=31536000";

/// Around every route: the headers every answer carries, and the HTTP layer's answers as
/// error documents.
pub async fn finish(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let mut response = if request.method() == Method::CONNECT {
        ApiError::new(
            Code::MethodNotAllowed,
            "CONNECT is not served: temps serve makes no tunnels",
        )
        .hint("the routes are listed in the README (HTTP API)")
        .into_response()
    } else {
        let response = next.run(request).await;
        as_error_document(response).await
    };
    every_answers_headers(response.headers_mut(), app.tls);
    response
}

/// What every answer carries (the API's by the spec, the page's and the HTTP layer's
/// alike): not to be cached nor sniffed, and under TLS to come back over HTTPS only.
pub fn every_answers_headers(headers: &mut HeaderMap, tls: bool) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if tls {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
}

/// An error answer that is not an error document (axum's 405, a path rejection) as one,
/// keeping its headers (`Allow`).
async fn as_error_document(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if status.as_u16() < 400 || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let said = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let error = ApiError::of_layer(status, &String::from_utf8_lossy(&said));
    let mut answer = error.into_response();
    for (name, value) in &parts.headers {
        if !matches!(*name, header::CONTENT_TYPE | header::CONTENT_LENGTH) {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    answer
}

/// A connection's I/O, with hyper's own HTTP/1.1 error answers replaced by error
/// documents (see the module's comment).
pub struct LayerErrors<I> {
    inner: I,
    tls: bool,
    /// The answer written instead of one of hyper's: its bytes, how many are out, and
    /// the length of what hyper asked to write.
    replacing: Option<(Vec<u8>, usize, usize)>,
}

impl<I> LayerErrors<I> {
    pub fn new(inner: I, tls: bool) -> LayerErrors<I> {
        LayerErrors {
            inner,
            tls,
            replacing: None,
        }
    }

    /// The error document for `written` when it is one of hyper's own answers: a status
    /// line of 400, 414 or 431, an empty body, no content type.
    fn replacement(&self, written: &[u8]) -> Option<Vec<u8>> {
        let status = match written.get(..13)? {
            b"HTTP/1.1 400 " => StatusCode::BAD_REQUEST,
            b"HTTP/1.1 414 " => StatusCode::URI_TOO_LONG,
            b"HTTP/1.1 431 " => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            _ => return None,
        };
        let head = std::str::from_utf8(written).ok()?;
        let head = head.strip_suffix("\r\n\r\n")?;
        let lines: Vec<&str> = head.split("\r\n").skip(1).collect();
        let theirs = lines.contains(&"content-length: 0")
            && lines.contains(&"connection: close")
            && !lines.iter().any(|l| l.starts_with("content-type:"));
        if !theirs {
            return None;
        }
        let mut extra =
            String::from("cache-control: no-store\r\nx-content-type-options: nosniff\r\n");
        if self.tls {
            extra.push_str(&format!("strict-transport-security: {HSTS}\r\n"));
        }
        Some(ApiError::of_layer(status, "").http1_bytes(&extra))
    }
}

impl<I: hyper::rt::Read + Unpin> hyper::rt::Read for LayerErrors<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<I: hyper::rt::Write + Unpin> hyper::rt::Write for LayerErrors<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if this.replacing.is_none() {
            match this.replacement(buf) {
                Some(bytes) => this.replacing = Some((bytes, 0, buf.len())),
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            }
        }
        // hyper asks again with the same bytes until they are all written.
        while let Some((bytes, out, _)) = &mut this.replacing {
            if *out == bytes.len() {
                break;
            }
            let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &bytes[*out..]))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            *out += n;
        }
        let (_, _, theirs) = this.replacing.take().unwrap_or_default();
        Poll::Ready(Ok(theirs))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let first = bufs.iter().find(|b| !b.is_empty());
        let ours = this.replacing.is_some() || first.is_some_and(|b| this.replacement(b).is_some());
        match (ours, first) {
            (true, Some(first)) => Pin::new(this).poll_write(cx, first),
            _ => Pin::new(&mut this.inner).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_own_empty_answers_are_replaced() {
        let io = LayerErrors::new((), true);
        let hypers =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: Mon, 07 Dec 2026 21:12:07 GMT\r\n\r\n";
        let replaced = String::from_utf8(io.replacement(hypers).expect("replaced")).unwrap();
        assert!(replaced.starts_with("HTTP/1.1 431 "), "{replaced}");
        assert!(
            replaced.contains("\"code\":\"headers_too_large\""),
            "{replaced}"
        );
        assert!(replaced.contains("strict-transport-security: max-age=31536000\r\n"));
        let (head, body) = replaced.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );

        let bad = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        assert!(io.replacement(bad).is_some());
        // A route's own answers are documents already.
        for ours in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n{}",
        ] {
            assert!(io.replacement(ours).is_none(), "{}", String::from_utf8_lossy(ours));
        }
    }
}
