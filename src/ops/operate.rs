//! One call per entry point: an operation (deploy, rollback, promote) through the
//! pipeline, then its watch window. The command line and `temps serve` each call
//! [`run`] once; what differs between them (a spinner and lines on a terminal, frames
//! of an event stream) is their [`Caller`]. The watch's own automatic rollback runs the
//! pipeline alone (`redeploy::run`): a rollback is not watched in turn.

use std::time::Duration;

use anyhow::Result;

use crate::ops::deploy::folder::{deploy_dir, DirRequest};
use crate::ops::deploy::{deploy_image, DeployOutcome, DeployRequest};
use crate::ops::redeploy::{self, Prompt, Target};
use crate::ops::swap::Signals;
use crate::ops::watch::{self, Watch, WatchOutcome};
use crate::progress::{Progress, Stage};
use crate::store::{Deployment, Status, Store};

/// An operation, as any entry point asks for it.
pub enum Request {
    /// Deploy an image.
    Deploy(Box<DeployRequest>),
    /// Deploy a folder (the static preset).
    Dir(DirRequest),
    /// Roll back, or promote.
    Redeploy(redeploy::Request),
}

/// How the operation itself ended well.
pub enum Ended {
    Deploy(DeployOutcome),
    Redeploy(redeploy::Outcome),
}

impl Ended {
    /// The deployment it switched to, when it switched (not a deploy recorded `ready`,
    /// nor a promote that only cleared the state).
    pub fn switched(&self) -> Option<&Deployment> {
        match self {
            Ended::Deploy(DeployOutcome::Serving(d))
            | Ended::Redeploy(redeploy::Outcome::Switched { deployment: d, .. }) => Some(d),
            _ => None,
        }
    }

    /// Its deployment, as the operation left it.
    pub fn deployment(&self) -> &Deployment {
        match self {
            Ended::Deploy(DeployOutcome::Serving(d) | DeployOutcome::Ready(d))
            | Ended::Redeploy(
                redeploy::Outcome::Switched { deployment: d, .. }
                | redeploy::Outcome::StateCleared { deployment: d, .. },
            ) => d,
        }
    }
}

/// An operation and its watch, ended well.
pub struct Operated {
    pub ended: Ended,
    /// What served before the operation began.
    pub before: Option<i64>,
    /// How the watch ended, when there was one (a watch that rolled back ends the call
    /// with its error instead).
    pub watched: Option<Watched>,
    /// The operation's deployment as it stands at the end (after the watch).
    pub deployment: Deployment,
}

/// A watch window that ended without rolling back.
pub struct Watched {
    pub outcome: WatchOutcome,
    pub window: Duration,
}

/// What an entry point does between the operation and its watch.
pub trait Caller {
    /// The operation ended well; the watch has not begun (the command line says so now).
    /// `before`: what served before it began.
    fn operated(&self, _store: &Store, _ended: &Ended, _before: Option<i64>) -> Result<()> {
        Ok(())
    }

    /// Where what is said before a watch begins goes (`#3 is not watched: …`).
    fn before_watch(&self) -> &dyn Progress;

    /// The watch of `watch` begins (Ctrl-C now stops the watch): the progress its steps
    /// go to, for as long as it lasts.
    fn watching<'a>(&'a self, watch: &Watch) -> Box<dyn Progress + 'a>;
}

/// Run `request` through the pipeline, then watch what it switched to for `window`
/// (`None`: the project's). A watch that rolls back ends with its error (exit 5,
/// `health_failed`) carrying the watched deployment's record.
pub async fn run(
    store: &mut Store,
    request: Request,
    window: Option<Duration>,
    prompt: &dyn Prompt,
    progress: &dyn Progress,
    caller: &dyn Caller,
) -> Result<Operated> {
    let before = serving_before(store, &request);
    let created_by = match &request {
        Request::Deploy(r) => r.created_by.clone(),
        Request::Dir(r) => r.created_by.clone(),
        Request::Redeploy(r) => r.created_by.clone(),
    };
    let ended = match request {
        Request::Deploy(request) => Ended::Deploy(deploy_image(store, *request, progress).await?),
        Request::Dir(request) => Ended::Deploy(deploy_dir(store, request, progress).await?),
        Request::Redeploy(request) => {
            Ended::Redeploy(redeploy::run(store, request, prompt, progress).await?)
        }
    };
    caller.operated(store, &ended, before)?;
    let mut watched = None;
    if let Some(switched) = ended.switched() {
        let window = watch::window(window, &store.project(&switched.project)?);
        if let Some(outcome) =
            watch_after(store, switched, before, window, &created_by, caller).await?
        {
            watched = Some(Watched { outcome, window });
        }
    }
    let deployment = store.expect_deployment(ended.deployment().id)?;
    Ok(Operated {
        ended,
        before,
        watched,
        deployment,
    })
}

/// What serves the environment an operation is about, read before it begins: a
/// deploy's or a promote's watch goes back to it (a rollback's goes back to what it
/// rolled back from, which its record names).
fn serving_before(store: &Store, request: &Request) -> Option<i64> {
    let (project, environment) = match request {
        Request::Deploy(r) => (r.project.clone(), r.environment.clone()),
        Request::Dir(r) => (r.project.clone(), r.environment.clone()),
        Request::Redeploy(r) => match &r.target {
            Target::Id(id) => redeploy::locate(store, *id)
                .ok()
                .map(|(project, environment)| (project.name, environment))?,
            Target::Found {
                project,
                environment,
                ..
            } => (project.name.clone(), environment.clone()),
            Target::MostRecent {
                project,
                environment,
            } => (project.clone(), environment.clone()),
        },
    };
    watch::serving_now(store, &project, &environment)
        .ok()
        .flatten()
}

/// The watch window after a switch; `None` when there is none (no window, or nothing
/// to go back to).
async fn watch_after(
    store: &mut Store,
    switched: &Deployment,
    before: Option<i64>,
    window: Duration,
    created_by: &str,
    caller: &dyn Caller,
) -> Result<Option<WatchOutcome>> {
    if window.is_zero() || switched.status != Status::Deployed {
        return Ok(None);
    }
    let said = caller.before_watch();
    said.stage(Stage::Watch);
    let Some(planned) = watch::after_switch(store, switched, before, window, created_by, said)?
    else {
        return Ok(None);
    };
    // Ctrl-C stops the watch from the moment the caller says it has begun.
    let interrupts = Signals::new()?;
    let progress = caller.watching(&planned);
    let outcome = watch::run_caught(store, planned, interrupts, progress.as_ref()).await?;
    drop(progress);
    match outcome {
        WatchOutcome::RolledBack {
            watched,
            rollback,
            signal,
        } => Err(watch::rolled_back_failure(&watched, &rollback, &signal).into()),
        outcome => Ok(Some(outcome)),
    }
}
