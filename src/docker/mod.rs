//! The Docker engine: the only module that imports bollard.
//!
//! The rest of temps sees plain facts (`ImageFacts`, `ContainerFacts`) and errors that
//! already say what was being done. An engine that cannot be reached at all becomes a
//! [`Failure`] with exit code 6, whichever call found out.

use std::collections::HashMap;
use std::fmt::Display;

use anyhow::Result;
use bollard::errors::Error as DockerError;
use bollard::models::{
    ContainerCreateBody, ContainerUpdateBody, HealthStatusEnum, HostConfig, PortBinding,
    RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, ListContainersOptionsBuilder,
    ListImagesOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveImageOptionsBuilder, StopContainerOptionsBuilder, TagImageOptionsBuilder,
    WaitContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;

use crate::error::{ExitStatus, Failure};
use crate::store::Publish;

mod swarm;
pub use swarm::{
    repository_of, service_name, SavedSpec, ServiceDefinition, ServiceFacts, SwarmRole, TaskFacts,
    UpdateState,
};

pub const LABEL_PROJECT: &str = "dev.temps.project";
pub const LABEL_ENVIRONMENT: &str = "dev.temps.environment";
pub const LABEL_DEPLOYMENT: &str = "dev.temps.deployment";

pub struct Engine {
    docker: Docker,
}

/// Where a container can be reached (see `Engine::addresses`).
#[derive(Debug, Clone)]
pub struct Addresses {
    /// The host port its container port is published on.
    pub published: u16,
    /// Its address on its first network.
    pub ip: Option<String>,
}

/// What temps needs to know of an image.
#[derive(Debug, Clone)]
pub struct ImageFacts {
    pub id: String,
    /// The lowest TCP port the image EXPOSEs: the container port unless the project
    /// sets one.
    pub exposed_port: Option<u16>,
    /// Every TCP port the image EXPOSEs, lowest first.
    pub exposed_ports: Vec<u16>,
    /// The image defines a Docker HEALTHCHECK (not `NONE`).
    pub has_healthcheck: bool,
    /// Its `dev.temps.schema` label: the database schema its release migrates to.
    pub schema_label: Option<String>,
    /// Its `dev.temps.schema.compat` label: the oldest schema its code runs with.
    pub schema_compat_label: Option<String>,
}

impl ImageFacts {
    /// `80, 443`: the ports it EXPOSEs, for messages.
    pub fn exposed_list(&self) -> String {
        self.exposed_ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// No Docker HEALTHCHECK.
    None,
    Starting,
    Healthy,
    Unhealthy,
}

/// What temps needs to know of a container.
#[derive(Debug, Clone)]
pub struct ContainerFacts {
    pub name: String,
    pub running: bool,
    /// `running`, `exited`, `created`, …
    pub state: String,
    pub exit_code: i64,
    pub health: Health,
    /// Its address on its first network, for probing when no port is published.
    pub ip: Option<String>,
    pub deployment_id: Option<i64>,
    pub environment: Option<String>,
}

/// Something the engine reports of a container: `die` (it stopped, with its exit
/// code), `restart`, `oom`.
#[derive(Debug, Clone)]
pub struct ContainerEvent {
    pub name: String,
    pub action: String,
    pub exit_code: Option<i64>,
}

/// A container to create.
#[derive(Clone)]
pub struct ContainerSpec<'a> {
    pub name: &'a str,
    pub image_id: &'a str,
    pub project: &'a str,
    pub environment: &'a str,
    pub deployment_id: i64,
    pub env: Vec<String>,
    pub container_port: Option<u16>,
    pub publish: Option<&'a Publish>,
}

fn unreachable(err: &DockerError) -> anyhow::Error {
    let host =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    Failure::new(
        ExitStatus::DockerUnreachable,
        format!("the Docker engine at `{host}` does not answer: {err}"),
    )
    .hint("start Docker (`systemctl start docker`) or point DOCKER_HOST at a running engine, then try again")
    .into()
}

/// Turn a bollard error into one that says what was being done.
fn engine_error(err: DockerError, doing: impl Display) -> anyhow::Error {
    match &err {
        DockerError::DockerResponseServerError { message, .. } => {
            anyhow::anyhow!("{doing}: {message}")
        }
        DockerError::DockerStreamError { error } => anyhow::anyhow!("{doing}: {error}"),
        DockerError::JsonDataError { .. }
        | DockerError::JsonSerdeError { .. }
        | DockerError::APIVersionParseError {} => {
            anyhow::Error::new(err).context(doing.to_string())
        }
        _ => unreachable(&err).context(doing.to_string()),
    }
}

/// The API version an engine on the unix socket at `path` speaks, from its answer to
/// `GET /_ping`; `None` when it does not answer that within 2 s, or not as expected.
async fn ping_api_version(path: &str) -> Option<bollard::ClientVersion> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ask = async {
        let mut stream = tokio::net::UnixStream::connect(path).await.ok()?;
        stream
            .write_all(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut head = Vec::with_capacity(512);
        let mut chunk = [0u8; 512];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 || head.len() > 16 * 1024 {
                return None;
            }
            head.extend_from_slice(&chunk[..n]);
        }
        parse_ping(&head)
    };
    tokio::time::timeout(std::time::Duration::from_secs(2), ask)
        .await
        .ok()
        .flatten()
}

/// The `Api-Version` of a 200 answer's head.
fn parse_ping(head: &[u8]) -> Option<bollard::ClientVersion> {
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?;
    if !status.starts_with("HTTP/1.") || status.split(' ').nth(1) != Some("200") {
        return None;
    }
    let value = lines.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("api-version")
            .then(|| value.trim())
    })?;
    let (major, minor) = value.split_once('.')?;
    Some(bollard::ClientVersion {
        major_version: major.parse().ok()?,
        minor_version: minor.parse().ok()?,
    })
}

fn status_of(err: &DockerError) -> Option<u16> {
    match err {
        DockerError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

impl Engine {
    /// Connect as the Docker CLI would (`DOCKER_HOST`, else the local socket) and agree on
    /// an API version; this round trip is also the check that the engine answers.
    ///
    /// On a unix socket the version comes from `GET /_ping` (its `Api-Version` header, as
    /// the Docker CLI negotiates): the engine answers it in about a millisecond, where
    /// `GET /version` asks containerd and runc for theirs and takes 10-20 ms, the largest
    /// fixed cost of a warm rollback. Anything unexpected there falls back to `/version`.
    pub async fn connect() -> Result<Engine> {
        let host = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".into());
        if let Some(path) = host.strip_prefix("unix://") {
            if let Some(server) = ping_api_version(path).await {
                let ours = *bollard::API_DEFAULT_VERSION;
                let version = if server < ours { server } else { ours };
                if let Ok(docker) = Docker::connect_with_unix(&host, 120, &version) {
                    return Ok(Engine { docker });
                }
            }
        }
        let docker = Docker::connect_with_defaults().map_err(|e| unreachable(&e))?;
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| unreachable(&e))?;
        Ok(Engine { docker })
    }

    /// The image, by reference or id; `None` when it is not on this host.
    pub async fn image(&self, reference: &str) -> Result<Option<ImageFacts>> {
        match self.docker.inspect_image(reference).await {
            Ok(image) => {
                let config = image.config.unwrap_or_default();
                let mut exposed_ports: Vec<u16> = config
                    .exposed_ports
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|p| p.strip_suffix("/tcp").or(Some(p.as_str())))
                    .filter_map(|p| p.parse::<u16>().ok())
                    .collect();
                exposed_ports.sort_unstable();
                exposed_ports.dedup();
                let exposed_port = exposed_ports.first().copied();
                let has_healthcheck = config.healthcheck.and_then(|h| h.test).is_some_and(|test| {
                    test.first().is_some_and(|t| t != "NONE") && !test.is_empty()
                });
                let mut labels = config.labels.unwrap_or_default();
                Ok(Some(ImageFacts {
                    id: image.id.unwrap_or_default(),
                    exposed_port,
                    exposed_ports,
                    has_healthcheck,
                    schema_label: labels.remove("dev.temps.schema"),
                    schema_compat_label: labels.remove("dev.temps.schema.compat"),
                }))
            }
            Err(e) if status_of(&e) == Some(404) => Ok(None),
            Err(e) => Err(engine_error(e, format!("inspecting image `{reference}`"))),
        }
    }

    /// Pull an image from its registry.
    pub async fn pull(&self, reference: &str) -> Result<()> {
        let options = CreateImageOptionsBuilder::new()
            .from_image(reference)
            .build();
        let mut progress = self.docker.create_image(Some(options), None, None);
        while let Some(step) = progress.next().await {
            step.map_err(|e| engine_error(e, format!("pulling image `{reference}`")))?;
        }
        Ok(())
    }

    /// Tag an image (by id) as `repo:tag`.
    pub async fn tag(&self, image_id: &str, repo: &str, tag: &str) -> Result<()> {
        let options = TagImageOptionsBuilder::new().repo(repo).tag(tag).build();
        self.docker
            .tag_image(image_id, Some(options))
            .await
            .map_err(|e| engine_error(e, format!("tagging image {image_id} as `{repo}:{tag}`")))
    }

    /// Remove a tag; the image itself goes only when nothing else holds it.
    pub async fn untag(&self, reference: &str) -> Result<()> {
        let options = RemoveImageOptionsBuilder::new().noprune(false).build();
        match self
            .docker
            .remove_image(reference, Some(options), None)
            .await
        {
            Ok(_) => Ok(()),
            // 404: gone already; 409: a container still uses an image known only by this tag.
            Err(e) if matches!(status_of(&e), Some(404 | 409)) => Ok(()),
            Err(e) => Err(engine_error(e, format!("removing tag `{reference}`"))),
        }
    }

    pub async fn create_container(&self, spec: &ContainerSpec<'_>) -> Result<()> {
        let labels = HashMap::from([
            (LABEL_PROJECT.to_string(), spec.project.to_string()),
            (LABEL_ENVIRONMENT.to_string(), spec.environment.to_string()),
            (LABEL_DEPLOYMENT.to_string(), spec.deployment_id.to_string()),
        ]);
        let port_key = spec.container_port.map(|p| format!("{p}/tcp"));
        let port_bindings = match (&port_key, spec.publish) {
            (Some(key), Some(publish)) => Some(HashMap::from([(
                key.clone(),
                Some(vec![PortBinding {
                    host_ip: publish.ip.clone(),
                    // Port 0: let Docker choose a free one (proxy mode's loopback upstreams).
                    host_port: Some(if publish.port == 0 {
                        String::new()
                    } else {
                        publish.port.to_string()
                    }),
                }]),
            )])),
            _ => None,
        };
        let body = ContainerCreateBody {
            image: Some(spec.image_id.to_string()),
            env: Some(spec.env.clone()),
            labels: Some(labels),
            exposed_ports: port_key.map(|k| vec![k]),
            host_config: Some(HostConfig {
                port_bindings,
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::new().name(spec.name).build();
        self.docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| engine_error(e, format!("creating container {}", spec.name)))?;
        Ok(())
    }

    /// Have Docker start the container again after a reboot or a crash, unless temps stops
    /// it: set once a deployment serves, so a failing candidate is never restarted.
    pub async fn keep_running(&self, name: &str) -> Result<()> {
        let body = ContainerUpdateBody {
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                maximum_retry_count: None,
            }),
            ..Default::default()
        };
        self.docker
            .update_container(name, body)
            .await
            .map_err(|e| engine_error(e, format!("setting the restart policy of {name}")))
    }

    pub async fn start(&self, name: &str) -> Result<()> {
        match self.docker.start_container(name, None).await {
            Ok(()) => Ok(()),
            // Already running.
            Err(e) if status_of(&e) == Some(304) => Ok(()),
            Err(e) => Err(engine_error(e, format!("starting container {name}"))),
        }
    }

    /// Stop a container, giving it `timeout_secs` before it is killed. A container that is
    /// already stopped (304) or gone (404) is done.
    pub async fn stop(&self, name: &str, timeout_secs: i32) -> Result<()> {
        let options = StopContainerOptionsBuilder::new().t(timeout_secs).build();
        // The engine answers a stop only once the container is down: give it the whole
        // stop timeout and then some, so a long one is not mistaken for an engine gone.
        let patience = std::time::Duration::from_secs(timeout_secs.max(0) as u64 + 120);
        let docker = self.docker.clone().with_timeout(patience);
        match docker.stop_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if matches!(status_of(&e), Some(304 | 404)) => Ok(()),
            Err(e) => Err(engine_error(e, format!("stopping container {name}"))),
        }
    }

    /// Remove a container, running or not; a missing one is done.
    pub async fn remove(&self, name: &str) -> Result<()> {
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        match self.docker.remove_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if status_of(&e) == Some(404) => Ok(()),
            Err(e) => Err(engine_error(e, format!("removing container {name}"))),
        }
    }

    /// The container, or `None` when it does not exist.
    pub async fn container(&self, name: &str) -> Result<Option<ContainerFacts>> {
        let inspect = match self.docker.inspect_container(name, None).await {
            Ok(inspect) => inspect,
            Err(e) if status_of(&e) == Some(404) => return Ok(None),
            Err(e) => return Err(engine_error(e, format!("inspecting container {name}"))),
        };
        let state = inspect.state.unwrap_or_default();
        let health = match state.health.and_then(|h| h.status) {
            Some(HealthStatusEnum::HEALTHY) => Health::Healthy,
            Some(HealthStatusEnum::UNHEALTHY) => Health::Unhealthy,
            Some(HealthStatusEnum::STARTING) => Health::Starting,
            _ => Health::None,
        };
        let ip = inspect
            .network_settings
            .and_then(|n| n.networks)
            .and_then(|nets| {
                nets.into_values()
                    .find_map(|n| n.ip_address.filter(|ip| !ip.is_empty()))
            });
        let labels = inspect.config.and_then(|c| c.labels).unwrap_or_default();
        Ok(Some(ContainerFacts {
            name: name.to_string(),
            running: state.running.unwrap_or(false),
            state: state.status.map(|s| s.to_string()).unwrap_or_default(),
            exit_code: state.exit_code.unwrap_or(0),
            health,
            ip,
            deployment_id: labels.get(LABEL_DEPLOYMENT).and_then(|d| d.parse().ok()),
            environment: labels.get(LABEL_ENVIRONMENT).cloned(),
        }))
    }

    /// The host port Docker published `container_port` on (proxy mode asks for any free
    /// one), once the container runs.
    pub async fn published_port(&self, name: &str, container_port: u16) -> Result<Option<u16>> {
        Ok(self
            .addresses(name, container_port)
            .await?
            .map(|a| a.published))
    }

    /// Where a running container can be reached, from one inspect: the host port Docker
    /// published `container_port` on, and the container's address on its first network.
    /// `None` when it does not exist or publishes no such port.
    pub async fn addresses(&self, name: &str, container_port: u16) -> Result<Option<Addresses>> {
        let inspect = match self.docker.inspect_container(name, None).await {
            Ok(inspect) => inspect,
            Err(e) if status_of(&e) == Some(404) => return Ok(None),
            Err(e) => return Err(engine_error(e, format!("inspecting container {name}"))),
        };
        let Some(settings) = inspect.network_settings else {
            return Ok(None);
        };
        let published = settings
            .ports
            .and_then(|ports| {
                ports
                    .get(&format!("{container_port}/tcp"))
                    .cloned()
                    .flatten()
            })
            .and_then(|bindings| bindings.into_iter().find_map(|b| b.host_port?.parse().ok()));
        let ip = settings.networks.and_then(|nets| {
            nets.into_values()
                .find_map(|n| n.ip_address.filter(|ip| !ip.is_empty()))
        });
        Ok(published.map(|published| Addresses { published, ip }))
    }

    /// Resolves when the container is not running, with its exit code.
    pub async fn wait_exit(&self, name: &str) -> Result<i64> {
        let options = WaitContainerOptionsBuilder::new()
            .condition("not-running")
            .build();
        let mut wait = self.docker.wait_container(name, Some(options));
        match wait.next().await {
            Some(Ok(response)) => Ok(response.status_code),
            Some(Err(DockerError::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(e)) => Err(engine_error(e, format!("watching container {name}"))),
            None => Ok(0),
        }
    }

    /// What the engine reports, from now on, of these containers stopping or being
    /// restarted (`die`, `restart`, `oom`), for up to `patience`.
    pub fn container_events(
        &self,
        names: &[String],
        patience: std::time::Duration,
    ) -> futures_util::stream::BoxStream<'static, Result<ContainerEvent>> {
        let mut filters: HashMap<String, Vec<String>> = HashMap::new();
        filters.insert("type".into(), vec!["container".into()]);
        filters.insert("container".into(), names.to_vec());
        filters.insert(
            "event".into(),
            vec!["die".into(), "restart".into(), "oom".into()],
        );
        let options = bollard::query_parameters::EventsOptions {
            filters: Some(filters),
            ..Default::default()
        };
        let docker = self.docker.clone().with_timeout(patience);
        docker
            .events(Some(options))
            .map(|event| {
                let event = event.map_err(|e| engine_error(e, "following the engine's events"))?;
                let attributes = event.actor.and_then(|a| a.attributes).unwrap_or_default();
                Ok(ContainerEvent {
                    name: attributes.get("name").cloned().unwrap_or_default(),
                    action: event.action.unwrap_or_default(),
                    exit_code: attributes.get("exitCode").and_then(|c| c.parse().ok()),
                })
            })
            .boxed()
    }

    /// The container's last `lines` lines of output, stdout and stderr together.
    pub async fn last_logs(&self, name: &str, lines: usize) -> String {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail(&lines.to_string())
            .build();
        let mut logs = self.docker.logs(name, Some(options));
        let mut text = String::new();
        while let Some(Ok(chunk)) = logs.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        text.trim_end().to_string()
    }

    /// Every container temps made for a project, running or not.
    pub async fn project_containers(&self, project: &str) -> Result<Vec<ContainerFacts>> {
        let filters = HashMap::from([("label", vec![format!("{LABEL_PROJECT}={project}")])]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let list = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| engine_error(e, format!("listing the containers of `{project}`")))?;
        Ok(list
            .into_iter()
            .map(|c| {
                let labels = c.labels.unwrap_or_default();
                let state = c.state.map(|s| s.to_string()).unwrap_or_default();
                let status = c.status.unwrap_or_default();
                ContainerFacts {
                    name: c
                        .names
                        .and_then(|n| n.into_iter().next())
                        .map(|n| n.trim_start_matches('/').to_string())
                        .unwrap_or_default(),
                    running: state == "running",
                    health: if status.contains("(healthy)") {
                        Health::Healthy
                    } else if status.contains("(unhealthy)") {
                        Health::Unhealthy
                    } else if status.contains("(health: starting)") {
                        Health::Starting
                    } else {
                        Health::None
                    },
                    state,
                    exit_code: 0,
                    ip: None,
                    deployment_id: labels.get(LABEL_DEPLOYMENT).and_then(|d| d.parse().ok()),
                    environment: labels.get(LABEL_ENVIRONMENT).cloned(),
                }
            })
            .collect())
    }
}

impl Engine {
    /// The ids of every image on the host, and every tag: one call, for `list`.
    pub async fn images(
        &self,
    ) -> Result<(
        std::collections::HashSet<String>,
        std::collections::HashSet<String>,
    )> {
        let options = ListImagesOptionsBuilder::new().all(false).build();
        let images = self
            .docker
            .list_images(Some(options))
            .await
            .map_err(|e| engine_error(e, "listing images"))?;
        let mut ids = std::collections::HashSet::new();
        let mut tags = std::collections::HashSet::new();
        for image in images {
            ids.insert(image.id);
            tags.extend(image.repo_tags);
        }
        Ok((ids, tags))
    }
}

/// `temps-<project>-<environment>-<deployment id>`.
pub fn container_name(project: &str, environment: &str, deployment_id: i64) -> String {
    format!("temps-{project}-{environment}-{deployment_id}")
}

/// The containers of a deployment: `temps-<project>-<environment>-<id>`, then `…-<id>-2`,
/// `…-<id>-3` for further replicas.
pub fn container_names(
    project: &str,
    environment: &str,
    deployment_id: i64,
    replicas: u32,
) -> Vec<String> {
    let first = container_name(project, environment, deployment_id);
    (1..=replicas.max(1))
        .map(|n| {
            if n == 1 {
                first.clone()
            } else {
                format!("{first}-{n}")
            }
        })
        .collect()
}

/// `temps/<project>`: the repository every deployed image is also tagged in.
pub fn pin_repository(project: &str) -> String {
    format!("temps/{project}")
}

#[cfg(test)]
mod tests {
    use super::parse_ping;

    #[test]
    fn the_ping_answer_gives_the_api_version() {
        let head = b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nDocker-Experimental: false\r\n\r\n";
        let version = parse_ping(head).expect("a version");
        assert_eq!((version.major_version, version.minor_version), (1, 41));
        let lower = b"HTTP/1.1 200 OK\r\napi-version:1.44\r\n\r\n";
        assert_eq!(parse_ping(lower).map(|v| v.minor_version), Some(44));
    }

    #[test]
    fn anything_else_falls_back_to_the_version_endpoint() {
        assert!(parse_ping(b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\n").is_none());
        assert!(parse_ping(b"HTTP/1.1 404 Not Found\r\nApi-Version: 1.41\r\n\r\n").is_none());
        assert!(parse_ping(b"HTTP/1.1 200 OK\r\nApi-Version: one\r\n\r\n").is_none());
        assert!(parse_ping(b"SSH-2.0\r\n\r\n").is_none());
    }
}
