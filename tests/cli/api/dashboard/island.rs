//! The browser's own network: a network namespace with nothing but a loopback, which
//! reaches this host's loopback only at the ports a test lets through.
//!
//! chromium watches the host's links and addresses, and when one comes or goes it fails
//! every request in flight or waiting for a connection with `ERR_NETWORK_CHANGED`, never
//! retried: the page sees "Failed to fetch" (the dashboard's "temps serve did not
//! answer"), or chromium shows its own error page instead of the page. Docker adds and
//! removes a link for each container it starts and stops, and the tests that run beside
//! the dashboard's start containers all the time. Inside a namespace of its own chromium
//! sees one link, which never changes.
//!
//! Making the namespace takes `CAP_SYS_ADMIN` (CI runs as root). Without it the browser
//! shares the host's network, as it did before, and a note says so.

use std::io;
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;

/// What the one thread inside the namespace does: what it opens or starts is there.
enum Job {
    Spawn(Command, mpsc::Sender<io::Result<Child>>),
    Listen(u16, mpsc::Sender<io::Result<TcpListener>>),
    Connect(u16, mpsc::Sender<io::Result<TcpStream>>),
}

/// Asks the thread inside for one job and waits for its answer.
#[derive(Clone)]
struct Inside(mpsc::Sender<Job>);

impl Inside {
    fn ask<T>(&self, job: impl FnOnce(mpsc::Sender<T>) -> Job) -> T {
        let (answer, answered) = mpsc::channel();
        self.0
            .send(job(answer))
            .expect("the namespace's thread runs");
        answered.recv().expect("the namespace's thread answers")
    }
}

/// A network namespace for the browser, or the host's network when none could be made.
pub struct Island {
    /// `None` on the host's network.
    inside: Option<Inside>,
    /// The passages' listeners, stopped when the island goes.
    passages: Vec<Passage>,
}

/// A listener that carries each connection it accepts over to the other side.
struct Passage {
    stop: Arc<AtomicBool>,
    port: u16,
    /// Whether the listener is inside (else on the host).
    inside: bool,
}

impl Island {
    /// A new namespace with its loopback up (or the host's network, with a note).
    pub fn new() -> Island {
        let (jobs, work) = mpsc::channel::<Job>();
        let (said, made) = mpsc::channel();
        thread::spawn(move || {
            // SAFETY: unshare takes no pointers; it moves only this thread (and what it
            // starts from now on) to a new network namespace.
            let entered = if unsafe { libc::unshare(libc::CLONE_NEWNET) } == 0 {
                loopback_up()
            } else {
                Err(io::Error::last_os_error())
            };
            let inside = entered.is_ok();
            let _ = said.send(entered);
            if !inside {
                return;
            }
            for job in work {
                match job {
                    Job::Spawn(mut command, answer) => {
                        let _ = answer.send(command.spawn());
                    }
                    Job::Listen(port, answer) => {
                        let _ = answer.send(TcpListener::bind((Ipv4Addr::LOCALHOST, port)));
                    }
                    Job::Connect(port, answer) => {
                        let _ = answer.send(TcpStream::connect((Ipv4Addr::LOCALHOST, port)));
                    }
                }
            }
        });
        let inside = match made.recv().expect("the namespace's thread answers") {
            Ok(()) => Some(Inside(jobs)),
            Err(why) => {
                eprintln!(
                    "note: the browser shares this host's network (no namespace of its own: {why}); \
                     a link that comes or goes meanwhile (a container starting) fails its requests"
                );
                None
            }
        };
        Island {
            inside,
            passages: Vec::new(),
        }
    }

    /// Start `command` inside.
    pub fn spawn(&self, mut command: Command) -> io::Result<Child> {
        match &self.inside {
            Some(inside) => inside.ask(|answer| Job::Spawn(command, answer)),
            None => command.spawn(),
        }
    }

    /// Let connections to 127.0.0.1:`port` inside through to this host's 127.0.0.1:`port`.
    pub fn let_out(&mut self, port: u16) {
        let Some(inside) = &self.inside else {
            return;
        };
        let listener = inside
            .ask(|answer| Job::Listen(port, answer))
            .unwrap_or_else(|e| panic!("listening on 127.0.0.1:{port} inside: {e}"));
        self.pass(listener, port, true, move || {
            TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        });
    }

    /// A port of this host's loopback whose connections go through to 127.0.0.1:`port`
    /// inside.
    pub fn let_in(&mut self, port: u16) -> u16 {
        let Some(inside) = self.inside.clone() else {
            return port;
        };
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a port on this host's loopback");
        let here = listener.local_addr().expect("its address").port();
        self.pass(listener, here, false, move || {
            inside.ask(|answer| Job::Connect(port, answer))
        });
        here
    }

    /// Accept on `listener` until the island goes; splice each connection to what
    /// `onward` opens on the other side.
    fn pass(
        &mut self,
        listener: TcpListener,
        port: u16,
        inside: bool,
        onward: impl Fn() -> io::Result<TcpStream> + Send + 'static,
    ) {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        thread::spawn(move || {
            for accepted in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                // A side that cannot be reached: the connection closes, as it would.
                if let (Ok(accepted), Ok(onward)) = (accepted, onward()) {
                    let _ = splice(accepted, onward);
                }
            }
        });
        self.passages.push(Passage { stop, port, inside });
    }
}

impl Drop for Island {
    fn drop(&mut self) {
        // Each listener wakes to a last connection, sees it should stop, and closes.
        for passage in self.passages.drain(..) {
            passage.stop.store(true, Ordering::SeqCst);
            let _ = match (&self.inside, passage.inside) {
                (Some(inside), true) => inside.ask(|answer| Job::Connect(passage.port, answer)),
                _ => TcpStream::connect((Ipv4Addr::LOCALHOST, passage.port)),
            };
        }
    }
}

/// Bring the namespace's loopback up (it starts down).
fn loopback_up() -> io::Result<()> {
    // SAFETY: a socket for the ioctls, owned (closed) by `OwnedFd`; `request` is a zeroed
    // `ifreq` naming `lo`, which both ioctls read and SIOCGIFFLAGS writes into.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let socket = OwnedFd::from_raw_fd(fd);
        let mut request: libc::ifreq = std::mem::zeroed();
        for (to, from) in request.ifr_name.iter_mut().zip(b"lo") {
            *to = *from as libc::c_char;
        }
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) < 0 {
            return Err(io::Error::last_os_error());
        }
        request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Copy each way between two connections until each side ends, on threads of their own.
fn splice(a: TcpStream, b: TcpStream) -> io::Result<()> {
    let _ = (a.set_nodelay(true), b.set_nodelay(true));
    for (mut from, mut to) in [(a.try_clone()?, b.try_clone()?), (b, a)] {
        thread::spawn(move || {
            let _ = io::copy(&mut from, &mut to);
            let _ = to.shutdown(Shutdown::Write);
        });
    }
    Ok(())
}
