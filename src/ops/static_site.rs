//! The static preset: a deployment is a directory copied into
//! `static/<project>/releases/<id>/` beside the database, and an environment serves the
//! release its `static/<project>/<environment>/current` symlink points at. Switching is a
//! new link renamed over the old one: atomic, and no Docker involved.

use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::deploy::{require_preset, DeployOutcome};
use super::hooks::{self, HookEnv};
use super::recover::take_environment;
use super::{clean_reason, Stage};
use crate::error::{check_name, Failure};
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

pub fn release_dir(root: &Path, project: &str, id: i64) -> PathBuf {
    root.join(project).join("releases").join(id.to_string())
}

pub fn pointer(root: &Path, project: &str, environment: &str) -> PathBuf {
    root.join(project).join(environment).join("current")
}

pub async fn deploy_dir(
    store: &mut Store,
    request: DirRequest,
    progress: &dyn super::Progress,
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
        &request.command,
        request.wait_lock,
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
            return Ok(DeployOutcome::Ready(
                store.expect_deployment(deployment.id)?,
            ));
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
    progress.stage(Stage::Unlock);
    outcome
}

/// Copy into a hidden folder first, then rename: a release is whole or absent.
fn copy_release(source: &Path, release: &Path) -> Result<()> {
    let parent = release.parent().context("a release has a parent folder")?;
    fs::create_dir_all(parent).with_context(|| format!("creating `{}`", parent.display()))?;
    let staging = parent.join(format!(
        ".incoming-{}",
        release
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    let _ = fs::remove_dir_all(&staging);
    copy_tree(source, &staging)
        .with_context(|| format!("copying `{}` into a release", source.display()))?;
    fs::rename(&staging, release)
        .with_context(|| format!("moving the release to `{}`", release.display()))
}

fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_symlink() {
            symlink(fs::read_link(entry.path())?, &target)?;
        } else {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Point the environment's `current` link at `release`, atomically.
pub fn point(root: &Path, project: &str, environment: &str, release: &Path) -> Result<()> {
    let link = pointer(root, project, environment);
    let dir = link.parent().context("the pointer has a parent folder")?;
    fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
    let staging = dir.join(format!(".current-{}", std::process::id()));
    let _ = fs::remove_file(&staging);
    symlink(release, &staging).with_context(|| format!("linking `{}`", staging.display()))?;
    fs::rename(&staging, &link).with_context(|| format!("switching `{}`", link.display()))
}

/// Where the `current` link points now, if anywhere.
pub fn pointed(root: &Path, project: &str, environment: &str) -> Option<PathBuf> {
    fs::read_link(pointer(root, project, environment)).ok()
}

/// Remove what an interrupted static deployment may have left: its staging folder, and
/// its release folder (no deployment that served ever points at it).
pub fn discard_partial(root: &Path, project: &str, id: i64) {
    let release = release_dir(root, project, id);
    if let Some(parent) = release.parent() {
        let _ = fs::remove_dir_all(parent.join(format!(".incoming-{id}")));
    }
    let _ = fs::remove_dir_all(release);
}
