//! Warm standby (proxy mode): after a switch, the replaced deployment's containers keep
//! running, with no traffic, until its `warm_until`, so that a rollback or promote to it
//! only has to switch the route. Once that time is up they stop, and stay as stopped
//! standby like any earlier version. Every operation's reconciliation stops expired ones
//! (see `recover`); so does a running `temps proxy`, through [`stop_expired`], without
//! waiting for the next operation.

use std::time::Duration;

use anyhow::Result;

use crate::clock::now_ms;
use crate::docker::Engine;
use crate::ops::pipeline::lock::{lock_environment, Asker};
use crate::progress::Progress;
use crate::store::{Environment, Preset, Project, Store};

/// How often a running proxy looks for expired standbys; `TEMPS_STANDBY_CHECK_MS`
/// shortens it (for tests).
pub fn check_interval() -> Duration {
    std::env::var("TEMPS_STANDBY_CHECK_MS")
        .ok()
        .and_then(|ms| ms.parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map_or(Duration::from_secs(30), Duration::from_millis)
}

/// Stop the containers whose standby has ended, in every environment in proxy mode; an
/// environment busy with an operation is left to that operation's reconciliation. Says
/// what it stopped.
pub async fn stop_expired(
    store: &mut Store,
    engine: &Engine,
    progress: &dyn Progress,
) -> Result<Vec<String>> {
    let mut stopped = Vec::new();
    for project in store.projects()? {
        if project.preset != Preset::Docker {
            continue;
        }
        for env in store.environments(project.id)? {
            if env.proxy.is_none() {
                continue;
            }
            if expired_running(store, engine, &env).await?.is_empty() {
                continue;
            }
            let asker = Asker {
                command: "proxy (stopping an expired standby)",
                user: "temps proxy",
                wait: None,
            };
            let Ok(_lock) = lock_environment(store, &project, &env.name, &asker, progress) else {
                continue;
            };
            // Read again under the lock: an operation may have finished meanwhile.
            let env = store.environment_by_id(env.id)?;
            for container in expired_running(store, engine, &env).await? {
                stop(engine, &project, &container).await?;
                stopped.push(format!(
                    "stopped {container} ({}/{}: its standby ended)",
                    project.name, env.name
                ));
            }
        }
    }
    Ok(stopped)
}

/// The running containers of an environment whose standby has ended and that neither
/// serve nor belong to a standby still on.
async fn expired_running(store: &Store, engine: &Engine, env: &Environment) -> Result<Vec<String>> {
    let now = now_ms();
    let ended = store.ended_standbys(env.id, now)?;
    if ended.is_empty() {
        return Ok(Vec::new());
    }
    let mut keep: Vec<String> = store
        .warm(env.id, now)?
        .into_iter()
        .flat_map(|d| d.containers)
        .collect();
    if let Some(current) = env.current_deployment_id {
        if let Some(current) = store.deployment(current)? {
            keep.extend(current.containers);
        }
    }
    let mut running = Vec::new();
    for container in ended.iter().flat_map(|d| &d.containers) {
        if keep.contains(container) || running.contains(container) {
            continue;
        }
        if engine
            .container(container)
            .await?
            .is_some_and(|c| c.running)
        {
            running.push(container.clone());
        }
    }
    Ok(running)
}

async fn stop(engine: &Engine, project: &Project, container: &str) -> Result<()> {
    let stop_secs = project.stop_timeout.as_secs_f64().ceil() as i32;
    engine.stop(container, stop_secs).await
}
