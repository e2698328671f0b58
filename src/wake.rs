//! The proxy's wake-up, as everyone but the proxy sees it: a route change need not wait for the next poll. A running
//! `temps proxy` binds a unix datagram socket beside the history (`<db>-proxy.sock`, the
//! database's path resolved through symlinks, as SQLite's `-wal` sits beside it), and its
//! route poller waits on it with the poll interval as its timeout. Whoever commits a
//! route change sends one empty datagram there. Nothing depends on it: a send that fails
//! (no proxy, a socket left behind by a killed one, no permission, a path too long for a
//! unix socket) changes nothing, and the poll picks the change up as before.
//!
//! The datagram carries nothing but "look now": the poller reads the generation from the
//! history whatever wakes it, so a stray datagram costs one cheap read and no more.

use std::fs;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

/// The wake-up socket of the history at `db`, or `None` when the database's path cannot
/// be resolved.
pub fn socket_path(db: &Path) -> Option<PathBuf> {
    let db = fs::canonicalize(db).ok()?;
    let mut name = db.file_name()?.to_os_string();
    name.push("-proxy.sock");
    Some(db.with_file_name(name))
}

/// Tell a running proxy of the history at `db` to look at the routes now. Never blocks,
/// never fails: the proxy polls anyway.
pub fn notify(db: &Path) {
    let Some(path) = socket_path(db) else {
        return;
    };
    if let Ok(socket) = UnixDatagram::unbound() {
        // A full queue already holds a wake-up: never wait for room.
        let _ = socket.set_nonblocking(true);
        let _ = socket.send_to(b"r", &path);
    }
}

/// True when a proxy that reported `heartbeat_at` from process `pid` runs now: its
/// heartbeat is recent and its process exists.
pub fn proxy_runs(heartbeat_at: i64, pid: u32, now_ms: i64) -> bool {
    now_ms - heartbeat_at < 2_000 && process_exists(pid)
}

/// Whether process `pid` exists (under any user).
pub fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 only checks that the pid exists; it touches no memory.
    // EPERM means it exists under another user.
    pid > 0
        && (unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}
