//! The one skeleton every change of an environment runs: deploy (an image or a folder),
//! rollback and promote.
//!
//! ```text
//! lock → validate → confirm → reconcile → pre-hook → record → switch → post-hook → unlock
//! ```
//!
//! An operation says what it does at each stage through two traits: [`Operation`] (what
//! is asked, and how it is validated under the lock) and [`Planned`] (what was validated:
//! how it is confirmed, recorded and switched). The skeleton owns the order, the lock,
//! the reconciliation of what an interrupted operation left, and the hooks around the
//! record and the switch; nothing is written before the confirmation, and the lock is
//! released (and its progress told so) on every way out.

pub mod drift;
pub mod hooks;
pub mod lock;
pub mod recover;
#[cfg(test)]
mod tests;

use std::time::Duration;

use anyhow::Result;

use crate::docker::Engine;
use crate::error::Failure;
use crate::ops::pipeline::lock::{hold_environment, Asker};
use crate::ops::pipeline::recover::recover;
use crate::progress::{Progress, Stage};
use crate::store::{Deployment, Environment, Project, Store};
use hooks::HookEnv;

/// Where an operation runs and who asks, for the environment's lock.
pub struct Place<'a> {
    pub project: &'a Project,
    pub environment: &'a str,
    /// The command, like `rollback 41`, for whoever finds the environment busy.
    pub command: &'a str,
    /// Whom the history records as `created_by`.
    pub user: &'a str,
    /// `--wait-lock`; `None` answers busy at once.
    pub wait: Option<Duration>,
}

/// What an entry point asks, before the lock: it knows its place and how to validate.
// The operations run on a runtime of their own thread (the command line's, or one per
// operation of `temps serve`): their futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Operation: Sized {
    type Planned: Planned;

    /// Where it runs, for the lock.
    fn place(&self) -> Place<'_>;

    /// Under the lock, before anything changes: check that the operation can work. An
    /// operation validated before the lock (a deploy, which may pull an image first and
    /// must not hold the environment meanwhile) hands its plan on.
    async fn plan(self, store: &Store, progress: &dyn Progress) -> Result<Self::Planned>;
}

/// A validated operation: what it changes, once confirmed.
#[allow(async_fn_in_trait)]
pub trait Planned: Sized {
    /// How it ends well.
    type Done: hooks::Outcome;

    /// The project whose hooks run.
    fn project(&self) -> &Project;

    /// The hooks' action: `deploy`, `rollback` or `promote`.
    fn action(&self) -> &'static str;

    /// Whether whoever started it confirms (`Ok(false)`: declined, nothing changes); a
    /// deploy asks nobody.
    fn confirm(&mut self, _progress: &dyn Progress) -> Result<bool> {
        Ok(true)
    }

    /// The engine validation reached, for the reconciliation (none: no Docker involved).
    fn engine(&self) -> Option<&Engine>;

    /// An operation that changes only the environment's state (a promote of what serves
    /// already) ends here: no hook runs and nothing is recorded.
    fn settle(&mut self, _store: &mut Store) -> Result<Option<Self::Done>> {
        Ok(None)
    }

    /// What the hooks are told before anything is recorded.
    fn hook_env(&self) -> HookEnv;

    /// Write the new deployment (and what it brings: an image pinned, a release
    /// folder); the hooks learn what was recorded through `hook_env`.
    async fn record(
        &mut self,
        store: &mut Store,
        hook_env: &mut HookEnv,
    ) -> Result<(Deployment, Environment)>;

    /// Make the recorded deployment serve (the `switch` stage is the operation's to
    /// announce: a deploy recorded `ready` switches nothing).
    async fn switch(
        self,
        store: &mut Store,
        recorded: Deployment,
        environment: Environment,
        progress: &dyn Progress,
    ) -> Result<Self::Done>;
}

/// Run `operation` through the skeleton.
pub async fn run<O: Operation>(
    store: &mut Store,
    operation: O,
    progress: &dyn Progress,
) -> Result<<O::Planned as Planned>::Done> {
    let place = operation.place();
    let project = place.project.clone();
    let environment = place.environment.to_string();
    let (command, user) = (place.command.to_string(), place.user.to_string());
    let asker = Asker {
        command: &command,
        user: &user,
        wait: place.wait,
    };
    let lock = hold_environment(store, &project, &environment, &asker, progress)?;
    let mut planned = operation.plan(store, progress).await?;
    if !planned.confirm(progress)? {
        return Err(not_confirmed(planned.action(), &command));
    }
    // Before anything else changes, recover what an interrupted operation left in the
    // environment (a refused or declined operation writes nothing).
    progress.stage(Stage::Reconcile);
    recover(store, planned.engine(), &project, &environment, progress).await?;
    if let Some(done) = planned.settle(store)? {
        drop(lock);
        return Ok(done);
    }
    let done = carry_out(store, planned, progress).await;
    drop(lock);
    done
}

/// pre-hook → record → switch → post-hook: the post hook runs whatever the record and
/// the switch did, and is told how they ended.
async fn carry_out<P: Planned>(
    store: &mut Store,
    mut planned: P,
    progress: &dyn Progress,
) -> Result<P::Done> {
    let project = planned.project().clone();
    let action = planned.action();
    let mut hook_env = planned.hook_env();
    progress.stage(Stage::PreHook);
    hooks::pre(&project, action, &hook_env, progress)?;
    let result = async {
        progress.stage(Stage::Record);
        let (recorded, environment) = planned.record(store, &mut hook_env).await?;
        planned.switch(store, recorded, environment, progress).await
    }
    .await;
    progress.stage(Stage::PostHook);
    hooks::post(&project, action, &hook_env, result, progress)
}

/// A declined confirmation: nothing was changed.
fn not_confirmed(action: &str, command: &str) -> anyhow::Error {
    Failure::usage(format!("{action} not confirmed; nothing was changed"))
        .hint(format!("`temps {command} --dry-run` shows the plan again"))
        .into()
}
