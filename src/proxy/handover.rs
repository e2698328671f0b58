//! No gap on restart or upgrade: the listening sockets outlive the process that accepts
//! on them.
//!
//! - systemd socket activation: sockets passed as fds 3… with `LISTEN_FDS` and
//!   `LISTEN_PID` (`sd_listen_fds`) are used for the routed addresses they are bound to.
//! - A `temps proxy` started while another serves the history asks it, over a unix
//!   socket beside the history (`<db>-proxy-upgrade.sock`), for its listening sockets:
//!   the very sockets, passed with `SCM_RIGHTS` (as pingora and tableflip do), so the
//!   connections waiting in their accept queues are not lost, as they would be with two
//!   sockets sharing a port (`SO_REUSEPORT`). Both accept on them until the new one
//!   says it serves (`ready`); then the old one stops accepting, finishes what is in
//!   flight (up to its `--shutdown-timeout`) and exits. If the new one never says so,
//!   the old one keeps serving.

use std::fs;
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The most listening sockets handed over at once.
const MAX_SOCKETS: usize = 250;
/// How long the new proxy may take between receiving the sockets and serving.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The listening sockets systemd passed (`LISTEN_FDS`, for this process by
/// `LISTEN_PID`), TCP only; the variables are cleared so no child takes them too.
pub fn from_systemd() -> Vec<TcpListener> {
    let pid = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok());
    let count = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<i32>().ok());
    std::env::remove_var("LISTEN_PID");
    std::env::remove_var("LISTEN_FDS");
    std::env::remove_var("LISTEN_FDNAMES");
    let (Some(pid), Some(count)) = (pid, count) else {
        return Vec::new();
    };
    if pid != std::process::id() {
        return Vec::new();
    }
    (3..3 + count.clamp(0, MAX_SOCKETS as i32))
        .filter_map(|fd| {
            // SAFETY: systemd passes these descriptors to this process for it to own.
            let owned = unsafe { OwnedFd::from_raw_fd(fd) };
            listening_tcp(owned)
        })
        .collect()
}

/// `fd` as a TCP listener when it is a listening TCP socket (closed otherwise).
fn listening_tcp(fd: OwnedFd) -> Option<TcpListener> {
    let raw = fd.as_raw_fd();
    let mut accepting: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes one c_int into `accepting`; fcntl only sets a flag.
    let listening = unsafe {
        libc::getsockopt(
            raw,
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&mut accepting as *mut libc::c_int).cast(),
            &mut len,
        ) == 0
            && accepting == 1
            && libc::fcntl(raw, libc::F_SETFD, libc::FD_CLOEXEC) == 0
    };
    let listener = TcpListener::from(fd);
    (listening && listener.local_addr().is_ok()).then_some(listener)
}

/// The upgrade socket of the history at `db`.
pub fn socket_path(db: &Path) -> Option<PathBuf> {
    let db = fs::canonicalize(db).ok()?;
    let mut name = db.file_name()?.to_os_string();
    name.push("-proxy-upgrade.sock");
    Some(db.with_file_name(name))
}

/// The running proxy's end: where a successor asks for the sockets.
pub struct Upgrades {
    pub listener: tokio::net::UnixListener,
    path: PathBuf,
    identity: (u64, u64),
}

impl Upgrades {
    /// Bind the upgrade socket of the history at `db` (replacing one a killed proxy
    /// left), with the database's permissions.
    pub fn bind(db: &Path) -> Result<Upgrades, String> {
        let path = socket_path(db).ok_or("the history's path does not resolve")?;
        let shown = path.display().to_string();
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_socket() => {
                fs::remove_file(&path).map_err(|e| format!("removing `{shown}`: {e}"))?
            }
            Ok(_) => {
                return Err(format!(
                    "`{shown}` exists and is not a socket; leaving it alone"
                ))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(format!("`{shown}`: {e}")),
        }
        let listener = UnixListener::bind(&path).map_err(|e| format!("`{shown}`: {e}"))?;
        let meta = fs::symlink_metadata(&path).map_err(|e| format!("`{shown}`: {e}"))?;
        if let Ok(db_meta) = fs::metadata(db) {
            let mode = db_meta.permissions().mode() & 0o600;
            let _ = fs::set_permissions(&path, fs::Permissions::from_mode(mode));
        }
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("`{shown}`: {e}"))?;
        let listener =
            tokio::net::UnixListener::from_std(listener).map_err(|e| format!("`{shown}`: {e}"))?;
        Ok(Upgrades {
            listener,
            path,
            identity: (meta.dev(), meta.ino()),
        })
    }
}

impl Drop for Upgrades {
    fn drop(&mut self) {
        if fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.identity) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// The old proxy's side, on one successor's connection: send it `sockets` (with their
/// addresses), then wait for it to say it serves. Returns its pid.
pub fn give(stream: UnixStream, sockets: Vec<(SocketAddr, OwnedFd)>) -> io::Result<u32> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut asked = String::new();
    reader.read_line(&mut asked)?;
    let pid: u32 = asked
        .strip_prefix("upgrade ")
        .and_then(|p| p.trim().parse().ok())
        .ok_or_else(|| io::Error::new(ErrorKind::InvalidData, "not an upgrade request"))?;
    let addresses: Vec<String> = sockets.iter().map(|(a, _)| a.to_string()).collect();
    let fds: Vec<RawFd> = sockets.iter().map(|(_, fd)| fd.as_raw_fd()).collect();
    let mut payload = addresses.join(" ").into_bytes();
    payload.push(b'\n');
    send_with_fds(&stream, &payload, &fds)?;
    drop(sockets);
    stream.set_read_timeout(Some(READY_TIMEOUT))?;
    let mut ready = String::new();
    reader.read_line(&mut ready)?;
    if ready.trim() != "ready" {
        return Err(io::Error::new(
            ErrorKind::UnexpectedEof,
            "it stopped before serving",
        ));
    }
    let _ = (&stream).write_all(b"stopping\n");
    Ok(pid)
}

/// The new proxy's side: ask the proxy serving the history at `db` for its listening
/// sockets. Keep the connection to say `ready` once serving ([`ready`]).
pub fn take(db: &Path) -> io::Result<(Vec<TcpListener>, UnixStream)> {
    let path = socket_path(db).ok_or_else(|| {
        io::Error::new(ErrorKind::NotFound, "the history's path does not resolve")
    })?;
    let stream = UnixStream::connect(&path)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    (&stream).write_all(format!("upgrade {}\n", std::process::id()).as_bytes())?;
    let (payload, fds) = receive_with_fds(&stream)?;
    let addresses = String::from_utf8_lossy(&payload);
    let wanted = addresses.split_whitespace().count();
    let sockets: Vec<TcpListener> = fds.into_iter().filter_map(listening_tcp).collect();
    if sockets.len() != wanted {
        return Err(io::Error::new(
            ErrorKind::InvalidData,
            format!("{} of {wanted} listening sockets arrived", sockets.len()),
        ));
    }
    Ok((sockets, stream))
}

/// Tell the old proxy that this one serves: it stops accepting and drains.
pub fn ready(stream: UnixStream) -> io::Result<()> {
    (&stream).write_all(b"ready\n")?;
    let mut answer = String::new();
    let _ = BufReader::new(&stream).read_to_string(&mut answer);
    Ok(())
}

fn send_with_fds(stream: &UnixStream, payload: &[u8], fds: &[RawFd]) -> io::Result<()> {
    let fds_len = std::mem::size_of_val(fds);
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(fds_len as u32) } as usize;
    let mut control = vec![0u8; space.max(1)];
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr() as *mut libc::c_void,
        iov_len: payload.len(),
    };
    // SAFETY: msghdr is plain data; every pointer set below points into live buffers
    // of the sizes given, and the control message is built within `control`.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if !fds.is_empty() {
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = space as _;
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(fds_len as u32) as _;
            std::ptr::copy_nonoverlapping(
                fds.as_ptr().cast::<u8>(),
                libc::CMSG_DATA(cmsg),
                fds_len,
            );
        }
        if libc::sendmsg(stream.as_raw_fd(), &msg, 0) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn receive_with_fds(stream: &UnixStream) -> io::Result<(Vec<u8>, Vec<OwnedFd>)> {
    let mut payload = vec![0u8; 64 * 1024];
    let fds_len = MAX_SOCKETS * std::mem::size_of::<RawFd>();
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(fds_len as u32) } as usize;
    let mut control = vec![0u8; space];
    let mut iov = libc::iovec {
        iov_base: payload.as_mut_ptr().cast(),
        iov_len: payload.len(),
    };
    let mut fds = Vec::new();
    // SAFETY: as in `send_with_fds`; the descriptors the kernel put in the control
    // message are this process's from now on, and each is owned exactly once.
    let received = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        let received = libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC);
        if received < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg);
                let bytes = (*cmsg).cmsg_len as usize - (data as usize - cmsg as usize);
                for i in 0..bytes / std::mem::size_of::<RawFd>() {
                    let fd = std::ptr::read_unaligned(data.cast::<RawFd>().add(i));
                    fds.push(OwnedFd::from_raw_fd(fd));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
        received as usize
    };
    payload.truncate(received);
    Ok((payload, fds))
}
