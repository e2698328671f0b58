//! Proxy mode's swap: start the new version first, while the old one still serves;
//! health-check it directly; switch the route; wait until the running `temps proxy`
//! applies it; let requests in flight on the old version finish (up to the drain time);
//! only then stop the old containers. A failed health check never touches the route:
//! the old version simply keeps serving, nothing needs restoring.

use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::clock::{format_duration, now_ms};
use crate::docker::{container_names, ContainerSpec, Engine};
use crate::error::Failure;
use crate::health::Probe;
use crate::ops::fault_point;
use crate::ops::swap::{
    finish, keep_running, no_port, remove_made, stop_container, wait_new_version, Signals, Stop,
    Swap,
};
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

/// Run the swap; on success the new deployment is `deployed` and returned.
pub(super) async fn run(
    engine: &Engine,
    store: &mut Store,
    swap: Swap<'_>,
    mode: &ProxyMode,
    progress: &dyn Progress,
) -> Result<Deployment> {
    fault_point("recorded");
    let id = swap.deployment.id;
    let Some(container_port) = swap.project.container_port.or(swap.image.exposed_port) else {
        return no_container_port(store, swap.project, id);
    };
    let (project, env) = (swap.project, swap.environment);
    let names = container_names(&project.name, &env.name, id, mode.replicas);
    let variables = store.begin_swap(id, env.id, &names)?;
    progress.recorded(&store.expect_deployment(id)?);
    let secrets: Vec<String> = variables.values().cloned().collect();
    let replicas = Replicas {
        engine,
        swap: &swap,
        names: &names,
        env_pairs: variables
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        container_port,
        progress,
        created: RefCell::new(Vec::new()),
    };
    let mut signals = Signals::new()?;
    let outcome = tokio::select! {
        result = replicas.bring_up() => result.map_err(Stop::Failed),
        signal = signals.next() => Err(Stop::Interrupted(signal)),
    };
    let upstreams = match outcome {
        Ok(upstreams) => upstreams,
        Err(stop) => {
            // The old version never stopped and the route never changed: only clean up.
            let made = replicas.created.take();
            let previous = swap.previous.as_ref();
            let (restored, left) = remove_made(engine, &made, previous, true).await;
            let stop = stop.redacted(&secrets);
            return finish(store, id, previous, stop, Ok(restored), Some(&left));
        }
    };
    let switch = switch_route(store, &swap, mode, &upstreams, None)?;
    keep_running(engine, &switch.routed, progress).await;
    let retiring = Retiring {
        engine,
        store,
        project,
        env,
        previous: swap.previous,
        mode,
        switched: switch.switched,
        serving: &switch.routed.containers,
        old_upstreams: &switch.old_upstreams,
    };
    retire(id, retiring, &mut signals, progress).await;
    Ok(switch.routed)
}

/// Proxy mode with no container port to route to: the deployment fails before anything
/// starts.
fn no_container_port(store: &mut Store, project: &Project, id: i64) -> Result<Deployment> {
    let reason = "proxy mode needs a container port, and the image exposes none";
    store.finish_unsuccessful(id, Status::Failed, reason)?;
    Err(Failure::usage(reason)
        .hint(format!(
            "set it: `temps project update {} --container-port 8080`",
            project.name
        ))
        .into())
}

/// The new version's containers, as the swap brings them up beside the serving ones.
struct Replicas<'s, 'a> {
    engine: &'s Engine,
    swap: &'s Swap<'a>,
    names: &'s [String],
    /// The environment's variables, `KEY=value`.
    env_pairs: Vec<String>,
    container_port: u16,
    progress: &'s dyn Progress,
    /// The containers created so far: what a failure removes.
    created: RefCell<Vec<String>>,
}

impl Replicas<'_, '_> {
    /// Start the new containers, wait until every one is healthy, and choose where the
    /// proxy reaches each: the upstreams to route to.
    async fn bring_up(&self) -> Result<Vec<String>> {
        let ports = self.start().await?;
        self.wait_healthy(&ports).await?;
        fault_point("healthy");
        self.choose_upstreams().await
    }

    /// Create and start each container, published on a free loopback port; those ports.
    async fn start(&self) -> Result<Vec<u16>> {
        let (engine, swap, progress) = (self.engine, self.swap, self.progress);
        let loopback = Publish {
            ip: Some(Ipv4Addr::LOCALHOST.to_string()),
            port: 0,
        };
        let mut ports = Vec::new();
        for name in self.names {
            progress.step(&format!("creating container {name}"));
            let spec = ContainerSpec {
                name,
                image_id: &swap.image.id,
                project: &swap.project.name,
                environment: &swap.environment.name,
                deployment_id: swap.deployment.id,
                env: self.env_pairs.clone(),
                container_port: Some(self.container_port),
                publish: Some(&loopback),
            };
            engine.create_container(&spec).await?;
            self.created.borrow_mut().push(name.clone());
            fault_point("created");
            progress.step(&format!("starting {name}"));
            engine.start(name).await?;
            fault_point("started");
            match engine.published_port(name, self.container_port).await? {
                Some(port) => ports.push(port),
                None => return Err(no_port(engine, name).await),
            }
        }
        Ok(ports)
    }

    /// Probe every replica directly on its loopback `ports`, all at once, until each is
    /// healthy.
    async fn wait_healthy(&self, ports: &[u16]) -> Result<()> {
        let swap = self.swap;
        self.progress.step(&format!(
            "waiting for {} replica(s) to be healthy (up to {})",
            self.names.len(),
            format_duration(swap.health_timeout)
        ));
        let checks = self.names.iter().zip(ports).map(|(name, port)| {
            let published = Publish {
                ip: Some(Ipv4Addr::LOCALHOST.to_string()),
                port: *port,
            };
            let probe = Probe::choose(
                swap.project.health_path.as_deref(),
                swap.image.has_healthcheck,
                Some(self.container_port),
                Some(&published),
            );
            async move {
                wait_new_version(
                    self.engine,
                    swap.project,
                    swap.image,
                    name,
                    &probe,
                    swap.health_timeout,
                    self.progress,
                )
                .await
            }
        });
        futures_util::future::try_join_all(checks).await?;
        Ok(())
    }

    /// Where the proxy reaches each healthy replica (see [`upstream_of`]).
    async fn choose_upstreams(&self) -> Result<Vec<String>> {
        let mut chosen = Vec::new();
        for name in self.names {
            match upstream_of(self.engine, name, self.container_port).await? {
                Some(choice) => chosen.push(choice.chosen),
                None => return Err(no_port(self.engine, name).await),
            }
        }
        Ok(chosen)
    }
}

/// A switch of the route in proxy mode, as made.
pub(super) struct Switch {
    pub switched: Switched,
    /// The new record, serving.
    pub routed: Deployment,
    /// Where the replaced version was reached, for the drain.
    pub old_upstreams: Vec<String>,
}

/// Switch the environment's route to `upstreams` in one transaction (`serves_from`: the
/// warm deployment whose containers they are). From here on the new version serves,
/// whatever happens to this process.
pub(super) fn switch_route(
    store: &mut Store,
    swap: &Swap<'_>,
    mode: &ProxyMode,
    upstreams: &[String],
    serves_from: Option<(i64, &[String])>,
) -> Result<Switch> {
    let id = swap.deployment.id;
    let env = swap.environment;
    let old_upstreams = store
        .route_of(env.id)?
        .map(|r| r.upstreams)
        .unwrap_or_default();
    let switched = store.route_proxied(ProxiedSwitch {
        id,
        environment_id: env.id,
        state: swap.state_after,
        settings: mode.settings(),
        upstreams,
        serves_from,
        keep_replaced_warm: swap.keep_replaced_warm,
    })?;
    fault_point("switched");
    Ok(Switch {
        switched,
        routed: store.expect_deployment(id)?,
        old_upstreams,
    })
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
    if let Err(err) = try_retire(&retiring, signals, progress).await {
        progress.warn(&format!(
            "#{id} serves; retiring the previous version did not finish: {err:#}"
        ));
    }
}

/// Wait for the proxy to apply the new route, drain the old upstreams (a signal ends the
/// drain early), then stop the previous version's containers unless they stay warm, and
/// those of any standby the switch ended.
async fn try_retire(
    retiring: &Retiring<'_>,
    signals: &mut Signals,
    progress: &dyn Progress,
) -> Result<()> {
    let applied = retiring.await_proxy(progress).await?;
    retiring.stop_ended_standbys(progress).await?;
    let Some(previous) = &retiring.previous else {
        return Ok(());
    };
    // A version that stays warm longer than the drain time drains while it waits: the
    // command need not wait for it.
    let outlasts_drain = retiring
        .switched
        .warm_until
        .is_some_and(|until| until - now_ms() >= retiring.mode.drain.as_millis() as i64);
    if applied && !outlasts_drain {
        retiring.drain_previous(previous, signals, progress).await?;
    }
    if let Some(until) = retiring
        .switched
        .warm_until
        .filter(|until| *until > now_ms())
    {
        progress.step(&format!(
            "#{} stays warm until {}",
            previous.id,
            crate::clock::rfc3339(until)
        ));
        return Ok(());
    }
    retiring.stop_previous(previous, signals, progress).await
}

impl Retiring<'_> {
    /// Wait for the running `temps proxy` to apply the new route; `false`, with a
    /// warning, when none does.
    async fn await_proxy(&self, progress: &dyn Progress) -> Result<bool> {
        progress.step("waiting for `temps proxy` to apply the new route");
        let applied = wait_applied(self.store, self.switched.generation).await?;
        if !applied {
            progress.warn(&format!(
                "no `temps proxy` is running to serve {}: start it (`temps proxy`) to serve the new route on {}",
                self.env.name, self.mode.listen
            ));
        }
        Ok(applied)
    }

    /// The project's stop timeout, in whole seconds as the engine takes it.
    fn stop_secs(&self) -> i32 {
        self.project.stop_timeout.as_secs_f64().ceil() as i32
    }

    /// Stop the running containers of a standby this switch ended: nothing routes to it
    /// any more.
    async fn stop_ended_standbys(&self, progress: &dyn Progress) -> Result<()> {
        for ended in &self.switched.ended {
            for old in ended
                .containers
                .iter()
                .filter(|c| !self.serving.contains(c))
            {
                if self.engine.container(old).await?.is_some_and(|c| c.running) {
                    stop_container(self.engine, self.project, old, self.stop_secs(), progress)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Let the requests in flight on the previous version finish, up to the drain time;
    /// a signal ends the drain early.
    async fn drain_previous(
        &self,
        previous: &Deployment,
        signals: &mut Signals,
        progress: &dyn Progress,
    ) -> Result<()> {
        let limit = self.mode.drain;
        progress.step(&format!(
            "draining #{} (up to {})",
            previous.id,
            format_duration(limit)
        ));
        tokio::select! {
            result = drain(self.store, self.switched.generation, self.old_upstreams, limit) => {
                let left = result?;
                if left > 0 {
                    progress.warn(&format!(
                        "the drain of #{} ended at its limit ({}) with {left} request(s) still in flight",
                        previous.id,
                        format_duration(limit)
                    ));
                }
            }
            signal = signals.next() => progress.warn(&format!("{signal}: draining stopped early")),
        }
        Ok(())
    }

    /// Stop the previous version's containers. The switch is made: an interrupt can no
    /// longer undo it, and the stop it would cut short goes on in the engine anyway. Say
    /// so rather than ignore it.
    async fn stop_previous(
        &self,
        previous: &Deployment,
        signals: &mut Signals,
        progress: &dyn Progress,
    ) -> Result<()> {
        let project = self.project;
        for old in previous
            .containers
            .iter()
            .filter(|c| !self.serving.contains(c))
        {
            let stopping = stop_container(self.engine, project, old, self.stop_secs(), progress);
            tokio::pin!(stopping);
            loop {
                tokio::select! {
                    stopped = &mut stopping => {
                        stopped?;
                        break;
                    }
                    signal = signals.next() => progress.warn(&format!(
                        "{signal} after the switch: the new version serves {} already, and an interrupt cannot \
                         undo that (`temps rollback {}` does); waiting for {old} to stop (up to {})",
                        self.env.name,
                        previous.id,
                        format_duration(project.stop_timeout)
                    )),
                }
            }
        }
        Ok(())
    }
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
