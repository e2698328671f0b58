//! Rollback and promote: run an earlier deployment's image (or release) again.
//!
//! One pipeline, [`run`], for every entry point: resolve the target (the gate's most
//! recent valid one when no id is given), lock the environment, validate, confirm
//! (through a [`Prompt`]), reconcile, record, switch, run the hooks, unlock. Nothing is
//! written before the confirmation. A rollback leaves the environment `rolled_back`, so
//! that new deploys are recorded `ready` instead of undoing it; a promote returns it to
//! `normal`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::docker::{Engine, ImageFacts};
use crate::error::clean_reason;
use crate::error::Failure;
use crate::ops::gate::Choice;
use crate::ops::pipeline::hooks::{self, HookEnv};
use crate::ops::pipeline::{self, Operation, Place, Planned};
use crate::ops::release;
use crate::ops::swap::{self, ProxyMode, Strategy, Swap, SwarmMode};
use crate::progress::{Progress, Stage};
use crate::store::{
    digest, Database, Deployment, EnvState, Environment, NewDeployment, Origin, Preset, Project,
    Status, Store,
};
use crate::text::{printable, short_id};

pub use crate::ops::gate::Kind;
use crate::ops::gate::{self, Facts, Refusal};

/// A validated rollback or promote, ready to confirm and execute.
pub struct Plan {
    pub kind: Kind,
    pub project: Project,
    pub environment: Environment,
    pub current: Option<Deployment>,
    pub target: Deployment,
    /// Variables whose current value differs from what the target ran with (names only):
    /// empty means the variables digests agree.
    pub changed_variables: Vec<String>,
    /// What speaks against the target (a rollback left it; it runs what serves now).
    pub marks: Vec<gate::Mark>,
    /// Proxy mode: whether the switch reuses the target's warm containers, and why.
    pub path: Option<SwitchPath>,
    /// The environment's database, when a deployment declared a schema.
    pub database: Option<Database>,
    /// A person accepts a target below the database's floor (`--accept-schema`).
    pub accept_schema: bool,
    /// How the switch will be made, as validated.
    switch: Switch,
}

/// Proxy mode: the warm path (the target's containers run warm with the current
/// variables: only the route switches) or the cold one (new containers), and why.
#[derive(Debug, Clone)]
pub struct SwitchPath {
    pub warm: bool,
    pub reason: String,
}

impl SwitchPath {
    pub fn name(&self) -> &'static str {
        if self.warm {
            "warm"
        } else {
            "cold"
        }
    }

    fn cold(reason: String) -> SwitchPath {
        SwitchPath {
            warm: false,
            reason,
        }
    }
}

/// How a validated plan switches: only what validation proved possible can be asked.
enum Switch {
    /// Run the target's image, found by id on the engine the validation reached.
    Docker { engine: Engine, image: ImageFacts },
    /// Proxy mode: reuse the target's warm containers, which ran when validated; the
    /// image is there for the cold path, should one of them fail its probe.
    Warm {
        engine: Engine,
        image: ImageFacts,
        /// The deployment whose standby the containers are: the target, or a later
        /// rollback or promote that served from the target's containers.
        standby: Box<Deployment>,
    },
    /// Point the environment at the target's release folder, which exists.
    Static { release: PathBuf },
    /// A promote of the deployment that serves already: only the state changes.
    ClearState,
}

impl Plan {
    /// The engine the validation connected to (docker preset).
    pub fn engine(&self) -> Option<&Engine> {
        match &self.switch {
            Switch::Docker { engine, .. } | Switch::Warm { engine, .. } => Some(engine),
            _ => None,
        }
    }

    /// A promote of the deployment that serves already: only the state changes.
    pub fn only_clears_state(&self) -> bool {
        matches!(self.switch, Switch::ClearState)
    }

    /// Whether the target's code runs against the database's schema: `None` (unknown)
    /// unless both the database and the target declare one.
    pub fn schema_compatible(&self) -> Option<bool> {
        let target = &self.target.schema.as_ref()?.version;
        Some(*target >= self.database.as_ref()?.floor)
    }
}

/// The project and environment of a deployment, or exit 3.
pub fn locate(store: &Store, target_id: i64) -> Result<(Project, String)> {
    let target = store
        .deployment(target_id)?
        .ok_or_else(|| not_found(target_id))?;
    Ok((store.project(&target.project)?, target.environment))
}

pub fn not_found(target_id: i64) -> Failure {
    Failure::not_found(format!("deployment #{target_id} does not exist"))
        .hint("`temps list PROJECT` shows the deployments and their ids")
}

/// No deployment `target_id` in `project` (or none its asker may see): the hint names
/// the project.
pub fn not_found_in(project: &str, target_id: i64) -> Failure {
    Failure::not_found(format!("deployment #{target_id} does not exist")).hint(format!(
        "`temps list {project}` shows its deployments and their ids"
    ))
}

/// The gate's refusal of a target below its environment's database floor: the numbers,
/// and the ways out.
pub fn below_floor(
    project: &str,
    env: &Environment,
    target: &Deployment,
    database: &Database,
) -> Failure {
    let schema = target.schema.as_ref().map_or("?", |s| s.version.as_str());
    Failure::refused(format!(
        "the database of {project}/{} is at schema {} and needs code of schema {} or newer (#{}); #{} is schema {schema}",
        env.name, database.schema, database.floor, database.floor_by, target.id
    ))
    .hint(format!(
        "pick a target at schema {} or newer (`temps list {project}{}` shows each one's schema), or run the down migrations and pass `--accept-schema` (recorded with your name)",
        database.floor,
        env_flag(env)
    ))
}

/// Validate a rollback or promote to deployment `target_id`, changing nothing.
/// `accept_schema`: a person ran the down migrations and accepts a target below the
/// database's floor.
pub async fn plan(store: &Store, kind: Kind, target_id: i64, accept_schema: bool) -> Result<Plan> {
    let target = store
        .deployment(target_id)?
        .ok_or_else(|| not_found(target_id))?;
    let project = store.project(&target.project)?;
    let environment = store.environment_by_id(target.environment_id)?;
    let is_current = environment.current_deployment_id == Some(target_id);
    let database = store.database(environment.id)?;
    let facts = Facts {
        is_current,
        present: None,
        database: database.as_ref(),
        accept_schema,
    };
    refuse(kind, &project, &environment, &target, facts)?;
    let current = match environment.current_deployment_id {
        Some(id) => store.deployment(id)?,
        None => None,
    };
    let changed_variables = changed_variables(&store.variables(environment.id)?, &target);
    // Only a rollback tells what speaks against its target.
    let marks = match kind {
        Kind::Rollback => gate::Marker::new(store, &environment, current.as_ref())?.marks(&target),
        Kind::Promote => Vec::new(),
    };
    let mut plan = Plan {
        kind,
        project,
        environment,
        current,
        target,
        changed_variables,
        marks,
        path: None,
        database,
        accept_schema,
        switch: Switch::ClearState,
    };
    if is_current {
        return Ok(plan);
    }
    plan.switch = match plan.project.preset {
        Preset::Static => Switch::Static {
            release: check_release(&plan)?,
        },
        Preset::Docker if plan.environment.swarm => {
            let engine = Engine::connect().await?;
            swap::swarm::require_manager(&engine).await?;
            let image = check_digest(&engine, &plan).await?;
            Switch::Docker { engine, image }
        }
        Preset::Docker => {
            let engine = Engine::connect().await?;
            let image = check_image(&engine, &plan).await?;
            if plan.environment.proxy.is_some() {
                let standby = standby_of(store, &plan)?;
                let changed =
                    self::changed_variables(&store.variables(plan.environment.id)?, &standby);
                let path = choose_path(&engine, &plan, &standby, &changed).await?;
                let warm = path.warm;
                plan.path = Some(path);
                if warm {
                    plan.switch = Switch::Warm {
                        engine,
                        image,
                        standby: Box::new(standby),
                    };
                    return Ok(plan);
                }
            }
            Switch::Docker { engine, image }
        }
    };
    Ok(plan)
}

/// The gate's word on a target before its image or release is looked at, as the
/// refusal a person reads (exit 4).
fn refuse(
    kind: Kind,
    project: &Project,
    environment: &Environment,
    target: &Deployment,
    facts: Facts<'_>,
) -> Result<(), Failure> {
    let list = format!(
        "`temps list {} --environment {}`",
        project.name, environment.name
    );
    let target_id = target.id;
    match gate::decide(kind, target, facts) {
        Ok(()) => Ok(()),
        Err(Refusal::Status(status)) => Err(Failure::refused(format!(
            "cannot {} #{target_id}: it is {status}, and only {} deployments can be",
            kind.verb(),
            kind.allowed_statuses()
        ))
        .hint(format!("pick another deployment from {list}"))),
        Err(Refusal::IsCurrent) => Err(Failure::refused(format!(
            "#{target_id} is what {} serves already",
            environment.name
        ))
        .hint(format!("roll back to an earlier deployment: {list}"))),
        Err(Refusal::BelowFloor) => {
            let database = facts.database.expect("judged against a database");
            Err(below_floor(&project.name, environment, target, database))
        }
        // Not known before the image or release is looked at.
        Err(Refusal::Gone) => Ok(()),
    }
}

/// The warm standby that runs the target's version: the target's own, or that of a
/// later deployment of the same image (by id), such as a rollback or promote to the
/// target, with containers of its own or the target's. The target itself when none.
fn standby_of(store: &Store, plan: &Plan) -> Result<Deployment> {
    let target = &plan.target;
    let now = crate::clock::now_ms();
    if target.is_warm(now) || target.image_id.is_none() {
        return Ok(target.clone());
    }
    let same_image: Vec<Deployment> = store
        .warm(plan.environment.id, now)?
        .into_iter()
        .filter(|d| d.image_id == target.image_id && !d.containers.is_empty())
        .collect();
    let standby = same_image
        .iter()
        .find(|d| d.containers == target.containers)
        .or(same_image.first());
    Ok(standby.cloned().unwrap_or_else(|| target.clone()))
}

/// Proxy mode: the warm path when a standby of the target's version is on, it ran with
/// the variables the environment has now (`changed`: the names that differ), and each of
/// its containers runs (one look at each).
async fn choose_path(
    engine: &Engine,
    plan: &Plan,
    standby: &Deployment,
    changed: &[String],
) -> Result<SwitchPath> {
    let target = &plan.target;
    let now = crate::clock::now_ms();
    match standby.warm_until {
        None => {
            return Ok(SwitchPath::cold(format!(
                "#{} has no warm standby: new containers are started",
                target.id
            )))
        }
        Some(until) if until <= now => {
            return Ok(SwitchPath::cold(format!(
                "the standby of #{} ended at {}: new containers are started",
                target.id,
                crate::clock::time_of_day(until)
            )))
        }
        Some(_) => {}
    }
    if !changed.is_empty() {
        return Ok(SwitchPath::cold(format!(
            "variables changed since #{} ran ({}): new containers get the current values",
            standby.id,
            changed.join(", ")
        )));
    }
    if standby.containers.is_empty() {
        return Ok(SwitchPath::cold(format!(
            "#{} has no containers: new ones are started",
            standby.id
        )));
    }
    for name in &standby.containers {
        let running = engine.container(name).await?.is_some_and(|c| c.running);
        if !running {
            return Ok(SwitchPath::cold(format!(
                "{name} of #{} does not run: new containers are started",
                standby.id
            )));
        }
    }
    let whose = if standby.id == target.id {
        format!("#{}", target.id)
    } else {
        format!("#{} (its image, as #{})", target.id, standby.id)
    };
    Ok(SwitchPath {
        warm: true,
        reason: format!(
            "{whose} runs warm (until {}) with the current variables: only the route switches",
            crate::clock::time_of_day(standby.warm_until.unwrap_or(now))
        ),
    })
}

/// The rollback targets of an environment, newest first, with what speaks against each
/// (see `gate::candidates`).
pub fn rollback_candidates(
    store: &Store,
    project: &str,
    environment: &str,
) -> Result<(Environment, Vec<gate::Candidate>)> {
    let project = store.project(project)?;
    let env = store.environment(project.id, environment)?.ok_or_else(|| {
        Failure::not_found(format!(
            "project `{}` has no environment `{}`",
            project.name,
            printable(environment)
        ))
        .hint(format!(
            "`temps status {}` shows its environments",
            project.name
        ))
    })?;
    let candidates = gate::candidates(store, &env)?;
    Ok((env, candidates))
}

fn check_release(plan: &Plan) -> Result<PathBuf, Failure> {
    let release = plan.target.artifact.as_deref().map(Path::new);
    if let Some(release) = release.filter(|r| gate_allows(plan, r.is_dir())) {
        return Ok(release.to_path_buf());
    }
    Err(Failure::refused(format!(
        "the release of #{} (`{}`) is gone",
        plan.target.id,
        release.map_or("?".into(), |r| r.display().to_string())
    ))
    .hint(format!(
        "deploy the files again: `temps deploy {} --dir PATH{}`",
        plan.project.name,
        env_flag(&plan.environment)
    )))
}

/// The target's image, by the id recorded at deploy time: never re-resolve the tag.
async fn check_image(engine: &Engine, plan: &Plan) -> Result<ImageFacts> {
    let target = &plan.target;
    let image_id = target.image_id.as_deref().unwrap_or_default();
    let image = match image_id {
        "" => None,
        id => engine.image(id).await?,
    };
    match image {
        Some(image) if gate_allows(plan, true) => Ok(image),
        _ => {
            let reference = printable(target.image.as_deref().unwrap_or("IMAGE"));
            Err(Failure::refused(format!(
                "the image of #{} ({reference}, {}) is no longer on this host",
                target.id,
                short_id(image_id)
            ))
            .hint(format!(
                "redeploy from source: `temps deploy {} --image {reference}{}` (after building or pulling it)",
                plan.project.name,
                env_flag(&plan.environment)
            ))
            .into())
        }
    }
}

/// Swarm mode: the target's repository digest, recorded at deploy time, must still be in
/// the registry every node pulls from; the tag is never resolved again.
async fn check_digest(engine: &Engine, plan: &Plan) -> Result<ImageFacts> {
    let target = &plan.target;
    let digest = target.image_id.as_deref().unwrap_or_default();
    let found = match digest {
        "" => Err("no digest was recorded".to_string()),
        digest => swap::swarm::in_registry(engine, digest).await?,
    };
    if gate_allows(plan, found.is_ok()) {
        return swap::swarm::image_at(engine, digest, None).await;
    }
    let why = printable(&found.err().unwrap_or_default()).into_owned();
    let reference = printable(target.image.as_deref().unwrap_or("IMAGE"));
    Err(Failure::refused(format!(
        "the image of #{} ({reference}, {}) is no longer in its registry: {why}",
        target.id,
        short_id(digest)
    ))
    .hint(format!(
        "redeploy from source: `temps deploy {} --image {reference}{}` (after pushing it again)",
        plan.project.name,
        env_flag(&plan.environment)
    ))
    .into())
}

/// The gate's word once the image or release has been looked for.
/// Asked only of a target that is not the current deployment.
fn gate_allows(plan: &Plan, present: bool) -> bool {
    let facts = Facts {
        is_current: false,
        present: Some(present),
        database: plan.database.as_ref(),
        accept_schema: plan.accept_schema,
    };
    gate::decide(plan.kind, &plan.target, facts).is_ok()
}

fn env_flag(env: &Environment) -> String {
    if env.name == "production" {
        String::new()
    } else {
        format!(" --environment {}", env.name)
    }
}

fn changed_variables(
    now: &std::collections::BTreeMap<String, String>,
    target: &Deployment,
) -> Vec<String> {
    let then = &target.variables_digest;
    let mut names: Vec<String> = now
        .iter()
        .filter(|(k, v)| then.get(*k) != Some(&digest(k, v)))
        .map(|(k, _)| k.clone())
        .chain(then.keys().filter(|k| !now.contains_key(*k)).cloned())
        .collect();
    names.sort();
    names
}

/// A rollback or promote as asked, its target resolved: validated under the lock.
struct Asked<'p> {
    kind: Kind,
    target_id: i64,
    project: Project,
    environment: String,
    /// `rollback 41`, for whoever finds the environment busy.
    command: String,
    reason: Option<String>,
    created_by: String,
    wait_lock: Option<Duration>,
    health_timeout: Option<Duration>,
    keep_replaced_warm: bool,
    accept_schema: bool,
    prompt: &'p dyn Prompt,
}

impl<'p> Operation for Asked<'p> {
    type Planned = Validated<'p>;

    fn place(&self) -> Place<'_> {
        Place {
            project: &self.project,
            environment: &self.environment,
            command: &self.command,
            user: &self.created_by,
            wait: self.wait_lock,
        }
    }

    async fn plan(self, store: &Store, progress: &dyn Progress) -> Result<Validated<'p>> {
        progress.stage(Stage::Validate);
        let plan = plan(store, self.kind, self.target_id, self.accept_schema).await?;
        Ok(Validated {
            was: plan.environment.state,
            plan,
            asked: self,
            confirmed: Instant::now(),
        })
    }
}

/// A validated rollback or promote, with what was asked of it beyond its target.
struct Validated<'p> {
    plan: Plan,
    asked: Asked<'p>,
    /// The environment's state when validated.
    was: EnvState,
    /// When it was confirmed: what `took` counts from.
    confirmed: Instant,
}

impl Planned for Validated<'_> {
    type Done = Outcome;

    fn project(&self) -> &Project {
        &self.plan.project
    }

    fn action(&self) -> &'static str {
        self.plan.kind.noun()
    }

    fn confirm(&mut self, progress: &dyn Progress) -> Result<bool> {
        if !self.plan.only_clears_state() {
            progress.stage(Stage::Confirm);
            if !self.asked.prompt.confirm(&self.plan)? {
                return Ok(false);
            }
        }
        self.confirmed = Instant::now();
        Ok(true)
    }

    fn engine(&self) -> Option<&Engine> {
        self.plan.engine()
    }

    fn settle(&mut self, store: &mut Store) -> Result<Option<Outcome>> {
        if !self.plan.only_clears_state() {
            return Ok(None);
        }
        let target = &self.plan.target;
        store.set_state(target.environment_id, EnvState::Normal)?;
        Ok(Some(Outcome::StateCleared {
            deployment: store.expect_deployment(target.id)?,
            was: self.was,
        }))
    }

    fn hook_env(&self) -> HookEnv {
        let (plan, asked) = (&self.plan, &self.asked);
        let (kind, target) = (plan.kind, &plan.target);
        HookEnv {
            project: plan.project.name.clone(),
            environment: target.environment.clone(),
            image: target.image.clone().or_else(|| target.artifact.clone()),
            rolled_back_from_id: (kind == Kind::Rollback)
                .then(|| plan.current.as_ref().map(|c| c.id))
                .flatten(),
            rolled_back_to_id: (kind == Kind::Rollback).then_some(target.id),
            promoted_id: (kind == Kind::Promote).then_some(target.id),
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
        let (plan, asked) = (&self.plan, &self.asked);
        let (kind, target) = (plan.kind, &plan.target);
        let recorded = store.record(plan.project.id, &target.environment, |env| {
            if env.current_deployment_id == Some(target.id) && kind == Kind::Rollback {
                return Err(
                    Failure::refused(format!("#{} started serving meanwhile", target.id))
                        .hint(
                            "`temps status` shows what serves now; roll back to another deployment",
                        )
                        .into(),
                );
            }
            Ok(NewDeployment {
                project_id: plan.project.id,
                environment_id: env.id,
                image: target.image.clone(),
                image_id: target.image_id.clone(),
                // The spec records a rollback or promote as deploying from the start.
                status: Status::Deploying,
                origin: match kind {
                    Kind::Rollback => Origin::Rollback {
                        from: env.current_deployment_id,
                        to: Some(target.id),
                    },
                    Kind::Promote => Origin::Promote {
                        of: Some(target.id),
                    },
                },
                created_by: asked.created_by.clone(),
                reason: asked.reason.clone(),
                // It runs the target's release: the schema it declared.
                schema: target.schema.clone(),
                schema_accepted_by: gate::below_floor(target, plan.database.as_ref())
                    .map(|_| asked.created_by.clone()),
            })
        })?;
        hook_env.deployment_id = Some(recorded.0.id);
        Ok(recorded)
    }

    async fn switch(
        self,
        store: &mut Store,
        deployment: Deployment,
        env: Environment,
        progress: &dyn Progress,
    ) -> Result<Outcome> {
        let Validated {
            mut plan,
            asked,
            confirmed,
            ..
        } = self;
        let state_after = match plan.kind {
            Kind::Rollback => EnvState::RolledBack,
            Kind::Promote => EnvState::Normal,
        };
        // What serves was read when the plan was made, under this same lock.
        let previous = match (env.current_deployment_id, plan.current.take()) {
            (Some(id), Some(current)) if current.id == id => Some(current),
            (Some(id), _) => store.deployment(id)?,
            (None, _) => None,
        };
        progress.stage(Stage::Switch);
        let (engine, image, standby) = match plan.switch {
            Switch::Docker { engine, image } => (engine, image, None),
            Switch::Warm {
                engine,
                image,
                standby,
            } => (engine, image, Some(standby)),
            Switch::Static { ref release } => {
                let deployment = point_release(
                    store,
                    &plan,
                    &deployment,
                    &env,
                    release,
                    state_after,
                    progress,
                )?;
                return Ok(Outcome::Switched {
                    deployment,
                    took: confirmed.elapsed(),
                });
            }
            Switch::ClearState => unreachable!("settled before anything is recorded"),
        };
        let (proxy_mode, swarm_mode) = (ProxyMode::of(&env), SwarmMode::of(&env));
        let strategy = match (&swarm_mode, &proxy_mode, &standby) {
            (Some(mode), _, _) => Strategy::Swarm(mode),
            (None, Some(mode), Some(standby)) => Strategy::Warm { mode, standby },
            (None, Some(mode), None) => Strategy::StartFirst(mode),
            (None, None, _) => Strategy::StopFirst,
        };
        // The warm path starts nothing from the image: it stays pinned by the tag of the
        // deployment that made the warm containers (which prune keeps while a kept
        // deployment serves from them). Tagging takes the engine tens of milliseconds,
        // as long as the rest of the warm switch; the cold path, and a fallback to it,
        // pins as always (in swarm mode the registry holds the image, by digest).
        if matches!(strategy, Strategy::StopFirst | Strategy::StartFirst(_)) {
            swap::pin(&engine, store, &plan.project, &deployment, &image).await?;
        }
        let swap = Swap {
            project: &plan.project,
            environment: &env,
            deployment,
            image: &image,
            previous,
            publish: env.publish.as_ref(),
            strategy,
            health_timeout: asked.health_timeout.unwrap_or(plan.project.health_timeout),
            state_after,
            keep_replaced_warm: asked.keep_replaced_warm,
        };
        Ok(Outcome::Switched {
            deployment: swap::run(&engine, store, swap, progress).await?,
            took: confirmed.elapsed(),
        })
    }
}

/// The static preset: point the environment at the target's release folder.
fn point_release(
    store: &mut Store,
    plan: &Plan,
    deployment: &Deployment,
    env: &Environment,
    release: &Path,
    state_after: EnvState,
    progress: &dyn Progress,
) -> Result<Deployment> {
    store.set_artifact(deployment.id, &release.to_string_lossy())?;
    progress.recorded(&store.expect_deployment(deployment.id)?);
    progress.step(&format!(
        "pointing {} at release #{}",
        env.name, plan.target.id
    ));
    let root = store.static_root();
    if let Err(err) = release::point(&root, &plan.project.name, &env.name, release) {
        store.finish_unsuccessful(deployment.id, Status::Failed, &format!("{err:#}"))?;
        return Err(err);
    }
    store.route(deployment.id, env.id, state_after, None)
}

/// Where an operation asks its questions: a terminal answers them, `--yes` answers yes,
/// no terminal refuses, and an HTTP request answers by having asked first.
pub trait Prompt {
    /// Which deployment a rollback with no id goes back to; `choice.most_recent()` is
    /// the gate's answer when nobody is asked.
    fn choose(&self, choice: &Choice<'_>) -> Result<i64>;
    /// Whether to carry out `plan`; `false` when declined.
    fn confirm(&self, plan: &Plan) -> Result<bool>;
}

/// `--yes`: the most recent valid target, and yes.
pub struct AssumeYes;

impl Prompt for AssumeYes {
    fn choose(&self, choice: &Choice<'_>) -> Result<i64> {
        choice.most_recent()
    }

    fn confirm(&self, _plan: &Plan) -> Result<bool> {
        Ok(true)
    }
}

/// Nobody to ask (no terminal, no `--yes`): the most recent valid target, but no
/// confirmation, so nothing changes.
pub struct NobodyToAsk;

impl Prompt for NobodyToAsk {
    fn choose(&self, choice: &Choice<'_>) -> Result<i64> {
        choice.most_recent()
    }

    fn confirm(&self, plan: &Plan) -> Result<bool> {
        Err(Failure::usage(format!(
            "the {} needs confirmation, and there is no terminal to ask on",
            plan.kind.noun()
        ))
        .hint("pass `--yes` to confirm (and `--dry-run` first to see the plan)")
        .into())
    }
}

/// Which deployment to go back to.
#[derive(Debug, Clone)]
pub enum Target {
    /// This one, by id.
    Id(i64),
    /// This one, whose project and environment the caller has looked up already (the
    /// API, to check a token's scope): they are not looked up again. The record itself
    /// is read again under the environment's lock, to be validated as it is then.
    Found {
        id: i64,
        project: Box<Project>,
        environment: String,
    },
    /// The gate's most recent valid target of an environment (a terminal may pick).
    MostRecent {
        project: String,
        environment: String,
    },
}

/// A rollback or promote, as any entry point asks for it.
pub struct Request {
    pub kind: Kind,
    pub target: Target,
    pub reason: Option<String>,
    pub created_by: String,
    /// How long to wait for the environment's lock (`--wait-lock`).
    pub wait_lock: Option<Duration>,
    /// Instead of the project's health timeout.
    pub health_timeout: Option<Duration>,
    /// Proxy mode: the deployment this one replaces stays warm for the environment's
    /// `--standby`; `false` (the watch's automatic rollback) lets it only finish its
    /// requests, then stops it: a version that went bad is no standby.
    pub keep_replaced_warm: bool,
    /// A person ran the down migrations and accepts a target below the database's
    /// floor (`--accept-schema`); recorded with their name.
    pub accept_schema: bool,
}

/// How a rollback or promote ended well.
pub enum Outcome {
    /// The new deployment serves; `took` counts from the confirmation.
    Switched {
        deployment: Deployment,
        took: Duration,
    },
    /// A promote of what serves already: only the state changed, from `was`.
    StateCleared {
        deployment: Deployment,
        was: EnvState,
    },
}

/// The deployment `target` names, asking `prompt` when it names none.
pub fn resolve(store: &Store, target: &Target, prompt: &dyn Prompt) -> Result<i64> {
    match target {
        Target::Id(id) | Target::Found { id, .. } => Ok(*id),
        Target::MostRecent {
            project,
            environment,
        } => {
            let (_, candidates) = rollback_candidates(store, project, environment)?;
            if candidates.is_empty() {
                return Err(Failure::refused(format!(
                    "{project}/{environment} has no earlier deployment to roll back to"
                ))
                .hint(format!("`temps list {project}` shows its history"))
                .into());
            }
            prompt.choose(&gate::Choice {
                project,
                environment,
                candidates: &candidates,
            })
        }
    }
}

/// Validate only (`--dry-run`): the plan, with nothing locked or written.
pub async fn dry_run(
    store: &Store,
    kind: Kind,
    target: &Target,
    accept_schema: bool,
    prompt: &dyn Prompt,
) -> Result<Plan> {
    let id = resolve(store, target, prompt)?;
    plan(store, kind, id, accept_schema).await
}

/// The whole rollback or promote: resolve the target, then lock its environment,
/// validate, confirm, reconcile, record, switch and run the hooks through the pipeline.
/// What was confirmed is what runs: the lock is held from before the validation to the
/// end.
pub async fn run(
    store: &mut Store,
    request: Request,
    prompt: &dyn Prompt,
    progress: &dyn Progress,
) -> Result<Outcome> {
    let Request {
        kind,
        target,
        reason,
        created_by,
        wait_lock,
        health_timeout,
        keep_replaced_warm,
        accept_schema,
    } = request;
    let reason = clean_reason(reason)?;
    let target_id = resolve(store, &target, prompt)?;
    let (project, environment) = match target {
        Target::Found {
            project,
            environment,
            ..
        } => (*project, environment),
        _ => locate(store, target_id)?,
    };
    let asked = Asked {
        kind,
        target_id,
        project,
        environment,
        command: format!("{} {target_id}", kind.noun()),
        reason,
        created_by,
        wait_lock,
        health_timeout,
        keep_replaced_warm,
        accept_schema,
        prompt,
    };
    pipeline::run(store, asked, progress).await
}

impl hooks::Outcome for Outcome {
    fn outcome(&self) -> &'static str {
        "deployed"
    }
}
