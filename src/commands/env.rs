//! `temps env set|unset|list`: an environment's variables. Values are secrets: they are
//! printed only with `--reveal`, never in errors, progress or deployment records.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use serde_json::json;

use super::Context;
use crate::cli::{EnvCommand, EnvListArgs, EnvSetArgs, EnvUnsetArgs};
use crate::error::{check_name, Failure};
use crate::ops::lock::{lock_environment, EnvLock};
use crate::store::{Project, Store};

/// Variables change under the environment's lock: a deploy, rollback or promote running
/// at that moment records the variables its containers really get, never a mix.
fn lock(
    ctx: &Context,
    store: &mut Store,
    project: &Project,
    environment: &str,
    command: &str,
    wait: Option<Duration>,
) -> Result<EnvLock> {
    let progress = ctx.out.progress(&format!("{}/{environment}", project.name));
    lock_environment(store, project, environment, command, wait, &progress)
}

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
    let _lock = lock(
        ctx,
        &mut store,
        &project,
        env,
        &command,
        args.lock.wait_lock,
    )?;
    store.set_variables(project.id, env, &pairs)?;
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
    let _lock = lock(
        ctx,
        &mut store,
        &project,
        env_name,
        &command,
        args.lock.wait_lock,
    )?;
    let removed = match store.environment(project.id, env_name)? {
        Some(env) => {
            let missing = store.unset_variables(env.id, &args.keys)?;
            if !missing.is_empty() {
                ctx.out.warn(format!(
                    "not set, nothing to remove: {}",
                    missing.join(", ")
                ));
            }
            args.keys
                .iter()
                .filter(|k| !missing.contains(k))
                .cloned()
                .collect()
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
            "********".to_string()
        }
    };
    if ctx.out.is_json() {
        let variables: BTreeMap<&String, String> =
            variables.iter().map(|(k, v)| (k, shown(v))).collect();
        return ctx.out.json(&json!({
            "project": project.name,
            "environment": env_name,
            "revealed": args.reveal,
            "variables": variables,
        }));
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
    if value.contains('\0') {
        return Err(Failure::usage(format!(
            "the value of {key} holds a NUL byte, which no process environment can"
        ))
        .hint("remove the NUL byte; store binary values base64-encoded"));
    }
    Ok((key.to_string(), value.to_string()))
}

pub fn check_key(key: &str) -> Result<(), Failure> {
    let mut chars = key.chars();
    let valid = key.len() <= 256
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        // Echo it only when it looks like a mistyped name, never like a value.
        let harmless = key.len() <= 32
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        let message = if harmless {
            format!("invalid variable name `{key}`")
        } else {
            "invalid variable name (not shown: it may be a secret)".to_string()
        };
        Err(Failure::usage(message)
            .hint("names are letters, digits and `_`, not starting with a digit"))
    }
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
