//! `temps rollback` and `temps promote`: read the arguments, run the one rollback/promote
//! pipeline of `ops::redeploy` with the terminal (or `--yes`) as its prompt, and print.

use anyhow::{Context as _, Result};

use super::watching::{said_at_the_end, Say, Watcher};
use super::{block_on, Context};
use crate::cli::{PromoteArgs, RollbackArgs};
use crate::clock::{ago, format_elapsed, now_ms};
use crate::commands::deploy::what;
use crate::error::Failure;
use crate::ops::current_user;
use crate::ops::gate::{self, Choice};
use crate::ops::operate::{self, Ended};
use crate::ops::redeploy::{
    self, AssumeYes, Kind, NobodyToAsk, Outcome, Plan, Prompt, Request, Target,
};
use crate::ops::view::documents;
use crate::output::{ask, shown, Spinner};
use crate::store::{Deployment, EnvState, Store};
use crate::text::short_id;

pub fn cmd_rollback(ctx: &Context, args: RollbackArgs) -> Result<()> {
    let mut store = ctx.store()?;
    let target = match args.deployment {
        Some(id) => {
            if args.project.is_some() || args.environment.is_some() {
                return Err(Failure::usage(
                    "give a deployment id, or `--project` (and `--environment`), not both",
                )
                .hint("the id alone names the project and environment: `temps rollback 41`")
                .into());
            }
            Target::Id(id)
        }
        None => {
            let project = args.project.clone().ok_or_else(|| {
                Failure::usage("which deployment? give its id, or `--project P` to choose").hint(
                    "`temps list PROJECT` shows the ids; `temps rollback --project web` picks",
                )
            })?;
            let environment = args
                .environment
                .clone()
                .unwrap_or_else(|| "production".to_string());
            Target::MostRecent {
                project,
                environment,
            }
        }
    };
    let title = match &target {
        Target::Id(id) | Target::Found { id, .. } => format!("rolling back to #{id}"),
        Target::MostRecent {
            project,
            environment,
        } => format!("rolling back {project}/{environment}"),
    };
    block_on(async {
        if args.dry_run {
            // What the rollback itself would refuse, the dry run refuses too.
            crate::error::clean_reason(args.reason.clone())?;
            let spinner = ctx.out.progress("validating");
            let prompt = prompt(ctx, &spinner);
            let plan = redeploy::dry_run(
                &store,
                Kind::Rollback,
                &target,
                args.accept_schema,
                prompt.as_ref(),
            )
            .await?;
            spinner.finish();
            return print_plan(ctx, &plan, true);
        }
        let request = Request {
            kind: Kind::Rollback,
            target,
            reason: args.reason,
            created_by: current_user(),
            wait_lock: args.lock.wait_lock,
            health_timeout: args.health_timeout,
            keep_replaced_warm: true,
            accept_schema: args.accept_schema,
        };
        let say =
            |store: &Store, ended: &Ended, _before: Option<i64>| say_rolled_back(ctx, store, ended);
        redeploy(ctx, &mut store, &title, request, args.watch.watch, &say).await
    })?
}

/// A rollback or promote through `ops::operate`, with the terminal (or `--yes`) as its
/// prompt and its watch's spinner; `say` tells what it did before any watch.
async fn redeploy(
    ctx: &Context<'_>,
    store: &mut Store,
    title: &str,
    request: Request,
    watch: Option<std::time::Duration>,
    say: &Say<'_>,
) -> Result<()> {
    let spinner = ctx.out.progress(title);
    let watcher = Watcher::new(ctx, &spinner, say);
    let operated = operate::run(
        store,
        operate::Request::Redeploy(request),
        watch,
        prompt(ctx, &spinner).as_ref(),
        &spinner,
        &watcher,
    )
    .await?;
    said_at_the_end(ctx, &operated)
}

/// What a rollback says once it serves, before any watch.
fn say_rolled_back(ctx: &Context, store: &Store, ended: &Ended) -> Result<()> {
    let Ended::Redeploy(Outcome::Switched {
        deployment: done,
        took,
    }) = ended
    else {
        unreachable!("a rollback never only clears the state");
    };
    if ctx.out.is_json() {
        return Ok(());
    }
    ctx.out.line(format!(
        "rolled back {}/{} to #{} ({}) in {}: #{} serves",
        done.project,
        done.environment,
        done.origin.rolled_back_to().unwrap_or_default(),
        shown(&what(done)),
        format_elapsed(*took),
        done.id
    ));
    // Swarm mode keeps no containers of its own: the service's tasks were replaced.
    if let (Some(from), false) = (done.origin.rolled_back_from(), done.containers.is_empty()) {
        ctx.out.note(standby_note(store, from)?);
    }
    ctx.out.note(ctx.out.loud(&format!(
        "{} is now ROLLED BACK: new deploys are recorded `ready`; `temps promote ID` ends this",
        done.environment
    )));
    Ok(())
}

pub fn cmd_promote(ctx: &Context, args: PromoteArgs) -> Result<()> {
    let mut store = ctx.store()?;
    let target_id = args.deployment;
    block_on(async {
        let request = Request {
            kind: Kind::Promote,
            target: Target::Id(target_id),
            reason: args.reason,
            created_by: current_user(),
            wait_lock: args.lock.wait_lock,
            health_timeout: args.health_timeout,
            keep_replaced_warm: true,
            accept_schema: args.accept_schema,
        };
        let say = |store: &Store, ended: &Ended, before: Option<i64>| {
            say_promoted(ctx, store, ended, before)
        };
        let title = format!("promoting #{target_id}");
        redeploy(ctx, &mut store, &title, request, args.watch.watch, &say).await
    })?
}

/// What a promote says once it serves (or once it only cleared the state), before any
/// watch. `before`: what served before it.
fn say_promoted(ctx: &Context, store: &Store, ended: &Ended, before: Option<i64>) -> Result<()> {
    if ctx.out.is_json() {
        return Ok(());
    }
    match ended {
        Ended::Redeploy(Outcome::StateCleared {
            deployment: done,
            was,
        }) => ctx.out.line(match was {
            EnvState::RolledBack => format!(
                "#{} serves {}/{} already; the environment is back to normal: new deploys serve again",
                done.id, done.project, done.environment
            ),
            EnvState::Normal => format!(
                "#{} serves {}/{} already, and the environment is normal: nothing to do",
                done.id, done.project, done.environment
            ),
        }),
        Ended::Redeploy(Outcome::Switched {
            deployment: done,
            took,
        }) => {
            ctx.out.line(format!(
                "promoted #{} ({}) on {}/{} in {}: #{} serves, and new deploys serve again",
                done.origin.promoted().unwrap_or_default(),
                shown(&what(done)),
                done.project,
                done.environment,
                format_elapsed(*took),
                done.id
            ));
            if let (Some(from), false) = (before, done.containers.is_empty()) {
                ctx.out.note(standby_note(store, from)?);
            }
        }
        Ended::Deploy(_) => {}
    }
    Ok(())
}

/// What became of the deployment a switch replaced, as its record says: kept running
/// warm until a time (proxy mode), or stopped.
fn standby_note(store: &crate::store::Store, replaced: i64) -> Result<String> {
    let replaced = store.expect_deployment(replaced)?;
    Ok(match replaced.warm_until.filter(|_| replaced.is_warm(now_ms())) {
        Some(until) => format!(
            "#{} is kept warm until {} (running, no traffic): `temps promote {}` switches back to it at once",
            replaced.id,
            crate::clock::time_of_day(until),
            replaced.id
        ),
        None => format!("#{} is stopped and kept as standby", replaced.id),
    })
}

/// Who answers the pipeline's questions: `--yes`, the terminal, or nobody.
fn prompt<'a>(ctx: &'a Context<'a>, spinner: &'a Spinner) -> Box<dyn Prompt + 'a> {
    if ctx.yes {
        Box::new(AssumeYes)
    } else if ctx.out.can_prompt() {
        Box::new(Terminal { ctx, spinner })
    } else {
        Box::new(NobodyToAsk)
    }
}

/// A person at a terminal: a picker of targets, and the plan with a question whose
/// default answer is No. The spinner steps aside while they answer.
struct Terminal<'a> {
    ctx: &'a Context<'a>,
    spinner: &'a Spinner,
}

impl Prompt for Terminal<'_> {
    fn choose(&self, choice: &Choice<'_>) -> Result<i64> {
        self.spinner.suspend(|| pick(self.ctx.out, choice))
    }

    fn confirm(&self, plan: &Plan) -> Result<bool> {
        self.spinner.suspend(|| {
            print_plan(self.ctx, plan, false)?;
            let question = match plan.kind {
                Kind::Rollback => format!(
                    "Roll back {} to #{}?",
                    plan.environment.name, plan.target.id
                ),
                Kind::Promote => {
                    format!("Promote #{} on {}?", plan.target.id, plan.environment.name)
                }
            };
            let answer = ask(|| {
                dialoguer::Confirm::new()
                    .with_prompt(question)
                    .default(false)
                    .interact_opt()
            })
            .context("asking for confirmation")?;
            match answer {
                Some(yes) => Ok(yes.unwrap_or(false)),
                None => Err(interrupted(
                    plan.kind,
                    format!(
                        "`temps {} {} --dry-run` shows the plan again",
                        plan.kind.noun(),
                        plan.target.id
                    ),
                )
                .into()),
            }
        })
    }
}

/// Ctrl-C at a question: nothing was changed (exit 130).
fn interrupted(kind: Kind, hint: String) -> Failure {
    Failure::new(
        crate::error::ExitStatus::Interrupted,
        format!("{} not confirmed: nothing changed", kind.noun()),
    )
    .hint(hint)
}

/// The picker: valid targets newest first, each with why it is marked, the gate's most
/// recent valid one preselected.
fn pick(out: &crate::output::Output, choice: &Choice<'_>) -> Result<i64> {
    let now = now_ms();
    let items: Vec<String> = choice
        .candidates
        .iter()
        .map(|c| {
            let d = &c.deployment;
            let mut item = format!(
                "#{:<5} {:<26} {:<9} {:<9} by {}",
                d.id,
                shown(&what(d)),
                d.status.as_str(),
                ago(d.created_at, now),
                shown(&d.created_by)
            );
            if !c.marks.is_empty() {
                item.push_str(&format!("  ({})", shown(&gate::describe(&c.marks, now))));
            }
            item
        })
        .collect();
    let preferred = choice.preferred_index();
    if preferred.is_none() {
        out.aside(
            "none is preselected: each is marked below (a rollback left it, or it runs what serves now), \
             and `--yes` would refuse to choose; pick one with the arrow keys if you are sure, or press Esc"
        );
    }
    let chosen = ask(|| {
        dialoguer::Select::new()
            .with_prompt(format!(
                "Roll back {}/{} to",
                choice.project, choice.environment
            ))
            .items(&items)
            // usize::MAX: no item preselected (dialoguer's convention).
            .default(preferred.unwrap_or(usize::MAX))
            .interact_opt()
    })
    .context("asking which deployment to roll back to")?
    .ok_or_else(|| interrupted(Kind::Rollback, list_hint(choice.project)))?;
    match chosen {
        Some(index) => Ok(choice.candidates[index].deployment.id),
        None => Err(Failure::new(
            crate::error::ExitStatus::Usage,
            "no deployment chosen; nothing was changed",
        )
        .hint(list_hint(choice.project))
        .into()),
    }
}

/// Where to look before choosing again.
fn list_hint(project: &str) -> String {
    format!("`temps list {project}` shows the history; `temps rollback ID` names a target")
}

/// The plan, for `--dry-run` (stdout) and before the prompt (stderr).
/// `database 42 (needs 40 or newer), target 35: INCOMPATIBLE`, or what is unknown.
fn schema_line(plan: &Plan) -> String {
    let database = plan.database.as_ref().map_or("unknown".to_string(), |d| {
        format!("{} (needs {} or newer)", d.schema, d.floor)
    });
    let target = plan
        .target
        .schema
        .as_ref()
        .map_or("unknown".to_string(), |s| s.version.to_string());
    let verdict = match plan.schema_compatible() {
        Some(true) => "compatible".to_string(),
        Some(false) if plan.accept_schema => {
            "INCOMPATIBLE, accepted (--accept-schema: the down migrations were run)".to_string()
        }
        Some(false) => "INCOMPATIBLE".to_string(),
        None => "compatibility unknown".to_string(),
    };
    format!(
        "database {database}, target #{} {target}: {verdict}",
        plan.target.id
    )
}

fn print_plan(ctx: &Context, plan: &Plan, dry_run: bool) -> Result<()> {
    if dry_run && ctx.out.is_json() {
        return ctx.out.json(&documents::plan(plan));
    }
    let now = now_ms();
    let describe = |d: &Deployment| {
        let id = d
            .image_id
            .as_deref()
            .map(|i| format!(" ({})", shown(short_id(i))))
            .unwrap_or_default();
        format!(
            "#{:<5} {}{id}, deployed {} by {}",
            d.id,
            shown(&what(d)),
            ago(d.created_at, now),
            shown(&d.created_by)
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
    let affected = plan.environment.reached_by();
    if !affected.is_empty() {
        let what = if plan.environment.domains.is_empty() {
            "address"
        } else {
            "domains"
        };
        lines.push(format!("  {what:<8} {}", shown(&affected.join(", "))));
    }
    if !plan.marks.is_empty() && plan.kind == Kind::Rollback {
        lines.push(format!(
            "  note     #{}: {}",
            plan.target.id,
            shown(&gate::describe(&plan.marks, now))
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
            shown(&plan.changed_variables.join(", "))
        ));
    }
    if let Some(path) = &plan.path {
        lines.push(format!(
            "  path     {}: {}",
            path.name(),
            shown(&path.reason)
        ));
    }
    lines.push(format!("  schema   {}", schema_line(plan)));
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
