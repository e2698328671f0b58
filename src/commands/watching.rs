//! The terminal's part in an operation with its watch window (`ops::operate`): the
//! operation's spinner steps aside for what the command says once it has switched, the
//! watch gets a spinner of its own, and how the watch ended is said. Shared by deploy,
//! rollback and promote.

use anyhow::Result;

use super::Context;
use crate::clock::format_duration;
use crate::ops::operate::{Caller, Ended, Operated};
use crate::ops::watch::{self, Tally, Watch, WatchOutcome};
use crate::output::Spinner;
use crate::progress::Progress;
use crate::store::Store;

/// What a command says once its operation ended well, before any watch.
pub type Say<'a> = dyn Fn(&Store, &Ended, Option<i64>) -> Result<()> + 'a;

/// A terminal as the caller of an operation.
pub struct Watcher<'a> {
    ctx: &'a Context<'a>,
    /// The operation's spinner.
    spinner: &'a Spinner,
    /// No spinner until there is a watch to show: warnings only.
    quiet: Spinner,
    say: &'a Say<'a>,
}

impl<'a> Watcher<'a> {
    pub fn new(ctx: &'a Context<'a>, spinner: &'a Spinner, say: &'a Say<'a>) -> Watcher<'a> {
        Watcher {
            ctx,
            spinner,
            quiet: ctx.out.no_progress(),
            say,
        }
    }
}

impl Caller for Watcher<'_> {
    fn operated(&self, store: &Store, ended: &Ended, before: Option<i64>) -> Result<()> {
        self.spinner.finish();
        (self.say)(store, ended, before)
    }

    fn before_watch(&self) -> &dyn Progress {
        &self.quiet
    }

    fn watching<'b>(&'b self, watch: &Watch) -> Box<dyn Progress + 'b> {
        let id = watch.deployment.id;
        self.ctx.out.note(format!(
            "watching #{id} for {}: it is rolled back to #{} if it goes bad; Ctrl-C stops watching and leaves it serving",
            format_duration(watch.window),
            watch.previous
        ));
        // The steps name the deployment themselves: the spinner has no title of its own.
        Box::new(
            self.ctx
                .out
                .progress_of_steps(&watch::spinner_text(id, watch.window, None)),
        )
    }
}

/// Say how the watch ended (a watch that rolled back ended the operation with its
/// error), and, with `-o json`, print the record as it stands now.
pub fn said_at_the_end(ctx: &Context, operated: &Operated) -> Result<()> {
    let id = operated.deployment.id;
    if let Some(watched) = &operated.watched {
        match &watched.outcome {
            WatchOutcome::Quiet(tally) => ctx.out.note(format!(
                "watched #{id} for {}: no signal{}",
                format_duration(watched.window),
                counts(*tally)
            )),
            WatchOutcome::Interrupted(tally) => ctx.out.warn(format!(
                "stopped watching #{id}{}: it keeps serving, and nothing rolls it back by itself now",
                counts(*tally)
            )),
            WatchOutcome::Superseded { serving } => ctx.out.warn(format!(
                "the watch of #{id} ended: another operation changed what serves ({}); nothing was done by the watch",
                serving.map_or("nothing".into(), |s| format!("#{s} serves now"))
            )),
            WatchOutcome::RolledBack { .. } => {}
        }
    }
    if ctx.out.is_json() {
        return ctx.out.json(&operated.deployment);
    }
    Ok(())
}

fn counts(tally: Option<Tally>) -> String {
    tally.map_or(String::new(), |t| {
        format!(" ({} requests, {} errors)", t.requests, t.errors)
    })
}
