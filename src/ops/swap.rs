//! The swap every docker-preset change goes through (deploy, rollback, promote):
//! create the new container, stop the serving one (kept, stopped), start the new one,
//! health-check it, and route. Any failure on the way — an error, a failed health check,
//! Ctrl-C or SIGTERM — removes what was made and starts the previous version again, so
//! the environment is never left half-switched. A `kill -9` cannot be caught: the next
//! operation on the environment finds the unfinished deployment and does the same
//! (see `recover`).

use std::time::Duration;

use anyhow::{Context, Result};

use super::start_first::{self, ProxyMode};
use super::{fault_point, Progress};
use crate::clock::format_duration;
use crate::docker::{container_name, pin_repository, ContainerSpec, Engine, ImageFacts};
use crate::error::{exit_status_of, ExitStatus, Failure};
use crate::health::{wait_healthy, Probe};
use crate::store::{Deployment, EnvState, Environment, Project, Publish, Status, Store};

/// A change of what serves an environment.
pub struct Swap<'a> {
    pub project: &'a Project,
    pub environment: &'a Environment,
    /// The new deployment, already recorded.
    pub deployment: Deployment,
    /// The image to run, by id, and what it says of its port and health check.
    pub image: &'a ImageFacts,
    /// What serves now, if anything.
    pub previous: Option<Deployment>,
    /// Where the new containers publish their port: the environment's remembered one, or
    /// a new `--publish`, which is remembered only once the new deployment serves (the
    /// previous containers, if restored, still publish on the old one).
    pub publish: Option<&'a Publish>,
    /// Proxy mode: start the new version first, switch the route, drain, stop the old.
    pub proxy: Option<&'a ProxyMode>,
    pub health_timeout: Duration,
    /// The environment's state once the new deployment serves.
    pub state_after: EnvState,
}

/// Why a swap stopped short.
enum Stop {
    Failed(anyhow::Error),
    Interrupted(&'static str),
}

impl Stop {
    /// The failure with every variable value masked: a crashing app's last log lines may
    /// print its configuration, and the reason is stored and shown.
    fn redacted(self, secrets: &[String]) -> Stop {
        match self {
            Stop::Failed(err) => {
                let status = exit_status_of(&err);
                let text = redact(&format!("{err:#}"), secrets);
                match status {
                    ExitStatus::DockerUnreachable => Stop::Failed(
                        anyhow::Error::new(Failure::new(status, text.clone())).context(text),
                    ),
                    _ => Stop::Failed(anyhow::Error::msg(text)),
                }
            }
            interrupted => interrupted,
        }
    }
}

/// Pin `image` under a tag of our own (`temps/<project>:<id>`), so that it survives its
/// own tag moving on; a failure fails the deployment.
pub async fn pin(
    engine: &Engine,
    store: &mut Store,
    project: &Project,
    deployment: &Deployment,
    image: &ImageFacts,
) -> Result<()> {
    let pinned = engine
        .tag(
            &image.id,
            &pin_repository(&project.name),
            &deployment.id.to_string(),
        )
        .await;
    if let Err(err) = pinned {
        store.finish_unsuccessful(deployment.id, Status::Failed, &format!("{err:#}"))?;
        return Err(err);
    }
    Ok(())
}

/// `text` with each value in `secrets` (4 characters or more) replaced by `****`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| s.chars().count() >= 4)
        .fold(text.to_string(), |text, secret| {
            text.replace(secret.as_str(), "****")
        })
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
        publish,
        proxy,
        health_timeout,
        state_after,
    } = swap;
    if let Some(mode) = proxy {
        return start_first::run(
            engine,
            store,
            project,
            env,
            deployment,
            image,
            previous,
            mode,
            health_timeout,
            state_after,
            progress,
        )
        .await;
    }
    fault_point("recorded");
    // From here on Ctrl-C and SIGTERM restore instead of killing us mid-swap.
    let mut signals = Signals::new()?;
    let id = deployment.id;
    let name = container_name(&project.name, &env.name, id);
    let variables = store.begin_swap(id, env.id, std::slice::from_ref(&name))?;
    let secrets: Vec<String> = variables.values().cloned().collect();
    let env_pairs = variables
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
        publish,
    };
    let probe = Probe::choose(
        project.health_path.as_deref(),
        image.has_healthcheck,
        container_port,
        publish,
    );

    let created = std::cell::Cell::new(false);
    let stopping = std::cell::Cell::new(false);
    let switching = async {
        // Create before stopping anything: a bad configuration fails while the old version
        // still serves, and the outage is only stop + start.
        progress.step(&format!("creating container {name}"));
        engine.create_container(&spec).await?;
        created.set(true);
        fault_point("created");
        let stop_secs = project.stop_timeout.as_secs_f64().ceil() as i32;
        for old in previous.iter().flat_map(|p| &p.containers) {
            progress.step(&format!("stopping {old}"));
            stopping.set(true);
            engine.stop(old, stop_secs).await?;
        }
        fault_point("stopped");
        progress.step(&format!("starting {name}"));
        engine.start(&name).await?;
        fault_point("started");
        progress.step(&format!(
            "waiting for {} (up to {})",
            probe.describe(),
            format_duration(health_timeout)
        ));
        wait_healthy(
            engine,
            &name,
            &probe,
            health_timeout,
            project.health_interval,
        )
        .await
        .map_err(anyhow::Error::msg)?;
        fault_point("healthy");
        anyhow::Ok(())
    };
    let stop = tokio::select! {
        result = switching => match result {
            Ok(()) => {
                let changed = publish.filter(|p| env.publish.as_ref() != Some(*p));
                let routed = store.route(id, env.id, state_after, changed)?;
                keep_running(engine, &routed, progress).await;
                return Ok(routed);
            }
            Err(err) => Stop::Failed(err),
        },
        signal = signals.next() => Stop::Interrupted(signal),
    };
    progress.step("restoring the previous version");
    // Only what this operation made is removed: a name taken by someone else stays theirs.
    let made = created.get().then_some(name.as_str());
    // Nothing was stopped before the failure: the previous version still serves as it was.
    let to_restart = previous.as_ref().filter(|_| stopping.get());
    let restored = match restore(engine, project, env, made, to_restart, progress).await {
        Ok(None) => Ok(previous.as_ref().map(|p| p.id)),
        other => other,
    };
    let stop = stop.redacted(&secrets);
    finish(store, id, previous.as_ref(), stop, restored)
}

/// Once a deployment serves: Docker restarts its containers after a reboot. A failure
/// here is only a warning: the deployment does serve.
pub async fn keep_running(engine: &Engine, deployment: &Deployment, progress: &dyn Progress) {
    for container in &deployment.containers {
        if let Err(err) = engine.keep_running(container).await {
            progress.warn(&format!("{err:#}"));
        }
    }
}

/// Remove the new container and bring the previous deployment back; says what happened.
async fn restore(
    engine: &Engine,
    project: &Project,
    env: &Environment,
    new_container: Option<&str>,
    previous: Option<&Deployment>,
    progress: &dyn Progress,
) -> Result<Option<i64>> {
    if let Some(new_container) = new_container {
        engine
            .remove(new_container)
            .await
            .map_err(|e| e.context(format!("could not remove {new_container}")))?;
    }
    match previous {
        Some(previous) => start_again(engine, project, env, previous, progress)
            .await
            .map(|()| Some(previous.id)),
        None => Ok(None),
    }
}

/// Start a deployment's stopped containers again and wait until they are healthy.
pub async fn start_again(
    engine: &Engine,
    project: &Project,
    env: &Environment,
    deployment: &Deployment,
    progress: &dyn Progress,
) -> Result<()> {
    let image = match &deployment.image_id {
        Some(id) => engine.image(id).await?,
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
    for container in &deployment.containers {
        progress.step(&format!("starting {container} again"));
        engine
            .start(container)
            .await
            .map_err(|e| e.context(format!("could not start {container} again")))?;
        wait_healthy(
            engine,
            container,
            &probe,
            project.health_timeout,
            project.health_interval,
        )
        .await
        .map_err(|e| anyhow::anyhow!("#{} did not become healthy again: {e}", deployment.id))?;
    }
    Ok(())
}

/// Record how the swap ended and build the error the user sees.
fn finish(
    store: &mut Store,
    id: i64,
    previous: Option<&Deployment>,
    stop: Stop,
    restored: Result<Option<i64>>,
) -> Result<Deployment> {
    let (status, reason, base_exit) = match &stop {
        Stop::Failed(err) => (
            Status::Failed,
            format!("{err:#}"),
            match exit_status_of(err) {
                ExitStatus::DockerUnreachable => ExitStatus::DockerUnreachable,
                _ => ExitStatus::HealthFailed,
            },
        ),
        Stop::Interrupted(signal) => (
            Status::Cancelled,
            format!("interrupted by {signal}"),
            ExitStatus::Interrupted,
        ),
    };
    let record_error = match &restored {
        Ok(Some(prev)) => format!("{reason}; #{prev} restored"),
        Ok(None) => format!("{reason}; nothing was serving before"),
        Err(why) => format!("{reason}; restoring the previous version failed: {why:#}"),
    };
    let record = store.finish_unsuccessful(id, status, &record_error)?;
    let verb = if status == Status::Cancelled {
        "was cancelled"
    } else {
        "failed"
    };
    let (exit, message, hint) = match &restored {
        Ok(Some(prev)) => (
            // Docker went away yet the restore worked: it came back; the previous version serves.
            if base_exit == ExitStatus::DockerUnreachable { ExitStatus::HealthFailed } else { base_exit },
            format!("deployment #{id} {verb}: {reason}\n#{prev} is serving again"),
            format!("see `temps show {id}`; fix the cause and deploy again"),
        ),
        Ok(None) => (
            if base_exit == ExitStatus::DockerUnreachable { ExitStatus::HealthFailed } else { base_exit },
            format!("deployment #{id} {verb}: {reason}\nnothing was serving before, and nothing serves now"),
            format!("see `temps show {id}`; fix the cause and deploy again"),
        ),
        Err(why) => {
            let prev = previous.map_or(String::from("the previous version"), |p| format!("#{}", p.id));
            (
                // Docker gone at either step is what the user must fix first.
                if base_exit == ExitStatus::DockerUnreachable
                    || exit_status_of(why) == ExitStatus::DockerUnreachable
                {
                    ExitStatus::DockerUnreachable
                } else {
                    ExitStatus::Unexpected
                },
                format!("deployment #{id} {verb}: {reason}\nrestoring {prev} failed too: {why:#}"),
                "the environment may serve nothing: once Docker answers, `temps status` shows what runs; \
                 deploy or roll back to put it in a known state"
                    .to_string(),
            )
        }
    };
    let mut failure = Failure::new(exit, message).hint(hint);
    failure.document = Some(serde_json::to_value(&record)?);
    Err(failure.into())
}

/// SIGINT and SIGTERM, caught for the length of a swap.
pub(super) struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    pub(super) fn new() -> Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).context("catching SIGINT for the swap")?,
            terminate: signal(SignalKind::terminate()).context("catching SIGTERM for the swap")?,
        })
    }

    pub(super) async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}
