//! `temps notify add|list|remove|test|deliveries`: the webhooks told what happened.

use anyhow::Result;
use serde_json::json;

use super::{block_on, Context};
use crate::cli::{NotifyAddArgs, NotifyCommand, NotifyFormat};
use crate::clock::{ago, now_ms, rfc3339};
use crate::error::{ExitStatus, Failure};
use crate::ops::current_user;
use crate::ops::notify::{self, NewTarget};

pub fn cmd_notify(ctx: &Context, command: NotifyCommand) -> Result<()> {
    match command {
        NotifyCommand::Add(args) => add(ctx, args),
        NotifyCommand::List => list(ctx),
        NotifyCommand::Remove(args) => {
            let mut store = ctx.store()?;
            notify::remove(&mut store, &args.name)?;
            if ctx.out.is_json() {
                return ctx.out.json(&json!({"removed": args.name}));
            }
            ctx.out
                .line(format!("removed notification target `{}`", args.name));
            Ok(())
        }
        NotifyCommand::Test(args) => test(ctx, &args.name),
        NotifyCommand::Deliveries(args) => deliveries(ctx, args.limit),
    }
}

fn add(ctx: &Context, args: NotifyAddArgs) -> Result<()> {
    let mut store = ctx.store()?;
    let format = match args.format {
        NotifyFormat::Json => "json",
        NotifyFormat::Slack => "slack",
    };
    let target = notify::add(
        &mut store,
        &NewTarget {
            name: &args.name,
            url: &args.url,
            secret: args.secret.as_deref(),
            events: &args.events,
            format,
            created_by: &current_user(),
        },
    )?;
    if ctx.out.is_json() {
        return ctx.out.json(&target_document(&target));
    }
    ctx.out.line(format!(
        "added notification target `{}`: {} ({}, {}{})",
        target.name,
        target.url,
        target.format,
        target.events.join(","),
        if target.secret.is_some() {
            ", signed"
        } else {
            ""
        }
    ));
    ctx.out.note(format!(
        "`temps notify test {}` sends it a test event",
        target.name
    ));
    Ok(())
}

/// A target as `list` and `add` print it: whether it signs, never the secret.
fn target_document(t: &crate::store::NotificationTarget) -> serde_json::Value {
    json!({
        "name": t.name,
        "url": t.url,
        "events": t.events,
        "format": t.format,
        "signed": t.secret.is_some(),
        "created_at": rfc3339(t.created_at),
        "created_by": t.created_by,
    })
}

fn list(ctx: &Context) -> Result<()> {
    let store = ctx.store()?;
    let targets = store.notification_targets()?;
    if ctx.out.is_json() {
        let docs: Vec<_> = targets.iter().map(target_document).collect();
        return ctx.out.json(&docs);
    }
    if targets.is_empty() {
        ctx.out
            .note("no notification targets; `temps notify add NAME --url URL` adds one");
        return Ok(());
    }
    let now = now_ms();
    let rows = targets
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                t.url.clone(),
                t.format.clone(),
                if t.events.len() == notify::EVENTS.len() {
                    "all".to_string()
                } else {
                    t.events.join(",")
                },
                if t.secret.is_some() { "yes" } else { "no" }.into(),
                format!("{} by {}", ago(t.created_at, now), t.created_by),
            ]
        })
        .collect();
    ctx.out.table(
        &["NAME", "URL", "FORMAT", "EVENTS", "SIGNED", "ADDED"],
        rows,
    );
    Ok(())
}

fn test(ctx: &Context, name: &str) -> Result<()> {
    let mut store = ctx.store()?;
    let answer = block_on(notify::test(&mut store, name, &current_user()))??;
    let delivered = matches!(answer, Ok(status) if (200..300).contains(&status));
    if ctx.out.is_json() {
        ctx.out.json(&json!({
            "name": name,
            "delivered": delivered,
            "status": answer.as_ref().ok(),
            "error": answer.as_ref().err(),
        }))?;
    } else if delivered {
        ctx.out.line(format!(
            "`{name}` answered {}: delivered",
            answer.as_ref().unwrap_or(&0)
        ));
    }
    if delivered {
        return Ok(());
    }
    let why = match answer {
        Ok(status) => format!("it answered {status}"),
        Err(why) => why,
    };
    Err(Failure::new(
        ExitStatus::Unexpected,
        format!("the test event was not delivered to `{name}`: {why}"),
    )
    .hint("it is kept and tried again by `temps proxy` or `temps serve`; `temps notify deliveries` shows each attempt")
    .into())
}

fn deliveries(ctx: &Context, limit: u32) -> Result<()> {
    let store = ctx.store()?;
    let attempts = store.delivery_attempts(limit)?;
    if ctx.out.is_json() {
        let docs: Vec<_> = attempts
            .iter()
            .map(|a| {
                json!({
                    "delivery": a.delivery,
                    "target": a.target,
                    "event": a.event,
                    "state": a.state,
                    "at": rfc3339(a.at),
                    "by": a.sender,
                    "status": a.status,
                    "error": a.error,
                })
            })
            .collect();
        return ctx.out.json(&docs);
    }
    if attempts.is_empty() {
        ctx.out.note("no notifications sent yet");
        return Ok(());
    }
    let now = now_ms();
    let rows = attempts
        .iter()
        .map(|a| {
            vec![
                a.delivery.clone(),
                a.target.clone(),
                a.event.clone(),
                ago(a.at, now),
                a.sender.clone(),
                a.status.map_or("-".into(), |s| s.to_string()),
                a.error.clone().unwrap_or_default(),
                a.state.clone(),
            ]
        })
        .collect();
    ctx.out.table(
        &[
            "DELIVERY", "TARGET", "EVENT", "WHEN", "BY", "STATUS", "ERROR", "STATE",
        ],
        rows,
    );
    Ok(())
}
