//! Operations started through the API: each runs the very pipeline the command line
//! runs (`ops::deploy`, `ops::redeploy`), on a thread of its own with its own
//! connection to the history, so it finishes whatever its client does. Its progress is
//! kept in a log that event streams replay and follow.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::{oneshot, watch, Notify};

use super::error::ApiError;
use crate::ops::deploy::DeployRequest;
use crate::ops::gate::Choice;
use crate::ops::operate::{self, Caller, Watched};
use crate::ops::redeploy::{self, Plan, Prompt};
use crate::ops::watch::{Watch, WatchOutcome};
use crate::progress::{Event, Progress, Stage};
use crate::store::{Deployment, Store};

/// How many ended operations' logs are kept for late event streams.
const KEPT_LOGS: usize = 256;

/// What an API request asks to run: the request the pipeline takes, its project (as the
/// request found it), and its watch window (`?watch=DUR`; `None`: the project's).
pub struct Job {
    pub operation: Operation,
    pub project: String,
    pub watch: Option<Duration>,
}

pub enum Operation {
    Deploy(Box<DeployRequest>),
    Redeploy(redeploy::Request),
}

/// The operations of this server.
#[derive(Default)]
pub struct Operations {
    running: AtomicUsize,
    /// The server is stopping: no new operation starts.
    closing: std::sync::atomic::AtomicBool,
    idle: Notify,
    logs: Mutex<HashMap<i64, Arc<Log>>>,
}

/// How an operation began: it recorded its deployment, or it ended before (refused,
/// busy, or so quick that its end came first).
pub enum Started {
    Recorded(Box<Deployment>, Arc<Log>),
    Ended(Arc<Log>),
}

/// An operation's progress, as event stream frames, and its end.
pub struct Log {
    inner: Mutex<LogInner>,
    changed: watch::Sender<usize>,
}

#[derive(Default)]
struct LogInner {
    frames: Vec<(&'static str, Value)>,
    /// The final record, or the error (with the record when there is one).
    outcome: Option<Result<Value, ApiError>>,
}

impl Log {
    fn new() -> Log {
        Log {
            inner: Mutex::new(LogInner::default()),
            changed: watch::channel(0).0,
        }
    }

    fn push(&self, event: &'static str, data: Value) {
        let count = {
            let mut inner = self.inner.lock().expect("log");
            inner.frames.push((event, data));
            inner.frames.len()
        };
        self.changed.send_replace(count);
    }

    fn end(&self, outcome: Result<Value, ApiError>) {
        let count = {
            let mut inner = self.inner.lock().expect("log");
            if let Err(err) = &outcome {
                inner.frames.push(("error", err.body()["error"].clone()));
            }
            let record = match &outcome {
                Ok(record) => record.clone(),
                Err(err) => err.deployment.clone().unwrap_or(Value::Null),
            };
            inner.frames.push(("done", record));
            inner.outcome = Some(outcome);
            inner.frames.len()
        };
        self.changed.send_replace(count);
    }

    /// The outcome, once the operation has ended.
    pub async fn outcome(&self) -> Result<Value, ApiError> {
        let mut changes = self.changed.subscribe();
        loop {
            if let Some(outcome) = self.inner.lock().expect("log").outcome.clone() {
                return outcome;
            }
            if changes.changed().await.is_err() {
                return Err(ApiError::from_anyhow(&anyhow::anyhow!(
                    "the operation's log closed before it ended"
                )));
            }
        }
    }

    /// Told the number of frames whenever one is added.
    pub fn subscribe(&self) -> watch::Receiver<usize> {
        self.changed.subscribe()
    }

    /// Frames from `from` on, and whether the log has ended.
    pub fn frames_from(&self, from: usize) -> (Vec<(&'static str, Value)>, bool) {
        let inner = self.inner.lock().expect("log");
        (
            inner.frames.get(from..).unwrap_or_default().to_vec(),
            inner.outcome.is_some(),
        )
    }
}

impl Operations {
    /// From now on, starting an operation answers 503: the server is stopping.
    pub fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
    }

    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Wait until no operation runs (true), or `limit` has passed (false).
    pub async fn wait_idle(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.idle.notified();
            if self.running() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.running() == 0;
            }
        }
    }

    /// The log of the operation that recorded deployment `id`, while it is kept.
    pub fn log_of(&self, id: i64) -> Option<Arc<Log>> {
        self.logs.lock().expect("logs").get(&id).cloned()
    }

    fn keep(&self, id: i64, log: Arc<Log>) {
        let mut logs = self.logs.lock().expect("logs");
        logs.insert(id, log);
        if logs.len() > KEPT_LOGS {
            let mut ended: Vec<i64> = logs
                .iter()
                .filter(|(_, l)| l.inner.lock().expect("log").outcome.is_some())
                .map(|(id, _)| *id)
                .collect();
            ended.sort_unstable();
            for id in ended.iter().take(logs.len() - KEPT_LOGS) {
                logs.remove(id);
            }
        }
    }
}

/// Start `job` as `app`'s operation; answers when it has recorded its deployment or
/// ended, whichever comes first.
pub async fn start(app: &Arc<super::App>, db: PathBuf, job: Job) -> Result<Started, ApiError> {
    if app.operations.closing.load(Ordering::SeqCst) {
        return Err(ApiError::unavailable(
            "the server is stopping: it finishes the operations in flight and starts no new one",
        )
        .hint("try again once it is back (systemd restarts it), or use the command line"));
    }
    let (what, actor) = match &job.operation {
        Operation::Deploy(r) => (
            format!("deploy {} --image {}", r.project, r.image),
            r.created_by.clone(),
        ),
        Operation::Redeploy(r) => (
            match &r.target {
                redeploy::Target::Id(id) | redeploy::Target::Found { id, .. } => {
                    format!("{} {id}", r.kind.noun())
                }
                redeploy::Target::MostRecent {
                    project,
                    environment,
                } => {
                    format!("{} {project}/{environment}", r.kind.noun())
                }
            },
            r.created_by.clone(),
        ),
    };
    let (first_tx, first_rx) = oneshot::channel();
    let log = Arc::new(Log::new());
    app.operations.running.fetch_add(1, Ordering::SeqCst);
    let thread_app = app.clone();
    let thread_log = log.clone();
    let spawned = std::thread::Builder::new()
        .name("temps-operation".into())
        .spawn(move || {
            let sink = Sink {
                app: thread_app.clone(),
                log: thread_log.clone(),
                first: Mutex::new(Some(first_tx)),
                began: Instant::now(),
                stage: Mutex::new(Stage::Lock),
                recorded: Mutex::new(None),
            };
            let result = run_job(&db, job, &sink);
            let outcome = match result {
                Ok(deployment) => {
                    thread_app
                        .operations
                        .keep(deployment.id, thread_log.clone());
                    serde_json::to_value(&deployment).map_err(|e| ApiError::from_anyhow(&e.into()))
                }
                Err(err) => {
                    let mut error = ApiError::from_anyhow(&err);
                    let recorded = *sink.recorded.lock().expect("recorded");
                    if error.deployment.is_none() {
                        if let Some(id) = recorded {
                            error.deployment = Store::open(&db)
                                .and_then(|s| s.deployment(id))
                                .ok()
                                .flatten()
                                .and_then(|d| serde_json::to_value(d).ok());
                        }
                    }
                    Err(error)
                }
            };
            match &outcome {
                Ok(record) => super::log(&format!(
                    "{actor}: {what}: #{} {}",
                    record["id"],
                    record["status"].as_str().unwrap_or("?")
                )),
                Err(err) => super::log(&format!(
                    "{actor}: {what}: {} ({})",
                    err.code.as_str(),
                    err.message
                )),
            }
            thread_log.end(outcome);
            if let Some(first) = sink.first.lock().expect("first").take() {
                let _ = first.send(Started::Ended(thread_log.clone()));
            }
            drop(sink);
            thread_app.operations.running.fetch_sub(1, Ordering::SeqCst);
            thread_app.operations.idle.notify_waiters();
        });
    if let Err(err) = spawned {
        app.operations.running.fetch_sub(1, Ordering::SeqCst);
        return Err(ApiError::internal(format!(
            "cannot start the operation's thread: {err}"
        )));
    }
    first_rx
        .await
        .map_err(|_| ApiError::internal("the operation ended without a word"))
}

fn run_job(db: &std::path::Path, job: Job, sink: &Sink) -> anyhow::Result<Deployment> {
    let mut store = Store::open(db)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let request = match job.operation {
        Operation::Deploy(request) => operate::Request::Deploy(request),
        Operation::Redeploy(request) => operate::Request::Redeploy(request),
    };
    runtime.block_on(async {
        let operated =
            operate::run(&mut store, request, job.watch, &AskedFirst, sink, sink).await?;
        if let Some(Watched {
            outcome: WatchOutcome::Superseded { .. },
            ..
        }) = operated.watched
        {
            sink.warn("another operation changed what serves: the watch ended without acting");
        }
        Ok(operated.deployment)
    })
}

/// Inside the server, the watch's steps go to the operation's log like its own.
impl Caller for Sink {
    fn before_watch(&self) -> &dyn Progress {
        self
    }

    fn watching<'a>(&'a self, _watch: &Watch) -> Box<dyn Progress + 'a> {
        Box::new(Borrowed(self))
    }
}

/// A borrowed progress, boxed.
struct Borrowed<'a>(&'a dyn Progress);

impl Progress for Borrowed<'_> {
    fn event(&self, event: Event<'_>) {
        self.0.event(event);
    }

    fn warn(&self, message: &str) {
        self.0.warn(message);
    }

    fn recorded(&self, deployment: &Deployment) {
        self.0.recorded(deployment);
    }
}

/// An HTTP request answers the pipeline's questions by having asked first: the gate's
/// most recent valid target, and yes (`?dry_run=true` shows the plan beforehand).
struct AskedFirst;

impl Prompt for AskedFirst {
    fn choose(&self, choice: &Choice<'_>) -> anyhow::Result<i64> {
        choice.most_recent()
    }

    fn confirm(&self, _plan: &Plan) -> anyhow::Result<bool> {
        Ok(true)
    }
}

/// Where an API operation's progress goes: its log, and the request waiting to answer.
struct Sink {
    app: Arc<super::App>,
    log: Arc<Log>,
    first: Mutex<Option<oneshot::Sender<Started>>>,
    began: Instant,
    stage: Mutex<Stage>,
    recorded: Mutex<Option<i64>>,
}

impl Sink {
    fn frame(&self, message: &str) {
        let step = self.stage.lock().expect("stage").as_str();
        self.log.push(
            "progress",
            json!({
                "step": step,
                "message": message,
                "elapsed_ms": self.began.elapsed().as_millis() as u64,
            }),
        );
    }
}

impl Progress for Sink {
    fn event(&self, event: Event<'_>) {
        match event {
            Event::Stage(stage) => {
                *self.stage.lock().expect("stage") = stage;
                self.frame(stage_words(stage));
            }
            Event::Step(message) => self.frame(message),
        }
    }

    fn warn(&self, message: &str) {
        self.frame(&format!("warning: {message}"));
    }

    fn recorded(&self, deployment: &Deployment) {
        *self.recorded.lock().expect("recorded") = Some(deployment.id);
        self.app.operations.keep(deployment.id, self.log.clone());
        if let Some(first) = self.first.lock().expect("first").take() {
            let _ = first.send(Started::Recorded(
                Box::new(deployment.clone()),
                self.log.clone(),
            ));
        }
    }
}

fn stage_words(stage: Stage) -> &'static str {
    match stage {
        Stage::Lock => "taking the environment's lock",
        Stage::Validate => "validating",
        Stage::Confirm => "confirmed by the request",
        Stage::Reconcile => "reconciling what an interrupted operation left",
        Stage::PreHook => "running the pre hook",
        Stage::Record => "recording the deployment",
        Stage::Switch => "switching",
        Stage::PostHook => "running the post hook",
        Stage::Unlock => "releasing the lock",
        Stage::Watch => "watching the new deployment",
    }
}
