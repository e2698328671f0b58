//! Ports that no two tests are handed, in this test run or in any other on the machine.
//!
//! A port taken by binding port 0 and closing the socket again is free only for a moment:
//! the kernel hands the same ephemeral ports to every other `bind(0)` and outgoing
//! connection, and tests running in parallel (here, and in other test runs on the machine)
//! bind them later. So the ports come from outside the kernel's ephemeral range
//! (`/proc/sys/net/ipv4/ip_local_port_range`), where nothing picks a port by chance; each is
//! handed out once per process (a process-wide counter, no wrapping) and held for the
//! process's life by a lock on its byte of one shared lock file (a `fcntl` record lock: the
//! kernel drops it when the process ends, however it ends), so two test processes never
//! hold the same one; and it is checked by a bind, so a port some other program listens on
//! is skipped.

use std::fs::File;
use std::net::TcpListener;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The lock file every test process on the machine shares for the host's ports.
const HOST_LOCKS: &str = "/tmp/temps-test-ports.lock";

/// A port on this host that nothing listens on, and that no other test (of this run or
/// of any other run on the machine) is handed while this process lives. Bind it, or let
/// temps, Docker or `temps proxy` bind it.
pub fn free_port() -> u16 {
    static HOST: OnceLock<PortPool> = OnceLock::new();
    HOST.get_or_init(|| {
        let (low, high) = outside_ephemeral_range();
        PortPool::new(Path::new(HOST_LOCKS), low, high)
    })
    .take(|port| TcpListener::bind(("0.0.0.0", port)).is_ok())
}

/// The widest run of ports, from 10000 up, that the kernel never hands out on its own.
fn outside_ephemeral_range() -> (u16, u16) {
    let (first, last) = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| {
            let mut bounds = text.split_whitespace().map(|n| n.parse::<u16>().ok());
            Some((bounds.next()??, bounds.next()??))
        })
        .unwrap_or((32768, 60999));
    let below = (10_000, first.saturating_sub(1));
    let above = (last.saturating_add(1).max(10_000), u16::MAX);
    let size = |(low, high): (u16, u16)| high.saturating_sub(low);
    let widest = if size(below) >= size(above) {
        below
    } else {
        above
    };
    assert!(
        size(widest) >= 1_000,
        "the kernel's ephemeral ports ({first}-{last}) leave the tests no range of their own"
    );
    widest
}

/// Ports `low..=high`, each handed out at most once by this process, and only while it
/// holds the port's lock in the shared lock file.
pub(crate) struct PortPool {
    locks: File,
    low: u16,
    span: u32,
    /// Where this process starts in the range: processes start at different places, so
    /// they rarely meet over the same locks.
    start: u32,
    /// How many ports this process has tried.
    tried: AtomicU32,
}

impl PortPool {
    /// Ports `low..=high`, locked in the file at `locks` (created when missing).
    pub(crate) fn new(locks: &Path, low: u16, high: u16) -> PortPool {
        let file = File::options()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o666)
            .open(locks)
            .unwrap_or_else(|e| panic!("cannot open the port lock file {}: {e}", locks.display()));
        let span = u32::from(high - low) + 1;
        PortPool {
            locks: file,
            low,
            span,
            start: std::process::id().wrapping_mul(7_919) % span,
            tried: AtomicU32::new(0),
        }
    }

    /// The next port whose lock this process gets and that `usable` accepts. Panics once
    /// the whole range has been tried.
    #[track_caller]
    pub(crate) fn take(&self, usable: impl Fn(u16) -> bool) -> u16 {
        loop {
            let n = self.tried.fetch_add(1, Ordering::SeqCst);
            assert!(
                n < self.span,
                "every port from {} to {} was handed out or taken",
                self.low,
                u32::from(self.low) + self.span - 1
            );
            let port = (u32::from(self.low) + (self.start + n) % self.span) as u16;
            if self.lock(port) && usable(port) {
                return port;
            }
        }
    }

    /// Hold the lock on `port`'s byte until the process ends; false when another process
    /// holds it.
    fn lock(&self, port: u16) -> bool {
        // SAFETY: a zeroed `flock` is a valid value; fcntl reads the struct we own, on a
        // descriptor this pool keeps open for the life of the process (closing any
        // descriptor of the file would drop every lock this process has on it).
        unsafe {
            let mut lock: libc::flock = std::mem::zeroed();
            lock.l_type = libc::F_WRLCK as libc::c_short;
            lock.l_whence = libc::SEEK_SET as libc::c_short;
            lock.l_start = libc::off_t::from(port);
            lock.l_len = 1;
            libc::fcntl(self.locks.as_raw_fd(), libc::F_SETLK, &lock) == 0
        }
    }
}
