//! The proxy's end of the wake-up socket (see `crate::wake`): bound while the proxy
//! runs, waited on by its route poller with the poll interval as its timeout, removed
//! when it ends.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;

use crate::wake::socket_path;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The proxy's end: bound while the proxy runs, removed when it ends.
pub struct Wakeup {
    socket: UnixDatagram,
    path: PathBuf,
    /// Device and inode of the socket file we made: a later proxy's is not ours to remove.
    identity: (u64, u64),
}

impl Wakeup {
    /// Bind the wake-up socket of the history at `db`. A socket file already there is
    /// one a proxy left behind (a second proxy of one history is refused before this):
    /// it is replaced. Anything else in its place is left alone, and so is the error.
    pub fn bind(db: &Path) -> Result<Wakeup, String> {
        let path = socket_path(db).ok_or("the history's path does not resolve")?;
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_socket() => fs::remove_file(&path)
                .map_err(|e| format!("removing the old `{}`: {e}", path.display()))?,
            Ok(_) => {
                return Err(format!(
                    "`{}` exists and is not a socket; leaving it alone",
                    path.display()
                ))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(format!("`{}`: {e}", path.display())),
        }
        let socket = UnixDatagram::bind(&path).map_err(|e| format!("`{}`: {e}", path.display()))?;
        let meta = fs::symlink_metadata(&path).map_err(|e| format!("`{}`: {e}", path.display()))?;
        let wakeup = Wakeup {
            socket,
            identity: (meta.dev(), meta.ino()),
            path,
        };
        // Whoever may write the history may wake the proxy, and nobody else: the socket
        // takes the database's permissions (and its group, where we may give it).
        if let Ok(db_meta) = fs::metadata(db) {
            let mode = db_meta.permissions().mode() & 0o666;
            fs::set_permissions(&wakeup.path, fs::Permissions::from_mode(mode))
                .map_err(|e| format!("`{}`: {e}", wakeup.path.display()))?;
            if db_meta.gid() != meta.gid() {
                let _ = std::os::unix::fs::chown(&wakeup.path, None, Some(db_meta.gid()));
            }
        }
        Ok(wakeup)
    }

    #[cfg(test)]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Wait until a wake-up arrives (true) or `timeout` passes (false), checking `stop`
    /// at least every `slice`. Wake-ups that arrived meanwhile are all taken: one look
    /// at the routes covers them.
    pub fn wait(&self, timeout: Duration, slice: Duration, stop: &dyn Fn() -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 16];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || stop() {
                return false;
            }
            let _ = self
                .socket
                .set_read_timeout(Some(left.min(slice).max(Duration::from_millis(1))));
            match self.socket.recv(&mut buf) {
                Ok(_) => {
                    self.drain();
                    return true;
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // Something is wrong with the socket: sleep out the slice, as the poll did.
                Err(_) => std::thread::sleep(left.min(slice)),
            }
        }
    }

    fn drain(&self) {
        let mut buf = [0u8; 16];
        if self.socket.set_nonblocking(true).is_ok() {
            while self.socket.recv(&mut buf).is_ok() {}
            let _ = self.socket.set_nonblocking(false);
        }
    }
}

impl Drop for Wakeup {
    fn drop(&mut self) {
        // Only our own file: a proxy started since may have replaced it.
        if fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.identity) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wake::notify;

    fn history() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("a temp dir");
        let db = dir.path().join("temps.db");
        fs::write(&db, b"").expect("the db file");
        fs::set_permissions(&db, fs::Permissions::from_mode(0o600)).expect("chmod");
        (dir, db)
    }

    #[test]
    fn a_notification_wakes_the_bound_socket_and_several_count_as_one() {
        let (_dir, db) = history();
        let wakeup = Wakeup::bind(&db).expect("bind");
        let never = || false;
        assert!(!wakeup.wait(Duration::from_millis(1), Duration::from_millis(1), &never));
        notify(&db);
        notify(&db);
        notify(&db);
        assert!(wakeup.wait(Duration::from_secs(3600), Duration::from_secs(3600), &never));
        // All three were taken by the first wake-up.
        assert!(!wakeup.wait(Duration::from_millis(1), Duration::from_millis(1), &never));
        let mode = fs::metadata(wakeup.path())
            .expect("socket")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the database's permissions");
    }

    #[test]
    fn a_stop_ends_the_wait_without_a_wakeup() {
        let (_dir, db) = history();
        let wakeup = Wakeup::bind(&db).expect("bind");
        let stop = || true;
        assert!(!wakeup.wait(Duration::from_secs(3600), Duration::from_millis(1), &stop));
    }

    #[test]
    fn a_socket_left_behind_is_replaced_and_removed_on_drop_only_if_ours() {
        let (_dir, db) = history();
        let path = socket_path(&db).expect("a path");
        // A killed proxy's socket: bound once, its file left behind.
        drop(UnixDatagram::bind(&path).expect("bind"));
        assert!(path.exists());
        notify(&db); // nobody listens: ignored
        let first = Wakeup::bind(&db).expect("rebind over the old file");
        let second = Wakeup::bind(&db).expect("a restarted proxy takes it over");
        drop(first);
        assert!(
            path.exists(),
            "the first did not remove the second's socket"
        );
        notify(&db);
        let never = || false;
        assert!(second.wait(Duration::from_secs(3600), Duration::from_secs(3600), &never));
        drop(second);
        assert!(!path.exists(), "removed with the proxy");
    }

    #[test]
    fn a_file_that_is_not_a_socket_is_left_alone() {
        let (_dir, db) = history();
        let path = socket_path(&db).expect("a path");
        fs::write(&path, b"mine").expect("a file");
        assert!(Wakeup::bind(&db).is_err());
        assert_eq!(fs::read(&path).expect("still there"), b"mine");
        notify(&db); // not a socket: ignored
    }

    #[test]
    fn a_symlinked_history_shares_the_socket() {
        let (dir, db) = history();
        let link = dir.path().join("link.db");
        std::os::unix::fs::symlink(&db, &link).expect("symlink");
        let wakeup = Wakeup::bind(&link).expect("bind");
        notify(&db);
        let never = || false;
        assert!(wakeup.wait(Duration::from_secs(3600), Duration::from_secs(3600), &never));
    }
}
