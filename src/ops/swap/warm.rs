//! Proxy mode's instant path: the target of a rollback or promote still runs warm (see
//! `ops::standby`), with the variables the environment has now, so nothing needs
//! starting. Each of its containers gets one health probe, the route switches in one
//! transaction (the new record serves from those containers), and the version that
//! served until then drains and stays warm in turn. A container that fails its probe
//! changes nothing: the caller takes the cold path instead.

use std::net::SocketAddr;

use anyhow::Result;

use crate::health::{probe_once, Probe};
use crate::ops::fault_point;
use crate::ops::swap::start_first::{retire, switch_route, upstream_of, Retiring};
use crate::ops::swap::{Signals, Swap};
use crate::progress::Progress;
use crate::store::{Deployment, Publish, Store};

/// How the instant path ended.
pub enum WarmOutcome<'a> {
    /// The new record serves from the warm containers.
    Switched(Box<Deployment>),
    /// A warm container did not pass its probe (why): nothing changed, and the swap is
    /// handed back for the cold path.
    NotHealthy(Box<Swap<'a>>, String),
}

/// Switch to the warm containers of `warm`: a standby of the version the rollback or
/// promote goes to (see `redeploy::standby_of`).
pub async fn run<'a>(
    engine: &crate::docker::Engine,
    store: &mut Store,
    swap: Swap<'a>,
    warm: &Deployment,
    progress: &dyn Progress,
) -> Result<WarmOutcome<'a>> {
    let Some(mode) = swap.strategy.proxy() else {
        return Ok(WarmOutcome::NotHealthy(
            Box::new(swap),
            "the environment is not in proxy mode".into(),
        ));
    };
    fault_point("recorded");
    progress.recorded(&swap.deployment);
    let upstreams = match probe_all(engine, &swap, warm, progress).await? {
        Ok(upstreams) => upstreams,
        Err(why) => return Ok(WarmOutcome::NotHealthy(Box::new(swap), why)),
    };
    fault_point("warm-probed");
    let serves_from = Some((warm.id, warm.containers.as_slice()));
    let switch = switch_route(store, &swap, mode, &upstreams, serves_from)?;
    let mut signals = Signals::new()?;
    let retiring = Retiring {
        engine,
        store,
        project: swap.project,
        env: swap.environment,
        previous: swap.previous,
        mode,
        switched: switch.switched,
        serving: &switch.routed.containers,
        old_upstreams: &switch.old_upstreams,
    };
    retire(swap.deployment.id, retiring, &mut signals, progress).await;
    Ok(WarmOutcome::Switched(Box::new(switch.routed)))
}

/// One probe of each warm container, where the proxy will reach it; the addresses to
/// route to, or why one did not pass.
async fn probe_all(
    engine: &crate::docker::Engine,
    swap: &Swap<'_>,
    warm: &Deployment,
    progress: &dyn Progress,
) -> Result<Result<Vec<String>, String>> {
    let Some(port) = swap.project.container_port.or(swap.image.exposed_port) else {
        return Ok(Err(
            "proxy mode needs a container port, and the image exposes none".into(),
        ));
    };
    let mut upstreams = Vec::new();
    for name in &warm.containers {
        progress.step(&format!("probing warm {name}"));
        let Some(choice) = upstream_of(engine, name, port).await? else {
            return Ok(Err(format!("{name} does not run")));
        };
        let Ok(addr) = choice.chosen.parse::<SocketAddr>() else {
            return Ok(Err(format!("{name} has no address the proxy can use")));
        };
        let at = Publish {
            ip: Some(addr.ip().to_string()),
            port: addr.port(),
        };
        let probe = Probe::choose(
            swap.project.health_path.as_deref(),
            swap.image.has_healthcheck,
            Some(port),
            Some(&at),
        );
        if let Err(why) = probe_once(engine, name, &probe).await {
            return Ok(Err(format!("{name} did not pass its probe: {why}")));
        }
        upstreams.push(choice.chosen);
    }
    if upstreams.is_empty() {
        return Ok(Err(format!("#{} has no containers", warm.id)));
    }
    Ok(Ok(upstreams))
}
