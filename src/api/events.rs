//! Event streams: `GET …/deployments/{id}/events`.
//!
//! A deployment this server runs (or ran lately) streams its operation's log as it
//! grows. One the command line runs has no log here: its stream waits for the record to
//! end, which one shared [`Poller`] looks at every 250 ms for all such streams together,
//! in one turn on the history's pool (a hundred streams cost one read per tick, not a
//! hundred).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use tokio::sync::watch;

use super::operations::Log;
use crate::store::{Deployment, Status};

/// How often the shared poller looks at the records streams wait for.
const TICK: Duration = Duration::from_millis(250);

/// What a poller asks each tick: the records of these ids as they are now.
pub type Reader<T> = Arc<
    dyn Fn(Vec<i64>) -> Pin<Box<dyn Future<Output = Vec<(i64, Option<T>)>> + Send>> + Send + Sync,
>;

/// One task that reads, every tick, every record some stream waits for, and tells each
/// stream its record's news. It runs while at least one stream waits.
pub struct Poller<T> {
    watched: Mutex<HashMap<i64, watch::Sender<Option<Option<T>>>>>,
    running: AtomicBool,
}

impl<T> Default for Poller<T> {
    fn default() -> Poller<T> {
        Poller {
            watched: Mutex::new(HashMap::new()),
            running: AtomicBool::new(false),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> Poller<T> {
    /// The record `id` as the poller sees it: `None` until its first read, then
    /// `Some(None)` once it is gone, `Some(Some(record))` otherwise.
    pub fn follow(
        self: &Arc<Self>,
        id: i64,
        read: &Reader<T>,
    ) -> watch::Receiver<Option<Option<T>>> {
        let receiver = self
            .watched
            .lock()
            .expect("watched")
            .entry(id)
            .or_insert_with(|| watch::channel(None).0)
            .subscribe();
        self.ensure_running(read);
        receiver
    }

    fn ensure_running(self: &Arc<Self>, read: &Reader<T>) {
        if self.running.swap(true, Ordering::SeqCst) {
            return;
        }
        let (poller, read) = (self.clone(), read.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(TICK).await;
                if !poller.tick(&read).await {
                    poller.running.store(false, Ordering::SeqCst);
                    // A stream that came while this one decided to stop starts it again.
                    let waiting = !poller.watched.lock().expect("watched").is_empty();
                    if !waiting || poller.running.swap(true, Ordering::SeqCst) {
                        return;
                    }
                }
            }
        });
    }

    /// Read every record a stream still waits for, once; false when none does.
    async fn tick(&self, read: &Reader<T>) -> bool {
        let ids: Vec<i64> = {
            let mut watched = self.watched.lock().expect("watched");
            watched.retain(|_, sender| sender.receiver_count() > 0);
            watched.keys().copied().collect()
        };
        if ids.is_empty() {
            return false;
        }
        let now = read(ids).await;
        let watched = self.watched.lock().expect("watched");
        for (id, record) in now {
            if let Some(sender) = watched.get(&id) {
                sender.send_replace(Some(record));
            }
        }
        true
    }
}

/// The event stream of `deployment`, looked up by the request: its operation's `log` when
/// this server runs it (or ran it lately), else `done` at once if it has ended, else
/// `done` when the shared `poller` sees it end (reading the records with `read`).
pub fn stream(
    log: Option<Arc<Log>>,
    poller: &Arc<Poller<Deployment>>,
    read: Reader<Deployment>,
    deployment: Deployment,
) -> Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>>> {
    enum State {
        Log(Arc<Log>, usize, watch::Receiver<usize>),
        Record(watch::Receiver<Option<Option<Deployment>>>),
        Ended(Box<Deployment>),
        Done,
    }
    let state = match log {
        Some(log) => {
            let changes = log.subscribe();
            State::Log(log, 0, changes)
        }
        None if ended(&deployment) => State::Ended(Box::new(deployment)),
        None => State::Record(poller.follow(deployment.id, &read)),
    };
    let done = |d: &Deployment| {
        let data = serde_json::to_string(d).unwrap_or_default();
        Ok(SseEvent::default().event("done").data(data))
    };
    let stream = futures_util::stream::unfold(state, move |state| async move {
        match state {
            State::Done => None,
            State::Ended(d) => Some((futures_util::stream::iter(vec![done(&d)]), State::Done)),
            State::Log(log, from, mut changes) => loop {
                let (frames, ended) = log.frames_from(from);
                if !frames.is_empty() {
                    let next = from + frames.len();
                    let finished = ended && frames.last().is_some_and(|(e, _)| *e == "done");
                    let events: Vec<Result<SseEvent, Infallible>> = frames
                        .into_iter()
                        .map(|(name, data)| {
                            Ok(SseEvent::default().event(name).data(data.to_string()))
                        })
                        .collect();
                    let state = if finished {
                        State::Done
                    } else {
                        State::Log(log, next, changes)
                    };
                    return Some((futures_util::stream::iter(events), state));
                }
                if changes.changed().await.is_err() {
                    return None;
                }
            },
            State::Record(mut seen) => loop {
                let now = seen.borrow_and_update().clone();
                match now {
                    Some(Some(d)) if ended(&d) => {
                        return Some((futures_util::stream::iter(vec![done(&d)]), State::Done))
                    }
                    // Gone (pruned) while it ran: nothing more to say.
                    Some(None) => return None,
                    _ => {}
                }
                if seen.changed().await.is_err() {
                    return None;
                }
            },
        }
    });
    use futures_util::StreamExt;
    Sse::new(stream.flatten()).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

fn ended(d: &Deployment) -> bool {
    !matches!(d.status, Status::Pending | Status::Deploying)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test(start_paused = true)]
    async fn a_hundred_streams_cost_one_read_per_tick_and_the_poller_stops_when_none_waits() {
        let poller: Arc<Poller<&'static str>> = Arc::new(Poller::default());
        let reads = Arc::new(AtomicUsize::new(0));
        let status = Arc::new(Mutex::new("deploying"));
        let read: Reader<&'static str> = {
            let (reads, status) = (reads.clone(), status.clone());
            Arc::new(move |ids: Vec<i64>| {
                reads.fetch_add(1, Ordering::SeqCst);
                let now = *status.lock().unwrap();
                Box::pin(async move { ids.into_iter().map(|id| (id, Some(now))).collect() })
            })
        };
        let mut streams: Vec<_> = (0..100).map(|i| poller.follow(1 + i % 3, &read)).collect();
        for _ in 0..4 {
            tokio::time::sleep(TICK).await;
            tokio::task::yield_now().await;
        }
        let after_four = reads.load(Ordering::SeqCst);
        assert!(
            (3..=4).contains(&after_four),
            "{after_four} reads in four ticks"
        );
        for stream in &mut streams {
            assert_eq!(*stream.borrow_and_update(), Some(Some("deploying")));
        }
        *status.lock().unwrap() = "deployed";
        for stream in &mut streams {
            stream.changed().await.unwrap();
            assert_eq!(*stream.borrow(), Some(Some("deployed")));
        }
        drop(streams);
        tokio::time::sleep(TICK * 3).await;
        tokio::task::yield_now().await;
        assert!(
            !poller.running.load(Ordering::SeqCst),
            "the poller still runs"
        );
        let stopped = reads.load(Ordering::SeqCst);
        tokio::time::sleep(TICK * 4).await;
        assert_eq!(
            reads.load(Ordering::SeqCst),
            stopped,
            "reads with no stream"
        );
        // A new stream starts it again.
        let mut again = poller.follow(7, &read);
        again.changed().await.unwrap();
        assert_eq!(*again.borrow(), Some(Some("deployed")));
    }
}
