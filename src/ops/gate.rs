//! The one gate: whether a deployment may be rolled back to or promoted now, and why
//! not; and which earlier deployment a rollback with no id goes back to. The commands,
//! the picker and `list`'s `can_roll_back` all ask here, so what one entry point offers
//! another never refuses.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use crate::docker::Engine;
use crate::schema_version::SchemaVersion;
use crate::store::{Database, Deployment, Environment, Fled, Preset, Project, Status, Store};

/// A change back to an earlier deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Rollback,
    Promote,
}

impl Kind {
    pub fn verb(self) -> &'static str {
        match self {
            Kind::Rollback => "roll back to",
            Kind::Promote => "promote",
        }
    }

    /// `rollback`, `promote`.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Rollback => "rollback",
            Kind::Promote => "promote",
        }
    }

    /// The statuses a target may have, for messages.
    pub fn allowed_statuses(self) -> &'static str {
        match self {
            Kind::Rollback => "deployed or completed",
            Kind::Promote => "ready, completed or deployed",
        }
    }
}

/// What the gate knows of a target beyond its record.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// It is what its environment serves now.
    pub is_current: bool,
    /// Its image (by id) or release is still there; `None` when not (yet) known.
    pub present: Option<bool>,
    /// Its environment's database, as the history tells it; `None` when no deployment
    /// declared a schema.
    pub database: Option<&'a Database>,
    /// A person ran the down migrations and accepts a target below the floor
    /// (`--accept-schema`).
    pub accept_schema: bool,
}

/// Why the gate says no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Only some statuses can be gone back to.
    Status(Status),
    /// A rollback to what serves already.
    IsCurrent,
    /// The image or release is gone from the host.
    Gone,
    /// Its code is older than its environment's database needs: migrations are not
    /// reverted by a rollback.
    BelowFloor,
}

/// Whether `target`'s code can run against `database`: a deployment or a database
/// without a declared schema is never judged.
pub fn below_floor<'a>(
    target: &'a Deployment,
    database: Option<&Database>,
) -> Option<&'a SchemaVersion> {
    let schema = &target.schema.as_ref()?.version;
    (*schema < database?.floor).then_some(schema)
}

/// May `target` be rolled back to or promoted now? Promoting the current deployment is
/// allowed: it only clears the rolled-back state.
pub fn decide(kind: Kind, target: &Deployment, facts: Facts<'_>) -> Result<(), Refusal> {
    let status_allowed = match kind {
        Kind::Rollback => target.status.is_rollback_target(),
        Kind::Promote => target.status.is_promote_target(),
    };
    if !status_allowed {
        return Err(Refusal::Status(target.status));
    }
    if facts.is_current {
        return match kind {
            Kind::Rollback => Err(Refusal::IsCurrent),
            Kind::Promote => Ok(()),
        };
    }
    if !facts.accept_schema && below_floor(target, facts.database).is_some() {
        return Err(Refusal::BelowFloor);
    }
    if facts.present == Some(false) {
        return Err(Refusal::Gone);
    }
    Ok(())
}

/// Why a valid target is not what a rollback with no id goes back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    /// A later rollback left it, or another deployment of the same version: it is the
    /// version that was fled.
    RolledBackFrom {
        /// The rollback that left it.
        by: i64,
        at: i64,
        reason: Option<String>,
    },
    /// It runs the image (or release) that serves now: going back to it changes nothing.
    SameAsNow,
    /// Its schema is below the database's floor: its code cannot run against it (the
    /// gate refuses it unless a person accepts).
    BelowFloor {
        schema: SchemaVersion,
        floor: SchemaVersion,
        /// The deployment whose compat the floor is.
        by: i64,
    },
}

/// A valid rollback target, with what speaks against choosing it without being asked.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub deployment: Deployment,
    pub marks: Vec<Mark>,
}

/// What marks a deployment of one environment: the rollbacks that left a version, and
/// what serves now.
pub struct Marker {
    /// For each image id (or release) a rollback left, the latest rollback that left it.
    fled: HashMap<String, Fled>,
    /// The image id or release that serves now.
    serving: Option<String>,
    /// The environment's database, when a deployment declared a schema.
    database: Option<Database>,
}

impl Marker {
    /// `current`: what serves the environment now, as the caller read it.
    pub fn new(store: &Store, env: &Environment, current: Option<&Deployment>) -> Result<Marker> {
        let mut fled: HashMap<String, Fled> = HashMap::new();
        // Newest first: the latest rollback away from a version is the one told.
        for left in store.fled(env.id)? {
            fled.entry(left.version.clone()).or_insert(left);
        }
        Ok(Marker {
            fled,
            serving: current.and_then(what_runs),
            database: store.database(env.id)?,
        })
    }

    /// The environment's database, as the history tells it.
    pub fn database(&self) -> Option<&Database> {
        self.database.as_ref()
    }

    /// A deployment is marked as fled when a rollback made after it left a deployment
    /// running the same version: a version once rolled back from is not gone back to
    /// unasked, whichever of its deployments would run it. A deployment made after that
    /// rollback is a new decision, and is not marked.
    pub fn marks(&self, d: &Deployment) -> Vec<Mark> {
        let mut marks = Vec::new();
        let version = what_runs(d);
        if let Some(left) = version.as_ref().and_then(|v| self.fled.get(v)) {
            if left.rollback_id > d.id {
                marks.push(Mark::RolledBackFrom {
                    by: left.rollback_id,
                    at: left.at,
                    reason: left.reason.clone(),
                });
            }
        }
        if self.serving.is_some() && version == self.serving {
            marks.push(Mark::SameAsNow);
        }
        if let (Some(schema), Some(db)) = (below_floor(d, self.database()), self.database()) {
            marks.push(Mark::BelowFloor {
                schema: schema.clone(),
                floor: db.floor.clone(),
                by: db.floor_by,
            });
        }
        marks
    }
}

/// The rollback targets of an environment, newest first, each with its marks.
pub fn candidates(store: &Store, env: &Environment) -> Result<Vec<Candidate>> {
    let current = match env.current_deployment_id {
        Some(id) => store.deployment(id)?,
        None => None,
    };
    let marker = Marker::new(store, env, current.as_ref())?;
    let targets = store.rollback_targets(env.id, env.current_deployment_id)?;
    Ok(targets
        .into_iter()
        .filter(|d| {
            // Below the floor stays a candidate, marked: a person may accept it.
            let facts = Facts {
                is_current: env.current_deployment_id == Some(d.id),
                present: None,
                database: marker.database(),
                accept_schema: true,
            };
            decide(Kind::Rollback, d, facts).is_ok()
        })
        .map(|deployment| Candidate {
            marks: marker.marks(&deployment),
            deployment,
        })
        .collect())
}

/// What a rollback with no id chooses from.
pub struct Choice<'a> {
    pub project: &'a str,
    pub environment: &'a str,
    /// Newest first; never empty.
    pub candidates: &'a [Candidate],
}

impl Choice<'_> {
    /// The most recent valid target, or a refusal that names why each candidate is
    /// marked.
    pub fn most_recent(&self) -> Result<i64> {
        if let Some(found) = most_recent(self.candidates) {
            return Ok(found.deployment.id);
        }
        let now = crate::clock::now_ms();
        let why: Vec<String> = self
            .candidates
            .iter()
            .take(5)
            .map(|c| format!("#{} {}", c.deployment.id, describe(&c.marks, now)))
            .collect();
        let first = self.candidates.first().map_or(0, |c| c.deployment.id);
        Err(crate::error::Failure::refused(format!(
            "{}/{} has no earlier deployment to go back to without being told which: {}",
            self.project,
            self.environment,
            why.join("; ")
        ))
        .hint(format!(
            "name the one you want, if you are sure: `temps rollback {first}`; `temps list {}` shows the history",
            self.project
        ))
        .into())
    }

    /// The position of the most recent valid target, for a picker to preselect: the one
    /// `--yes` would go back to. `None` when every candidate is marked (`--yes` refuses):
    /// a picker then preselects none, and a person chooses.
    pub fn preferred_index(&self) -> Option<usize> {
        let found = most_recent(self.candidates)?;
        self.candidates
            .iter()
            .position(|c| c.deployment.id == found.deployment.id)
    }
}

/// `rolled back from 5m ago by #4: "checkout errors"; same image as now`.
pub fn describe(marks: &[Mark], now: i64) -> String {
    marks
        .iter()
        .map(|mark| match mark {
            Mark::RolledBackFrom { by, at, reason } => {
                let mut text = format!("rolled back from {} by #{by}", crate::clock::ago(*at, now));
                if let Some(reason) = reason {
                    text.push_str(&format!(": \"{}\"", crate::text::printable(reason)));
                }
                text
            }
            Mark::SameAsNow => "same image as now".to_string(),
            Mark::BelowFloor { schema, floor, by } => {
                format!("schema {schema}, below the database's floor {floor} (#{by})")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The most recent valid target: the newest candidate nothing speaks against, so that
/// the same no-id rollback run twice never goes forward to the version it fled.
pub fn most_recent(candidates: &[Candidate]) -> Option<&Candidate> {
    candidates.iter().find(|c| c.marks.is_empty())
}

/// `repo@sha256:...`: a swarm deployment's image, by repository digest.
pub fn is_repository_digest(image_id: &str) -> bool {
    image_id.contains("@sha256:")
}

/// The image id, or a static deployment's release.
fn what_runs(d: &Deployment) -> Option<String> {
    d.image_id.clone().or_else(|| d.artifact.clone())
}

/// How long `list` waits for Docker to say which images are still there: it must stay
/// fast with a busy or wedged engine; without an answer, nothing is claimed.
pub const ENGINE_BUDGET: Duration = Duration::from_millis(100);

/// The image ids on the host, if Docker answers within `budget`.
pub async fn images_within(budget: Duration) -> Option<HashSet<String>> {
    let ask = async { Engine::connect().await?.images().await };
    tokio::time::timeout(budget, ask)
        .await
        .ok()
        .and_then(Result::ok)
        .map(|(ids, _)| ids)
}

/// Which deployments can still be rolled back to: their image (by id) or release is
/// still there. Asking Docker is one call; without an answer, nothing is claimed.
pub struct Availability {
    /// Image ids on the host; `None` when Docker did not answer (or is not needed).
    images: Option<HashSet<String>>,
    preset: Preset,
    /// The current deployment of every environment: never a rollback target.
    current: HashSet<i64>,
    /// Those of rolled-back environments: promoting one ends the rolled-back state.
    rolled_back: HashSet<i64>,
    /// Each environment's database, by environment id, when a deployment declared one.
    databases: HashMap<i64, Database>,
}

impl Availability {
    pub async fn probe(project: &Project, store: &Store) -> Result<Availability> {
        let images = match project.preset {
            Preset::Docker => images_within(ENGINE_BUDGET).await,
            Preset::Static => None,
        };
        Availability::new(project, store, images)
    }

    /// With the image ids on the host already known (`None`: Docker did not say).
    pub fn new(
        project: &Project,
        store: &Store,
        images: Option<HashSet<String>>,
    ) -> Result<Availability> {
        let environments = store.environments(project.id)?;
        let current = environments
            .iter()
            .filter_map(|e| e.current_deployment_id)
            .collect();
        let rolled_back = environments
            .iter()
            .filter(|e| e.state == crate::store::EnvState::RolledBack)
            .filter_map(|e| e.current_deployment_id)
            .collect();
        let mut databases = HashMap::new();
        for env in &environments {
            if let Some(database) = store.database(env.id)? {
                databases.insert(env.id, database);
            }
        }
        Ok(Availability {
            images,
            preset: project.preset,
            current,
            rolled_back,
            databases,
        })
    }

    /// What may be done to `d` now, by the gate: `rollback` and `promote`, of those
    /// `allowed` (the caller's permissions). A target whose image or release is gone is
    /// offered nothing; one Docker did not answer about is offered what its record allows.
    /// Promoting what serves is offered only where it ends a rolled-back state (elsewhere
    /// it would change nothing).
    pub fn actions(&self, d: &Deployment, allowed: bool) -> Vec<&'static str> {
        if !allowed {
            return Vec::new();
        }
        let pointless = |kind: Kind| {
            kind == Kind::Promote
                && self.current.contains(&d.id)
                && !self.rolled_back.contains(&d.id)
        };
        [Kind::Rollback, Kind::Promote]
            .into_iter()
            .filter(|kind| self.decide(*kind, d).0.is_ok() && !pointless(*kind))
            .map(Kind::noun)
            .collect()
    }

    /// The gate's word on a deployment as a rollback target, with what is known of its
    /// image or release.
    fn verdict(&self, d: &Deployment) -> (Result<(), Refusal>, Option<bool>) {
        self.decide(Kind::Rollback, d)
    }

    fn decide(&self, kind: Kind, d: &Deployment) -> (Result<(), Refusal>, Option<bool>) {
        let present = match self.preset {
            Preset::Static => Some(d.artifact.as_deref().is_some_and(|a| Path::new(a).is_dir())),
            // Swarm mode: a repository digest lives in the registry, which a listing
            // does not ask; validation does.
            Preset::Docker if d.image_id.as_deref().is_some_and(is_repository_digest) => None,
            Preset::Docker => self
                .images
                .as_ref()
                .map(|images| d.image_id.as_ref().is_some_and(|id| images.contains(id))),
        };
        let facts = Facts {
            is_current: self.current.contains(&d.id),
            present,
            database: self.databases.get(&d.environment_id),
            accept_schema: false,
        };
        (decide(kind, d, facts), present)
    }

    /// `Some(true)`: a valid rollback target whose image or release is there;
    /// `Some(false)`: not a target, or its image or release is gone; `None`: Docker did
    /// not say.
    pub fn can_roll_back(&self, d: &Deployment) -> Option<bool> {
        match self.verdict(d) {
            (Ok(()), present) => present,
            (Err(_), _) => Some(false),
        }
    }

    /// Said in the NOTE column of a target that can no longer be rolled back to (or not
    /// without `--accept-schema`).
    pub fn gone(&self, d: &Deployment) -> Option<&'static str> {
        match self.verdict(d).0 {
            Err(Refusal::Gone) if self.preset == Preset::Static => Some("release gone"),
            Err(Refusal::Gone) => Some("image gone"),
            Err(Refusal::BelowFloor) => Some("below the schema floor"),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(status: Status) -> Deployment {
        Deployment::sample(status)
    }

    const ELSEWHERE: Facts<'static> = Facts {
        is_current: false,
        present: Some(true),
        database: None,
        accept_schema: false,
    };

    fn with_schema(status: Status, version: &str) -> Deployment {
        let version: SchemaVersion = version.parse().unwrap();
        Deployment {
            schema: Some(crate::store::Schema::declared(version, None).unwrap()),
            ..deployment(status)
        }
    }

    /// At schema 42, needing code of 40 or newer (#44's compat).
    fn database() -> Database {
        Database {
            schema: "42".parse().unwrap(),
            schema_by: 45,
            floor: "40".parse().unwrap(),
            floor_by: 44,
        }
    }

    #[test]
    fn a_target_below_the_floor_is_refused_unless_accepted() {
        let db = database();
        let facts = Facts {
            database: Some(&db),
            ..ELSEWHERE
        };
        let old = with_schema(Status::Completed, "35");
        for kind in [Kind::Rollback, Kind::Promote] {
            assert_eq!(decide(kind, &old, facts), Err(Refusal::BelowFloor));
        }
        let accepted = Facts {
            accept_schema: true,
            ..facts
        };
        assert_eq!(decide(Kind::Rollback, &old, accepted), Ok(()));
        // At the floor, or above it: its code runs against the database.
        for version in ["40", "40.0", "41", "42"] {
            let target = with_schema(Status::Completed, version);
            assert_eq!(decide(Kind::Rollback, &target, facts), Ok(()), "{version}");
        }
        // The status is told first: a failed deployment is no target at all.
        assert_eq!(
            decide(Kind::Rollback, &with_schema(Status::Failed, "35"), facts),
            Err(Refusal::Status(Status::Failed))
        );
    }

    #[test]
    fn what_declares_no_schema_is_never_judged() {
        let db = database();
        let facts = Facts {
            database: Some(&db),
            ..ELSEWHERE
        };
        assert_eq!(
            decide(Kind::Rollback, &deployment(Status::Completed), facts),
            Ok(())
        );
        assert!(below_floor(&deployment(Status::Completed), Some(&db)).is_none());
        let old = with_schema(Status::Completed, "1");
        assert_eq!(decide(Kind::Rollback, &old, ELSEWHERE), Ok(()));
        assert!(below_floor(&old, None).is_none());
    }

    #[test]
    fn the_most_recent_target_skips_one_below_the_floor() {
        let below = Candidate {
            deployment: with_schema(Status::Completed, "35"),
            marks: vec![Mark::BelowFloor {
                schema: "35".parse().unwrap(),
                floor: "40".parse().unwrap(),
                by: 44,
            }],
        };
        assert!(most_recent(std::slice::from_ref(&below)).is_none());
        assert_eq!(
            describe(&below.marks, 0),
            "schema 35, below the database's floor 40 (#44)"
        );
    }

    #[test]
    fn only_served_deployments_can_be_rolled_back_to() {
        for status in [Status::Deployed, Status::Completed] {
            assert_eq!(
                decide(Kind::Rollback, &deployment(status), ELSEWHERE),
                Ok(())
            );
        }
        for status in [
            Status::Pending,
            Status::Deploying,
            Status::Ready,
            Status::Failed,
            Status::Cancelled,
        ] {
            assert_eq!(
                decide(Kind::Rollback, &deployment(status), ELSEWHERE),
                Err(Refusal::Status(status))
            );
        }
    }

    #[test]
    fn ready_deployments_can_be_promoted_and_the_current_one_only_clears_the_state() {
        assert_eq!(
            decide(Kind::Promote, &deployment(Status::Ready), ELSEWHERE),
            Ok(())
        );
        let current = Facts {
            is_current: true,
            present: None,
            ..ELSEWHERE
        };
        assert_eq!(
            decide(Kind::Promote, &deployment(Status::Deployed), current),
            Ok(())
        );
        assert_eq!(
            decide(Kind::Rollback, &deployment(Status::Deployed), current),
            Err(Refusal::IsCurrent)
        );
    }

    #[test]
    fn a_target_whose_image_is_gone_is_refused_and_an_unknown_one_is_not() {
        let gone = Facts {
            present: Some(false),
            ..ELSEWHERE
        };
        let unknown = Facts {
            present: None,
            ..ELSEWHERE
        };
        let completed = deployment(Status::Completed);
        assert_eq!(decide(Kind::Rollback, &completed, gone), Err(Refusal::Gone));
        assert_eq!(decide(Kind::Rollback, &completed, unknown), Ok(()));
    }

    #[test]
    fn the_most_recent_target_skips_marked_ones() {
        let fled = Candidate {
            deployment: deployment(Status::Completed),
            marks: vec![Mark::RolledBackFrom {
                by: 9,
                at: 0,
                reason: None,
            }],
        };
        let same = Candidate {
            marks: vec![Mark::SameAsNow],
            ..fled.clone()
        };
        let mut good = fled.clone();
        good.marks.clear();
        good.deployment.id = 3;
        assert_eq!(
            most_recent(&[fled.clone(), same.clone(), good]).map(|c| c.deployment.id),
            Some(3)
        );
        assert!(most_recent(&[fled, same]).is_none());
    }
}
