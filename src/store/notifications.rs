//! Notification targets, their deliveries and each delivery's attempts. A target's
//! secret is read here only to sign what is sent: listings never carry it.

use anyhow::{Context, Result};
use rusqlite::{params, OptionalExtension, Row};

use super::Store;

/// A webhook as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationTarget {
    pub id: i64,
    pub name: String,
    pub url: String,
    /// What bodies are signed with; `None`: unsigned.
    pub secret: Option<String>,
    /// The events it wants (`deploy`, `rollback`, …).
    pub events: Vec<String>,
    /// `json` or `slack`.
    pub format: String,
    pub created_at: i64,
    pub created_by: String,
}

/// One event's body for one target, as the sender needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    /// The id sent as `X-Temps-Delivery`.
    pub delivery: String,
    pub event: String,
    pub body: String,
    pub created_at: i64,
    /// How many attempts it has had.
    pub attempts: u32,
    pub target: NotificationTarget,
}

/// A delivery's attempt, for `temps notify deliveries`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub delivery: String,
    pub target: String,
    pub event: String,
    /// `pending`, `delivered` or `abandoned`: the delivery's state now.
    pub state: String,
    pub at: i64,
    /// Who tried: `operation`, `test`, `proxy` or `serve`.
    pub sender: String,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// How an attempt ended, to record it.
pub struct Attempted<'a> {
    pub sender: &'a str,
    pub at: i64,
    pub status: Option<u16>,
    pub error: Option<&'a str>,
    /// `None`: delivered; `Some(at)`: try again then; a time past the hour: abandon.
    pub retry_at: Option<i64>,
    /// Past this, a retry is abandoned instead.
    pub give_up_after: i64,
}

const TARGET_COLUMNS: &str =
    "t.id, t.name, t.url, t.secret, t.events, t.format, t.created_at, t.created_by";

fn target_from_row(row: &Row, at: usize) -> rusqlite::Result<NotificationTarget> {
    let events: String = row.get(at + 4)?;
    Ok(NotificationTarget {
        id: row.get(at)?,
        name: row.get(at + 1)?,
        url: row.get(at + 2)?,
        secret: row.get(at + 3)?,
        events: events.split(',').map(str::to_string).collect(),
        format: row.get(at + 5)?,
        created_at: row.get(at + 6)?,
        created_by: row.get(at + 7)?,
    })
}

fn delivery_from_row(row: &Row) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: row.get(0)?,
        delivery: row.get(1)?,
        event: row.get(2)?,
        body: row.get(3)?,
        created_at: row.get(4)?,
        attempts: row.get(5)?,
        target: target_from_row(row, 6)?,
    })
}

const DELIVERY_SELECT: &str = "SELECT d.id, d.delivery, d.event, d.body, d.created_at, \
     (SELECT count(*) FROM notification_attempts a WHERE a.delivery_id = d.id), \
     t.id, t.name, t.url, t.secret, t.events, t.format, t.created_at, t.created_by \
     FROM notification_deliveries d JOIN notification_targets t ON t.id = d.target_id";

impl Store {
    /// Store a new target; `false` when the name is taken (nothing is written then).
    pub fn add_notification_target(&mut self, target: &NotificationTarget) -> Result<bool> {
        self.write(|tx| {
            let taken = tx
                .query_row(
                    "SELECT 1 FROM notification_targets WHERE name = ?1",
                    [&target.name],
                    |_| Ok(()),
                )
                .optional()
                .context("reading the notification targets")?
                .is_some();
            if taken {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO notification_targets \
                 (name, url, secret, events, format, created_at, created_by) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    target.name,
                    target.url,
                    target.secret,
                    target.events.join(","),
                    target.format,
                    target.created_at,
                    target.created_by
                ],
            )
            .context("adding a notification target")?;
            Ok(true)
        })
    }

    /// Every target, by name.
    pub fn notification_targets(&self) -> Result<Vec<NotificationTarget>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {TARGET_COLUMNS} FROM notification_targets t ORDER BY t.name"
            ))
            .context("reading the notification targets")?;
        let rows = stmt
            .query_map([], |row| target_from_row(row, 0))
            .context("reading the notification targets")?;
        rows.collect::<rusqlite::Result<_>>()
            .context("reading the notification targets")
    }

    /// Remove a target and its deliveries; `false` when there is none of that name.
    pub fn remove_notification_target(&mut self, name: &str) -> Result<bool> {
        self.write(|tx| {
            let removed = tx
                .execute("DELETE FROM notification_targets WHERE name = ?1", [name])
                .context("removing a notification target")?;
            Ok(removed > 0)
        })
    }

    /// Queue `body` for `target`, claimed by the caller until `claimed_until` (it sends
    /// it at once); the delivery as the sender needs it.
    pub fn queue_delivery(
        &mut self,
        target: &NotificationTarget,
        delivery: &str,
        event: &str,
        body: &str,
        now: i64,
        claimed_until: i64,
    ) -> Result<Delivery> {
        let id = self.write(|tx| {
            tx.execute(
                "INSERT INTO notification_deliveries \
                 (delivery, target_id, event, body, state, created_at, next_attempt_at, claimed_until) \
                 VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?5, ?6)",
                params![delivery, target.id, event, body, now, claimed_until],
            )
            .context("queueing a notification")?;
            Ok(tx.last_insert_rowid())
        })?;
        Ok(Delivery {
            id,
            delivery: delivery.to_string(),
            event: event.to_string(),
            body: body.to_string(),
            created_at: now,
            attempts: 0,
            target: target.clone(),
        })
    }

    /// Claim, until `claimed_until`, up to `limit` pending deliveries whose next attempt
    /// is due, so no other process sends them meanwhile.
    pub fn claim_due_deliveries(
        &mut self,
        now: i64,
        claimed_until: i64,
        limit: u32,
    ) -> Result<Vec<Delivery>> {
        // Most of the time nothing is due: a read says so without taking the write lock.
        let any_due = self
            .conn
            .prepare_cached(
                "SELECT 1 FROM notification_deliveries WHERE state = 'pending' \
                 AND next_attempt_at <= ?1 AND claimed_until <= ?1 LIMIT 1",
            )
            .and_then(|mut stmt| stmt.exists([now]))
            .context("reading the notifications due")?;
        if !any_due {
            return Ok(Vec::new());
        }
        self.write(|tx| {
            let due: Vec<Delivery> = {
                let mut stmt = tx
                    .prepare_cached(&format!(
                        "{DELIVERY_SELECT} WHERE d.state = 'pending' AND d.next_attempt_at <= ?1 \
                         AND d.claimed_until <= ?1 ORDER BY d.next_attempt_at LIMIT ?2"
                    ))
                    .context("reading the notifications due")?;
                let rows = stmt
                    .query_map(params![now, limit], delivery_from_row)
                    .context("reading the notifications due")?;
                rows.collect::<rusqlite::Result<_>>()
                    .context("reading the notifications due")?
            };
            for delivery in &due {
                tx.execute(
                    "UPDATE notification_deliveries SET claimed_until = ?1 WHERE id = ?2",
                    params![claimed_until, delivery.id],
                )
                .context("claiming a notification")?;
            }
            Ok(due)
        })
    }

    /// Record an attempt, and what follows it: delivered, retried later, or abandoned.
    pub fn record_attempt(&mut self, delivery: i64, attempted: &Attempted) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO notification_attempts (delivery_id, at, sender, status, error) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    delivery,
                    attempted.at,
                    attempted.sender,
                    attempted.status,
                    attempted.error
                ],
            )
            .context("recording a notification's attempt")?;
            let (state, next) = match attempted.retry_at {
                None => ("delivered", attempted.at),
                Some(at) if at > attempted.give_up_after => ("abandoned", attempted.at),
                Some(at) => ("pending", at),
            };
            tx.execute(
                "UPDATE notification_deliveries SET state = ?1, next_attempt_at = ?2, \
                 claimed_until = 0 WHERE id = ?3",
                params![state, next, delivery],
            )
            .context("recording a notification's attempt")?;
            Ok(())
        })
    }

    /// The latest `limit` attempts, newest first.
    pub fn delivery_attempts(&self, limit: u32) -> Result<Vec<DeliveryAttempt>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT d.delivery, t.name, d.event, d.state, a.at, a.sender, a.status, a.error \
                 FROM notification_attempts a \
                 JOIN notification_deliveries d ON d.id = a.delivery_id \
                 JOIN notification_targets t ON t.id = d.target_id \
                 ORDER BY a.id DESC LIMIT ?1",
            )
            .context("reading the notifications' attempts")?;
        let rows = stmt
            .query_map([limit], |row| {
                Ok(DeliveryAttempt {
                    delivery: row.get(0)?,
                    target: row.get(1)?,
                    event: row.get(2)?,
                    state: row.get(3)?,
                    at: row.get(4)?,
                    sender: row.get(5)?,
                    status: row.get(6)?,
                    error: row.get(7)?,
                })
            })
            .context("reading the notifications' attempts")?;
        rows.collect::<rusqlite::Result<_>>()
            .context("reading the notifications' attempts")
    }
}
