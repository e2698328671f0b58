//! `temps status`: what each environment serves, its containers' live state, and any
//! drift between the history and what Docker actually runs.

use anyhow::Result;

use super::{block_on, Context};
use crate::cli::StatusArgs;
use crate::clock::{ago, now_ms};
use crate::commands::deploy::what;
use crate::ops::view::status::{statuses, EnvironmentStatus};
use crate::output::shown;
use crate::store::EnvState;
use crate::text::printable;

pub fn cmd_status(ctx: &Context, args: StatusArgs) -> Result<()> {
    let store = ctx.store()?;
    let projects = match &args.project {
        Some(name) => vec![store.project(name)?],
        None => store.projects()?,
    };
    let statuses = block_on(statuses(&store, &projects))??;
    if ctx.out.is_json() {
        return ctx.out.json(&statuses);
    }
    if statuses.is_empty() {
        ctx.out.note("nothing deployed yet");
    }
    print_statuses(ctx, &statuses);
    Ok(())
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
                    shown(&what(d)),
                    if note.is_empty() {
                        String::new()
                    } else {
                        format!(" ({note})")
                    },
                    ago(d.finished_at.unwrap_or(d.created_at), now),
                    shown(&d.created_by)
                ));
            }
            None => out.line("  serving    nothing"),
        }
        match (&s.publish, &s.proxy) {
            (Some(publish), _) if s.swarm.is_some() => out.line(format!(
                "  published  {publish} on every node that runs a task (host mode)"
            )),
            (Some(publish), _) => out.line(format!("  published  {publish}")),
            (None, None) if s.swarm.is_some() => {}
            (None, None) if s.docker && s.current.is_some() => out.line(out.loud(
                "  published  nothing: no port is published and it is not in proxy mode, \
                 so only Docker's network reaches it (deploy with `--publish` or `--proxy`)",
            )),
            _ => {}
        }
        if let Some(proxy) = &s.proxy {
            // Generations count every route change of every environment: the proxy's is
            // the latest it applied, this route's the one it must have reached.
            let applied = match (proxy.running, proxy.applied_generation) {
                (true, Some(applied)) if applied >= proxy.generation => {
                    "the running proxy serves this route".to_string()
                }
                (true, Some(applied)) => format!(
                    "the running proxy has not applied it yet (it is at generation {applied} of {})",
                    proxy.generation
                ),
                _ => "no `temps proxy` runs: nothing serves it".to_string(),
            };
            out.line(format!("  proxy      {} ({applied})", proxy.listen));
            if !proxy.domains.is_empty() {
                out.line(format!("  domains    {}", shown(&proxy.domains.join(", "))));
            }
            for upstream in &proxy.upstreams {
                out.line(format!(
                    "  upstream   {}  {} in flight",
                    upstream.address, upstream.in_flight
                ));
            }
        }
        for tls in &s.tls {
            let held = match (&tls.issuer, &tls.not_after) {
                (Some(issuer), Some(not_after)) => {
                    format!("certificate from {} until {not_after}", printable(issuer))
                }
                _ => "no certificate yet".to_string(),
            };
            out.line(format!("  https      {}  {held}", tls.domain));
            if let Some(error) = &tls.error {
                out.line(out.loud(&format!("             error: {}", printable(error))));
            }
        }
        if let Some(swarm) = &s.swarm {
            let update = swarm
                .update
                .as_ref()
                .map(|u| format!("; last update {}", shown(u)))
                .unwrap_or_default();
            out.line(format!(
                "  swarm      service {}, {} replicas{update}",
                swarm.service, swarm.replicas
            ));
            for t in &swarm.tasks {
                let health = t.health.map(|h| format!(", {h}")).unwrap_or_default();
                let node = if t.node_ready {
                    shown(&t.node)
                } else {
                    format!("{} (node down)", shown(&t.node))
                };
                let runs = t
                    .deployment_id
                    .map(|id| format!("  #{id}"))
                    .unwrap_or_default();
                let drift = if t.drift { "  DRIFT" } else { "" };
                let error = t
                    .error
                    .as_ref()
                    .map(|e| format!("  ({})", shown(e)))
                    .unwrap_or_default();
                let line = format!(
                    "  task       {}  {node}  {}{health}{runs}{drift}{error}",
                    shown(&t.name),
                    shown(&t.state)
                );
                out.line(if t.state == "running" && !t.drift && t.node_ready {
                    line
                } else {
                    out.bad(&line).to_string()
                });
            }
        }
        for c in &s.containers {
            let health = c.health.map(|h| format!(", {h}")).unwrap_or_default();
            let warm = match (&c.warm_until, c.state.as_str()) {
                (Some(until), "running") => format!(
                    "  {} until {}",
                    if c.draining {
                        "draining (it failed)"
                    } else {
                        "warm standby"
                    },
                    until
                        .get(11..16)
                        .map_or(until.clone(), |t| format!("{t} UTC"))
                ),
                _ => String::new(),
            };
            let line = format!(
                "  container  {}  {}{health}{warm}",
                shown(&c.name),
                shown(&c.state)
            );
            out.line(if c.state == "running" {
                line
            } else {
                out.bad(&line).to_string()
            });
        }
        for d in &s.drift {
            out.line(out.bad(&format!("  drift      {}", shown(&d.to_string()))));
        }
        if !s.drift.is_empty() {
            out.line("  hint: redeploy or roll back to put the environment in a known state");
        }
    }
}
