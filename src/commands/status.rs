//! `temps status`: what each environment serves, its containers' live state, and any
//! drift between the history and what Docker actually runs.

use anyhow::Result;
use serde::Serialize;

use super::{block_on, Context};
use crate::cli::StatusArgs;
use crate::clock::{ago, now_ms};
use crate::commands::deploy::what;
use crate::docker::{ContainerFacts, Engine, Health};
use crate::ops::drift::observe;
use crate::ops::release;
use crate::store::{Deployment, EnvState, Preset, Project, Store};

#[derive(Serialize)]
struct EnvironmentStatus {
    project: String,
    environment: String,
    state: &'static str,
    publish: Option<String>,
    current: Option<Deployment>,
    containers: Vec<ContainerStatus>,
    /// Proxy mode: the route and what the running proxy reports of it.
    proxy: Option<ProxyView>,
    drift: Vec<String>,
    /// A docker project's environment (a static one has no address of its own).
    #[serde(skip)]
    docker: bool,
}

#[derive(Serialize)]
struct ProxyView {
    listen: String,
    /// The route's generation, as written by the last switch.
    generation: i64,
    /// Whether a `temps proxy` reported itself in the last second.
    running: bool,
    /// The generation the running proxy applies.
    applied_generation: Option<i64>,
    upstreams: Vec<UpstreamView>,
}

#[derive(Serialize)]
struct UpstreamView {
    address: String,
    in_flight: u64,
}

#[derive(Serialize)]
struct ContainerStatus {
    name: String,
    deployment_id: Option<i64>,
    state: String,
    health: Option<&'static str>,
}

pub fn cmd_status(ctx: &Context, args: StatusArgs) -> Result<()> {
    let store = ctx.store()?;
    let projects = match &args.project {
        Some(name) => vec![store.project(name)?],
        None => store.projects()?,
    };
    let needs_docker = projects.iter().any(|p| p.preset == Preset::Docker);
    let statuses = block_on(async {
        let engine = if needs_docker {
            Some(Engine::connect().await?)
        } else {
            None
        };
        let mut all = Vec::new();
        for project in &projects {
            all.extend(project_status(&store, engine.as_ref(), project).await?);
        }
        anyhow::Ok(all)
    })??;
    if ctx.out.is_json() {
        return ctx.out.json(&statuses);
    }
    if statuses.is_empty() {
        ctx.out.note("nothing deployed yet");
    }
    print_statuses(ctx, &statuses);
    Ok(())
}

async fn project_status(
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
        let current = match env.current_deployment_id {
            Some(id) => store.deployment(id)?,
            None => None,
        };
        let mine: Vec<&ContainerFacts> = containers
            .iter()
            .filter(|c| c.environment.as_deref() == Some(env.name.as_str()))
            .collect();
        let mut drift = Vec::new();
        let proxy = match (&env.proxy, store.route_of(env.id)?) {
            (Some(listen), route) => {
                let state = store.proxy_state()?;
                let running = state
                    .as_ref()
                    .is_some_and(|s| crate::proxy::is_running(s, crate::clock::now_ms()));
                let generation = route.as_ref().map_or(0, |r| r.generation);
                let applied = state.as_ref().filter(|_| running).map(|s| s.generation);
                if !running {
                    drift.push(format!(
                        "no `temps proxy` is running: nothing serves {listen}"
                    ));
                } else if applied.is_some_and(|a| a < generation) {
                    drift.push(format!(
                        "the proxy applies generation {} of the routes, not {generation} yet",
                        applied.unwrap_or(0)
                    ));
                }
                let in_flight = |address: &str| {
                    state
                        .as_ref()
                        .and_then(|s| s.in_flight.get(address).copied())
                        .unwrap_or(0)
                };
                Some(ProxyView {
                    listen: listen.clone(),
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
                })
            }
            (None, _) => None,
        };
        match project.preset {
            Preset::Docker => drift.extend(
                observe(current.as_ref(), &mine)
                    .iter()
                    .map(ToString::to_string),
            ),
            Preset::Static => {
                let pointed = release::pointed(&store.static_root(), &project.name, &env.name);
                let expected = current.as_ref().and_then(|d| d.artifact.clone());
                if pointed.as_deref().map(|p| p.to_string_lossy().into_owned()) != expected {
                    drift.push(format!(
                        "the `current` link points at {}, but the history says {}",
                        pointed.map_or("nothing".into(), |p| format!("`{}`", p.display())),
                        expected.map_or("nothing".into(), |e| format!("`{e}`"))
                    ));
                }
            }
        }
        statuses.push(EnvironmentStatus {
            project: project.name.clone(),
            environment: env.name.clone(),
            state: env.state.as_str(),
            publish: env.publish.as_ref().map(|p| p.to_string()),
            current,
            containers: mine
                .iter()
                .map(|c| ContainerStatus {
                    name: c.name.clone(),
                    deployment_id: c.deployment_id,
                    state: c.state.clone(),
                    health: health_word(c.health),
                })
                .collect(),
            proxy,
            drift,
            docker: project.preset == Preset::Docker,
        });
    }
    Ok(statuses)
}

fn health_word(health: Health) -> Option<&'static str> {
    match health {
        Health::None => None,
        Health::Starting => Some("starting"),
        Health::Healthy => Some("healthy"),
        Health::Unhealthy => Some("unhealthy"),
    }
}

fn print_statuses(ctx: &Context, statuses: &[EnvironmentStatus]) {
    let out = ctx.out;
    let now = now_ms();
    for (i, s) in statuses.iter().enumerate() {
        if i > 0 {
            out.line("");
        }
        let state = if s.state == EnvState::RolledBack.as_str() {
            out.loud("ROLLED BACK (new deploys wait as `ready` until `temps promote`)")
        } else {
            "normal".to_string()
        };
        out.line(format!(
            "{}  {state}",
            out.bold(&format!("{}/{}", s.project, s.environment))
        ));
        match &s.current {
            Some(d) => {
                let note = d.note();
                out.line(format!(
                    "  serving    #{} {}{} — deployed {} by {}",
                    d.id,
                    what(d),
                    if note.is_empty() {
                        String::new()
                    } else {
                        format!(" ({note})")
                    },
                    ago(d.finished_at.unwrap_or(d.created_at), now),
                    d.created_by
                ));
            }
            None => out.line("  serving    nothing"),
        }
        match (&s.publish, &s.proxy) {
            (Some(publish), _) => out.line(format!("  published  {publish}")),
            (None, None) if s.docker && s.current.is_some() => out.line(out.loud(
                "  published  nothing: no port is published and it is not in proxy mode, \
                 so only Docker's network reaches it (deploy with `--publish` or `--proxy`)",
            )),
            _ => {}
        }
        if let Some(proxy) = &s.proxy {
            let applied = match (proxy.running, proxy.applied_generation) {
                (true, Some(applied)) => format!("the proxy applies generation {applied}"),
                _ => "no proxy running".to_string(),
            };
            out.line(format!(
                "  proxy      {} (route generation {}; {applied})",
                proxy.listen, proxy.generation
            ));
            for upstream in &proxy.upstreams {
                out.line(format!(
                    "  upstream   {}  {} in flight",
                    upstream.address, upstream.in_flight
                ));
            }
        }
        for c in &s.containers {
            let health = c.health.map(|h| format!(", {h}")).unwrap_or_default();
            let line = format!("  container  {}  {}{health}", c.name, c.state);
            out.line(if c.state == "running" {
                line
            } else {
                out.bad(&line).to_string()
            });
        }
        for d in &s.drift {
            out.line(out.bad(&format!("  drift      {d}")));
        }
        if !s.drift.is_empty() {
            out.line("  hint: redeploy or roll back to put the environment in a known state");
        }
    }
}
