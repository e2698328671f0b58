//! What each environment of a project serves: its current deployment, its containers'
//! live state, its proxy route, and any drift between the history and what runs. `temps
//! status` prints it; the API answers with it.

use anyhow::Result;
use serde::Serialize;

use crate::docker::{ContainerFacts, Engine, Health, UpdateState};
use crate::ops::pipeline::drift::{
    observe, observe_proxy, observe_release, observe_service, Drift,
};
use crate::ops::release;
use crate::store::{Deployment, Environment, Preset, Project, Store};

#[derive(Serialize)]
pub struct EnvironmentStatus {
    pub project: String,
    pub environment: String,
    pub state: &'static str,
    pub publish: Option<String>,
    pub current: Option<Deployment>,
    pub containers: Vec<ContainerStatus>,
    /// Proxy mode: the route and what the running proxy reports of it.
    pub proxy: Option<ProxyView>,
    /// Swarm mode: the service and each of its tasks.
    pub swarm: Option<SwarmView>,
    /// Proxy mode with HTTPS: each domain's certificate (`[]` when plain).
    pub tls: Vec<crate::ops::deploy::tls::TlsView>,
    /// Each written out as the sentence that says it.
    pub drift: Vec<Drift>,
    /// A docker project's environment (a static one has no address of its own).
    #[serde(skip)]
    pub docker: bool,
}

#[derive(Serialize)]
pub struct ProxyView {
    pub listen: String,
    /// The hosts it answers there (none: every host).
    pub domains: Vec<String>,
    /// The route's generation, as written by the last switch.
    pub generation: i64,
    /// Whether a `temps proxy` reported itself in the last second.
    pub running: bool,
    /// The generation the running proxy applies.
    pub applied_generation: Option<i64>,
    pub upstreams: Vec<UpstreamView>,
}

#[derive(Serialize)]
pub struct SwarmView {
    pub service: String,
    pub replicas: u32,
    /// The service's last update as Swarm reports it (`updating`, `paused`,
    /// `completed`, ...), `null` when it was never updated; `null` service: none exists.
    pub update: Option<String>,
    pub exists: bool,
    pub tasks: Vec<TaskView>,
}

#[derive(Serialize)]
pub struct TaskView {
    pub name: String,
    pub node: String,
    /// The node is up and takes tasks.
    pub node_ready: bool,
    pub state: String,
    /// `healthy` or `starting` when the image has a HEALTHCHECK (Swarm reports such a
    /// task running only once it is healthy); `null` otherwise.
    pub health: Option<&'static str>,
    pub deployment_id: Option<i64>,
    pub image: String,
    /// It runs an image that is not the current deployment's digest.
    pub drift: bool,
    pub error: Option<String>,
}

#[derive(Serialize)]
pub struct UpstreamView {
    pub address: String,
    pub in_flight: u64,
}

#[derive(Serialize)]
pub struct ContainerStatus {
    pub name: String,
    pub deployment_id: Option<i64>,
    pub state: String,
    pub health: Option<&'static str>,
    /// Proxy mode: a warm standby's container, kept running with no traffic until then
    /// (RFC 3339).
    pub warm_until: Option<String>,
    /// That standby is a version that failed (older records): it only drains.
    #[serde(skip)]
    pub draining: bool,
}

/// The environments of `projects`, asking Docker once when any of them needs it.
pub async fn statuses(store: &Store, projects: &[Project]) -> Result<Vec<EnvironmentStatus>> {
    let needs_docker = projects.iter().any(|p| p.preset == Preset::Docker);
    let engine = if needs_docker {
        Some(Engine::connect().await?)
    } else {
        None
    };
    let mut all = Vec::new();
    for project in projects {
        all.extend(project_status(store, engine.as_ref(), project).await?);
    }
    Ok(all)
}

/// Each environment of `project`, from one list of its containers.
pub async fn project_status(
    store: &Store,
    engine: Option<&Engine>,
    project: &Project,
) -> Result<Vec<EnvironmentStatus>> {
    let containers = match engine {
        Some(engine) if project.preset == Preset::Docker => {
            engine.project_containers(&project.name).await?
        }
        _ => Vec::new(),
    };
    let mut statuses = Vec::new();
    for env in store.environments(project.id)? {
        statuses.push(environment_status(store, engine, project, env, &containers).await?);
    }
    Ok(statuses)
}

/// One environment: what it serves, its containers (of the project's `containers`),
/// its proxy route or swarm service, and its drift.
async fn environment_status(
    store: &Store,
    engine: Option<&Engine>,
    project: &Project,
    env: Environment,
    containers: &[ContainerFacts],
) -> Result<EnvironmentStatus> {
    let current = match env.current_deployment_id {
        Some(id) => store.deployment(id)?,
        None => None,
    };
    let mine: Vec<&ContainerFacts> = containers
        .iter()
        .filter(|c| c.environment.as_deref() == Some(env.name.as_str()))
        .collect();
    let warm = store.warm(env.id, crate::clock::now_ms())?;
    let mut drift = Vec::new();
    let proxy = match &env.proxy {
        Some(listen) => {
            let (view, found) = proxy_view(store, &env, listen)?;
            drift.extend(found);
            Some(view)
        }
        None => None,
    };
    let swarm = match engine.filter(|_| env.swarm) {
        Some(engine) => {
            let (view, found) =
                swarm_view(engine, project, &env.name, env.replicas, current.as_ref()).await?;
            drift.extend(found);
            Some(view)
        }
        None => None,
    };
    match project.preset {
        Preset::Docker if env.swarm => {}
        Preset::Docker => {
            let warm_containers: Vec<String> =
                warm.iter().flat_map(|d| d.containers.clone()).collect();
            drift.extend(observe(current.as_ref(), &warm_containers, &mine));
        }
        Preset::Static => {
            let pointed = release::pointed(&store.static_root(), &project.name, &env.name);
            let expected = current.as_ref().and_then(|d| d.artifact.clone());
            drift.extend(observe_release(pointed, expected));
        }
    }
    let proxy_running = proxy.as_ref().is_some_and(|p| p.running);
    let tls = crate::ops::deploy::tls::views(store, &env, proxy_running, crate::clock::now_ms())?;
    Ok(EnvironmentStatus {
        project: project.name.clone(),
        environment: env.name.clone(),
        state: env.state.as_str(),
        publish: env.publish.as_ref().map(|p| p.to_string()),
        current,
        containers: mine.iter().map(|c| container_status(c, &warm)).collect(),
        proxy,
        swarm,
        tls,
        drift,
        docker: project.preset == Preset::Docker,
    })
}

/// A container as `status` shows it, with the time its warm standby (of `warm`) ends.
fn container_status(c: &ContainerFacts, warm: &[Deployment]) -> ContainerStatus {
    let standbys: Vec<&Deployment> = warm
        .iter()
        .filter(|d| d.containers.iter().any(|name| name == &c.name))
        .collect();
    // Warm only as versions that failed (records made before those stopped drained).
    let failed = |d: &&Deployment| {
        matches!(
            d.status,
            crate::store::Status::Failed | crate::store::Status::Cancelled
        )
    };
    ContainerStatus {
        name: c.name.clone(),
        deployment_id: c.deployment_id,
        state: c.state.clone(),
        health: health_word(c.health),
        warm_until: standbys
            .iter()
            .filter_map(|d| d.warm_until)
            .max()
            .map(crate::clock::rfc3339),
        draining: !standbys.is_empty() && standbys.iter().all(failed),
    }
}

/// Proxy mode: the environment's route on `listen`, what the running proxy reports of
/// it, and where the two disagree.
fn proxy_view(
    store: &Store,
    env: &Environment,
    listen: &str,
) -> Result<(ProxyView, Option<Drift>)> {
    let route = store.route_of(env.id)?;
    let state = store.proxy_state()?;
    let running = state
        .as_ref()
        .is_some_and(|s| s.is_running(crate::clock::now_ms()));
    let generation = route.as_ref().map_or(0, |r| r.generation);
    let applied = state.as_ref().filter(|_| running).map(|s| s.generation);
    let in_flight = |address: &str| {
        state
            .as_ref()
            .and_then(|s| s.in_flight.get(address).copied())
            .unwrap_or(0)
    };
    let view = ProxyView {
        listen: listen.to_string(),
        domains: env.domains.clone(),
        generation,
        running,
        applied_generation: applied,
        upstreams: route
            .map(|r| r.upstreams)
            .unwrap_or_default()
            .into_iter()
            .map(|address| UpstreamView {
                in_flight: in_flight(&address),
                address,
            })
            .collect(),
    };
    Ok((view, observe_proxy(listen, applied, generation)))
}

/// The service of an environment in swarm mode, its tasks, and where they drift from
/// the history (the one model of drift: `ops::drift`).
async fn swarm_view(
    engine: &Engine,
    project: &Project,
    environment: &str,
    replicas: u32,
    current: Option<&Deployment>,
) -> Result<(SwarmView, Vec<Drift>)> {
    let service = crate::docker::service_name(&project.name, environment);
    let facts = engine.service(&service).await?;
    let tasks = match &facts {
        Some(_) => engine.service_tasks(&service).await?,
        None => Vec::new(),
    };
    let found = observe_service(current, &service, replicas, facts.as_ref(), &tasks);
    let digest = current.and_then(|d| d.image_id.clone());
    let has_healthcheck = match &digest {
        Some(digest) => engine
            .image(digest)
            .await?
            .is_some_and(|image| image.has_healthcheck),
        None => false,
    };
    let view = SwarmView {
        service: service.clone(),
        replicas: facts.as_ref().map_or(replicas, |f| f.replicas),
        update: facts.as_ref().and_then(|f| {
            f.update.map(|u| {
                let word = u.as_str();
                let said = matches!(u, UpdateState::Paused | UpdateState::RollingBack);
                match f
                    .update_message
                    .as_deref()
                    .filter(|m| said && !m.is_empty())
                {
                    Some(message) => format!("{word}: {message}"),
                    None => word.to_string(),
                }
            })
        }),
        exists: facts.is_some(),
        tasks: tasks
            .into_iter()
            // The tasks Swarm wants running, and what failed or waits among the rest of
            // the newest.
            .filter(|t| t.desired_running)
            .map(|t| TaskView {
                drift: t.running && Some(&t.image) != digest.as_ref(),
                health: match (has_healthcheck, t.state.as_str()) {
                    (true, "running") => Some("healthy"),
                    (true, "starting") => Some("starting"),
                    _ => None,
                },
                name: t.name,
                node: t.node,
                node_ready: t.node_ready,
                state: t.state,
                deployment_id: t.deployment_id,
                image: t.image,
                error: t.error,
            })
            .collect(),
    };
    Ok((view, found))
}

fn health_word(health: Health) -> Option<&'static str> {
    match health {
        Health::None => None,
        Health::Starting => Some("starting"),
        Health::Healthy => Some("healthy"),
        Health::Unhealthy => Some("unhealthy"),
    }
}
