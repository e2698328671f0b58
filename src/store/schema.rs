//! Versioned migrations, applied in order and tracked in `PRAGMA user_version`.
//!
//! A migration is appended, never edited: a database written by a newer temps (a higher
//! version than we know) is refused rather than guessed at.

use anyhow::{Context, Result};
use rusqlite::{Connection, TransactionBehavior};

use crate::error::Failure;

const MIGRATIONS: &[&str] = &[
    // 1: projects, environments, variables, deployments.
    r#"
    CREATE TABLE projects (
        id                 INTEGER PRIMARY KEY,
        name               TEXT NOT NULL UNIQUE,
        preset             TEXT NOT NULL CHECK (preset IN ('docker', 'static')),
        container_port     INTEGER,
        health_path        TEXT,
        health_timeout_ms  INTEGER NOT NULL,
        health_interval_ms INTEGER NOT NULL,
        stop_timeout_ms    INTEGER NOT NULL,
        created_at         INTEGER NOT NULL
    );
    CREATE TABLE environments (
        id                    INTEGER PRIMARY KEY,
        project_id            INTEGER NOT NULL REFERENCES projects(id),
        name                  TEXT NOT NULL,
        publish               TEXT,
        current_deployment_id INTEGER REFERENCES deployments(id),
        state                 TEXT NOT NULL DEFAULT 'normal' CHECK (state IN ('normal', 'rolled_back')),
        UNIQUE (project_id, name)
    );
    CREATE TABLE variables (
        environment_id INTEGER NOT NULL REFERENCES environments(id),
        key            TEXT NOT NULL,
        value          TEXT NOT NULL,
        PRIMARY KEY (environment_id, key)
    ) WITHOUT ROWID;
    CREATE TABLE deployments (
        id                  INTEGER PRIMARY KEY AUTOINCREMENT,
        project_id          INTEGER NOT NULL REFERENCES projects(id),
        environment_id      INTEGER NOT NULL REFERENCES environments(id),
        image               TEXT,
        image_id            TEXT,
        artifact            TEXT,
        status              TEXT NOT NULL CHECK (status IN
                              ('pending', 'deploying', 'deployed', 'completed', 'ready', 'failed', 'cancelled')),
        is_rollback         INTEGER NOT NULL DEFAULT 0,
        rolled_back_from_id INTEGER REFERENCES deployments(id),
        rolled_back_to_id   INTEGER REFERENCES deployments(id),
        is_promote          INTEGER NOT NULL DEFAULT 0,
        promoted_id         INTEGER REFERENCES deployments(id),
        created_at          INTEGER NOT NULL,
        finished_at         INTEGER,
        created_by          TEXT NOT NULL,
        reason              TEXT,
        error               TEXT,
        containers          TEXT NOT NULL DEFAULT '[]',
        variables_digest    TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX deployments_by_project ON deployments (project_id, id DESC);
    CREATE INDEX deployments_by_environment ON deployments (environment_id, id DESC);
    "#,
    // 2: one operation per environment at a time. Keyed by name, not id, so that a first
    // deploy can lock an environment before it exists.
    r#"
    CREATE TABLE locks (
        project_id  INTEGER NOT NULL REFERENCES projects(id),
        environment TEXT NOT NULL,
        pid         INTEGER NOT NULL,
        pid_start   INTEGER,
        host        TEXT NOT NULL,
        user        TEXT NOT NULL,
        command     TEXT NOT NULL,
        started_at  INTEGER NOT NULL,
        PRIMARY KEY (project_id, environment)
    );
    "#,
    // 3: hooks for runbooks.
    r#"
    ALTER TABLE projects ADD COLUMN hooks_dir TEXT;
    ALTER TABLE projects ADD COLUMN hook_timeout_ms INTEGER NOT NULL DEFAULT 30000;
    "#,
    // 4: proxy mode. An environment in proxy mode is served by `temps proxy` on its
    // `proxy` address; `routes` says where each environment's requests go now, with a
    // generation that grows with every change; the running proxy reports in
    // `proxy_state` which generation it applies and how many requests are in flight per
    // upstream.
    r#"
    ALTER TABLE environments ADD COLUMN proxy TEXT;
    ALTER TABLE environments ADD COLUMN replicas INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE environments ADD COLUMN drain_ms INTEGER NOT NULL DEFAULT 30000;
    CREATE TABLE routes (
        environment_id INTEGER PRIMARY KEY REFERENCES environments(id),
        listen         TEXT NOT NULL,
        upstreams      TEXT NOT NULL,
        deployment_id  INTEGER REFERENCES deployments(id),
        generation     INTEGER NOT NULL
    );
    CREATE TABLE proxy_state (
        id           INTEGER PRIMARY KEY CHECK (id = 1),
        pid          INTEGER NOT NULL,
        started_at   INTEGER NOT NULL,
        heartbeat_at INTEGER NOT NULL,
        generation   INTEGER NOT NULL,
        listening    TEXT NOT NULL DEFAULT '[]',
        in_flight    TEXT NOT NULL DEFAULT '{}'
    );
    "#,
    // 5: API tokens. Only a SHA-256 of each secret is kept; a revoked token's row is
    // deleted. `last_used_at` is written at most once a minute per token.
    r#"
    CREATE TABLE tokens (
        id           INTEGER PRIMARY KEY,
        name         TEXT NOT NULL UNIQUE,
        role         TEXT NOT NULL CHECK (role IN ('reader', 'responder', 'deployer', 'admin')),
        project      TEXT,
        environment  TEXT,
        secret_hash  TEXT NOT NULL UNIQUE,
        created_at   INTEGER NOT NULL,
        created_by   TEXT NOT NULL,
        expires_at   INTEGER,
        last_used_at INTEGER
    );
    "#,
    // 6: proxy mode's response timeout: how long the app's answer may take to begin
    // (0: no limit), remembered by the environment like its drain time.
    r#"
    ALTER TABLE environments ADD COLUMN response_timeout_ms INTEGER NOT NULL DEFAULT 60000;
    "#,
    // 7: proxy mode's domains: environments sharing one listen address are told apart by
    // the request's host (a JSON array of names, `*.example.com` for one label).
    r#"
    ALTER TABLE environments ADD COLUMN domains TEXT NOT NULL DEFAULT '[]';
    "#,
    // 8: warm standby (proxy mode). After a switch the previous deployment's containers
    // keep running, without traffic, until its `warm_until`; the environment remembers
    // how long (`--standby`, default 30 minutes).
    r#"
    ALTER TABLE environments ADD COLUMN standby_ms INTEGER NOT NULL DEFAULT 1800000;
    ALTER TABLE deployments ADD COLUMN warm_until INTEGER;
    "#,
    // 9: the watch window. A project's default `--watch` (0: no watch); the running
    // proxy reports, beside its requests in flight, how each upstream has answered
    // (requests and 5xx answers, in all and within the last 10 s).
    r#"
    ALTER TABLE projects ADD COLUMN watch_ms INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE proxy_state ADD COLUMN answers TEXT NOT NULL DEFAULT '{}';
    "#,
    // 10: swarm mode. The environment is one Swarm service (`temps-<project>-<environment>`)
    // with `replicas` tasks, its `publish` port published in host mode on every node; its
    // deployments' `image_id` is a repository digest (`repo@sha256:...`).
    r#"
    ALTER TABLE environments ADD COLUMN swarm INTEGER NOT NULL DEFAULT 0;
    "#,
    // 11: HTTPS at the edge (proxy mode). An environment's TLS: `off`, `acme` (the proxy
    // gets and renews its certificates) or `own` (the certificate chain and key given at
    // deploy, PEM, kept here as checked then); `hsts_ms` the Strict-Transport-Security
    // max-age (0: none). The running proxy reports each ACME domain's certificate and
    // its last error in `tls_certificates`. A proxy that handed its listeners over to a
    // new one reports what it still has in flight in `proxy_draining` until it exits.
    r#"
    ALTER TABLE environments ADD COLUMN tls TEXT NOT NULL DEFAULT 'off';
    ALTER TABLE environments ADD COLUMN tls_cert TEXT;
    ALTER TABLE environments ADD COLUMN tls_key TEXT;
    ALTER TABLE environments ADD COLUMN hsts_ms INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE tls_certificates (
        domain     TEXT PRIMARY KEY,
        issuer     TEXT,
        not_after  INTEGER,
        error      TEXT,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE proxy_draining (
        pid          INTEGER PRIMARY KEY,
        heartbeat_at INTEGER NOT NULL,
        in_flight    TEXT NOT NULL DEFAULT '{}',
        answers      TEXT NOT NULL DEFAULT '{}'
    );
    "#,
    // 12: schema-aware rollback. What a deployment's release declares of the database
    // (the schema it migrates to, the oldest whose code runs against it) and, for a
    // rollback or promote below the database's floor, who accepted it.
    r#"
    ALTER TABLE deployments ADD COLUMN schema TEXT;
    ALTER TABLE deployments ADD COLUMN schema_compat TEXT;
    ALTER TABLE deployments ADD COLUMN schema_accepted_by TEXT;
    "#,
    // 13: notifications. A target is a webhook (`format` json or slack) for some events,
    // with the secret its bodies are signed with: kept here, in the 0600 history, because
    // it must be sent, and never printed back. A delivery is one event's body for one
    // target, `pending` until it is `delivered` or, an hour on, `abandoned`; each try is
    // an attempt. `claimed_until`: the process sending it now, so two never do.
    r#"
    CREATE TABLE notification_targets (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL UNIQUE,
        url        TEXT NOT NULL,
        secret     TEXT,
        events     TEXT NOT NULL,
        format     TEXT NOT NULL CHECK (format IN ('json', 'slack')),
        created_at INTEGER NOT NULL,
        created_by TEXT NOT NULL
    );
    CREATE TABLE notification_deliveries (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        delivery        TEXT NOT NULL UNIQUE,
        target_id       INTEGER NOT NULL REFERENCES notification_targets(id) ON DELETE CASCADE,
        event           TEXT NOT NULL,
        body            TEXT NOT NULL,
        state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'abandoned')),
        created_at      INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        claimed_until   INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX notification_deliveries_due ON notification_deliveries (state, next_attempt_at);
    CREATE TABLE notification_attempts (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        delivery_id INTEGER NOT NULL REFERENCES notification_deliveries(id) ON DELETE CASCADE,
        at          INTEGER NOT NULL,
        sender      TEXT NOT NULL,
        status      INTEGER,
        error       TEXT
    );
    "#,
];

/// The schema version this build writes.
pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// Refuse, changing nothing, a database from a newer temps or one that belongs to
/// another program (tables, but no temps schema version).
pub fn check(conn: &Connection) -> Result<()> {
    let version = user_version(conn)?;
    if version == 0 {
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .context("reading the database's tables")?;
        if tables > 0 {
            return Err(Failure::new(
                crate::error::ExitStatus::Unexpected,
                "this SQLite database is not a temps history: it has tables but no temps schema version",
            )
            .hint("the file was left untouched; point `--db` at a temps history or a new file")
            .into());
        }
    }
    if version > CURRENT_VERSION {
        return Err(Failure::new(
            crate::error::ExitStatus::Unexpected,
            format!(
                "the history database has schema version {version}, newer than this temps knows ({CURRENT_VERSION})"
            ),
        )
        .hint("upgrade temps; the database was left untouched")
        .into());
    }
    Ok(())
}

pub fn migrate(conn: &mut Connection) -> Result<()> {
    let version = user_version(conn)?;
    if version >= CURRENT_VERSION {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .context("locking the database to upgrade its schema")?;
    // Another process may have migrated while we waited for the lock.
    let version = user_version(&tx)?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)
            .with_context(|| format!("applying schema migration {}", index + 1))?;
    }
    tx.pragma_update(None, "user_version", CURRENT_VERSION)
        .context("recording the schema version")?;
    tx.commit().context("committing the schema upgrade")
}

fn user_version(conn: &Connection) -> Result<i64> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
        .context("reading the schema version")
}
