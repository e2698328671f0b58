//! The static preset: a deployment is a directory copied into
//! `static/<project>/releases/<id>/` beside the database, and an environment serves the
//! release its `static/<project>/<environment>/current` symlink points at. Switching is a
//! new link renamed over the old one: atomic, and no Docker involved.

use std::path::PathBuf;

use anyhow::Result;

use crate::docker::Engine;
use crate::error::{check_name, clean_reason, Failure};
use crate::ops::deploy::{
    declared_schema, require_preset, Deliver, Deploy, DeployOutcome, Deploying,
};
use crate::ops::pipeline;
use crate::ops::pipeline::hooks::HookEnv;
use crate::ops::release::{copy_release, point, release_dir};
use crate::progress::{Progress, Stage};
use crate::schema_version::SchemaVersion;
use crate::store::{Deployment, EnvState, Environment, NewDeployment, Preset, Status, Store};

pub struct DirRequest {
    pub project: String,
    pub environment: String,
    pub dir: PathBuf,
    pub reason: Option<String>,
    pub created_by: String,
    pub command: String,
    pub wait_lock: Option<std::time::Duration>,
    /// `--schema`, `--schema-compat`: a folder has no labels.
    pub schema: Option<SchemaVersion>,
    pub schema_compat: Option<SchemaVersion>,
}

/// A folder to deploy, validated.
pub struct Folder {
    dir: PathBuf,
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
pub fn plan(store: &Store, request: DirRequest, progress: &dyn Progress) -> Result<Deploy<Folder>> {
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
    let schema = declared_schema(request.schema, request.schema_compat, None)?;
    Ok(Deploy {
        asked: Deploying {
            project,
            environment: request.environment,
            command: request.command,
            created_by: request.created_by,
            wait_lock: request.wait_lock,
            reason,
            what: request.dir.display().to_string(),
            schema,
        },
        kind: Folder { dir: request.dir },
    })
}

impl Deliver for Folder {
    fn engine(&self) -> Option<&Engine> {
        None
    }

    fn fill(&self, new: NewDeployment) -> NewDeployment {
        new
    }

    /// The folder, copied into the deployment's release (which the hooks are told).
    async fn recorded(
        &self,
        store: &mut Store,
        asked: &Deploying,
        deployment: &Deployment,
        hook_env: &mut HookEnv,
    ) -> Result<()> {
        let release = release_dir(&store.static_root(), &asked.project.name, deployment.id);
        if let Err(err) = copy_release(&self.dir, &release) {
            store.finish_unsuccessful(deployment.id, Status::Failed, &format!("{err:#}"))?;
            return Err(err);
        }
        store.set_artifact(deployment.id, &release.to_string_lossy())?;
        hook_env.image = Some(release.to_string_lossy().into_owned());
        Ok(())
    }

    /// The environment's `current` link, renamed over to the release.
    async fn switch(
        self,
        asked: Deploying,
        store: &mut Store,
        deployment: Deployment,
        env: Environment,
        _progress: &dyn Progress,
    ) -> Result<DeployOutcome> {
        let root = store.static_root();
        let release = release_dir(&root, &asked.project.name, deployment.id);
        if let Err(err) = point(&root, &asked.project.name, &env.name, &release) {
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
