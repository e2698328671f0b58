//! Rollback and promote: run an earlier deployment's image (or release) again.
//!
//! Both validate everything before changing anything, record a new deployment, and swap
//! exactly as a deploy does. A rollback leaves the environment `rolled_back`, so that new
//! deploys are recorded `ready` instead of undoing it; a promote returns it to `normal`.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use super::hooks::{self, HookEnv};
use super::swap::{self, Swap};
use super::{clean_reason, static_site, Progress};
use crate::docker::{Engine, ImageFacts};
use crate::error::Failure;
use crate::store::{
    digest, Deployment, EnvState, Environment, NewDeployment, Preset, Project, Status, Store,
};

pub use super::gate::Kind;
use super::gate::{self, Facts, Refusal};

/// A validated rollback or promote, ready to confirm and execute.
pub struct Plan {
    pub kind: Kind,
    pub project: Project,
    pub environment: Environment,
    pub current: Option<Deployment>,
    pub target: Deployment,
    /// Variables whose current value differs from what the target ran with (names only).
    pub changed_variables: Vec<String>,
    /// Promote of the deployment that serves already: only the state changes.
    pub only_clears_state: bool,
    /// What speaks against the target (a rollback left it; it runs what serves now).
    pub marks: Vec<gate::Mark>,
    image: Option<ImageFacts>,
    engine: Option<Engine>,
}

impl Plan {
    /// The engine the validation connected to (docker preset).
    pub fn engine(&self) -> Option<&Engine> {
        self.engine.as_ref()
    }
}

/// The project and environment of a deployment, or exit 3.
pub fn locate(store: &Store, target_id: i64) -> Result<(Project, String)> {
    let target = store
        .deployment(target_id)?
        .ok_or_else(|| not_found(target_id))?;
    Ok((store.project(&target.project)?, target.environment))
}

fn not_found(target_id: i64) -> Failure {
    Failure::not_found(format!("deployment #{target_id} does not exist"))
        .hint("`temps list PROJECT` shows the deployments and their ids")
}

/// Validate a rollback or promote to deployment `target_id`, changing nothing.
pub async fn plan(store: &Store, kind: Kind, target_id: i64) -> Result<Plan> {
    let target = store
        .deployment(target_id)?
        .ok_or_else(|| not_found(target_id))?;
    let project = store.project(&target.project)?;
    let environment = store.environment_by_id(target.environment_id)?;
    let list = format!(
        "`temps list {} --environment {}`",
        project.name, environment.name
    );
    let is_current = environment.current_deployment_id == Some(target_id);
    let facts = Facts {
        is_current,
        present: None,
    };
    match gate::decide(kind, &target, facts) {
        Ok(()) => {}
        Err(Refusal::Status(status)) => {
            return Err(Failure::refused(format!(
                "cannot {} #{target_id}: it is {status}, and only {} deployments can be",
                kind.verb(),
                kind.allowed_statuses()
            ))
            .hint(format!("pick another deployment from {list}"))
            .into())
        }
        Err(Refusal::IsCurrent) => {
            return Err(Failure::refused(format!(
                "#{target_id} is what {} serves already",
                environment.name
            ))
            .hint(format!("roll back to an earlier deployment: {list}"))
            .into())
        }
        // Not known before the image or release is looked at, below.
        Err(Refusal::Gone) => {}
    }
    let current = match environment.current_deployment_id {
        Some(id) => store.deployment(id)?,
        None => None,
    };
    let changed_variables = changed_variables(&store.variables(environment.id)?, &target);
    let marks = gate::Marker::new(store, &environment)?.marks(&target);
    let mut plan = Plan {
        kind,
        project,
        environment,
        current,
        target,
        changed_variables,
        only_clears_state: is_current,
        marks,
        image: None,
        engine: None,
    };
    if plan.only_clears_state {
        return Ok(plan);
    }
    match plan.project.preset {
        Preset::Static => check_release(&plan)?,
        Preset::Docker => {
            let engine = Engine::connect().await?;
            plan.image = Some(check_image(&engine, &plan).await?);
            plan.engine = Some(engine);
        }
    }
    Ok(plan)
}

/// The rollback targets of an environment, newest first, with what speaks against each
/// (see `gate::candidates`).
pub fn rollback_candidates(
    store: &Store,
    project: &str,
    environment: &str,
) -> Result<(Environment, Vec<gate::Candidate>)> {
    let project = store.project(project)?;
    let env = store.environment(project.id, environment)?.ok_or_else(|| {
        Failure::not_found(format!(
            "project `{}` has no environment `{environment}`",
            project.name
        ))
        .hint(format!(
            "`temps status {}` shows its environments",
            project.name
        ))
    })?;
    let candidates = gate::candidates(store, &env)?;
    Ok((env, candidates))
}

fn check_release(plan: &Plan) -> Result<(), Failure> {
    let release = plan.target.artifact.as_deref().map(Path::new);
    if gate_allows(plan, release.is_some_and(Path::is_dir)) {
        return Ok(());
    }
    Err(Failure::refused(format!(
        "the release of #{} (`{}`) is gone",
        plan.target.id,
        release.map_or("?".into(), |r| r.display().to_string())
    ))
    .hint(format!(
        "deploy the files again: `temps deploy {} --dir PATH{}`",
        plan.project.name,
        env_flag(&plan.environment)
    )))
}

/// The target's image, by the id recorded at deploy time: never re-resolve the tag.
async fn check_image(engine: &Engine, plan: &Plan) -> Result<ImageFacts> {
    let target = &plan.target;
    let image_id = target.image_id.as_deref().unwrap_or_default();
    let image = match image_id {
        "" => None,
        id => engine.image(id).await?,
    };
    match image {
        Some(image) if gate_allows(plan, true) => Ok(image),
        _ => {
            let reference = target.image.as_deref().unwrap_or("IMAGE");
            Err(Failure::refused(format!(
                "the image of #{} ({reference}, {}) is no longer on this host",
                target.id,
                short_id(image_id)
            ))
            .hint(format!(
                "redeploy from source: `temps deploy {} --image {reference}{}` (after building or pulling it)",
                plan.project.name,
                env_flag(&plan.environment)
            ))
            .into())
        }
    }
}

/// The gate's word once the image or release has been looked for.
fn gate_allows(plan: &Plan, present: bool) -> bool {
    let facts = Facts {
        is_current: plan.only_clears_state,
        present: Some(present),
    };
    gate::decide(plan.kind, &plan.target, facts).is_ok()
}

fn env_flag(env: &Environment) -> String {
    if env.name == "production" {
        String::new()
    } else {
        format!(" --environment {}", env.name)
    }
}

/// `sha256:0123456789ab` → `0123456789ab`.
pub fn short_id(image_id: &str) -> &str {
    let hex = image_id.strip_prefix("sha256:").unwrap_or(image_id);
    &hex[..hex.len().min(12)]
}

fn changed_variables(
    now: &std::collections::BTreeMap<String, String>,
    target: &Deployment,
) -> Vec<String> {
    let then = &target.variables_digest;
    let mut names: Vec<String> = now
        .iter()
        .filter(|(k, v)| then.get(*k) != Some(&digest(k, v)))
        .map(|(k, _)| k.clone())
        .chain(then.keys().filter(|k| !now.contains_key(*k)).cloned())
        .collect();
    names.sort();
    names
}

/// Carry out a validated plan.
pub async fn execute(
    store: &mut Store,
    plan: Plan,
    reason: Option<String>,
    created_by: String,
    health_timeout: Option<Duration>,
    progress: &dyn Progress,
) -> Result<Deployment> {
    let reason = clean_reason(reason)?;
    let Plan {
        kind,
        project,
        target,
        image,
        engine,
        only_clears_state,
        current,
        ..
    } = plan;
    if only_clears_state {
        store.set_state(target.environment_id, EnvState::Normal)?;
        return store.expect_deployment(target.id);
    }
    let action = match kind {
        Kind::Rollback => "rollback",
        Kind::Promote => "promote",
    };
    let mut hook_env = HookEnv {
        project: project.name.clone(),
        environment: target.environment.clone(),
        image: target.image.clone().or_else(|| target.artifact.clone()),
        rolled_back_from_id: (kind == Kind::Rollback)
            .then(|| current.as_ref().map(|c| c.id))
            .flatten(),
        rolled_back_to_id: (kind == Kind::Rollback).then_some(target.id),
        promoted_id: (kind == Kind::Promote).then_some(target.id),
        reason: reason.clone(),
        user: created_by.clone(),
        ..HookEnv::default()
    };
    hooks::pre(&project, action, &hook_env, progress)?;
    let result = async {
        let (deployment, env) = store.record(project.id, &target.environment, |env| {
            if env.current_deployment_id == Some(target.id) && kind == Kind::Rollback {
                return Err(
                    Failure::refused(format!("#{} started serving meanwhile", target.id)).into(),
                );
            }
            Ok(NewDeployment {
                project_id: project.id,
                environment_id: env.id,
                image: target.image.clone(),
                image_id: target.image_id.clone(),
                // The spec records a rollback or promote as deploying from the start.
                status: Status::Deploying,
                is_rollback: kind == Kind::Rollback,
                rolled_back_from_id: (kind == Kind::Rollback)
                    .then_some(env.current_deployment_id)
                    .flatten(),
                rolled_back_to_id: (kind == Kind::Rollback).then_some(target.id),
                is_promote: kind == Kind::Promote,
                promoted_id: (kind == Kind::Promote).then_some(target.id),
                created_by: created_by.clone(),
                reason: reason.clone(),
            })
        })?;
        hook_env.deployment_id = Some(deployment.id);
        let proxy_mode = super::swap::ProxyMode::of(&env);
        let state_after = match kind {
            Kind::Rollback => EnvState::RolledBack,
            Kind::Promote => EnvState::Normal,
        };
        let previous = match env.current_deployment_id {
            Some(id) => store.deployment(id)?,
            None => None,
        };
        match (project.preset, engine, image) {
            (Preset::Docker, Some(engine), Some(image)) => {
                swap::pin(&engine, store, &project, &deployment, &image).await?;
                swap::run(
                    &engine,
                    store,
                    Swap {
                        project: &project,
                        environment: &env,
                        deployment,
                        image: &image,
                        previous,
                        publish: env.publish.as_ref(),
                        proxy: proxy_mode.as_ref(),
                        health_timeout: health_timeout.unwrap_or(project.health_timeout),
                        state_after,
                    },
                    progress,
                )
                .await
            }
            (Preset::Docker, _, _) => {
                let reason = "the validation did not connect to Docker";
                store.finish_unsuccessful(deployment.id, Status::Failed, reason)?;
                Err(anyhow::anyhow!("deployment #{}: {reason}", deployment.id))
            }
            (Preset::Static, _, _) => {
                let release = target.artifact.clone().unwrap_or_default();
                store.set_artifact(deployment.id, &release)?;
                progress.step(&format!("pointing {} at release #{}", env.name, target.id));
                let root = store.static_root();
                if let Err(err) =
                    static_site::point(&root, &project.name, &env.name, Path::new(&release))
                {
                    store.finish_unsuccessful(
                        deployment.id,
                        Status::Failed,
                        &format!("{err:#}"),
                    )?;
                    return Err(err);
                }
                store.route(deployment.id, env.id, state_after, None)
            }
        }
    }
    .await;
    hooks::post(&project, action, &hook_env, result, progress)
}
