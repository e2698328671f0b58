//! The watch window after deploy, rollback and promote: run `ops::watch` with a spinner
//! and say how it ended. Shared by the three commands.

use std::time::Duration;

use anyhow::Result;

use super::Context;
use crate::clock::format_duration;
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
    let spinner = ctx.out.progress(&format!("watching #{}", deployment.id));
    let user = crate::ops::current_user();
    let outcome = watch::after_switch(store, &deployment, before, window, &user, &spinner).await?;
    spinner.finish();
    let id = deployment.id;
    match outcome {
        None => return Ok(deployment),
        Some(WatchOutcome::Quiet(tally)) => ctx.out.note(format!(
            "watched #{id} for {}: no signal{}",
            format_duration(window),
            counts(tally)
        )),
        Some(WatchOutcome::Interrupted(tally)) => ctx.out.warn(format!(
            "stopped watching #{id}{}: it keeps serving, and nothing rolls it back by itself now",
            counts(tally)
        )),
        Some(WatchOutcome::Superseded { serving }) => ctx.out.warn(format!(
            "the watch of #{id} ended: another operation changed what serves ({}); nothing was done by the watch",
            serving.map_or("nothing".into(), |s| format!("#{s} serves now"))
        )),
        Some(WatchOutcome::RolledBack {
            watched,
            rollback,
            signal,
        }) => return Err(watch::rolled_back_failure(&watched, &rollback, &signal).into()),
    }
    store.expect_deployment(id)
}

fn counts(tally: Option<Tally>) -> String {
    tally.map_or(String::new(), |t| {
        format!(" ({} requests, {} errors)", t.requests, t.errors)
    })
}
