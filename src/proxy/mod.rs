//! `temps proxy`: the zero-downtime reverse proxy in front of every environment in proxy
//! mode.
//!
//! The deploy side never talks to the proxy directly (beyond waking it): it writes an environment's route
//! (listen address, upstream addresses, a generation that grows with every write) to the
//! history, waits until the proxy reports that generation applied, then until the old
//! upstreams have nothing in flight, and only then stops the old containers. The proxy
//! polls the generation (and looks at once when the writer wakes it, see `wake`),
//! switches its table atomically (every new request, also on a kept-alive connection,
//! goes to the new upstreams), and reports what it applies and what is in flight per
//! upstream. Requests are routed one by one, never per connection; an upgraded
//! (WebSocket) connection stays on the upstream it started on and counts as in
//! flight there until it closes. Apart from the requests, a thread stops the warm
//! standbys whose time is up (`standby`).

mod forward;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzz;
mod h1;
mod handover;
mod headers;
pub mod metrics;
mod policy;
mod report;
mod server;
mod standby;
mod table;
pub mod tls;
mod wake;

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use console::style;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use crate::clock::now_ms;
use crate::error::{ExitStatus, Failure};
use crate::store::{Route, Store};
use report::Observed;
use server::{Limits, Server, Serving};
use table::Routes;

pub use policy::DEFAULT_RESPONSE_TIMEOUT;

/// How many client connections the proxy holds at once unless told otherwise: the 10,000
/// idle ones the benchmarks open fit, and so do their file descriptors (with the
/// upstream side's) under the systemd unit's `LimitNOFILE=65536`.
pub const MAX_CONNECTIONS: usize = 16_384;

/// How often the proxy writes its state: the deploy side can count on a report this
/// fresh, and a heartbeat older than a few of these means the proxy is gone.
pub const REPORT_INTERVAL: Duration = Duration::from_millis(25);

/// How the proxy runs.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// How often the route generation is polled when nothing wakes the proxy (`wake`).
    pub poll_interval: Duration,
    /// How often the proxy's state is reported (also right after each switch).
    pub report_interval: Duration,
    /// How long SIGTERM waits for requests in flight.
    pub shutdown_timeout: Duration,
    /// How long a client connection may have no request in progress.
    pub idle_timeout: Duration,
    /// How many client connections may be open at once.
    pub max_connections: usize,
    /// The plain address for ACME's HTTP-01 challenges and redirects to HTTPS (`--http`).
    pub http: Option<std::net::SocketAddr>,
    /// ACME: the directory, the account's contact, and the CA's own root for its HTTPS.
    pub acme: tls::acme::AcmeOptions,
    /// Where to serve the metrics (`--metrics`), if anywhere.
    pub metrics: Option<std::net::SocketAddr>,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        ProxyOptions {
            poll_interval: Duration::from_millis(20),
            report_interval: REPORT_INTERVAL,
            shutdown_timeout: Duration::from_secs(10),
            idle_timeout: policy::HEADER_READ_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            http: None,
            acme: tls::acme::AcmeOptions::default(),
            metrics: None,
        }
    }
}

/// Every client connection is a file descriptor: take the hard limit, not the usual
/// soft 1,024, so a thousand idle clients cannot lock everyone else out.
fn raise_open_files_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write the struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// Whether process `pid` ends (or is a zombie waiting to be reaped) within `limit`.
fn ended_within(pid: u32, limit: Duration) -> bool {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                let (_, after) = stat.rsplit_once(')')?;
                after.split_whitespace().next().map(|state| state == "Z")
            })
            .unwrap_or(false);
        if !crate::wake::process_exists(pid) || zombie {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Run the proxy in the foreground until SIGTERM or SIGINT, then let the requests in
/// flight finish (at most `shutdown_timeout`) and return.
pub fn run(store: Store, options: &ProxyOptions) -> Result<()> {
    raise_open_files_limit();
    let mut inherited = handover::from_systemd();
    if !inherited.is_empty() {
        event(format!(
            "{} listening socket{} from systemd",
            inherited.len(),
            plural(inherited.len())
        ));
    }
    // A proxy serving this history already: take its listening sockets over, then tell
    // it to drain and exit once this one serves.
    let mut predecessor = None;
    if let Some(other) = store.proxy_state()? {
        if other.pid != std::process::id() && other.is_running(now_ms()) {
            match handover::take(store.path()) {
                Ok((sockets, connection)) => {
                    event(format!(
                        "taking over from pid {} ({} listening socket{})",
                        other.pid,
                        sockets.len(),
                        plural(sockets.len())
                    ));
                    inherited.extend(sockets);
                    predecessor = Some((other.pid, connection));
                }
                // It went away meanwhile (killed, say): nothing to take over.
                Err(why) if ended_within(other.pid, Duration::from_secs(1)) => {
                    event(format!(
                        "pid {} ended before handing its listeners over ({why}): starting anew",
                        other.pid
                    ));
                }
                Err(why) => {
                    return Err(Failure::new(
                        ExitStatus::Busy,
                        format!(
                            "another `temps proxy` (pid {}) serves this history, and does not hand its \
                             listeners over ({why})",
                            other.pid
                        ),
                    )
                    .hint("it picks up route changes by itself; stop it first to run a new one")
                    .into());
                }
            }
        }
    }
    let store_path = store.path().to_path_buf();
    let reporter_store = Store::open(store.path())?;
    let keeper_store = Store::open(store.path())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("temps-proxy")
        .build()
        .context("starting the proxy's runtime")?;
    // Bound before anything is served: a metrics address that is taken fails the start.
    let metrics = (options.metrics)
        .map(|addr| metrics::Endpoint::bind(&runtime, addr))
        .transpose()?;

    // instant-acme's HTTP client takes the process's default provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let counted = metrics.as_ref().map(|m| Arc::clone(&m.metrics));
    let routes = Arc::new(Routes::new(options.http, counted));
    routes
        .certificates
        .set_acme_folder(tls::acme::folder(&options.acme));
    let serving = Arc::new(Serving::default());
    let observed = Arc::new(Observed {
        pid: std::process::id(),
        started_at: now_ms(),
        applied: AtomicI64::new(0),
        routes: Arc::clone(&routes),
        serving: Arc::clone(&serving),
        handed_over: AtomicBool::new(false),
    });
    let (routes_tx, routes_rx) = watch::channel(None);
    let stop_polling = Arc::new(AtomicBool::new(false));
    // Bound before the first look at the routes: no change committed after it is missed.
    let wakeup = match wake::Wakeup::bind(store.path()) {
        Ok(wakeup) => Some(wakeup),
        Err(why) => {
            event(format!(
                "no wake-up socket ({why}): route changes wait for the next poll (every {})",
                crate::clock::format_duration(options.poll_interval)
            ));
            None
        }
    };
    let poller = report::spawn_poller(
        store,
        options.poll_interval,
        wakeup,
        routes_tx,
        Arc::clone(&stop_polling),
    )?;
    let keeper = standby::spawn_keeper(
        keeper_store,
        crate::ops::standby::check_interval(),
        Arc::clone(&stop_polling),
    )?;
    let (nudge, reporter) = report::spawn_reporter(
        reporter_store,
        options.report_interval,
        Arc::clone(&observed),
    )?;

    let limits = Limits {
        idle: options.idle_timeout,
        connections: options.max_connections,
    };
    let (acme_domains, acme_wanted) = watch::channel(std::collections::BTreeSet::new());
    let acme_store = Store::open(&store_path)?;
    start_observers(&runtime, metrics, &serving, &store_path)?;
    let server = runtime.block_on(async {
        tls::acme::spawn(
            acme_store,
            options.acme.clone(),
            Arc::clone(&routes.certificates),
            acme_wanted,
        );
        Server::new(routes, serving, limits, inherited, acme_domains)
    });
    let upgrades = runtime.block_on(async {
        match handover::Upgrades::bind(&store_path) {
            Ok(upgrades) => Some(upgrades),
            Err(why) => {
                event(format!(
                    "no upgrade socket ({why}): a new `temps proxy` cannot take over from this one"
                ));
                None
            }
        }
    });
    let served = runtime.block_on(serve(
        server,
        routes_rx,
        &observed,
        &nudge,
        options.shutdown_timeout,
        Handover {
            predecessor,
            upgrades,
        },
    ));

    stop_polling.store(true, Ordering::SeqCst);
    // Hanging up makes the reporter write the final state (listening nowhere) and stop.
    drop(nudge);
    let _ = poller.join();
    let _ = keeper.join();
    let _ = reporter.join();
    // Upgraded connections still open after the timeout end with the process.
    runtime.shutdown_timeout(Duration::from_millis(100));
    served
}

/// What runs beside the proxy for those who watch it: the metrics endpoint, and the
/// retrier of failed notifications.
fn start_observers(
    runtime: &tokio::runtime::Runtime,
    metrics: Option<metrics::Endpoint>,
    serving: &Arc<Serving>,
    store_path: &std::path::Path,
) -> Result<()> {
    if let Err(why) = crate::ops::notify::spawn_retrier(store_path.to_path_buf(), "proxy") {
        problem(format!("failed notifications will not be retried: {why}"));
    }
    if let Some(endpoint) = metrics {
        let refresh = metrics_refresh(Arc::clone(serving), Store::open(store_path)?);
        event(format!("metrics on {}", endpoint.start(runtime, refresh)));
    }
    Ok(())
}

/// What a scrape reads besides the counts: the connections open now, and each ACME
/// domain's certificate as the proxy last reported it.
fn metrics_refresh(serving: Arc<Serving>, store: Store) -> metrics::Refresh {
    let store = std::sync::Mutex::new(store);
    Arc::new(move |metered: &metrics::Metrics| {
        metered.open_connections(serving.connections.load(Ordering::Relaxed) as u64);
        let store = store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for report in store.certificate_reports().unwrap_or_default() {
            if let Some(not_after) = report.not_after {
                metered.certificate(&report.domain, not_after / 1000);
            }
        }
    })
}

/// The proxy before this one (to tell once this one serves), and the socket where the
/// next one asks for the listeners.
struct Handover {
    predecessor: Option<(u32, std::os::unix::net::UnixStream)>,
    upgrades: Option<handover::Upgrades>,
}

async fn serve(
    mut server: Server,
    mut routes: watch::Receiver<Option<Vec<Route>>>,
    observed: &Observed,
    nudge: &std::sync::mpsc::Sender<()>,
    shutdown_timeout: Duration,
    mut handover: Handover,
) -> Result<()> {
    let mut terminate = signal(SignalKind::terminate()).context("handling SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("handling SIGINT")?;
    let mut retry = tokio::time::interval(Duration::from_secs(1));
    retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    event(format!("started (pid {})", observed.pid));
    // A successor that asked for the listeners, until it says it serves.
    let mut successor: Option<tokio::task::JoinHandle<std::io::Result<u32>>> = None;
    let received = loop {
        let waiting_for_successor = successor.is_some();
        let upgrade_asked = async {
            match &handover.upgrades {
                Some(upgrades) => upgrades.listener.accept().await.ok(),
                None => std::future::pending().await,
            }
        };
        let successor_ready = async {
            match &mut successor {
                Some(handle) => handle.await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = routes.changed() => {
                changed.map_err(|_| anyhow!("the route poller stopped"))?;
                let rows = routes.borrow_and_update().clone().unwrap_or_default();
                let generation = server.apply(&rows).await;
                observed.applied.store(generation, Ordering::SeqCst);
                let _ = nudge.send(());
                event(format!("applied generation {generation} ({} route{})", rows.len(), plural(rows.len())));
                if let Some((pid, connection)) = handover.predecessor.take() {
                    // Serving now: the old proxy may stop accepting.
                    match tokio::task::spawn_blocking(move || handover::ready(connection)).await {
                        Ok(Ok(())) => event(format!("serving; pid {pid} stops accepting and drains")),
                        _ => problem(format!("could not tell pid {pid} to stop; it may still accept")),
                    }
                }
            }
            asked = upgrade_asked, if !waiting_for_successor => {
                let Some((stream, _)) = asked else { continue };
                let sockets = server.sockets().into_iter()
                    .filter_map(|(addr, fd)| Some((addr, fd.try_clone_to_owned().ok()?)))
                    .collect::<Vec<_>>();
                event(format!("a new `temps proxy` asks for the {} listening socket{}", sockets.len(), plural(sockets.len())));
                match stream.into_std() {
                    Ok(stream) => successor = Some(tokio::task::spawn_blocking(move || handover::give(stream, sockets))),
                    Err(err) => problem(format!("upgrade: {err}")),
                }
            }
            done = successor_ready => {
                successor = None;
                match done {
                    Ok(Ok(pid)) => {
                        // From now on the successor reports; this one only drains.
                        observed.handed_over.store(true, Ordering::SeqCst);
                        event(format!("pid {pid} serves now"));
                        break "handed over";
                    }
                    Ok(Err(err)) => problem(format!("the new `temps proxy` did not take over ({err}); still serving")),
                    Err(err) => problem(format!("upgrade: {err}; still serving")),
                }
            }
            _ = retry.tick() => {
                if server.retry_binds().await {
                    let _ = nudge.send(());
                }
            }
            _ = terminate.recv() => break "SIGTERM",
            _ = interrupt.recv() => break "SIGINT",
        }
    };
    drop(handover.upgrades.take());
    let in_flight = observed.routes.upstreams.total_in_flight();
    event(format!(
        "{received}: stopped accepting; finishing {in_flight} request{} in flight",
        plural(in_flight as usize)
    ));
    server.stop();
    let _ = nudge.send(());
    let left = server.drained(shutdown_timeout).await;
    if left > 0 {
        problem(format!(
            "exiting with {left} request{} still in flight after {}s",
            plural(left as usize),
            shutdown_timeout.as_secs_f64()
        ));
    } else {
        event("stopped");
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// One line on stderr for a lifecycle event: this is the proxy's log (systemd's journal
/// adds the time). Requests are not logged.
fn event(text: impl AsRef<str>) {
    eprintln!("temps proxy: {}", text.as_ref());
}

/// One line on stderr for something that needs an operator.
fn problem(text: impl AsRef<str>) {
    eprintln!("{} {}", style("error:").red().bold(), text.as_ref());
}
