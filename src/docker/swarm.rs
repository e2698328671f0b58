//! Swarm mode's side of the engine: the role of the engine temps talks to, repository
//! digests from the registry, one service per environment and its tasks. Like the rest
//! of this module, the only place that sees bollard's swarm types.

use std::collections::HashMap;

use anyhow::Result;
use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum,
    EndpointSpec, LocalNodeState, NodeSpecAvailabilityEnum, NodeState, ServiceSpec,
    ServiceSpecMode, ServiceSpecModeReplicated, ServiceSpecUpdateConfig,
    ServiceSpecUpdateConfigFailureActionEnum, ServiceSpecUpdateConfigOrderEnum,
    ServiceUpdateStatusStateEnum, TaskSpec, TaskSpecContainerSpec, TaskState,
};
use bollard::query_parameters::{
    InspectServiceOptionsBuilder, ListNodesOptions, ListTasksOptionsBuilder,
    UpdateServiceOptionsBuilder,
};

use super::{engine_error, status_of, Engine, LABEL_DEPLOYMENT, LABEL_ENVIRONMENT, LABEL_PROJECT};

/// What the engine temps talks to is in a swarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwarmRole {
    /// A manager: services can be created and updated through it.
    Manager,
    /// A worker: it runs tasks but cannot change services.
    Worker,
    /// Not in a swarm (or not yet, or no longer, active in one).
    None,
}

/// A service as temps defines it: one per environment.
#[derive(Debug, Clone)]
pub struct ServiceDefinition<'a> {
    pub name: &'a str,
    /// By repository digest: `repo@sha256:...`.
    pub image: &'a str,
    pub project: &'a str,
    pub environment: &'a str,
    pub deployment_id: i64,
    pub env: Vec<String>,
    pub replicas: u32,
    pub container_port: Option<u16>,
    /// Published in host mode on every node that runs a task.
    pub publish: Option<u16>,
    pub stop_grace: std::time::Duration,
}

/// A service's whole spec as Swarm holds it, kept to be put back unchanged.
#[derive(Debug, Clone, Default)]
pub struct SavedSpec(ServiceSpec);

impl SavedSpec {
    /// The deployment the spec was made for (its `dev.temps.deployment` label).
    pub fn deployment_id(&self) -> Option<i64> {
        self.0
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_DEPLOYMENT))
            .and_then(|d| d.parse().ok())
    }

    /// How many tasks it asks for.
    pub fn replicas(&self) -> u32 {
        self.0
            .mode
            .as_ref()
            .and_then(|m| m.replicated.as_ref())
            .and_then(|r| r.replicas)
            .unwrap_or(0) as u32
    }

    /// The image its tasks run.
    pub fn image(&self) -> Option<&str> {
        self.0
            .task_template
            .as_ref()
            .and_then(|t| t.container_spec.as_ref())
            .and_then(|c| c.image.as_deref())
    }

    /// The same spec with `replicas` tasks.
    pub fn with_replicas(&self, replicas: u32) -> SavedSpec {
        let mut spec = self.0.clone();
        spec.mode = Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated {
                replicas: Some(replicas as i64),
            }),
            ..Default::default()
        });
        SavedSpec(spec)
    }

    /// The same spec, running `image` with `env` for `deployment_id`: how a spec whose
    /// deployment is unknown is brought back to one the history knows.
    pub fn with_deployment(&self, image: &str, env: Vec<String>, deployment_id: i64) -> SavedSpec {
        let mut spec = self.0.clone();
        let id = deployment_id.to_string();
        spec.labels
            .get_or_insert_with(HashMap::new)
            .insert(LABEL_DEPLOYMENT.to_string(), id.clone());
        let template = spec.task_template.get_or_insert_with(TaskSpec::default);
        let container = template
            .container_spec
            .get_or_insert_with(TaskSpecContainerSpec::default);
        container.image = Some(image.to_string());
        container.env = Some(env);
        container
            .labels
            .get_or_insert_with(HashMap::new)
            .insert(LABEL_DEPLOYMENT.to_string(), id);
        SavedSpec(spec)
    }
}

/// Where a service's last update stands, as Swarm reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateState {
    Updating,
    Paused,
    Completed,
    /// Swarm's own rollback (temps never asks for one; a user may have).
    RollingBack,
}

impl UpdateState {
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateState::Updating => "updating",
            UpdateState::Paused => "paused",
            UpdateState::Completed => "completed",
            UpdateState::RollingBack => "rolling back",
        }
    }
}

/// What temps needs to know of a service.
#[derive(Debug, Clone)]
pub struct ServiceFacts {
    pub name: String,
    pub version: u64,
    pub image: Option<String>,
    pub deployment_id: Option<i64>,
    pub replicas: u32,
    /// `None` when it was never updated.
    pub update: Option<UpdateState>,
    pub update_message: Option<String>,
    pub spec: SavedSpec,
}

/// What temps needs to know of a task.
#[derive(Debug, Clone)]
pub struct TaskFacts {
    /// Swarm's id of the task.
    pub id: String,
    /// `temps-web-production.2`: the service and the slot.
    pub name: String,
    pub node: String,
    /// Its node is up and takes tasks.
    pub node_ready: bool,
    /// `running`, `starting`, `pending`, `failed`, ...
    pub state: String,
    pub desired_running: bool,
    pub running: bool,
    /// It ended badly (`failed`, `rejected`): the new version does not run.
    pub failed: bool,
    /// Not yet given a node (no suitable one, for instance).
    pub unplaced: bool,
    /// Why it failed or waits, as Swarm says it.
    pub error: Option<String>,
    pub image: String,
    pub deployment_id: Option<i64>,
}

/// `registry:5000/web:1.3` → `registry:5000/web`: the repository, without a tag or digest.
pub fn repository_of(reference: &str) -> &str {
    let reference = reference.split('@').next().unwrap_or(reference);
    match reference.rfind(':') {
        Some(colon) if !reference[colon..].contains('/') => &reference[..colon],
        _ => reference,
    }
}

/// `temps-<project>-<environment>`: the service of an environment in swarm mode.
pub fn service_name(project: &str, environment: &str) -> String {
    format!("temps-{project}-{environment}")
}

fn task_state_word(state: Option<TaskState>) -> String {
    state.map(|s| s.to_string()).unwrap_or_default()
}

impl Engine {
    /// Whether the engine is a swarm manager, a worker, or in no swarm.
    pub async fn swarm_role(&self) -> Result<SwarmRole> {
        let info = self
            .docker
            .info()
            .await
            .map_err(|e| engine_error(e, "asking the engine about its swarm"))?;
        let swarm = info.swarm.unwrap_or_default();
        Ok(match (swarm.local_node_state, swarm.control_available) {
            (Some(LocalNodeState::ACTIVE), Some(true)) => SwarmRole::Manager,
            (Some(LocalNodeState::ACTIVE), _) => SwarmRole::Worker,
            _ => SwarmRole::None,
        })
    }

    /// The repository digest (`sha256:...`) the registry holds for `reference`, asked
    /// through the engine (which knows the registry's address and trust); `Ok(Err(why))`
    /// when the registry does not have it or cannot be asked.
    pub async fn registry_digest(&self, reference: &str) -> Result<Result<String, String>> {
        match self.docker.inspect_registry_image(reference, None).await {
            Ok(found) => Ok(found
                .descriptor
                .digest
                .filter(|d| d.starts_with("sha256:"))
                .ok_or_else(|| format!("the registry gave no digest for `{reference}`"))),
            Err(e) if status_of(&e).is_some() => {
                let text = format!(
                    "{:#}",
                    engine_error(e, format!("looking up `{reference}` in its registry"))
                );
                Ok(Err(text))
            }
            Err(e) => Err(engine_error(
                e,
                format!("looking up `{reference}` in its registry"),
            )),
        }
    }

    /// The service, or `None` when there is none by that name.
    pub async fn service(&self, name: &str) -> Result<Option<ServiceFacts>> {
        let options = InspectServiceOptionsBuilder::new()
            .insert_defaults(false)
            .build();
        let service = match self.docker.inspect_service(name, Some(options)).await {
            Ok(service) => service,
            Err(e) if status_of(&e) == Some(404) => return Ok(None),
            Err(e) => return Err(engine_error(e, format!("inspecting service {name}"))),
        };
        let spec = SavedSpec(service.spec.unwrap_or_default());
        let update = service.update_status.as_ref();
        Ok(Some(ServiceFacts {
            name: name.to_string(),
            version: service.version.and_then(|v| v.index).unwrap_or(0),
            image: spec.image().map(str::to_string),
            deployment_id: spec.deployment_id(),
            replicas: spec.replicas(),
            update: update.and_then(|u| u.state).and_then(|s| match s {
                ServiceUpdateStatusStateEnum::UPDATING => Some(UpdateState::Updating),
                ServiceUpdateStatusStateEnum::PAUSED
                | ServiceUpdateStatusStateEnum::ROLLBACK_PAUSED => Some(UpdateState::Paused),
                ServiceUpdateStatusStateEnum::COMPLETED
                | ServiceUpdateStatusStateEnum::ROLLBACK_COMPLETED => Some(UpdateState::Completed),
                ServiceUpdateStatusStateEnum::ROLLBACK_STARTED => Some(UpdateState::RollingBack),
                ServiceUpdateStatusStateEnum::EMPTY => None,
            }),
            update_message: update.and_then(|u| u.message.clone()),
            spec,
        }))
    }

    /// Create the service of an environment.
    pub async fn create_service(&self, definition: &ServiceDefinition<'_>) -> Result<()> {
        self.docker
            .create_service(spec_of(definition), None)
            .await
            .map_err(|e| engine_error(e, format!("creating service {}", definition.name)))?;
        Ok(())
    }

    /// Update the service (at `version`, as last inspected) to `definition`.
    pub async fn update_service(
        &self,
        version: u64,
        definition: &ServiceDefinition<'_>,
    ) -> Result<()> {
        self.put_spec(definition.name, version, spec_of(definition))
            .await
    }

    /// Put a saved spec back as the service's spec.
    pub async fn put_back_service(&self, name: &str, version: u64, spec: &SavedSpec) -> Result<()> {
        self.put_spec(name, version, spec.0.clone()).await
    }

    async fn put_spec(&self, name: &str, version: u64, spec: ServiceSpec) -> Result<()> {
        let options = UpdateServiceOptionsBuilder::new()
            .version(version as i32)
            .build();
        // Warnings (an image the manager could not resolve, say) decide nothing: the
        // convergence that follows does.
        self.docker
            .update_service(name, spec, options, None)
            .await
            .map_err(|e| engine_error(e, format!("updating service {name}")))?;
        Ok(())
    }

    /// Remove a service; a missing one is done.
    pub async fn remove_service(&self, name: &str) -> Result<()> {
        match self.docker.delete_service(name).await {
            Ok(()) => Ok(()),
            Err(e) if status_of(&e) == Some(404) => Ok(()),
            Err(e) => Err(engine_error(e, format!("removing service {name}"))),
        }
    }

    /// The nodes that are up and take tasks (ready, active).
    pub async fn ready_nodes(&self) -> Result<u32> {
        Ok(self
            .nodes()
            .await?
            .values()
            .filter(|(_, ready)| *ready)
            .count() as u32)
    }

    /// Node id → (hostname, ready and active).
    async fn nodes(&self) -> Result<HashMap<String, (String, bool)>> {
        let nodes = self
            .docker
            .list_nodes(None::<ListNodesOptions>)
            .await
            .map_err(|e| engine_error(e, "listing the swarm's nodes"))?;
        Ok(nodes
            .into_iter()
            .filter_map(|n| {
                let id = n.id?;
                let hostname = n
                    .description
                    .and_then(|d| d.hostname)
                    .unwrap_or_else(|| id.chars().take(12).collect());
                let ready = n.status.and_then(|s| s.state) == Some(NodeState::READY)
                    && n.spec.and_then(|s| s.availability)
                        == Some(NodeSpecAvailabilityEnum::ACTIVE);
                Some((id, (hostname, ready)))
            })
            .collect())
    }

    /// The service's tasks, the newest first within each slot, with their nodes' names.
    pub async fn service_tasks(&self, service: &str) -> Result<Vec<TaskFacts>> {
        let filters = HashMap::from([("service", vec![service.to_string()])]);
        let options = ListTasksOptionsBuilder::new().filters(&filters).build();
        let tasks = self
            .docker
            .list_tasks(Some(options))
            .await
            .map_err(|e| engine_error(e, format!("listing the tasks of {service}")))?;
        let nodes = self.nodes().await?;
        let mut facts: Vec<(i64, String, TaskFacts)> = tasks
            .into_iter()
            .filter(|t| t.service_id.is_some())
            .map(|t| {
                let status = t.status.unwrap_or_default();
                let state = status.state;
                let container = t.spec.and_then(|s| s.container_spec).unwrap_or_default();
                let (node, node_ready) = t
                    .node_id
                    .as_ref()
                    .and_then(|id| nodes.get(id).cloned())
                    .unwrap_or_else(|| ("-".to_string(), false));
                let slot = t.slot.unwrap_or(0);
                let updated = t.updated_at.map(|d| d.to_string()).unwrap_or_default();
                let failed = matches!(state, Some(TaskState::FAILED | TaskState::REJECTED));
                let error = status
                    .err
                    .filter(|e| !e.is_empty())
                    .or(status.message.filter(|_| failed));
                (
                    slot,
                    updated,
                    TaskFacts {
                        id: t.id.clone().unwrap_or_default(),
                        name: format!("{service}.{slot}"),
                        node,
                        node_ready,
                        state: task_state_word(state),
                        desired_running: t.desired_state == Some(TaskState::RUNNING),
                        running: state == Some(TaskState::RUNNING),
                        failed,
                        unplaced: t.node_id.is_none()
                            && matches!(state, Some(TaskState::PENDING | TaskState::NEW)),
                        error,
                        image: container.image.unwrap_or_default(),
                        deployment_id: container
                            .labels
                            .as_ref()
                            .and_then(|l| l.get(LABEL_DEPLOYMENT))
                            .and_then(|d| d.parse().ok()),
                    },
                )
            })
            .collect();
        facts.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        Ok(facts.into_iter().map(|(_, _, t)| t).collect())
    }
}

/// The spec of a temps service: replicated, stop-first one task at a time (a host-mode
/// port is held by one task per node), and paused rather than rolled back by Swarm on a
/// failure: temps puts the previous spec back itself.
fn spec_of(d: &ServiceDefinition<'_>) -> ServiceSpec {
    let labels = HashMap::from([
        (LABEL_PROJECT.to_string(), d.project.to_string()),
        (LABEL_ENVIRONMENT.to_string(), d.environment.to_string()),
        (LABEL_DEPLOYMENT.to_string(), d.deployment_id.to_string()),
    ]);
    // Each task says which deployment it runs; the project label stays off the
    // containers, so the single-host container lists never mistake them for their own.
    let container_labels =
        HashMap::from([(LABEL_DEPLOYMENT.to_string(), d.deployment_id.to_string())]);
    let ports = match (d.container_port, d.publish) {
        (Some(target), Some(published)) => Some(vec![EndpointPortConfig {
            protocol: Some(EndpointPortConfigProtocolEnum::TCP),
            target_port: Some(target as i64),
            published_port: Some(published as i64),
            publish_mode: Some(EndpointPortConfigPublishModeEnum::HOST),
            ..Default::default()
        }]),
        _ => None,
    };
    ServiceSpec {
        name: Some(d.name.to_string()),
        labels: Some(labels),
        task_template: Some(TaskSpec {
            container_spec: Some(TaskSpecContainerSpec {
                image: Some(d.image.to_string()),
                env: Some(d.env.clone()),
                labels: Some(container_labels),
                stop_grace_period: Some(d.stop_grace.as_nanos() as i64),
                ..Default::default()
            }),
            ..Default::default()
        }),
        mode: Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated {
                replicas: Some(d.replicas as i64),
            }),
            ..Default::default()
        }),
        update_config: Some(ServiceSpecUpdateConfig {
            parallelism: Some(1),
            failure_action: Some(ServiceSpecUpdateConfigFailureActionEnum::PAUSE),
            order: Some(ServiceSpecUpdateConfigOrderEnum::STOP_FIRST),
            ..Default::default()
        }),
        endpoint_spec: Some(EndpointSpec {
            ports,
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_is_the_reference_without_its_tag_or_digest() {
        assert_eq!(repository_of("10.0.0.1:5000/web:1.3"), "10.0.0.1:5000/web");
        assert_eq!(repository_of("10.0.0.1:5000/web"), "10.0.0.1:5000/web");
        assert_eq!(
            repository_of("10.0.0.1:5000/team/web@sha256:abc"),
            "10.0.0.1:5000/team/web"
        );
        assert_eq!(repository_of("web:1"), "web");
    }

    #[test]
    fn a_service_publishes_in_host_mode_and_is_never_rolled_back_by_swarm() {
        let spec = spec_of(&ServiceDefinition {
            name: "temps-web-production",
            image: "r:5000/web@sha256:1",
            project: "web",
            environment: "production",
            deployment_id: 4,
            env: vec!["A=1".into()],
            replicas: 3,
            container_port: Some(8080),
            publish: Some(80),
            stop_grace: std::time::Duration::from_secs(10),
        });
        let port = &spec.endpoint_spec.as_ref().unwrap().ports.as_ref().unwrap()[0];
        assert_eq!(
            port.publish_mode,
            Some(EndpointPortConfigPublishModeEnum::HOST)
        );
        assert_eq!(
            (port.target_port, port.published_port),
            (Some(8080), Some(80))
        );
        let update = spec.update_config.as_ref().unwrap();
        assert_eq!(
            update.failure_action,
            Some(ServiceSpecUpdateConfigFailureActionEnum::PAUSE)
        );
        assert_eq!(
            update.order,
            Some(ServiceSpecUpdateConfigOrderEnum::STOP_FIRST)
        );
        let saved = SavedSpec(spec);
        assert_eq!(saved.deployment_id(), Some(4));
        let back = saved.with_deployment("r:5000/web@sha256:0", vec![], 2);
        assert_eq!(back.deployment_id(), Some(2));
        assert_eq!(back.image(), Some("r:5000/web@sha256:0"));
    }
}
