//! The routes that start an operation: deploy, roll back (to an id, or to the most
//! recent valid target), promote. Each checks its input, then starts the very pipeline
//! the command line runs (`operations::start`) and answers 202 with the record, or the
//! end with `?wait=true`, or the plan with `?dry_run=true`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;

use super::{visible_environment, Answer};
use crate::api::app::App;
use crate::api::auth::{environment_not_found, Deploy, InDeployment, InProject, Redeploy};
use crate::api::error::ApiError;
use crate::api::input::{Document, Flag, JsonBody, Params, Window};
use crate::api::operations::{self, Job, Operation, Started};
use crate::error::check_name;
use crate::error::clean_reason;
use crate::ops::access::tokens::Token;
use crate::ops::deploy::DeployRequest;
use crate::ops::gate::Kind;
use crate::ops::redeploy::{self, AssumeYes, Target};
use crate::ops::view::documents;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeployQuery {
    wait: Option<Flag>,
    watch: Option<Window>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RedeployQuery {
    wait: Option<Flag>,
    dry_run: Option<Flag>,
    watch: Option<Window>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeployBody {
    image: String,
    environment: Option<String>,
    reason: Option<String>,
}

impl Document for DeployBody {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RedeployBody {
    reason: Option<String>,
    /// Below the database's schema floor: the down migrations were run.
    accept_schema: Option<bool>,
}

impl Document for RedeployBody {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RollbackBody {
    environment: Option<String>,
    reason: Option<String>,
    accept_schema: Option<bool>,
}

impl Document for RollbackBody {}

pub(super) async fn deploy(
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
        health_timeout: None,
        tls: None,
        hsts: None,
        schema: None,
        schema_compat: None,
    };
    let job = Job {
        operation: Operation::Deploy(Box::new(request)),
        project: project.name,
        watch: query.watch.map(|w| w.0),
    };
    launch(&app, job, query.wait.unwrap_or_default().0).await
}

pub(super) async fn rollback_to(
    State(app): State<Arc<App>>,
    at: InDeployment<Redeploy>,
    Params(query): Params<RedeployQuery>,
    JsonBody(body): JsonBody<RedeployBody>,
) -> Answer {
    redeploy_found(app, Kind::Rollback, at, query, body).await
}

pub(super) async fn promote(
    State(app): State<Arc<App>>,
    at: InDeployment<Redeploy>,
    Params(query): Params<RedeployQuery>,
    JsonBody(body): JsonBody<RedeployBody>,
) -> Answer {
    redeploy_found(app, Kind::Promote, at, query, body).await
}

/// A rollback to, or promote of, the deployment the request found: it is passed on,
/// not looked up again.
async fn redeploy_found(
    app: Arc<App>,
    kind: Kind,
    at: InDeployment<Redeploy>,
    query: RedeployQuery,
    body: RedeployBody,
) -> Answer {
    let InDeployment {
        token,
        project,
        deployment,
        ..
    } = at;
    let target = Target::Found {
        id: deployment.id,
        project: Box::new(project),
        environment: deployment.environment,
    };
    let asked = Asked {
        reason: body.reason,
        accept_schema: body.accept_schema.unwrap_or_default(),
    };
    redeploy(&app, kind, target, token, query, asked).await
}

pub(super) async fn rollback_latest(
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
        environment,
    };
    let asked = Asked {
        reason: body.reason,
        accept_schema: body.accept_schema.unwrap_or_default(),
    };
    redeploy(&app, Kind::Rollback, target, token, query, asked).await
}

/// What a rollback or promote body asks beyond its target.
struct Asked {
    reason: Option<String>,
    /// The caller ran the down migrations: a target below the database's schema floor
    /// is accepted (and recorded with the token's actor).
    accept_schema: bool,
}

/// A rollback or promote: its plan with `?dry_run=true` (which may wait on Docker),
/// else the operation, started.
async fn redeploy(
    app: &Arc<App>,
    kind: Kind,
    target: Target,
    token: Token,
    query: RedeployQuery,
    asked: Asked,
) -> Answer {
    let reason = clean_reason(asked.reason)?;
    let accept_schema = asked.accept_schema;
    if query.dry_run.unwrap_or_default().0 {
        let plan = app
            .read_engine(move |store| {
                let plan = tokio::runtime::Handle::current().block_on(redeploy::dry_run(
                    store,
                    kind,
                    &target,
                    accept_schema,
                    &AssumeYes,
                ))?;
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
            keep_replaced_warm: true,
            accept_schema,
        }),
        project,
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
