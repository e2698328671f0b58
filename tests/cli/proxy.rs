//! `temps proxy`: routes written to the history are served, switched without a restart
//! and drained; WebSocket upgrades pass through; SIGTERM finishes what is in flight.

mod acme;
pub(crate) mod attacks;
pub(crate) mod harness;
mod http1;
mod resources;
pub(crate) mod tls;
mod upgrade;

use std::thread;

use harness::{environment, eventually, proxy_refused, route, Answer, Client, Proxy, Upstream};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::common::{free_port, TestEnv};

#[test]
fn requests_carry_forwarding_headers_and_follow_a_switch_on_the_same_connection() {
    let env = TestEnv::new();
    let web = environment(&env, "web");
    let (a, b) = (Upstream::start("A"), Upstream::start("B"));
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let first = route(&env, web, &listen, &[&a.addr]);
    let proxy = Proxy::start(&env);
    let state = proxy.applied(first);
    assert_eq!(state.listening, vec![listen.clone()]);
    assert_eq!(state.pid, proxy.pid());

    let mut client = Client::connect(port);
    let answer = client.get(
        "/",
        "Connection: keep-alive, X-Hop\r\nX-Hop: secret\r\nX-Forwarded-For: 203.0.113.9\r\n",
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.from(), "A");
    assert_eq!(answer.seen("host"), "shop.example");
    assert_eq!(answer.seen("x-forwarded-for"), "203.0.113.9, 127.0.0.1");
    assert_eq!(answer.seen("x-forwarded-proto"), "http");
    assert_eq!(answer.seen("x-forwarded-host"), "shop.example");
    assert_eq!(
        answer.seen("x-hop"),
        "",
        "a header named by Connection is hop-by-hop"
    );
    assert!(
        !answer.headers.iter().any(|(k, _)| k == "keep-alive"),
        "the upstream's hop-by-hop headers stay behind: {:?}",
        answer.headers
    );

    // The proxy reports the generation it applied: the next request goes by it.
    let second = route(&env, web, &listen, &[&b.addr]);
    let state = proxy.applied(second);
    assert_eq!(state.generation, second, "{state:?}");
    assert_eq!(state.pid, proxy.pid(), "no restart");
    let answer = client.get("/", "");
    assert_eq!(
        answer.from(),
        "B",
        "the next request on the same connection: {answer:?}"
    );
    proxy.logged(&format!("applied generation {second}"));
}

#[test]
fn h2c_requests_pass_through() {
    let env = TestEnv::new();
    let web = environment(&env, "web");
    let a = Upstream::start("A");
    let port = free_port();
    let proxy = Proxy::start(&env);
    proxy.applied(route(&env, web, &format!("127.0.0.1:{port}"), &[&a.addr]));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let answer = runtime.block_on(async {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .expect("an HTTP/2 handshake (prior knowledge)");
        tokio::spawn(connection);
        let request = hyper::Request::post(format!("http://shop.example:{port}/h2"))
            .header("content-length", "5")
            .body(Full::new(Bytes::from_static(b"hello")))
            .expect("request");
        let response = sender.send_request(request).await.expect("an answer");
        assert_eq!(response.version(), hyper::Version::HTTP_2);
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        Answer {
            status,
            headers: Vec::new(),
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    });
    assert_eq!((answer.status, answer.from()), (200, "A"), "{answer:?}");
    assert_eq!(answer.seen("host"), format!("shop.example:{port}"));
    assert_eq!(
        answer.seen("x-forwarded-host"),
        format!("shop.example:{port}")
    );
    assert_eq!(answer.seen("x-forwarded-proto"), "http");
    assert_eq!(answer.seen("body"), "hello");
}

#[test]
fn a_slow_request_counts_in_flight_on_its_upstream_until_answered() {
    let env = TestEnv::new();
    let web = environment(&env, "web");
    let (a, b) = (Upstream::start("A"), Upstream::start("B"));
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let proxy = Proxy::start(&env);
    proxy.applied(route(&env, web, &listen, &[&a.addr]));
    assert_eq!(proxy.in_flight(&a.addr), 0);

    let slow = thread::spawn(move || Client::connect(port).get("/slow", ""));
    eventually("the slow request to count", || {
        (proxy.in_flight(&a.addr) == 1).then_some(())
    });
    // Switched away, A still has the request: the deploy side must not stop it yet.
    let state = proxy.applied(route(&env, web, &listen, &[&b.addr]));
    assert_eq!(state.in_flight.get(&a.addr), Some(&1), "{state:?}");
    assert_eq!(state.in_flight.get(&b.addr), Some(&0), "{state:?}");
    assert_eq!(Client::connect(port).get("/", "").from(), "B");

    a.release();
    let answer = slow.join().expect("the slow request");
    assert_eq!(
        answer.from(),
        "A",
        "a request stays on the upstream it started on"
    );
    eventually("A to drain", || {
        let state = proxy.state()?;
        (!state.in_flight.contains_key(&a.addr)).then_some(())
    });
}

#[test]
fn websocket_upgrades_pass_through_and_stay_on_their_upstream() {
    let env = TestEnv::new();
    let web = environment(&env, "web");
    let (a, b) = (Upstream::start("A"), Upstream::start("B"));
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let proxy = Proxy::start(&env);
    proxy.applied(route(&env, web, &listen, &[&a.addr]));

    let mut socket = Client::connect(port);
    socket.send(
        "GET /ws HTTP/1.1\r\nHost: shop.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    );
    let answer = socket.answer();
    assert_eq!(answer.status, 101, "{answer:?}");
    assert_eq!(socket.exchange("ping"), "A:ping");
    eventually("the upgraded connection to count", || {
        (proxy.in_flight(&a.addr) == 1).then_some(())
    });

    proxy.applied(route(&env, web, &listen, &[&b.addr]));
    assert_eq!(socket.exchange("still there?"), "A:still there?");
    assert_eq!(Client::connect(port).get("/", "").from(), "B");
    assert_eq!(proxy.in_flight(&a.addr), 1);
    drop(socket);
    eventually("the closed connection to drain", || {
        (proxy.in_flight(&a.addr) == 0).then_some(())
    });
}

#[test]
fn replicas_take_turns_a_dead_one_is_retried_elsewhere_and_none_answers_503() {
    let env = TestEnv::new();
    let web = environment(&env, "web");
    let (a, b) = (Upstream::start("A"), Upstream::start("B"));
    let dead = format!("127.0.0.1:{}", free_port());
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let proxy = Proxy::start(&env);
    proxy.applied(route(&env, web, &listen, &[&a.addr, &b.addr]));
    let mut client = Client::connect(port);
    let mut seen: Vec<String> = (0..4)
        .map(|_| client.get("/", "").from().to_string())
        .collect();
    seen.sort();
    assert_eq!(seen, ["A", "A", "B", "B"]);

    proxy.applied(route(&env, web, &listen, &[&dead, &a.addr]));
    // The first request in turn meets the dead one: its body goes to A all the same.
    for i in 0..4 {
        let answer = client.post("/", &format!("order {i}"));
        assert_eq!((answer.status, answer.from()), (200, "A"), "{answer:?}");
        assert_eq!(answer.seen("body"), format!("order {i}"));
        let answer = client.get("/", "");
        assert_eq!((answer.status, answer.from()), (200, "A"), "{answer:?}");
    }

    proxy.applied(route(&env, web, &listen, &[&dead]));
    assert_eq!(Client::connect(port).get("/", "").status, 502);
    proxy.logged(&format!("cannot connect to upstream {dead}"));

    proxy.applied(route(&env, web, &listen, &[]));
    assert_eq!(Client::connect(port).get("/", "").status, 503);
}

#[test]
fn an_address_two_environments_want_is_refused_and_the_others_keep_serving() {
    let env = TestEnv::new();
    let web = environment(&env, "web");
    let api = environment(&env, "api");
    let shop = environment(&env, "shop");
    let upstream = Upstream::start("A");
    let (port, other) = (free_port(), free_port());
    let listen = format!("127.0.0.1:{port}");
    let proxy = Proxy::start(&env);
    route(&env, web, &listen, &[&upstream.addr]);
    route(&env, api, &listen, &[&upstream.addr]);
    let state = proxy.applied(route(
        &env,
        shop,
        &format!("127.0.0.1:{other}"),
        &[&upstream.addr],
    ));
    assert_eq!(state.listening.len(), 2, "{state:?}");
    proxy.logged(&format!(
        "api/production wants {listen}, which web/production already uses"
    ));
    assert_eq!(Client::connect(port).get("/", "").from(), "A");
    assert_eq!(Client::connect(other).get("/", "").from(), "A");

    // An address no longer routed is closed.
    let state = proxy.applied(route(&env, shop, &listen, &[&upstream.addr]));
    assert_eq!(state.listening, vec![listen.clone()], "{state:?}");
    eventually("the unrouted address to close", || {
        std::net::TcpStream::connect(("127.0.0.1", other))
            .is_err()
            .then_some(())
    });
}

#[test]
fn sigterm_finishes_the_requests_in_flight_and_exits_0() {
    let env = TestEnv::new();
    let web = environment(&env, "web");
    let upstream = Upstream::start("A");
    let port = free_port();
    let mut proxy = Proxy::start(&env);
    proxy.applied(route(
        &env,
        web,
        &format!("127.0.0.1:{port}"),
        &[&upstream.addr],
    ));

    // A running proxy that cannot hand its listeners over (as one of an older temps,
    // without the upgrade socket): a second proxy is refused.
    let mut upgrade = std::fs::canonicalize(env.db()).expect("the history");
    upgrade.set_file_name("temps.db-proxy-upgrade.sock");
    std::fs::remove_file(&upgrade).expect("remove the upgrade socket");
    let (code, stderr) = proxy_refused(&env);
    assert_eq!(code, Some(7), "a second proxy is refused: {stderr}");
    assert!(
        stderr.contains("another `temps proxy`")
            && stderr.contains("does not hand its listeners over"),
        "{stderr}"
    );

    let slow = thread::spawn(move || Client::connect(port).get("/slow", ""));
    eventually("the slow request to count", || {
        (proxy.in_flight(&upstream.addr) == 1).then_some(())
    });
    proxy.sigterm();
    proxy.logged("SIGTERM: stopped accepting");
    // Stopped accepting, and still waiting for the request in flight: it has no answer
    // yet, the upstream still holds it, and the proxy runs.
    assert!(!slow.is_finished(), "the slow request was answered early");
    assert!(proxy.running(), "the proxy exited with a request in flight");
    assert_eq!(proxy.in_flight(&upstream.addr), 1);
    upstream.release();
    let status = proxy.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", proxy.stderr());
    assert_eq!(slow.join().expect("the slow request").from(), "A");
    let state = proxy.state().expect("a final report");
    assert!(state.listening.is_empty(), "{state:?}");
}
