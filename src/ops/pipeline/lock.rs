//! Taking an environment's lock: at once, or waiting up to `--wait-lock`; taking over
//! the lock of a holder that died (same host, process gone).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::clock::{ago, now_ms, rfc3339};
use crate::error::{ExitStatus, Failure};
use crate::progress::{Progress, Stage};
use crate::store::{release_lock, LockAttempt, LockHolder, Project, Store};
use crate::text::printable;

/// Held for the length of an operation; releasing happens on drop, whatever the outcome.
pub struct EnvLock {
    db: PathBuf,
    project_id: i64,
    environment: String,
    pid: u32,
}

impl Drop for EnvLock {
    fn drop(&mut self) {
        let _ = release_lock(&self.db, self.project_id, &self.environment, self.pid);
    }
}

/// The environment's lock as an operation's pipeline holds it: on every way out of the
/// operation (a refusal, a failure, the end) the lock is released and then its progress
/// told so (`unlock`), so an event stream always shows the lock let go.
pub struct Held<'p> {
    lock: Option<EnvLock>,
    progress: &'p dyn Progress,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        drop(self.lock.take());
        self.progress.stage(Stage::Unlock);
    }
}

/// Enter the pipeline's `lock` stage and lock `project/environment` for `asker`, for
/// the length of the operation.
pub fn hold_environment<'p>(
    store: &mut Store,
    project: &Project,
    environment: &str,
    asker: &Asker<'_>,
    progress: &'p dyn Progress,
) -> Result<Held<'p>> {
    progress.stage(Stage::Lock);
    let lock = lock_environment(store, project, environment, asker, progress)?;
    Ok(Held {
        lock: Some(lock),
        progress,
    })
}

/// Who asks for an environment's lock, for whoever finds it busy, and how long they wait.
#[derive(Debug, Clone, Copy)]
pub struct Asker<'a> {
    /// The command, like `rollback 41`.
    pub command: &'a str,
    /// Whom the history records as `created_by`: a person, or `token:NAME`.
    pub user: &'a str,
    /// `--wait-lock`; `None` answers busy at once.
    pub wait: Option<Duration>,
}

/// Lock `project/environment` for `asker`.
pub fn lock_environment(
    store: &mut Store,
    project: &Project,
    environment: &str,
    asker: &Asker<'_>,
    progress: &dyn Progress,
) -> Result<EnvLock> {
    let pid = std::process::id();
    let me = LockHolder {
        pid,
        pid_start: process_start(pid),
        host: hostname(),
        user: asker.user.to_string(),
        command: asker.command.to_string(),
        started_at: now_ms(),
    };
    let started = Instant::now();
    let mut announced = false;
    loop {
        match store.try_lock(project.id, environment, &me, is_alive)? {
            LockAttempt::Acquired { took_over } => {
                if let Some(dead) = &took_over {
                    progress.warn(&format!(
                        "took over the lock of `temps {}` (pid {}, {}, started {}): that process is gone, \
                         so its operation was interrupted",
                        printable(&dead.command),
                        dead.pid,
                        printable(&dead.user),
                        rfc3339(dead.started_at)
                    ));
                }
                return Ok(EnvLock {
                    db: store.path().to_path_buf(),
                    project_id: project.id,
                    environment: environment.to_string(),
                    pid,
                });
            }
            LockAttempt::Busy(holder) => {
                let waited = started.elapsed();
                match asker.wait {
                    Some(limit) if waited < limit => {
                        if !announced {
                            progress.step(&format!(
                                "waiting for `temps {}` (pid {}, {}) to finish",
                                printable(&holder.command),
                                holder.pid,
                                printable(&holder.user)
                            ));
                            announced = true;
                        }
                        std::thread::sleep(Duration::from_millis(50).min(limit - waited));
                    }
                    _ => return Err(busy(&project.name, environment, &holder, asker.wait).into()),
                }
            }
        }
    }
}

/// Who holds `project/environment`'s lock now, if a live process does (a dead holder's
/// lock is the next taker's).
pub fn live_holder(
    store: &Store,
    project: &Project,
    environment: &str,
) -> Result<Option<LockHolder>> {
    Ok(store.lock_holder(project.id, environment)?.filter(is_alive))
}

fn busy(project: &str, environment: &str, holder: &LockHolder, wait: Option<Duration>) -> Failure {
    let host = if holder.host == hostname() {
        String::new()
    } else {
        format!(" on {}", printable(&holder.host))
    };
    let waited = wait.map_or(String::new(), |w| {
        format!(" (waited {})", crate::clock::format_duration(w))
    });
    Failure::new(
        ExitStatus::Busy,
        format!(
            "{project}/{environment} is busy{waited}: `temps {}` by {} (pid {}{host}) since {} ({})",
            printable(&holder.command),
            printable(&holder.user),
            holder.pid,
            rfc3339(holder.started_at),
            ago(holder.started_at, now_ms())
        ),
    )
    .hint("wait for it to finish and try again, or pass `--wait-lock 2m` to wait")
}

/// A holder is alive unless it ran on this host and its process is gone (or its pid now
/// belongs to a process that started later). Holders on other hosts are presumed alive.
fn is_alive(holder: &LockHolder) -> bool {
    if holder.host != hostname() {
        return true;
    }
    // SAFETY: kill with signal 0 only checks that the pid exists; it touches no memory.
    let exists = unsafe { libc::kill(holder.pid as libc::pid_t, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    if !exists {
        return false;
    }
    match (holder.pid_start, process_start(holder.pid)) {
        (Some(then), Some(now)) => then == now,
        _ => true,
    }
}

/// The start time of a process (field 22 of `/proc/PID/stat`), where /proc exists.
fn process_start(pid: u32) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from the last `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".to_string();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_process_is_alive_and_a_gone_one_is_not() {
        let me = std::process::id();
        let holder = |pid, pid_start| LockHolder {
            pid,
            pid_start,
            host: hostname(),
            user: "alice".into(),
            command: "deploy web".into(),
            started_at: 0,
        };
        assert!(is_alive(&holder(me, process_start(me))));
        // Same pid, different start time: the pid was reused.
        assert!(!is_alive(&holder(me, process_start(me).map(|s| s + 1))));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        assert!(!is_alive(&holder(gone, None)));
        let elsewhere = LockHolder {
            host: "another-host".into(),
            ..holder(gone, None)
        };
        assert!(is_alive(&elsewhere));
    }
}
