//! Notifications: webhooks told what happened to an environment (a deploy, a rollback,
//! a promote, an automatic rollback and the signal that fired it, a failure).
//!
//! `operate::run` emits one event when an operation ends; each target that wants it
//! gets a delivery, kept in the history and sent at once, and the operation waits for
//! all of them together at most [`OPERATION_WAIT`]. What is not delivered then is tried
//! again with backoff, for an hour, by [`spawn_retrier`] in `temps proxy` or
//! `temps serve`: a notification never fails an operation.

mod send;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use serde_json::{json, Value};

pub use send::signature;

use crate::clock::{now_ms, rfc3339};
use crate::error::{check_name, Failure};
use crate::ops::access::tokens::random_string;
use crate::store::{Attempted, Delivery, Deployment, NotificationTarget, Store};

/// The events a target may ask for; a target asks for all of them by default.
/// (`canary-aborted` comes with canary deployments; no operation sends it yet.)
pub const EVENTS: &[&str] = &[
    "deploy",
    "rollback",
    "promote",
    "automatic-rollback",
    "canary-aborted",
    "failed",
];

/// The longest an operation waits for its notifications.
pub const OPERATION_WAIT: Duration = Duration::from_secs(2);
/// The longest a retry waits for its receiver's answer.
const RETRY_WAIT: Duration = Duration::from_secs(10);
/// How long a delivery is tried before it is abandoned.
const KEEP_TRYING_MS: i64 = 3_600_000;
/// The longest pause between two attempts.
const MAX_BACKOFF_MS: i64 = 300_000;

/// What happened, as the webhooks are told.
pub struct Event {
    /// One of [`EVENTS`].
    pub kind: &'static str,
    pub project: String,
    pub environment: String,
    /// The deployment it is about (`failed`: the one that failed, when it was recorded).
    pub deployment: Option<Deployment>,
    /// What served before.
    pub previous: Option<Deployment>,
    /// Why: the record's reason, the signal that fired an automatic rollback, the error.
    pub reason: Option<String>,
    pub by: String,
    pub at: i64,
}

impl Event {
    /// The body of the spec: `{"event","project","environment","deployment","previous",
    /// "reason","by","at"}`.
    pub fn document(&self) -> Value {
        json!({
            "event": self.kind,
            "project": self.project,
            "environment": self.environment,
            "deployment": self.deployment,
            "previous": self.previous,
            "reason": self.reason,
            "by": self.by,
            "at": rfc3339(self.at),
        })
    }

    /// One line for a chat (`slack`: `{"text": …}`).
    pub fn sentence(&self) -> String {
        let what = match self.kind {
            "deploy" => "deployed",
            "rollback" => "rolled back",
            "promote" => "promoted",
            "automatic-rollback" => "rolled back automatically",
            "canary-aborted" => "canary aborted",
            _ => "failed",
        };
        let mut text = format!("{}/{}: {what}", self.project, self.environment);
        if let Some(d) = &self.deployment {
            text.push_str(&format!(" #{}", d.id));
            if let Some(image) = &d.image {
                text.push_str(&format!(" ({image})"));
            }
        }
        if let Some(p) = &self.previous {
            text.push_str(&format!(", was #{}", p.id));
        }
        text.push_str(&format!(" by {}", self.by));
        if let Some(reason) = &self.reason {
            text.push_str(&format!(": {reason}"));
        }
        text
    }

    /// The body for a target of `format`.
    fn body(&self, format: &str) -> String {
        match format {
            "slack" => json!({"text": self.sentence()}).to_string(),
            _ => self.document().to_string(),
        }
    }
}

/// A target to add (`temps notify add`).
pub struct NewTarget<'a> {
    pub name: &'a str,
    pub url: &'a str,
    pub secret: Option<&'a str>,
    /// Empty: every event.
    pub events: &'a [String],
    pub format: &'a str,
    pub created_by: &'a str,
}

/// Check and store a new target.
pub fn add(store: &mut Store, new: &NewTarget) -> Result<NotificationTarget> {
    check_name("notification target", new.name)?;
    if !(new.url.starts_with("http://") || new.url.starts_with("https://"))
        || new.url.parse::<hyper::Uri>().is_err()
    {
        return Err(Failure::usage(format!(
            "`{}` is not an http:// or https:// URL",
            crate::text::printable(new.url)
        ))
        .into());
    }
    for event in new.events {
        if !EVENTS.contains(&event.as_str()) {
            return Err(Failure::usage(format!(
                "`{}` is not an event; the events are {}",
                crate::text::printable(event),
                EVENTS.join(", ")
            ))
            .into());
        }
    }
    let events = if new.events.is_empty() {
        EVENTS.iter().map(|e| e.to_string()).collect()
    } else {
        new.events.to_vec()
    };
    let target = NotificationTarget {
        id: 0,
        name: new.name.to_string(),
        url: new.url.to_string(),
        secret: new.secret.filter(|s| !s.is_empty()).map(str::to_string),
        events,
        format: new.format.to_string(),
        created_at: now_ms(),
        created_by: new.created_by.to_string(),
    };
    if !store.add_notification_target(&target)? {
        return Err(Failure::new(
            crate::error::ExitStatus::Refused,
            format!("a notification target named `{}` exists", new.name),
        )
        .hint("remove it first with `temps notify remove NAME`, or choose another name")
        .into());
    }
    Ok(target)
}

/// Remove a target and its deliveries.
pub fn remove(store: &mut Store, name: &str) -> Result<()> {
    if !store.remove_notification_target(name)? {
        return Err(Failure::not_found(format!(
            "no notification target named `{}`",
            crate::text::printable(name)
        ))
        .hint("`temps notify list` shows them")
        .into());
    }
    Ok(())
}

/// Send one test event to the target `name` now, and say how it ended (a failure is
/// retried like any other).
pub async fn test(store: &mut Store, name: &str, by: &str) -> Result<Result<u16, String>> {
    let Some(target) = store
        .notification_targets()?
        .into_iter()
        .find(|t| t.name == name)
    else {
        return Err(Failure::not_found(format!(
            "no notification target named `{}`",
            crate::text::printable(name)
        ))
        .hint("`temps notify list` shows them")
        .into());
    };
    let event = Event {
        kind: "deploy",
        project: "temps-test".into(),
        environment: "production".into(),
        deployment: None,
        previous: None,
        reason: Some(format!("a test of the notification target `{name}`")),
        by: by.to_string(),
        at: now_ms(),
    };
    let delivery = queue(store, &target, &event, OPERATION_WAIT)?;
    Ok(attempt(store, &delivery, "test", OPERATION_WAIT).await)
}

/// Tell every target that wants it about `event`, waiting at most [`OPERATION_WAIT`]
/// for them all. Never fails: what goes wrong is the deliveries' to record, and what
/// cannot even be recorded is let go.
pub async fn emit(store: &mut Store, event: &Event) {
    let Ok(targets) = store.notification_targets() else {
        return;
    };
    let mut deliveries = Vec::new();
    for target in targets
        .iter()
        .filter(|t| t.events.iter().any(|e| e == event.kind))
    {
        // Claimed by this process a little past its wait, so a retrier does not send
        // it at the same time.
        if let Ok(delivery) = queue(store, target, event, OPERATION_WAIT * 2) {
            deliveries.push(delivery);
        }
    }
    if deliveries.is_empty() {
        return;
    }
    let sent = futures_util::future::join_all(
        deliveries
            .iter()
            .map(|d| send::post(d, OPERATION_WAIT.saturating_sub(Duration::from_millis(100)))),
    )
    .await;
    for (delivery, answer) in deliveries.iter().zip(sent) {
        let _ = record(store, delivery, "operation", answer);
    }
}

/// Keep a delivery of `event` for `target`, claimed by this process for `claim`.
fn queue(
    store: &mut Store,
    target: &NotificationTarget,
    event: &Event,
    claim: Duration,
) -> Result<Delivery> {
    let now = now_ms();
    let id = format!("dlv_{}", random_string(20)?);
    store.queue_delivery(
        target,
        &id,
        event.kind,
        &event.body(&target.format),
        now,
        now + claim.as_millis() as i64,
    )
}

/// POST a delivery and record the attempt.
async fn attempt(
    store: &mut Store,
    delivery: &Delivery,
    sender: &str,
    limit: Duration,
) -> Result<u16, String> {
    let answer = send::post(delivery, limit).await;
    let _ = record(store, delivery, sender, answer.clone());
    answer
}

/// Record how an attempt ended: a 2xx delivers; anything else is tried again after a
/// backoff that doubles (1 s, 2 s, 4 s, … at most 5 min), for an hour.
fn record(
    store: &mut Store,
    delivery: &Delivery,
    sender: &str,
    answer: Result<u16, String>,
) -> Result<()> {
    let at = now_ms();
    let (status, error) = match &answer {
        Ok(status) if (200..300).contains(status) => (Some(*status), None),
        Ok(status) => (
            Some(*status),
            Some(format!("the receiver answered {status}")),
        ),
        Err(why) => (None, Some(why.clone())),
    };
    let retry_at = error.as_ref().map(|_| {
        let attempts = delivery.attempts.min(20);
        at + (1000_i64 << attempts).min(MAX_BACKOFF_MS)
    });
    store.record_attempt(
        delivery.id,
        &Attempted {
            sender,
            at,
            status,
            error: error.as_deref(),
            retry_at,
            give_up_after: delivery.created_at + KEEP_TRYING_MS,
        },
    )
}

/// Send again, now, what is due: one pass.
pub async fn retry_due(store: &mut Store, sender: &str) -> Result<usize> {
    let now = now_ms();
    let claim = now + (RETRY_WAIT * 2).as_millis() as i64;
    let due = store.claim_due_deliveries(now, claim, 32)?;
    let answers =
        futures_util::future::join_all(due.iter().map(|d| send::post(d, RETRY_WAIT))).await;
    for (delivery, answer) in due.iter().zip(answers) {
        record(store, delivery, sender, answer)?;
    }
    Ok(due.len())
}

/// A thread of its own that sends failed deliveries again, every second, for as long as
/// the process runs (`sender`: `proxy` or `serve`, as `notify deliveries` shows it).
pub fn spawn_retrier(db: PathBuf, sender: &'static str) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("temps-notify".into())
        .spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let mut store = None;
                loop {
                    if store.is_none() {
                        store = Store::open(&db).ok();
                    }
                    if let Some(s) = store.as_mut() {
                        if retry_due(s, sender).await.is_err() {
                            store = None;
                        }
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            });
        })
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_in_hex() {
        // The well-known HMAC-SHA256 example.
        assert_eq!(
            signature("key", b"The quick brown fox jumps over the lazy dog"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    #[test]
    fn a_failed_delivery_backs_off_then_is_abandoned_after_an_hour() {
        let dir = tempfile::tempdir().expect("a folder");
        let mut store = Store::open(&dir.path().join("temps.db")).expect("a history");
        let target = add(
            &mut store,
            &NewTarget {
                name: "hook",
                url: "http://127.0.0.1:9/",
                secret: Some("s"),
                events: &[],
                format: "json",
                created_by: "alice",
            },
        )
        .expect("added");
        assert_eq!(target.events.len(), EVENTS.len());
        let target = store.notification_targets().expect("read").remove(0);
        let event = Event {
            kind: "deploy",
            project: "web".into(),
            environment: "production".into(),
            deployment: None,
            previous: None,
            reason: None,
            by: "alice".into(),
            at: 0,
        };
        let mut delivery = queue(&mut store, &target, &event, Duration::ZERO).expect("queued");
        for _ in 0..3 {
            record(&mut store, &delivery, "test", Err("refused".into())).expect("recorded");
            delivery.attempts += 1;
        }
        let attempts = store.delivery_attempts(10).expect("attempts");
        assert_eq!(attempts.len(), 3);
        assert_eq!(attempts[0].state, "pending");
        // Not due yet: the third attempt put it 4 s off.
        assert!(store
            .claim_due_deliveries(now_ms(), now_ms() + 1, 10)
            .expect("claimed")
            .is_empty());
        let due = store
            .claim_due_deliveries(now_ms() + 5_000, now_ms() + 6_000, 10)
            .expect("claimed");
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].attempts, 3);
        // An hour on, a failure abandons it.
        delivery.created_at -= KEEP_TRYING_MS;
        record(&mut store, &delivery, "test", Ok(500)).expect("recorded");
        assert_eq!(
            store.delivery_attempts(1).expect("attempts")[0].state,
            "abandoned"
        );
        // The body never carries the secret; a slack body is one sentence.
        assert!(!event.body("json").contains("\"s\""));
        assert!(event
            .body("slack")
            .starts_with("{\"text\":\"web/production: deployed"));
    }
}
