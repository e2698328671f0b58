//! The server's state: the history (a small pool of connections), the dashboard's
//! sessions, the operations in flight, and who is asking (tokens and sessions).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, Method};

use super::error::ApiError;
use super::operations::Operations;
use crate::ops::tokens::{self, Permission, Token, Unauthenticated};
use crate::store::Store;

/// How long a dashboard session lasts without being used.
const SESSION_IDLE: Duration = Duration::from_secs(12 * 3600);
/// At most this many sessions are kept; the oldest go first.
const MAX_SESSIONS: usize = 10_000;
/// How long the list of images on the host is reused for `actions`.
const IMAGES_FRESH: Duration = Duration::from_secs(2);
/// Connections to the history kept open, and how many requests work on it at once (the
/// others wait for a permit): more would only open connections that are closed again,
/// each on a thread of its own, and take turns on the same cores.
const POOL: usize = 8;

/// The image ids on the host (`None`: Docker did not answer), and when they were asked.
type ImagesSeen = (Instant, Option<HashSet<String>>);

pub const SESSION_COOKIE: &str = "temps_session";

pub struct App {
    pub db: PathBuf,
    pub tls: bool,
    pool: Mutex<Vec<Store>>,
    /// One per pooled connection, taken by `call` for the time it uses one.
    permits: Arc<tokio::sync::Semaphore>,
    sessions: Mutex<HashMap<String, Session>>,
    images: Arc<Mutex<Option<ImagesSeen>>>,
    images_refreshing: Arc<std::sync::atomic::AtomicBool>,
    pub operations: Operations,
}

/// A signed-in dashboard: the token it was opened with, by name and secret hash.
struct Session {
    token: String,
    secret_hash: String,
    last_used: Instant,
}

/// What a request presents.
enum Credential {
    Bearer(String),
    Session(String),
}

impl App {
    pub fn new(db: PathBuf, tls: bool) -> anyhow::Result<App> {
        // Open (and migrate) once now, so a bad database stops the server at start.
        let store = Store::open(&db)?;
        Ok(App {
            db,
            tls,
            pool: Mutex::new(vec![store]),
            permits: Arc::new(tokio::sync::Semaphore::new(POOL)),
            sessions: Mutex::new(HashMap::new()),
            images: Arc::new(Mutex::new(None)),
            images_refreshing: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            operations: Operations::default(),
        })
    }

    /// A connection to the history, from the pool or new.
    pub fn store(&self) -> anyhow::Result<Store> {
        if let Some(store) = self.pool.lock().expect("pool").pop() {
            return Ok(store);
        }
        Store::open(&self.db)
    }

    fn give_back(&self, store: Store) {
        let mut pool = self.pool.lock().expect("pool");
        if pool.len() < POOL {
            pool.push(store);
        }
    }

    /// Run `f` with a connection to the history on a blocking thread, as the caller
    /// the request authenticates as, if it may do `permission`. At most `POOL` at once,
    /// each with a pooled connection; the others wait for their turn.
    pub async fn call<T: Send + 'static>(
        self: &Arc<Self>,
        headers: &HeaderMap,
        method: &Method,
        permission: Permission,
        f: impl FnOnce(&mut Store, &Token) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.run(headers, method, permission, true, f).await
    }

    /// `call` for work that may wait on Docker while it holds its connection (`status`,
    /// a dry run's validation): it takes no turn, so a slow engine cannot make every
    /// other request wait.
    pub async fn call_engine<T: Send + 'static>(
        self: &Arc<Self>,
        headers: &HeaderMap,
        method: &Method,
        permission: Permission,
        f: impl FnOnce(&mut Store, &Token) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.run(headers, method, permission, false, f).await
    }

    async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        headers: &HeaderMap,
        method: &Method,
        permission: Permission,
        turn: bool,
        f: impl FnOnce(&mut Store, &Token) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let credential = self.credential(headers, method)?;
        let permit = if turn {
            let permit = self.permits.clone().acquire_owned().await;
            Some(permit.map_err(|e| {
                ApiError::from_anyhow(&anyhow::anyhow!("waiting for a connection: {e}"))
            })?)
        } else {
            None
        };
        let app = self.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut store = app.store()?;
            let result = (|| {
                let token = app.authenticate(&store, &credential)?;
                if !token.may(permission) {
                    return Err(ApiError::forbidden(format!(
                        "token `{}` is a {}: it may not {}",
                        token.name,
                        token.role.as_str(),
                        match permission {
                            Permission::Read => "read",
                            Permission::Redeploy => "roll back or promote",
                            Permission::Deploy => "deploy new images",
                            Permission::Admin => "change settings or read variables' values",
                        }
                    ))
                    .hint("ask an admin for a token with that role (`temps token create`)"));
                }
                f(&mut store, &token)
            })();
            app.give_back(store);
            result
        })
        .await;
        match joined {
            Ok(result) => result,
            Err(err) => Err(ApiError::from_anyhow(&anyhow::anyhow!(
                "the request's worker ended: {err}"
            ))),
        }
    }

    /// The bearer token or the session cookie, checked for a same-origin request when a
    /// cookie asks to change something.
    fn credential(&self, headers: &HeaderMap, method: &Method) -> Result<Credential, ApiError> {
        if let Some(value) = headers.get(header::AUTHORIZATION) {
            let text = value.to_str().map_err(|_| ApiError::unauthorized())?;
            let (scheme, secret) = text.split_once(' ').ok_or_else(ApiError::unauthorized)?;
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(ApiError::unauthorized());
            }
            return Ok(Credential::Bearer(secret.trim().to_string()));
        }
        let Some(session) = session_cookie(headers) else {
            return Err(ApiError::unauthorized());
        };
        if !matches!(*method, Method::GET | Method::HEAD) && !self.same_origin(headers) {
            return Err(cross_origin());
        }
        Ok(Credential::Session(session))
    }

    /// `Origin` is this server's own `scheme://host`.
    fn same_origin(&self, headers: &HeaderMap) -> bool {
        let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
        let scheme = if self.tls { "https" } else { "http" };
        match (origin, host) {
            (Some(origin), Some(host)) => origin == format!("{scheme}://{host}"),
            _ => false,
        }
    }

    fn authenticate(&self, store: &Store, credential: &Credential) -> Result<Token, ApiError> {
        match credential {
            Credential::Bearer(secret) => match tokens::authenticate(store, secret)? {
                Ok(token) => Ok(token),
                Err(Unauthenticated::Unknown | Unauthenticated::Expired) => {
                    Err(ApiError::unauthorized())
                }
            },
            Credential::Session(id) => {
                let (name, hash) = {
                    let mut sessions = self.sessions.lock().expect("sessions");
                    let Some(session) = sessions.get_mut(id) else {
                        return Err(ApiError::unauthorized());
                    };
                    if session.last_used.elapsed() > SESSION_IDLE {
                        sessions.remove(id);
                        return Err(ApiError::unauthorized());
                    }
                    session.last_used = Instant::now();
                    (session.token.clone(), session.secret_hash.clone())
                };
                match tokens::session_token(store, &name, &hash)? {
                    Some(token) => Ok(token),
                    None => {
                        self.sessions.lock().expect("sessions").remove(id);
                        Err(ApiError::unauthorized())
                    }
                }
            }
        }
    }

    /// Sign in: a new session for the token whose secret this is.
    pub fn open_session(&self, store: &Store, secret: &str) -> Result<(String, Token), ApiError> {
        let token = match tokens::authenticate(store, secret)? {
            Ok(token) => token,
            Err(_) => return Err(ApiError::unauthorized()),
        };
        let id = tokens::random_string(43)?;
        let mut sessions = self.sessions.lock().expect("sessions");
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
        Ok((id, token))
    }

    /// Sign out: a cookie's DELETE, like every other, must come from the page's origin.
    pub fn close_session(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        if let Some(id) = session_cookie(headers) {
            if !self.same_origin(headers) {
                return Err(cross_origin());
            }
            self.sessions.lock().expect("sessions").remove(&id);
        }
        Ok(())
    }

    /// The `Set-Cookie` value for a session (or its removal).
    pub fn cookie(&self, session: Option<&str>) -> String {
        let secure = if self.tls { "; Secure" } else { "" };
        match session {
            Some(id) => format!("{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/{secure}"),
            None => {
                format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}")
            }
        }
    }

    /// The image ids on the host, for `actions` (which the operation's own validation
    /// checks again): asked of Docker at most every two seconds, in the background once
    /// known, so that no request waits for Docker but the very first (`None` when
    /// Docker does not answer quickly).
    pub async fn images(&self) -> Option<HashSet<String>> {
        use std::sync::atomic::Ordering;
        let known = self.images.lock().expect("images").clone();
        match known {
            Some((at, images)) => {
                if at.elapsed() >= IMAGES_FRESH
                    && !self.images_refreshing.swap(true, Ordering::SeqCst)
                {
                    let (cache, refreshing) = (self.images.clone(), self.images_refreshing.clone());
                    tokio::spawn(async move {
                        let fresh =
                            crate::ops::gate::images_within(crate::ops::gate::ENGINE_BUDGET).await;
                        *cache.lock().expect("images") = Some((Instant::now(), fresh));
                        refreshing.store(false, Ordering::SeqCst);
                    });
                }
                images
            }
            None => {
                let fresh = crate::ops::gate::images_within(crate::ops::gate::ENGINE_BUDGET).await;
                *self.images.lock().expect("images") = Some((Instant::now(), fresh.clone()));
                fresh
            }
        }
    }
}

fn cross_origin() -> ApiError {
    ApiError::forbidden(
        "a request signed in by cookie that changes something must come from the dashboard's own origin",
    )
    .hint("send the request from the dashboard, or with `Authorization: Bearer`")
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}
