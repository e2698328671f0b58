//! The server's state: the history (a small pool of connections), the dashboard's
//! sessions, who fails to authenticate, the operations in flight and the event streams'
//! shared poller.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::clients::Failures;
use super::error::ApiError;
use super::events::Poller;
use super::operations::Operations;
use super::sessions::Sessions;
use crate::store::{Deployment, Store};

/// How long the list of images on the host is reused for `actions`.
const IMAGES_FRESH: Duration = Duration::from_secs(2);
/// Connections to the history kept open, and how many requests work on it at once (the
/// others wait for a permit): more would only open connections that are closed again,
/// each on a thread of its own, and take turns on the same cores.
const POOL: usize = 8;

/// The image ids on the host (`None`: Docker did not answer), and when they were asked.
type ImagesSeen = (Instant, Option<HashSet<String>>);

pub struct App {
    pub db: PathBuf,
    pub tls: bool,
    pool: Mutex<Vec<Store>>,
    /// One per pooled connection, taken by `read` for the time it uses one.
    permits: Arc<tokio::sync::Semaphore>,
    pub sessions: Sessions,
    pub(super) failures: Failures,
    images: Arc<Mutex<Option<ImagesSeen>>>,
    images_refreshing: Arc<std::sync::atomic::AtomicBool>,
    pub operations: Operations,
    /// What the event streams of deployments this server does not run wait for.
    pub(super) poller: Arc<Poller<Deployment>>,
}

impl App {
    pub fn new(db: PathBuf, tls: bool, public_origin: Option<String>) -> anyhow::Result<App> {
        // Open (and migrate) now, so a bad database stops the server at start; the
        // pool starts full, so that a request on the runtime never waits for an open.
        let pool = (0..POOL)
            .map(|_| Store::open(&db))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(App {
            db,
            tls,
            pool: Mutex::new(pool),
            permits: Arc::new(tokio::sync::Semaphore::new(POOL)),
            sessions: Sessions::new(tls, public_origin),
            failures: Failures::default(),
            images: Arc::new(Mutex::new(None)),
            images_refreshing: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            operations: Operations::default(),
            poller: Arc::new(Poller::default()),
        })
    }

    /// A connection to the history, from the pool or new.
    fn store(&self) -> anyhow::Result<Store> {
        if let Some(store) = self.pool.lock().expect("pool").pop() {
            return Ok(store);
        }
        Store::open(&self.db)
    }

    fn give_back(&self, store: Store) {
        let mut pool = self.pool.lock().expect("pool");
        if pool.len() < POOL {
            pool.push(store);
        }
    }

    /// Run `f` with a connection to the history on a blocking thread: at most `POOL` at
    /// once, each with a pooled connection; the others wait for their turn.
    pub async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = self.permits.clone().acquire_owned().await.map_err(|e| {
            ApiError::internal(format!("waiting for a connection to the history: {e}"))
        })?;
        self.blocking(Some(permit), f).await
    }

    /// `read` for a few indexed reads that never write (who asks, what the path
    /// names), run where the request is, on the runtime: a hop to a blocking thread
    /// would cost more than they do. A reader of SQLite's WAL does not wait for writers;
    /// when no pooled connection is free (one is being opened), it takes the hop.
    pub async fn read_here<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = self.permits.clone().acquire_owned().await.map_err(|e| {
            ApiError::internal(format!("waiting for a connection to the history: {e}"))
        })?;
        let pooled = self.pool.lock().expect("pool").pop();
        match pooled {
            Some(mut store) => {
                let result = f(&mut store);
                self.give_back(store);
                drop(permit);
                result
            }
            None => self.blocking(Some(permit), f).await,
        }
    }

    /// `read` for work that may wait on Docker while it holds its connection (`status`,
    /// a dry run's validation): it takes no turn, so a slow engine cannot make every
    /// other request wait.
    pub async fn read_engine<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.blocking(None, f).await
    }

    async fn blocking<T: Send + 'static>(
        self: &Arc<Self>,
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
        f: impl FnOnce(&mut Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let app = self.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut store = app.store()?;
            let result = f(&mut store);
            app.give_back(store);
            result
        })
        .await;
        joined.unwrap_or_else(|err| {
            Err(ApiError::internal(format!(
                "the request's worker ended: {err}"
            )))
        })
    }

    /// The records of `ids` as they are now (`None`: gone), in one turn on the history:
    /// what the event streams' shared poller asks.
    pub async fn deployments_now(
        self: &Arc<Self>,
        ids: Vec<i64>,
    ) -> Vec<(i64, Option<Deployment>)> {
        self.read(move |store| {
            Ok(ids
                .into_iter()
                .map(|id| (id, store.deployment(id).ok().flatten()))
                .collect())
        })
        .await
        .unwrap_or_default()
    }

    /// The image ids on the host, for `actions` (which the operation's own validation
    /// checks again): asked of Docker at most every two seconds, in the background once
    /// known, so that no request waits for Docker but the very first (`None` when
    /// Docker does not answer quickly).
    pub async fn images(&self) -> Option<HashSet<String>> {
        use std::sync::atomic::Ordering;
        let known = self.images.lock().expect("images").clone();
        match known {
            Some((at, images)) => {
                if at.elapsed() >= IMAGES_FRESH
                    && !self.images_refreshing.swap(true, Ordering::SeqCst)
                {
                    let (cache, refreshing) = (self.images.clone(), self.images_refreshing.clone());
                    tokio::spawn(async move {
                        let fresh =
                            crate::ops::gate::images_within(crate::ops::gate::ENGINE_BUDGET).await;
                        *cache.lock().expect("images") = Some((Instant::now(), fresh));
                        refreshing.store(false, Ordering::SeqCst);
                    });
                }
                images
            }
            None => {
                let fresh = crate::ops::gate::images_within(crate::ops::gate::ENGINE_BUDGET).await;
                *self.images.lock().expect("images") = Some((Instant::now(), fresh.clone()));
                fresh
            }
        }
    }
}
