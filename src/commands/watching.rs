//! The watch window after deploy, rollback and promote: run `ops::watch` with a spinner
//! and say how it ended. Shared by the three commands.

use std::time::Duration;

use anyhow::Result;

use super::Context;
use crate::clock::format_duration;
use crate::ops::swap::Signals;
use crate::ops::watch::{self, Tally, WatchOutcome};
use crate::store::{Deployment, Store};

/// Watch `deployment` (which an operation has just switched to) for `window`. Returns
/// the record to print; a rollback the watch made is an error (exit 5) carrying the
/// watched deployment's record.
pub async fn watch_after(
    ctx: &Context<'_>,
    store: &mut Store,
    deployment: Deployment,
    before: Option<i64>,
    window: Duration,
) -> Result<Deployment> {
    let user = crate::ops::current_user();
    // No spinner until there is a watch to show.
    let planned = watch::after_switch(
        store,
        &deployment,
        before,
        window,
        &user,
        &ctx.out.no_progress(),
    )?;
    let Some(planned) = planned else {
        return Ok(deployment);
    };
    let id = deployment.id;
    // Ctrl-C stops the watch from the moment the line below says so.
    let interrupts = Signals::new()?;
    ctx.out.note(format!(
        "watching #{id} for {}: it is rolled back to #{} if it goes bad; Ctrl-C stops watching and leaves it serving",
        format_duration(window),
        planned.previous
    ));
    // The steps name the deployment themselves: the spinner has no title of its own.
    let spinner = ctx
        .out
        .progress_of_steps(&watch::spinner_text(id, window, None));
    let outcome = watch::run_caught(store, planned, interrupts, &spinner).await?;
    spinner.finish();
    match outcome {
        WatchOutcome::Quiet(tally) => ctx.out.note(format!(
            "watched #{id} for {}: no signal{}",
            format_duration(window),
            counts(tally)
        )),
        WatchOutcome::Interrupted(tally) => ctx.out.warn(format!(
            "stopped watching #{id}{}: it keeps serving, and nothing rolls it back by itself now",
            counts(tally)
        )),
        WatchOutcome::Superseded { serving } => ctx.out.warn(format!(
            "the watch of #{id} ended: another operation changed what serves ({}); nothing was done by the watch",
            serving.map_or("nothing".into(), |s| format!("#{s} serves now"))
        )),
        WatchOutcome::RolledBack {
            watched,
            rollback,
            signal,
        } => return Err(watch::rolled_back_failure(&watched, &rollback, &signal).into()),
    }
    store.expect_deployment(id)
}

fn counts(tally: Option<Tally>) -> String {
    tally.map_or(String::new(), |t| {
        format!(" ({} requests, {} errors)", t.requests, t.errors)
    })
}
