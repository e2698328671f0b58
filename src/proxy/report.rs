//! The proxy's two conversations with the history, each on its own thread with its own
//! connection, so that SQLite (synchronous, and waiting up to its busy timeout while
//! another temps process writes) never holds up a request: one polls the route
//! generation and hands changed routes to the server; the other writes what the proxy
//! applies and has in flight, every few tens of milliseconds and right after a switch.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::watch;

use super::problem;
use super::server::Serving;
use super::table::Routes;
use super::wake::Wakeup;
use crate::clock::now_ms;
use crate::store::{ProxyState, Route, Store};

/// What the reporter reads to describe the proxy.
pub struct Observed {
    pub pid: u32,
    pub started_at: i64,
    /// The route generation the table serves; stored only once the switch is complete.
    pub applied: AtomicI64,
    pub routes: Arc<Routes>,
    pub serving: Arc<Serving>,
    /// A successor serves the history now: this proxy only drains, and reports no more.
    pub handed_over: AtomicBool,
}

impl Observed {
    pub fn state(&self) -> ProxyState {
        // The generation first: every request that picked an upstream from an older
        // table was counted before the switch completed, so the counts read next
        // include it.
        let generation = self.applied.load(Ordering::SeqCst);
        ProxyState {
            pid: self.pid,
            started_at: self.started_at,
            heartbeat_at: now_ms(),
            generation,
            listening: self
                .serving
                .listening
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            in_flight: self.routes.upstreams.in_flight(),
            answers: self.routes.upstreams.answers(),
        }
    }
}

/// Log a failure once, until it changes or goes away.
#[derive(Default)]
struct Once(Option<String>);

impl Once {
    fn failed(&mut self, what: &str, err: &anyhow::Error) {
        let text = format!("{what}: {err:#}");
        if self.0.as_ref() != Some(&text) {
            problem(&text);
            self.0 = Some(text);
        }
    }
}

/// How often a waiting poller looks at `stop`: a long poll interval must not hold up the
/// proxy's exit.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// Poll the route generation every `interval`, and at once when `wakeup` is woken (see
/// `wake`); on a change, read the routes and publish them. Runs until `stop` is set.
pub fn spawn_poller(
    store: Store,
    interval: Duration,
    wakeup: Option<Wakeup>,
    routes: watch::Sender<Option<Vec<Route>>>,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("temps-proxy-routes".into())
        .spawn(move || {
            let mut seen: Option<i64> = None;
            let mut failure = Once::default();
            while !stop.load(Ordering::SeqCst) {
                let changed = store
                    .route_generation()
                    .map(|generation| Some(generation).filter(|g| seen != Some(*g)));
                match changed {
                    Ok(Some(generation)) => match store.routes() {
                        Ok(rows) => {
                            // A write between the two reads is in the rows already.
                            let newest = rows.iter().map(|r| r.generation).max();
                            seen = Some(newest.unwrap_or(generation).max(generation));
                            failure = Once::default();
                            routes.send_replace(Some(rows));
                        }
                        Err(err) => failure.failed("reading the routes", &err),
                    },
                    Ok(None) => failure = Once::default(),
                    Err(err) => failure.failed("polling the routes", &err),
                }
                let stopping = || stop.load(Ordering::SeqCst);
                match &wakeup {
                    Some(wakeup) => {
                        wakeup.wait(interval, STOP_CHECK, &stopping);
                    }
                    None => sleep_unless(interval, &stopping),
                }
            }
            // The socket file goes with the thread that used it.
            drop(wakeup);
        })
        .context("starting the route poller")
}

/// Sleep `interval`, or less once `stop` says so.
fn sleep_unless(interval: Duration, stop: &dyn Fn() -> bool) {
    let deadline = std::time::Instant::now() + interval;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() || stop() {
            return;
        }
        thread::sleep(left.min(STOP_CHECK));
    }
}

/// Report the proxy's state every `interval`, and at once on a nudge. When the nudging
/// side hangs up, report one last time and return.
pub fn spawn_reporter(
    mut store: Store,
    interval: Duration,
    observed: Arc<Observed>,
) -> Result<(mpsc::Sender<()>, JoinHandle<()>)> {
    let (nudge, nudged) = mpsc::channel::<()>();
    let handle = thread::Builder::new()
        .name("temps-proxy-report".into())
        .spawn(move || {
            let mut failure = Once::default();
            loop {
                let last = matches!(
                    nudged.recv_timeout(interval),
                    Err(RecvTimeoutError::Disconnected)
                );
                // Several nudges while a write waited: one report covers them all.
                while nudged.try_recv().is_ok() {}
                // Handed over: the new proxy reports; this one only says what it still
                // has in flight (a drain waits for it), until it exits.
                if observed.handed_over.load(Ordering::SeqCst) {
                    let state = (!last).then(|| observed.state());
                    if let Err(err) = store.report_draining(state.as_ref(), observed.pid) {
                        failure.failed("reporting what is still in flight", &err);
                    }
                    if last {
                        return;
                    }
                    continue;
                }
                match store.report_proxy_state(&observed.state()) {
                    Ok(()) => failure = Once::default(),
                    Err(err) => failure.failed("reporting the proxy's state", &err),
                }
                if last {
                    return;
                }
            }
        })
        .context("starting the state reporter")?;
    Ok((nudge, handle))
}
