//! The proxy's third conversation with the history, on a thread of its own (with its own
//! connection and its own small runtime), far from the requests: now and then, stop
//! the warm standbys whose time is up (see `ops::standby`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::{event, problem};
use crate::docker::Engine;
use crate::ops::standby::stop_expired;
use crate::progress::{Event, Progress};
use crate::store::Store;

/// Progress of a standby check: only warnings reach the proxy's log.
struct Log;

impl Progress for Log {
    fn event(&self, _event: Event<'_>) {}
    fn warn(&self, message: &str) {
        problem(message);
    }
}

/// Every `interval`, stop expired standbys, until `stop` is set.
pub fn spawn_keeper(
    mut store: Store,
    interval: Duration,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("temps-standby".into())
        .spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                problem("could not start the standby check's runtime; expired standbys wait for the next operation");
                return;
            };
            let mut last_failure = None;
            let mut next = Instant::now() + interval;
            while !stop.load(Ordering::SeqCst) {
                if Instant::now() < next {
                    thread::sleep(Duration::from_millis(50).min(interval));
                    continue;
                }
                next = Instant::now() + interval;
                let checked = runtime.block_on(async {
                    let engine = Engine::connect().await.context("connecting to Docker")?;
                    stop_expired(&mut store, &engine, &Log).await
                });
                match checked {
                    Ok(stopped) => {
                        last_failure = None;
                        for line in stopped {
                            event(line);
                        }
                    }
                    Err(err) => {
                        let text = format!("stopping expired standbys: {err:#}");
                        if last_failure.as_ref() != Some(&text) {
                            problem(&text);
                            last_failure = Some(text);
                        }
                    }
                }
            }
        })
        .context("starting the standby check")
}
