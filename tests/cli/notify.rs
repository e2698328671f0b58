//! `temps notify`: webhooks told what happened, against real HTTP receivers the tests
//! run: one that checks the signature, one that is down until the test starts it, one
//! that never answers, one that answers 500. A failed delivery is retried by
//! `temps serve`; an operation ends whatever its receivers do.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::api::server::Server;
use crate::common::*;
use crate::require_docker;

const SECRET: &str = "s3cret-of-the-hook";

/// How a receiver answers.
#[derive(Clone, Copy)]
enum Answer {
    Status(u16),
    /// Reads the request and never answers (the connection stays open).
    Never,
}

/// A request as the receiver got it.
#[derive(Debug, Clone)]
struct Received {
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// The body's HMAC-SHA256 under `secret` is the signature it came with.
    fn signed_with(&self, secret: &str) -> bool {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("a key");
        mac.update(&self.body);
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.headers.get("x-temps-signature") == Some(&format!("sha256={hex}"))
    }
}

/// An HTTP/1.1 receiver on a loopback port, on threads of its own.
struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    /// Listening on a port the system chooses.
    fn start(answer: Answer) -> Receiver {
        Receiver::on(TcpListener::bind("127.0.0.1:0").expect("bind"), answer)
    }

    fn on(listener: TcpListener, answer: Answer) -> Receiver {
        let port = listener.local_addr().expect("address").port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&got);
        thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let Some(request) = read_request(&stream) else {
                    continue;
                };
                seen.lock().unwrap().push(request);
                match answer {
                    Answer::Status(status) => {
                        let mut stream = stream;
                        let _ = write!(
                            stream,
                            "HTTP/1.1 {status} Answer\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                        );
                    }
                    Answer::Never => held.push(stream),
                }
            }
        });
        Receiver { port, got }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Wait (a guard against a hang, not a measure) until `count` requests came.
    fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let got = self.received();
            if got.len() >= count {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver got {} requests, not {count}",
                got.len()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// One request's head and body, read from `stream`.
fn read_request(stream: &TcpStream) -> Option<Received> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    if !line.starts_with("POST ") {
        return None;
    }
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    let length: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Received { headers, body })
}

/// A static project with a release folder to deploy.
fn site(env: &TestEnv, hint: &str) -> (String, String) {
    let project = env.project_name(hint);
    env.ok(&["project", "create", &project, "--preset", "static"]);
    let dir = env.dir.path().join(format!("{hint}-dist"));
    std::fs::create_dir_all(&dir).expect("a folder");
    std::fs::write(dir.join("index.html"), "hello").expect("a page");
    (project, dir.to_str().expect("a path").to_string())
}

/// `temps notify deliveries -o json`.
fn deliveries(env: &TestEnv) -> Vec<Value> {
    env.json(&["notify", "deliveries", "--limit", "100"])
        .as_array()
        .expect("a list")
        .clone()
}

#[test]
fn a_deploy_and_a_rollback_are_posted_signed_and_the_secret_is_never_shown() {
    let env = TestEnv::new();
    let receiver = Receiver::start(Answer::Status(204));
    let chat = Receiver::start(Answer::Status(200));
    let (project, dir) = site(&env, "notified");
    env.ok(&[
        "notify",
        "add",
        "hook",
        "--url",
        &receiver.url(),
        "--secret",
        SECRET,
    ]);
    env.ok(&[
        "notify",
        "add",
        "chat",
        "--url",
        &chat.url(),
        "--format",
        "slack",
        "--events",
        "rollback",
    ]);
    let first = env.json(&["deploy", &project, "--dir", &dir]);
    let second = env.json(&["deploy", &project, "--dir", &dir]);
    let rollback = env.json(&[
        "rollback",
        &first["id"].to_string(),
        "--yes",
        "--reason",
        "bad",
    ]);

    let got = receiver.wait_for(3);
    assert_eq!(got.len(), 3, "{got:#?}");
    for request in &got {
        assert!(request.signed_with(SECRET), "{request:#?}");
        assert!(
            request.headers["x-temps-delivery"].starts_with("dlv_"),
            "{request:#?}"
        );
    }
    let events: Vec<&str> = got
        .iter()
        .map(|r| r.headers["x-temps-event"].as_str())
        .collect();
    assert_eq!(events, ["deploy", "deploy", "rollback"]);
    let body = got[2].json();
    assert_eq!(body["event"], "rollback", "{body:#}");
    assert_eq!(body["project"], project.as_str());
    assert_eq!(body["environment"], "production");
    assert_eq!(body["deployment"]["id"], rollback["id"], "{body:#}");
    assert_eq!(body["previous"]["id"], second["id"], "{body:#}");
    assert_eq!(body["reason"], "bad");
    assert_eq!(body["by"], "alice");
    assert!(body["at"].as_str().is_some_and(|at| at.ends_with('Z')));
    assert_eq!(got[0].json()["previous"], Value::Null);

    // The chat wanted rollbacks only, in Slack's format, unsigned.
    let said = chat.wait_for(1);
    assert_eq!(said.len(), 1);
    assert!(!said[0].headers.contains_key("x-temps-signature"));
    let text = said[0].json()["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(text.contains("rolled back"), "{text}");
    assert!(text.contains(&format!("#{}", rollback["id"])), "{text}");

    // Every attempt is listed, delivered by the operation; the secret is never printed.
    let attempts = deliveries(&env);
    assert_eq!(attempts.len(), 4, "{attempts:#?}");
    assert!(attempts
        .iter()
        .all(|a| a["state"] == "delivered" && a["by"] == "operation"));
    for args in [
        vec!["notify", "list"],
        vec!["--output", "json", "notify", "list"],
        vec!["notify", "deliveries"],
    ] {
        let run = env.ok(&args);
        assert!(!run.stdout.contains(SECRET), "{}", run.stdout);
        assert!(!run.stderr.contains(SECRET), "{}", run.stderr);
    }
    let listed = env.json(&["notify", "list"]);
    assert_eq!(listed[1]["name"], "hook");
    assert_eq!(listed[1]["signed"], true);
    assert_eq!(listed[0]["events"], serde_json::json!(["rollback"]));

    // `notify test` sends one now and says it was delivered.
    env.ok(&["notify", "test", "hook"]).stdout_has("delivered");
    let tested = receiver.wait_for(4);
    assert!(tested[3].signed_with(SECRET));
}

#[test]
fn targets_are_checked_and_removed() {
    let env = TestEnv::new();
    env.run(&["notify", "add", "x", "--url", "ftp://host/"])
        .code(2);
    env.run(&[
        "notify",
        "add",
        "x",
        "--url",
        "http://127.0.0.1:9/",
        "--events",
        "deploy,reboot",
    ])
    .code(2)
    .stderr_has("`reboot` is not an event");
    env.ok(&["notify", "add", "x", "--url", "http://127.0.0.1:9/"]);
    env.run(&["notify", "add", "x", "--url", "http://127.0.0.1:9/"])
        .code(4);
    env.ok(&["notify", "remove", "x"]);
    env.run(&["notify", "remove", "x"]).code(3);
    env.run(&["notify", "test", "x"]).code(3);
}

#[test]
fn a_receiver_that_is_down_gets_the_event_from_temps_serve_once_it_is_up() {
    let env = TestEnv::new();
    let port = free_port();
    let (project, dir) = site(&env, "notifydown");
    let url = format!("http://127.0.0.1:{port}/hook");
    env.ok(&["notify", "add", "later", "--url", &url, "--secret", SECRET]);
    // Nothing listens: the deploy succeeds all the same, and the attempt is kept.
    let deployed = env.json(&["deploy", &project, "--dir", &dir]);
    let attempts = deliveries(&env);
    assert_eq!(attempts.len(), 1, "{attempts:#?}");
    assert_eq!(attempts[0]["state"], "pending");
    assert_eq!(attempts[0]["status"], Value::Null);
    assert!(attempts[0]["error"].as_str().is_some());

    let receiver = Receiver::on(
        TcpListener::bind(("127.0.0.1", port)).expect("bind the receiver's port"),
        Answer::Status(200),
    );
    let _server = Server::start(&env);
    let got = receiver.wait_for(1);
    assert!(got[0].signed_with(SECRET));
    assert_eq!(got[0].json()["deployment"]["id"], deployed["id"]);
    assert_eq!(
        got[0].headers["x-temps-delivery"],
        attempts[0]["delivery"].as_str().unwrap_or_default()
    );
    // The delivered attempt is recorded (the retrier records it after the answer).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let attempts = deliveries(&env);
        if attempts[0]["state"] == "delivered" {
            assert_eq!(attempts[0]["by"], "serve", "{attempts:#?}");
            assert_eq!(attempts[0]["status"], 200);
            break;
        }
        assert!(Instant::now() < deadline, "{attempts:#?}");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_receiver_that_never_answers_does_not_hold_the_operation() {
    let env = TestEnv::new();
    let receiver = Receiver::start(Answer::Never);
    let (project, dir) = site(&env, "notifyhang");
    env.ok(&["notify", "add", "stuck", "--url", &receiver.url()]);
    // The receiver holds the connection for as long as the test runs: the deploy ends
    // only because temps stops waiting.
    let deployed = env.json(&["deploy", &project, "--dir", &dir]);
    assert_eq!(deployed["status"], "deployed");
    assert_eq!(receiver.received().len(), 1);
    let attempts = deliveries(&env);
    assert_eq!(attempts.len(), 1, "{attempts:#?}");
    assert_eq!(attempts[0]["state"], "pending");
    let error = attempts[0]["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("no answer within"), "{error}");
}

#[test]
fn a_receiver_that_answers_500_is_tried_again_with_the_same_delivery() {
    let env = TestEnv::new();
    let receiver = Receiver::start(Answer::Status(500));
    let (project, dir) = site(&env, "notify500");
    env.ok(&["notify", "add", "broken", "--url", &receiver.url()]);
    env.json(&["deploy", &project, "--dir", &dir]);
    let attempts = deliveries(&env);
    assert_eq!(attempts[0]["status"], 500, "{attempts:#?}");
    assert_eq!(attempts[0]["state"], "pending");
    // `notify test` says it was not delivered (exit 1, with the next step).
    let run = env.run(&["notify", "test", "broken"]).code(1);
    assert!(run.stderr.contains("answered 500"), "{}", run.stderr);
    assert_error_with_hint(&run);

    let _server = Server::start(&env);
    let got = receiver.wait_for(4);
    let first = &got[0].headers["x-temps-delivery"];
    let again = got[2..]
        .iter()
        .filter(|r| &r.headers["x-temps-delivery"] == first)
        .count();
    assert!(
        again >= 1,
        "the deploy's delivery was not tried again: {got:#?}"
    );
    let attempts = deliveries(&env);
    assert!(
        attempts
            .iter()
            .any(|a| a["by"] == "serve" && a["status"] == 500),
        "{attempts:#?}"
    );
}

#[test]
fn an_automatic_rollback_is_posted_with_the_signal_that_fired_it() {
    require_docker!();
    let env = TestEnv::new();
    let receiver = Receiver::start(Answer::Status(200));
    let project = env.web_project("notifywatch");
    let publish = format!("127.0.0.1:{}", free_port());
    let v1 = env.json(&["deploy", &project, "--image", WEB_V1, "--publish", &publish]);
    env.ok(&[
        "notify",
        "add",
        "oncall",
        "--url",
        &receiver.url(),
        "--events",
        "automatic-rollback,failed",
        "--secret",
        SECRET,
    ]);
    env.ok(&["env", "set", &project, "EXIT_AFTER=2"]);
    let run = env
        .run(&[
            "--output", "json", "deploy", &project, "--image", SOURING, "--watch", "60s",
        ])
        .code(5);
    let watched = run.json();
    let got = receiver.wait_for(1);
    assert_eq!(got.len(), 1, "one event, not also `failed`: {got:#?}");
    assert!(got[0].signed_with(SECRET));
    let body = got[0].json();
    assert_eq!(body["event"], "automatic-rollback", "{body:#}");
    assert_eq!(body["previous"]["id"], watched["id"], "{body:#}");
    assert_eq!(
        body["deployment"]["rolled_back_to_id"], v1["id"],
        "{body:#}"
    );
    let reason = body["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("exited with status 0"), "{reason}");
}
