//! One call per entry point: an operation (deploy, rollback, promote) through the
//! pipeline, then its watch window. The command line and `temps serve` each call
//! [`run`] once; what differs between them (a spinner and lines on a terminal, frames
//! of an event stream) is their [`Caller`]. The watch's own automatic rollback runs the
//! pipeline alone (`redeploy::run`): a rollback is not watched in turn.

use std::time::Duration;

use anyhow::Result;

use crate::clock::now_ms;
use crate::error::{failure_of, ExitStatus};
use crate::ops::deploy::folder::{deploy_dir, DirRequest};
use crate::ops::deploy::{deploy_image, DeployOutcome, DeployRequest};
use crate::ops::notify;
use crate::ops::redeploy::{self, Prompt, Target};
use crate::ops::swap::Signals;
use crate::ops::watch::{self, Watch, WatchOutcome};
use crate::progress::{Progress, Stage};
use crate::store::{Deployment, Origin, Status, Store};

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
/// `health_failed`) carrying the watched deployment's record. However it ends, the
/// notification targets are told, here and only here ([`notify::emit`]: at most 2 s,
/// never a failure of the operation).
pub async fn run(
    store: &mut Store,
    request: Request,
    window: Option<Duration>,
    prompt: &dyn Prompt,
    progress: &dyn Progress,
    caller: &dyn Caller,
) -> Result<Operated> {
    let subject = subject(store, &request);
    let before = subject
        .as_ref()
        .and_then(|(project, environment)| watch::serving_now(store, project, environment).ok())
        .flatten();
    let created_by = match &request {
        Request::Deploy(r) => r.created_by.clone(),
        Request::Dir(r) => r.created_by.clone(),
        Request::Redeploy(r) => r.created_by.clone(),
    };
    let mut rolled_back = None;
    let result = operate(
        store,
        request,
        Watching {
            before,
            window,
            created_by: &created_by,
            rolled_back: &mut rolled_back,
        },
        prompt,
        progress,
        caller,
    )
    .await;
    if let Some((project, environment)) = subject {
        let told = Told {
            project,
            environment,
            before,
            by: created_by,
        };
        if let Some(event) = told.event(store, &result, rolled_back) {
            notify::emit(store, &event).await;
        }
    }
    result
}

/// What the watch after an operation needs, and where it leaves an automatic rollback.
struct Watching<'a> {
    before: Option<i64>,
    window: Option<Duration>,
    created_by: &'a str,
    rolled_back: &'a mut Option<RolledBack>,
}

/// An automatic rollback, for its notification.
struct RolledBack {
    watched: Deployment,
    rollback: Deployment,
    signal: String,
}

/// The operation and its watch.
async fn operate(
    store: &mut Store,
    request: Request,
    watching: Watching<'_>,
    prompt: &dyn Prompt,
    progress: &dyn Progress,
    caller: &dyn Caller,
) -> Result<Operated> {
    let before = watching.before;
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
        let window = watch::window(watching.window, &store.project(&switched.project)?);
        if let Some(outcome) = watch_after(
            store,
            switched,
            before,
            window,
            watching.created_by,
            caller,
            watching.rolled_back,
        )
        .await?
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

/// The environment an operation is about, and who to tell how it ended.
struct Told {
    project: String,
    environment: String,
    before: Option<i64>,
    by: String,
}

impl Told {
    /// The event an operation's end is: what it did, an automatic rollback, or a
    /// failure that recorded a deployment or stopped one short (not a refusal, a
    /// usage error or a busy environment: nothing happened then).
    fn event(
        self,
        store: &Store,
        result: &Result<Operated>,
        rolled_back: Option<RolledBack>,
    ) -> Option<notify::Event> {
        let previous = |id: Option<i64>| id.and_then(|id| store.deployment(id).ok().flatten());
        let (kind, deployment, previous, reason) = match (result, rolled_back) {
            (_, Some(r)) => (
                "automatic-rollback",
                Some(r.rollback),
                Some(r.watched),
                Some(r.signal),
            ),
            (Ok(operated), None) => {
                let d = operated.deployment.clone();
                let kind = match d.origin {
                    Origin::Deploy => "deploy",
                    Origin::Rollback { .. } => "rollback",
                    Origin::Promote { .. } => "promote",
                };
                let reason = d.reason.clone();
                (kind, Some(d), previous(self.before), reason)
            }
            (Err(err), None) => {
                let failure = failure_of(err);
                let status = failure.map_or(ExitStatus::Unexpected, |f| f.status);
                let recorded = failure
                    .and_then(|f| f.document.as_ref())
                    .and_then(|d| d.get("id"))
                    .and_then(serde_json::Value::as_i64)
                    .and_then(|id| store.deployment(id).ok().flatten());
                let happened = recorded.is_some()
                    || matches!(
                        status,
                        ExitStatus::Unexpected
                            | ExitStatus::HealthFailed
                            | ExitStatus::DockerUnreachable
                            | ExitStatus::Interrupted
                    );
                if !happened {
                    return None;
                }
                let reason = failure.map_or_else(|| format!("{err:#}"), |f| f.message.clone());
                ("failed", recorded, previous(self.before), Some(reason))
            }
        };
        Some(notify::Event {
            kind,
            project: self.project,
            environment: self.environment,
            deployment,
            previous,
            reason,
            by: self.by,
            at: now_ms(),
        })
    }
}

/// The project and environment an operation is about, read before it begins; what
/// serves there then is what a deploy's or a promote's watch goes back to (a
/// rollback's goes back to what it rolled back from, which its record names).
fn subject(store: &Store, request: &Request) -> Option<(String, String)> {
    match request {
        Request::Deploy(r) => Some((r.project.clone(), r.environment.clone())),
        Request::Dir(r) => Some((r.project.clone(), r.environment.clone())),
        Request::Redeploy(r) => match &r.target {
            Target::Id(id) => redeploy::locate(store, *id)
                .ok()
                .map(|(project, environment)| (project.name, environment)),
            Target::Found {
                project,
                environment,
                ..
            } => Some((project.name.clone(), environment.clone())),
            Target::MostRecent {
                project,
                environment,
            } => Some((project.clone(), environment.clone())),
        },
    }
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
    rolled_back: &mut Option<RolledBack>,
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
        } => {
            let failure = watch::rolled_back_failure(&watched, &rollback, &signal);
            *rolled_back = Some(RolledBack {
                watched: *watched,
                rollback: *rollback,
                signal: signal.to_string(),
            });
            Err(failure.into())
        }
        outcome => Ok(Some(outcome)),
    }
}
