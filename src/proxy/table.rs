//! The route table a request reads: per listen address, the environment's upstreams in
//! round-robin, and the in-flight counters the deploy side watches to know when an old
//! version has drained.
//!
//! An upstream's counter lives in one registry shared by every table that names it, so a
//! request that started on the previous table is still counted after a switch, and an
//! upstream kept by the new table keeps its count.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use hyper::http::uri::Authority;
use tokio::net::TcpStream;

use super::metrics::{self, Metrics, Series};
use super::policy::{self, UPSTREAM_IDLE};
use super::tls::Certificates;
use crate::clock::monotonic_ms;
use crate::store::{Answers, Route, ANSWER_WINDOW_SECS};

/// How long a refused connect keeps an upstream out of the rotation (while another is up).
const DOWN_FOR: Duration = Duration::from_secs(2);
/// Kept-alive connections kept per upstream, at most; more are closed after their answer.
const IDLE_MAX: usize = 512;

/// One address requests are forwarded to, and how many are there now.
#[derive(Debug)]
pub struct Upstream {
    pub addr: String,
    pub authority: Authority,
    /// The address to connect to, when `addr` is an IP address and port (as temps writes
    /// routes); else `addr` is resolved on each connect.
    pub socket: Option<SocketAddr>,
    in_flight: AtomicU64,
    /// Milliseconds on [`monotonic_ms`] before which it counts as down.
    down_until: AtomicU64,
    /// A failure was logged and no request has succeeded since: log the next one only
    /// after a recovery, not once per request.
    failure_logged: AtomicBool,
    /// Kept-alive connections to it no request is using, the most recently used last.
    idle: Mutex<VecDeque<(TcpStream, Instant)>>,
    /// How it has answered, for the watch window.
    answers: Mutex<AnswerLog>,
    /// The metrics of the deployment it belongs to, as the latest table says (with
    /// `--metrics` only).
    series: RwLock<Option<Arc<Series>>>,
}

/// An upstream's answers: in all, and per second over the last
/// [`ANSWER_WINDOW_SECS`] seconds (a ring of one bucket per second).
#[derive(Debug, Default)]
struct AnswerLog {
    requests: u64,
    errors: u64,
    /// (second on [`monotonic_ms`], answers, 5xx answers), indexed by second modulo
    /// the window.
    seconds: [(u64, u64, u64); ANSWER_WINDOW_SECS as usize],
}

impl AnswerLog {
    fn record(&mut self, second: u64, error: bool) {
        self.requests += 1;
        self.errors += u64::from(error);
        let slot = &mut self.seconds[(second % ANSWER_WINDOW_SECS) as usize];
        if slot.0 != second {
            *slot = (second, 0, 0);
        }
        slot.1 += 1;
        slot.2 += u64::from(error);
    }

    fn counts(&self, second: u64) -> Answers {
        let recent = self
            .seconds
            .iter()
            .filter(|(at, _, _)| *at + ANSWER_WINDOW_SECS > second && *at <= second);
        let (recent_requests, recent_errors) = recent
            .fold((0, 0), |(r, e), (_, requests, errors)| {
                (r + requests, e + errors)
            });
        Answers {
            requests: self.requests,
            errors: self.errors,
            recent_requests,
            recent_errors,
        }
    }
}

impl Upstream {
    pub(super) fn new(addr: &str) -> Result<Upstream, String> {
        let authority: Authority = addr
            .parse()
            .map_err(|_| format!("`{addr}` is not an upstream address (like 127.0.0.1:49153)"))?;
        if authority.port_u16().is_none() {
            return Err(format!("upstream `{addr}` has no port"));
        }
        Ok(Upstream {
            addr: addr.to_string(),
            socket: addr.parse().ok(),
            authority,
            in_flight: AtomicU64::new(0),
            down_until: AtomicU64::new(0),
            failure_logged: AtomicBool::new(false),
            idle: Mutex::new(VecDeque::new()),
            answers: Mutex::new(AnswerLog::default()),
            series: RwLock::new(None),
        })
    }

    /// A kept-alive connection to it that is still open, if one is idle.
    pub fn take_idle(&self) -> Option<TcpStream> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some((stream, since)) = idle.pop_back() {
            // Readable while idle means closed (or garbage): either way, not usable. The
            // check costs no system call while the reactor has seen nothing.
            let open = matches!(stream.try_read(&mut [0; 1]), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
            if open && since.elapsed() < UPSTREAM_IDLE {
                return Some(stream);
            }
        }
        None
    }

    /// Keep a connection whose answer has ended for the next request.
    pub fn put_idle(&self, stream: TcpStream) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < IDLE_MAX {
            idle.push_back((stream, Instant::now()));
        }
    }

    /// Close the connections idle for [`UPSTREAM_IDLE`] or longer as of `now`.
    fn close_expired(&self, now: Instant) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while idle
            .front()
            .is_some_and(|(_, since)| now.saturating_duration_since(*since) >= UPSTREAM_IDLE)
        {
            idle.pop_front();
        }
    }

    /// Kept-alive connections to it no request is using.
    #[cfg(test)]
    fn idle_count(&self) -> usize {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// It answered a request with `status` (the proxy's own 502 or 504 for it counts as
    /// a 5xx of its own).
    pub fn answered(&self, status: u16) {
        if let Some(series) = self.series() {
            series.answered(status);
        }
        let second = monotonic_ms() / 1000;
        self.answers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record(second, status >= 500);
    }

    /// The proxy answered `status` (502, 504) for it: it failed the request.
    pub fn failed(&self, status: u16) {
        if let Some(series) = self.series() {
            series.upstream_failed();
        }
        self.answered(status);
    }

    /// The metrics it counts into, if any.
    fn series(&self) -> Option<Arc<Series>> {
        self.series
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Count its answers into `series` from now on.
    fn count_into(&self, series: Arc<Series>) {
        let mut current = self.series.write().unwrap_or_else(PoisonError::into_inner);
        if !current.as_ref().is_some_and(|s| Arc::ptr_eq(s, &series)) {
            *current = Some(series);
        }
    }

    /// How it has answered, as of now.
    pub fn answers(&self) -> Answers {
        let second = monotonic_ms() / 1000;
        self.answers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .counts(second)
    }

    fn is_up(&self, now_ms: u64) -> bool {
        self.down_until.load(Ordering::Relaxed) <= now_ms
    }

    /// A connect failed: take it out of the rotation for a while. True when this is the
    /// first failure since it last worked (worth one log line).
    pub fn mark_down(&self) -> bool {
        let until = monotonic_ms() + DOWN_FOR.as_millis() as u64;
        self.down_until.store(until, Ordering::Relaxed);
        !self.failure_logged.swap(true, Ordering::Relaxed)
    }

    /// A request got an answer: it is up (cheap when nothing changes).
    pub fn mark_up(&self) {
        if self.failure_logged.load(Ordering::Relaxed) {
            self.failure_logged.store(false, Ordering::Relaxed);
            self.down_until.store(0, Ordering::Relaxed);
        }
    }
}

/// A request counted in flight on its upstream until this is dropped.
#[derive(Debug)]
pub struct FlightGuard {
    upstream: Arc<Upstream>,
    /// When it began, for the duration histogram (with `--metrics` only).
    began: Option<Instant>,
}

impl FlightGuard {
    fn begin(upstream: &Arc<Upstream>) -> FlightGuard {
        upstream.in_flight.fetch_add(1, Ordering::SeqCst);
        let counted = upstream
            .series
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        FlightGuard {
            upstream: Arc::clone(upstream),
            began: counted.then(Instant::now),
        }
    }

    pub fn upstream(&self) -> &Arc<Upstream> {
        &self.upstream
    }
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        self.upstream.in_flight.fetch_sub(1, Ordering::SeqCst);
        if let (Some(began), Some(series)) = (self.began, self.upstream.series()) {
            series.ended(began.elapsed());
        }
    }
}

/// Every upstream any table or request still refers to, by address.
#[derive(Debug, Default)]
pub struct Upstreams {
    known: Mutex<HashMap<String, Arc<Upstream>>>,
    /// With `--metrics`: the deployments' series the upstreams count into.
    pub metrics: Option<Arc<Metrics>>,
}

impl Upstreams {
    /// The one `Upstream` for `addr`, made on first use.
    fn get(&self, addr: &str) -> Result<Arc<Upstream>, String> {
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(upstream) = known.get(addr) {
            return Ok(Arc::clone(upstream));
        }
        let upstream = Arc::new(Upstream::new(addr)?);
        known.insert(addr.to_string(), Arc::clone(&upstream));
        Ok(upstream)
    }

    /// Requests in flight per upstream: every routed upstream (0 included) and every
    /// upstream no longer routed that still has requests or connections open. Only reads:
    /// the pool is kept by [`Upstreams::sweep`], whether or not anyone reports.
    pub fn in_flight(&self) -> BTreeMap<String, u64> {
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        known
            .iter()
            .filter(|(_, upstream)| Arc::strong_count(upstream) > 1)
            .map(|(addr, upstream)| (addr.clone(), upstream.in_flight()))
            .collect()
    }

    /// The pool's own expiry: close the kept-alive connections idle for too long as of
    /// `now`, and forget the upstreams nothing refers to any more (with their idle
    /// connections).
    pub fn sweep(&self, now: Instant) {
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        // Only the registry holds it: no table routes to it and no request is on it. New
        // references are only made under this lock, so the count cannot rise meanwhile.
        known.retain(|_, upstream| Arc::strong_count(upstream) > 1);
        for upstream in known.values() {
            upstream.close_expired(now);
        }
    }

    /// How each upstream that [`Upstreams::in_flight`] reports has answered.
    pub fn answers(&self) -> BTreeMap<String, Answers> {
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        known
            .iter()
            .filter(|(_, upstream)| Arc::strong_count(upstream) > 1)
            .map(|(addr, upstream)| (addr.clone(), upstream.answers()))
            .collect()
    }

    pub fn total_in_flight(&self) -> u64 {
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        known.values().map(|u| u.in_flight()).sum()
    }
}

/// How often the pool looks for connections idle too long: they close at most this
/// much later than [`UPSTREAM_IDLE`].
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Keep the pool of idle upstream connections, for as long as the proxy runs.
pub async fn sweep_pool(routes: Arc<Routes>) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        routes.upstreams.sweep(Instant::now());
    }
}

/// One environment's requests: the upstreams they go to, in turn.
#[derive(Debug)]
pub struct Site {
    pub upstreams: Vec<Arc<Upstream>>,
    next: AtomicUsize,
    /// How long an upstream's answer may take to begin; None: no limit.
    response_timeout: Option<Duration>,
    /// On a TLS address: the `Strict-Transport-Security` max-age its answers get (0:
    /// none).
    hsts_secs: u64,
}

impl Site {
    /// The next upstream in turn that is up, skipping `skip`; when all are down, the next
    /// one anyway (a refused connect is only a hint). None when there is no other.
    fn pick(&self, skip: Option<&Upstream>, now_ms: u64) -> Option<&Arc<Upstream>> {
        let count = self.upstreams.len();
        if count == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut fallback = None;
        for i in 0..count {
            let upstream = &self.upstreams[(start + i) % count];
            if skip.is_some_and(|s| std::ptr::eq(s, upstream.as_ref())) {
                continue;
            }
            if upstream.is_up(now_ms) {
                return Some(upstream);
            }
            fallback.get_or_insert(upstream);
        }
        fallback
    }
}

/// The environments one address serves, told apart by the request's host.
#[derive(Debug, Default)]
pub struct Listener {
    pub sites: Vec<Site>,
    /// `web/production`, per site: who holds what, for the log.
    names: Vec<String>,
    /// `shop.example.com` → its site.
    exact: HashMap<String, usize>,
    /// `example.com` for `*.example.com` → its site.
    wildcard: HashMap<String, usize>,
    /// The environment with no domains: every other host.
    default: Option<usize>,
}

impl Listener {
    /// The site for a request naming `host` (lower case, no port): an exact domain, then a
    /// wildcard one label up, then the address's default.
    fn site(&self, host: Option<&str>) -> Option<&Site> {
        let found = host.and_then(|host| {
            self.exact.get(host).or_else(|| {
                let (label, parent) = host.split_once('.')?;
                (!label.is_empty()).then(|| self.wildcard.get(parent))?
            })
        });
        found.or(self.default.as_ref()).map(|i| &self.sites[*i])
    }

    /// Add `name`'s site for `domains` (none: the default). A second default, or domains
    /// already held, are refused: says why, naming who holds them.
    fn add(&mut self, name: &str, site: Site, domains: &[String]) -> Result<(), String> {
        if domains.is_empty() {
            if let Some(holder) = self.default {
                return Err(format!(", which {} already uses", self.names[holder]));
            }
        }
        let held = |d: &String| match d.strip_prefix("*.") {
            Some(parent) => self.wildcard.get(parent),
            None => self.exact.get(d.as_str()),
        };
        if let Some((domain, holder)) = domains.iter().find_map(|d| held(d).map(|h| (d, *h))) {
            return Err(format!(
                " for {domain}, which {} answers already",
                self.names[holder]
            ));
        }
        let index = self.sites.len();
        self.sites.push(site);
        self.names.push(name.to_string());
        if domains.is_empty() {
            self.default = Some(index);
        }
        for domain in domains {
            match domain.strip_prefix("*.") {
                Some(parent) => self.wildcard.insert(parent.to_string(), index),
                None => self.exact.insert(domain.clone(), index),
            };
        }
        Ok(())
    }
}

/// What every listener serves, as of one route generation.
#[derive(Debug, Default)]
pub struct Table {
    pub generation: i64,
    pub sites: HashMap<SocketAddr, Listener>,
    /// The TLS domains and the port of the address serving each (`*.example.com` as
    /// `example.com` in `https_wildcard`): where the `--http` address redirects.
    https_exact: HashMap<String, u16>,
    https_wildcard: HashMap<String, u16>,
}

impl Table {
    /// The port of the TLS address that serves `host`, if one does.
    pub fn https_port(&self, host: &str) -> Option<u16> {
        self.https_exact.get(host).copied().or_else(|| {
            let (label, parent) = host.split_once('.')?;
            (!label.is_empty())
                .then(|| self.https_wildcard.get(parent).copied())
                .flatten()
        })
    }
}

/// The outcome of picking an upstream for one request.
#[derive(Debug)]
pub enum Pick {
    /// Nothing is routed on this address (any more).
    NoRoute,
    /// The address is shared by domain, and none of its environments answers this host.
    UnknownHost,
    /// The environment has no upstream (or no other one to retry on).
    NoUpstream,
    /// Counted in flight on its upstream; `others` says whether a retry could go
    /// elsewhere; the answer must begin within `response_timeout`, when there is one.
    Upstream {
        guard: FlightGuard,
        others: bool,
        response_timeout: Option<Duration>,
        /// The `Strict-Transport-Security` max-age to add to its answer (0: none).
        hsts_secs: u64,
    },
}

/// The current table and the upstreams' counters, shared by every connection.
#[derive(Debug, Default)]
pub struct Routes {
    table: RwLock<Table>,
    pub upstreams: Upstreams,
    /// The certificates of the TLS addresses, and ACME's challenges.
    pub certificates: Arc<Certificates>,
    /// The plain `--http` address: ACME's HTTP-01 challenges, redirects to HTTPS.
    pub edge: Option<SocketAddr>,
}

impl Routes {
    /// A table with nothing routed yet; `edge` is the plain `--http` address, if any.
    pub fn new(edge: Option<SocketAddr>, metrics: Option<Arc<Metrics>>) -> Routes {
        Routes {
            edge,
            upstreams: Upstreams {
                metrics,
                ..Upstreams::default()
            },
            ..Routes::default()
        }
    }

    /// Pick an upstream for a request arriving on `listen` and count it in flight there,
    /// in one step under the table's read lock: [`Routes::replace`] takes the write lock,
    /// so once it returns, no request is between reading the old table and being counted
    /// on the old upstream, and a report made after it cannot miss one.
    pub fn begin(&self, listen: SocketAddr, host: Option<&str>, skip: Option<&Upstream>) -> Pick {
        let table = self.table.read().unwrap_or_else(PoisonError::into_inner);
        let Some(listener) = table.sites.get(&listen) else {
            return Pick::NoRoute;
        };
        let Some(site) = listener.site(host) else {
            return Pick::UnknownHost;
        };
        match site.pick(skip, monotonic_ms()) {
            Some(upstream) => Pick::Upstream {
                guard: FlightGuard::begin(upstream),
                others: site.upstreams.len() > 1,
                response_timeout: site.response_timeout,
                hsts_secs: site.hsts_secs,
            },
            None => Pick::NoUpstream,
        }
    }

    /// The port of the TLS address that serves `host`, as of now.
    pub fn https_port(&self, host: &str) -> Option<u16> {
        self.table
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .https_port(host)
    }

    /// Whether anything is routed on `listen` now.
    pub fn routes_on(&self, listen: SocketAddr) -> bool {
        self.table
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .sites
            .contains_key(&listen)
    }

    /// Switch every listener to `table` at once.
    pub fn replace(&self, table: Table) {
        let old = {
            let mut current = self.table.write().unwrap_or_else(PoisonError::into_inner);
            std::mem::replace(&mut *current, table)
        };
        if let Some(metrics) = &self.upstreams.metrics {
            metrics.switched();
        }
        drop(old);
    }

    #[cfg(test)]
    fn generation(&self) -> i64 {
        self.table
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .generation
    }
}

/// An address to listen on, and for whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// As the route writes it: `0.0.0.0:8080`.
    pub written: String,
    /// `web/production`.
    pub name: String,
    pub environment_id: i64,
    /// It serves TLS.
    pub tls: bool,
}

/// The table a set of routes asks for, the addresses to listen on, and what was refused.
#[derive(Debug, Default)]
pub struct Plan {
    pub table: Table,
    pub listen: BTreeMap<SocketAddr, Wanted>,
    /// One line each: an address two environments want, an unreadable address.
    pub problems: Vec<String>,
    /// Per TLS address, the routes served there (for their certificates).
    pub secure: BTreeMap<SocketAddr, Vec<Route>>,
}

/// Turn the route rows into a table. When environments want the same address, the one
/// that `holders` says serves it now keeps it (a later route cannot take it over), else
/// the one with the lowest id; the others are refused.
pub fn plan(routes: &[Route], upstreams: &Upstreams, holders: &HashMap<SocketAddr, i64>) -> Plan {
    let mut plan = Plan {
        table: Table {
            generation: routes.iter().map(|r| r.generation).max().unwrap_or(0),
            ..Table::default()
        },
        ..Plan::default()
    };
    let mut wanted: BTreeMap<SocketAddr, Vec<&Route>> = BTreeMap::new();
    for route in routes {
        let name = format!("{}/{}", route.project, route.environment);
        match parse_listen(&route.listen) {
            Ok(addr) => wanted.entry(addr).or_default().push(route),
            Err(why) => plan.problems.push(format!("{name}: {why}")),
        }
    }
    for (addr, mut contenders) in wanted {
        contenders.sort_by_key(|r| {
            (
                Some(&r.environment_id) != holders.get(&addr),
                r.environment_id,
            )
        });
        // Environments share an address by domain; the one that serves it now (or the
        // oldest) keeps what two of them claim.
        // The address serves TLS or plain HTTP as the environment holding it does; one
        // that wants the other is refused (deploy refuses such a mix beforehand).
        let tls = contenders[0].tls.is_on();
        let mut listener = Listener::default();
        for route in &contenders {
            let name = format!("{}/{}", route.project, route.environment);
            if route.tls.is_on() != tls {
                let (wants, serves) = if tls {
                    ("plain HTTP", "HTTPS")
                } else {
                    ("HTTPS", "plain HTTP")
                };
                plan.problems.push(format!(
                    "{name} wants {wants} on {addr}, which serves {serves} for {}/{}; not serving it",
                    contenders[0].project, contenders[0].environment
                ));
                continue;
            }
            let mut site_upstreams = Vec::with_capacity(route.upstreams.len());
            let series =
                upstreams
                    .metrics
                    .as_ref()
                    .zip(route.deployment_id)
                    .map(|(metrics, id)| {
                        metrics.series(metrics::Deployment {
                            project: route.project.clone(),
                            environment: route.environment.clone(),
                            id,
                        })
                    });
            for upstream in &route.upstreams {
                match upstreams.get(upstream) {
                    Ok(upstream) => {
                        if let Some(series) = &series {
                            upstream.count_into(Arc::clone(series));
                        }
                        site_upstreams.push(upstream)
                    }
                    Err(why) => plan.problems.push(format!("{name}: {why}")),
                }
            }
            let site = Site {
                upstreams: site_upstreams,
                next: AtomicUsize::new(0),
                response_timeout: policy::response_timeout(route.response_timeout_ms),
                hsts_secs: if tls { route.hsts_secs } else { 0 },
            };
            if tls && route.domains.is_empty() {
                plan.problems.push(format!(
                    "{name} wants HTTPS on {addr} without a domain; not serving it"
                ));
                continue;
            }
            if let Err(why) = listener.add(&name, site, &route.domains) {
                plan.problems
                    .push(format!("{name} wants {addr}{why}; not serving it"));
                continue;
            }
            if tls {
                for domain in &route.domains {
                    match domain.strip_prefix("*.") {
                        Some(parent) => plan
                            .table
                            .https_wildcard
                            .insert(parent.to_string(), addr.port()),
                        None => plan.table.https_exact.insert(domain.clone(), addr.port()),
                    };
                }
                plan.secure.entry(addr).or_default().push((*route).clone());
            }
        }
        let first = contenders[0];
        plan.listen.insert(
            addr,
            Wanted {
                written: first.listen.clone(),
                name: format!("{}/{}", first.project, first.environment),
                environment_id: first.environment_id,
                tls,
            },
        );
        plan.table.sites.insert(addr, listener);
    }
    plan
}

/// `0.0.0.0:8080`, `[::]:8080`, or a bare port (`8080`, `:8080`) for every IPv4 address.
pub fn parse_listen(listen: &str) -> Result<SocketAddr, String> {
    let text = listen.trim();
    let port = text.strip_prefix(':').unwrap_or(text);
    if let Ok(port) = port.parse::<u16>() {
        return Ok(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    text.parse().map_err(|_| {
        format!("`{listen}` is not a listen address (like 0.0.0.0:8080 or 127.0.0.1:8080)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_counted_in_all_and_within_the_last_ten_seconds() {
        let mut log = AnswerLog::default();
        for _ in 0..5 {
            log.record(100, false);
        }
        log.record(100, true);
        log.record(105, true);
        let at_105 = log.counts(105);
        assert_eq!(
            (
                at_105.requests,
                at_105.errors,
                at_105.recent_requests,
                at_105.recent_errors
            ),
            (7, 2, 7, 2)
        );
        // Second 100 has left the window at 110; second 105 is still in it.
        let at_110 = log.counts(110);
        assert_eq!((at_110.recent_requests, at_110.recent_errors), (1, 1));
        // A bucket reused ten seconds later starts again from nothing.
        log.record(110, false);
        let after = log.counts(110);
        assert_eq!(
            (after.requests, after.recent_requests, after.recent_errors),
            (8, 2, 1)
        );
        assert_eq!(log.counts(200).recent_requests, 0);
    }

    fn route(environment_id: i64, listen: &str, upstreams: &[&str], generation: i64) -> Route {
        Route {
            environment_id,
            project: "web".into(),
            environment: format!("env{environment_id}"),
            listen: listen.into(),
            upstreams: upstreams.iter().map(|u| u.to_string()).collect(),
            deployment_id: None,
            generation,
            response_timeout_ms: 60_000,
            domains: Vec::new(),
            tls: crate::store::Tls::Off,
            hsts_secs: 0,
        }
    }

    fn pick_for(routes: &Routes, listen: SocketAddr, host: &str) -> Option<String> {
        match routes.begin(listen, Some(host), None) {
            Pick::Upstream { guard, .. } => Some(guard.upstream().addr.clone()),
            Pick::UnknownHost => None,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn environments_share_an_address_by_host() {
        let upstreams = Upstreams::default();
        let mut shop = route(1, "0.0.0.0:80", &["127.0.0.1:1"], 1);
        shop.domains = vec!["shop.example.com".into()];
        let mut blog = route(2, "0.0.0.0:80", &["127.0.0.1:2"], 1);
        blog.domains = vec!["*.blog.example.com".into(), "blog.example.com".into()];
        let shared = plan(&[shop.clone(), blog.clone()], &upstreams, &HashMap::new());
        assert!(shared.problems.is_empty(), "{:?}", shared.problems);
        let routes = Routes::default();
        routes.replace(shared.table);
        let listen: SocketAddr = "0.0.0.0:80".parse().unwrap();
        assert_eq!(
            pick_for(&routes, listen, "shop.example.com").unwrap(),
            "127.0.0.1:1"
        );
        assert_eq!(
            pick_for(&routes, listen, "blog.example.com").unwrap(),
            "127.0.0.1:2"
        );
        assert_eq!(
            pick_for(&routes, listen, "a.blog.example.com").unwrap(),
            "127.0.0.1:2"
        );
        // One label only, and no default: anything else is no one's.
        assert_eq!(pick_for(&routes, listen, "a.b.blog.example.com"), None);
        assert_eq!(pick_for(&routes, listen, "other.example.com"), None);
        assert!(matches!(
            routes.begin(listen, None, None),
            Pick::UnknownHost
        ));

        // An environment without domains is the address's default; a domain claimed twice
        // stays with the environment that holds it.
        let default = route(3, "0.0.0.0:80", &["127.0.0.1:3"], 1);
        let mut thief = route(4, "0.0.0.0:80", &["127.0.0.1:4"], 1);
        thief.domains = vec!["shop.example.com".into()];
        let contested = plan(&[shop, blog, default, thief], &upstreams, &HashMap::new());
        let problems = &contested.problems;
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("web/env4"), "{problems:?}");
        let routes = Routes::default();
        routes.replace(contested.table);
        assert_eq!(
            pick_for(&routes, listen, "shop.example.com").unwrap(),
            "127.0.0.1:1"
        );
        assert_eq!(
            pick_for(&routes, listen, "other.example.com").unwrap(),
            "127.0.0.1:3"
        );
    }

    fn pick_addr(routes: &Routes, listen: SocketAddr) -> Option<String> {
        match routes.begin(listen, None, None) {
            Pick::Upstream { guard, .. } => Some(guard.upstream().addr.clone()),
            _ => None,
        }
    }

    #[test]
    fn requests_go_round_robin() {
        let routes = Routes::default();
        let set = [route(
            1,
            "127.0.0.1:8080",
            &["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"],
            4,
        )];
        routes.replace(plan(&set, &routes.upstreams, &HashMap::new()).table);
        let listen: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let picked: Vec<_> = (0..6)
            .map(|_| pick_addr(&routes, listen).unwrap())
            .collect();
        assert_eq!(
            picked,
            [
                "127.0.0.1:1",
                "127.0.0.1:2",
                "127.0.0.1:3",
                "127.0.0.1:1",
                "127.0.0.1:2",
                "127.0.0.1:3"
            ]
        );
        assert_eq!(routes.generation(), 4);
    }

    #[test]
    fn a_down_upstream_is_skipped_until_all_are_down() {
        let routes = Routes::default();
        let set = [route(1, "8080", &["127.0.0.1:1", "127.0.0.1:2"], 1)];
        routes.replace(plan(&set, &routes.upstreams, &HashMap::new()).table);
        let listen: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert!(routes.upstreams.get("127.0.0.1:1").unwrap().mark_down());
        for _ in 0..4 {
            assert_eq!(pick_addr(&routes, listen).unwrap(), "127.0.0.1:2");
        }
        routes.upstreams.get("127.0.0.1:2").unwrap().mark_down();
        assert!(
            pick_addr(&routes, listen).is_some(),
            "all down: still tries one"
        );
        routes.upstreams.get("127.0.0.1:1").unwrap().mark_up();
        assert_eq!(pick_addr(&routes, listen).unwrap(), "127.0.0.1:1");
    }

    #[test]
    fn a_retry_skips_the_upstream_that_failed() {
        let routes = Routes::default();
        let listen: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let set = [route(1, "127.0.0.1:80", &["127.0.0.1:1", "127.0.0.1:2"], 1)];
        routes.replace(plan(&set, &routes.upstreams, &HashMap::new()).table);
        let Pick::Upstream { guard, others, .. } = routes.begin(listen, None, None) else {
            panic!("no upstream")
        };
        assert!(others);
        let Pick::Upstream { guard: retry, .. } =
            routes.begin(listen, None, Some(guard.upstream()))
        else {
            panic!("no other upstream")
        };
        assert_ne!(retry.upstream().addr, guard.upstream().addr);

        let single = [route(1, "127.0.0.1:80", &["127.0.0.1:1"], 2)];
        routes.replace(plan(&single, &routes.upstreams, &HashMap::new()).table);
        let Pick::Upstream { guard, others, .. } = routes.begin(listen, None, None) else {
            panic!("no upstream")
        };
        assert!(!others);
        assert!(matches!(
            routes.begin(listen, None, Some(guard.upstream())),
            Pick::NoUpstream
        ));
        assert!(matches!(
            routes.begin("127.0.0.1:81".parse().unwrap(), None, None),
            Pick::NoRoute
        ));
    }

    #[test]
    fn in_flight_outlives_the_route_and_is_forgotten_after() {
        let routes = Routes::default();
        let listen: SocketAddr = "127.0.0.1:80".parse().unwrap();
        routes.replace(
            plan(
                &[route(1, "127.0.0.1:80", &["127.0.0.1:1"], 1)],
                &routes.upstreams,
                &HashMap::new(),
            )
            .table,
        );
        let Pick::Upstream { guard, .. } = routes.begin(listen, None, None) else {
            panic!("no upstream")
        };
        routes.replace(
            plan(
                &[route(1, "127.0.0.1:80", &["127.0.0.1:2"], 2)],
                &routes.upstreams,
                &HashMap::new(),
            )
            .table,
        );
        let counts = routes.upstreams.in_flight();
        assert_eq!(counts.get("127.0.0.1:1"), Some(&1), "{counts:?}");
        assert_eq!(counts.get("127.0.0.1:2"), Some(&0), "{counts:?}");
        assert_eq!(routes.upstreams.total_in_flight(), 1);
        drop(guard);
        let counts = routes.upstreams.in_flight();
        assert_eq!(counts.get("127.0.0.1:1"), None, "{counts:?}");
        assert_eq!(counts.get("127.0.0.1:2"), Some(&0), "{counts:?}");
        routes.upstreams.sweep(Instant::now());
        let known = routes.upstreams.known.lock().unwrap();
        assert!(!known.contains_key("127.0.0.1:1"), "forgotten by the sweep");
        assert!(known.contains_key("127.0.0.1:2"), "still routed");
    }

    #[tokio::test]
    async fn idle_connections_expire_by_the_pool_not_by_the_report() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let routes = Routes::default();
        routes.replace(
            plan(
                &[route(1, "127.0.0.1:80", &[&addr], 1)],
                &routes.upstreams,
                &HashMap::new(),
            )
            .table,
        );
        let upstream = routes.upstreams.get(&addr).unwrap();
        for _ in 0..2 {
            let stream = TcpStream::connect(&addr).await.unwrap();
            upstream.put_idle(stream);
        }
        routes.upstreams.in_flight();
        assert_eq!(upstream.idle_count(), 2, "the report leaves the pool alone");
        routes.upstreams.sweep(Instant::now());
        assert_eq!(upstream.idle_count(), 2, "not idle long enough yet");
        routes.upstreams.sweep(Instant::now() + UPSTREAM_IDLE);
        assert_eq!(upstream.idle_count(), 0, "expired");
    }

    #[test]
    fn an_address_is_https_or_plain_for_all_its_environments() {
        let upstreams = Upstreams::default();
        let mut shop = route(1, "127.0.0.1:443", &["127.0.0.1:1"], 1);
        shop.domains = vec!["shop.example.com".into(), "*.shop.example.com".into()];
        shop.tls = crate::store::Tls::Acme;
        shop.hsts_secs = 60;
        let mut plain = route(2, "127.0.0.1:443", &["127.0.0.1:2"], 2);
        plain.domains = vec!["blog.example.com".into()];
        let mut bare = route(3, "127.0.0.1:444", &["127.0.0.1:3"], 3);
        bare.tls = crate::store::Tls::Acme;
        let planned = plan(&[shop, plain, bare], &upstreams, &HashMap::new());
        assert_eq!(planned.problems.len(), 2, "{:?}", planned.problems);
        let said = |text: &str| planned.problems.iter().any(|p| p.contains(text));
        assert!(
            said("web/env3 wants HTTPS on 127.0.0.1:444 without a domain"),
            "{:?}",
            planned.problems
        );
        assert!(
            said("web/env2 wants plain HTTP on 127.0.0.1:443, which serves HTTPS for web/env1"),
            "{:?}",
            planned.problems
        );
        let addr: SocketAddr = "127.0.0.1:443".parse().unwrap();
        assert!(planned.listen[&addr].tls);
        assert_eq!(planned.secure[&addr].len(), 1);
        assert_eq!(planned.table.https_port("shop.example.com"), Some(443));
        assert_eq!(planned.table.https_port("a.shop.example.com"), Some(443));
        assert_eq!(planned.table.https_port("blog.example.com"), None);
        let routes = Routes::default();
        routes.replace(planned.table);
        match routes.begin(addr, Some("shop.example.com"), None) {
            Pick::Upstream { hsts_secs, .. } => assert_eq!(hsts_secs, 60),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn two_environments_without_domains_cannot_share_an_address() {
        let upstreams = Upstreams::default();
        let set = [
            route(1, "0.0.0.0:8080", &["127.0.0.1:1"], 1),
            route(2, "0.0.0.0:8080", &["127.0.0.1:2"], 2),
            route(3, "0.0.0.0:8081", &["127.0.0.1:3"], 3),
            route(4, "nowhere", &["127.0.0.1:4"], 4),
        ];
        let first = plan(&set, &upstreams, &HashMap::new());
        let addr: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(first.listen[&addr].environment_id, 1);
        assert_eq!(first.table.sites.len(), 2);
        assert_eq!(first.table.generation, 4);
        assert_eq!(first.problems.len(), 2, "{:?}", first.problems);
        assert!(
            first.problems[0].contains("not a listen address"),
            "{:?}",
            first.problems
        );
        assert!(
            first.problems[1].contains("web/env2 wants 0.0.0.0:8080, which web/env1 already uses"),
            "{:?}",
            first.problems
        );
        // The environment serving the address keeps it.
        let kept = plan(&set, &upstreams, &HashMap::from([(addr, 2)]));
        assert_eq!(kept.listen[&addr].environment_id, 2);
    }

    #[test]
    fn listen_addresses_and_upstreams_are_checked() {
        assert_eq!(
            parse_listen("8080").unwrap(),
            "0.0.0.0:8080".parse().unwrap()
        );
        assert_eq!(parse_listen(":80").unwrap(), "0.0.0.0:80".parse().unwrap());
        assert_eq!(
            parse_listen("[::1]:80").unwrap(),
            "[::1]:80".parse().unwrap()
        );
        assert!(parse_listen("localhost:80").is_err());
        assert!(Upstream::new("127.0.0.1").is_err());
        assert!(Upstream::new("127.0.0.1:49153").is_ok());
        assert!(Upstream::new("not an address").is_err());
    }
}
