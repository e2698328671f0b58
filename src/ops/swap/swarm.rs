//! Swarm mode's swap: the environment is one Swarm service, and a deploy, rollback or
//! promote is an update of that service to the deployment's repository digest with the
//! environment's current variables. Swarm replaces the tasks one at a time, stop first (a
//! host-mode port is held by one task per node); temps follows the update and the tasks
//! until every task it can place runs the new deployment (healthy, where the image has a
//! HEALTHCHECK: Swarm reports such a task running only once it is). A failure, a timeout,
//! Ctrl-C or SIGTERM puts the spec the service had before back, by temps itself (Swarm's
//! own rollback knows only one spec back and is never asked for), and waits for it.

use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};

use crate::clock::format_duration;
use crate::docker::{
    repository_of, service_name, Engine, ImageFacts, SavedSpec, ServiceDefinition, ServiceFacts,
    SwarmRole, TaskFacts, UpdateState,
};
use crate::error::Failure;
use crate::ops::fault_point;
use crate::ops::swap::{finish, Restored, Signals, Stop, Swap};
use crate::progress::Progress;
use crate::store::{Deployment, Environment, Project, Store};
use crate::text::short_id;

/// How an environment in swarm mode is served.
#[derive(Debug, Clone)]
pub struct SwarmMode {
    pub replicas: u32,
}

impl SwarmMode {
    /// The environment's remembered swarm mode, if it is in swarm mode.
    pub fn of(env: &Environment) -> Option<SwarmMode> {
        env.swarm.then_some(SwarmMode {
            replicas: env.replicas,
        })
    }
}

/// The engine temps talks to must manage a swarm: only a manager changes services.
pub async fn require_manager(engine: &Engine) -> Result<()> {
    let host = std::env::var("DOCKER_HOST").unwrap_or_else(|_| "the local engine".into());
    match engine.swarm_role().await? {
        SwarmRole::Manager => Ok(()),
        SwarmRole::Worker => Err(Failure::refused(format!(
            "{host} is a swarm worker: swarm mode needs a manager"
        ))
        .hint(
            "point DOCKER_HOST at a manager of the swarm (`docker node ls` there lists the nodes); \
             for a swarm of its own, `docker swarm init` on an engine in none",
        )
        .into()),
        SwarmRole::None => Err(Failure::refused(format!(
            "{host} is not a swarm manager: swarm mode needs one"
        ))
        .hint("make it one with `docker swarm init` (or point DOCKER_HOST at a manager)")
        .into()),
    }
}

/// The tag resolved, once, to its repository digest in the registry: `repo@sha256:...`,
/// what every node pulls and every later operation uses.
pub async fn resolve_digest(
    engine: &Engine,
    reference: &str,
    progress: &dyn Progress,
) -> Result<String> {
    progress.step(&format!("resolving {reference} in its registry"));
    match engine.registry_digest(reference).await? {
        Ok(digest) => Ok(format!("{}@{digest}", repository_of(reference))),
        Err(why) => Err(Failure::refused(format!(
            "`{reference}` is not in a registry the swarm can pull from: {why}"
        ))
        .hint(format!(
            "push it to a registry every node reaches (`docker push {reference}`), then deploy again"
        ))
        .into()),
    }
}

/// What the image at `digest` says of its port and health check, from the manager
/// (which pulls it by digest when it does not have it); its id is the digest reference.
pub async fn image_at(
    engine: &Engine,
    digest: &str,
    progress: Option<&dyn Progress>,
) -> Result<ImageFacts> {
    if engine.image(digest).await?.is_none() {
        if let Some(progress) = progress {
            progress.step(&format!("pulling {digest} on the manager"));
        }
        engine.pull(digest).await?;
    }
    let image = engine
        .image(digest)
        .await?
        .ok_or_else(|| anyhow!("{digest} was pulled but cannot be found"))?;
    Ok(ImageFacts {
        id: digest.to_string(),
        ..image
    })
}

/// Whether the registry still holds `digest` (`repo@sha256:...`); `Err(why)` when not.
pub async fn in_registry(engine: &Engine, digest: &str) -> Result<Result<(), String>> {
    Ok(engine.registry_digest(digest).await?.map(|_| ()))
}

/// How often the service and its tasks are looked at while an update runs.
const POLL: Duration = Duration::from_millis(250);

/// Swap in swarm mode: update the environment's service (or create it) to the
/// deployment and follow it until it converges; on a failure or an interrupt, put back
/// what ran before.
pub(super) async fn run(
    engine: &Engine,
    store: &mut Store,
    swap: Swap<'_>,
    mode: &SwarmMode,
    progress: &dyn Progress,
) -> Result<Deployment> {
    let Swap {
        project,
        environment: env,
        deployment,
        image,
        previous,
        publish,
        health_timeout,
        state_after,
        ..
    } = swap;
    fault_point("recorded");
    let mut signals = Signals::new()?;
    let id = deployment.id;
    let service = service_name(&project.name, &env.name);
    // No container of its own: the service's tasks are the deployment's.
    let variables = store.begin_swap(id, env.id, &[])?;
    progress.recorded(&store.expect_deployment(id)?);
    let secrets: Vec<String> = variables.values().cloned().collect();
    let definition = ServiceDefinition {
        name: &service,
        image: &image.id,
        project: &project.name,
        environment: &env.name,
        deployment_id: id,
        env: variables
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        replicas: mode.replicas,
        container_port: project.container_port.or(image.exposed_port),
        publish: publish.map(|p| p.port),
        stop_grace: project.stop_timeout,
    };
    // What the service runs now is what a failure puts back.
    let before = engine.service(&service).await?;
    let changed = std::cell::Cell::new(false);
    let switching = switch(
        engine,
        before.as_ref(),
        &definition,
        publish.is_some(),
        health_timeout,
        &changed,
        progress,
    );
    let stop = tokio::select! {
        result = switching => match result {
            Ok(()) => {
                let changed_publish = publish.filter(|p| env.publish.as_ref() != Some(*p));
                let routed = store.route(id, env.id, state_after, changed_publish)?;
                store.remember_swarm(env.id, mode.replicas, None)?;
                return Ok(routed);
            }
            Err(err) => Stop::Failed(err),
        },
        signal = signals.next() => Stop::Interrupted(signal),
    };
    let before = before.as_ref().map(|b| &b.spec);
    let restored = undo(
        engine,
        project,
        &service,
        before,
        previous.as_ref(),
        changed.get(),
        progress,
    )
    .await;
    let stop = stop.redacted(&secrets);
    finish(store, id, previous.as_ref(), stop, restored, None)
}

/// Create the service, or update it from `service_now`, to `definition`, and wait until
/// its tasks converge. `changed` is set before the call: an update interrupted in flight
/// may have been made.
async fn switch(
    engine: &Engine,
    service_now: Option<&ServiceFacts>,
    definition: &ServiceDefinition<'_>,
    host_port: bool,
    timeout: Duration,
    changed: &std::cell::Cell<bool>,
    progress: &dyn Progress,
) -> Result<()> {
    let service = definition.name;
    changed.set(true);
    match service_now {
        Some(service_now) => {
            progress.step(&format!(
                "updating service {service} to {} ({} replicas)",
                short_id(definition.image),
                definition.replicas
            ));
            engine
                .update_service(service_now.version, definition)
                .await?
        }
        None => {
            progress.step(&format!(
                "creating service {service} ({} replicas)",
                definition.replicas
            ));
            engine.create_service(definition).await?
        }
    }
    fault_point("updated");
    let target = Converge {
        service,
        deployment_id: definition.deployment_id,
        replicas: definition.replicas,
        host_port,
        fail_fast: true,
    };
    target.wait(engine, timeout, progress).await
}

/// After a failure or an interrupt: when the service was changed, put the spec it had
/// `before` back; else the previous deployment serves as it did.
async fn undo(
    engine: &Engine,
    project: &Project,
    service: &str,
    before: Option<&SavedSpec>,
    previous: Option<&Deployment>,
    changed: bool,
    progress: &dyn Progress,
) -> Result<Restored> {
    if !changed {
        return Ok(match previous {
            Some(p) => Restored::KeptServing {
                id: p.id,
                leftover: None,
                route_unchanged: false,
            },
            None => Restored::NothingBefore,
        });
    }
    progress.step("putting the previous service spec back");
    put_back(engine, project, service, before, previous, progress).await
}

/// Put `spec` back as the service's spec and wait until its tasks run again; with none
/// (the service was made by the failed deployment), remove the service.
async fn put_back(
    engine: &Engine,
    project: &Project,
    service: &str,
    spec: Option<&SavedSpec>,
    previous: Option<&Deployment>,
    progress: &dyn Progress,
) -> Result<Restored> {
    let Some(spec) = spec else {
        progress.step(&format!("removing service {service}"));
        engine
            .remove_service(service)
            .await
            .map_err(|e| e.context(format!("could not remove {service}")))?;
        return Ok(Restored::NothingBefore);
    };
    restore_spec(engine, project, service, spec, progress).await?;
    Ok(match previous {
        Some(p) => Restored::StartedAgain(p.id),
        None => Restored::NothingBefore,
    })
}

/// Put `spec` back and wait for it, within the project's health timeout.
pub(crate) async fn restore_spec(
    engine: &Engine,
    project: &Project,
    service: &str,
    spec: &SavedSpec,
    progress: &dyn Progress,
) -> Result<()> {
    let now = engine
        .service(service)
        .await?
        .ok_or_else(|| anyhow!("service {service} is gone"))?;
    engine.put_back_service(service, now.version, spec).await?;
    let Some(deployment_id) = spec.deployment_id() else {
        return Ok(());
    };
    let replicas = spec.replicas();
    // A spec that publishes a port does it in host mode: one task per node.
    let target = Converge {
        service,
        deployment_id,
        replicas,
        host_port: true,
        fail_fast: false,
    };
    target
        .wait(engine, project.health_timeout, progress)
        .await
        .map_err(|e| e.context(format!("#{deployment_id} did not run again")))
}

/// Put the service back in line with the history (an operation killed mid-update, or
/// a hand-made `docker service update`): the current deployment's digest with the
/// environment's current variables, the rest of the spec as it stands; no current
/// deployment, no service. Says what it did.
pub async fn reconcile(
    store: &Store,
    engine: &Engine,
    project: &Project,
    env: &Environment,
    current: Option<&Deployment>,
    progress: &dyn Progress,
) -> Result<Vec<String>> {
    let service = service_name(&project.name, &env.name);
    let Some(facts) = engine.service(&service).await? else {
        return Ok(Vec::new());
    };
    let Some(current) = current else {
        engine.remove_service(&service).await?;
        return Ok(vec![format!("removed service {service}")]);
    };
    let digest = current.image_id.as_deref().unwrap_or_default();
    let in_line = facts.deployment_id == Some(current.id) && facts.image.as_deref() == Some(digest);
    if in_line && facts.update != Some(UpdateState::Paused) {
        return Ok(Vec::new());
    }
    let env_pairs = store
        .variables(env.id)?
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let spec = facts.spec.with_deployment(digest, env_pairs, current.id);
    progress.step(&format!(
        "putting service {service} back to #{}",
        current.id
    ));
    if let Err(err) = restore_spec(engine, project, &service, &spec, progress).await {
        progress.warn(&format!(
            "service {service} was put back to #{} but did not converge: {err:#}; going on",
            current.id
        ));
    }
    Ok(vec![format!(
        "put service {service} back to #{}",
        current.id
    )])
}

/// What an update must reach.
struct Converge<'a> {
    service: &'a str,
    /// The deployment whose tasks must run (their `dev.temps.deployment` label).
    deployment_id: i64,
    replicas: u32,
    /// A host-mode port: at most one task per node, so no more tasks than ready nodes.
    host_port: bool,
    /// A failed task fails the wait at once (the new version); putting a spec back only
    /// waits for its tasks to run, whatever failed before.
    fail_fast: bool,
}

/// Where the tasks stand, from one look at them.
#[derive(Debug, PartialEq, Eq)]
enum Progressed {
    /// Every task that can be placed runs the deployment (`placed` of `wanted`).
    Done { running: u32, wanted: u32 },
    /// Still on its way: `running` of `wanted` run it.
    Waiting { running: u32, wanted: u32 },
    /// A task of the deployment failed.
    Failed(String),
}

impl Converge<'_> {
    /// Follow the service's update and its tasks until they converge, fail, or `timeout`
    /// passes.
    async fn wait(
        &self,
        engine: &Engine,
        timeout: Duration,
        progress: &dyn Progress,
    ) -> Result<()> {
        let started = Instant::now();
        let mut said = String::new();
        let mut scaled = false;
        loop {
            let facts = engine
                .service(self.service)
                .await?
                .ok_or_else(|| anyhow!("service {} vanished during the update", self.service))?;
            let tasks = engine.service_tasks(self.service).await?;
            let ready = engine.ready_nodes().await?;
            if self
                .scale_to_ready(engine, &facts, &tasks, ready, progress)
                .await?
            {
                scaled = true;
                tokio::time::sleep(POLL).await;
                continue;
            }
            let update_done = matches!(facts.update, None | Some(UpdateState::Completed));
            let looked = self.look(&tasks, ready, update_done);
            if facts.update == Some(UpdateState::Paused) && !matches!(looked, Progressed::Failed(_))
            {
                return Err(self.paused(&tasks, facts.update_message));
            }
            match looked {
                Progressed::Done { running, wanted } => {
                    if wanted < self.replicas && !scaled {
                        progress.warn(&format!(
                            "{}: {running} of {} replicas run; the others cannot be placed: {ready} \
                             node(s) ready, and a task holds the published port on its node",
                            self.service, self.replicas
                        ));
                    }
                    return Ok(());
                }
                Progressed::Failed(why) => return Err(anyhow!(why)),
                Progressed::Waiting { running, wanted } => {
                    let line = format!(
                        "{}: {running} of {wanted} tasks run #{} (up to {})",
                        self.service,
                        self.deployment_id,
                        format_duration(timeout)
                    );
                    if line != said {
                        progress.step(&line);
                        said = line;
                    }
                }
            }
            if started.elapsed() >= timeout {
                return Err(self.timed_out(&tasks, timeout));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// A node went away: with a host-mode port its task has nowhere to go, and Swarm's
    /// updater waits on that slot for good (one slot at a time). Run as many replicas as
    /// the ready nodes hold, and say so; the next deploy, rollback or promote asks for
    /// the environment's count again. True when it scaled the service down.
    async fn scale_to_ready(
        &self,
        engine: &Engine,
        facts: &ServiceFacts,
        tasks: &[TaskFacts],
        ready: u32,
        progress: &dyn Progress,
    ) -> Result<bool> {
        let stranded = tasks.iter().any(|t| t.desired_running && t.unplaced);
        if !(self.host_port && stranded && ready >= 1 && ready < facts.replicas) {
            return Ok(false);
        }
        progress.warn(&format!(
            "{}: {ready} node(s) ready, fewer than its {} replicas with a host-mode \
             port (one task per node): running {ready} until the next deploy, rollback \
             or promote asks for {} again",
            self.service, facts.replicas, self.replicas
        ));
        engine
            .put_back_service(
                self.service,
                facts.version,
                &facts.spec.with_replicas(ready),
            )
            .await?;
        Ok(true)
    }

    /// Swarm paused the update: the error says what happened to the task that ended
    /// it (Swarm names a task by id), else Swarm's own `message`.
    fn paused(&self, tasks: &[TaskFacts], message: Option<String>) -> anyhow::Error {
        let ours: Vec<&TaskFacts> = tasks
            .iter()
            .filter(|t| t.deployment_id == Some(self.deployment_id))
            .collect();
        // What ended the update first, rather than a task waiting behind it.
        let ended = |t: &&&TaskFacts| {
            matches!(
                t.state.as_str(),
                "failed" | "rejected" | "complete" | "shutdown" | "orphaned"
            )
        };
        let told = ours
            .iter()
            .filter(ended)
            .find(|t| t.error.is_some())
            .or_else(|| ours.iter().find(ended))
            .or_else(|| ours.iter().find(|t| t.error.is_some()))
            .map(|t| match &t.error {
                Some(e) => format!("task {} on {} {}: {e}", t.name, t.node, t.state),
                None => format!(
                    "task {} on {} ended ({}) before it ran healthy through Swarm's monitor window",
                    t.name, t.node, t.state
                ),
            });
        anyhow!(
            "Swarm paused the update of {}: {}",
            self.service,
            told.unwrap_or_else(|| message.unwrap_or_default())
        )
    }

    /// The update did not converge within `timeout`: the error names each task that
    /// should run and does not.
    fn timed_out(&self, tasks: &[TaskFacts], timeout: Duration) -> anyhow::Error {
        let waiting: Vec<String> = tasks
            .iter()
            .filter(|t| t.desired_running && !t.running)
            .map(|t| {
                format!(
                    "{} on {} is {}{}",
                    t.name,
                    t.node,
                    t.state,
                    t.error
                        .as_ref()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                )
            })
            .collect();
        anyhow::Error::new(crate::ops::swap::TimedOut {
            message: format!(
                "{} did not converge on #{} within {}{}",
                self.service,
                self.deployment_id,
                format_duration(timeout),
                if waiting.is_empty() {
                    String::new()
                } else {
                    format!(": {}", waiting.join("; "))
                }
            ),
            timeout,
            guessed_port: None,
        })
    }

    /// Converged when every task Swarm wants running on a ready node runs the
    /// deployment, as many as can be placed do (`ready` nodes bound that with a host
    /// port), and Swarm says the update completed.
    fn look(&self, tasks: &[TaskFacts], ready: u32, update_done: bool) -> Progressed {
        let ours = |t: &&TaskFacts| t.deployment_id == Some(self.deployment_id);
        let failed = tasks.iter().filter(ours).find(|t| t.failed);
        if let Some(failed) = failed.filter(|_| self.fail_fast) {
            return Progressed::Failed(format!(
                "task {} on {} {}: {}",
                failed.name,
                failed.node,
                failed.state,
                failed.error.as_deref().unwrap_or("no reason given")
            ));
        }
        let wanted = if self.host_port {
            self.replicas.min(ready)
        } else {
            self.replicas
        };
        let live = |t: &&TaskFacts| t.desired_running && t.node_ready;
        let running = tasks
            .iter()
            .filter(live)
            .filter(ours)
            .filter(|t| t.running)
            .count() as u32;
        let others = tasks
            .iter()
            .filter(live)
            .filter(|t| t.deployment_id != Some(self.deployment_id) && t.running)
            .count();
        if running >= wanted && others == 0 && update_done {
            Progressed::Done { running, wanted }
        } else {
            Progressed::Waiting { running, wanted }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(slot: u32, deployment: i64, state: &str, node_ready: bool) -> TaskFacts {
        TaskFacts {
            id: format!("task{slot}"),
            name: format!("temps-web-production.{slot}"),
            node: format!("node{slot}"),
            node_ready,
            state: state.into(),
            desired_running: true,
            running: state == "running",
            failed: state == "failed",
            unplaced: state == "pending",
            error: None,
            image: "r/web@sha256:1".into(),
            deployment_id: Some(deployment),
        }
    }

    const TARGET: Converge<'static> = Converge {
        service: "temps-web-production",
        deployment_id: 5,
        replicas: 3,
        host_port: true,
        fail_fast: true,
    };

    #[test]
    fn an_update_converges_when_every_task_runs_the_deployment() {
        let mut tasks = vec![task(1, 5, "running", true), task(2, 5, "running", true)];
        tasks.push(task(3, 4, "running", true));
        assert_eq!(
            TARGET.look(&tasks, 3, false),
            Progressed::Waiting {
                running: 2,
                wanted: 3
            }
        );
        tasks[2] = task(3, 5, "running", true);
        assert_eq!(
            TARGET.look(&tasks, 3, true),
            Progressed::Done {
                running: 3,
                wanted: 3
            }
        );
    }

    #[test]
    fn a_node_that_left_bounds_what_a_host_port_lets_run() {
        let tasks = vec![
            task(1, 5, "running", true),
            task(2, 5, "running", true),
            task(3, 4, "running", false),
        ];
        assert_eq!(
            TARGET.look(&tasks, 2, true),
            Progressed::Done {
                running: 2,
                wanted: 2
            }
        );
        // Until Swarm says the update completed, it is not done.
        assert!(matches!(
            TARGET.look(&tasks, 2, false),
            Progressed::Waiting { .. }
        ));
    }

    #[test]
    fn a_failed_task_of_the_deployment_fails_the_update_at_once() {
        let tasks = vec![task(1, 5, "failed", true), task(2, 4, "failed", true)];
        assert!(matches!(
            TARGET.look(&tasks, 3, false),
            Progressed::Failed(why) if why.contains("temps-web-production.1")
        ));
        // A failure of another deployment's task is not this update's.
        let tasks = vec![task(2, 4, "failed", true)];
        assert!(matches!(
            TARGET.look(&tasks, 3, false),
            Progressed::Waiting { .. }
        ));
    }
}
