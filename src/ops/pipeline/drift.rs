//! Drift: where Docker disagrees with the history about an environment. Observed once,
//! from one list of the project's containers, and used both by `status` (to report) and
//! by reconciliation at the start of every operation (to act).

use std::fmt;
use std::path::PathBuf;

use crate::docker::{ContainerFacts, Health, ServiceFacts, TaskFacts};
use crate::ops::swap::CHECK_SUFFIX;
use crate::store::Deployment;

/// One disagreement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// A container of the current deployment does not exist.
    Missing { container: String },
    /// A container of the current deployment exists but does not run.
    Stopped { container: String, state: String },
    /// A container of the current deployment runs, and Docker reports it unhealthy.
    Unhealthy { container: String },
    /// A temps container runs that the history does not know as current or as a warm
    /// standby (a check container of an interrupted swap among them).
    Stray { container: String },
    /// A check container that does not run: only an interrupted swap leaves one.
    LeftoverCheck { container: String },
    /// Swarm mode: the environment's service does not exist.
    ServiceMissing { service: String },
    /// Swarm mode: the service is set to run another image or deployment than the
    /// current one (`expected`: the current deployment, if any).
    ServiceImage {
        service: String,
        image: String,
        expected: Option<i64>,
    },
    /// Swarm mode: the service runs fewer (or more) replicas than the environment's
    /// count (a node went away mid-update, or a hand-made `docker service scale`).
    Replicas {
        service: String,
        replicas: u32,
        wanted: u32,
    },
    /// Swarm mode: a task runs an image that is not the current deployment's digest.
    TaskImage {
        task: String,
        node: String,
        image: String,
    },
    /// Swarm mode: a task Swarm wants running does not run.
    TaskDown {
        task: String,
        node: String,
        state: String,
    },
    /// Proxy mode: no `temps proxy` reports itself, so nothing serves `listen`.
    ProxyDown { listen: String },
    /// Proxy mode: the running proxy has not applied the last switch's routes yet.
    ProxyBehind { applied: i64, generation: i64 },
    /// A static project: the `current` link points elsewhere than the current
    /// deployment's release (`None`: at nothing, or nothing serves).
    ReleaseLink {
        pointed: Option<PathBuf>,
        expected: Option<String>,
    },
}

impl Drift {
    /// The container, service or task it is about; `None` for the proxy and a static
    /// release's link.
    pub fn container(&self) -> Option<&str> {
        match self {
            Drift::Missing { container }
            | Drift::Stopped { container, .. }
            | Drift::Unhealthy { container }
            | Drift::Stray { container }
            | Drift::LeftoverCheck { container } => Some(container),
            Drift::ServiceMissing { service }
            | Drift::ServiceImage { service, .. }
            | Drift::Replicas { service, .. } => Some(service),
            Drift::TaskImage { task, .. } | Drift::TaskDown { task, .. } => Some(task),
            Drift::ProxyDown { .. } | Drift::ProxyBehind { .. } | Drift::ReleaseLink { .. } => None,
        }
    }

    /// A check container, which no deployment ever serves from: removed, not stopped.
    pub fn is_check(&self) -> bool {
        self.container().is_some_and(|c| c.ends_with(CHECK_SUFFIX))
    }
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::Missing { container } => {
                write!(f, "{container} should serve but does not exist")
            }
            Drift::Stopped { container, state } => {
                write!(f, "{container} should serve but is {state}")
            }
            Drift::Unhealthy { container } => {
                write!(f, "{container} runs but Docker reports it unhealthy")
            }
            Drift::Stray { container } => {
                write!(f, "{container} runs but is not the current deployment")
            }
            Drift::LeftoverCheck { container } => {
                write!(f, "{container} is left from an interrupted swap")
            }
            Drift::ServiceMissing { service } => {
                write!(f, "service {service} should serve but does not exist")
            }
            Drift::ServiceImage {
                service,
                image,
                expected: Some(id),
            } => write!(
                f,
                "service {service} is set to run {image}, not the current deployment #{id}"
            ),
            Drift::ServiceImage { service, image, .. } => write!(
                f,
                "service {service} runs {image}, but the history says nothing serves"
            ),
            Drift::Replicas {
                service,
                replicas,
                wanted,
            } => write!(
                f,
                "service {service} is set to {replicas} replicas, the environment to {wanted}"
            ),
            Drift::TaskImage { task, node, image } => write!(
                f,
                "task {task} on {node} runs {image}, not the current deployment's digest"
            ),
            Drift::TaskDown { task, node, state } => {
                write!(f, "task {task} on {node} should run but is {state}")
            }
            Drift::ProxyDown { listen } => {
                write!(f, "no `temps proxy` is running: nothing serves {listen}")
            }
            Drift::ProxyBehind {
                applied,
                generation,
            } => write!(
                f,
                "the proxy applies generation {applied} of the routes, not {generation} yet"
            ),
            Drift::ReleaseLink { pointed, expected } => write!(
                f,
                "the `current` link points at {}, but the history says {}",
                pointed
                    .as_ref()
                    .map_or("nothing".into(), |p| format!("`{}`", p.display())),
                expected
                    .as_ref()
                    .map_or("nothing".into(), |e| format!("`{e}`"))
            ),
        }
    }
}

/// In JSON (`temps status --json`, the API), a drift is the sentence that says it.
impl serde::Serialize for Drift {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Compare the current deployment with the containers Docker has in its environment;
/// the containers of a warm standby (`warm`) may run too.
pub fn observe(
    current: Option<&Deployment>,
    warm: &[String],
    containers: &[&ContainerFacts],
) -> Vec<Drift> {
    let wanted: &[String] = current.map(|d| d.containers.as_slice()).unwrap_or_default();
    let mut drift = Vec::new();
    for name in wanted {
        match containers.iter().find(|c| &c.name == name) {
            None => drift.push(Drift::Missing {
                container: name.clone(),
            }),
            Some(c) if !c.running => drift.push(Drift::Stopped {
                container: name.clone(),
                state: c.state.clone(),
            }),
            Some(c) if c.health == Health::Unhealthy => drift.push(Drift::Unhealthy {
                container: name.clone(),
            }),
            Some(_) => {}
        }
    }
    let expected = |name: &String| wanted.contains(name) || warm.contains(name);
    for c in containers.iter().filter(|c| !expected(&c.name)) {
        if c.running {
            drift.push(Drift::Stray {
                container: c.name.clone(),
            });
        } else if c.name.ends_with(CHECK_SUFFIX) {
            drift.push(Drift::LeftoverCheck {
                container: c.name.clone(),
            });
        }
    }
    drift
}

/// Proxy mode: whether the proxy serves the environment's route as last written
/// (`applied`: the generation a running proxy applies; `None` when none runs).
pub fn observe_proxy(listen: &str, applied: Option<i64>, generation: i64) -> Option<Drift> {
    match applied {
        None => Some(Drift::ProxyDown {
            listen: listen.to_string(),
        }),
        Some(applied) if applied < generation => Some(Drift::ProxyBehind {
            applied,
            generation,
        }),
        Some(_) => None,
    }
}

/// A static project: whether the `current` link points at the current deployment's
/// release (`expected`).
pub fn observe_release(pointed: Option<PathBuf>, expected: Option<String>) -> Option<Drift> {
    let same = pointed.as_deref().map(|p| p.to_string_lossy().into_owned()) == expected;
    (!same).then_some(Drift::ReleaseLink { pointed, expected })
}

/// Swarm mode: compare the current deployment with the environment's service (`None`:
/// there is none) and its tasks. The service's image must be the current deployment's
/// digest; each task Swarm wants running must run it.
pub fn observe_service(
    current: Option<&Deployment>,
    service: &str,
    replicas: u32,
    facts: Option<&ServiceFacts>,
    tasks: &[TaskFacts],
) -> Vec<Drift> {
    let mut drift = Vec::new();
    let Some(facts) = facts else {
        if current.is_some() {
            drift.push(Drift::ServiceMissing {
                service: service.to_string(),
            });
        }
        return drift;
    };
    let digest = current.and_then(|d| d.image_id.as_deref());
    let image = facts.image.clone().unwrap_or_default();
    if digest != Some(image.as_str()) || facts.deployment_id != current.map(|d| d.id) {
        drift.push(Drift::ServiceImage {
            service: service.to_string(),
            image: image.clone(),
            expected: current.map(|d| d.id),
        });
    }
    if facts.replicas != replicas {
        drift.push(Drift::Replicas {
            service: service.to_string(),
            replicas: facts.replicas,
            wanted: replicas,
        });
    }
    for task in tasks.iter().filter(|t| t.desired_running) {
        if task.running && Some(task.image.as_str()) != digest {
            drift.push(Drift::TaskImage {
                task: task.name.clone(),
                node: task.node.clone(),
                image: task.image.clone(),
            });
        } else if !task.running {
            drift.push(Drift::TaskDown {
                task: task.name.clone(),
                node: task.node.clone(),
                state: task.state.clone(),
            });
        }
    }
    drift
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(name: &str, running: bool) -> ContainerFacts {
        ContainerFacts {
            name: name.into(),
            running,
            state: if running { "running" } else { "exited" }.into(),
            exit_code: 0,
            health: Health::None,
            ip: None,
            deployment_id: None,
            environment: Some("production".into()),
        }
    }

    #[test]
    fn a_service_on_another_digest_a_task_behind_and_fewer_replicas_are_drift() {
        let current = Deployment {
            image_id: Some("r/web@sha256:2".into()),
            ..Deployment::sample(crate::store::Status::Deployed)
        };
        let service = ServiceFacts {
            name: "temps-web-production".into(),
            version: 1,
            image: Some("r/web@sha256:1".into()),
            deployment_id: Some(6),
            replicas: 2,
            update: None,
            update_message: None,
            spec: Default::default(),
        };
        let task = |slot: u32, image: &str, state: &str| TaskFacts {
            id: format!("task{slot}"),
            name: format!("temps-web-production.{slot}"),
            node: format!("node{slot}"),
            node_ready: true,
            state: state.into(),
            desired_running: true,
            running: state == "running",
            failed: false,
            unplaced: false,
            error: None,
            image: image.into(),
            deployment_id: None,
        };
        let tasks = [
            task(1, "r/web@sha256:2", "running"),
            task(2, "r/web@sha256:1", "running"),
            task(3, "r/web@sha256:2", "preparing"),
        ];
        let drift = observe_service(
            Some(&current),
            "temps-web-production",
            3,
            Some(&service),
            &tasks,
        );
        let said: Vec<String> = drift.iter().map(ToString::to_string).collect();
        assert_eq!(said.len(), 4, "{said:?}");
        assert!(said[0].contains("set to run r/web@sha256:1, not the current deployment #7"));
        assert!(said[1].contains("2 replicas, the environment to 3"));
        assert!(said[2].starts_with("task temps-web-production.2 on node2 runs r/web@sha256:1"));
        assert!(said[3].contains("should run but is preparing"));
        // Nothing serves, no service: no drift; something serves, no service: drift.
        assert!(observe_service(None, "s", 1, None, &[]).is_empty());
        assert_eq!(
            observe_service(Some(&current), "s", 1, None, &[]),
            [Drift::ServiceMissing {
                service: "s".into()
            }]
        );
    }

    #[test]
    fn a_stopped_current_a_stray_and_a_left_check_are_drift() {
        let current = Deployment {
            containers: vec!["t-2".into(), "t-2-2".into()],
            ..Deployment::sample(crate::store::Status::Deployed)
        };
        let all = [
            container("t-1", true),
            container("t-2", false),
            container("t-3-check", false),
            container("t-4", false),
        ];
        let refs: Vec<&ContainerFacts> = all.iter().collect();
        let drift = observe(Some(&current), &[], &refs);
        assert_eq!(
            drift,
            [
                Drift::Stopped {
                    container: "t-2".into(),
                    state: "exited".into()
                },
                Drift::Missing {
                    container: "t-2-2".into()
                },
                Drift::Stray {
                    container: "t-1".into()
                },
                Drift::LeftoverCheck {
                    container: "t-3-check".into()
                },
            ]
        );
        assert!(drift[3].is_check() && !drift[2].is_check());
    }

    #[test]
    fn the_proxy_and_a_static_link_drift_in_todays_words() {
        assert_eq!(
            observe_proxy("127.0.0.1:8080", None, 3).map(|d| d.to_string()),
            Some("no `temps proxy` is running: nothing serves 127.0.0.1:8080".into())
        );
        assert_eq!(
            observe_proxy("x", Some(2), 3).map(|d| d.to_string()),
            Some("the proxy applies generation 2 of the routes, not 3 yet".into())
        );
        assert_eq!(observe_proxy("x", Some(3), 3), None);
        let link = observe_release(Some("/r/7".into()), Some("/r/8".into())).unwrap();
        assert_eq!(
            link.to_string(),
            "the `current` link points at `/r/7`, but the history says `/r/8`"
        );
        assert_eq!(
            serde_json::to_string(&link).unwrap(),
            "\"the `current` link points at `/r/7`, but the history says `/r/8`\""
        );
        assert_eq!(
            observe_release(None, Some("/r/8".into()))
                .unwrap()
                .to_string(),
            "the `current` link points at nothing, but the history says `/r/8`"
        );
        assert_eq!(
            observe_release(Some("/r/8".into()), Some("/r/8".into())),
            None
        );
        assert!(!link.is_check());
    }
}
