//! The dashboard: one self-contained page (HTML, CSS and one script, no build step)
//! and the Content-Security-Policy that lets only its own inline scripts run.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

const DASHBOARD: &str = include_str!("dashboard.html");

/// The page's Content-Security-Policy: only its own inline scripts (by hash) run, and
/// it talks only to this server.
fn dashboard_policy() -> &'static HeaderValue {
    static POLICY: std::sync::OnceLock<HeaderValue> = std::sync::OnceLock::new();
    POLICY.get_or_init(|| {
        let scripts: Vec<String> = inline_scripts(DASHBOARD)
            .map(|script| format!("'sha256-{}'", base64(&Sha256::digest(script.as_bytes()))))
            .collect();
        let policy = format!(
            "default-src 'none'; script-src {}; style-src 'unsafe-inline'; connect-src 'self'; \
             img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
            if scripts.is_empty() {
                "'none'".to_string()
            } else {
                scripts.join(" ")
            }
        );
        HeaderValue::from_str(&policy).expect("policy")
    })
}

/// The text of each `<script>…</script>` of a page.
fn inline_scripts(page: &str) -> impl Iterator<Item = &str> {
    page.split("<script").skip(1).filter_map(|rest| {
        let body = &rest[rest.find('>')? + 1..];
        Some(&body[..body.find("</script>")?])
    })
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `GET /`: the page, with its policy and the headers that keep it to itself.
pub async fn page() -> Response {
    let mut response = (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        DASHBOARD,
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, dashboard_policy().clone());
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_encodes_with_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn the_policy_lets_the_pages_own_scripts_run_and_no_other() {
        let page = "<p>x</p><script>one()</script><script type=\"module\">two()</script>";
        let scripts: Vec<_> = inline_scripts(page).collect();
        assert_eq!(scripts, ["one()", "two()"]);
        let policy = dashboard_policy().to_str().unwrap().to_string();
        for script in inline_scripts(DASHBOARD) {
            let hash = base64(&Sha256::digest(script.as_bytes()));
            assert!(policy.contains(&hash), "{policy}");
        }
        assert!(!policy.contains("script-src 'unsafe-inline'"), "{policy}");
    }
}
