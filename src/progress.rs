//! What an operation says as it goes: a stream of [`Event`]s through [`Progress`], which
//! the terminal's spinner, the API's event stream and the tests each render their way.
//! The operations (`ops`), the health checks and the proxy's standby sweep report here;
//! nothing here knows who listens.

use crate::store::Deployment;

/// Where an operation says what it is doing: a stream of [`Event`]s that a terminal's
/// spinner renders, a test records, and an event stream can carry (with the time since
/// it began, which the sink keeps).
pub trait Progress {
    /// Something happened.
    fn event(&self, event: Event<'_>);
    /// Something the user should know that does not stop the operation.
    fn warn(&self, message: &str);
    /// The operation's deployment is recorded, as it stands when its switch begins
    /// (`deploying`, or `ready` while the environment is rolled back): from here on it
    /// has an id that its progress and its end can be asked about.
    fn recorded(&self, _deployment: &Deployment) {}

    /// A new step: `stopping temps-web-production-43`.
    fn step(&self, message: &str) {
        self.event(Event::Step(message));
    }
    /// The operation enters a stage of its pipeline.
    fn stage(&self, stage: Stage) {
        self.event(Event::Stage(stage));
    }
}

/// What an operation reports as it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// It enters a stage of its pipeline.
    Stage(Stage),
    /// A step within the stage, in words.
    Step(&'a str),
}

/// The stages every change of an environment goes through, in this order (a stage an
/// operation does not need is skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Taking the environment's lock.
    Lock,
    /// Checking, before anything changes, that the operation can work.
    Validate,
    /// Asking whoever started it (a terminal, or an HTTP request that asked first).
    Confirm,
    /// Putting right what an interrupted operation left.
    Reconcile,
    /// The `pre-` hook.
    PreHook,
    /// Writing the new deployment.
    Record,
    /// Switching what serves.
    Switch,
    /// The `post-` hook.
    PostHook,
    /// The lock is released; the operation is over.
    Unlock,
    /// The watch window after a switch (no lock held).
    Watch,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Lock => "lock",
            Stage::Validate => "validate",
            Stage::Confirm => "confirm",
            Stage::Reconcile => "reconcile",
            Stage::PreHook => "pre-hook",
            Stage::Record => "record",
            Stage::Switch => "switch",
            Stage::PostHook => "post-hook",
            Stage::Unlock => "unlock",
            Stage::Watch => "watch",
        }
    }
}
