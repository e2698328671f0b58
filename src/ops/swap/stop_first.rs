//! Port mode's swap (stop first): the published port can be bound by one container at a
//! time, so the old version must stop before the new one starts. To spare the outage a
//! bad version would cost, the new version is first tried beside the serving one, in a
//! check container on a free loopback port; only a version healthy there gets to stop
//! the old one. Any failure after that — an error, a failed health check, Ctrl-C or
//! SIGTERM — removes what was made and starts the previous version again.

use std::time::Duration;

use anyhow::Result;

use super::{
    finish, keep_running, no_port, start_again, stop_container, wait_new_version, Restored,
    Signals, Stop, Swap,
};
use crate::clock::format_duration;
use crate::docker::{container_name, ContainerSpec, Engine, ImageFacts};
use crate::health::Probe;
use crate::ops::fault_point;
use crate::progress::Progress;
use crate::store::{Deployment, Environment, Project, Publish, Store};

/// Run the swap; on success the new deployment is `deployed` and returned.
pub(super) async fn run(
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
        strategy: _,
        health_timeout,
        state_after,
        keep_replaced_warm: _,
    } = swap;
    fault_point("recorded");
    // From here on Ctrl-C and SIGTERM restore instead of killing us mid-swap.
    let mut signals = Signals::new()?;
    let id = deployment.id;
    let name = container_name(&project.name, &env.name, id);
    let variables = store.begin_swap(id, env.id, std::slice::from_ref(&name))?;
    progress.recorded(&store.expect_deployment(id)?);
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
        // The check container goes only once the new version serves: removing it now
        // would compete with the stop and the start, which are the outage.
        for old in previous.iter().flat_map(|p| &p.containers) {
            stopping.set(true);
            stop_container(engine, project, old, stop_secs, progress).await?;
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
        wait_new_version(
            engine,
            project,
            image,
            &name,
            &probe,
            health_timeout,
            progress,
        )
        .await?;
        fault_point("healthy");
        anyhow::Ok(())
    };
    let stop = tokio::select! {
        result = switching => match result {
            Ok(()) => {
                let changed = publish.filter(|p| env.publish.as_ref() != Some(*p));
                let routed = store.route(id, env.id, state_after, changed)?;
                keep_running(engine, &routed, progress).await;
                if checking.get() {
                    progress.step(&format!("removing {check_name}"));
                    if let Err(err) = engine.remove(&check_name).await {
                        progress.warn(&format!(
                            "#{id} serves; {err:#} (the next operation removes it)"
                        ));
                    }
                }
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
    // What is left of what this swap made: nothing once it is removed.
    let mut left: Option<Vec<String>> = Some(Vec::new());
    let restored = if stopping.get() {
        progress.step("restoring the previous version");
        match restore(engine, project, env, made, previous.as_ref(), progress).await {
            Ok(Some(prev)) => Ok(Restored::StartedAgain(prev)),
            Ok(None) => Ok(Restored::NothingBefore),
            Err(err) => {
                left = None;
                Err(err)
            }
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
        if leftover.is_some() {
            left = made.map(|m| vec![m.to_string()]);
        }
        Ok(match &previous {
            Some(p) => Restored::KeptServing {
                id: p.id,
                leftover,
                route_unchanged: false,
            },
            None => Restored::NothingBefore,
        })
    };
    let stop = stop.redacted(&secrets);
    finish(
        store,
        id,
        previous.as_ref(),
        stop,
        restored,
        left.as_deref(),
    )
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
