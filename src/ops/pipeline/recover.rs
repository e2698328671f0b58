//! Crash recovery, and the start of every change to an environment.
//!
//! A process killed mid-operation (`kill -9`, a reboot) leaves a deployment `pending` or
//! `deploying`, maybe a half-made container, maybe the serving container stopped. The
//! next operation on that environment takes its lock and then reconciles the history with
//! what Docker runs: it removes what the dead operation made, starts the current
//! deployment again if it was stopped, stops any other temps container running there, and
//! marks the interrupted deployment `cancelled` with what it did. A warm standby (proxy
//! mode) may run until its `warm_until`; after that, this stops it like any stray.

use std::path::Path;

use anyhow::Result;

use crate::clock::now_ms;
use crate::docker::{ContainerFacts, Engine};
use crate::ops::pipeline::drift::{observe, Drift};
use crate::ops::pipeline::lock::{hold_environment, Asker, Held};
use crate::ops::{release, swap};
use crate::progress::{Progress, Stage};
use crate::store::{Deployment, Environment, Preset, Project, Status, Store};

/// Lock `project/environment` for `command` and recover what an earlier operation left.
pub async fn take_environment<'p>(
    store: &mut Store,
    engine: Option<&Engine>,
    project: &Project,
    environment: &str,
    asker: &Asker<'_>,
    progress: &'p dyn Progress,
) -> Result<Held<'p>> {
    let lock = hold_environment(store, project, environment, asker, progress)?;
    progress.stage(Stage::Reconcile);
    recover(store, engine, project, environment, progress).await?;
    Ok(lock)
}

/// Reconcile the unfinished deployments of an environment; says what it did.
pub async fn recover(
    store: &mut Store,
    engine: Option<&Engine>,
    project: &Project,
    environment: &str,
    progress: &dyn Progress,
) -> Result<Vec<String>> {
    let unfinished = store.unfinished(project.id, environment)?;
    let Some(env) = store.environment(project.id, environment)? else {
        return Ok(Vec::new());
    };
    // Docker may also disagree with the history without anything left unfinished: an
    // operation Docker went away in the middle of, a container stopped or started by
    // hand, a reboot that gave proxy upstreams new ports. Checked on every operation, at
    // the cost of one list of the project's containers.
    let current = match env.current_deployment_id {
        Some(id) => store.deployment(id)?,
        None => None,
    };
    let done = match (project.preset, engine) {
        (Preset::Docker, Some(engine)) if env.swarm => {
            swap::swarm::reconcile(store, engine, project, &env, current.as_ref(), progress).await?
        }
        (Preset::Docker, Some(engine)) => {
            let found = Found {
                env: &env,
                current: current.as_ref(),
                unfinished: &unfinished,
            };
            reconcile_containers(store, engine, project, &found, progress).await?
        }
        (Preset::Static, _) => {
            reconcile_release(store, project, &env, current.as_ref(), &unfinished)?
        }
        // A docker project without an engine: the caller connects first; nothing to do.
        (Preset::Docker, None) => return Ok(Vec::new()),
    };
    report(store, project, environment, &unfinished, done, progress)
}

/// What the history says of an environment, read once at the start of a recovery.
struct Found<'a> {
    env: &'a Environment,
    current: Option<&'a Deployment>,
    /// The deployments a dead operation left `pending` or `deploying`.
    unfinished: &'a [Deployment],
}

/// Docker on one host: remove what the dead operation made, stop strays, start a stopped
/// current again, and point the proxy route at it again. Says what it did.
async fn reconcile_containers(
    store: &mut Store,
    engine: &Engine,
    project: &Project,
    found: &Found<'_>,
    progress: &dyn Progress,
) -> Result<Vec<String>> {
    let environment = found.env.name.as_str();
    let containers: Vec<_> = engine
        .project_containers(&project.name)
        .await?
        .into_iter()
        .filter(|c| c.environment.as_deref() == Some(environment))
        .collect();
    let mut done = remove_unfinished(engine, &containers, found.unfinished).await?;
    let (drift, ended) = observe_environment(store, found, &containers)?;
    done.extend(act_on_drift(engine, project, &drift, &ended, progress).await?);
    // An interrupted swap may have stopped the current version: start it again.
    // Without one, a stopped current is drift the operation itself replaces (a
    // broken version must never block the rollback away from it); and a container
    // removed by hand cannot be started again: the operation goes on.
    let stopped = drift.iter().any(|d| matches!(d, Drift::Stopped { .. }));
    if let (false, true, Some(current)) = (found.unfinished.is_empty(), stopped, found.current) {
        match swap::start_again(engine, project, found.env, current, progress).await {
            Ok(()) => done.push(format!("started #{} again", current.id)),
            Err(err) => progress.warn(&format!(
                "could not start #{} again ({err:#}); going on",
                current.id
            )),
        }
    }
    if let (Some(listen), Some(current)) = (&found.env.proxy, found.current) {
        done.extend(point_route_again(store, engine, project, found.env, listen, current).await?);
    }
    Ok(done)
}

/// Remove the containers the unfinished deployments made themselves: a rollback to a
/// warm standby names the standby's containers, which are not its to remove.
async fn remove_unfinished(
    engine: &Engine,
    containers: &[ContainerFacts],
    unfinished: &[Deployment],
) -> Result<Vec<String>> {
    let made_by = |name: &str, id: i64| {
        containers
            .iter()
            .any(|c| c.name == name && c.deployment_id == Some(id))
    };
    let mut done = Vec::new();
    for d in unfinished {
        for container in d.containers.iter().filter(|c| made_by(c, d.id)) {
            engine.remove(container).await?;
            done.push(format!("removed {container}"));
        }
    }
    Ok(done)
}

/// The drift among the containers no unfinished deployment names, and the containers of
/// the warm standbys whose time is up.
fn observe_environment(
    store: &Store,
    found: &Found<'_>,
    containers: &[ContainerFacts],
) -> Result<(Vec<Drift>, Vec<String>)> {
    let unfinished_names: Vec<&String> = found
        .unfinished
        .iter()
        .flat_map(|d| &d.containers)
        .collect();
    let remaining: Vec<&ContainerFacts> = containers
        .iter()
        .filter(|c| !unfinished_names.contains(&&c.name))
        .collect();
    // A warm standby runs with no traffic until its time is up; then it stops, as
    // expected rather than as drift.
    let now = now_ms();
    let warm: Vec<String> = store
        .warm(found.env.id, now)?
        .into_iter()
        .flat_map(|d| d.containers)
        .collect();
    let ended: Vec<String> = store
        .ended_standbys(found.env.id, now)?
        .into_iter()
        .flat_map(|d| d.containers)
        .collect();
    Ok((observe(found.current, &warm, &remaining), ended))
}

/// Nothing the history does not know as current may run; a check container only lives
/// while its swap does. A standby whose time is up (`ended`) stops without being drift.
async fn act_on_drift(
    engine: &Engine,
    project: &Project,
    drift: &[Drift],
    ended: &[String],
    progress: &dyn Progress,
) -> Result<Vec<String>> {
    let stop_secs = project.stop_timeout.as_secs_f64().ceil() as i32;
    let mut done = Vec::new();
    for found in drift {
        match found {
            Drift::Stray { container } | Drift::LeftoverCheck { container } if found.is_check() => {
                engine.remove(container).await?;
                done.push(format!("removed {container}"));
            }
            Drift::Stray { container } if ended.contains(container) => {
                progress.step(&format!("stopping {container}: its standby ended"));
                engine.stop(container, stop_secs).await?;
            }
            Drift::Stray { container } => {
                engine.stop(container, stop_secs).await?;
                done.push(format!("stopped {container}"));
            }
            _ => {}
        }
    }
    Ok(done)
}

/// Proxy mode: route `listen` to the current containers again when the route names
/// anything else (a reboot gave them new addresses, say). Says what it did.
async fn point_route_again(
    store: &mut Store,
    engine: &Engine,
    project: &Project,
    env: &Environment,
    listen: &str,
    current: &Deployment,
) -> Result<Option<String>> {
    // The image is asked only when the project names no container port.
    let port = match (project.container_port, &current.image_id) {
        (Some(port), _) => Some(port),
        (None, Some(image)) => engine.image(image).await?.and_then(|i| i.exposed_port),
        (None, None) => None,
    };
    let Some(port) = port else {
        return Ok(None);
    };
    let mut upstreams = Vec::new();
    let mut known = Vec::new();
    for container in &current.containers {
        if let Some(choice) = swap::upstream_of(engine, container, port).await? {
            upstreams.push(choice.chosen);
            known.push(choice.known);
        }
    }
    let route = store.route_of(env.id)?;
    // Each routed address must be one of the current containers' own.
    let stale = route.as_ref().is_none_or(|r| {
        r.upstreams.len() != known.len()
            || !r.upstreams.iter().zip(&known).all(|(u, k)| k.contains(u))
            || r.deployment_id != Some(current.id)
            || r.listen != listen
    });
    if !stale || upstreams.is_empty() {
        return Ok(None);
    }
    store.set_route(env.id, listen, &upstreams, Some(current.id))?;
    Ok(Some(format!(
        "pointed the proxy route at #{} again",
        current.id
    )))
}

/// A static project: point `current` at the current deployment's release again, remove
/// a link that nothing serves, and discard what unfinished deployments half-wrote.
fn reconcile_release(
    store: &Store,
    project: &Project,
    env: &Environment,
    current: Option<&Deployment>,
    unfinished: &[Deployment],
) -> Result<Vec<String>> {
    let environment = env.name.as_str();
    let root = store.static_root();
    let pointed = release::pointed(&root, &project.name, environment);
    let mut done = Vec::new();
    match current.and_then(|c| c.artifact.as_deref().map(|a| (c.id, a))) {
        Some((id, release)) if pointed.as_deref() != Some(Path::new(release)) => {
            release::point(&root, &project.name, environment, Path::new(release))?;
            done.push(format!("pointed `current` at #{id} again"));
        }
        None if pointed.is_some() => {
            let _ = std::fs::remove_file(release::pointer(&root, &project.name, environment));
            done.push("removed a `current` link that nothing served".to_string());
        }
        _ => {}
    }
    for d in unfinished {
        release::discard_partial(&root, &project.name, d.id);
    }
    Ok(done)
}

/// Say what recovery did: as drift when nothing was unfinished, else by cancelling each
/// interrupted deployment with it as the reason.
fn report(
    store: &mut Store,
    project: &Project,
    environment: &str,
    unfinished: &[Deployment],
    done: Vec<String>,
    progress: &dyn Progress,
) -> Result<Vec<String>> {
    if unfinished.is_empty() {
        for line in &done {
            progress.warn(&format!(
                "{}/{environment} did not match the history: {line}",
                project.name
            ));
        }
        return Ok(done);
    }
    let what = if done.is_empty() {
        "nothing had changed".to_string()
    } else {
        done.join(", ")
    };
    for d in unfinished {
        store.finish_unsuccessful(
            d.id,
            Status::Cancelled,
            &format!(
                "interrupted: the process running it stopped before it finished; recovery {what}"
            ),
        )?;
        progress.warn(&format!(
            "deployment #{} on {}/{environment} was interrupted and is now cancelled; recovery {what}",
            d.id, project.name
        ));
    }
    Ok(done)
}
