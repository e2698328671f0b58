//! `temps proxy --metrics ADDR`: what the proxy serves, per deployment, in the
//! Prometheus text format (encoded by `prometheus-client`).
//!
//! Every upstream of a route carries the [`Series`] of the deployment it belongs to, so
//! an answer is counted with a few atomic adds and no look-up; the labels (project,
//! environment, deployment) come from the route table, so a graph shows a switch from #44
//! to #43 as two lines. A deployment's series go away once it has not served for
//! [`FORGET_AFTER`], which bounds the label sets by what served in the last hour.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::clock::monotonic_ms;

/// A deployment's series are dropped when it has not served for this long.
pub const FORGET_AFTER: Duration = Duration::from_secs(3600);

/// The request duration histogram's upper bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The answer classes counted: `1xx` to `5xx`.
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Who a deployment's series are about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Deployment {
    pub project: String,
    pub environment: String,
    pub id: i64,
}

/// One deployment's counts.
#[derive(Debug)]
pub struct Series {
    pub deployment: Deployment,
    answers: [AtomicU64; 5],
    upstream_errors: AtomicU64,
    /// Per bucket of [`BUCKETS`], then the one past the last.
    durations: [AtomicU64; 13],
    duration_sum_us: AtomicU64,
    /// When it last served, on [`monotonic_ms`].
    last_served_ms: AtomicU64,
}

impl Series {
    fn new(deployment: Deployment) -> Series {
        Series {
            deployment,
            answers: Default::default(),
            upstream_errors: AtomicU64::new(0),
            durations: Default::default(),
            duration_sum_us: AtomicU64::new(0),
            last_served_ms: AtomicU64::new(monotonic_ms()),
        }
    }

    /// An answer of `status` was passed on (or made by the proxy for it).
    pub fn answered(&self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.answers[class].fetch_add(1, Ordering::Relaxed);
    }

    /// The upstream failed a request: no connection, no answer in time, a broken one.
    pub fn upstream_failed(&self) {
        self.upstream_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// A request to it ended after `took`.
    pub fn ended(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        self.durations[bucket].fetch_add(1, Ordering::Relaxed);
        self.duration_sum_us
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        self.last_served_ms.store(monotonic_ms(), Ordering::Relaxed);
    }

    fn labels(&self) -> Vec<(&'static str, String)> {
        vec![
            ("project", self.deployment.project.clone()),
            ("environment", self.deployment.environment.clone()),
            ("deployment", self.deployment.id.to_string()),
        ]
    }
}

/// Every deployment's series, and the proxy's own counts.
#[derive(Debug, Default)]
pub struct Metrics {
    series: Mutex<HashMap<Deployment, Arc<Series>>>,
    route_switches: AtomicU64,
    open_connections: AtomicU64,
    /// Each TLS domain's certificate expiry (seconds since the epoch).
    certificates: Mutex<HashMap<String, i64>>,
}

impl Metrics {
    /// The series of `deployment`, made on first use.
    pub fn series(&self, deployment: Deployment) -> Arc<Series> {
        let mut all = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            all.entry(deployment.clone())
                .or_insert_with(|| Arc::new(Series::new(deployment))),
        )
    }

    /// A new route table was applied.
    pub fn switched(&self) {
        self.route_switches.fetch_add(1, Ordering::Relaxed);
    }

    /// How many client connections are open now.
    pub fn open_connections(&self, open: u64) {
        self.open_connections.store(open, Ordering::Relaxed);
    }

    /// A TLS domain's certificate, valid until `not_after` (seconds since the epoch).
    pub fn certificate(&self, domain: &str, not_after: i64) {
        self.certificates
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(domain.to_string(), not_after);
    }

    /// Forget the deployments that have not served for [`FORGET_AFTER`] and that no
    /// route names any more (an upstream still holding their series keeps them), as of
    /// `now` on [`monotonic_ms`].
    fn forget_idle(&self, now: u64) {
        let limit = FORGET_AFTER.as_millis() as u64;
        self.series
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, s| {
                Arc::strong_count(s) > 1
                    || now.saturating_sub(s.last_served_ms.load(Ordering::Relaxed)) < limit
            });
    }

    /// The text format, as a scrape reads it.
    pub fn render(self: &Arc<Metrics>) -> String {
        self.forget_idle(monotonic_ms());
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Arc::clone(self)));
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        text
    }
}

impl Collector for Metrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut all: Vec<Arc<Series>> = self
            .series
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| {
            (
                &a.deployment.project,
                &a.deployment.environment,
                a.deployment.id,
            )
                .cmp(&(
                    &b.deployment.project,
                    &b.deployment.environment,
                    b.deployment.id,
                ))
        });
        let mut family = encoder.encode_descriptor(
            "temps_proxy_requests",
            "Answers passed on per deployment, by class of status code",
            None,
            MetricType::Counter,
        )?;
        for s in &all {
            for (class, count) in CLASSES.iter().zip(&s.answers) {
                let mut labels = s.labels();
                labels.push(("code", class.to_string()));
                ConstCounter::new(count.load(Ordering::Relaxed))
                    .encode(family.encode_family(&labels)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "temps_proxy_request_duration_seconds",
            "How long requests to each deployment were in flight",
            None,
            MetricType::Histogram,
        )?;
        for s in &all {
            let buckets: Vec<(f64, u64)> = BUCKETS
                .iter()
                .chain(&[f64::MAX])
                .zip(&s.durations)
                .map(|(bound, count)| (*bound, count.load(Ordering::Relaxed)))
                .collect();
            let count = buckets.iter().map(|(_, c)| c).sum();
            let sum = s.duration_sum_us.load(Ordering::Relaxed) as f64 / 1e6;
            family
                .encode_family(&s.labels())?
                .encode_histogram::<prometheus_client::encoding::NoLabelSet>(
                    sum, count, &buckets, None,
                )?;
        }
        let mut family = encoder.encode_descriptor(
            "temps_proxy_upstream_errors",
            "Requests a deployment's upstream failed: refused, no answer in time, broken",
            None,
            MetricType::Counter,
        )?;
        for s in &all {
            ConstCounter::new(s.upstream_errors.load(Ordering::Relaxed))
                .encode(family.encode_family(&s.labels())?)?;
        }
        ConstGauge::new(self.open_connections.load(Ordering::Relaxed) as i64).encode(
            encoder.encode_descriptor(
                "temps_proxy_open_connections",
                "Client connections open now",
                None,
                MetricType::Gauge,
            )?,
        )?;
        ConstCounter::new(self.route_switches.load(Ordering::Relaxed)).encode(
            encoder.encode_descriptor(
                "temps_proxy_route_switches",
                "Route tables applied since the proxy started",
                None,
                MetricType::Counter,
            )?,
        )?;
        let certificates = self
            .certificates
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut family = encoder.encode_descriptor(
            "temps_tls_certificate_expiry_timestamp_seconds",
            "When each TLS domain's certificate expires",
            None,
            MetricType::Gauge,
        )?;
        let mut domains: Vec<_> = certificates.into_iter().collect();
        domains.sort();
        for (domain, not_after) in domains {
            ConstGauge::new(not_after).encode(family.encode_family(&[("domain", domain)])?)?;
        }
        Ok(())
    }
}

/// What a scrape reads first: the gauges kept elsewhere (connections, certificates).
pub type Refresh = Arc<dyn Fn(&Metrics) + Send + Sync>;

/// The `--metrics` address, bound, and the metrics it serves.
pub struct Endpoint {
    listener: tokio::net::TcpListener,
    pub metrics: Arc<Metrics>,
}

impl Endpoint {
    /// Bind `addr` for the runtime's reactor (see [`bind`]).
    pub fn bind(runtime: &tokio::runtime::Runtime, addr: SocketAddr) -> anyhow::Result<Endpoint> {
        let _entered = runtime.enter();
        Ok(Endpoint {
            listener: bind(addr)
                .map_err(|e| anyhow::anyhow!("listening for metrics on {addr}: {e}"))?,
            metrics: Arc::new(Metrics::default()),
        })
    }

    /// Serve on the runtime from now on; its URL, for the log.
    pub fn start(self, runtime: &tokio::runtime::Runtime, refresh: Refresh) -> String {
        let url = self.listener.local_addr().map_or_else(
            |_| "its address".to_string(),
            |addr| format!("http://{addr}/metrics"),
        );
        runtime.spawn(serve(self.listener, self.metrics, refresh));
        url
    }
}

/// Serve the metrics on `listener` (`GET /metrics`, or any path) until the process ends.
async fn serve(listener: tokio::net::TcpListener, metrics: Arc<Metrics>, refresh: Refresh) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let metrics = Arc::clone(&metrics);
        let refresh = Arc::clone(&refresh);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |_request| {
                refresh(&metrics);
                let body = metrics.render();
                async move {
                    hyper::Response::builder()
                        .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
                        .body(http_body_util::Full::new(hyper::body::Bytes::from(body)))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Bind the metrics address, sharing it (`SO_REUSEPORT`) with the proxy this one takes
/// over from until that one exits: a handover keeps the metrics answering. Called
/// within the runtime.
fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web(id: i64) -> Deployment {
        Deployment {
            project: "web".into(),
            environment: "production".into(),
            id,
        }
    }

    #[test]
    fn answers_are_counted_by_class_with_the_deployment_as_labels() {
        let metrics = Arc::new(Metrics::default());
        let series = metrics.series(web(44));
        series.answered(200);
        series.answered(204);
        series.answered(503);
        series.upstream_failed();
        series.ended(Duration::from_millis(3));
        metrics.switched();
        let text = metrics.render();
        for line in [
            r#"temps_proxy_requests_total{project="web",environment="production",deployment="44",code="2xx"} 2"#,
            r#"temps_proxy_requests_total{project="web",environment="production",deployment="44",code="5xx"} 1"#,
            r#"temps_proxy_upstream_errors_total{project="web",environment="production",deployment="44"} 1"#,
            r#"temps_proxy_request_duration_seconds_bucket{le="0.005",project="web",environment="production",deployment="44"} 1"#,
            r#"temps_proxy_request_duration_seconds_count{project="web",environment="production",deployment="44"} 1"#,
            "temps_proxy_route_switches_total 1",
            "temps_proxy_open_connections 0",
        ] {
            assert!(text.contains(line), "no `{line}` in\n{text}");
        }
    }

    #[test]
    fn a_deployment_no_upstream_holds_is_forgotten_only_after_an_idle_hour() {
        let metrics = Arc::new(Metrics::default());
        drop(metrics.series(web(43)));
        // Served just now: kept.
        assert!(metrics.render().contains(r#"deployment="43""#));
        let held = metrics.series(web(42));
        for series in [metrics.series(web(43)), Arc::clone(&held)] {
            series.last_served_ms.store(0, Ordering::Relaxed);
        }
        // An hour and a moment later: the one nothing holds is gone; the one an upstream
        // still counts into is kept however long it has been quiet.
        metrics.forget_idle(FORGET_AFTER.as_millis() as u64 + 1);
        let all = metrics.series.lock().unwrap();
        assert!(!all.contains_key(&web(43)));
        assert!(all.contains_key(&web(42)));
    }
}
