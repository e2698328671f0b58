//! The swap every docker-preset change goes through (deploy, rollback, promote):
//! create the new container, stop the serving one (kept, stopped), start the new one,
//! health-check it, and route. Any failure on the way removes what was made and starts
//! the previous version again, so the environment is never left half-switched.

use std::time::Duration;

use anyhow::Result;

use super::Progress;
use crate::clock::format_duration;
use crate::docker::{container_name, ContainerSpec, Engine};
use crate::error::{exit_status_of, ExitStatus, Failure};
use crate::health::{wait_healthy, Probe};
use crate::store::{Deployment, EnvState, Environment, Project, Status, Store};

/// A change of what serves an environment.
pub struct Swap<'a> {
    pub project: &'a Project,
    pub environment: &'a Environment,
    /// The new deployment, already recorded.
    pub deployment: Deployment,
    /// The image to run, by id, and what it says of its port and health check.
    pub image: &'a crate::docker::ImageFacts,
    /// What serves now, if anything.
    pub previous: Option<Deployment>,
    pub health_timeout: Duration,
    /// The environment's state once the new deployment serves.
    pub state_after: EnvState,
}

/// Run the swap; on success the new deployment is `deployed` and returned.
pub async fn run(
    engine: &Engine,
    store: &mut Store,
    swap: Swap<'_>,
    progress: &dyn Progress,
) -> Result<Deployment> {
    let Swap {
        project,
        environment: env,
        deployment,
        image,
        previous,
        health_timeout,
        state_after,
    } = swap;
    let id = deployment.id;
    let name = container_name(&project.name, &env.name, id);
    store.set_status(id, Status::Deploying)?;
    store.set_containers(id, std::slice::from_ref(&name))?;

    let env_pairs = store
        .variables(env.id)?
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let container_port = project.container_port.or(image.exposed_port);
    let spec = ContainerSpec {
        name: &name,
        image_id: &image.id,
        project: &project.name,
        environment: &env.name,
        deployment_id: id,
        env: env_pairs,
        container_port,
        publish: env.publish.as_ref(),
    };
    let probe = Probe::choose(
        project.health_path.as_deref(),
        image.has_healthcheck,
        container_port,
        env.publish.as_ref(),
    );

    // Create before stopping anything: a bad configuration fails while the old version
    // still serves, and the outage is only stop + start.
    progress.step(&format!("creating container {name}"));
    if let Err(err) = engine.create_container(&spec).await {
        let reason = format!("{err:#}");
        store.finish_unsuccessful(id, Status::Failed, &reason)?;
        return Err(err.context(format!("deployment #{id} failed; nothing was changed")));
    }

    let outcome = switch_over(
        engine,
        project,
        previous.as_ref(),
        &name,
        &probe,
        health_timeout,
        progress,
    )
    .await;
    match outcome {
        Ok(()) => store.route(id, env.id, state_after),
        Err(err) => {
            let reason = format!("{err:#}");
            progress.step("restoring the previous version");
            let restored = restore(engine, project, env, &name, previous.as_ref(), progress).await;
            fail(store, id, previous.as_ref(), err, &reason, restored)
        }
    }
}

/// Stop the previous containers, start the new one, wait until it is healthy.
async fn switch_over(
    engine: &Engine,
    project: &Project,
    previous: Option<&Deployment>,
    name: &str,
    probe: &Probe,
    health_timeout: Duration,
    progress: &dyn Progress,
) -> Result<()> {
    let stop_secs = project.stop_timeout.as_secs_f64().ceil() as i32;
    for old in previous
        .map(|p| p.containers.as_slice())
        .unwrap_or_default()
    {
        progress.step(&format!("stopping {old}"));
        engine.stop(old, stop_secs).await?;
    }
    progress.step(&format!("starting {name}"));
    engine.start(name).await?;
    progress.step(&format!(
        "waiting for {} (up to {})",
        probe.describe(),
        format_duration(health_timeout)
    ));
    wait_healthy(engine, name, probe, health_timeout, project.health_interval)
        .await
        .map_err(anyhow::Error::msg)
}

/// Remove the new container and bring the previous deployment back; says what happened.
async fn restore(
    engine: &Engine,
    project: &Project,
    env: &Environment,
    new_container: &str,
    previous: Option<&Deployment>,
    progress: &dyn Progress,
) -> Result<Option<i64>, String> {
    engine
        .remove(new_container)
        .await
        .map_err(|e| format!("could not remove {new_container}: {e:#}"))?;
    let Some(previous) = previous else {
        return Ok(None);
    };
    let image = match &previous.image_id {
        Some(id) => engine.image(id).await.map_err(|e| format!("{e:#}"))?,
        None => None,
    };
    let container_port = project
        .container_port
        .or(image.as_ref().and_then(|i| i.exposed_port));
    let probe = Probe::choose(
        project.health_path.as_deref(),
        image.as_ref().is_some_and(|i| i.has_healthcheck),
        container_port,
        env.publish.as_ref(),
    );
    for old in &previous.containers {
        progress.step(&format!("starting {old} again"));
        engine
            .start(old)
            .await
            .map_err(|e| format!("could not start {old} again: {e:#}"))?;
        wait_healthy(
            engine,
            old,
            &probe,
            project.health_timeout,
            project.health_interval,
        )
        .await
        .map_err(|e| format!("#{} did not become healthy again: {e}", previous.id))?;
    }
    Ok(Some(previous.id))
}

/// Record the failure and build the error the user sees.
fn fail(
    store: &mut Store,
    id: i64,
    previous: Option<&Deployment>,
    err: anyhow::Error,
    reason: &str,
    restored: Result<Option<i64>, String>,
) -> Result<Deployment> {
    let (status, message, hint) = match &restored {
        Ok(Some(prev)) => (
            ExitStatus::HealthFailed,
            format!("deployment #{id} failed: {reason}\n#{prev} is serving again"),
            format!("see `temps show {id}`; fix the cause and deploy again, or roll back with `temps rollback`"),
        ),
        Ok(None) => (
            ExitStatus::HealthFailed,
            format!("deployment #{id} failed: {reason}\nnothing was serving before, and nothing serves now"),
            format!("see `temps show {id}`; fix the cause and deploy again"),
        ),
        Err(why) => {
            let status = match exit_status_of(&err) {
                ExitStatus::DockerUnreachable => ExitStatus::DockerUnreachable,
                _ => ExitStatus::Unexpected,
            };
            let prev = previous.map_or(String::from("the previous version"), |p| format!("#{}", p.id));
            (
                status,
                format!("deployment #{id} failed: {reason}\nrestoring {prev} failed too: {why}"),
                "the environment may serve nothing: check `temps status` and `docker ps -a`, then deploy or roll back".to_string(),
            )
        }
    };
    let error_text = match &restored {
        Ok(Some(prev)) => format!("{reason} (#{prev} restored)"),
        Ok(None) => reason.to_string(),
        Err(why) => format!("{reason} (restore failed: {why})"),
    };
    let record = store.finish_unsuccessful(id, Status::Failed, &error_text)?;
    let mut failure = Failure::new(status, message).hint(hint);
    failure.document = Some(serde_json::to_value(&record)?);
    Err(failure.into())
}
