//! The routes of SPEC.md ("HTTP API: `temps serve`"), the dashboard's session routes,
//! and the dashboard page. Each handler is a small function over extractors, in the
//! order they run: who asks and what the path names (`auth`, on the head), then the
//! query and the body (`input`); then it calls the same ops functions as the command
//! line. Every error is an `ApiError`, whose `IntoResponse` decides the status.

mod operate;
mod variables;

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::app::App;
use super::auth::{environment_not_found, Caller, InDeployment, InProject, Read};
use super::error::ApiError;
use super::input::{Document, JsonBody, NoQuery, Params};
use super::{events, Arrival};
use crate::error::check_name;
use crate::ops::access::tokens::{Permission, Token};
use crate::ops::gate::Availability;
use crate::ops::view::documents;
use crate::store::{Deployment, Project, Store};
use operate::{deploy, promote, rollback_latest, rollback_to};
use variables::{variables_list, variables_set, variables_unset};

/// The most deployments one list answers with.
const MAX_LIMIT: u64 = 1000;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(super::dashboard::page))
        .route("/api/health", get(health))
        .route("/metrics", get(super::metrics::route))
        .route("/api/session", post(sign_in).get(who_am_i).delete(sign_out))
        .route("/api/projects", get(projects))
        .route("/api/projects/{project}", get(project))
        .route("/api/projects/{project}/status", get(status))
        .route(
            "/api/projects/{project}/deployments",
            get(deployments).post(deploy),
        )
        .route("/api/projects/{project}/deployments/{id}", get(deployment))
        .route(
            "/api/projects/{project}/deployments/{id}/events",
            get(events),
        )
        .route(
            "/api/projects/{project}/deployments/{id}/rollback",
            post(rollback_to),
        )
        .route(
            "/api/projects/{project}/deployments/{id}/promote",
            post(promote),
        )
        .route("/api/projects/{project}/rollback", post(rollback_latest))
        .route(
            "/api/projects/{project}/environments/{env}/variables",
            get(variables_list).put(variables_set),
        )
        .route(
            "/api/projects/{project}/environments/{env}/variables/{key}",
            delete(variables_unset),
        )
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            super::edge::finish,
        ))
        .with_state(app)
}

pub(super) type Answer = Result<Response, ApiError>;

/// A route the spec does not have: 404, to a caller with a token (401 without).
async fn not_found(_: Caller<Read>) -> ApiError {
    ApiError::not_found("no such route").hint("the routes are listed in the README (HTTP API)")
}

async fn health(Params(NoQuery {}): Params<NoQuery>) -> Json<Value> {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

// ---- sessions (the dashboard) ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    token: String,
}

impl Document for SignIn {}

fn token_document(token: &Token) -> Value {
    json!({
        "name": token.name,
        "role": token.role.as_str(),
        "project": token.project,
        "environment": token.environment,
        "expires_at": token.expires_at.map(crate::clock::rfc3339),
    })
}

/// Sign in: the token's secret in the body is the credential, slowed and logged when it
/// fails like a bearer token.
async fn sign_in(
    State(app): State<Arc<App>>,
    arrival: Arrival,
    Params(NoQuery {}): Params<NoQuery>,
    JsonBody(request): JsonBody<SignIn>,
) -> Answer {
    let peer = arrival.peer.ip();
    let _turn = app.failures.turn(peer).await;
    let worker = app.clone();
    let opened = app
        .read(move |store| worker.sessions.open_session(store, &request.token))
        .await?;
    let (session, token) = match opened {
        Ok(opened) => opened,
        Err(failed) => return Ok(app.failed_authentication(peer, failed)),
    };
    let mut response = Json(token_document(&token)).into_response();
    set_cookie(&mut response, &app.sessions.cookie(Some(&session)));
    Ok(response)
}

async fn who_am_i(caller: Caller<Read>, Params(NoQuery {}): Params<NoQuery>) -> Json<Value> {
    Json(token_document(&caller.token))
}

async fn sign_out(State(app): State<Arc<App>>, request: Request) -> Answer {
    let (mut parts, _) = request.into_parts();
    Params::<NoQuery>::from_request_parts(&mut parts, &app).await?;
    app.sessions.close_session(&parts)?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    set_cookie(&mut response, &app.sessions.cookie(None));
    Ok(response)
}

fn set_cookie(response: &mut Response, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
}

// ---- reading ----

async fn projects(
    State(app): State<Arc<App>>,
    caller: Caller<Read>,
    Params(NoQuery {}): Params<NoQuery>,
) -> Answer {
    let doc = app
        .read(move |store| {
            let mut all = Vec::new();
            for project in store.projects()? {
                if caller.token.sees_project(&project.name) {
                    all.push(project_document(store, &caller.token, &project)?);
                }
            }
            Ok(Value::Array(all))
        })
        .await?;
    Ok(Json(doc).into_response())
}

async fn project(
    State(app): State<Arc<App>>,
    at: InProject<Read>,
    Params(NoQuery {}): Params<NoQuery>,
) -> Answer {
    let doc = app
        .read(move |store| project_document(store, &at.token, &at.project))
        .await?;
    Ok(Json(doc).into_response())
}

async fn status(
    State(app): State<Arc<App>>,
    at: InProject<Read>,
    Params(NoQuery {}): Params<NoQuery>,
) -> Answer {
    let doc = app
        .read_engine(move |store| {
            let statuses = tokio::runtime::Handle::current().block_on(
                crate::ops::view::status::statuses(store, std::slice::from_ref(&at.project)),
            )?;
            let visible: Vec<_> = statuses
                .into_iter()
                .filter(|s| at.token.sees(&s.project, &s.environment))
                .collect();
            Ok(serde_json::to_value(visible).map_err(anyhow::Error::from)?)
        })
        .await?;
    Ok(Json(doc).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    environment: Option<String>,
    limit: Option<String>,
}

async fn deployments(
    State(app): State<Arc<App>>,
    at: InProject<Read>,
    Params(query): Params<ListQuery>,
) -> Answer {
    let limit = match query.limit.as_deref() {
        None => 50,
        Some(text) => match text.parse::<u64>() {
            Ok(n @ 1..=MAX_LIMIT) if text.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "limit must be a number from 1 to {MAX_LIMIT}"
                ))
                .hint("like `?limit=20`"))
            }
        },
    };
    let images = app.images().await;
    let body = app
        .read(move |store| {
            let InProject { token, project, .. } = at;
            let env_id = match query.environment.or_else(|| token.environment.clone()) {
                Some(env) => match visible_environment(store, &token, &project, &env)? {
                    Some(id) => Some(id),
                    // Scoped to an environment that has no deployment yet.
                    None => return Ok(b"[]".to_vec()),
                },
                None => None,
            };
            let availability = Availability::new(&project, store, images)?;
            let may = token.may(Permission::Redeploy);
            let mut body = Vec::with_capacity(32 * 1024);
            body.push(b'[');
            store.each_deployment(project.id, env_id, limit, |d| {
                if body.len() > 1 {
                    body.push(b',');
                }
                // As `list -o json` prints it (with its `can_roll_back`), plus `actions`.
                write_with_actions(
                    &mut body,
                    &d,
                    Some(availability.can_roll_back(&d)),
                    availability.actions(&d, may),
                )
            })?;
            body.push(b']');
            Ok(body)
        })
        .await?;
    Ok(json_bytes(body))
}

async fn deployment(
    State(app): State<Arc<App>>,
    at: InDeployment<Read>,
    Params(NoQuery {}): Params<NoQuery>,
) -> Answer {
    let images = app.images().await;
    let body = app
        .read(move |store| {
            let availability = Availability::new(&at.project, store, images)?;
            let mut body = Vec::with_capacity(2048);
            let actions = availability.actions(&at.deployment, at.token.may(Permission::Redeploy));
            write_with_actions(&mut body, &at.deployment, None, actions)?;
            Ok(body)
        })
        .await?;
    Ok(json_bytes(body))
}

async fn events(
    State(app): State<Arc<App>>,
    at: InDeployment<Read>,
    Params(NoQuery {}): Params<NoQuery>,
) -> Response {
    let log = app.operations.log_of(at.deployment.id);
    let reader = app.clone();
    let read: events::Reader<Deployment> = Arc::new(move |ids| {
        let app = reader.clone();
        Box::pin(async move { app.deployments_now(ids).await })
    });
    events::stream(log, &app.poller, read, at.deployment).into_response()
}

// ---- what a token may see ----

/// The environment's id (`None` when it exists for the token but has nothing yet).
pub(super) fn visible_environment(
    store: &Store,
    token: &Token,
    project: &Project,
    env: &str,
) -> Result<Option<i64>, ApiError> {
    check_name("environment", env)?;
    if !token.sees(&project.name, env) {
        return Err(environment_not_found(project, env));
    }
    match store.environment(project.id, env)? {
        Some(e) => Ok(Some(e.id)),
        None if token.environment.as_deref() == Some(env) => Ok(None),
        None => Err(environment_not_found(project, env)),
    }
}

fn project_document(store: &Store, token: &Token, project: &Project) -> Result<Value, ApiError> {
    let envs: Vec<_> = store
        .environments(project.id)?
        .into_iter()
        .filter(|e| token.sees(&project.name, &e.name))
        .collect();
    Ok(documents::project(project, &envs))
}

/// The record as every command prints it, with `actions` added, written straight to
/// `out` (no document built and walked per row).
fn write_with_actions(
    out: &mut Vec<u8>,
    d: &Deployment,
    can_roll_back: Option<Option<bool>>,
    actions: Vec<&'static str>,
) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, d)?;
    // A struct is an object: drop its `}` and add the fields.
    debug_assert_eq!(out.last(), Some(&b'}'));
    out.pop();
    if let Some(can) = can_roll_back {
        out.extend_from_slice(b",\"can_roll_back\":");
        serde_json::to_writer(&mut *out, &can)?;
    }
    out.extend_from_slice(b",\"actions\":");
    serde_json::to_writer(&mut *out, &actions)?;
    out.push(b'}');
    Ok(())
}

/// A JSON answer already written.
fn json_bytes(body: Vec<u8>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}
