//! The upstream of the proxy benchmark: a small HTTP/1.1 server that keeps connections
//! alive (busybox httpd closes every one, so each request would pay a fork and a
//! connect, and hide what the proxy costs). Every GET is answered `200` with its version
//! (`/healthz` included); a thread per connection. `?work=N` in the target makes it spend
//! N µs of CPU (its thread's CPU time, not wall time) before answering, like an app with
//! a handler to run.
//!
//!   upstream [PORT] [VERSION]      (defaults: 8080 v1)
//!
//! Built by benches/proxy.sh with `rustc -O -C target-feature=+crt-static` (std only) and
//! imported as an image with busybox, whose `sh` turns SIGTERM into a quick exit.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;

fn main() {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(8080);
    let version = args.next().unwrap_or_else(|| "v1".to_string());
    let body = format!("{version}\n");
    let answer: Arc<[u8]> = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
    .into();
    let listener = TcpListener::bind(("0.0.0.0", port)).expect("bind the port");
    for stream in listener.incoming().flatten() {
        let answer = Arc::clone(&answer);
        thread::spawn(move || serve(stream, &answer));
    }
}

/// Answer the requests on one connection until the client closes it (or asks to).
fn serve(stream: TcpStream, answer: &[u8]) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::with_capacity(4096, stream);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut close = line.trim_end().ends_with("HTTP/1.0");
        let work_us = work(&line);
        let mut length = 0usize;
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("connection") {
                    close = value.eq_ignore_ascii_case("close");
                } else if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse().unwrap_or(0);
                }
            }
        }
        if length > 0
            && std::io::copy(&mut (&mut reader).take(length as u64), &mut std::io::sink()).is_err()
        {
            return;
        }
        if work_us > 0 {
            let until = thread_cpu_ns() + work_us * 1000;
            while thread_cpu_ns() < until {
                std::hint::spin_loop();
            }
        }
        if writer.write_all(answer).is_err() || close {
            return;
        }
    }
}

/// The N of `work=N` in a request line's target, else 0.
fn work(request_line: &str) -> u64 {
    let target = request_line.split(' ').nth(1).unwrap_or_default();
    let query = target.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("work="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

extern "C" {
    fn clock_gettime(clock: i32, now: *mut Timespec) -> i32;
}

/// CPU time this thread has used, in ns (CLOCK_THREAD_CPUTIME_ID).
fn thread_cpu_ns() -> u64 {
    let mut now = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `now` is a valid, writable timespec; clock 3 is CLOCK_THREAD_CPUTIME_ID.
    unsafe { clock_gettime(3, &mut now) };
    now.sec as u64 * 1_000_000_000 + now.nsec as u64
}
