//! The static preset: a deployment is a directory copied into
//! `static/<project>/releases/<id>/` beside the database, and an environment serves the
//! release its `static/<project>/<environment>/current` symlink points at. Switching is a
//! new link renamed over the old one: atomic, and no Docker involved.

use std::path::PathBuf;

use anyhow::Result;

use super::deploy::{require_preset, DeployOutcome};
use super::hooks::{self, HookEnv};
use super::lock::Asker;
use super::recover::take_environment;
use super::release::{copy_release, point, release_dir};
use crate::error::clean_reason;
use crate::error::{check_name, Failure};
use crate::progress::Stage;
use crate::store::{EnvState, NewDeployment, Preset, Status, Store};

pub struct DirRequest {
    pub project: String,
    pub environment: String,
    pub dir: PathBuf,
    pub reason: Option<String>,
    pub created_by: String,
    pub command: String,
    pub wait_lock: Option<std::time::Duration>,
}

pub async fn deploy_dir(
    store: &mut Store,
    request: DirRequest,
    progress: &dyn crate::progress::Progress,
) -> Result<DeployOutcome> {
    progress.stage(Stage::Validate);
    check_name("environment", &request.environment)?;
    let reason = clean_reason(request.reason)?;
    let project = store.project(&request.project)?;
    require_preset(&project, Preset::Static)?;
    if !request.dir.is_dir() {
        return Err(
            Failure::usage(format!("`{}` is not a directory", request.dir.display()))
                .hint("pass the folder your build wrote, like `--dir ./dist`")
                .into(),
        );
    }
    let lock = take_environment(
        store,
        None,
        &project,
        &request.environment,
        &Asker {
            command: &request.command,
            user: &request.created_by,
            wait: request.wait_lock,
        },
        progress,
    )
    .await?;
    let mut hook_env = HookEnv {
        project: project.name.clone(),
        environment: request.environment.clone(),
        image: Some(request.dir.display().to_string()),
        reason: reason.clone(),
        user: request.created_by.clone(),
        ..HookEnv::default()
    };
    progress.stage(Stage::PreHook);
    hooks::pre(&project, "deploy", &hook_env, progress)?;
    let result = async {
        progress.stage(Stage::Record);
        let (deployment, env) = store.record(project.id, &request.environment, |env| {
            Ok(NewDeployment::deploy(
                project.id,
                env.id,
                &request.created_by,
                reason.clone(),
            ))
        })?;
        hook_env.deployment_id = Some(deployment.id);
        let root = store.static_root();
        let release = release_dir(&root, &project.name, deployment.id);
        if let Err(err) = copy_release(&request.dir, &release) {
            store.finish_unsuccessful(deployment.id, Status::Failed, &format!("{err:#}"))?;
            return Err(err);
        }
        store.set_artifact(deployment.id, &release.to_string_lossy())?;
        hook_env.image = Some(release.to_string_lossy().into_owned());
        if env.state == EnvState::RolledBack {
            store.set_status(deployment.id, Status::Ready)?;
            let ready = store.expect_deployment(deployment.id)?;
            progress.recorded(&ready);
            return Ok(DeployOutcome::Ready(ready));
        }
        if let Err(err) = point(&root, &project.name, &env.name, &release) {
            store.finish_unsuccessful(deployment.id, Status::Failed, &format!("{err:#}"))?;
            return Err(err);
        }
        Ok(DeployOutcome::Serving(store.route(
            deployment.id,
            env.id,
            EnvState::Normal,
            None,
        )?))
    }
    .await;
    progress.stage(Stage::PostHook);
    let outcome = hooks::post(&project, "deploy", &hook_env, result, progress);
    drop(lock);
    outcome
}
