//! `temps deploy --image`: pin the image, record the deployment, and swap to it; or,
//! while the environment is rolled back, record it `ready` without routing it.

use std::time::Duration;

use anyhow::Result;

use super::domains;
use super::hooks::{self, HookEnv};
use super::lock::Asker;
use super::recover::take_environment;
use super::swap::{self, swarm, Swap};
use super::swap::{ProxyMode, SwarmMode};
use super::tls as tls_settings;
pub use super::tls::TlsRequest;
use crate::docker::{Engine, ImageFacts};
use crate::error::clean_reason;
use crate::error::{check_name, Failure};
use crate::progress::{Progress, Stage};
use crate::store::{
    Deployment, EnvState, NewDeployment, Preset, Project, Publish, Status, Store, Tls,
    DEFAULT_RESPONSE_TIMEOUT, DEFAULT_STANDBY,
};

pub struct DeployRequest {
    pub project: String,
    pub environment: String,
    pub image: String,
    pub publish: Option<Publish>,
    pub reason: Option<String>,
    pub created_by: String,
    /// How the command was invoked, for whoever finds the environment busy.
    pub command: String,
    pub wait_lock: Option<Duration>,
    /// Proxy mode: the public address (`--proxy`), replicas and drain time; each
    /// remembered by the environment once a deployment serves with it.
    pub proxy: Option<String>,
    pub replicas: Option<u32>,
    pub drain: Option<Duration>,
    /// Proxy mode: how long the app's answer may take to begin (`--response-timeout`).
    pub response_timeout: Option<Duration>,
    /// Proxy mode: the hosts it answers on its address (`--domain`); `None` keeps what the
    /// environment remembers.
    pub domains: Option<Vec<String>>,
    /// Proxy mode: how long the replaced deployment stays warm (`--standby`).
    pub standby: Option<Duration>,
    /// Swarm mode (`--swarm`): the environment becomes one Swarm service; remembered.
    pub swarm: bool,
    /// Instead of the project's health timeout, for this deploy only (`--health-timeout`).
    pub health_timeout: Option<Duration>,
    /// Proxy mode: HTTPS (`--tls`, `--tls-cert`/`--tls-key`) and its HSTS max-age
    /// (`--hsts`); `None` keeps what the environment remembers.
    pub tls: Option<Box<TlsRequest>>,
    pub hsts: Option<Duration>,
}

pub enum DeployOutcome {
    /// The new deployment serves its environment.
    Serving(Deployment),
    /// Recorded `ready` and not routed: the environment is rolled back.
    Ready(Deployment),
}

impl hooks::Outcome for DeployOutcome {
    fn outcome(&self) -> &'static str {
        match self {
            DeployOutcome::Serving(_) => "deployed",
            DeployOutcome::Ready(_) => "ready",
        }
    }
}

pub async fn deploy_image(
    store: &mut Store,
    request: DeployRequest,
    progress: &dyn Progress,
) -> Result<DeployOutcome> {
    progress.stage(Stage::Validate);
    check_name("environment", &request.environment)?;
    let reason = clean_reason(request.reason.clone())?;
    let project = store.project(&request.project)?;
    require_preset(&project, Preset::Docker)?;

    check_image_reference(&request.image)?;
    let remembered = store.environment(project.id, &request.environment)?;
    let swarm = request.swarm || remembered.as_ref().is_some_and(|e| e.swarm);
    if swarm {
        check_swarm_request(&project, &request, remembered.as_ref())?;
    }
    // What the request asks of the environment is checked before Docker is asked
    // anything (a pull changes the engine).
    if let (Some(_), Some(listen)) = (
        &request.publish,
        remembered.as_ref().and_then(|e| e.proxy.as_ref()),
    ) {
        return Err(Failure::usage(format!(
            "{}/{} is served by `temps proxy` on {listen}; it cannot go back to a published port",
            project.name, request.environment
        ))
        .hint("deploy with `--proxy ADDR` to move it, or use another environment for a published port")
        .into());
    }
    let proxied = request.proxy.is_some()
        || (request.publish.is_none() && remembered.as_ref().is_some_and(|e| e.proxy.is_some()));
    if !proxied
        && !swarm
        && (request.replicas.is_some()
            || request.drain.is_some()
            || request.response_timeout.is_some()
            || request.domains.is_some()
            || request.standby.is_some()
            || request.tls.is_some()
            || request.hsts.is_some())
    {
        return Err(Failure::usage(
            "--replicas, --drain, --response-timeout, --domain, --standby, --tls and --hsts apply to environments in proxy mode",
        )
        .hint("serve through the proxy: `--proxy 0.0.0.0:80`")
        .into());
    }
    let domains = request
        .domains
        .as_deref()
        .map(domains::normalize_all)
        .transpose()?;
    let mut tls = Tls::Off;
    if proxied {
        let remembered_proxy = remembered.as_ref().and_then(|e| e.proxy.clone());
        if let Some(listen) = request.proxy.clone().or(remembered_proxy.clone()) {
            let claimed = domains
                .clone()
                .or(remembered.as_ref().map(|e| e.domains.clone()))
                .unwrap_or_default();
            let who = format!("{}/{}", project.name, request.environment);
            tls = tls_settings::choose(
                request.tls.as_deref(),
                remembered.as_ref().map_or(&Tls::Off, |e| &e.tls),
                &claimed,
                crate::clock::now_ms(),
            )?;
            tls_settings::check_hsts(request.hsts, &tls)?;
            let environment_id = remembered.as_ref().map(|e| e.id);
            domains::check_claims(
                store,
                &domains::Claim {
                    environment_id,
                    who: &who,
                    listen: &listen,
                    domains: &claimed,
                    joining: remembered_proxy.as_deref() != Some(listen.as_str()),
                    catch_all_asked: request
                        .domains
                        .as_deref()
                        .is_some_and(domains::claims_catch_all),
                },
            )?;
            tls_settings::check_address(store, environment_id, &listen, &tls, &who)?;
        }
    }
    let hsts = request
        .hsts
        .or(remembered.as_ref().map(|e| e.hsts))
        .filter(|_| tls.is_on())
        .unwrap_or_default();
    let engine = Engine::connect().await?;
    let image = if swarm {
        swarm::require_manager(&engine).await?;
        let digest = swarm::resolve_digest(&engine, &request.image, progress).await?;
        swarm::image_at(&engine, &digest, Some(progress)).await?
    } else {
        progress.step(&format!("resolving image {}", request.image));
        resolve_image(&engine, &request.image, progress).await?
    };
    if let (true, Some(path)) = (swarm, &project.health_path) {
        progress.warn(&format!(
            "in swarm mode temps does not probe the health path ({path}): Swarm's own view of the \
             tasks decides, with the image's HEALTHCHECK where it has one"
        ));
    }
    let swarm_mode = swarm.then(|| SwarmMode {
        replicas: request
            .replicas
            .or(remembered.as_ref().filter(|e| e.swarm).map(|e| e.replicas))
            .unwrap_or(1),
    });
    let publishing = request.publish.is_some() || remembered.is_some_and(|e| e.publish.is_some());
    check_port(&project, &image, publishing || proxied)?;
    if let ([chosen, _, ..], None) = (image.exposed_ports.as_slice(), project.container_port) {
        progress.warn(&format!(
            "{} EXPOSEs several ports ({}); temps uses {chosen}, the lowest: \
             `temps project update {} --container-port PORT` chooses another",
            request.image,
            image.exposed_list(),
            project.name
        ));
    }

    let lock = take_environment(
        store,
        Some(&engine),
        &project,
        &request.environment,
        &Asker {
            command: &request.command,
            user: &request.created_by,
            wait: request.wait_lock,
        },
        progress,
    )
    .await?;
    let mut hook_env = HookEnv {
        project: project.name.clone(),
        environment: request.environment.clone(),
        image: Some(request.image.clone()),
        reason: reason.clone(),
        user: request.created_by.clone(),
        ..HookEnv::default()
    };
    progress.stage(Stage::PreHook);
    hooks::pre(&project, "deploy", &hook_env, progress)?;
    let result = async {
        progress.stage(Stage::Record);
        let (deployment, env) = store.record(project.id, &request.environment, |env| {
            Ok(NewDeployment {
                image: Some(request.image.clone()),
                image_id: Some(image.id.clone()),
                ..NewDeployment::deploy(project.id, env.id, &request.created_by, reason.clone())
            })
        })?;
        hook_env.deployment_id = Some(deployment.id);

        // In swarm mode the registry holds the image, by digest; nothing to pin here.
        if !swarm {
            swap::pin(&engine, store, &project, &deployment, &image).await?;
        }

        if env.state == EnvState::RolledBack {
            if request.publish.as_ref().is_some_and(|p| env.publish.as_ref() != Some(p))
                || request.proxy.as_ref().is_some_and(|p| env.proxy.as_ref() != Some(p))
            {
                progress.warn("the environment is rolled back, so --publish or --proxy is not applied: it keeps its address until a promote");
            }
            store.set_status(deployment.id, Status::Ready)?;
            let ready = store.expect_deployment(deployment.id)?;
            progress.recorded(&ready);
            return Ok(DeployOutcome::Ready(ready));
        }
        let proxy_mode = match (&request.proxy, ProxyMode::of(&env)) {
            (Some(listen), remembered) => Some(ProxyMode {
                listen: listen.clone(),
                replicas: request.replicas.or(remembered.as_ref().map(|m| m.replicas)).unwrap_or(1),
                drain: request
                    .drain
                    .or(remembered.as_ref().map(|m| m.drain))
                    .unwrap_or(Duration::from_secs(30)),
                response_timeout: request
                    .response_timeout
                    .or(remembered.as_ref().map(|m| m.response_timeout))
                    .unwrap_or(DEFAULT_RESPONSE_TIMEOUT),
                domains: domains
                    .clone()
                    .or(remembered.as_ref().map(|m| m.domains.clone()))
                    .unwrap_or_default(),
                standby: request
                    .standby
                    .or(remembered.as_ref().map(|m| m.standby))
                    .unwrap_or(DEFAULT_STANDBY),
                tls: tls.clone(),
                hsts,
            }),
            (None, Some(remembered)) if request.publish.is_none() => Some(ProxyMode {
                replicas: request.replicas.unwrap_or(remembered.replicas),
                drain: request.drain.unwrap_or(remembered.drain),
                response_timeout: request
                    .response_timeout
                    .unwrap_or(remembered.response_timeout),
                domains: domains.clone().unwrap_or(remembered.domains.clone()),
                standby: request.standby.unwrap_or(remembered.standby),
                tls: tls.clone(),
                hsts,
                ..remembered
            }),
            _ => None,
        };
        if let (None, Some(mode)) = (env.current_deployment_id, &swarm_mode) {
            store.remember_swarm(env.id, mode.replicas, request.publish.as_ref())?;
        } else if env.current_deployment_id.is_none() {
            // Nothing serves yet: the address given now is the environment's, whether or
            // not this first deployment makes it.
            store.remember_address(
                env.id,
                request.publish.as_ref(),
                proxy_mode.as_ref().map(ProxyMode::settings),
            )?;
        }
        let has_port = project.container_port.or(image.exposed_port).is_some();
        if has_port
            && proxy_mode.is_none()
            && !swarm
            && request.publish.is_none()
            && env.publish.is_none()
        {
            progress.warn(&format!(
                "{}/{} publishes no port and is not in proxy mode: nothing outside Docker's network reaches it \
                 (give it an address with `--publish [IP:]PORT` or `--proxy ADDR`)",
                project.name, env.name
            ));
        }
        let previous = match env.current_deployment_id {
            Some(id) => store.deployment(id)?,
            None => None,
        };
        let health_timeout = request.health_timeout.unwrap_or(project.health_timeout);
        progress.stage(Stage::Switch);
        let deployed = swap::run(
            &engine,
            store,
            Swap {
                project: &project,
                environment: &env,
                deployment,
                image: &image,
                previous,
                publish: request.publish.as_ref().or(env.publish.as_ref()),
                proxy: proxy_mode.as_ref().filter(|_| !swarm),
                swarm: swarm_mode.as_ref(),
                health_timeout,
                state_after: EnvState::Normal,
                keep_replaced_warm: true,
            },
            progress,
        )
        .await?;
        Ok(DeployOutcome::Serving(deployed))
    }
    .await;
    progress.stage(Stage::PostHook);
    let outcome = hooks::post(&project, "deploy", &hook_env, result, progress);
    drop(lock);
    outcome
}

/// Swarm mode takes one address on every node and no proxy settings; an environment
/// that serves from containers on this host does not move into a swarm.
fn check_swarm_request(
    project: &Project,
    request: &DeployRequest,
    remembered: Option<&crate::store::Environment>,
) -> Result<(), Failure> {
    let target = format!("{}/{}", project.name, request.environment);
    if request.proxy.is_some()
        || request.drain.is_some()
        || request.response_timeout.is_some()
        || request.domains.is_some()
        || request.standby.is_some()
        || request.tls.is_some()
        || request.hsts.is_some()
    {
        return Err(Failure::usage(format!(
            "{target} is in swarm mode: --proxy, --drain, --response-timeout, --domain, --standby, --tls and --hsts apply to proxy mode on one host"
        ))
        .hint("in swarm mode publish a port on every node: `--publish PORT`"));
    }
    if let Some(publish) = request.publish.as_ref().filter(|p| p.ip.is_some()) {
        return Err(Failure::usage(format!(
            "in swarm mode a port is published on every node that runs a task, not on one address (`{publish}`)"
        ))
        .hint(format!("`--publish {}`", publish.port)));
    }
    if let Some(env) = remembered.filter(|e| !e.swarm && e.current_deployment_id.is_some()) {
        let serves = if env.proxy.is_some() {
            "through `temps proxy` on this host"
        } else {
            "from containers on this host"
        };
        return Err(Failure::usage(format!(
            "{target} serves {serves}; it does not move into a swarm"
        ))
        .hint(format!(
            "deploy the swarm version to another environment: `temps deploy {} --image {} --swarm --environment NAME`",
            project.name, request.image
        )));
    }
    Ok(())
}

/// The image on this host (pulled when absent), by id.
async fn resolve_image(
    engine: &Engine,
    reference: &str,
    progress: &dyn Progress,
) -> Result<ImageFacts> {
    if let Some(image) = engine.image(reference).await? {
        return Ok(image);
    }
    progress.step(&format!("pulling {reference}"));
    if let Err(err) = engine.pull(reference).await {
        if crate::error::exit_status_of(&err) == crate::error::ExitStatus::DockerUnreachable {
            return Err(err);
        }
        return Err(Failure::refused(format!(
            "image `{reference}` is not on this host and could not be pulled: {err:#}"
        ))
        .hint(format!(
            "build or load it first (`docker build -t {reference} .`), then deploy again"
        ))
        .into());
    }
    engine.image(reference).await?.ok_or_else(|| {
        Failure::refused(format!(
            "image `{reference}` was pulled but cannot be found"
        ))
        .hint("check `docker images`, then deploy again")
        .into()
    })
}

/// A reference Docker could resolve: not empty, no spaces or control characters, and
/// not longer than any registry accepts.
fn check_image_reference(reference: &str) -> Result<(), Failure> {
    let valid = !reference.is_empty()
        && reference.len() <= 512
        && !reference
            .chars()
            .any(|c| c.is_whitespace() || c.is_control());
    if valid {
        return Ok(());
    }
    let shown: String = reference.chars().take(70).collect();
    Err(Failure::usage(format!(
        "`{}` is not an image reference",
        crate::text::printable(&shown)
    ))
    .hint("like `--image web:1.2` or `--image registry.example.com/team/web@sha256:…`"))
}

/// A published port needs a container port to map to.
fn check_port(project: &Project, image: &ImageFacts, publishing: bool) -> Result<(), Failure> {
    if publishing && project.container_port.is_none() && image.exposed_port.is_none() {
        return Err(Failure::usage(format!(
            "project `{}` has no container port and its image exposes none, so there is nothing to publish",
            project.name
        ))
        .hint(format!("set it: `temps project update {} --container-port 8080`", project.name)));
    }
    Ok(())
}

pub fn require_preset(project: &Project, preset: Preset) -> Result<(), Failure> {
    if project.preset == preset {
        return Ok(());
    }
    let how = match project.preset {
        Preset::Docker => "deploy an image with `--image REF`",
        Preset::Static => "deploy a directory with `--dir PATH`",
    };
    Err(Failure::usage(format!(
        "project `{}` uses the {} preset",
        project.name,
        project.preset.as_str()
    ))
    .hint(how))
}
