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
    let env_pairs: Vec<String> = variables
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
        env: env_pairs.clone(),
        container_port,
        publish,
    };
    let probe = Probe::choose(
        project.health_path.as_deref(),
        image.has_healthcheck,
        container_port,
        publish,
    );
    // The new version is first tried beside the serving one when there is one to
    // protect: a version that cannot start or never becomes healthy then fails with the
    // old one never stopped.
    let serving_before = previous.as_ref().filter(|p| !p.containers.is_empty());
    let check_name = check_container_name(&name);
    // Published on any free loopback port, so the check never competes with the address
    // that serves.
    let loopback_any_port = Publish {
        ip: Some("127.0.0.1".to_string()),
        port: 0,
    };
    let check_spec = ContainerSpec {
        name: &check_name,
        env: env_pairs,
        publish: Some(&loopback_any_port),
        ..spec.clone()
    };

    let created = std::cell::Cell::new(false);
    let checking = std::cell::Cell::new(false);
    let stopping = std::cell::Cell::new(false);
    let switching = async {
        // Create before stopping anything: a bad configuration fails while the old version
        // still serves.
        progress.step(&format!("creating container {name}"));
        engine.create_container(&spec).await?;
        created.set(true);
        fault_point("created");
        if serving_before.is_some() {
            checking.set(true);
            check(
                engine,
                project,
                image,
                &check_spec,
                health_timeout,
                progress,
            )
            .await?;
            fault_point("checked");
        }
        let stop_secs = project.stop_timeout.as_secs_f64().ceil() as i32;
        for old in previous.iter().flat_map(|p| &p.containers) {
            stopping.set(true);
            let (stopped, removed) = tokio::join!(
                stop_container(engine, project, old, stop_secs, progress),
                async {
                    if checking.get() {
                        let _ = engine.remove(&check_name).await;
                    }
                }
            );
            let () = removed;
            stopped?;
        }
        checking.set(false);
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
            progress,
        )
        .await
        .map_err(|why| anyhow::Error::msg(explain_port(project, image, why)))?;
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
    if checking.get() {
        let _ = engine.remove(&check_name).await;
    }
    // Only what this operation made is removed: a name taken by someone else stays theirs.
    let made = created.get().then_some(name.as_str());
    let restored = if stopping.get() {
        progress.step("restoring the previous version");
        match restore(engine, project, env, made, previous.as_ref(), progress).await {
            Ok(Some(prev)) => Ok(Restored::StartedAgain(prev)),
            Ok(None) => Ok(Restored::NothingBefore),
            Err(err) => Err(err),
        }
    } else {
        // Nothing was stopped: the previous version still serves as it was. A container
        // that cannot be removed now (Docker gone) is the next operation's to remove.
        let leftover = match made {
            Some(made) => engine
                .remove(made)
                .await
                .err()
                .map(|e| e.context(format!("could not remove {made}"))),
            None => None,
        };
        Ok(match &previous {
            Some(p) => Restored::KeptServing { id: p.id, leftover },
            None => Restored::NothingBefore,
        })
    };
    let stop = stop.redacted(&secrets);
    finish(store, id, previous.as_ref(), stop, restored)
}

/// `temps-web-production-44-check`: the new version tried beside the serving one.
pub fn check_container_name(name: &str) -> String {
    format!("{name}{CHECK_SUFFIX}")
}

/// What ends the name of a check container; no deployment ever serves from one.
pub const CHECK_SUFFIX: &str = "-check";

/// Start the new version in a container of its own, published on a free loopback port,
/// and health-check it there while the old version still serves.
async fn check(
    engine: &Engine,
    project: &Project,
    image: &ImageFacts,
    spec: &ContainerSpec<'_>,
    health_timeout: Duration,
    progress: &dyn Progress,
) -> Result<()> {
    let name = spec.name;
    progress.step(&format!(
        "trying the new version beside the serving one ({name})"
    ));
    engine.create_container(spec).await?;
    engine.start(name).await?;
    let published = match spec.container_port {
        Some(port) => match engine.published_port(name, port).await? {
            Some(port) => Some(Publish {
                ip: Some("127.0.0.1".to_string()),
                port,
            }),
            None => return Err(start_first::no_port(engine, name).await),
        },
        None => None,
    };
    let probe = Probe::choose(
        project.health_path.as_deref(),
        image.has_healthcheck,
        spec.container_port,
        published.as_ref(),
    );
    progress.step(&format!(
        "checking the new version: {} (up to {})",
        probe.describe(),
        format_duration(health_timeout)
    ));
    wait_healthy(
        engine,
        name,
        &probe,
        health_timeout,
        project.health_interval,
        progress,
    )
    .await
    .map_err(|why| anyhow::Error::msg(explain_port(project, image, why)))
}

/// A failed health check, with where the container port came from when the project did
/// not set it: an app listening on another port than the image's EXPOSE never answers.
pub fn explain_port(project: &Project, image: &ImageFacts, why: String) -> String {
    // An app that answered, or exited, listens where it was asked or says why not.
    let nothing_answered = why.contains("connecting to")
        || why.contains("nothing listens")
        || why.contains("closed before an answer")
        || why.contains("timed out")
        || why.contains("dropped the connection");
    if project.container_port.is_some() || !nothing_answered {
        return why;
    }
    let Some(port) = image.exposed_port else {
        return why;
    };
    let origin = match image.exposed_ports.as_slice() {
        [_] => "the image's EXPOSE".to_string(),
        ports => format!(
            "the lowest port the image EXPOSEs ({})",
            ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    format!(
        "{why}; container port {port} is {origin}: if the app listens on another, \
         `temps project update {} --container-port PORT`",
        project.name
    )
}

/// Stop a container; when it took the whole stop timeout and was killed, say so: every
/// swap of such an app is that much longer, and the fix is the app's.
pub async fn stop_container(
    engine: &Engine,
    project: &Project,
    name: &str,
    stop_secs: i32,
    progress: &dyn Progress,
) -> Result<()> {
    progress.step(&format!("stopping {name}"));
    let started = std::time::Instant::now();
    engine.stop(name, stop_secs).await?;
    let timeout = Duration::from_secs(stop_secs.max(0) as u64);
    if stop_secs > 0 && started.elapsed() + Duration::from_millis(250) >= timeout {
        if let Ok(Some(facts)) = engine.container(name).await {
            if facts.exit_code == 137 {
                progress.warn(&format!(
                    "{name} ignored SIGTERM and was killed after {}: every swap of `{}` waits that long. \
                     Handle SIGTERM in the app (a shell or an interpreter running as PID 1 ignores it), \
                     set a STOPSIGNAL it does handle in the image, or shorten the wait: \
                     `temps project update {} --stop-timeout 3s`",
                    format_duration(timeout),
                    project.name,
                    project.name
                ));
            }
        }
    }
    Ok(())
}

/// How the previous version fared when a swap stopped short.
enum Restored {
    /// It was never stopped; what this swap made could not be removed, if anything.
    KeptServing {
        id: i64,
        leftover: Option<anyhow::Error>,
    },
    /// It was stopped and is serving again.
    StartedAgain(i64),
    NothingBefore,
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
/// A stop the engine may still have under way is waited for first (stopping again ends
/// when the container is down): starting a container that is about to be killed would
/// report it serving and leave nothing.
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
    let Some(previous) = previous else {
        return Ok(None);
    };
    let stop_secs = project.stop_timeout.as_secs_f64().ceil() as i32;
    for old in &previous.containers {
        progress.step(&format!(
            "waiting for the engine to finish stopping {old} (up to {}) before starting it again",
            format_duration(project.stop_timeout)
        ));
        engine
            .stop(old, stop_secs)
            .await
            .map_err(|e| e.context(format!("could not wait for {old} to stop")))?;
    }
    start_again(engine, project, env, previous, progress)
        .await
        .map(|()| Some(previous.id))
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
            progress,
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
    restored: Result<Restored>,
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
        Ok(Restored::KeptServing { id: prev, leftover }) => format!(
            "{reason}; #{prev} kept serving, never stopped{}",
            leftover
                .as_ref()
                .map(|l| format!("; {l:#} (the next operation removes it)"))
                .unwrap_or_default()
        ),
        Ok(Restored::StartedAgain(prev)) => format!("{reason}; #{prev} restored"),
        Ok(Restored::NothingBefore) => format!("{reason}; nothing was serving before"),
        Err(why) => format!("{reason}; restoring the previous version failed: {why:#}"),
    };
    let record = store.finish_unsuccessful(id, status, &record_error)?;
    let verb = if status == Status::Cancelled {
        "was cancelled"
    } else {
        "failed"
    };
    // Docker went away yet the previous version serves: it came back.
    let survived = if base_exit == ExitStatus::DockerUnreachable {
        ExitStatus::HealthFailed
    } else {
        base_exit
    };
    let again = try_again_hint(&record);
    let (exit, message, hint) = match &restored {
        // Nothing needed Docker to keep it serving: Docker gone is still exit 6.
        Ok(Restored::KeptServing { id: prev, leftover }) => match leftover {
            Some(err) if exit_status_of(err) == ExitStatus::DockerUnreachable => (
                ExitStatus::DockerUnreachable,
                format!("deployment #{id} {verb}: {reason}\n#{prev} kept serving: it was never stopped"),
                "start Docker again (`systemctl start docker`); the next operation on the environment \
                 removes what this one left"
                    .to_string(),
            ),
            _ => (
                base_exit,
                format!("deployment #{id} {verb}: {reason}\n#{prev} kept serving: it was never stopped"),
                again,
            ),
        },
        Ok(Restored::StartedAgain(prev)) => (
            survived,
            format!("deployment #{id} {verb}: {reason}\n#{prev} is serving again"),
            again,
        ),
        Ok(Restored::NothingBefore) => (
            survived,
            format!("deployment #{id} {verb}: {reason}\nnothing was serving before, and nothing serves now"),
            again,
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

/// What to do after a swap that stopped short, in the words of what was tried.
pub fn try_again_hint(record: &Deployment) -> String {
    let id = record.id;
    match (record.rolled_back_to_id, record.promoted_id) {
        (Some(to), _) if record.is_rollback => format!(
            "see `temps show {id}`; once the cause is fixed, `temps rollback {to}` tries again"
        ),
        (_, Some(promoted)) if record.is_promote => format!(
            "see `temps show {id}`; once the cause is fixed, `temps promote {promoted}` tries again"
        ),
        _ => format!("see `temps show {id}`; fix the cause and deploy again"),
    }
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
