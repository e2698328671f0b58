//! The routes of SPEC.md ("HTTP API: `temps serve`"), the dashboard's session routes,
//! and the dashboard page. Each handler is a small function over extractors, in the
//! order they run: who asks and what the path names (`auth`, on the head), then the
//! query and the body (`input`); then it calls the same ops functions as the command
//! line. Every error is an `ApiError`, whose `IntoResponse` decides the status.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::app::App;
use super::auth::{
    environment_not_found, Admin, Caller, Deploy, InDeployment, InEnvironment, InProject, Read,
    Redeploy,
};
use super::error::ApiError;
use super::input::{Document, Flag, JsonBody, NoQuery, Params, Window};
use super::operations::{self, Job, Operation, Started};
use super::{events, Arrival};
use crate::error::check_name;
use crate::ops::deploy::DeployRequest;
use crate::ops::gate::{Availability, Kind};
use crate::ops::lock::Asker;
use crate::ops::redeploy::{self, AssumeYes, Target};
use crate::ops::tokens::{Permission, Token};
use crate::ops::{documents, variables, Event, Progress};
use crate::store::{Deployment, Project, Store};
use crate::text::clean_reason;

/// The most deployments one list answers with.
const MAX_LIMIT: u64 = 1000;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(super::dashboard::page))
        .route("/api/health", get(health))
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

type Answer = Result<Response, ApiError>;

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
        .read(move |store| worker.open_session(store, &request.token))
        .await?;
    let (session, token) = match opened {
        Ok(opened) => opened,
        Err(failed) => return Ok(app.failed_authentication(peer, failed)),
    };
    let mut response = Json(token_document(&token)).into_response();
    set_cookie(&mut response, &app.cookie(Some(&session)));
    Ok(response)
}

async fn who_am_i(caller: Caller<Read>, Params(NoQuery {}): Params<NoQuery>) -> Json<Value> {
    Json(token_document(&caller.token))
}

async fn sign_out(State(app): State<Arc<App>>, request: Request) -> Answer {
    let (mut parts, _) = request.into_parts();
    Params::<NoQuery>::from_request_parts(&mut parts, &app).await?;
    app.close_session(&parts)?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    set_cookie(&mut response, &app.cookie(None));
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
                crate::ops::status::statuses(store, std::slice::from_ref(&at.project)),
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
    events::stream(&app, at.deployment).into_response()
}

// ---- operations ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeployQuery {
    wait: Option<Flag>,
    watch: Option<Window>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RedeployQuery {
    wait: Option<Flag>,
    dry_run: Option<Flag>,
    watch: Option<Window>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeployBody {
    image: String,
    environment: Option<String>,
    reason: Option<String>,
}

impl Document for DeployBody {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RedeployBody {
    reason: Option<String>,
}

impl Document for RedeployBody {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackBody {
    environment: Option<String>,
    reason: Option<String>,
}

impl Document for RollbackBody {}

async fn deploy(
    State(app): State<Arc<App>>,
    at: InProject<Deploy>,
    Params(query): Params<DeployQuery>,
    JsonBody(body): JsonBody<DeployBody>,
) -> Answer {
    let InProject { token, project, .. } = at;
    let environment = body.environment.unwrap_or_else(|| "production".to_string());
    check_name("environment", &environment)?;
    if !token.sees(&project.name, &environment) {
        return Err(environment_not_found(&project, &environment));
    }
    let reason = clean_reason(body.reason)?;
    let command = format!(
        "deploy {} --image {} (API, {})",
        project.name,
        body.image.chars().take(200).collect::<String>(),
        token.actor()
    );
    let request = DeployRequest {
        project: project.name.clone(),
        environment: environment.clone(),
        image: body.image,
        publish: None,
        reason,
        created_by: token.actor(),
        command,
        wait_lock: None,
        proxy: None,
        replicas: None,
        drain: None,
        response_timeout: None,
        domains: None,
        standby: None,
        swarm: false,
    };
    let job = Job {
        operation: Operation::Deploy(request),
        project: project.name,
        environment,
        watch: query.watch.map(|w| w.0),
    };
    launch(&app, job, query.wait.unwrap_or_default().0).await
}

async fn rollback_to(
    State(app): State<Arc<App>>,
    at: InDeployment<Redeploy>,
    Params(query): Params<RedeployQuery>,
    JsonBody(body): JsonBody<RedeployBody>,
) -> Answer {
    redeploy_found(app, Kind::Rollback, at, query, body.reason).await
}

async fn promote(
    State(app): State<Arc<App>>,
    at: InDeployment<Redeploy>,
    Params(query): Params<RedeployQuery>,
    JsonBody(body): JsonBody<RedeployBody>,
) -> Answer {
    redeploy_found(app, Kind::Promote, at, query, body.reason).await
}

/// A rollback to, or promote of, the deployment the request found: it is passed on,
/// not looked up again.
async fn redeploy_found(
    app: Arc<App>,
    kind: Kind,
    at: InDeployment<Redeploy>,
    query: RedeployQuery,
    reason: Option<String>,
) -> Answer {
    let InDeployment {
        token,
        project,
        deployment,
        ..
    } = at;
    let environment = deployment.environment.clone();
    let target = Target::Found {
        id: deployment.id,
        project: Box::new(project),
        environment: environment.clone(),
    };
    redeploy(&app, kind, target, environment, token, query, reason).await
}

async fn rollback_latest(
    State(app): State<Arc<App>>,
    at: InProject<Redeploy>,
    Params(query): Params<RedeployQuery>,
    JsonBody(body): JsonBody<RollbackBody>,
) -> Answer {
    let InProject { token, project, .. } = at;
    let environment = body
        .environment
        .or_else(|| token.environment.clone())
        .unwrap_or_else(|| "production".to_string());
    let checked = (token.clone(), project.clone(), environment.clone());
    app.read(move |store| {
        let (token, project, environment) = checked;
        match visible_environment(store, &token, &project, &environment)? {
            Some(_) => Ok(()),
            None => Err(environment_not_found(&project, &environment)),
        }
    })
    .await?;
    let target = Target::MostRecent {
        project: project.name,
        environment: environment.clone(),
    };
    redeploy(
        &app,
        Kind::Rollback,
        target,
        environment,
        token,
        query,
        body.reason,
    )
    .await
}

/// A rollback or promote: its plan with `?dry_run=true` (which may wait on Docker),
/// else the operation, started.
async fn redeploy(
    app: &Arc<App>,
    kind: Kind,
    target: Target,
    environment: String,
    token: Token,
    query: RedeployQuery,
    reason: Option<String>,
) -> Answer {
    let reason = clean_reason(reason)?;
    if query.dry_run.unwrap_or_default().0 {
        let plan = app
            .read_engine(move |store| {
                let plan = tokio::runtime::Handle::current()
                    .block_on(redeploy::dry_run(store, kind, &target, &AssumeYes))?;
                Ok(documents::plan(&plan))
            })
            .await?;
        return Ok(Json(plan).into_response());
    }
    let project = match &target {
        Target::Found { project, .. } => project.name.clone(),
        Target::MostRecent { project, .. } => project.clone(),
        Target::Id(_) => return Err(ApiError::internal("a target without its project")),
    };
    let job = Job {
        operation: Operation::Redeploy(redeploy::Request {
            kind,
            target,
            reason,
            created_by: token.actor(),
            wait_lock: None,
            health_timeout: None,
        }),
        project,
        environment,
        watch: query.watch.map(|w| w.0),
    };
    launch(app, job, query.wait.unwrap_or_default().0).await
}

/// Start the operation: 202 with the record once it is recorded (or 200 with the
/// final record with `?wait=true`), or the error that stopped it.
async fn launch(app: &Arc<App>, job: Job, wait: bool) -> Answer {
    let project = job.project.clone();
    let started = operations::start(app, app.db.clone(), job).await?;
    let (record, log) = match started {
        Started::Recorded(d, log) => (serde_json::to_value(&d).map_err(anyhow::Error::from)?, log),
        Started::Ended(log) => (log.outcome().await?, log),
    };
    let record = if wait { log.outcome().await? } else { record };
    let id = record["id"].as_i64().unwrap_or_default();
    let status = if wait {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let mut response = (status, Json(record)).into_response();
    if let Ok(location) =
        HeaderValue::from_str(&format!("/api/projects/{project}/deployments/{id}"))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

// ---- variables ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevealQuery {
    reveal: Option<Flag>,
}

/// `{"KEY": "VALUE", …}`.
#[derive(Deserialize)]
#[serde(transparent)]
struct Pairs(BTreeMap<String, String>);

impl Document for Pairs {
    /// Values are secrets: a parse error says where, never what.
    fn malformed(_: serde_json::Error) -> ApiError {
        ApiError::bad_request("the body must be one JSON object of names to string values")
            .hint(r#"like {"DATABASE_URL": "postgres://…", "LOG_LEVEL": "info"}"#)
    }
}

async fn variables_list(
    State(app): State<Arc<App>>,
    at: InEnvironment<Read>,
    Params(query): Params<RevealQuery>,
) -> Answer {
    let reveal = query.reveal.unwrap_or_default().0;
    if reveal && !at.token.may(Permission::Admin) {
        return Err(ApiError::forbidden(format!(
            "token `{}` is a {}: it may not read variables' values",
            at.token.name,
            at.token.role.as_str()
        ))
        .hint("ask an admin for a token with that role (`temps token create`)"));
    }
    let doc = app
        .read(move |store| {
            let values = match at.visible()? {
                Some(id) => store.variables(id)?,
                None => BTreeMap::new(),
            };
            Ok(documents::variables(
                &at.project.name,
                &at.name,
                &values,
                reveal,
            ))
        })
        .await?;
    Ok(Json(doc).into_response())
}

async fn variables_set(
    State(app): State<Arc<App>>,
    at: InEnvironment<Admin>,
    Params(NoQuery {}): Params<NoQuery>,
    JsonBody(Pairs(pairs)): JsonBody<Pairs>,
) -> Answer {
    if pairs.is_empty() {
        return Err(
            ApiError::bad_request("no variables given").hint(r#"like {"LOG_LEVEL": "info"}"#)
        );
    }
    let doc = app
        .read(move |store| {
            let InEnvironment {
                token,
                project,
                name: env,
                ..
            } = at;
            let pairs: Vec<(String, String)> = pairs.into_iter().collect();
            let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
            let command = format!(
                "env set {} {} (API, {})",
                project.name,
                keys.join(" "),
                token.actor()
            );
            variables::set(
                store,
                &project,
                &env,
                &pairs,
                &Asker {
                    command: &command,
                    user: &token.actor(),
                    wait: None,
                },
                &Quiet,
            )?;
            let values = match store.environment(project.id, &env)? {
                Some(e) => store.variables(e.id)?,
                None => BTreeMap::new(),
            };
            Ok(documents::variables(&project.name, &env, &values, false))
        })
        .await?;
    Ok(Json(doc).into_response())
}

async fn variables_unset(
    State(app): State<Arc<App>>,
    at: InEnvironment<Admin>,
    axum::extract::Path((_, _, key)): axum::extract::Path<(String, String, String)>,
    Params(NoQuery {}): Params<NoQuery>,
) -> Answer {
    variables::check_key(&key)?;
    app.read(move |store| {
        if at.visible()?.is_none() {
            return Err(environment_not_found(&at.project, &at.name));
        }
        let InEnvironment {
            token,
            project,
            name: env,
            ..
        } = at;
        let command = format!("env unset {} {key} (API, {})", project.name, token.actor());
        let unset = variables::unset(
            store,
            &project,
            &env,
            std::slice::from_ref(&key),
            &Asker {
                command: &command,
                user: &token.actor(),
                wait: None,
            },
            &Quiet,
        )?;
        match unset {
            Some(done) if !done.removed.is_empty() => Ok(()),
            _ => Err(
                ApiError::not_found(format!("{key} is not set on {}/{env}", project.name))
                    .hint("GET the environment's variables to see their names"),
            ),
        }
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Progress nobody watches (a variables change is one quick write).
struct Quiet;

impl Progress for Quiet {
    fn event(&self, _event: Event<'_>) {}
    fn warn(&self, _message: &str) {}
}

// ---- what a token may see ----

/// The environment's id (`None` when it exists for the token but has nothing yet).
fn visible_environment(
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
