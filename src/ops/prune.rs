//! `temps prune`: per environment, keep the newest N successful deployments (deployed,
//! completed or ready) and the current one; for the others, remove their stopped
//! containers, their `temps/<project>:<id>` tags and their static releases. The history
//! itself is kept: a pruned deployment stays listed, and no longer rolls back.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use crate::docker::{pin_repository, Engine};
use crate::ops::pipeline::lock::Asker;
use crate::ops::pipeline::recover::take_environment;
use crate::progress::Progress;
use crate::store::{Deployment, Preset, Status, Store};

pub struct PruneRequest {
    pub project: String,
    pub keep: usize,
    pub dry_run: bool,
    pub command: String,
    /// Who prunes (for whoever finds the environment busy).
    pub created_by: String,
    pub wait_lock: Option<Duration>,
}

/// What was (or, with `--dry-run`, would be) removed for one deployment.
#[derive(Debug, Serialize)]
pub struct Pruned {
    pub deployment_id: i64,
    pub environment: String,
    pub containers: Vec<String>,
    pub tags: Vec<String>,
    pub releases: Vec<String>,
}

pub async fn prune(
    store: &mut Store,
    request: PruneRequest,
    progress: &dyn Progress,
) -> Result<Vec<Pruned>> {
    let project = store.project(&request.project)?;
    let engine = match project.preset {
        Preset::Docker => Some(Engine::connect().await?),
        Preset::Static => None,
    };
    let mut pruned = Vec::new();
    for env in store.environments(project.id)? {
        let _lock = match request.dry_run {
            true => None,
            false => Some(
                take_environment(
                    store,
                    engine.as_ref(),
                    &project,
                    &env.name,
                    &Asker {
                        command: &request.command,
                        user: &request.created_by,
                        wait: request.wait_lock,
                    },
                    progress,
                )
                .await?,
            ),
        };
        let env = store.environment_by_id(env.id)?;
        let mut history = Vec::new();
        store.each_deployment(project.id, Some(env.id), 0, |d| {
            history.push(d);
            Ok(())
        })?;
        let (kept, candidates) = split(history, env.current_deployment_id, request.keep);
        // A release may be shared: a static rollback points at its target's folder.
        let kept_releases: HashSet<&str> =
            kept.iter().filter_map(|d| d.artifact.as_deref()).collect();
        // So may containers: a rollback to a warm standby serves from its target's.
        let kept_containers: HashSet<&String> = kept.iter().flat_map(|d| &d.containers).collect();
        let (containers, tags) = match &engine {
            Some(engine) => {
                let names: HashSet<String> = engine
                    .project_containers(&project.name)
                    .await?
                    .into_iter()
                    .map(|c| c.name)
                    .collect();
                (names, engine.images().await?.1)
            }
            None => Default::default(),
        };
        for d in &candidates {
            let tag = format!("{}:{}", pin_repository(&project.name), d.id);
            let item = Pruned {
                deployment_id: d.id,
                environment: env.name.clone(),
                containers: d
                    .containers
                    .iter()
                    .filter(|c| containers.contains(*c) && !kept_containers.contains(c))
                    .cloned()
                    .collect(),
                // A kept deployment serving from this one's warm containers runs its
                // image, pinned by this one's tag (the warm path tags nothing).
                tags: if tags.contains(&tag)
                    && !d.containers.iter().any(|c| kept_containers.contains(c))
                {
                    vec![tag]
                } else {
                    Vec::new()
                },
                releases: d
                    .artifact
                    .iter()
                    .filter(|a| !kept_releases.contains(a.as_str()) && Path::new(a).is_dir())
                    .cloned()
                    .collect(),
            };
            if item.containers.is_empty() && item.tags.is_empty() && item.releases.is_empty() {
                continue;
            }
            if !request.dry_run {
                remove(engine.as_ref(), &item, progress).await?;
                if !item.containers.is_empty() {
                    store.end_standby(d.id)?;
                }
            }
            pruned.push(item);
        }
    }
    Ok(pruned)
}

/// Keep the newest `keep` successful deployments, and the current one whatever `keep`
/// says; the rest go.
fn split(
    history: Vec<Deployment>,
    current: Option<i64>,
    keep: usize,
) -> (Vec<Deployment>, Vec<Deployment>) {
    let mut kept = Vec::new();
    let mut gone = Vec::new();
    let mut successful = 0;
    for d in history {
        let is_successful = matches!(
            d.status,
            Status::Deployed | Status::Completed | Status::Ready
        );
        if Some(d.id) == current {
            // Never pruned, and one of the newest N when it counts as successful.
            successful += usize::from(is_successful);
            kept.push(d);
        } else if is_successful && successful < keep {
            successful += 1;
            kept.push(d);
        } else if matches!(d.status, Status::Pending | Status::Deploying) {
            // Still running, or left by a crash that recovery will handle: not ours to touch.
            kept.push(d);
        } else {
            gone.push(d);
        }
    }
    (kept, gone)
}

async fn remove(engine: Option<&Engine>, item: &Pruned, progress: &dyn Progress) -> Result<()> {
    if let Some(engine) = engine {
        for container in &item.containers {
            progress.step(&format!("removing {container}"));
            engine.remove(container).await?;
        }
        for tag in &item.tags {
            progress.step(&format!("removing tag {tag}"));
            engine.untag(tag).await?;
        }
    }
    for release in &item.releases {
        progress.step(&format!("removing {release}"));
        std::fs::remove_dir_all(release)
            .map_err(|e| anyhow::anyhow!("removing the release `{release}`: {e}"))?;
    }
    Ok(())
}
