//! `temps rollback` and `temps promote`: validate, show the plan, confirm, swap.

use std::time::Instant;

use anyhow::{Context as _, Result};
use serde_json::json;

use super::{block_on, Context};
use crate::cli::{PromoteArgs, RollbackArgs};
use crate::clock::{ago, format_elapsed, now_ms};
use crate::commands::deploy::what;
use crate::error::Failure;
use crate::ops::current_user;
use crate::ops::gate::{self, Mark};
use crate::ops::lock::{lock_environment, EnvLock};
use crate::ops::recover::recover;
use crate::ops::redeploy::{self, short_id, Kind, Plan};
use crate::output::Spinner;
use crate::store::{Deployment, EnvState, Store};

pub fn cmd_rollback(ctx: &Context, args: RollbackArgs) -> Result<()> {
    let mut store = ctx.store()?;
    let target_id = match args.deployment {
        Some(id) => {
            if args.project.is_some() || args.environment.is_some() {
                return Err(Failure::usage(
                    "give a deployment id, or `--project` (and `--environment`), not both",
                )
                .hint("the id alone names the project and environment: `temps rollback 41`")
                .into());
            }
            id
        }
        None => {
            let project = args.project.as_deref().ok_or_else(|| {
                Failure::usage("which deployment? give its id, or `--project P` to choose").hint(
                    "`temps list PROJECT` shows the ids; `temps rollback --project web` picks",
                )
            })?;
            let environment = args.environment.as_deref().unwrap_or("production");
            pick_target(ctx, &store, project, environment)?
        }
    };
    block_on(async {
        if args.dry_run {
            let plan = redeploy::plan(&store, Kind::Rollback, target_id).await?;
            return print_plan(ctx, &plan, true);
        }
        let spinner = ctx.out.progress(&format!("rolling back to #{target_id}"));
        let command = format!("rollback {target_id}");
        let (plan, lock) = prepare(
            &mut store,
            Kind::Rollback,
            target_id,
            &command,
            args.lock.wait_lock,
            &spinner,
        )
        .await?;
        spinner.suspend(|| confirm(ctx, &plan))?;
        let started = Instant::now();
        let done = run(
            &mut store,
            (plan, lock),
            args.reason,
            args.health_timeout,
            &spinner,
        )
        .await?;
        if ctx.out.is_json() {
            return ctx.out.json(&done);
        }
        ctx.out.line(format!(
            "rolled back {}/{} to #{} ({}) in {}: #{} serves",
            done.project,
            done.environment,
            done.rolled_back_to_id.unwrap_or_default(),
            what(&done),
            format_elapsed(started.elapsed()),
            done.id
        ));
        if let Some(from) = done.rolled_back_from_id {
            ctx.out
                .note(format!("#{from} is stopped and kept as standby"));
        }
        ctx.out.note(ctx.out.loud(&format!(
            "{} is now ROLLED BACK: new deploys are recorded `ready`; `temps promote ID` ends this",
            done.environment
        )));
        Ok(())
    })?
}

pub fn cmd_promote(ctx: &Context, args: PromoteArgs) -> Result<()> {
    let mut store = ctx.store()?;
    let target_id = args.deployment;
    block_on(async {
        let spinner = ctx.out.progress(&format!("promoting #{target_id}"));
        let command = format!("promote {target_id}");
        let (plan, lock) = prepare(
            &mut store,
            Kind::Promote,
            target_id,
            &command,
            args.lock.wait_lock,
            &spinner,
        )
        .await?;
        if plan.only_clears_state {
            let was = plan.environment.state;
            let done = run(&mut store, (plan, lock), None, None, &spinner).await?;
            if ctx.out.is_json() {
                return ctx.out.json(&done);
            }
            ctx.out.line(match was {
                EnvState::RolledBack => format!(
                    "#{} serves {}/{} already; the environment is back to normal: new deploys serve again",
                    done.id, done.project, done.environment
                ),
                EnvState::Normal => format!(
                    "#{} serves {}/{} already, and the environment is normal: nothing to do",
                    done.id, done.project, done.environment
                ),
            });
            return Ok(());
        }
        spinner.suspend(|| confirm(ctx, &plan))?;
        let started = Instant::now();
        let done = run(&mut store, (plan, lock), args.reason, None, &spinner).await?;
        if ctx.out.is_json() {
            return ctx.out.json(&done);
        }
        ctx.out.line(format!(
            "promoted #{target_id} ({}) on {}/{} in {}: #{} serves, and new deploys serve again",
            what(&done),
            done.project,
            done.environment,
            format_elapsed(started.elapsed()),
            done.id
        ));
        Ok(())
    })?
}

/// Lock the target's environment, then validate: what is confirmed is what runs.
async fn prepare(
    store: &mut Store,
    kind: Kind,
    target_id: i64,
    command: &str,
    wait: Option<std::time::Duration>,
    progress: &dyn crate::ops::Progress,
) -> Result<(Plan, EnvLock)> {
    let (project, environment) = redeploy::locate(store, target_id)?;
    let lock = lock_environment(store, &project, &environment, command, wait, progress)?;
    let plan = redeploy::plan(store, kind, target_id).await?;
    Ok((plan, lock))
}

/// Run a confirmed plan under its lock, then release the lock and the spinner. Before
/// anything else changes, recover what an interrupted operation left in the environment
/// (a refused or declined rollback writes nothing).
async fn run(
    store: &mut Store,
    (plan, lock): (Plan, EnvLock),
    reason: Option<String>,
    health_timeout: Option<std::time::Duration>,
    spinner: &Spinner,
) -> Result<Deployment> {
    recover(
        store,
        plan.engine(),
        &plan.project,
        &plan.environment.name,
        spinner,
    )
    .await?;
    let done =
        redeploy::execute(store, plan, reason, current_user(), health_timeout, spinner).await?;
    drop(lock);
    spinner.finish();
    Ok(done)
}

/// `rollback --project P`: a picker on a terminal with the most recent valid target
/// preselected, else that target. The gate says which one it is: never one a later
/// rollback left, nor one running what serves now.
fn pick_target(
    ctx: &Context,
    store: &crate::store::Store,
    project: &str,
    environment: &str,
) -> Result<i64> {
    let (_, candidates) = redeploy::rollback_candidates(store, project, environment)?;
    if candidates.is_empty() {
        return Err(Failure::refused(format!(
            "{project}/{environment} has no earlier deployment to roll back to"
        ))
        .hint(format!("`temps list {project}` shows its history"))
        .into());
    }
    let now = now_ms();
    let preferred = gate::most_recent(&candidates).map(|c| c.deployment.id);
    if !ctx.out.can_prompt() || ctx.yes {
        return preferred.ok_or_else(|| {
            let why: Vec<String> = candidates
                .iter()
                .take(5)
                .map(|c| format!("#{} {}", c.deployment.id, marks_text(&c.marks, now)))
                .collect();
            Failure::refused(format!(
                "{project}/{environment} has no earlier deployment to go back to without being told which: {}",
                why.join("; ")
            ))
            .hint(format!(
                "name the one you want, if you are sure: `temps rollback {}`; `temps list {project}` shows the history",
                candidates[0].deployment.id
            ))
            .into()
        });
    }
    let items: Vec<String> = candidates
        .iter()
        .map(|c| {
            let d = &c.deployment;
            let mut item = format!(
                "#{:<5} {:<26} {:<9} {:<9} by {}",
                d.id,
                what(d),
                d.status.as_str(),
                ago(d.created_at, now),
                d.created_by
            );
            if !c.marks.is_empty() {
                item.push_str(&format!("  ({})", marks_text(&c.marks, now)));
            }
            item
        })
        .collect();
    let default = candidates
        .iter()
        .position(|c| Some(c.deployment.id) == preferred)
        .unwrap_or(0);
    let chosen = dialoguer::Select::new()
        .with_prompt(format!("Roll back {project}/{environment} to"))
        .items(&items)
        .default(default)
        .interact_opt()
        .context("asking which deployment to roll back to")?;
    match chosen {
        Some(index) => Ok(candidates[index].deployment.id),
        None => Err(Failure::new(
            crate::error::ExitStatus::Usage,
            "no deployment chosen; nothing was changed",
        )
        .into()),
    }
}

/// `rolled back from 5m ago by #4: "checkout errors"; same image as now`.
fn marks_text(marks: &[Mark], now: i64) -> String {
    marks
        .iter()
        .map(|mark| match mark {
            Mark::RolledBackFrom { by, at, reason } => {
                let mut text = format!("rolled back from {} by #{by}", ago(*at, now));
                if let Some(reason) = reason {
                    text.push_str(&format!(": \"{reason}\""));
                }
                text
            }
            Mark::SameAsNow => "same image as now".to_string(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Ask on a terminal (default No); `--yes` skips; no terminal and no `--yes` refuses.
fn confirm(ctx: &Context, plan: &Plan) -> Result<()> {
    if ctx.yes {
        return Ok(());
    }
    let verb = match plan.kind {
        Kind::Rollback => "rollback",
        Kind::Promote => "promote",
    };
    if !ctx.out.can_prompt() {
        return Err(Failure::usage(format!(
            "the {verb} needs confirmation, and there is no terminal to ask on"
        ))
        .hint("pass `--yes` to confirm (and `--dry-run` first to see the plan)")
        .into());
    }
    print_plan(ctx, plan, false)?;
    let question = match plan.kind {
        Kind::Rollback => format!(
            "Roll back {} to #{}?",
            plan.environment.name, plan.target.id
        ),
        Kind::Promote => format!("Promote #{} on {}?", plan.target.id, plan.environment.name),
    };
    let yes = dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact_opt()
        .context("asking for confirmation")?
        .unwrap_or(false);
    if yes {
        Ok(())
    } else {
        Err(Failure::usage(format!("{verb} not confirmed; nothing was changed")).into())
    }
}

/// The plan, for `--dry-run` (stdout) and before the prompt (stderr).
fn print_plan(ctx: &Context, plan: &Plan, dry_run: bool) -> Result<()> {
    let action = match plan.kind {
        Kind::Rollback => "rollback",
        Kind::Promote => "promote",
    };
    if dry_run && ctx.out.is_json() {
        return ctx.out.json(&json!({
            "dry_run": true,
            "action": action,
            "project": plan.project.name,
            "environment": plan.environment.name,
            "state": plan.environment.state.as_str(),
            "current": plan.current,
            "target": plan.target,
            "changed_variables": plan.changed_variables,
        }));
    }
    let now = now_ms();
    let describe = |d: &Deployment| {
        let id = d
            .image_id
            .as_deref()
            .map(|i| format!(" ({})", short_id(i)))
            .unwrap_or_default();
        format!(
            "#{:<5} {}{id}, deployed {} by {}",
            d.id,
            what(d),
            ago(d.created_at, now),
            d.created_by
        )
    };
    let mut lines = vec![format!(
        "{} {}/{}{}",
        if plan.kind == Kind::Rollback {
            "Roll back"
        } else {
            "Promote on"
        },
        plan.project.name,
        plan.environment.name,
        if plan.environment.state == EnvState::RolledBack {
            "  (rolled back now)"
        } else {
            ""
        }
    )];
    lines.push(format!(
        "  current  {}",
        plan.current
            .as_ref()
            .map_or("nothing serves".to_string(), describe)
    ));
    lines.push(format!("  target   {}", describe(&plan.target)));
    if !plan.marks.is_empty() && plan.kind == Kind::Rollback {
        lines.push(format!(
            "  note     #{}: {}",
            plan.target.id,
            marks_text(&plan.marks, now)
        ));
    }
    if plan.changed_variables.is_empty() {
        lines.push(format!(
            "  variables: unchanged since #{} ran",
            plan.target.id
        ));
    } else {
        lines.push(format!(
            "  variables changed since #{} ran: {} (the current values are used)",
            plan.target.id,
            plan.changed_variables.join(", ")
        ));
    }
    lines.push(
        "  not reverted: database migrations and external state (queues, storage, other services)"
            .into(),
    );
    if plan.kind == Kind::Rollback {
        lines.push(format!(
            "  afterwards {} stays rolled back: new deploys are recorded `ready` until `temps promote`",
            plan.environment.name
        ));
    }
    if dry_run {
        lines.push("dry run: nothing was changed".into());
        for line in lines {
            ctx.out.line(line);
        }
    } else {
        for line in lines {
            ctx.out.aside(line);
        }
    }
    Ok(())
}
