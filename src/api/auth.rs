//! Who a request is, and what it may see: a bearer token or a dashboard session,
//! checked on the request's head before anything else of it is read or judged (its
//! body, its query, the values in its path).
//!
//! The extractors, each with the permission `N` the route needs (403 without it):
//! [`Caller`] (the token), [`InProject`] (and the project `{project}` names),
//! [`InDeployment`] (and its deployment `{id}`), [`InEnvironment`] (and its
//! environment `{env}`). Each authenticates and looks up what the path names in one
//! turn on the history; what the token does not see answers exactly as what does not
//! exist (404). axum runs them before a route's query and body extractors.

use std::marker::PhantomData;
use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};

use super::app::App;
use super::error::ApiError;
pub use super::sessions::Failed;
use super::sessions::{cross_origin, same_origin, session_cookie};
use super::Arrival;
use crate::error::check_name;
use crate::ops::access::tokens::{self, Permission, Token};
use crate::ops::redeploy;
use crate::store::{project_not_found, Deployment, Project, Store};

/// The permission a route needs, as a type: `Caller<Redeploy>`.
pub trait Need: Send + Sync + 'static {
    const PERMISSION: Permission;
}

/// Read projects, deployments, status, progress events.
pub struct Read;
/// Roll back and promote.
pub struct Redeploy;
/// Deploy a new image.
pub struct Deploy;
/// Variables' values, set and unset.
pub struct Admin;

impl Need for Read {
    const PERMISSION: Permission = Permission::Read;
}
impl Need for Redeploy {
    const PERMISSION: Permission = Permission::Redeploy;
}
impl Need for Deploy {
    const PERMISSION: Permission = Permission::Deploy;
}
impl Need for Admin {
    const PERMISSION: Permission = Permission::Admin;
}

/// The token a request authenticates as, which may do `N`.
pub struct Caller<N = Read> {
    pub token: Token,
    need: PhantomData<fn() -> N>,
}

/// The caller, and the project `{project}` names.
pub struct InProject<N = Read> {
    pub token: Token,
    pub project: Project,
    need: PhantomData<fn() -> N>,
}

/// The caller, and deployment `{id}` of project `{project}`.
pub struct InDeployment<N = Read> {
    pub token: Token,
    pub project: Project,
    pub deployment: Deployment,
    need: PhantomData<fn() -> N>,
}

/// The caller, and environment `{env}` of project `{project}`, which the token sees;
/// `existing` is its id when it has been deployed to or configured.
pub struct InEnvironment<N = Read> {
    pub token: Token,
    pub project: Project,
    pub name: String,
    pub existing: Option<i64>,
    need: PhantomData<fn() -> N>,
}

impl<N> InEnvironment<N> {
    /// The environment's id, or 404 when it does not exist (`None`: the token is scoped
    /// to it, and it has nothing yet).
    pub fn visible(&self) -> Result<Option<i64>, ApiError> {
        match self.existing {
            Some(id) => Ok(Some(id)),
            None if self.token.environment.as_deref() == Some(self.name.as_str()) => Ok(None),
            None => Err(environment_not_found(&self.project, &self.name)),
        }
    }
}

impl<N: Need> FromRequestParts<Arc<App>> for Caller<N> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Response> {
        let (token, ()) = admit::<N, _>(parts, app, |_, _, _| Ok(())).await?;
        Ok(Caller {
            token,
            need: PhantomData,
        })
    }
}

impl<N: Need> FromRequestParts<Arc<App>> for InProject<N> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Response> {
        let (token, project) = admit::<N, _>(parts, app, |store, token, path| {
            visible_project(store, token, path.get("project")?)
        })
        .await?;
        Ok(InProject {
            token,
            project,
            need: PhantomData,
        })
    }
}

impl<N: Need> FromRequestParts<Arc<App>> for InDeployment<N> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Response> {
        let (token, (project, deployment)) = admit::<N, _>(parts, app, |store, token, path| {
            let id = parse_id(path.get("id")?)?;
            let project = visible_project(store, token, path.get("project")?)?;
            let deployment = match store.deployment(id)? {
                Some(d) if d.project == project.name && token.sees(&d.project, &d.environment) => d,
                _ => return Err(redeploy::not_found_in(&project.name, id).into()),
            };
            Ok((project, deployment))
        })
        .await?;
        Ok(InDeployment {
            token,
            project,
            deployment,
            need: PhantomData,
        })
    }
}

impl<N: Need> FromRequestParts<Arc<App>> for InEnvironment<N> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Response> {
        let (token, (project, name, existing)) = admit::<N, _>(parts, app, |store, token, path| {
            let project = visible_project(store, token, path.get("project")?)?;
            let name = path.get("env")?.to_string();
            check_name("environment", &name)?;
            if !token.sees(&project.name, &name) {
                return Err(environment_not_found(&project, &name));
            }
            let existing = store.environment(project.id, &name)?.map(|e| e.id);
            Ok((project, name, existing))
        })
        .await?;
        Ok(InEnvironment {
            token,
            project,
            name,
            existing,
            need: PhantomData,
        })
    }
}

/// The values in a request's path, by name, judged only once the token is.
pub struct PathValues(Result<Vec<(String, String)>, ApiError>);

impl PathValues {
    pub fn get(&self, name: &str) -> Result<&str, ApiError> {
        let values = self.0.as_ref().map_err(Clone::clone)?;
        values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| ApiError::internal(format!("the route has no `{name}` in its path")))
    }
}

/// What a request presents.
enum Credential {
    Bearer(String),
    /// An `Authorization` header that is not `Bearer SECRET`.
    Malformed,
    Session(String),
}

/// Authenticate `parts`, check that the token may do `N`, then `look` up what the
/// path names for it: one turn on the history. A missing credential answers 401; a
/// presented one that fails is logged and counted against the client.
async fn admit<N: Need, T: Send + 'static>(
    parts: &mut Parts,
    app: &Arc<App>,
    look: impl FnOnce(&Store, &Token, &PathValues) -> Result<T, ApiError> + Send + 'static,
) -> Result<(Token, T), Response> {
    let peer = Arrival::of(parts).peer.ip();
    let credential = credential(parts, app).map_err(IntoResponse::into_response)?;
    // A client slowed for its failures waits for its turn with whatever it presents.
    let _turn = app.failures.turn(peer).await;
    if let Credential::Malformed = credential {
        return Err(app.failed_authentication(peer, Failed::Token));
    }
    let path = PathValues(
        RawPathParams::from_request_parts(parts, app)
            .await
            .map(|p| {
                p.iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect()
            })
            .map_err(|r| {
                ApiError::bad_request(r.body_text())
                    .hint("names in a path are percent-encoded UTF-8")
            }),
    );
    let worker = app.clone();
    let outcome = app
        .read_here(move |store| {
            let token = match worker.identify(store, &credential)? {
                Ok(token) => token,
                Err(failed) => return Ok(Err(failed)),
            };
            if !token.may(N::PERMISSION) {
                return Err(forbidden(&token, N::PERMISSION));
            }
            let found = look(store, &token, &path)?;
            Ok(Ok((token, found)))
        })
        .await
        .map_err(IntoResponse::into_response)?;
    outcome.map_err(|failed| app.failed_authentication(peer, failed))
}

fn forbidden(token: &Token, permission: Permission) -> ApiError {
    ApiError::forbidden(format!(
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
    .hint("ask an admin for a token with that role (`temps token create`)")
}

/// The one `Authorization: Bearer` header or the session cookie, checked for a
/// same-origin request when a cookie asks to change something.
fn credential(parts: &Parts, app: &App) -> Result<Credential, ApiError> {
    let mut given = parts.headers.get_all(header::AUTHORIZATION).iter();
    if let Some(value) = given.next() {
        if given.next().is_some() {
            return Err(
                ApiError::bad_request("the request has two `Authorization` headers")
                    .hint("send one: `Authorization: Bearer tps_…`"),
            );
        }
        let secret = value
            .to_str()
            .ok()
            .and_then(|text| text.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, secret)| secret.trim().to_string());
        return Ok(secret.map_or(Credential::Malformed, Credential::Bearer));
    }
    let Some(session) = session_cookie(&parts.headers, app.tls) else {
        return Err(ApiError::unauthorized());
    };
    if !matches!(parts.method, Method::GET | Method::HEAD) && !same_origin(parts, &app.sessions) {
        return Err(cross_origin());
    }
    Ok(Credential::Session(session))
}

impl App {
    /// The token a credential stands for, reading only: a bearer token's use is noted
    /// (at most once a minute) on a blocking thread, away from the request.
    fn identify(
        self: &Arc<Self>,
        store: &Store,
        credential: &Credential,
    ) -> Result<Result<Token, Failed>, ApiError> {
        match credential {
            Credential::Malformed => Ok(Err(Failed::Token)),
            Credential::Bearer(secret) => match tokens::identify(store, secret)? {
                Err(_) => Ok(Err(Failed::Token)),
                Ok(identified) => {
                    if identified.use_due {
                        let (app, id) = (self.clone(), identified.token.id);
                        tokio::spawn(async move {
                            let noted = app.read(move |store| {
                                tokens::note_use(store, id);
                                Ok(())
                            });
                            let _ = noted.await;
                        });
                    }
                    Ok(Ok(identified.token))
                }
            },
            Credential::Session(id) => Ok(self
                .sessions
                .session_token(store, id)?
                .ok_or(Failed::Session)),
        }
    }

    /// Log a presented secret that did not authenticate (the client's address, never
    /// the secret), count it against the client, and answer 401; a session that ended
    /// has its cookie removed.
    pub fn failed_authentication(&self, peer: IpAddr, failed: Failed) -> Response {
        let what = match failed {
            Failed::Token => "a bearer token that is unknown, revoked or expired",
            Failed::Session => "a session cookie that is unknown or has ended",
            Failed::SignIn => "a sign-in with a token that is unknown, revoked or expired",
        };
        super::log(&format!("authentication failed from {peer}: {what}"));
        if self.failures.failed(peer) {
            super::log(&format!(
                "{peer}: {} failed authentications in a minute: its authentications now take turns, one a second",
                super::clients::FAILURES_PER_MINUTE
            ));
        }
        let mut response = ApiError::unauthorized().into_response();
        if let Failed::Session = failed {
            if let Ok(value) = HeaderValue::from_str(&self.sessions.cookie(None)) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
        }
        response
    }
}

// ---- what a token may see ----

/// The project, if it exists for this token; otherwise exactly what an unknown
/// project answers.
fn visible_project(store: &Store, token: &Token, name: &str) -> Result<Project, ApiError> {
    check_name("project", name)?;
    if !token.sees_project(name) {
        return Err(project_not_found(name).into());
    }
    Ok(store.project(name)?)
}

pub fn environment_not_found(project: &Project, env: &str) -> ApiError {
    ApiError::not_found(format!(
        "project `{}` has no environment `{env}`",
        project.name
    ))
    .hint(format!(
        "GET /api/projects/{} lists its environments",
        project.name
    ))
}

/// A deployment id as `list` shows it: digits only, no sign, no leading zero.
fn parse_id(text: &str) -> Result<i64, ApiError> {
    let digits = !text.is_empty()
        && text.len() <= 19
        && text.bytes().all(|b| b.is_ascii_digit())
        && !text.starts_with('0');
    match text.parse::<i64>() {
        Ok(id) if digits => Ok(id),
        _ => Err(ApiError::bad_request(format!(
            "`{}` is not a deployment id",
            text.chars().take(40).collect::<String>()
        ))
        .hint("ids are positive integers, as `list` shows them")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_positive_integers_in_digits() {
        assert_eq!(parse_id("41").unwrap(), 41);
        for bad in [
            "0",
            "-1",
            "+1",
            " 1",
            "01",
            "abc",
            "1e3",
            "99999999999999999999",
            "",
        ] {
            assert!(parse_id(bad).is_err(), "{bad}");
        }
    }
}
