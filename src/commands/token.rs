//! `temps token create|list|revoke`: the API's tokens.

use anyhow::Result;
use serde_json::json;

use super::Context;
use crate::cli::{TokenCommand, TokenCreateArgs, TokenRole};
use crate::clock::{ago, now_ms, rfc3339};
use crate::ops::access::tokens::{self, Role};
use crate::ops::current_user;
use crate::store::TokenRecord;

pub fn cmd_token(ctx: &Context, command: TokenCommand) -> Result<()> {
    match command {
        TokenCommand::Create(args) => create(ctx, args),
        TokenCommand::List => list(ctx),
        TokenCommand::Revoke(args) => {
            let mut store = ctx.store()?;
            tokens::revoke(&mut store, &args.name)?;
            if ctx.out.is_json() {
                return ctx.out.json(&json!({"revoked": args.name}));
            }
            ctx.out.line(format!("revoked token `{}`", args.name));
            Ok(())
        }
    }
}

fn create(ctx: &Context, args: TokenCreateArgs) -> Result<()> {
    let mut store = ctx.store()?;
    let role = match args.role {
        TokenRole::Reader => Role::Reader,
        TokenRole::Responder => Role::Responder,
        TokenRole::Deployer => Role::Deployer,
        TokenRole::Admin => Role::Admin,
    };
    let made = tokens::create(
        &mut store,
        tokens::Request {
            name: &args.name,
            role,
            project: args.project.as_deref(),
            environment: args.environment.as_deref(),
            expires_in: args.expires,
            created_by: &current_user(),
        },
    )?;
    let t = &made.record;
    if ctx.out.is_json() {
        return ctx.out.json(&json!({
            "name": t.name,
            "role": t.role,
            "project": t.project,
            "environment": t.environment,
            "expires_at": t.expires_at.map(rfc3339),
            "token": made.secret,
        }));
    }
    ctx.out.line(&made.secret);
    ctx.out.note(format!(
        "token `{}` ({}, {}{}): this is the only time the secret is shown; keep it in a secret store",
        t.name,
        t.role,
        scope(t),
        t.expires_at
            .map_or(String::new(), |at| format!(", expires {}", rfc3339(at)))
    ));
    ctx.out
        .note("send it as `Authorization: Bearer tps_…`, or sign in to the dashboard with it");
    Ok(())
}

fn scope(t: &TokenRecord) -> String {
    match (&t.project, &t.environment) {
        (None, _) => "every project".into(),
        (Some(p), None) => format!("project {p}"),
        (Some(p), Some(e)) => format!("{p}/{e}"),
    }
}

fn list(ctx: &Context) -> Result<()> {
    let store = ctx.store()?;
    let all = store.tokens()?;
    let now = now_ms();
    let expired = |t: &TokenRecord| t.expires_at.is_some_and(|at| at <= now);
    if ctx.out.is_json() {
        let docs: Vec<_> = all
            .iter()
            .map(|t| {
                json!({
                    "name": t.name,
                    "role": t.role,
                    "project": t.project,
                    "environment": t.environment,
                    "created_at": rfc3339(t.created_at),
                    "created_by": t.created_by,
                    "expires_at": t.expires_at.map(rfc3339),
                    "expired": expired(t),
                    "last_used_at": t.last_used_at.map(rfc3339),
                })
            })
            .collect();
        return ctx.out.json(&docs);
    }
    if all.is_empty() {
        ctx.out
            .note("no tokens; `temps token create NAME --role reader` makes one");
        return Ok(());
    }
    let rows = all
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                t.role.clone(),
                scope(t),
                match t.expires_at {
                    None => "never".into(),
                    Some(at) if at <= now => ctx.out.loud("EXPIRED"),
                    Some(at) => rfc3339(at),
                },
                t.last_used_at.map_or("never".into(), |at| ago(at, now)),
                format!("{} by {}", ago(t.created_at, now), t.created_by),
            ]
        })
        .collect();
    ctx.out.table(
        &["NAME", "ROLE", "SCOPE", "EXPIRES", "LAST USED", "CREATED"],
        rows,
    );
    Ok(())
}
