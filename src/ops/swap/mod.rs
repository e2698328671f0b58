//! The swap every docker-preset change goes through (deploy, rollback, promote), as one
//! value with one [`Strategy`] of four: stop first in port mode (`stop_first`), start
//! first in proxy mode (`start_first`), the warm path of a rollback or promote in proxy
//! mode (`warm`, which falls back to start first), a service update in swarm mode
//! (`swarm`). All share the signals, the redaction of variable values and one failure
//! path (`finish`), which records how a swap stopped short and decides the exit code and
//! hint. The environment is never left half-switched; a `kill -9` cannot be caught, so the next operation on the
//! environment finds the unfinished deployment and puts it right (see `recover`).

mod start_first;
mod stop_first;
pub mod swarm;
pub mod warm;

use std::time::Duration;

use anyhow::{Context, Result};

pub use start_first::{upstream_of, ProxyMode, UpstreamChoice};
pub use stop_first::CHECK_SUFFIX;
pub use swarm::SwarmMode;
use warm::WarmOutcome;

use crate::clock::format_duration;
use crate::docker::{pin_repository, Engine, ImageFacts};
use crate::error::{exit_status_of, ExitStatus, Failure};
use crate::health::{wait_healthy, Probe, Unhealthy};
use crate::progress::Progress;
use crate::store::{Deployment, EnvState, Environment, Origin, Project, Publish, Status, Store};

/// A change of what serves an environment.
#[derive(Clone)]
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
    /// How the switch is made.
    pub strategy: Strategy<'a>,
    pub health_timeout: Duration,
    /// The environment's state once the new deployment serves.
    pub state_after: EnvState,
    /// Proxy mode: the replaced deployment stays warm for the environment's `--standby`
    /// (else it is stopped once drained).
    pub keep_replaced_warm: bool,
}

/// How a swap switches, by the environment's mode.
#[derive(Clone, Copy)]
pub enum Strategy<'a> {
    /// Port mode: stop the old version, then start the new one on the same port.
    StopFirst,
    /// Proxy mode: start the new version first, switch the route, drain, stop the old
    /// (or keep it warm).
    StartFirst(&'a ProxyMode),
    /// Proxy mode, to a version whose containers run warm (`standby`, see
    /// `ops::standby`): probe them and switch the route; start first when one fails
    /// its probe.
    Warm {
        mode: &'a ProxyMode,
        standby: &'a Deployment,
    },
    /// Swarm mode: update the environment's service; `image.id` is a repository digest.
    Swarm(&'a SwarmMode),
}

impl Strategy<'_> {
    /// Proxy mode's settings, when it is in proxy mode.
    pub fn proxy(&self) -> Option<&ProxyMode> {
        match self {
            Strategy::StartFirst(mode) | Strategy::Warm { mode, .. } => Some(mode),
            Strategy::StopFirst | Strategy::Swarm(_) => None,
        }
    }
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
                if let Some(timed_out) = err.chain().find_map(|e| e.downcast_ref::<TimedOut>()) {
                    return Stop::Failed(anyhow::Error::new(TimedOut {
                        message: text,
                        ..timed_out.clone()
                    }));
                }
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
    match swap.strategy {
        Strategy::StopFirst => stop_first::run(engine, store, swap, progress).await,
        Strategy::StartFirst(mode) => start_first::run(engine, store, swap, mode, progress).await,
        Strategy::Swarm(mode) => swarm::run(engine, store, swap, mode, progress).await,
        Strategy::Warm { mode, standby } => {
            let (swap, why) = match warm::run(engine, store, swap, standby, progress).await? {
                WarmOutcome::Switched(deployment) => return Ok(*deployment),
                WarmOutcome::NotHealthy(swap, why) => (*swap, why),
            };
            cold_after_warm(engine, store, swap, mode, &why, progress).await
        }
    }
}

/// A warm container failed its probe: nothing changed, so the swap starts new
/// containers of the same version instead (pinning its image first, as every cold path
/// does: the warm path starts nothing from it).
async fn cold_after_warm(
    engine: &Engine,
    store: &mut Store,
    swap: Swap<'_>,
    mode: &ProxyMode,
    why: &str,
    progress: &dyn Progress,
) -> Result<Deployment> {
    let version = swap.deployment.origin.again();
    progress.warn(&format!(
        "{why}; taking the cold path: starting new containers of #{}",
        version.unwrap_or(swap.deployment.id)
    ));
    pin(engine, store, swap.project, &swap.deployment, swap.image).await?;
    let swap = Swap {
        strategy: Strategy::StartFirst(mode),
        ..swap
    };
    start_first::run(engine, store, swap, mode, progress).await
}

/// A container with no published port: it exited (say how, with its last output), or
/// Docker did not publish one.
pub async fn no_port(engine: &Engine, name: &str) -> anyhow::Error {
    match crate::health::why_not_running(engine, name).await {
        Some(exited) => anyhow::Error::msg(exited),
        None => anyhow::anyhow!("Docker published no port for {name}"),
    }
}

/// Wait until a container of the new version passes `probe`; its failure as the error
/// the user sees (see `explain_port`).
pub(super) async fn wait_new_version(
    engine: &Engine,
    project: &Project,
    image: &ImageFacts,
    container: &str,
    probe: &Probe,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<()> {
    wait_healthy(
        engine,
        container,
        probe,
        timeout,
        project.health_interval,
        progress,
    )
    .await
    .map_err(|why| explain_port(project, image, why))
}

/// A new version that did not pass its health check within the time it had (as opposed
/// to one that exited, or that Docker found unhealthy): it may only need longer, which
/// the hint says, with the command that gives it more.
#[derive(Debug, Clone)]
pub struct TimedOut {
    pub message: String,
    pub timeout: Duration,
    /// Nothing answered on this container port, which the project did not set: the app
    /// may listen on another (`8080 (the image's EXPOSE)`).
    pub guessed_port: Option<String>,
}

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TimedOut {}

/// A failed health check as the error the user sees: an engine failure keeps exit 6; a
/// timeout is a [`TimedOut`], which knows when nothing answered on a port the project
/// did not set (it came from the image: an app listening elsewhere never answers).
pub fn explain_port(project: &Project, image: &ImageFacts, why: Unhealthy) -> anyhow::Error {
    let guessed = project.container_port.is_none() && why.nothing_answered();
    let guessed_port = image.exposed_port.filter(|_| guessed).map(|port| {
        let origin = match image.exposed_ports.as_slice() {
            [_] => "the image's EXPOSE".to_string(),
            _ => format!(
                "the lowest port the image EXPOSEs ({})",
                image.exposed_list()
            ),
        };
        format!("{port} ({origin})")
    });
    match why {
        Unhealthy::TimedOut { why, timeout, .. } => anyhow::Error::new(TimedOut {
            message: why,
            timeout,
            guessed_port,
        }),
        other => other.into_error(""),
    }
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
                     `temps project update {} --stop-timeout DUR`",
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
        /// Proxy mode: the route still points at it.
        route_unchanged: bool,
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
        .map_err(|e| e.into_error(format!("#{} did not become healthy again: ", deployment.id)))?;
    }
    Ok(())
}

/// Record how the swap ended and build the error the user sees. `left`: the containers
/// the swap made that are still there, for the record to name no container it removed
/// (`None`: the record's names stand).
fn finish(
    store: &mut Store,
    id: i64,
    previous: Option<&Deployment>,
    stop: Stop,
    restored: Result<Restored>,
    left: Option<&[String]>,
) -> Result<Deployment> {
    if let Some(left) = left {
        store.set_containers(id, left)?;
    }
    let ending = Ending::of(&stop);
    let record = store.finish_unsuccessful(id, ending.status, &ending.recorded(&restored))?;
    let again = again_hint(&stop, &record);
    let (exit, message, hint) = match &restored {
        Ok(restored) => ending.told(id, restored, again),
        Err(why) => ending.told_restore_failed(id, previous, why),
    };
    let mut failure = Failure::new(exit, message).hint(hint);
    failure.document = Some(serde_json::to_value(&record)?);
    Err(failure.into())
}

/// How a swap stopped short, in the words of its record and with the exit code it has
/// before what became of the previous version is known.
struct Ending {
    status: Status,
    reason: String,
    exit: ExitStatus,
}

impl Ending {
    /// A failure is a failed health check (exit 7) unless Docker went away (exit 6); a
    /// signal cancels the deployment.
    fn of(stop: &Stop) -> Ending {
        match stop {
            Stop::Failed(err) => Ending {
                status: Status::Failed,
                reason: format!("{err:#}"),
                exit: match exit_status_of(err) {
                    ExitStatus::DockerUnreachable => ExitStatus::DockerUnreachable,
                    _ => ExitStatus::HealthFailed,
                },
            },
            Stop::Interrupted(signal) => Ending {
                status: Status::Cancelled,
                reason: format!("interrupted by {signal}"),
                exit: ExitStatus::Interrupted,
            },
        }
    }

    fn verb(&self) -> &'static str {
        if self.status == Status::Cancelled {
            "was cancelled"
        } else {
            "failed"
        }
    }

    /// What the record keeps: the reason, and what became of the previous version.
    fn recorded(&self, restored: &Result<Restored>) -> String {
        let reason = &self.reason;
        match restored {
            Ok(Restored::KeptServing {
                id: prev,
                leftover,
                route_unchanged,
            }) => format!(
                "{reason}; #{prev} kept serving, never stopped{}{}",
                route_note(*route_unchanged),
                leftover
                    .as_ref()
                    .map(|l| format!("; {l:#} (the next operation removes it)"))
                    .unwrap_or_default()
            ),
            Ok(Restored::StartedAgain(prev)) => format!("{reason}; #{prev} restored"),
            Ok(Restored::NothingBefore) => format!("{reason}; nothing was serving before"),
            Err(why) => format!("{reason}; restoring the previous version failed: {why:#}"),
        }
    }

    /// The exit code, the message and the hint once the previous version is back or was
    /// never stopped (`again`: the hint for trying again).
    fn told(&self, id: i64, restored: &Restored, again: String) -> (ExitStatus, String, String) {
        let (verb, reason) = (self.verb(), &self.reason);
        // Docker went away yet the previous version serves: it came back.
        let survived = if self.exit == ExitStatus::DockerUnreachable {
            ExitStatus::HealthFailed
        } else {
            self.exit
        };
        match restored {
            // Nothing needed Docker to keep it serving: Docker gone is still exit 6.
            Restored::KeptServing {
                id: prev,
                leftover,
                route_unchanged,
            } => {
                let kept = format!(
                    "deployment #{id} {verb}: {reason}\n#{prev} kept serving: it was never stopped{}",
                    route_note(*route_unchanged)
                );
                match leftover {
                    Some(err) if exit_status_of(err) == ExitStatus::DockerUnreachable => (
                        ExitStatus::DockerUnreachable,
                        kept,
                        "start Docker again (`systemctl start docker`); the next operation on the environment \
                         removes what this one left"
                            .to_string(),
                    ),
                    _ => (self.exit, kept, again),
                }
            }
            Restored::StartedAgain(prev) => (
                survived,
                format!("deployment #{id} {verb}: {reason}\n#{prev} is serving again"),
                again,
            ),
            Restored::NothingBefore => (
                survived,
                format!("deployment #{id} {verb}: {reason}\nnothing was serving before, and nothing serves now"),
                again,
            ),
        }
    }

    /// The exit code, the message and the hint when putting the previous version back
    /// failed too: the environment may serve nothing.
    fn told_restore_failed(
        &self,
        id: i64,
        previous: Option<&Deployment>,
        why: &anyhow::Error,
    ) -> (ExitStatus, String, String) {
        let (verb, reason) = (self.verb(), &self.reason);
        let prev = previous.map_or(String::from("the previous version"), |p| {
            format!("#{}", p.id)
        });
        (
            // Docker gone at either step is what the user must fix first.
            if self.exit == ExitStatus::DockerUnreachable
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
}

/// Said of a previous version kept serving in proxy mode, where the route never moved.
fn route_note(route_unchanged: bool) -> &'static str {
    if route_unchanged {
        "; the route was not changed"
    } else {
        ""
    }
}

/// The hint for trying again: with twice the time after a health check that ran out of
/// it, else in the words of what was tried.
fn again_hint(stop: &Stop, record: &Deployment) -> String {
    match stop {
        Stop::Failed(err) => match err.chain().find_map(|e| e.downcast_ref::<TimedOut>()) {
            Some(timed_out) => more_time_hint(record, timed_out),
            None => try_again_hint(record),
        },
        Stop::Interrupted(_) => try_again_hint(record),
    }
}

/// The previous version was never stopped: remove the containers this swap made. One
/// that cannot be removed now (Docker gone) is the next operation's to remove, and stays
/// in what is returned: how the previous version fared, and the containers left.
async fn remove_made(
    engine: &Engine,
    made: &[String],
    previous: Option<&Deployment>,
    route_unchanged: bool,
) -> (Restored, Vec<String>) {
    let mut leftover = None;
    let mut left = Vec::new();
    for name in made {
        if let Err(err) = engine.remove(name).await {
            leftover.get_or_insert(err.context(format!("could not remove {name}")));
            left.push(name.clone());
        }
    }
    let restored = match previous {
        Some(p) => Restored::KeptServing {
            id: p.id,
            leftover,
            route_unchanged,
        },
        None => Restored::NothingBefore,
    };
    (restored, left)
}

/// What to do after a swap that stopped short, in the words of what was tried.
pub fn try_again_hint(record: &Deployment) -> String {
    let id = record.id;
    match record.origin {
        Origin::Rollback { to: Some(to), .. } => format!(
            "see `temps show {id}`; once the cause is fixed, `temps rollback {to}` tries again"
        ),
        Origin::Promote { of: Some(promoted) } => format!(
            "see `temps show {id}`; once the cause is fixed, `temps promote {promoted}` tries again"
        ),
        _ => format!("see `temps show {id}`; fix the cause and deploy again"),
    }
}

/// After a health check that ran out of time: the same command with twice the time (the
/// project's setting stays as it is), the setting for every operation, and, when nothing
/// answered on a port taken from the image, the port.
pub fn more_time_hint(record: &Deployment, timed_out: &TimedOut) -> String {
    let id = record.id;
    let longer = format_duration(timed_out.timeout * 2);
    let environment = if record.environment == "production" {
        String::new()
    } else {
        format!(" --environment {}", record.environment)
    };
    let again = match record.origin {
        Origin::Rollback { to: Some(to), .. } => format!("temps rollback {to}"),
        Origin::Promote { of: Some(promoted) } => format!("temps promote {promoted}"),
        _ => format!(
            "temps deploy {} --image {}{environment}",
            record.project,
            crate::text::printable(record.image.as_deref().unwrap_or("IMAGE"))
        ),
    };
    let mut hint = format!(
        "if it only needs longer to start, give it {longer}: `{again} --health-timeout {longer}` \
         (or, for every operation, `temps project update {} --health-timeout {longer}`)",
        record.project
    );
    if let Some(port) = &timed_out.guessed_port {
        hint.push_str(&format!(
            "; if it listens on another port than {port}, `temps project update {} --container-port PORT`",
            record.project
        ));
    }
    hint.push_str(&format!("; see `temps show {id}`"));
    hint
}

/// SIGINT and SIGTERM, caught for the length of a swap (unless the process lets its
/// operations finish whatever signal comes: see [`crate::ops::let_operations_finish`]).
pub(crate) struct Signals {
    caught: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    pub(crate) fn new() -> Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        if crate::ops::operations_finish() {
            return Ok(Signals { caught: None });
        }
        Ok(Signals {
            caught: Some((
                signal(SignalKind::interrupt()).context("catching SIGINT for the swap")?,
                signal(SignalKind::terminate()).context("catching SIGTERM for the swap")?,
            )),
        })
    }

    pub(crate) async fn next(&mut self) -> &'static str {
        match &mut self.caught {
            Some((interrupt, terminate)) => tokio::select! {
                _ = interrupt.recv() => "SIGINT",
                _ = terminate.recv() => "SIGTERM",
            },
            None => std::future::pending().await,
        }
    }
}
