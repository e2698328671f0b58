//! Drift: where Docker disagrees with the history about an environment. Observed once,
//! from one list of the project's containers, and used both by `status` (to report) and
//! by reconciliation at the start of every operation (to act).

use std::fmt;

use super::swap::CHECK_SUFFIX;
use crate::docker::{ContainerFacts, Health};
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
}

impl Drift {
    /// The container it is about.
    pub fn container(&self) -> &str {
        match self {
            Drift::Missing { container }
            | Drift::Stopped { container, .. }
            | Drift::Unhealthy { container }
            | Drift::Stray { container }
            | Drift::LeftoverCheck { container } => container,
        }
    }

    /// A check container, which no deployment ever serves from: removed, not stopped.
    pub fn is_check(&self) -> bool {
        self.container().ends_with(CHECK_SUFFIX)
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
        }
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
}
