//! Environment locks: at most one deploy, rollback, promote or prune per environment.
//!
//! A lock is a row, taken in a `BEGIN IMMEDIATE` transaction, naming its holder (pid and
//! the pid's start time, host, user, command, since when). A holder whose process is gone
//! leaves its row behind; the next operation finds that out and takes the lock over.

use anyhow::{Context, Result};
use rusqlite::{params, OptionalExtension};

use super::Store;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    pub pid: u32,
    /// When the process started (clock ticks since boot), to tell a reused pid apart.
    pub pid_start: Option<i64>,
    pub host: String,
    pub user: String,
    pub command: String,
    pub started_at: i64,
}

pub enum LockAttempt {
    /// Ours now; `took_over` names a holder that had died without releasing it.
    Acquired {
        took_over: Option<LockHolder>,
    },
    Busy(LockHolder),
}

impl Store {
    /// Who holds the environment's lock, live or not, without taking it.
    pub fn lock_holder(&self, project_id: i64, environment: &str) -> Result<Option<LockHolder>> {
        self.conn
            .query_row(
                "SELECT pid, pid_start, host, user, command, started_at FROM locks \
                 WHERE project_id = ?1 AND environment = ?2",
                params![project_id, environment],
                holder_from_row,
            )
            .optional()
            .context("reading the environment's lock")
    }

    /// Take the environment's lock unless a live holder has it.
    pub fn try_lock(
        &mut self,
        project_id: i64,
        environment: &str,
        me: &LockHolder,
        is_alive: impl Fn(&LockHolder) -> bool,
    ) -> Result<LockAttempt> {
        self.write(|tx| {
            let holder = tx
                .query_row(
                    "SELECT pid, pid_start, host, user, command, started_at FROM locks \
                     WHERE project_id = ?1 AND environment = ?2",
                    params![project_id, environment],
                    holder_from_row,
                )
                .optional()
                .context("reading the environment's lock")?;
            if let Some(holder) = &holder {
                if is_alive(holder) {
                    return Ok(LockAttempt::Busy(holder.clone()));
                }
            }
            tx.execute(
                "INSERT OR REPLACE INTO locks (project_id, environment, pid, pid_start, host, user, command, started_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![project_id, environment, me.pid, me.pid_start, me.host, me.user, me.command, me.started_at],
            )
            .context("taking the environment's lock")?;
            Ok(LockAttempt::Acquired { took_over: holder })
        })
    }
}

fn holder_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LockHolder> {
    Ok(LockHolder {
        pid: r.get(0)?,
        pid_start: r.get(1)?,
        host: r.get(2)?,
        user: r.get(3)?,
        command: r.get(4)?,
        started_at: r.get(5)?,
    })
}

/// Release a lock we hold; used from a guard's `Drop`, so it opens its own connection.
pub fn release_lock(
    path: &std::path::Path,
    project_id: i64,
    environment: &str,
    pid: u32,
) -> Result<()> {
    let conn = rusqlite::Connection::open(path).context("opening the history to release a lock")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute(
        "DELETE FROM locks WHERE project_id = ?1 AND environment = ?2 AND pid = ?3",
        params![project_id, environment, pid],
    )
    .context("releasing the environment's lock")?;
    Ok(())
}
