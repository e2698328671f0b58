//! An environment's variables, changed under the environment's lock: a deploy,
//! rollback or promote running at that moment records the variables its containers
//! really get, never a mix. Values are secrets: never echoed in errors or progress.

use anyhow::Result;

use crate::error::{check_name, Failure};
use crate::ops::pipeline::lock::{lock_environment, Asker};
use crate::progress::Progress;
use crate::store::{Project, Store};

/// Set variables (creating the environment on first use).
pub fn set(
    store: &mut Store,
    project: &Project,
    environment: &str,
    pairs: &[(String, String)],
    asker: &Asker<'_>,
    progress: &dyn Progress,
) -> Result<()> {
    check_name("environment", environment)?;
    for (key, value) in pairs {
        check_key(key)?;
        check_value(key, value)?;
    }
    let _lock = lock_environment(store, project, environment, asker, progress)?;
    store.set_variables(project.id, environment, pairs)
}

/// What `unset` removed, and the names that were not set.
pub struct Unset {
    pub removed: Vec<String>,
    pub missing: Vec<String>,
}

/// Remove variables; `None` when the environment does not exist yet.
pub fn unset(
    store: &mut Store,
    project: &Project,
    environment: &str,
    keys: &[String],
    asker: &Asker<'_>,
    progress: &dyn Progress,
) -> Result<Option<Unset>> {
    check_name("environment", environment)?;
    let _lock = lock_environment(store, project, environment, asker, progress)?;
    let Some(env) = store.environment(project.id, environment)? else {
        return Ok(None);
    };
    let missing = store.unset_variables(env.id, keys)?;
    let removed = keys
        .iter()
        .filter(|k| !missing.contains(k))
        .cloned()
        .collect();
    Ok(Some(Unset { removed, missing }))
}

/// A value any process environment can hold (no NUL byte), at most 64 KiB.
pub fn check_value(key: &str, value: &str) -> Result<(), Failure> {
    if value.contains('\0') {
        return Err(Failure::usage(format!(
            "the value of {key} holds a NUL byte, which no process environment can"
        ))
        .hint("remove the NUL byte; store binary values base64-encoded"));
    }
    if value.len() > 64 * 1024 {
        return Err(
            Failure::usage(format!("the value of {key} is longer than 64 KiB"))
                .hint("keep large values in a file or a secret store, and pass its path"),
        );
    }
    Ok(())
}

/// A name a shell could export.
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
