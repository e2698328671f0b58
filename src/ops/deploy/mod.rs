//! A deploy: what every deploy asks ([`Deploying`]: where, by whom, why) and what it
//! delivers ([`Deliver`]: an [`Image`] here, a folder in `folder`), validated before the
//! environment's lock and carried out through the one pipeline. An image is pinned,
//! recorded and swapped to; while the environment is rolled back, a deploy is recorded
//! `ready` without routing it.

pub mod domains;
pub mod folder;
pub mod tls;

use std::time::Duration;

use anyhow::Result;

use crate::docker::{Engine, ImageFacts};
use crate::error::clean_reason;
use crate::error::{check_name, Failure};
use crate::ops::deploy::tls as tls_settings;
pub use crate::ops::deploy::tls::TlsRequest;
use crate::ops::pipeline::hooks::{self, HookEnv};
use crate::ops::pipeline::{self, Operation, Place, Planned};
use crate::ops::swap::{self, swarm, Strategy, Swap};
use crate::ops::swap::{ProxyMode, SwarmMode};
use crate::progress::{Progress, Stage};
use crate::schema_version::SchemaVersion;
use crate::store::{
    Deployment, EnvState, Environment, NewDeployment, Preset, Project, Publish, Schema, Status,
    Store, Tls, DEFAULT_RESPONSE_TIMEOUT, DEFAULT_STANDBY,
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
    /// The database schema the release migrates to (`--schema`) and the oldest its code
    /// runs with (`--schema-compat`); else the image's labels.
    pub schema: Option<SchemaVersion>,
    pub schema_compat: Option<SchemaVersion>,
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

/// A deploy, validated: what every deploy asks, and what it deploys (an [`Image`], or a
/// folder of the static preset). Made before the environment's lock (a pull must not
/// hold it), carried out through the one pipeline.
pub struct Deploy<K> {
    pub asked: Deploying,
    pub kind: K,
}

/// What every deploy asks, whatever it deploys: where, by whom and why.
pub struct Deploying {
    pub project: Project,
    pub environment: String,
    /// How it was invoked, for whoever finds the environment busy.
    pub command: String,
    pub created_by: String,
    pub wait_lock: Option<Duration>,
    pub reason: Option<String>,
    /// What the hooks are told it deploys: the image reference, or the folder.
    pub what: String,
    /// What the release declares of the database schema.
    pub schema: Option<Schema>,
}

/// How one kind of deploy records and switches.
#[allow(async_fn_in_trait)]
pub trait Deliver: Sized {
    /// The engine validation reached (none: no Docker involved).
    fn engine(&self) -> Option<&Engine>;

    /// The record, with what this kind adds to it.
    fn fill(&self, new: NewDeployment) -> NewDeployment;

    /// Once recorded, before anything else: an image is pinned, a folder copied into
    /// its release (whose path the hooks are told).
    async fn recorded(
        &self,
        store: &mut Store,
        asked: &Deploying,
        deployment: &Deployment,
        hook_env: &mut HookEnv,
    ) -> Result<()>;

    /// Recorded `ready`, not routed, because the environment is rolled back: what is not
    /// applied is said.
    fn kept_ready(&self, _env: &Environment, _progress: &dyn Progress) {}

    /// Make the recorded deployment serve.
    async fn switch(
        self,
        asked: Deploying,
        store: &mut Store,
        deployment: Deployment,
        env: Environment,
        progress: &dyn Progress,
    ) -> Result<DeployOutcome>;
}

/// An image to deploy, validated: the request checked against the environment's
/// remembered settings, the image on this host (or, in swarm mode, in its registry) by
/// id, and what it is switched with.
pub struct Image {
    request: DeployRequest,
    engine: Engine,
    image: ImageFacts,
    /// `--domain`, normalized (`None`: keep the remembered ones).
    domains: Option<Vec<String>>,
    tls: Tls,
    hsts: Duration,
    /// Swarm mode, with its replicas.
    swarm: Option<SwarmMode>,
}

/// Deploy an image: validate it ([`plan`]), then lock → reconcile → hooks → record →
/// switch through the pipeline.
pub async fn deploy_image(
    store: &mut Store,
    request: DeployRequest,
    progress: &dyn Progress,
) -> Result<DeployOutcome> {
    let plan = plan(store, request, progress).await?;
    pipeline::run(store, plan, progress).await
}

/// Validate a deploy, changing nothing but the engine's images (a pull): what it asks of
/// the environment first, then the image.
pub async fn plan(
    store: &Store,
    request: DeployRequest,
    progress: &dyn Progress,
) -> Result<Deploy<Image>> {
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
    let proxied = check_address(&project, &request, remembered.as_ref(), swarm)?;
    let domains = request
        .domains
        .as_deref()
        .map(domains::normalize_all)
        .transpose()?;
    let tls = match proxied {
        true => check_proxy(store, &project, &request, remembered.as_ref(), &domains)?,
        false => Tls::Off,
    };
    let hsts = request
        .hsts
        .or(remembered.as_ref().map(|e| e.hsts))
        .filter(|_| tls.is_on())
        .unwrap_or_default();
    let engine = Engine::connect().await?;
    let image = image_of(&engine, &project, &request.image, swarm, progress).await?;
    let schema = declared_schema(
        request.schema.clone(),
        request.schema_compat.clone(),
        Some(&image),
    )?;
    let swarm = swarm.then(|| SwarmMode {
        replicas: request
            .replicas
            .or(remembered.as_ref().filter(|e| e.swarm).map(|e| e.replicas))
            .unwrap_or(1),
    });
    let publishing =
        request.publish.is_some() || remembered.as_ref().is_some_and(|e| e.publish.is_some());
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
    Ok(Deploy {
        asked: Deploying {
            project,
            environment: request.environment.clone(),
            command: request.command.clone(),
            created_by: request.created_by.clone(),
            wait_lock: request.wait_lock,
            reason,
            what: request.image.clone(),
            schema,
        },
        kind: Image {
            request,
            engine,
            image,
            domains,
            tls,
            hsts,
            swarm,
        },
    })
}

/// What a release declares of the database schema: the flags, else the image's labels
/// (`dev.temps.schema`, `dev.temps.schema.compat`); the compat defaults to the schema.
/// A version that is not a number or dotted numbers is refused (exit 2).
pub fn declared_schema(
    schema: Option<SchemaVersion>,
    compat: Option<SchemaVersion>,
    image: Option<&ImageFacts>,
) -> Result<Option<Schema>, Failure> {
    let label = |value: Option<&String>, name: &str| {
        value
            .map(|v| {
                v.parse::<SchemaVersion>().map_err(|e| {
                    Failure::usage(format!("the image's label `{name}`: {e}"))
                        .hint("fix the label where the image is built, or pass the version with `--schema` / `--schema-compat`")
                })
            })
            .transpose()
    };
    let schema = match schema {
        Some(schema) => Some(schema),
        None => label(
            image.and_then(|i| i.schema_label.as_ref()),
            "dev.temps.schema",
        )?,
    };
    let compat = match compat {
        Some(compat) => Some(compat),
        None => label(
            image.and_then(|i| i.schema_compat_label.as_ref()),
            "dev.temps.schema.compat",
        )?,
    };
    let Some(schema) = schema else {
        return match compat {
            Some(_) => Err(Failure::usage(
                "a schema compat is declared without the schema the release migrates to",
            )
            .hint("pass `--schema VERSION` too, or label the image `dev.temps.schema`")),
            None => Ok(None),
        };
    };
    Schema::declared(schema, compat).map(Some).map_err(|e| {
        Failure::usage(e).hint(
            "the compat is the oldest schema whose code still runs: at most the schema itself",
        )
    })
}

/// A published port and proxy mode exclude each other, and the proxy's settings need
/// proxy mode (or swarm mode, which refuses them itself). Whether it serves through the
/// proxy.
fn check_address(
    project: &Project,
    request: &DeployRequest,
    remembered: Option<&Environment>,
    swarm: bool,
) -> Result<bool> {
    if let (Some(_), Some(listen)) = (&request.publish, remembered.and_then(|e| e.proxy.as_ref())) {
        return Err(Failure::usage(format!(
            "{}/{} is served by `temps proxy` on {listen}; it cannot go back to a published port",
            project.name, request.environment
        ))
        .hint("deploy with `--proxy ADDR` to move it, or use another environment for a published port")
        .into());
    }
    let proxied = request.proxy.is_some()
        || (request.publish.is_none() && remembered.is_some_and(|e| e.proxy.is_some()));
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
    Ok(proxied)
}

/// Proxy mode: the TLS it asks for (or remembers), its HSTS, its claim on the address's
/// domains and the address's TLS: each refused before anything changes.
fn check_proxy(
    store: &Store,
    project: &Project,
    request: &DeployRequest,
    remembered: Option<&Environment>,
    domains: &Option<Vec<String>>,
) -> Result<Tls> {
    let remembered_proxy = remembered.and_then(|e| e.proxy.clone());
    let Some(listen) = request.proxy.clone().or(remembered_proxy.clone()) else {
        return Ok(Tls::Off);
    };
    let claimed = domains
        .clone()
        .or(remembered.map(|e| e.domains.clone()))
        .unwrap_or_default();
    let who = format!("{}/{}", project.name, request.environment);
    let tls = tls_settings::choose(
        request.tls.as_deref(),
        remembered.map_or(&Tls::Off, |e| &e.tls),
        &claimed,
        crate::clock::now_ms(),
    )?;
    tls_settings::check_hsts(request.hsts, &tls)?;
    let environment_id = remembered.map(|e| e.id);
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
    Ok(tls)
}

/// The image to run, by id: on this host (pulled when absent), or in swarm mode by its
/// repository digest in the registry every node pulls from.
async fn image_of(
    engine: &Engine,
    project: &Project,
    reference: &str,
    swarm: bool,
    progress: &dyn Progress,
) -> Result<ImageFacts> {
    if !swarm {
        progress.step(&format!("resolving image {reference}"));
        return resolve_image(engine, reference, progress).await;
    }
    swarm::require_manager(engine).await?;
    let digest = swarm::resolve_digest(engine, reference, progress).await?;
    let image = swarm::image_at(engine, &digest, Some(progress)).await?;
    if let Some(path) = &project.health_path {
        progress.warn(&format!(
            "in swarm mode temps does not probe the health path ({path}): Swarm's own view of the \
             tasks decides, with the image's HEALTHCHECK where it has one"
        ));
    }
    Ok(image)
}

impl Image {
    /// Proxy mode as this deploy sets it: what it asks, over what the environment
    /// remembers (read under the lock), over the defaults. `None` outside proxy mode.
    fn proxy_mode(&self, env: &Environment) -> Option<ProxyMode> {
        let request = &self.request;
        let (tls, hsts) = (self.tls.clone(), self.hsts);
        match (&request.proxy, ProxyMode::of(env)) {
            (Some(listen), remembered) => Some(ProxyMode {
                listen: listen.clone(),
                replicas: request
                    .replicas
                    .or(remembered.as_ref().map(|m| m.replicas))
                    .unwrap_or(1),
                drain: request
                    .drain
                    .or(remembered.as_ref().map(|m| m.drain))
                    .unwrap_or(Duration::from_secs(30)),
                response_timeout: request
                    .response_timeout
                    .or(remembered.as_ref().map(|m| m.response_timeout))
                    .unwrap_or(DEFAULT_RESPONSE_TIMEOUT),
                domains: self
                    .domains
                    .clone()
                    .or(remembered.as_ref().map(|m| m.domains.clone()))
                    .unwrap_or_default(),
                standby: request
                    .standby
                    .or(remembered.as_ref().map(|m| m.standby))
                    .unwrap_or(DEFAULT_STANDBY),
                tls,
                hsts,
            }),
            (None, Some(remembered)) if request.publish.is_none() => Some(ProxyMode {
                replicas: request.replicas.unwrap_or(remembered.replicas),
                drain: request.drain.unwrap_or(remembered.drain),
                response_timeout: request
                    .response_timeout
                    .unwrap_or(remembered.response_timeout),
                domains: self.domains.clone().unwrap_or(remembered.domains.clone()),
                standby: request.standby.unwrap_or(remembered.standby),
                tls,
                hsts,
                ..remembered
            }),
            _ => None,
        }
    }

    /// Nothing serves yet: the address given now is the environment's, whether or not
    /// this first deployment makes it. An address nothing outside Docker reaches is said.
    fn remember_address(
        &self,
        store: &mut Store,
        project: &Project,
        env: &Environment,
        proxy_mode: Option<&ProxyMode>,
        progress: &dyn Progress,
    ) -> Result<()> {
        let publish = self.request.publish.as_ref();
        if let (None, Some(mode)) = (env.current_deployment_id, &self.swarm) {
            store.remember_swarm(env.id, mode.replicas, publish)?;
        } else if env.current_deployment_id.is_none() {
            store.remember_address(env.id, publish, proxy_mode.map(ProxyMode::settings))?;
        }
        let has_port = project.container_port.or(self.image.exposed_port).is_some();
        if has_port
            && proxy_mode.is_none()
            && self.swarm.is_none()
            && publish.is_none()
            && env.publish.is_none()
        {
            progress.warn(&format!(
                "{}/{} publishes no port and is not in proxy mode: nothing outside Docker's network reaches it \
                 (give it an address with `--publish [IP:]PORT` or `--proxy ADDR`)",
                project.name, env.name
            ));
        }
        Ok(())
    }
}

impl<K: Deliver> Operation for Deploy<K> {
    type Planned = Deploy<K>;

    fn place(&self) -> Place<'_> {
        let asked = &self.asked;
        Place {
            project: &asked.project,
            environment: &asked.environment,
            command: &asked.command,
            user: &asked.created_by,
            wait: asked.wait_lock,
        }
    }

    async fn plan(self, _store: &Store, _progress: &dyn Progress) -> Result<Deploy<K>> {
        Ok(self)
    }
}

impl<K: Deliver> Planned for Deploy<K> {
    type Done = DeployOutcome;

    fn project(&self) -> &Project {
        &self.asked.project
    }

    fn action(&self) -> &'static str {
        "deploy"
    }

    fn engine(&self) -> Option<&Engine> {
        self.kind.engine()
    }

    fn hook_env(&self) -> HookEnv {
        let asked = &self.asked;
        HookEnv {
            project: asked.project.name.clone(),
            environment: asked.environment.clone(),
            image: Some(asked.what.clone()),
            reason: asked.reason.clone(),
            user: asked.created_by.clone(),
            ..HookEnv::default()
        }
    }

    async fn record(
        &mut self,
        store: &mut Store,
        hook_env: &mut HookEnv,
    ) -> Result<(Deployment, Environment)> {
        let asked = &self.asked;
        let project_id = asked.project.id;
        let (deployment, env) = store.record(project_id, &asked.environment, |env| {
            let new = NewDeployment {
                schema: asked.schema.clone(),
                ..NewDeployment::deploy(project_id, env.id, &asked.created_by, asked.reason.clone())
            };
            Ok(self.kind.fill(new))
        })?;
        hook_env.deployment_id = Some(deployment.id);
        self.kind
            .recorded(store, asked, &deployment, hook_env)
            .await?;
        Ok((deployment, env))
    }

    async fn switch(
        self,
        store: &mut Store,
        deployment: Deployment,
        env: Environment,
        progress: &dyn Progress,
    ) -> Result<DeployOutcome> {
        if env.state == EnvState::RolledBack {
            self.kind.kept_ready(&env, progress);
            store.set_status(deployment.id, Status::Ready)?;
            let ready = store.expect_deployment(deployment.id)?;
            progress.recorded(&ready);
            return Ok(DeployOutcome::Ready(ready));
        }
        self.kind
            .switch(self.asked, store, deployment, env, progress)
            .await
    }
}

impl Deliver for Image {
    fn engine(&self) -> Option<&Engine> {
        Some(&self.engine)
    }

    fn fill(&self, new: NewDeployment) -> NewDeployment {
        NewDeployment {
            image: Some(self.request.image.clone()),
            image_id: Some(self.image.id.clone()),
            ..new
        }
    }

    /// The image is pinned under the deployment's own tag; in swarm mode the registry
    /// holds it, by digest.
    async fn recorded(
        &self,
        store: &mut Store,
        asked: &Deploying,
        deployment: &Deployment,
        _hook_env: &mut HookEnv,
    ) -> Result<()> {
        if self.swarm.is_none() {
            swap::pin(&self.engine, store, &asked.project, deployment, &self.image).await?;
        }
        Ok(())
    }

    fn kept_ready(&self, env: &Environment, progress: &dyn Progress) {
        let request = &self.request;
        if request
            .publish
            .as_ref()
            .is_some_and(|p| env.publish.as_ref() != Some(p))
            || request
                .proxy
                .as_ref()
                .is_some_and(|p| env.proxy.as_ref() != Some(p))
        {
            progress.warn("the environment is rolled back, so --publish or --proxy is not applied: it keeps its address until a promote");
        }
    }

    async fn switch(
        self,
        asked: Deploying,
        store: &mut Store,
        deployment: Deployment,
        env: Environment,
        progress: &dyn Progress,
    ) -> Result<DeployOutcome> {
        let project = &asked.project;
        let proxy_mode = self.proxy_mode(&env);
        self.remember_address(store, project, &env, proxy_mode.as_ref(), progress)?;
        let previous = match env.current_deployment_id {
            Some(id) => store.deployment(id)?,
            None => None,
        };
        let strategy = match (&self.swarm, &proxy_mode) {
            (Some(mode), _) => Strategy::Swarm(mode),
            (None, Some(mode)) => Strategy::StartFirst(mode),
            (None, None) => Strategy::StopFirst,
        };
        progress.stage(Stage::Switch);
        let swap = Swap {
            project,
            environment: &env,
            deployment,
            image: &self.image,
            previous,
            publish: self.request.publish.as_ref().or(env.publish.as_ref()),
            strategy,
            health_timeout: self
                .request
                .health_timeout
                .unwrap_or(project.health_timeout),
            state_after: EnvState::Normal,
            keep_replaced_warm: true,
        };
        let deployed = swap::run(&self.engine, store, swap, progress).await?;
        Ok(DeployOutcome::Serving(deployed))
    }
}

/// Swarm mode takes one address on every node and no proxy settings; an environment
/// that serves from containers on this host does not move into a swarm.
fn check_swarm_request(
    project: &Project,
    request: &DeployRequest,
    remembered: Option<&Environment>,
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
