//! The dashboard's sessions: a random id in an `HttpOnly`, `SameSite=Strict` cookie
//! (`__Host-` and `Secure` under TLS) for a token that signed in, and the same-origin
//! check every cookie request that changes something must pass.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName};

use super::error::ApiError;
use crate::ops::access::tokens::{self, Token};
use crate::store::Store;

/// How long a dashboard session lasts without being used.
const SESSION_IDLE: Duration = Duration::from_secs(12 * 3600);
/// At most this many sessions are kept; the oldest go first.
const MAX_SESSIONS: usize = 10_000;

/// The session cookie's name: under TLS with the `__Host-` prefix, which a browser
/// keeps only when it is `Secure`, for `Path=/` and set by this very host.
fn cookie_name(tls: bool) -> &'static str {
    if tls {
        "__Host-temps_session"
    } else {
        "temps_session"
    }
}

/// Which kind of presented secret failed, for the log.
#[derive(Debug, Clone, Copy)]
pub enum Failed {
    Token,
    Session,
    SignIn,
}

/// The server's dashboard sessions, and what their cookie and same-origin check depend
/// on: whether it serves TLS, and `--public-url`'s origin.
pub struct Sessions {
    pub tls: bool,
    /// `--public-url`'s origin (`https://temps.example.com`), which a cookie request
    /// that changes something must come from; `None`: the request's own authority.
    pub public_origin: Option<String>,
    open: Mutex<HashMap<String, Session>>,
}

/// A signed-in dashboard: the token it was opened with, by name and secret hash.
struct Session {
    token: String,
    secret_hash: String,
    last_used: Instant,
}

impl Sessions {
    pub fn new(tls: bool, public_origin: Option<String>) -> Sessions {
        Sessions {
            tls,
            public_origin,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// The live token of session `id`, if it is one and has not ended (its token
    /// revoked, expired or made again ends it too).
    pub fn session_token(&self, store: &Store, id: &str) -> Result<Option<Token>, ApiError> {
        let (name, hash) = {
            let mut sessions = self.open.lock().expect("sessions");
            let Some(session) = sessions.get_mut(id) else {
                return Ok(None);
            };
            if session.last_used.elapsed() > SESSION_IDLE {
                sessions.remove(id);
                return Ok(None);
            }
            session.last_used = Instant::now();
            (session.token.clone(), session.secret_hash.clone())
        };
        let token = tokens::session_token(store, &name, &hash)?;
        if token.is_none() {
            self.open.lock().expect("sessions").remove(id);
        }
        Ok(token)
    }

    /// Sign in: a new session for the token whose secret this is (`Err(None)`: the
    /// secret does not authenticate).
    pub fn open_session(
        &self,
        store: &Store,
        secret: &str,
    ) -> Result<Result<(String, Token), Failed>, ApiError> {
        let token = match tokens::authenticate(store, secret)? {
            Ok(token) => token,
            Err(_) => return Ok(Err(Failed::SignIn)),
        };
        let id = tokens::random_string(43)?;
        let mut sessions = self.open.lock().expect("sessions");
        sessions.retain(|_, s| s.last_used.elapsed() <= SESSION_IDLE);
        if sessions.len() >= MAX_SESSIONS {
            if let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| k.clone())
            {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(
            id.clone(),
            Session {
                token: token.name.clone(),
                secret_hash: token.secret_hash.clone(),
                last_used: Instant::now(),
            },
        );
        Ok(Ok((id, token)))
    }

    /// Sign out: a cookie's DELETE, like every other, must come from the page's origin.
    pub fn close_session(&self, parts: &Parts) -> Result<(), ApiError> {
        if let Some(id) = session_cookie(&parts.headers, self.tls) {
            if !same_origin(parts, self) {
                return Err(cross_origin());
            }
            self.open.lock().expect("sessions").remove(&id);
        }
        Ok(())
    }

    /// The `Set-Cookie` value for a session (or its removal).
    pub fn cookie(&self, session: Option<&str>) -> String {
        let name = cookie_name(self.tls);
        let secure = if self.tls { "; Secure" } else { "" };
        match session {
            Some(id) => format!("{name}={id}; HttpOnly; SameSite=Strict; Path=/{secure}"),
            None => format!("{name}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}"),
        }
    }
}

/// `Origin` is the dashboard's own: `--public-url`'s origin when given, else this
/// server's scheme and the authority the request was sent to (HTTP/2's `:authority`,
/// HTTP/1.1's one `Host`).
pub(super) fn same_origin(parts: &Parts, app: &Sessions) -> bool {
    let Some(origin) = only(&parts.headers, header::ORIGIN) else {
        return false;
    };
    let expected = match &app.public_origin {
        Some(public) => public.clone(),
        None => {
            let authority = match parts.uri.authority() {
                Some(authority) => authority.as_str(),
                None => match only(&parts.headers, header::HOST) {
                    Some(host) => host,
                    None => return false,
                },
            };
            format!("{}://{authority}", if app.tls { "https" } else { "http" })
        }
    };
    matches!((origin_key(origin), origin_key(&expected)), (Some(a), Some(b)) if a == b)
}

/// The value of the one header `name`, if there is exactly one and it is text.
fn only(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    value.to_str().ok()
}

/// An origin to compare: `scheme://host[:port]` in lower case, without the scheme's
/// default port; `None` when it is not one.
pub fn origin_key(origin: &str) -> Option<String> {
    let origin = origin.trim().to_ascii_lowercase();
    let (scheme, authority) = origin.split_once("://")?;
    let default = match scheme {
        "https" => ":443",
        "http" => ":80",
        _ => return None,
    };
    if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
        return None;
    }
    let authority = authority.strip_suffix(default).unwrap_or(authority);
    Some(format!("{scheme}://{authority}"))
}

pub(super) fn cross_origin() -> ApiError {
    ApiError::forbidden(
        "a request signed in by cookie that changes something must come from the dashboard's own origin",
    )
    .hint("send the request from the dashboard, or with `Authorization: Bearer`")
}

pub(super) fn session_cookie(headers: &HeaderMap, tls: bool) -> Option<String> {
    let name = cookie_name(tls);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_without_case_or_the_default_port() {
        assert_eq!(
            origin_key("https://Temps.Example.com:443").as_deref(),
            Some("https://temps.example.com")
        );
        assert_eq!(
            origin_key("http://127.0.0.1:80"),
            origin_key("http://127.0.0.1")
        );
        assert_ne!(
            origin_key("http://127.0.0.1:8080"),
            origin_key("http://127.0.0.1")
        );
        assert_ne!(
            origin_key("https://a.example"),
            origin_key("http://a.example")
        );
        for bad in [
            "null",
            "",
            "a.example",
            "ftp://a.example",
            "https://a.example/x",
            "https://u@a.example",
        ] {
            assert_eq!(origin_key(bad), None, "{bad}");
        }
    }
}
