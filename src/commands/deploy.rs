//! `temps deploy PROJECT --image REF` or `--dir PATH`.

use std::time::Instant;

use anyhow::Result;

use super::watching::watch_after;
use super::{block_on, Context};
use crate::cli::{DeployArgs, TlsMode};
use crate::clock::format_elapsed;
use crate::error::Failure;
use crate::ops::current_user;
use crate::ops::deploy::{deploy_image, DeployOutcome, DeployRequest, TlsRequest};
use crate::ops::static_site::{deploy_dir, DirRequest};
use crate::ops::watch;
use crate::output::shown;
use crate::store::Deployment;

pub fn cmd_deploy(ctx: &Context, args: DeployArgs) -> Result<()> {
    let started = Instant::now();
    let environment = args.environment.environment;
    let mut store = ctx.store()?;
    let watch_flag = args.watch.watch;
    // What serves now: a watch of the new deployment rolls back to it.
    let before = watch::serving_now(&store, &args.project, &environment)
        .ok()
        .flatten();
    let outcome = match (args.image, args.dir) {
        (Some(image), _) => {
            let publish = args.publish;
            let spinner = ctx.out.progress(&format!("deploying {}", args.project));
            let (request_project, request_image) = (args.project.clone(), image.clone());
            let proxy = args.proxy;
            let request = DeployRequest {
                project: args.project,
                environment,
                image,
                publish,
                reason: args.reason,
                created_by: current_user(),
                command: format!(
                    "deploy {project} --image {image}",
                    project = request_project,
                    image = request_image
                ),
                wait_lock: args.lock.wait_lock,
                proxy,
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
            };
            block_on(deploy_image(&mut store, request, &spinner))??
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
            let spinner = ctx.out.progress(&format!("deploying {}", args.project));
            let request = DirRequest {
                project: args.project,
                environment,
                dir,
                reason: args.reason,
                created_by: current_user(),
                command,
                wait_lock: args.lock.wait_lock,
            };
            block_on(deploy_dir(&mut store, request, &spinner))??
        }
        (None, None) => {
            return Err(Failure::usage("deploy needs `--image REF` or `--dir PATH`")
                .hint("a docker project deploys an image (`--image web:1.2`), a static one a folder (`--dir ./dist`)")
                .into())
        }
    };
    let took = format_elapsed(started.elapsed());
    match outcome {
        DeployOutcome::Serving(d) => {
            let project = store.project(&d.project)?;
            if !ctx.out.is_json() {
                ctx.out.line(format!(
                    "deployed #{} ({}) to {}/{} in {took}",
                    d.id,
                    shown(&what(&d)),
                    d.project,
                    d.environment
                ));
                if let Some(env) = store.environment(project.id, &d.environment)? {
                    if let (Some(publish), true) = (&env.publish, env.swarm) {
                        ctx.out.note(format!(
                            "serving on port {publish} of every node that runs a task"
                        ));
                    } else if let Some(publish) = env.publish {
                        ctx.out.note(format!("serving on port {publish}"));
                    } else if let Some(listen) = env.proxy {
                        let running = store
                            .proxy_state()?
                            .is_some_and(|s| s.is_running(crate::clock::now_ms()));
                        ctx.out.note(if running {
                            format!("serving on {listen} through `temps proxy`")
                        } else {
                            format!("routed on {listen}; it serves there once `temps proxy` runs")
                        });
                    }
                }
            }
            let window = watch::window(watch_flag, &project);
            let d = block_on(watch_after(ctx, &mut store, d, before, window))??;
            if ctx.out.is_json() {
                return ctx.out.json(&d);
            }
        }
        DeployOutcome::Ready(d) => {
            if ctx.out.is_json() {
                return ctx.out.json(&d);
            }
            ctx.out.line(format!(
                "recorded #{} ({}) as {}: {}/{} is rolled back, so it does not serve",
                d.id,
                shown(&what(&d)),
                ctx.out.loud("ready"),
                d.project,
                d.environment
            ));
            ctx.out.note(format!(
                "hint: `temps promote {}` makes it serve and ends the rolled-back state",
                d.id
            ));
        }
    }
    Ok(())
}

/// The image reference, or the release folder of a static deployment.
pub fn what(d: &Deployment) -> String {
    d.image
        .clone()
        .or_else(|| d.artifact.clone())
        .unwrap_or_else(|| "-".into())
}
