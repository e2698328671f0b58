//! `temps env set|unset|list`: an environment's variables. Values are secrets: they are
//! printed only with `--reveal`, never in errors, progress or deployment records.

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::json;

use super::Context;
use crate::cli::{EnvCommand, EnvListArgs, EnvSetArgs, EnvUnsetArgs};
use crate::error::{check_name, Failure};
use crate::ops::access::variables::{self, check_key, check_value, Unset};
use crate::ops::current_user;
use crate::ops::pipeline::lock::Asker;
use crate::ops::view::documents;

pub fn cmd_env(ctx: &Context, command: EnvCommand) -> Result<()> {
    match command {
        EnvCommand::Set(args) => env_set(ctx, args),
        EnvCommand::Unset(args) => env_unset(ctx, args),
        EnvCommand::List(args) => env_list(ctx, args),
    }
}

/// `temps env set PROJECT KEY=VALUE…`
fn env_set(ctx: &Context, args: EnvSetArgs) -> Result<()> {
    check_name("environment", &args.environment.environment)?;
    let pairs = args
        .pairs
        .iter()
        .map(|pair| parse_pair(pair))
        .collect::<Result<Vec<_>, _>>()?;
    let mut store = ctx.store()?;
    let project = store.project(&args.project)?;
    let env = &args.environment.environment;
    let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    let command = format!("env set {} {}", project.name, keys.join(" "));
    let progress = ctx.out.progress(&format!("{}/{env}", project.name));
    variables::set(
        &mut store,
        &project,
        env,
        &pairs,
        &Asker {
            command: &command,
            user: &current_user(),
            wait: args.lock.wait_lock,
        },
        &progress,
    )?;
    if ctx.out.is_json() {
        return ctx
            .out
            .json(&json!({"project": project.name, "environment": env, "set": keys}));
    }
    ctx.out
        .line(format!("set {} on {}/{env}", keys.join(", "), project.name));
    ctx.out
        .note("applied to containers created from now on: the next deploy, rollback or promote");
    Ok(())
}

/// `temps env unset PROJECT KEY…`
fn env_unset(ctx: &Context, args: EnvUnsetArgs) -> Result<()> {
    let mut store = ctx.store()?;
    let project = store.project(&args.project)?;
    let env_name = &args.environment.environment;
    let command = format!("env unset {} {}", project.name, args.keys.join(" "));
    let progress = ctx.out.progress(&format!("{}/{env_name}", project.name));
    let removed = match variables::unset(
        &mut store,
        &project,
        env_name,
        &args.keys,
        &Asker {
            command: &command,
            user: &current_user(),
            wait: args.lock.wait_lock,
        },
        &progress,
    )? {
        Some(Unset { removed, missing }) => {
            if !missing.is_empty() {
                ctx.out.warn(format!(
                    "not set, nothing to remove: {}",
                    missing.join(", ")
                ));
            }
            removed
        }
        None => {
            ctx.out.warn(format!(
                "`{}` has no environment `{env_name}` yet",
                project.name
            ));
            Vec::new()
        }
    };
    if ctx.out.is_json() {
        return ctx
            .out
            .json(&json!({"project": project.name, "environment": env_name, "unset": removed}));
    }
    if !removed.is_empty() {
        ctx.out.line(format!(
            "unset {} on {}/{env_name}",
            removed.join(", "),
            project.name
        ));
    }
    Ok(())
}

/// `temps env list PROJECT [--reveal]`
fn env_list(ctx: &Context, args: EnvListArgs) -> Result<()> {
    let store = ctx.store()?;
    let project = store.project(&args.project)?;
    let env_name = &args.environment.environment;
    let variables = match store.environment(project.id, env_name)? {
        Some(env) => store.variables(env.id)?,
        None => BTreeMap::new(),
    };
    let shown = |value: &str| {
        if args.reveal {
            value.to_string()
        } else {
            documents::MASK.to_string()
        }
    };
    if ctx.out.is_json() {
        return ctx.out.json(&documents::variables(
            &project.name,
            env_name,
            &variables,
            args.reveal,
        ));
    }
    if variables.is_empty() {
        ctx.out
            .note(format!("no variables on {}/{env_name}", project.name));
        return Ok(());
    }
    let rows = variables
        .iter()
        .map(|(k, v)| vec![k.clone(), shown(v)])
        .collect();
    ctx.out.table(&["KEY", "VALUE"], rows);
    Ok(())
}

/// `KEY=VALUE`, with a key a shell could export.
fn parse_pair(pair: &str) -> Result<(String, String), Failure> {
    // The text may hold a secret (a value with no `KEY=` before it): never echo it.
    let (key, value) = pair.split_once('=').ok_or_else(|| {
        Failure::usage("an argument is not KEY=VALUE (it is not shown: it may be a secret)")
            .hint("like `temps env set web DATABASE_URL=postgres://…`")
    })?;
    check_key(key)?;
    check_value(key, value)?;
    Ok((key.to_string(), value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_split_at_the_first_equals_sign() {
        assert_eq!(parse_pair("A=b=c").unwrap(), ("A".into(), "b=c".into()));
        assert_eq!(parse_pair("_X=").unwrap(), ("_X".into(), String::new()));
        for bad in ["A", "1A=x", "A-B=x", "=x", "Ä=x"] {
            assert!(parse_pair(bad).is_err(), "{bad}");
        }
    }
}
