//! Port mode's swap (stop first): the published port can be bound by one container at a
//! time, so the old version must stop before the new one starts. To spare the outage a
//! bad version would cost, the new version is first tried beside the serving one, in a
//! check container on a free loopback port; only a version healthy there gets to stop
//! the old one. Any failure after that — an error, a failed health check, Ctrl-C or
//! SIGTERM — removes what was made and starts the previous version again.

use std::cell::Cell;
use std::time::Duration;

use anyhow::Result;

use crate::clock::format_duration;
use crate::docker::{container_name, ContainerSpec, Engine, ImageFacts};
use crate::health::Probe;
use crate::ops::fault_point;
use crate::ops::swap::{
    finish, keep_running, no_port, remove_made, start_again, stop_container, wait_new_version,
    Restored, Signals, Stop, Swap,
};
use crate::progress::Progress;
use crate::store::{Deployment, Environment, Project, Publish, Store};

/// Run the swap; on success the new deployment is `deployed` and returned.
pub(super) async fn run(
    engine: &Engine,
    store: &mut Store,
    swap: Swap<'_>,
    progress: &dyn Progress,
) -> Result<Deployment> {
    fault_point("recorded");
    // From here on Ctrl-C and SIGTERM restore instead of killing us mid-swap.
    let mut signals = Signals::new()?;
    let (project, env, id) = (swap.project, swap.environment, swap.deployment.id);
    let name = container_name(&project.name, &env.name, id);
    let variables = store.begin_swap(id, env.id, std::slice::from_ref(&name))?;
    progress.recorded(&store.expect_deployment(id)?);
    let secrets: Vec<String> = variables.values().cloned().collect();
    let env_pairs: Vec<String> = variables
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let spec = new_container(&swap, &name, env_pairs.clone());
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
    let port_swap = PortSwap {
        engine,
        swap: &swap,
        probe: Probe::choose(
            project.health_path.as_deref(),
            swap.image.has_healthcheck,
            spec.container_port,
            swap.publish,
        ),
        spec,
        check_spec,
        progress,
        created: Cell::new(false),
        checking: Cell::new(false),
        stopping: Cell::new(false),
    };
    let stop = tokio::select! {
        result = port_swap.switch() => match result {
            Ok(()) => return port_swap.serve(store).await,
            Err(err) => Stop::Failed(err),
        },
        signal = signals.next() => Stop::Interrupted(signal),
    };
    let (restored, left) = port_swap.undo().await;
    let stop = stop.redacted(&secrets);
    let previous = swap.previous.as_ref();
    finish(store, id, previous, stop, restored, left.as_deref())
}

/// The new version's container: the image, the environment's variables (`env_pairs`),
/// published where the environment serves.
fn new_container<'s>(
    swap: &'s Swap<'_>,
    name: &'s str,
    env_pairs: Vec<String>,
) -> ContainerSpec<'s> {
    ContainerSpec {
        name,
        image_id: &swap.image.id,
        project: &swap.project.name,
        environment: &swap.environment.name,
        deployment_id: swap.deployment.id,
        env: env_pairs,
        container_port: swap.project.container_port.or(swap.image.exposed_port),
        publish: swap.publish,
    }
}

/// A swap in port mode, and how far it got: what a failure must undo.
struct PortSwap<'s, 'a> {
    engine: &'s Engine,
    swap: &'s Swap<'a>,
    /// The new version's container.
    spec: ContainerSpec<'s>,
    /// The check container: the new version tried beside the serving one.
    check_spec: ContainerSpec<'s>,
    /// The health check of the new container, where it publishes.
    probe: Probe,
    progress: &'s dyn Progress,
    /// The new container was created: this swap made it.
    created: Cell<bool>,
    /// The check container may exist.
    checking: Cell<bool>,
    /// The previous version's containers may be stopped (or stopping).
    stopping: Cell<bool>,
}

impl PortSwap<'_, '_> {
    /// Create the new container, check the new version beside the serving one (when
    /// there is one to protect), stop the old version, start the new one and wait until
    /// it is healthy.
    async fn switch(&self) -> Result<()> {
        let (swap, name) = (self.swap, self.spec.name);
        // Create before stopping anything: a bad configuration fails while the old version
        // still serves.
        self.progress.step(&format!("creating container {name}"));
        self.engine.create_container(&self.spec).await?;
        self.created.set(true);
        fault_point("created");
        // The new version is first tried beside the serving one when there is one to
        // protect: a version that cannot start or never becomes healthy then fails with
        // the old one never stopped.
        if swap.previous.iter().any(|p| !p.containers.is_empty()) {
            self.checking.set(true);
            let image = swap.image;
            let timeout = swap.health_timeout;
            check(
                self.engine,
                swap.project,
                image,
                &self.check_spec,
                timeout,
                self.progress,
            )
            .await?;
            fault_point("checked");
        }
        self.stop_old().await?;
        self.start_new().await
    }

    /// Stop the previous version's containers: the published port can be bound by one
    /// container at a time. The check container goes only once the new version serves:
    /// removing it now would compete with the stop and the start, which are the outage.
    async fn stop_old(&self) -> Result<()> {
        let project = self.swap.project;
        let stop_secs = project.stop_timeout.as_secs_f64().ceil() as i32;
        for old in self.swap.previous.iter().flat_map(|p| &p.containers) {
            self.stopping.set(true);
            stop_container(self.engine, project, old, stop_secs, self.progress).await?;
        }
        fault_point("stopped");
        Ok(())
    }

    /// Start the new container and wait until it passes its health check.
    async fn start_new(&self) -> Result<()> {
        let (swap, name, progress) = (self.swap, self.spec.name, self.progress);
        progress.step(&format!("starting {name}"));
        self.engine.start(name).await?;
        fault_point("started");
        progress.step(&format!(
            "waiting for {} (up to {})",
            self.probe.describe(),
            format_duration(swap.health_timeout)
        ));
        wait_new_version(
            self.engine,
            swap.project,
            swap.image,
            name,
            &self.probe,
            swap.health_timeout,
            progress,
        )
        .await?;
        fault_point("healthy");
        Ok(())
    }

    /// The new version serves: record it (and a new `--publish`), keep its container
    /// running across reboots, and remove the check container.
    async fn serve(&self, store: &mut Store) -> Result<Deployment> {
        let (swap, env) = (self.swap, self.swap.environment);
        let id = swap.deployment.id;
        let changed = swap.publish.filter(|p| env.publish.as_ref() != Some(*p));
        let routed = store.route(id, env.id, swap.state_after, changed)?;
        keep_running(self.engine, &routed, self.progress).await;
        if self.checking.get() {
            let check_name = self.check_spec.name;
            self.progress.step(&format!("removing {check_name}"));
            if let Err(err) = self.engine.remove(check_name).await {
                self.progress.warn(&format!(
                    "#{id} serves; {err:#} (the next operation removes it)"
                ));
            }
        }
        Ok(routed)
    }

    /// After a failure or a signal: remove what this swap made and, when the previous
    /// version was stopped, start it again. How the previous version fared, and what is
    /// left of what this swap made (`None`: the record's names stand).
    async fn undo(&self) -> (Result<Restored>, Option<Vec<String>>) {
        if self.checking.get() {
            let _ = self.engine.remove(self.check_spec.name).await;
        }
        // Only what this operation made is removed: a name taken by someone else stays
        // theirs.
        let made = self.created.get().then_some(self.spec.name);
        let previous = self.swap.previous.as_ref();
        if !self.stopping.get() {
            // Nothing was stopped: the previous version still serves as it was.
            let made: Vec<String> = made.map(String::from).into_iter().collect();
            let (restored, left) = remove_made(self.engine, &made, previous, false).await;
            return (Ok(restored), Some(left));
        }
        self.progress.step("restoring the previous version");
        let (swap, progress) = (self.swap, self.progress);
        match restore(
            self.engine,
            swap.project,
            swap.environment,
            made,
            previous,
            progress,
        )
        .await
        {
            Ok(Some(prev)) => (Ok(Restored::StartedAgain(prev)), Some(Vec::new())),
            Ok(None) => (Ok(Restored::NothingBefore), Some(Vec::new())),
            Err(err) => (Err(err), None),
        }
    }
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
            None => return Err(no_port(engine, name).await),
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
    wait_new_version(
        engine,
        project,
        image,
        name,
        &probe,
        health_timeout,
        progress,
    )
    .await
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
