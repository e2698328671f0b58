//! Proxy mode's swap: start the new version first, while the old one still serves;
//! health-check it directly; switch the route; wait until the running `temps proxy`
//! applies it; let requests in flight on the old version finish (up to the drain time);
//! only then stop the old containers. A failed health check never touches the route:
//! the old version simply keeps serving, nothing needs restoring.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::Result;

use super::{
    finish, keep_running, no_port, stop_container, wait_new_version, Restored, Signals, Stop, Swap,
};
use crate::clock::{format_duration, now_ms};
use crate::docker::{container_names, ContainerSpec, Engine};
use crate::error::Failure;
use crate::health::Probe;
use crate::ops::fault_point;
use crate::progress::Progress;
use crate::store::{
    Deployment, Environment, Project, ProxiedSwitch, ProxySettings, Publish, Status, Store,
    Switched, Tls,
};

/// How an environment in proxy mode is served.
#[derive(Debug, Clone)]
pub struct ProxyMode {
    /// The public address `temps proxy` listens on for it.
    pub listen: String,
    pub replicas: u32,
    pub drain: Duration,
    /// How long the app's answer may take to begin before the proxy answers 504 (zero:
    /// no limit).
    pub response_timeout: Duration,
    /// The hosts it answers on `listen` (none: every host).
    pub domains: Vec<String>,
    /// How long the replaced deployment's containers stay warm after a switch.
    pub standby: Duration,
    /// HTTPS on `listen`, and the `Strict-Transport-Security` max-age (zero: none).
    pub tls: Tls,
    pub hsts: Duration,
}

impl ProxyMode {
    /// The environment's remembered proxy mode, if it is in proxy mode.
    pub fn of(env: &Environment) -> Option<ProxyMode> {
        env.proxy.as_ref().map(|listen| ProxyMode {
            listen: listen.clone(),
            replicas: env.replicas,
            drain: env.drain,
            response_timeout: env.response_timeout,
            domains: env.domains.clone(),
            standby: env.standby,
            tls: env.tls.clone(),
            hsts: env.hsts,
        })
    }

    /// What the environment remembers of it.
    pub fn settings(&self) -> ProxySettings<'_> {
        ProxySettings {
            listen: &self.listen,
            replicas: self.replicas,
            drain_ms: self.drain.as_millis() as u64,
            response_timeout_ms: self.response_timeout.as_millis() as u64,
            domains: &self.domains,
            standby_ms: self.standby.as_millis() as u64,
            tls: &self.tls,
            hsts_ms: self.hsts.as_millis() as u64,
        }
    }
}

/// How long to wait for the running proxy to say it applies a new route.
const APPLY_TIMEOUT: Duration = Duration::from_secs(3);

pub(super) async fn run(
    engine: &Engine,
    store: &mut Store,
    swap: Swap<'_>,
    mode: &ProxyMode,
    progress: &dyn Progress,
) -> Result<Deployment> {
    let Swap {
        project,
        environment: env,
        deployment,
        image,
        previous,
        publish: _,
        strategy: _,
        health_timeout,
        state_after,
        keep_replaced_warm,
    } = swap;
    fault_point("recorded");
    let id = deployment.id;
    let Some(container_port) = project.container_port.or(image.exposed_port) else {
        let reason = "proxy mode needs a container port, and the image exposes none";
        store.finish_unsuccessful(id, Status::Failed, reason)?;
        return Err(Failure::usage(reason)
            .hint(format!(
                "set it: `temps project update {} --container-port 8080`",
                project.name
            ))
            .into());
    };
    let names = container_names(&project.name, &env.name, id, mode.replicas);
    let variables = store.begin_swap(id, env.id, &names)?;
    progress.recorded(&store.expect_deployment(id)?);
    let secrets: Vec<String> = variables.values().cloned().collect();
    let env_pairs: Vec<String> = variables
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let loopback = Publish {
        ip: Some(Ipv4Addr::LOCALHOST.to_string()),
        port: 0,
    };

    let created = std::cell::RefCell::new(Vec::new());
    let starting = async {
        let mut upstreams = Vec::new();
        for name in &names {
            progress.step(&format!("creating container {name}"));
            let spec = ContainerSpec {
                name,
                image_id: &image.id,
                project: &project.name,
                environment: &env.name,
                deployment_id: id,
                env: env_pairs.clone(),
                container_port: Some(container_port),
                publish: Some(&loopback),
            };
            engine.create_container(&spec).await?;
            created.borrow_mut().push(name.clone());
            fault_point("created");
            progress.step(&format!("starting {name}"));
            engine.start(name).await?;
            fault_point("started");
            let port = match engine.published_port(name, container_port).await? {
                Some(port) => port,
                None => return Err(no_port(engine, name).await),
            };
            upstreams.push(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
        }
        // Every replica is probed directly, all at once.
        progress.step(&format!(
            "waiting for {} replica(s) to be healthy (up to {})",
            names.len(),
            format_duration(health_timeout)
        ));
        let checks = names.iter().zip(&upstreams).map(|(name, upstream)| {
            let published = Publish {
                ip: Some(Ipv4Addr::LOCALHOST.to_string()),
                port: upstream.port(),
            };
            let probe = Probe::choose(
                project.health_path.as_deref(),
                image.has_healthcheck,
                Some(container_port),
                Some(&published),
            );
            async move {
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
        });
        futures_util::future::try_join_all(checks).await?;
        fault_point("healthy");
        let mut chosen = Vec::new();
        for name in &names {
            let choice = match upstream_of(engine, name, container_port).await? {
                Some(choice) => choice,
                None => return Err(no_port(engine, name).await),
            };
            chosen.push(choice.chosen);
        }
        anyhow::Ok(chosen)
    };
    let mut signals = Signals::new()?;
    let outcome = tokio::select! {
        result = starting => result.map_err(Stop::Failed),
        signal = signals.next() => Err(Stop::Interrupted(signal)),
    };
    let upstreams = match outcome {
        Ok(upstreams) => upstreams,
        Err(stop) => {
            // The old version never stopped and the route never changed: only clean up.
            let made = created.borrow().clone();
            let mut leftover = None;
            let mut left = Vec::new();
            for name in &made {
                if let Err(err) = engine.remove(name).await {
                    leftover.get_or_insert(err.context(format!("could not remove {name}")));
                    left.push(name.clone());
                }
            }
            let restored = Ok(match &previous {
                Some(p) => Restored::KeptServing {
                    id: p.id,
                    leftover,
                    route_unchanged: true,
                },
                None => Restored::NothingBefore,
            });
            let stop = stop.redacted(&secrets);
            return finish(store, id, previous.as_ref(), stop, restored, Some(&left));
        }
    };

    // Switch: from here on the new version serves, whatever happens to this process.
    let old_upstreams = store
        .route_of(env.id)?
        .map(|r| r.upstreams)
        .unwrap_or_default();
    let switched = store.route_proxied(ProxiedSwitch {
        id,
        environment_id: env.id,
        state: state_after,
        settings: mode.settings(),
        upstreams: &upstreams,
        serves_from: None,
        keep_replaced_warm,
    })?;
    fault_point("switched");
    let routed = store.expect_deployment(id)?;
    keep_running(engine, &routed, progress).await;
    let retiring = Retiring {
        engine,
        store,
        project,
        env,
        previous,
        mode,
        switched,
        serving: &routed.containers,
        old_upstreams: &old_upstreams,
    };
    retire(id, retiring, &mut signals, progress).await;
    Ok(routed)
}

/// Where the proxy reaches a healthy container: its own address on Docker's network when
/// this host can connect to it (no userland proxy in between), else its published
/// loopback port (rootless Docker and the like). Also the addresses a route may hold
/// for it, for recovery to recognise.
pub async fn upstream_of(
    engine: &Engine,
    name: &str,
    container_port: u16,
) -> Result<Option<UpstreamChoice>> {
    // One inspect gives both addresses.
    let Some(addresses) = engine.addresses(name, container_port).await? else {
        return Ok(None);
    };
    let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, addresses.published)).to_string();
    let direct = addresses
        .ip
        .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, container_port));
    let reachable = match direct {
        Some(addr) => matches!(
            tokio::time::timeout(
                Duration::from_millis(200),
                tokio::net::TcpStream::connect(addr)
            )
            .await,
            Ok(Ok(_))
        ),
        None => false,
    };
    let direct = direct.map(|a| a.to_string());
    let chosen = match (&direct, reachable) {
        (Some(direct), true) => direct.clone(),
        _ => loopback.clone(),
    };
    Ok(Some(UpstreamChoice {
        chosen,
        known: [Some(loopback), direct].into_iter().flatten().collect(),
    }))
}

/// The address the proxy should use for a container, and every address that is it.
pub struct UpstreamChoice {
    pub chosen: String,
    pub known: Vec<String>,
}

/// The previous version, once the route has switched away from it.
pub(super) struct Retiring<'a> {
    pub engine: &'a Engine,
    pub store: &'a Store,
    pub project: &'a Project,
    pub env: &'a Environment,
    pub previous: Option<Deployment>,
    pub mode: &'a ProxyMode,
    /// What the switch changed: the route's generation, the standbys.
    pub switched: Switched,
    /// The containers that serve now: never stopped here.
    pub serving: &'a [String],
    /// Where the previous version was reached, for the drain.
    pub old_upstreams: &'a [String],
}

/// After deployment `id`'s switch: retire what it replaced. `id` serves from here on, so
/// nothing in retiring may turn that into a failure: what does not finish is a warning.
pub(super) async fn retire(
    id: i64,
    retiring: Retiring<'_>,
    signals: &mut Signals,
    progress: &dyn Progress,
) {
    if let Err(err) = try_retire(retiring, signals, progress).await {
        progress.warn(&format!(
            "#{id} serves; retiring the previous version did not finish: {err:#}"
        ));
    }
}

/// Wait for the proxy to apply the new route, drain the old upstreams (a signal ends the
/// drain early), then stop the previous version's containers unless they stay warm, and
/// those of any standby the switch ended.
async fn try_retire(
    retiring: Retiring<'_>,
    signals: &mut Signals,
    progress: &dyn Progress,
) -> Result<()> {
    let Retiring {
        engine,
        store,
        project,
        env,
        previous,
        mode,
        switched,
        serving,
        old_upstreams,
    } = retiring;
    let generation = switched.generation;
    progress.step("waiting for `temps proxy` to apply the new route");
    let applied = wait_applied(store, generation).await?;
    if !applied {
        progress.warn(&format!(
            "no `temps proxy` is running to serve {}: start it (`temps proxy`) to serve the new route on {}",
            env.name, mode.listen
        ));
    }
    let stop_secs = project.stop_timeout.as_secs_f64().ceil() as i32;
    // A standby this switch ended: nothing routes to it any more.
    for ended in &switched.ended {
        for old in ended.containers.iter().filter(|c| !serving.contains(c)) {
            if engine.container(old).await?.is_some_and(|c| c.running) {
                stop_container(engine, project, old, stop_secs, progress).await?;
            }
        }
    }
    let Some(previous) = previous else {
        return Ok(());
    };
    // A version that stays warm longer than the drain time drains while it waits: the
    // command need not wait for it.
    let outlasts_drain = switched
        .warm_until
        .is_some_and(|until| until - now_ms() >= mode.drain.as_millis() as i64);
    if applied && !outlasts_drain {
        progress.step(&format!(
            "draining #{} (up to {})",
            previous.id,
            format_duration(mode.drain)
        ));
        tokio::select! {
            result = drain(store, generation, old_upstreams, mode.drain) => {
                let left = result?;
                if left > 0 {
                    progress.warn(&format!(
                        "the drain of #{} ended at its limit ({}) with {left} request(s) still in flight",
                        previous.id,
                        format_duration(mode.drain)
                    ));
                }
            }
            signal = signals.next() => progress.warn(&format!("{signal}: draining stopped early")),
        }
    }
    if let Some(until) = switched.warm_until.filter(|until| *until > now_ms()) {
        progress.step(&format!(
            "#{} stays warm until {}",
            previous.id,
            crate::clock::rfc3339(until)
        ));
        return Ok(());
    }
    for old in previous.containers.iter().filter(|c| !serving.contains(c)) {
        let stopping = stop_container(engine, project, old, stop_secs, progress);
        tokio::pin!(stopping);
        // The switch is made: an interrupt can no longer undo it, and the stop it would
        // cut short goes on in the engine anyway. Say so rather than ignore it.
        loop {
            tokio::select! {
                stopped = &mut stopping => {
                    stopped?;
                    break;
                }
                signal = signals.next() => progress.warn(&format!(
                    "{signal} after the switch: the new version serves {} already, and an interrupt cannot \
                     undo that (`temps rollback {}` does); waiting for {old} to stop (up to {})",
                    env.name,
                    previous.id,
                    format_duration(project.stop_timeout)
                )),
            }
        }
    }
    Ok(())
}

/// Wait until the proxy reports `generation` applied; `false` when no proxy is running.
async fn wait_applied(store: &Store, generation: i64) -> Result<bool> {
    let started = Instant::now();
    loop {
        let state = store.proxy_state()?;
        let alive = state.as_ref().is_some_and(|s| s.is_running(now_ms()));
        if !alive {
            return Ok(false);
        }
        if state.is_some_and(|s| s.generation >= generation) {
            return Ok(true);
        }
        if started.elapsed() > APPLY_TIMEOUT {
            return Ok(false);
        }
        // The proxy polls every 20 ms: looking often adds no wait of our own to a switch
        // that is otherwise a few milliseconds (the warm path).
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Wait until no request is in flight on the old upstreams, in a report made after the
/// proxy applied the new route; at most `limit`. Returns the requests still in flight
/// when the limit ended it (0 when drained).
async fn drain(store: &Store, generation: i64, old: &[String], limit: Duration) -> Result<u64> {
    let started = Instant::now();
    let mut busy = 0;
    while started.elapsed() < limit {
        let Some(state) = store.proxy_state()? else {
            return Ok(0);
        };
        busy = old
            .iter()
            .map(|u| state.in_flight.get(u).copied().unwrap_or(0))
            .sum();
        if state.generation >= generation && busy == 0 {
            return Ok(0);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(busy)
}
