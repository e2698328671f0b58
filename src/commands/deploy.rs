//! `temps deploy PROJECT --image REF` or `--dir PATH`.

use std::time::Instant;

use anyhow::Result;

use super::watching::{said_at_the_end, Watcher};
use super::{block_on, Context};
use crate::cli::{DeployArgs, TlsMode};
use crate::clock::format_elapsed;
use crate::error::Failure;
use crate::ops::current_user;
use crate::ops::deploy::folder::DirRequest;
use crate::ops::deploy::{DeployOutcome, DeployRequest, TlsRequest};
use crate::ops::operate::{self, Ended, Request};
use crate::ops::redeploy::AssumeYes;
use crate::output::shown;
use crate::store::{Deployment, Environment, Store};

pub fn cmd_deploy(ctx: &Context, args: DeployArgs) -> Result<()> {
    let started = Instant::now();
    let mut store = ctx.store()?;
    let watch = args.watch.watch;
    let project = args.project.clone();
    let request = request(args)?;
    let spinner = ctx.out.progress(&format!("deploying {project}"));
    let say = |store: &Store, ended: &Ended, _before: Option<i64>| {
        say_deployed(ctx, store, ended, format_elapsed(started.elapsed()))
    };
    let watcher = Watcher::new(ctx, &spinner, &say);
    let operated = block_on(operate::run(
        &mut store, request, watch, &AssumeYes, &spinner, &watcher,
    ))??;
    said_at_the_end(ctx, &operated)
}

/// The operation the arguments ask for: an image, or a folder.
fn request(args: DeployArgs) -> Result<Request> {
    let environment = args.environment.environment;
    match (args.image, args.dir) {
        (Some(image), _) => {
            let command = format!("deploy {} --image {image}", args.project);
            Ok(Request::Deploy(Box::new(DeployRequest {
                project: args.project,
                environment,
                image,
                publish: args.publish,
                reason: args.reason,
                created_by: current_user(),
                command,
                wait_lock: args.lock.wait_lock,
                proxy: args.proxy,
                replicas: args.replicas,
                drain: args.drain,
                response_timeout: args.response_timeout,
                domains: (!args.domains.is_empty()).then_some(args.domains),
                standby: args.standby,
                swarm: args.swarm,
                health_timeout: args.health_timeout,
                tls: match (args.tls, args.tls_cert, args.tls_key) {
                    (_, Some(cert), Some(key)) => Some(TlsRequest::Own { cert, key }),
                    (Some(TlsMode::Acme), _, _) => Some(TlsRequest::Acme),
                    (Some(TlsMode::Off), _, _) => Some(TlsRequest::Off),
                    _ => None,
                }
                .map(Box::new),
                hsts: args.hsts,
                schema: args.schema,
                schema_compat: args.schema_compat,
            })))
        }
        (None, Some(dir)) => {
            if args.publish.is_some()
                || args.health_timeout.is_some()
                || args.proxy.is_some()
                || args.replicas.is_some()
                || args.drain.is_some()
                || args.response_timeout.is_some()
                || !args.domains.is_empty()
                || args.standby.is_some()
                || args.swarm
                || args.tls.is_some()
                || args.tls_cert.is_some()
                || args.hsts.is_some()
            {
                return Err(Failure::usage(
                    "--publish, --proxy, --swarm, --replicas, --drain, --response-timeout, --domain, --standby, --tls, --tls-cert, --hsts and --health-timeout apply to docker projects",
                )
                .hint("a static release is served by your web server from its `current` link")
                .into());
            }
            let command = format!("deploy {} --dir {}", args.project, dir.display());
            Ok(Request::Dir(DirRequest {
                project: args.project,
                environment,
                dir,
                reason: args.reason,
                created_by: current_user(),
                command,
                wait_lock: args.lock.wait_lock,
                schema: args.schema,
                schema_compat: args.schema_compat,
            }))
        }
        (None, None) => Err(Failure::usage("deploy needs `--image REF` or `--dir PATH`")
            .hint("a docker project deploys an image (`--image web:1.2`), a static one a folder (`--dir ./dist`)")
            .into()),
    }
}

/// What a deploy says once it serves (or is recorded `ready`), before any watch.
fn say_deployed(ctx: &Context, store: &Store, ended: &Ended, took: String) -> Result<()> {
    if ctx.out.is_json() {
        return Ok(());
    }
    match ended {
        Ended::Deploy(DeployOutcome::Serving(d)) => {
            ctx.out.line(format!(
                "deployed #{} ({}) to {}/{} in {took}",
                d.id,
                shown(&what(d)),
                d.project,
                d.environment
            ));
            let project = store.project(&d.project)?;
            if let Some(env) = store.environment(project.id, &d.environment)? {
                if let Some(serving) = serving_on(store, &env)? {
                    ctx.out.note(serving);
                }
            }
        }
        Ended::Deploy(DeployOutcome::Ready(d)) => {
            ctx.out.line(format!(
                "recorded #{} ({}) as {}: {}/{} is rolled back, so it does not serve",
                d.id,
                shown(&what(d)),
                ctx.out.loud("ready"),
                d.project,
                d.environment
            ));
            ctx.out.note(format!(
                "hint: `temps promote {}` makes it serve and ends the rolled-back state",
                d.id
            ));
        }
        Ended::Redeploy(_) => {}
    }
    Ok(())
}

/// Where a deployed environment is reached now (`None`: nowhere outside Docker).
fn serving_on(store: &Store, env: &Environment) -> Result<Option<String>> {
    Ok(Some(match (&env.publish, env.swarm, &env.proxy) {
        (Some(publish), true, _) => {
            format!("serving on port {publish} of every node that runs a task")
        }
        (Some(publish), false, _) => format!("serving on port {publish}"),
        (None, _, Some(listen)) => {
            let running = store
                .proxy_state()?
                .is_some_and(|s| s.is_running(crate::clock::now_ms()));
            if running {
                format!("serving on {listen} through `temps proxy`")
            } else {
                format!("routed on {listen}; it serves there once `temps proxy` runs")
            }
        }
        (None, _, None) => return Ok(None),
    }))
}

/// The image reference, or the release folder of a static deployment.
pub fn what(d: &Deployment) -> String {
    d.image
        .clone()
        .or_else(|| d.artifact.clone())
        .unwrap_or_else(|| "-".into())
}
