//! The upstream of the proxy benchmark: a small HTTP/1.1 server that keeps connections
//! alive (busybox httpd closes every one, so each request would pay a fork and a
//! connect, and hide what the proxy costs). Every GET is answered `200` with its version
//! (`/healthz` included); a thread per connection.
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
        if writer.write_all(answer).is_err() || close {
            return;
        }
    }
}
