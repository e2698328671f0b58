//! The operations (deploy, rollback, promote) as plain functions over the history and the
//! engine. They never print or prompt: they report progress through `crate::progress`,
//! so the command line and the API run the very same code (`operate`, once per entry
//! point). The rooms: `pipeline` (the skeleton every change runs), `deploy` and
//! `redeploy` (what each operation validates and records), `swap` (how what serves is
//! switched), `watch`, `gate`, `prune`, `standby`, `notify`, `view` (read-only) and `access`
//! (tokens, variables). ARCHITECTURE.md draws them.

pub mod access;
pub mod deploy;
pub mod gate;
pub mod notify;
pub mod operate;
pub mod pipeline;
pub mod prune;
pub mod redeploy;
pub mod release;
pub mod standby;
pub mod swap;
pub mod view;
pub mod watch;

static OPERATIONS_FINISH: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// From now on, SIGINT and SIGTERM never interrupt an operation of this process: a
/// server (`temps serve`) stops taking new work on a signal and lets the operations in
/// flight finish, where the command line restores the previous version.
pub fn let_operations_finish() {
    OPERATIONS_FINISH.store(true, std::sync::atomic::Ordering::SeqCst);
}

fn operations_finish() -> bool {
    OPERATIONS_FINISH.load(std::sync::atomic::Ordering::SeqCst)
}

/// A place where the crash tests kill the process (`TEMPS_FAULT=<point>`), to prove
/// that the next operation recovers. Compiled only with the `fault-points` feature: the
/// product build has none.
#[cfg(feature = "fault-points")]
pub fn fault_point(point: &str) {
    if std::env::var("TEMPS_FAULT").is_ok_and(|wanted| wanted == point) {
        // SAFETY: sending ourselves SIGKILL touches no memory.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}

#[cfg(not(feature = "fault-points"))]
#[inline(always)]
pub fn fault_point(_point: &str) {}

/// Who is making a change, for the history: `$USER` (or `$LOGNAME`), else the account's
/// name, else the numeric uid.
pub fn current_user() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        .or_else(account_name)
        // SAFETY: getuid cannot fail and touches no memory.
        .unwrap_or_else(|| format!("uid {}", unsafe { libc::getuid() }))
}

/// The name of the account this process runs as, from the password database.
fn account_name() -> Option<String> {
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    let mut buffer = vec![0 as libc::c_char; 4096];
    // SAFETY: getpwuid_r writes only into `entry` and `buffer`, whose sizes it is given,
    // and `found` points at `entry` or is null; the name is copied out before they go.
    let code = unsafe {
        libc::getpwuid_r(
            libc::getuid(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        )
    };
    if code != 0 || found.is_null() || entry.pw_name.is_null() {
        return None;
    }
    // SAFETY: on success pw_name points at a NUL-terminated string inside `buffer`.
    let name = unsafe { std::ffi::CStr::from_ptr(entry.pw_name) };
    name.to_str()
        .ok()
        .filter(|n| !n.is_empty())
        .map(str::to_string)
}
