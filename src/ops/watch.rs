//! The watch window: after a switch, keep an eye on the new deployment for a while and
//! roll back by itself when it goes bad.
//!
//! Three signals: one of its containers stops or restarts (the engine's own events, so
//! at once); its health check fails [`FAILED_PROBES`] times in a row (probed every
//! [`PROBE_EVERY`]); in proxy mode, the proxy's own count of its answers has 5xx on at
//! least [`ERROR_PERCENT`] % of at least [`MIN_REQUESTS`] requests within the last 10 s.
//! The rollback that follows is an ordinary one ([`redeploy::run`]: the same lock, gate,
//! hooks and warm path), confirmed only while the watched deployment still serves: the
//! lock is not held during the watch, so a person may roll back or promote meanwhile,
//! and then the watch ends without acting.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Result;
use futures_util::StreamExt;
use tokio::time::Instant;

use crate::clock::now_ms;
use crate::docker::{ContainerEvent, Engine, TaskFacts};
use crate::error::{ExitStatus, Failure};
use crate::health::{probe_once, Probe, ProbeMiss};
use crate::ops::gate::Choice;
use crate::ops::pipeline::lock::live_holder;
use crate::ops::redeploy::{self, Kind, Outcome, Plan, Prompt, Request, Target};
use crate::ops::swap::{upstream_of, Signals};
use crate::progress::Progress;
use crate::store::{Deployment, Origin, Preset, Project, Publish, Status, Store};

/// How often the health check is probed during the watch.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);
/// Failed probes in a row that fire.
pub const FAILED_PROBES: u32 = 3;
/// Fewer answers than this within the window never fire, whatever they were.
pub const MIN_REQUESTS: u64 = 20;
/// The share of 5xx answers, in percent, that fires.
pub const ERROR_PERCENT: u64 = 10;
/// How often the proxy's counts and the environment's current deployment are read.
const LOOK_EVERY: Duration = Duration::from_millis(50);
/// The proxy's counts are believed only while its heartbeat is this fresh.
const FRESH_REPORT_MS: i64 = 5_000;
/// How long the automatic rollback waits for a lock a person holds.
const LOCK_PATIENCE: Duration = Duration::from_secs(600);

/// A deployment to watch, and what to go back to.
pub struct Watch {
    /// The deployment that serves after the switch.
    pub deployment: Deployment,
    /// The deployment that served before it: the automatic rollback's target.
    pub previous: i64,
    pub window: Duration,
    /// Who the automatic rollback is recorded as made by (the watcher's user).
    pub created_by: String,
}

/// Answers the proxy counted for the watched deployment, since it was first routed to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub requests: u64,
    pub errors: u64,
}

/// What made a watch roll back. Written out, it is the sentence the rollback's reason,
/// its warnings and its error carry.
#[derive(Debug)]
pub enum Signal {
    /// A watched container stopped (`code`: its exit status, when the engine said).
    Exited {
        container: String,
        code: Option<i64>,
    },
    /// A watched container was killed for want of memory.
    OutOfMemory { container: String },
    /// A watched container was restarted (`action`: the engine's word for the event).
    Restarted { container: String, action: String },
    /// A container failed its health check `count` times in a row; `last`: the last miss.
    Unhealthy {
        container: String,
        count: u32,
        last: ProbeMiss,
    },
    /// Proxy mode: 5xx on at least [`ERROR_PERCENT`] % of at least [`MIN_REQUESTS`]
    /// answers within the last 10 s.
    ServerErrors { requests: u64, errors: u64 },
    /// Swarm mode: a task of the watched deployment ended (`error`: Swarm's word on why).
    TaskEnded {
        task: String,
        node: String,
        state: String,
        error: Option<String>,
    },
}

impl Signal {
    /// The signal a container's event is: it died, ran out of memory, or restarted.
    fn of_event(event: ContainerEvent) -> Signal {
        let container = if event.name.is_empty() {
            "a container".to_string()
        } else {
            event.name
        };
        match (event.action.as_str(), event.exit_code) {
            ("die", code) => Signal::Exited { container, code },
            ("oom", _) => Signal::OutOfMemory { container },
            (action, _) => Signal::Restarted {
                container,
                action: action.to_string(),
            },
        }
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signal::Exited {
                container,
                code: Some(code),
            } => write!(f, "container {container} exited with status {code}"),
            Signal::Exited { container, .. } => write!(f, "container {container} exited"),
            Signal::OutOfMemory { container } => {
                write!(f, "container {container} ran out of memory")
            }
            Signal::Restarted { container, action } => {
                write!(f, "container {container} was restarted ({action})")
            }
            Signal::Unhealthy {
                container,
                count,
                last,
            } => write!(
                f,
                "{container} failed its health check {count} times in a row ({last})"
            ),
            Signal::ServerErrors { requests, errors } => write!(
                f,
                "5xx on {}% of {requests} requests in the last 10 s ({errors} errors)",
                *errors * 100 / (*requests).max(1)
            ),
            Signal::TaskEnded {
                task,
                node,
                state,
                error,
            } => {
                let why = error.as_deref().map_or(String::new(), |e| format!(": {e}"));
                write!(f, "task {task} on {node} ended ({state}{why})")
            }
        }
    }
}

/// The kind of signal an automatic rollback's reason names (`exited`, `out-of-memory`,
/// `restarted`, `unhealthy`, `server-errors`, `task-ended`), for the metrics' `signal`
/// label: the history keeps the sentence [`Signal`] writes, and this reads it back.
/// `None`: not an automatic rollback's reason.
pub fn signal_kind_of_reason(reason: &str) -> Option<&'static str> {
    let said = reason.strip_prefix("automatic: ")?;
    let kinds = [
        (" ran out of memory", "out-of-memory"),
        (" was restarted (", "restarted"),
        (" failed its health check ", "unhealthy"),
        ("5xx on ", "server-errors"),
        (" exited", "exited"),
        (" ended (", "task-ended"),
    ];
    Some(
        kinds
            .iter()
            .find(|(words, _)| said.contains(words))
            .map_or("other", |(_, kind)| kind),
    )
}

/// How a watch ended.
pub enum WatchOutcome {
    /// The window passed with no signal.
    Quiet(Option<Tally>),
    /// Ctrl-C (or SIGTERM): watching stopped, the watched deployment still serves.
    Interrupted(Option<Tally>),
    /// Someone else changed what serves (a manual rollback or promote, a deploy): the
    /// watch ended without acting.
    Superseded { serving: Option<i64> },
    /// A signal fired and the environment was rolled back: the watched deployment is
    /// `failed`, `rollback` serves.
    RolledBack {
        watched: Box<Deployment>,
        rollback: Box<Deployment>,
        signal: Signal,
    },
}

/// The window to watch for: `--watch` (or `?watch=`) when given, else the project's.
pub fn window(given: Option<Duration>, project: &Project) -> Duration {
    given.unwrap_or(project.watch)
}

/// What serves an environment now, read before an operation: a deploy's watch goes back
/// to it.
pub fn serving_now(store: &Store, project: &str, environment: &str) -> Result<Option<i64>> {
    let project = store.project(project)?;
    Ok(store
        .environment(project.id, environment)?
        .and_then(|env| env.current_deployment_id))
}

/// After an operation: the watch of `deployment` for `window` when it switched (it
/// serves and something served before it), else `None` (with a warning when a watch was
/// asked for and cannot be had). `before` is what served before the operation began.
pub fn after_switch(
    store: &Store,
    deployment: &Deployment,
    before: Option<i64>,
    window: Duration,
    created_by: &str,
    progress: &dyn Progress,
) -> Result<Option<Watch>> {
    if window.is_zero() || deployment.status != Status::Deployed {
        return Ok(None);
    }
    if store.project(&deployment.project)?.preset == Preset::Static {
        progress.warn("a static release is not watched: it has no container to watch");
        return Ok(None);
    }
    let previous = match deployment.origin {
        Origin::Rollback { from, .. } => from,
        Origin::Deploy | Origin::Promote { .. } => before,
    };
    let Some(previous) = previous.filter(|p| *p != deployment.id) else {
        progress.warn(&format!(
            "#{} is not watched: nothing served before it to roll back to",
            deployment.id
        ));
        return Ok(None);
    };
    Ok(Some(Watch {
        deployment: deployment.clone(),
        previous,
        window,
        created_by: created_by.to_string(),
    }))
}

/// A watch that rolled back, as the error the command and the API end with (exit 5,
/// `health_failed`), carrying the watched deployment's record.
pub fn rolled_back_failure(
    watched: &Deployment,
    rollback: &Deployment,
    signal: &Signal,
) -> Failure {
    let mut failure = Failure::new(
        ExitStatus::HealthFailed,
        format!(
            "#{} went bad during its watch ({signal}); rolled back automatically: #{} serves #{}'s version, and {}/{} is rolled back",
            watched.id,
            rollback.id,
            rollback.origin.rolled_back_to().unwrap_or_default(),
            watched.project,
            watched.environment
        ),
    )
    .hint(format!(
        "see `temps show {}`; fix the cause and deploy again, then `temps promote` the new deployment",
        watched.id
    ));
    failure.document = serde_json::to_value(watched).ok();
    failure
}

/// Watch for the whole window, or until a signal, an interrupt or someone else's
/// operation ends it.
pub async fn run(store: &mut Store, watch: Watch, progress: &dyn Progress) -> Result<WatchOutcome> {
    // First: from here on an interrupt only stops the watch.
    run_caught(store, watch, Signals::new()?, progress).await
}

/// [`run`], with the interrupts caught already (`Signals::new()`): a caller that says the
/// watch has begun does so once Ctrl-C stops the watch, not before.
pub(crate) async fn run_caught(
    store: &mut Store,
    watch: Watch,
    mut signals: Signals,
    progress: &dyn Progress,
) -> Result<WatchOutcome> {
    let watched = &watch.deployment;
    let engine = Engine::connect().await?;
    let project = store.project(&watched.project)?;
    let env = store.environment_by_id(watched.environment_id)?;
    let proxied = env.proxy.is_some();
    let probes = probes(&engine, store, &project, watched).await?;
    let deadline = Instant::now() + watch.window;
    // No container of its own (swarm mode): no container events to follow (an empty
    // filter would follow every container of the engine).
    let mut events =
        engine.container_events(&watched.containers, watch.window + Duration::from_secs(60));
    let mut events_open = !watched.containers.is_empty();
    // Probing runs beside the rest: a slow probe never delays the proxy's counts.
    let health = watch_health(&engine, &probes);
    tokio::pin!(health);
    // Swarm mode: the service's tasks stand for the containers, on whichever node.
    let service = env
        .swarm
        .then(|| crate::docker::service_name(&project.name, &env.name));
    let tasks = watch_tasks(&engine, service.as_deref(), watched.id);
    tokio::pin!(tasks);
    let mut look_tick = tokio::time::interval(LOOK_EVERY);
    look_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut tally = proxied.then(Tally::default);
    let mut shown_at: Option<u64> = None;
    let signal = loop {
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => return Ok(WatchOutcome::Quiet(tally)),
            _ = signals.next() => return Ok(WatchOutcome::Interrupted(tally)),
            event = events.next(), if events_open => match event {
                Some(Ok(event)) => break Signal::of_event(event),
                Some(Err(err)) => {
                    progress.warn(&format!("{err:#}; the watch goes on with the health check"));
                    events_open = false;
                }
                None => events_open = false,
            },
            why = &mut health => break why,
            why = &mut tasks => break why,
            _ = look_tick.tick() => {
                let serving = store.environment_by_id(env.id)?.current_deployment_id;
                if serving != Some(watched.id) {
                    return Ok(WatchOutcome::Superseded { serving });
                }
                if proxied {
                    let (counts, fired) = proxy_counts(store, env.id, watched.id)?;
                    tally = Some(counts);
                    if let Some(why) = fired {
                        break why;
                    }
                }
                let left = deadline.saturating_duration_since(Instant::now());
                let second = left.as_secs();
                if shown_at != Some(second) {
                    shown_at = Some(second);
                    progress.step(&spinner_text(watched.id, left, tally));
                }
            }
        }
    };
    if wait_for_lock(
        store,
        &watch,
        &project,
        &env.name,
        &signal,
        &mut signals,
        progress,
    )
    .await?
    {
        return Ok(WatchOutcome::Interrupted(tally));
    }
    roll_back(store, &watch, signal, progress).await
}

/// Before the automatic rollback takes the lock: while someone else's operation holds
/// it, wait here (up to [`LOCK_PATIENCE`]), where an interrupt is still heard, rather
/// than in the lock's own wait, which is not. True when an interrupt came first: the
/// rollback is given up with nothing changed, and the watched deployment still serves.
async fn wait_for_lock(
    store: &Store,
    watch: &Watch,
    project: &Project,
    environment: &str,
    signal: &Signal,
    signals: &mut Signals,
    progress: &dyn Progress,
) -> Result<bool> {
    let until = Instant::now() + LOCK_PATIENCE;
    let mut announced = false;
    while let Some(holder) = live_holder(store, project, environment)? {
        if Instant::now() >= until {
            // The pipeline's own wait answers busy, naming the holder.
            break;
        }
        let waiting_for = format!(
            "`temps {}` (pid {}, {})",
            crate::text::printable(&holder.command),
            holder.pid,
            crate::text::printable(&holder.user)
        );
        if !announced {
            progress.warn(&format!(
                "#{} went bad: {signal}; waiting for {waiting_for} to finish to roll back to #{} (Ctrl-C gives up and leaves #{} serving)",
                watch.deployment.id, watch.previous, watch.deployment.id
            ));
            announced = true;
        }
        tokio::select! {
            () = tokio::time::sleep(LOOK_EVERY) => {}
            caught = signals.next() => {
                progress.warn(&format!(
                    "the automatic rollback of #{} was given up ({caught}) while it waited for {waiting_for}: nothing was changed; roll back by hand once the environment is free: `temps rollback {}`",
                    watch.deployment.id, watch.previous
                ));
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// `watching #44: 4m12s left, 1,204 requests, 0 errors`.
pub fn spinner_text(id: i64, left: Duration, tally: Option<Tally>) -> String {
    let secs = left.as_secs();
    let left = match (secs / 3600, secs % 3600 / 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    };
    match tally {
        Some(t) => format!(
            "watching #{id}: {left} left, {} requests, {} errors",
            thousands(t.requests),
            thousands(t.errors)
        ),
        None => format!("watching #{id}: {left} left"),
    }
}

/// `1204` → `1,204`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Whether a window's answers fire: enough of them, and enough 5xx among them.
pub fn errors_fire(requests: u64, errors: u64) -> bool {
    requests >= MIN_REQUESTS && errors * 100 >= requests * ERROR_PERCENT
}

/// The health probe of each of the watched deployment's containers, where it serves.
async fn probes(
    engine: &Engine,
    store: &Store,
    project: &Project,
    watched: &Deployment,
) -> Result<Vec<(String, Probe)>> {
    if watched.containers.is_empty() {
        // Swarm mode: the tasks are watched instead.
        return Ok(Vec::new());
    }
    let env = store.environment_by_id(watched.environment_id)?;
    let image = match watched.image_id.as_deref() {
        Some(id) => engine.image(id).await?,
        None => None,
    };
    let has_healthcheck = image.as_ref().is_some_and(|i| i.has_healthcheck);
    let port = project
        .container_port
        .or(image.as_ref().and_then(|i| i.exposed_port));
    let mut probes = Vec::new();
    for name in &watched.containers {
        let at = match (env.proxy.is_some(), port) {
            (true, Some(port)) => upstream_of(engine, name, port)
                .await?
                .and_then(|choice| choice.chosen.parse::<SocketAddr>().ok())
                .map(|addr| Publish {
                    ip: Some(addr.ip().to_string()),
                    port: addr.port(),
                }),
            _ => env.publish.clone(),
        };
        let probe = Probe::choose(
            project.health_path.as_deref(),
            has_healthcheck,
            port,
            at.as_ref(),
        );
        probes.push((name.clone(), probe));
    }
    Ok(probes)
}

/// Probe each container every [`PROBE_EVERY`] until one has failed [`FAILED_PROBES`]
/// times in a row: the signal.
async fn watch_health(engine: &Engine, probes: &[(String, Probe)]) -> Signal {
    let mut failed: HashMap<&str, u32> = HashMap::new();
    let mut tick = tokio::time::interval(PROBE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is at once, and the switch has just probed: skip it.
    tick.tick().await;
    loop {
        tick.tick().await;
        for (name, probe) in probes {
            match probe_once(engine, name, probe).await {
                Ok(()) => {
                    failed.remove(name.as_str());
                }
                Err(last) => {
                    let count = failed.entry(name).or_default();
                    *count += 1;
                    if *count >= FAILED_PROBES {
                        return Signal::Unhealthy {
                            container: name.clone(),
                            count: *count,
                            last,
                        };
                    }
                }
            }
        }
    }
}

/// Swarm mode: resolves when a task of the watched deployment ends after the watch began
/// (its process exited, Swarm found it unhealthy and replaced it, a node rejected it),
/// looking every [`PROBE_EVERY`]. Tasks that ended before are not counted; a look that
/// the engine does not answer is skipped. Never resolves on one host (`service` is
/// `None`).
async fn watch_tasks(engine: &Engine, service: Option<&str>, watched: i64) -> Signal {
    let Some(service) = service else {
        return std::future::pending().await;
    };
    let ended = |task: &TaskFacts| {
        task.deployment_id == Some(watched)
            && matches!(task.state.as_str(), "complete" | "failed" | "rejected")
    };
    let mut before: Option<std::collections::HashSet<String>> = None;
    let mut tick = tokio::time::interval(PROBE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Ok(tasks) = engine.service_tasks(service).await else {
            continue;
        };
        let Some(known) = &before else {
            before = Some(
                tasks
                    .iter()
                    .filter(|t| ended(t))
                    .map(|t| t.id.clone())
                    .collect(),
            );
            continue;
        };
        if let Some(task) = tasks
            .into_iter()
            .find(|t| ended(t) && !known.contains(&t.id))
        {
            return Signal::TaskEnded {
                task: task.name,
                node: task.node,
                state: task.state,
                error: task.error,
            };
        }
    }
}

/// The proxy's counts for the watched deployment's upstreams, and the signal when its
/// recent answers fire. Counts from a proxy that has stopped reporting are not believed.
fn proxy_counts(
    store: &Store,
    environment_id: i64,
    watched: i64,
) -> Result<(Tally, Option<Signal>)> {
    let Some(route) = store.route_of(environment_id)? else {
        return Ok((Tally::default(), None));
    };
    let Some(state) = store.proxy_state()? else {
        return Ok((Tally::default(), None));
    };
    if route.deployment_id != Some(watched) || now_ms() - state.heartbeat_at > FRESH_REPORT_MS {
        return Ok((Tally::default(), None));
    }
    let (mut tally, mut recent, mut recent_errors) = (Tally::default(), 0, 0);
    for upstream in &route.upstreams {
        if let Some(answers) = state.answers.get(upstream) {
            tally.requests += answers.requests;
            tally.errors += answers.errors;
            recent += answers.recent_requests;
            recent_errors += answers.recent_errors;
        }
    }
    let fired = errors_fire(recent, recent_errors).then_some(Signal::ServerErrors {
        requests: recent,
        errors: recent_errors,
    });
    Ok((tally, fired))
}

/// The automatic rollback: the ordinary pipeline, confirmed only while the watched
/// deployment still serves.
async fn roll_back(
    store: &mut Store,
    watch: &Watch,
    signal: Signal,
    progress: &dyn Progress,
) -> Result<WatchOutcome> {
    let watched = &watch.deployment;
    if let Some(refusal) = schema_forbids(store, watch, &signal)? {
        return Err(refusal.into());
    }
    let reason = format!("automatic: {signal} (watching #{})", watched.id);
    // The signal may quote an app or the engine (a task's error): written out, a control
    // character in it cannot make the reason refused.
    let one_line = reason.split_whitespace().collect::<Vec<_>>().join(" ");
    let reason = shorten(&crate::text::printable(&one_line), 480);
    let request = Request {
        kind: Kind::Rollback,
        target: Target::Id(watch.previous),
        reason: Some(reason.clone()),
        created_by: watch.created_by.clone(),
        wait_lock: Some(LOCK_PATIENCE),
        health_timeout: None,
        // The version that went bad only finishes its requests: it is no standby.
        keep_replaced_warm: false,
        // Never: the down migrations are a person's to run.
        accept_schema: false,
    };
    let prompt = WhileWatchedServes {
        watched: watched.id,
        signal: &signal,
        progress,
    };
    let result = redeploy::run(store, request, &prompt, progress).await;
    let serving = store
        .environment_by_id(watched.environment_id)?
        .current_deployment_id;
    let rollback = match result {
        Ok(Outcome::Switched { deployment, .. }) => deployment,
        Ok(Outcome::StateCleared { .. }) => return Ok(WatchOutcome::Superseded { serving }),
        // A person's operation got there first (the target serves already, or what serves
        // is no longer the watched deployment): theirs stands.
        Err(_) if serving != Some(watched.id) && serving != Some(watch.previous) => {
            return Ok(WatchOutcome::Superseded { serving })
        }
        Err(_) if prompt_declined(store, watched.id)? => {
            return Ok(WatchOutcome::Superseded { serving })
        }
        Err(err) => {
            let what = format!(
                "#{} went bad during its watch ({signal}), and the automatic rollback to #{} failed",
                watched.id, watch.previous
            );
            return Err(err.context(what));
        }
    };
    let failed = store.finish_unsuccessful(watched.id, Status::Failed, &reason)?;
    Ok(WatchOutcome::RolledBack {
        watched: Box::new(failed),
        rollback: Box::new(rollback),
        signal,
    })
}

/// The gate's schema rule, asked before an automatic rollback: the target's code is
/// below the database's floor. Then nothing is done (the watched deployment keeps
/// serving) and the watch ends with exit 5, its reason and a hint for a person.
fn schema_forbids(store: &Store, watch: &Watch, signal: &Signal) -> Result<Option<Failure>> {
    let watched = &watch.deployment;
    let env = store.environment_by_id(watched.environment_id)?;
    if env.current_deployment_id != Some(watched.id) {
        return Ok(None);
    }
    let (Some(target), Some(database)) = (
        store.deployment(watch.previous)?,
        store.database(watched.environment_id)?,
    ) else {
        return Ok(None);
    };
    if crate::ops::gate::below_floor(&target, Some(&database)).is_none() {
        return Ok(None);
    }
    let refused = redeploy::below_floor(&watched.project, &env, &target, &database);
    let mut failure = Failure::new(
        ExitStatus::HealthFailed,
        format!(
            "#{} went bad during its watch ({signal}), and was NOT rolled back automatically: {}; #{} still serves",
            watched.id, refused.message, watched.id
        ),
    )
    .hint(format!(
        "a person decides: fix forward with a new deploy of code that runs against schema {}, or run the down migrations and `temps rollback {} --accept-schema`; `temps show {}` tells more",
        database.schema, target.id, watched.id
    ));
    failure.document = serde_json::to_value(watched).ok();
    Ok(Some(failure))
}

/// The watched deployment no longer serves.
fn prompt_declined(store: &Store, watched: i64) -> Result<bool> {
    let record = store.expect_deployment(watched)?;
    Ok(record.status != Status::Deployed)
}

/// At most `max` characters, on one line.
fn shorten(text: &str, max: usize) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= max {
        return line;
    }
    let mut cut: String = line.chars().take(max - 1).collect();
    cut.push('~');
    cut
}

/// The automatic rollback's prompt: yes, as long as what serves (read under the lock)
/// is still the watched deployment. A signal that a person's operation caused (it
/// stopped the watched container, say) thus never rolls back, and is not announced.
struct WhileWatchedServes<'a> {
    watched: i64,
    signal: &'a Signal,
    progress: &'a dyn Progress,
}

impl Prompt for WhileWatchedServes<'_> {
    fn choose(&self, choice: &Choice<'_>) -> Result<i64> {
        choice.most_recent()
    }

    fn confirm(&self, plan: &Plan) -> Result<bool> {
        let serves = plan.current.as_ref().map(|c| c.id) == Some(self.watched);
        if serves {
            self.progress.warn(&format!(
                "#{} went bad: {}; rolling back to #{}",
                self.watched, self.signal, plan.target.id
            ));
        }
        Ok(serves)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_samples_never_fire() {
        assert!(!errors_fire(0, 0));
        assert!(!errors_fire(19, 19));
        assert!(!errors_fire(5, 5));
        assert!(errors_fire(20, 2));
        assert!(!errors_fire(20, 1));
        assert!(errors_fire(1000, 100));
        assert!(!errors_fire(1000, 99));
    }

    #[test]
    fn the_spinner_says_time_left_requests_and_errors() {
        let tally = Tally {
            requests: 1204,
            errors: 0,
        };
        assert_eq!(
            spinner_text(44, Duration::from_secs(252), Some(tally)),
            "watching #44: 4m12s left, 1,204 requests, 0 errors"
        );
        assert_eq!(
            spinner_text(7, Duration::from_secs(9), None),
            "watching #7: 9s left"
        );
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
    }

    #[test]
    fn a_reason_stays_on_one_bounded_line() {
        assert_eq!(shorten("a\n b", 10), "a b");
        assert_eq!(shorten(&"x".repeat(20), 10).chars().count(), 10);
    }

    #[test]
    fn a_signal_says_what_it_said_before() {
        let event = |action: &str, exit_code| ContainerEvent {
            name: "temps-web-production-44".into(),
            action: action.into(),
            exit_code,
        };
        let said = |signal: Signal| signal.to_string();
        assert_eq!(
            said(Signal::of_event(event("die", Some(3)))),
            "container temps-web-production-44 exited with status 3"
        );
        assert_eq!(
            said(Signal::of_event(event("die", None))),
            "container temps-web-production-44 exited"
        );
        assert_eq!(
            said(Signal::of_event(event("oom", None))),
            "container temps-web-production-44 ran out of memory"
        );
        assert_eq!(
            said(Signal::of_event(ContainerEvent {
                name: String::new(),
                ..event("restart", None)
            })),
            "container a container was restarted (restart)"
        );
        assert_eq!(
            said(Signal::Unhealthy {
                container: "temps-web-production-44".into(),
                count: 3,
                last: ProbeMiss::ConnectTimedOut,
            }),
            "temps-web-production-44 failed its health check 3 times in a row (connecting timed out)"
        );
        assert_eq!(
            said(Signal::ServerErrors {
                requests: 40,
                errors: 9
            }),
            "5xx on 22% of 40 requests in the last 10 s (9 errors)"
        );
        let task = |error: Option<&str>| Signal::TaskEnded {
            task: "temps-web-production.2".into(),
            node: "node2".into(),
            state: "failed".into(),
            error: error.map(Into::into),
        };
        assert_eq!(
            said(task(Some("exit 1"))),
            "task temps-web-production.2 on node2 ended (failed: exit 1)"
        );
        assert_eq!(
            said(task(None)),
            "task temps-web-production.2 on node2 ended (failed)"
        );
    }

    #[test]
    fn an_automatic_rollbacks_reason_names_its_signal_kind() {
        let cases = [
            (
                Signal::Exited {
                    container: "c".into(),
                    code: Some(137),
                },
                "exited",
            ),
            (
                Signal::OutOfMemory {
                    container: "c".into(),
                },
                "out-of-memory",
            ),
            (
                Signal::Restarted {
                    container: "c".into(),
                    action: "restart".into(),
                },
                "restarted",
            ),
            (
                Signal::ServerErrors {
                    requests: 60,
                    errors: 40,
                },
                "server-errors",
            ),
            (
                Signal::TaskEnded {
                    task: "t".into(),
                    node: "n".into(),
                    state: "failed".into(),
                    error: None,
                },
                "task-ended",
            ),
        ];
        for (signal, kind) in cases {
            let reason = format!("automatic: {signal} (watching #4)");
            assert_eq!(signal_kind_of_reason(&reason), Some(kind), "{reason}");
        }
        assert_eq!(signal_kind_of_reason("bad release"), None);
    }
}
