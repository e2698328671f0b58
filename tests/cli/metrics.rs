//! Metrics, scraped by a real Prometheus (Debian's `prometheus`, `tests/tools-up.sh`)
//! every second, and read back through its query API: the proxy's per-deployment
//! counts across a switch (two deployments, two lines), `temps serve`'s operations and
//! what serves, on `--metrics` without a token and on `/metrics` with an admin token.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::api::server::{token, Server};
use crate::common::*;
use crate::proxy::harness::Proxy;
use crate::require_docker;

/// A Prometheus on a free loopback port, scraping the given jobs every second.
struct Prometheus {
    child: Child,
    port: u16,
}

/// One scrape job: its name, the `host:port`, and the bearer token it sends, if any.
struct Job<'a> {
    name: &'a str,
    target: String,
    token: Option<&'a str>,
}

impl Prometheus {
    /// None (and a visible `SKIPPED:` line) when Prometheus is not installed; CI fails.
    fn start(dir: &Path, jobs: &[Job]) -> Option<Prometheus> {
        if Command::new("prometheus")
            .arg("--version")
            .output()
            .is_err()
        {
            assert!(
                std::env::var_os("CI").is_none(),
                "prometheus is not installed (tests/tools-up.sh installs it)"
            );
            eprintln!("SKIPPED: prometheus is not installed (bash tests/tools-up.sh)");
            return None;
        }
        let mut config =
            String::from("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n");
        for job in jobs {
            config.push_str(&format!(
                "  - job_name: {}\n    static_configs:\n      - targets: ['{}']\n",
                job.name, job.target
            ));
            if let Some(token) = job.token {
                config.push_str(&format!(
                    "    authorization:\n      credentials: '{token}'\n"
                ));
            }
        }
        let file = dir.join("prometheus.yml");
        std::fs::write(&file, config).expect("write the Prometheus configuration");
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus");
        Some(Prometheus { child, port })
    }

    /// The instant vector `query` answers with, as `[{metric, value}]`.
    fn query(&self, query: &str) -> Vec<Value> {
        let out = Command::new("curl")
            .args(["-sS", "-G", "--max-time", "5"])
            .arg(format!("http://127.0.0.1:{}/api/v1/query", self.port))
            .args(["--data-urlencode", &format!("query={query}")])
            .output()
            .expect("run curl");
        serde_json::from_slice::<Value>(&out.stdout)
            .ok()
            .and_then(|doc| doc["data"]["result"].as_array().cloned())
            .unwrap_or_default()
    }

    /// Wait (a guard against a hang, not a measure) until `query` answers with series
    /// that `check` accepts; returns them.
    #[track_caller]
    fn until(&self, query: &str, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let series = self.query(query);
            if check(&series) {
                return series;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus never answered `{query}` as expected; last: {series:#?}"
            );
            thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A series' sample value.
fn value(series: &Value) -> f64 {
    series["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

/// The series whose label `label` is `wanted`.
fn labelled<'a>(series: &'a [Value], label: &str, wanted: &str) -> Option<&'a Value> {
    series
        .iter()
        .find(|s| s["metric"][label].as_str() == Some(wanted))
}

/// `count` GETs of `/` through the proxy, each answered 200.
fn requests(port: u16, count: usize) {
    for _ in 0..count {
        assert!(http_get(port, "/").is_some(), "the proxy did not answer");
    }
}

#[test]
fn prometheus_sees_each_deployment_through_a_switch_and_the_operations() {
    require_docker!();
    let env = TestEnv::new();
    let project = env.web_project("metrics");
    let proxy_metrics = free_port();
    let proxy = Proxy::start_with(&env, &["--metrics", &format!("127.0.0.1:{proxy_metrics}")]);
    proxy.applied(0);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let v1 = env.json(&["deploy", &project, "--image", WEB_V1, "--proxy", &listen]);
    requests(port, 5);
    let v2 = env.json(&["deploy", &project, "--image", WEB_V2, "--proxy", &listen]);
    requests(port, 7);
    let (v1, v2) = (v1["id"].to_string(), v2["id"].to_string());

    let serve_metrics = free_port();
    let admin = token(&env, "scraper", "admin", &[]);
    let server = Server::listening(
        &env,
        "127.0.0.1:0",
        &["--metrics", &format!("127.0.0.1:{serve_metrics}")],
        &[],
    );
    let Some(prometheus) = Prometheus::start(
        env.dir.path(),
        &[
            Job {
                name: "proxy",
                target: format!("127.0.0.1:{proxy_metrics}"),
                token: None,
            },
            Job {
                name: "serve",
                target: format!("127.0.0.1:{serve_metrics}"),
                token: None,
            },
            Job {
                name: "api",
                target: format!("127.0.0.1:{}", server.port),
                token: Some(&admin),
            },
        ],
    ) else {
        return;
    };

    // The switch is two lines: each deployment with the answers it gave.
    let query = format!("temps_proxy_requests_total{{project=\"{project}\",code=\"2xx\"}}");
    let answered = prometheus.until(&query, |s| {
        labelled(s, "deployment", &v1).is_some_and(|s| value(s) >= 5.0)
            && labelled(s, "deployment", &v2).is_some_and(|s| value(s) >= 7.0)
    });
    for series in &answered {
        assert_eq!(series["metric"]["environment"], "production", "{series:#}");
        assert_eq!(series["metric"]["job"], "proxy", "{series:#}");
    }
    prometheus.until(
        &format!("temps_proxy_request_duration_seconds_count{{deployment=\"{v2}\"}}"),
        |s| s.first().is_some_and(|s| value(s) >= 7.0),
    );
    prometheus.until("temps_proxy_route_switches_total", |s| {
        s.first().is_some_and(|s| value(s) >= 2.0)
    });
    prometheus.until("temps_proxy_open_connections", |s| !s.is_empty());

    // `temps serve`, on both of its addresses: the operations and what serves.
    for job in ["serve", "api"] {
        let deploys = prometheus.until(
            &format!(
                "temps_operations_total{{job=\"{job}\",project=\"{project}\",kind=\"deploy\"}}"
            ),
            |s| !s.is_empty(),
        );
        assert_eq!(deploys.len(), 1, "{deploys:#?}");
        assert_eq!(deploys[0]["metric"]["outcome"], "succeeded");
        assert_eq!(value(&deploys[0]), 2.0);
        let info = prometheus.until(
            &format!("temps_deployment_info{{job=\"{job}\",project=\"{project}\"}}"),
            |s| !s.is_empty(),
        );
        assert_eq!(info.len(), 1, "{info:#?}");
        assert_eq!(info[0]["metric"]["deployment"], v2.as_str());
        assert_eq!(info[0]["metric"]["image"], WEB_V2);
        assert_eq!(value(&info[0]), 1.0);
        prometheus.until(
            &format!("temps_operation_duration_seconds_count{{job=\"{job}\",kind=\"deploy\"}}"),
            |s| s.first().is_some_and(|s| value(s) >= 2.0),
        );
    }
}

#[test]
fn the_api_metrics_need_an_admin_token_and_the_listener_loopback() {
    let env = TestEnv::new();
    let server = Server::start(&env);
    let reader = token(&env, "viewer", "reader", &[]);
    let admin = token(&env, "root", "admin", &[]);
    let get = |token: Option<&str>| {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "-o", "/dev/null", "-w", "%{http_code}"]);
        if let Some(token) = token {
            cmd.args(["-H", &format!("Authorization: Bearer {token}")]);
        }
        let out = cmd
            .arg(format!("http://127.0.0.1:{}/metrics", server.port))
            .output()
            .expect("run curl");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert_eq!(get(None), "401");
    assert_eq!(get(Some(&reader)), "403");
    assert_eq!(get(Some(&admin)), "200");
    env.run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--metrics",
        "0.0.0.0:9464",
    ])
    .code(2)
    .stderr_has("not a loopback address");
}

#[test]
fn a_proxy_that_takes_over_serves_the_metrics_on_the_same_address() {
    let env = TestEnv::new();
    let addr = format!("127.0.0.1:{}", free_port());
    let mut old = Proxy::start_with(&env, &["--metrics", &addr]);
    old.applied(0);
    old.logged(&format!("metrics on http://{addr}/metrics"));
    // The new one binds the address while the old one still holds it (both share it
    // until the old one exits), and serves the metrics after.
    let new = Proxy::start_with(&env, &["--metrics", &addr]);
    new.applied(0);
    new.logged(&format!("taking over from pid {}", old.pid()));
    new.logged(&format!("metrics on http://{addr}/metrics"));
    assert!(
        old.exited(Duration::from_secs(30)).success(),
        "{}",
        old.stderr()
    );
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .arg(format!("http://{addr}/metrics"))
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("temps_proxy_route_switches_total"), "{text}");
    assert!(text.contains("temps_proxy_open_connections 0"), "{text}");
}
