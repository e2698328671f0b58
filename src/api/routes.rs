//! The routes of SPEC.md ("HTTP API: `temps serve`"), the dashboard's session routes,
//! and the dashboard page. Each handler reads and checks its input, then calls the same
//! ops functions as the command line.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::app::App;
use super::error::ApiError;
use super::operations::{self, Job, Started};
use crate::error::check_name;
use crate::ops::deploy::DeployRequest;
use crate::ops::gate::{Availability, Kind};
use crate::ops::lock::Asker;
use crate::ops::redeploy::{self, AssumeYes, Target};
use crate::ops::tokens::{Permission, Token};
use crate::ops::{documents, variables, Event, Progress};
use crate::store::{project_not_found, Deployment, Project, Store};

/// The largest request body accepted.
const MAX_BODY: usize = 64 * 1024;
/// The most deployments one list answers with.
const MAX_LIMIT: u64 = 1000;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(dashboard))
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
        .with_state(app)
}

type Answer = Result<Response, ApiError>;

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
        .hint("the routes are listed in the README (HTTP API)")
}

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

async fn dashboard() -> Response {
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

async fn health() -> Json<Value> {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

// ---- sessions (the dashboard) ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    token: String,
}

fn token_document(token: &Token) -> Value {
    json!({
        "name": token.name,
        "role": token.role.as_str(),
        "project": token.project,
        "environment": token.environment,
        "expires_at": token.expires_at.map(crate::clock::rfc3339),
    })
}

async fn sign_in(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Answer {
    let request: SignIn = json_body(&headers, body).await?;
    let worker = app.clone();
    let (session, token) = tokio::task::spawn_blocking(move || {
        let store = worker.store()?;
        worker.open_session(&store, &request.token)
    })
    .await
    .map_err(|e| ApiError::from_anyhow(&anyhow::anyhow!("signing in: {e}")))??;
    let mut response = Json(token_document(&token)).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&app.cookie(Some(&session))).expect("cookie"),
    );
    Ok(response)
}

async fn who_am_i(State(app): State<Arc<App>>, method: Method, headers: HeaderMap) -> Answer {
    let doc = app
        .call(&headers, &method, Permission::Read, |_, token| {
            Ok(token_document(token))
        })
        .await?;
    Ok(Json(doc).into_response())
}

async fn sign_out(State(app): State<Arc<App>>, headers: HeaderMap) -> Answer {
    app.close_session(&headers)?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&app.cookie(None)).expect("cookie"),
    );
    Ok(response)
}

// ---- reading ----

async fn projects(State(app): State<Arc<App>>, method: Method, headers: HeaderMap) -> Answer {
    let doc = app
        .call(&headers, &method, Permission::Read, |store, token| {
            let mut all = Vec::new();
            for project in store.projects()? {
                if token.sees_project(&project.name) {
                    all.push(project_document(store, token, &project)?);
                }
            }
            Ok(Value::Array(all))
        })
        .await?;
    Ok(Json(doc).into_response())
}

async fn project(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Answer {
    let doc = app
        .call(&headers, &method, Permission::Read, move |store, token| {
            let project = visible_project(store, token, &name)?;
            project_document(store, token, &project)
        })
        .await?;
    Ok(Json(doc).into_response())
}

async fn status(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Answer {
    let doc = app
        .call_engine(&headers, &method, Permission::Read, move |store, token| {
            let project = visible_project(store, token, &name)?;
            let statuses = tokio::runtime::Handle::current().block_on(
                crate::ops::status::statuses(store, std::slice::from_ref(&project)),
            )?;
            let visible: Vec<_> = statuses
                .into_iter()
                .filter(|s| token.sees(&s.project, &s.environment))
                .collect();
            Ok(serde_json::to_value(visible).map_err(anyhow::Error::from)?)
        })
        .await?;
    Ok(Json(doc).into_response())
}

async fn deployments(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
) -> Answer {
    let query = Query::parse(query.as_deref(), &["environment", "limit"])?;
    let environment = query.get("environment").map(str::to_string);
    let limit = match query.get("limit") {
        None => 50,
        Some(text) => match text.parse::<u64>() {
            Ok(n @ 1..=MAX_LIMIT) => n,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "limit must be a number from 1 to {MAX_LIMIT}"
                )))
            }
        },
    };
    let images = app.images().await;
    let body = app
        .call(&headers, &method, Permission::Read, move |store, token| {
            let project = visible_project(store, token, &name)?;
            let env_name = environment.or_else(|| token.environment.clone());
            let env_id = match env_name {
                Some(env) => match visible_environment(store, token, &project, &env)? {
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
    Path((name, id)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Answer {
    let id = parse_id(&id)?;
    let images = app.images().await;
    let body = app
        .call(&headers, &method, Permission::Read, move |store, token| {
            let project = visible_project(store, token, &name)?;
            let d = visible_deployment(store, token, &project, id)?;
            let availability = Availability::new(&project, store, images)?;
            let mut body = Vec::with_capacity(2048);
            write_with_actions(
                &mut body,
                &d,
                None,
                availability.actions(&d, token.may(Permission::Redeploy)),
            )?;
            Ok(body)
        })
        .await?;
    Ok(json_bytes(body))
}

async fn events(
    State(app): State<Arc<App>>,
    Path((name, id)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Answer {
    let id = parse_id(&id)?;
    app.call(&headers, &method, Permission::Read, move |store, token| {
        let project = visible_project(store, token, &name)?;
        visible_deployment(store, token, &project, id).map(|_| ())
    })
    .await?;
    Ok(operations::events(&app, id).into_response())
}

// ---- operations ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeployBody {
    image: String,
    environment: Option<String>,
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RedeployBody {
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackBody {
    environment: Option<String>,
    reason: Option<String>,
}

/// What a POST that starts an operation does once its input is checked.
enum Prepared {
    /// `?dry_run=true`: the plan, nothing started.
    Plan(Value),
    Job(Box<Job>, String),
}

async fn deploy(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let query = Query::parse(query.as_deref(), &["wait", "watch"])?;
    let wait = query.flag("wait")?;
    let watch = query.duration("watch")?;
    let body: DeployBody = json_body(&headers, body).await?;
    let prepared = app
        .call(
            &headers,
            &method,
            Permission::Deploy,
            move |store, token| {
                let project = visible_project(store, token, &name)?;
                let environment = body.environment.unwrap_or_else(|| "production".to_string());
                check_name("environment", &environment)?;
                if !token.sees(&project.name, &environment) {
                    return Err(environment_not_found(&project, &environment));
                }
                let command = format!(
                    "deploy {} --image {} (API, {})",
                    project.name,
                    body.image.chars().take(200).collect::<String>(),
                    token.actor()
                );
                Ok(Prepared::Job(
                    Box::new(Job::Deploy(
                        Box::new(DeployRequest {
                            project: project.name.clone(),
                            environment,
                            image: body.image,
                            publish: None,
                            reason: body.reason,
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
                            health_timeout: None,
                            tls: None,
                            hsts: None,
                        }),
                        watch,
                    )),
                    project.name,
                ))
            },
        )
        .await?;
    launch(&app, prepared, wait).await
}

async fn rollback_to(
    state: State<Arc<App>>,
    path: Path<(String, String)>,
    query: RawQuery,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    redeploy_by_id(Kind::Rollback, state, path, query, method, headers, body).await
}

async fn promote(
    state: State<Arc<App>>,
    path: Path<(String, String)>,
    query: RawQuery,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    redeploy_by_id(Kind::Promote, state, path, query, method, headers, body).await
}

async fn redeploy_by_id(
    kind: Kind,
    State(app): State<Arc<App>>,
    Path((name, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let query = Query::parse(query.as_deref(), &["wait", "dry_run", "watch"])?;
    let (wait, dry_run) = (query.flag("wait")?, query.flag("dry_run")?);
    let watch = query.duration("watch")?;
    let id = parse_id(&id)?;
    let body: RedeployBody = json_body(&headers, body).await?;
    // A dry run's validation may wait on Docker.
    let prepared = app
        .call_engine(
            &headers,
            &method,
            Permission::Redeploy,
            move |store, token| {
                let project = visible_project(store, token, &name)?;
                let target = visible_deployment(store, token, &project, id)?;
                prepare(
                    store,
                    token,
                    kind,
                    Target::Id(target.id),
                    body.reason,
                    Asked { dry_run, watch },
                    project.name,
                )
            },
        )
        .await?;
    launch(&app, prepared, wait).await
}

async fn rollback_latest(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let query = Query::parse(query.as_deref(), &["wait", "dry_run", "watch"])?;
    let (wait, dry_run) = (query.flag("wait")?, query.flag("dry_run")?);
    let watch = query.duration("watch")?;
    let body: RollbackBody = json_body(&headers, body).await?;
    // A dry run's validation may wait on Docker.
    let prepared = app
        .call_engine(
            &headers,
            &method,
            Permission::Redeploy,
            move |store, token| {
                let project = visible_project(store, token, &name)?;
                let environment = body
                    .environment
                    .or_else(|| token.environment.clone())
                    .unwrap_or_else(|| "production".to_string());
                if visible_environment(store, token, &project, &environment)?.is_none() {
                    return Err(environment_not_found(&project, &environment));
                }
                let target = Target::MostRecent {
                    project: project.name.clone(),
                    environment,
                };
                prepare(
                    store,
                    token,
                    Kind::Rollback,
                    target,
                    body.reason,
                    Asked { dry_run, watch },
                    project.name,
                )
            },
        )
        .await?;
    launch(&app, prepared, wait).await
}

/// What a rollback or promote request asks beside its target: only the plan
/// (`?dry_run=true`), and its watch window (`?watch=DUR`).
struct Asked {
    dry_run: bool,
    watch: Option<Duration>,
}

/// The plan (dry run), or the operation to start.
fn prepare(
    store: &mut Store,
    token: &Token,
    kind: Kind,
    target: Target,
    reason: Option<String>,
    asked: Asked,
    project: String,
) -> Result<Prepared, ApiError> {
    let Asked { dry_run, watch } = asked;
    if dry_run {
        let plan = tokio::runtime::Handle::current()
            .block_on(redeploy::dry_run(store, kind, &target, &AssumeYes))?;
        return Ok(Prepared::Plan(documents::plan(&plan)));
    }
    Ok(Prepared::Job(
        Box::new(Job::Redeploy(
            redeploy::Request {
                kind,
                target,
                reason,
                created_by: token.actor(),
                wait_lock: None,
                health_timeout: None,
                keep_replaced_warm: true,
            },
            watch,
        )),
        project,
    ))
}

/// Start the operation: 202 with the record once it is recorded (or 200 with the
/// final record with `?wait=true`), or the error that stopped it.
async fn launch(app: &Arc<App>, prepared: Prepared, wait: bool) -> Answer {
    let (job, project) = match prepared {
        Prepared::Plan(plan) => return Ok(Json(plan).into_response()),
        Prepared::Job(job, project) => (job, project),
    };
    let started = operations::start(app, app.db.clone(), *job).await?;
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

async fn variables_list(
    State(app): State<Arc<App>>,
    Path((name, env)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
) -> Answer {
    let query = Query::parse(query.as_deref(), &["reveal"])?;
    let reveal = query.flag("reveal")?;
    let permission = if reveal {
        Permission::Admin
    } else {
        Permission::Read
    };
    let doc = app
        .call(&headers, &method, permission, move |store, token| {
            let project = visible_project(store, token, &name)?;
            let values = match visible_environment(store, token, &project, &env)? {
                Some(id) => store.variables(id)?,
                None => BTreeMap::new(),
            };
            Ok(documents::variables(&project.name, &env, &values, reveal))
        })
        .await?;
    Ok(Json(doc).into_response())
}

async fn variables_set(
    State(app): State<Arc<App>>,
    Path((name, env)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let bytes = read_body(&headers, body).await?;
    // Values are secrets: a parse error says where, never what.
    let pairs: BTreeMap<String, String> = serde_json::from_slice(&bytes).map_err(|_| {
        ApiError::bad_request("the body must be one JSON object of names to string values")
            .hint(r#"like {"DATABASE_URL": "postgres://…", "LOG_LEVEL": "info"}"#)
    })?;
    if pairs.is_empty() {
        return Err(
            ApiError::bad_request("no variables given").hint(r#"like {"LOG_LEVEL": "info"}"#)
        );
    }
    let doc = app
        .call(&headers, &method, Permission::Admin, move |store, token| {
            let project = visible_project(store, token, &name)?;
            check_name("environment", &env)?;
            if !token.sees(&project.name, &env) {
                return Err(environment_not_found(&project, &env));
            }
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
            let id = store.environment(project.id, &env)?.map(|e| e.id);
            let values = match id {
                Some(id) => store.variables(id)?,
                None => BTreeMap::new(),
            };
            Ok(documents::variables(&project.name, &env, &values, false))
        })
        .await?;
    Ok(Json(doc).into_response())
}

async fn variables_unset(
    State(app): State<Arc<App>>,
    Path((name, env, key)): Path<(String, String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Answer {
    app.call(&headers, &method, Permission::Admin, move |store, token| {
        let project = visible_project(store, token, &name)?;
        variables::check_key(&key)?;
        if visible_environment(store, token, &project, &env)?.is_none() {
            return Err(environment_not_found(&project, &env));
        }
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
            _ => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{key} is not set on {}/{env}", project.name),
            )
            .hint("GET the environment's variables to see their names")),
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

/// The project, if it exists for this token; otherwise exactly what an unknown
/// project answers.
fn visible_project(store: &Store, token: &Token, name: &str) -> Result<Project, ApiError> {
    check_name("project", name)?;
    if !token.sees_project(name) {
        return Err(project_not_found(name).into());
    }
    Ok(store.project(name)?)
}

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

fn environment_not_found(project: &Project, env: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("project `{}` has no environment `{env}`", project.name),
    )
    .hint(format!(
        "GET /api/projects/{} lists its environments",
        project.name
    ))
}

/// The deployment, if it belongs to `project` and exists for this token; otherwise
/// exactly what an unknown id answers.
fn visible_deployment(
    store: &Store,
    token: &Token,
    project: &Project,
    id: i64,
) -> Result<Deployment, ApiError> {
    match store.deployment(id)? {
        Some(d) if d.project == project.name && token.sees(&d.project, &d.environment) => Ok(d),
        _ => Err(redeploy::not_found_in(&project.name, id).into()),
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

fn parse_id(text: &str) -> Result<i64, ApiError> {
    match text.parse::<i64>() {
        Ok(id) if id > 0 && text.len() <= 19 => Ok(id),
        _ => Err(ApiError::bad_request(format!(
            "`{}` is not a deployment id",
            text.chars().take(40).collect::<String>()
        ))
        .hint("ids are positive integers, as `list` shows them")),
    }
}

// ---- input ----

/// A request's query string: only the names a route knows, each once.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(query: Option<&str>, known: &[&str]) -> Result<Query, ApiError> {
        let mut pairs = Vec::new();
        for part in query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            if !known.contains(&name) {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter `{}`",
                    name.chars().take(40).collect::<String>()
                ))
                .hint(format!("this route takes: {}", known.join(", "))));
            }
            if pairs.iter().any(|(n, _)| n == name) {
                return Err(ApiError::bad_request(format!("`{name}` is given twice")));
            }
            pairs.push((name.to_string(), value.to_string()));
        }
        Ok(Query(pairs))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name) {
            None | Some("false" | "0") => Ok(false),
            Some("" | "true" | "1") => Ok(true),
            Some(_) => Err(ApiError::bad_request(format!("`{name}` is true or false"))),
        }
    }

    /// A duration like `5m` or `30s` (at most a day); `None` when not given.
    fn duration(&self, name: &str) -> Result<Option<std::time::Duration>, ApiError> {
        self.get(name)
            .map(|text| {
                crate::clock::parse_duration(text).map_err(|why| {
                    ApiError::bad_request(format!(
                        "`{name}`: {}",
                        why.chars().take(120).collect::<String>()
                    ))
                    .hint(format!("like `?{name}=5m` (`0s` for none)"))
                })
            })
            .transpose()
    }
}

/// The body, at most 64 KiB; an empty body is `{}`. A body must say it is JSON.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<axum::body::Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(ApiError::too_large());
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|err| {
        let too_large = std::error::Error::source(&err)
            .is_some_and(|e| e.is::<http_body_util::LengthLimitError>());
        if too_large {
            ApiError::too_large()
        } else {
            ApiError::bad_request("the request body could not be read")
        }
    })?;
    if bytes.is_empty() {
        return Ok(axum::body::Bytes::from_static(b"{}"));
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(ApiError::unsupported_media_type());
    }
    Ok(bytes)
}

async fn json_body<T: DeserializeOwned>(headers: &HeaderMap, body: Body) -> Result<T, ApiError> {
    let bytes = read_body(headers, body).await?;
    // Every route's body is one object: serde would also take its fields as an array.
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        return Err(ApiError::bad_request("the body must be one JSON object")
            .hint("see the README (HTTP API) for each route's fields"));
    }
    serde_json::from_slice(&bytes).map_err(|err| {
        ApiError::bad_request(format!("the body is not the JSON this route takes: {err}"))
            .hint("see the README (HTTP API) for each route's fields")
    })
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

    #[test]
    fn queries_take_only_known_names_once() {
        let flag = |q: &str| Query::parse(Some(q), &["wait"]).and_then(|q| q.flag("wait"));
        assert!(flag("wait=true").unwrap());
        assert!(flag("wait").unwrap());
        assert!(!flag("").unwrap());
        assert!(flag("wat=1").is_err());
        assert!(flag("wait=1&wait=0").is_err());
        assert!(flag("wait=maybe").is_err());
    }

    #[test]
    fn ids_are_positive_integers() {
        assert_eq!(parse_id("41").unwrap(), 41);
        for bad in ["0", "-1", "abc", "1e3", "99999999999999999999", ""] {
            assert!(parse_id(bad).is_err(), "{bad}");
        }
    }
}
