//! The history: the only module that speaks SQL.
//!
//! One SQLite file in WAL mode. Every change that reads before it writes runs in a
//! `BEGIN IMMEDIATE` transaction, so two temps processes never interleave a
//! read-then-write; every multi-step change of the history is one transaction.

mod deployments;
mod locks;
mod model;
mod notifications;
mod projects;
pub use projects::project_not_found;
mod routes;
mod schema;
mod tokens;

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

pub use deployments::{Fled, OperationFact, Serving};
pub use locks::{release_lock, LockAttempt, LockHolder};
pub use model::*;
pub use notifications::{Attempted, Delivery, DeliveryAttempt, NotificationTarget};
pub use routes::{
    Answers, CertificateReport, ProxiedSwitch, ProxySettings, ProxyState, Route, Switched,
    ANSWER_WINDOW_SECS,
};
pub use tokens::{NewToken, TokenRecord};

use crate::error::{ExitStatus, Failure};

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// `$XDG_DATA_HOME/temps/temps.db`, else `~/.local/share/temps/temps.db`.
pub fn default_path() -> Result<PathBuf> {
    if let Some(data) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(data).join("temps/temps.db"));
    }
    let home = std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            Failure::usage("neither XDG_DATA_HOME nor HOME is set, so there is no default database")
                .hint("pass `--db PATH` or set `TEMPS_DB`")
        })?;
    Ok(PathBuf::from(home).join(".local/share/temps/temps.db"))
}

impl Store {
    /// Open (creating when missing, 0600 in a 0700 folder) and migrate the history.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| unwritable(path, &e))?;
        }
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(unwritable(path, &e)),
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags)
            .map_err(|e| unreadable(path, &e.to_string()))?;
        conn.busy_timeout(Duration::from_secs(10))
            .context("setting the database busy timeout")?;
        // Plans do not depend on bound values: otherwise binding a new `LIMIT ?` (and
        // some other parameters) makes a cached statement compile again on its next
        // step, which was most of the server's time per request.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )
        .context("setting the query planner's stability guarantee")?;
        // The first statement reads the header: a file that is not SQLite fails here,
        // before anything is written to it.
        conn.query_row("PRAGMA schema_version", [], |_| Ok(()))
            .map_err(|e| unreadable(path, &e.to_string()))?;
        // Refuse a database we cannot use before any pragma writes to it.
        schema::check(&conn)
            .with_context(|| format!("opening the history at `{}`", path.display()))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        )
        .map_err(|e| unreadable(path, &e.to_string()))?;
        schema::migrate(&mut conn)
            .with_context(|| format!("opening the history at `{}`", path.display()))?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where static releases live: beside the database file.
    pub fn static_root(&self) -> PathBuf {
        self.path
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join("static")
    }

    /// Run `f` in one `BEGIN IMMEDIATE` transaction.
    pub fn write<T>(&mut self, f: impl FnOnce(&Transaction) -> Result<T>) -> Result<T> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("locking the history for a write")?;
        let value = f(&tx)?;
        tx.commit().context("committing to the history")?;
        Ok(value)
    }
}

fn unwritable(path: &Path, err: &std::io::Error) -> anyhow::Error {
    Failure::new(
        ExitStatus::Unexpected,
        format!(
            "cannot create the history database `{}`: {err}",
            path.display()
        ),
    )
    .hint("choose a writable place with `--db PATH` or `TEMPS_DB`")
    .into()
}

fn unreadable(path: &Path, err: &str) -> anyhow::Error {
    Failure::new(
        ExitStatus::Unexpected,
        format!(
            "cannot use `{}` as the history database: {err}",
            path.display()
        ),
    )
    .hint(
        "the file was left untouched; point `--db` at the right file, or restore it from a backup",
    )
    .into()
}

/// A digest of a variable's value: enough to tell that it changed, never to print.
pub fn digest(key: &str, value: &str) -> String {
    // FNV-1a, 64 bits: stable across builds, unlike the standard library's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.bytes().chain([0]).chain(value.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests;
