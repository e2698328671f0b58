//! The static preset: a deployment is a directory copied into
//! `static/<project>/releases/<id>/` beside the database, and an environment serves the
//! release its `static/<project>/<environment>/current` symlink points at. Switching is a
//! new link renamed over the old one: atomic, and no Docker involved.

use std::path::PathBuf;

use anyhow::Result;

use super::deploy::{require_preset, DeployOutcome};
use super::hooks::HookEnv;
use super::pipeline::{self, Operation, Place, Planned};
use super::release::{copy_release, point, release_dir};
use crate::docker::Engine;
use crate::error::{check_name, clean_reason, Failure};
use crate::progress::{Progress, Stage};
use crate::store::{
    Deployment, EnvState, Environment, NewDeployment, Preset, Project, Status, Store,
};

pub struct DirRequest {
    pub project: String,
    pub environment: String,
    pub dir: PathBuf,
    pub reason: Option<String>,
    pub created_by: String,
    pub command: String,
    pub wait_lock: Option<std::time::Duration>,
}

/// A deploy of a folder, validated.
pub struct DirPlan {
    request: DirRequest,
    reason: Option<String>,
    project: Project,
}

/// Deploy a folder: validate it, then lock → reconcile → hooks → record (copy the
/// release) → point the environment at it, through the pipeline.
pub async fn deploy_dir(
    store: &mut Store,
    request: DirRequest,
    progress: &dyn Progress,
) -> Result<DeployOutcome> {
    let plan = plan(store, request, progress)?;
    pipeline::run(store, plan, progress).await
}

/// Validate a deploy of a folder, changing nothing.
pub fn plan(store: &Store, request: DirRequest, progress: &dyn Progress) -> Result<DirPlan> {
    progress.stage(Stage::Validate);
    check_name("environment", &request.environment)?;
    let reason = clean_reason(request.reason.clone())?;
    let project = store.project(&request.project)?;
    require_preset(&project, Preset::Static)?;
    if !request.dir.is_dir() {
        return Err(
            Failure::usage(format!("`{}` is not a directory", request.dir.display()))
                .hint("pass the folder your build wrote, like `--dir ./dist`")
                .into(),
        );
    }
    Ok(DirPlan {
        request,
        reason,
        project,
    })
}

impl Operation for DirPlan {
    type Planned = DirPlan;

    fn place(&self) -> Place<'_> {
        Place {
            project: &self.project,
            environment: &self.request.environment,
            command: &self.request.command,
            user: &self.request.created_by,
            wait: self.request.wait_lock,
        }
    }

    async fn plan(self, _store: &Store, _progress: &dyn Progress) -> Result<DirPlan> {
        Ok(self)
    }
}

impl Planned for DirPlan {
    type Done = DeployOutcome;

    fn project(&self) -> &Project {
        &self.project
    }

    fn action(&self) -> &'static str {
        "deploy"
    }

    fn engine(&self) -> Option<&Engine> {
        None
    }

    fn hook_env(&self) -> HookEnv {
        HookEnv {
            project: self.project.name.clone(),
            environment: self.request.environment.clone(),
            image: Some(self.request.dir.display().to_string()),
            reason: self.reason.clone(),
            user: self.request.created_by.clone(),
            ..HookEnv::default()
        }
    }

    /// The record, and the folder copied into its release (which the hooks are told).
    fn record(
        &mut self,
        store: &mut Store,
        hook_env: &mut HookEnv,
    ) -> Result<(Deployment, Environment)> {
        let (project_id, created_by) = (self.project.id, &self.request.created_by);
        let (deployment, env) = store.record(project_id, &self.request.environment, |env| {
            Ok(NewDeployment::deploy(
                project_id,
                env.id,
                created_by,
                self.reason.clone(),
            ))
        })?;
        hook_env.deployment_id = Some(deployment.id);
        let release = release_dir(&store.static_root(), &self.project.name, deployment.id);
        if let Err(err) = copy_release(&self.request.dir, &release) {
            store.finish_unsuccessful(deployment.id, Status::Failed, &format!("{err:#}"))?;
            return Err(err);
        }
        store.set_artifact(deployment.id, &release.to_string_lossy())?;
        hook_env.image = Some(release.to_string_lossy().into_owned());
        Ok((store.expect_deployment(deployment.id)?, env))
    }

    async fn switch(
        self,
        store: &mut Store,
        deployment: Deployment,
        env: Environment,
        progress: &dyn Progress,
    ) -> Result<DeployOutcome> {
        if env.state == EnvState::RolledBack {
            store.set_status(deployment.id, Status::Ready)?;
            let ready = store.expect_deployment(deployment.id)?;
            progress.recorded(&ready);
            return Ok(DeployOutcome::Ready(ready));
        }
        let root = store.static_root();
        let release = release_dir(&root, &self.project.name, deployment.id);
        if let Err(err) = point(&root, &self.project.name, &env.name, &release) {
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
}
