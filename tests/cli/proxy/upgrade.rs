//! No gap on restart or upgrade: a second `temps proxy` takes the very listening
//! sockets over from the first while clients keep coming, over HTTP/1.1, h2c and TLS,
//! and not one request fails; systemd's socket activation hands the proxy a socket whose
//! queued connections are served.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use temps::store::Tls;

use super::harness::{environment, eventually, route, Proxy, Upstream};
use super::tls::{secure, Authority};
use crate::common::{free_port, TestEnv};

/// One kind of client, each request on a new connection (curl), counting answers.
struct Clients {
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    failures: Arc<std::sync::Mutex<Vec<String>>>,
    handle: thread::JoinHandle<()>,
}

fn clients(stop: &Arc<AtomicBool>, args: Vec<String>) -> Clients {
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (stop, counted_ok, counted_failed, noted) = (
        Arc::clone(stop),
        Arc::clone(&ok),
        Arc::clone(&failed),
        Arc::clone(&failures),
    );
    let handle = thread::spawn(move || {
        // Bounded: at most this many requests, whatever happens.
        for _ in 0..20_000 {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let out = Command::new("curl")
                .args([
                    "-sS",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "--max-time",
                    "20",
                ])
                .args(&args)
                .output()
                .expect("curl");
            if out.status.success() && out.stdout == b"200" {
                counted_ok.fetch_add(1, Ordering::SeqCst);
            } else {
                counted_failed.fetch_add(1, Ordering::SeqCst);
                noted.lock().unwrap().push(format!(
                    "{} {}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        }
    });
    Clients {
        ok,
        failed,
        failures,
        handle,
    }
}

#[test]
fn a_new_proxy_takes_the_listeners_over_under_load_and_no_request_fails() {
    let env = TestEnv::new();
    let authority = Authority::new(env.dir.path());
    let plain = environment(&env, "plain");
    let secured = environment(&env, "secured");
    let upstream = Upstream::start("A");
    let (port, tls_port) = (free_port(), free_port());
    let (listen, tls_listen) = (format!("127.0.0.1:{port}"), format!("127.0.0.1:{tls_port}"));
    let (cert, key) = authority.issue(&["shop.example.test"]);
    secure(
        &env,
        secured,
        &tls_listen,
        &["shop.example.test"],
        Tls::Own { cert, key },
        0,
    );
    route(&env, plain, &listen, &[&upstream.addr]);
    let generation = route(&env, secured, &tls_listen, &[&upstream.addr]);
    let mut old = Proxy::start(&env);
    old.applied(generation);

    let stop = Arc::new(AtomicBool::new(false));
    let resolve = format!("shop.example.test:{tls_port}:127.0.0.1");
    let ca = authority.ca.display().to_string();
    let url = format!("http://127.0.0.1:{port}/");
    let tls_url = format!("https://shop.example.test:{tls_port}/");
    let kinds = [
        (
            "HTTP/1.1",
            clients(&stop, vec!["--http1.1".into(), url.clone()]),
        ),
        (
            "h2c",
            clients(&stop, vec!["--http2-prior-knowledge".into(), url]),
        ),
        (
            "HTTPS (h2)",
            clients(
                &stop,
                vec![
                    "--cacert".into(),
                    ca.clone(),
                    "--resolve".into(),
                    resolve.clone(),
                    tls_url.clone(),
                ],
            ),
        ),
        (
            "HTTPS (HTTP/1.1)",
            clients(
                &stop,
                vec![
                    "--http1.1".into(),
                    "--cacert".into(),
                    ca,
                    "--resolve".into(),
                    resolve,
                    tls_url,
                ],
            ),
        ),
    ];
    let answered_by_all = |at_least: u64| {
        kinds
            .iter()
            .all(|(_, c)| c.ok.load(Ordering::SeqCst) >= at_least)
    };
    let wait_for = |what: &str, at_least: u64| {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !answered_by_all(at_least) {
            assert!(std::time::Instant::now() < deadline, "{what}");
            thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for("every kind of client answered by the first proxy", 20);

    // Three upgrades in a row, each while every kind of client keeps asking.
    let mut new = Proxy::start(&env);
    for round in 0..3 {
        if round > 0 {
            old = new;
            new = Proxy::start(&env);
        }
        new.logged(&format!("taking over from pid {}", old.pid()));
        let status = old.exited(Duration::from_secs(30));
        assert_eq!(status.code(), Some(0), "{}", old.stderr());
        assert!(
            old.stderr().contains("handed over: stopped accepting"),
            "{}",
            old.stderr()
        );
        let after: u64 = kinds
            .iter()
            .map(|(_, c)| c.ok.load(Ordering::SeqCst))
            .max()
            .unwrap_or(0);
        wait_for(
            "every kind of client answered by the new proxy alone",
            after + 20,
        );
    }
    stop.store(true, Ordering::SeqCst);

    let state = eventually("the new proxy to report", || {
        new.state().filter(|s| s.pid == new.pid())
    });
    let mut listening = vec![listen, tls_listen];
    listening.sort();
    assert_eq!(state.listening, listening, "{state:?}");
    for (kind, clients) in kinds {
        clients.handle.join().expect("the clients");
        let (ok, failed) = (
            clients.ok.load(Ordering::SeqCst),
            clients.failed.load(Ordering::SeqCst),
        );
        eprintln!("{kind}: {ok} answered, {failed} failed");
        assert_eq!(
            failed,
            0,
            "{kind}: {failed} of {} requests failed: {:?}",
            ok + failed,
            clients.failures.lock().unwrap()
        );
    }
}

#[test]
fn a_successor_that_never_serves_leaves_the_first_proxy_serving() {
    let env = TestEnv::new();
    let web = environment(&env, "web");
    let upstream = Upstream::start("A");
    let port = free_port();
    let mut first = Proxy::start(&env);
    first.applied(route(
        &env,
        web,
        &format!("127.0.0.1:{port}"),
        &[&upstream.addr],
    ));
    // A successor that asks for the sockets, gets them, and goes away without saying
    // it serves (it crashed while starting, say).
    let mut db = std::fs::canonicalize(env.db()).expect("the history");
    db.set_file_name("temps.db-proxy-upgrade.sock");
    let mut successor = std::os::unix::net::UnixStream::connect(&db).expect("the upgrade socket");
    successor
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    successor.write_all(b"upgrade 1\n").expect("ask");
    let mut got = [0u8; 256];
    let n = successor.read(&mut got).expect("the sockets' addresses");
    assert_eq!(
        String::from_utf8_lossy(&got[..n]).trim(),
        format!("127.0.0.1:{port}")
    );
    drop(successor);
    first.logged("did not take over");
    first.logged("still serving");
    let mut client = super::harness::Client::connect(port);
    assert_eq!(client.get("/", "").from(), "A");
    assert_eq!(first.terminate().code(), Some(0));
}

#[test]
fn systemd_socket_activation_serves_the_connections_queued_before_the_proxy_started() {
    let env = TestEnv::new();
    let web = environment(&env, "web");
    let upstream = Upstream::start("A");
    // What systemd's .socket unit holds: a listening socket, bound before any proxy runs.
    let socket = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = socket.local_addr().expect("addr").port();
    let generation = route(&env, web, &format!("127.0.0.1:{port}"), &[&upstream.addr]);
    // A client connects and asks while nothing accepts yet: the kernel queues it.
    let mut early = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    early
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    write!(
        early,
        "GET / HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n"
    )
    .expect("send");

    // As systemd starts the service: the socket as fd 3, LISTEN_FDS=1, LISTEN_PID its pid.
    let fd = socket.as_raw_fd();
    let mut command = Command::new("sh");
    command
        .args(["-c", "LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" proxy"])
        .arg(env!("CARGO_BIN_EXE_temps"))
        .env("TEMPS_DB", env.db());
    // SAFETY: dup2 and fcntl are async-signal-safe; they only touch descriptors.
    unsafe {
        command.pre_exec(move || {
            if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0);
            } else if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let proxy = Proxy::spawn(command, env.db());
    drop(socket);
    proxy.applied(generation);
    proxy.logged("1 listening socket from systemd");
    proxy.logged(&format!("listening on 127.0.0.1:{port} (inherited)"));
    let mut answer = String::new();
    let _ = early.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\r\n\r\nA\n"), "{answer}");
}

#[test]
fn a_request_in_flight_on_the_old_proxy_still_counts_until_it_is_answered() {
    let env = TestEnv::new();
    let web = environment(&env, "web");
    let upstream = Upstream::start("A");
    let port = free_port();
    let mut old = Proxy::start(&env);
    old.applied(route(
        &env,
        web,
        &format!("127.0.0.1:{port}"),
        &[&upstream.addr],
    ));
    let slow = thread::spawn(move || super::harness::Client::connect(port).get("/slow", ""));
    eventually("the slow request to count", || {
        (old.in_flight(&upstream.addr) == 1).then_some(())
    });

    let new = Proxy::start(&env);
    old.logged("handed over: stopped accepting; finishing 1 request in flight");
    // The new proxy reports; the old one's request still counts from its very first
    // report (it keeps the old one's last report as draining), so a deploy's drain waits
    // for it before stopping the version it is on.
    let state = eventually("the new proxy's report", || {
        new.state().filter(|s| s.pid == new.pid())
    });
    assert_eq!(state.in_flight.get(&upstream.addr), Some(&1), "{state:?}");
    upstream.release();
    assert_eq!(slow.join().expect("the slow request").from(), "A");
    assert_eq!(old.exited(Duration::from_secs(15)).code(), Some(0));
    eventually("nothing in flight", || {
        (new.in_flight(&upstream.addr) == 0).then_some(())
    });
}
