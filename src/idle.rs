//! What a served connection has in flight, and when it has been idle (and when its
//! listener is told to stop): shared by the proxy's connections and every connection of
//! `temps serve`.
//!
//! A request counts from the moment it reaches the service until its answer's body was
//! handed over whole (or dropped). PINGs and other frames do not count: hyper answers
//! them by itself, and a client that only keeps its connection alive holds it (and its
//! memory) as an idle HTTP/1.1 client would.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::watch;

/// The requests open on one connection.
#[derive(Clone)]
pub struct Open(Arc<watch::Sender<usize>>);

impl Open {
    pub fn new() -> Open {
        Open(Arc::new(watch::channel(0usize).0))
    }

    /// Counts one request open until the guard is dropped.
    pub fn request(&self) -> OpenRequest {
        self.0.send_modify(|open| *open += 1);
        OpenRequest(Arc::clone(&self.0))
    }

    /// Resolves once no request has been open for `limit`.
    pub async fn idle_for(&self, limit: Duration) {
        let mut open = self.0.subscribe();
        loop {
            let quiet = *open.borrow_and_update() == 0;
            if quiet {
                if tokio::time::timeout(limit, open.changed()).await.is_err() {
                    return;
                }
            } else {
                // The sender lives as long as `self`: `changed` cannot fail here.
                let _ = open.changed().await;
            }
        }
    }
}

impl Default for Open {
    fn default() -> Open {
        Open::new()
    }
}

/// One request counted open.
pub struct OpenRequest(Arc<watch::Sender<usize>>);

impl Drop for OpenRequest {
    fn drop(&mut self) {
        self.0.send_modify(|open| *open = open.saturating_sub(1));
    }
}

/// An answer's body, keeping its request counted open.
pub struct Counted<B> {
    pub body: B,
    pub request: OpenRequest,
}

impl<B: Body + Unpin> Body for Counted<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Resolves once the listener is told to stop (or is gone).
pub async fn stop_requested(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn idle_only_after_the_last_request_ended_and_the_limit_passed() {
        let open = Open::new();
        let request = open.request();
        let limit = Duration::from_secs(30);
        let idle = {
            let open = open.clone();
            tokio::spawn(async move { open.idle_for(limit).await })
        };
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(!idle.is_finished(), "idle with a request open");
        drop(request);
        tokio::time::sleep(Duration::from_secs(29)).await;
        assert!(!idle.is_finished(), "idle before the limit");
        let again = open.request();
        drop(again);
        tokio::time::sleep(Duration::from_secs(29)).await;
        assert!(!idle.is_finished(), "a new request restarts the limit");
        tokio::time::sleep(Duration::from_secs(2)).await;
        idle.await.unwrap();
    }
}
