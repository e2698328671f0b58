//! Deployment rows: recording, status changes, routing, history queries.

use anyhow::{Context, Result};
use rusqlite::{params, OptionalExtension, Row};

use super::projects::{ensure_environment, variables_digest};
use super::{
    Database, Deployment, EnvState, Environment, NewDeployment, Origin, Publish, Schema, Status,
    Store,
};
use crate::clock::now_ms;
use crate::schema_version::SchemaVersion;

pub(super) const DEPLOYMENT_SELECT: &str = "SELECT d.id, p.name, e.name, d.environment_id, d.image, d.image_id, \
     d.artifact, d.status, d.is_rollback, d.rolled_back_from_id, d.rolled_back_to_id, d.is_promote, \
     d.promoted_id, d.created_at, d.finished_at, d.created_by, d.reason, d.error, d.containers, \
     d.variables_digest, d.warm_until, d.schema, d.schema_compat, d.schema_accepted_by \
     FROM deployments d JOIN projects p ON p.id = d.project_id JOIN environments e ON e.id = d.environment_id";

pub(super) fn deployment_from_row(row: &Row) -> rusqlite::Result<Deployment> {
    let status: String = row.get(7)?;
    let containers: String = row.get(18)?;
    let digest: String = row.get(19)?;
    Ok(Deployment {
        id: row.get(0)?,
        project: row.get(1)?,
        environment: row.get(2)?,
        environment_id: row.get(3)?,
        image: row.get(4)?,
        image_id: row.get(5)?,
        artifact: row.get(6)?,
        status: status.parse().map_err(|e: String| {
            rusqlite::Error::FromSqlConversionFailure(7, rusqlite::types::Type::Text, e.into())
        })?,
        origin: Origin::from_columns(
            row.get(8)?,
            row.get(9)?,
            row.get(10)?,
            row.get(11)?,
            row.get(12)?,
        ),
        created_at: row.get(13)?,
        finished_at: row.get(14)?,
        created_by: row.get(15)?,
        reason: row.get(16)?,
        error: row.get(17)?,
        containers: serde_json::from_str(&containers).unwrap_or_default(),
        variables_digest: serde_json::from_str(&digest).unwrap_or_default(),
        warm_until: row.get(20)?,
        schema: schema_from_columns(row.get(21)?, row.get(22)?),
        schema_accepted_by: row.get(23)?,
    })
}

/// A deployment's schema as the history keeps it; a value this temps cannot read is
/// taken as not declared (never judged).
fn schema_from_columns(version: Option<String>, compat: Option<String>) -> Option<Schema> {
    let version: SchemaVersion = version?.parse().ok()?;
    let compat = compat.and_then(|c| c.parse().ok());
    Schema::declared(version, compat).ok()
}

impl Store {
    /// Record a new deployment in one transaction with reading the environment it goes to
    /// (created when missing), so the decision `build` makes from the environment's state
    /// cannot race another writer. The variables' digests are taken in the same instant.
    pub fn record(
        &mut self,
        project_id: i64,
        environment: &str,
        build: impl FnOnce(&Environment) -> Result<NewDeployment>,
    ) -> Result<(Deployment, Environment)> {
        let id = self.write(|tx| {
            let env = ensure_environment(tx, project_id, environment)?;
            let new = build(&env)?;
            let digest = serde_json::to_string(&variables_digest(tx, env.id)?)?;
            tx.execute(
                "INSERT INTO deployments (project_id, environment_id, image, image_id, status, \
                 is_rollback, rolled_back_from_id, rolled_back_to_id, is_promote, promoted_id, \
                 created_at, created_by, reason, variables_digest, schema, schema_compat, \
                 schema_accepted_by) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
                params![
                    new.project_id,
                    new.environment_id,
                    new.image,
                    new.image_id,
                    new.status.as_str(),
                    new.origin.is_rollback(),
                    new.origin.rolled_back_from(),
                    new.origin.rolled_back_to(),
                    new.origin.is_promote(),
                    new.origin.promoted(),
                    now_ms(),
                    new.created_by,
                    new.reason,
                    digest,
                    new.schema.as_ref().map(|s| s.version.as_str()),
                    new.schema.as_ref().map(|s| s.compat.as_str()),
                    new.schema_accepted_by,
                ],
            )
            .context("recording the deployment")?;
            Ok(tx.last_insert_rowid())
        })?;
        let deployment = self.expect_deployment(id)?;
        let env = self.environment_by_id(deployment.environment_id)?;
        Ok((deployment, env))
    }

    pub fn deployment(&self, id: i64) -> Result<Option<Deployment>> {
        self.conn
            .prepare_cached(&format!("{DEPLOYMENT_SELECT} WHERE d.id = ?1"))?
            .query_row([id], deployment_from_row)
            .optional()
            .with_context(|| format!("reading deployment #{id}"))
    }

    pub fn expect_deployment(&self, id: i64) -> Result<Deployment> {
        self.deployment(id)?
            .with_context(|| format!("deployment #{id} vanished from the history"))
    }

    pub fn set_status(&mut self, id: i64, status: Status) -> Result<()> {
        let finished = matches!(status, Status::Ready).then(now_ms);
        self.conn
            .execute(
                "UPDATE deployments SET status = ?2, finished_at = COALESCE(?3, finished_at) WHERE id = ?1",
                params![id, status.as_str(), finished],
            )
            .with_context(|| format!("marking deployment #{id} {status}"))?;
        Ok(())
    }

    pub fn set_artifact(&mut self, id: i64, artifact: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE deployments SET artifact = ?2 WHERE id = ?1",
                params![id, artifact],
            )
            .with_context(|| format!("recording the release of deployment #{id}"))?;
        Ok(())
    }

    /// The swap begins, in one transaction: the deployment is `deploying` with the
    /// containers it is about to make, and remembers the digests of the variables it
    /// reads now, the values those containers will get (an `env set` since the record
    /// was made is thus accounted for). Returns those variables.
    pub fn begin_swap(
        &mut self,
        id: i64,
        environment_id: i64,
        containers: &[String],
    ) -> Result<std::collections::BTreeMap<String, String>> {
        self.write(|tx| {
            let variables = super::projects::variables_in(tx, environment_id)?;
            let digest: std::collections::BTreeMap<&String, String> = variables
                .iter()
                .map(|(k, v)| (k, super::digest(k, v)))
                .collect();
            tx.execute(
                "UPDATE deployments SET status = 'deploying', containers = ?2, variables_digest = ?3 \
                 WHERE id = ?1",
                params![id, serde_json::to_string(containers)?, serde_json::to_string(&digest)?],
            )
            .with_context(|| format!("starting the swap of deployment #{id}"))?;
            Ok(variables)
        })
    }

    /// Make `id` the environment's serving deployment, in one transaction: it becomes
    /// `deployed`, the one it replaces `completed`, and the environment takes `state`
    /// and, when given, the port the new deployment publishes on.
    pub fn route(
        &mut self,
        id: i64,
        environment_id: i64,
        state: EnvState,
        publish: Option<&Publish>,
    ) -> Result<Deployment> {
        self.write(|tx| route_in(tx, id, environment_id, state, publish))
            .with_context(|| format!("routing the environment to deployment #{id}"))?;
        self.expect_deployment(id)
    }

    /// The containers a deployment names: those that are still there of what its swap made.
    pub fn set_containers(&mut self, id: i64, containers: &[String]) -> Result<()> {
        self.conn
            .execute(
                "UPDATE deployments SET containers = ?2 WHERE id = ?1",
                params![id, serde_json::to_string(containers)?],
            )
            .with_context(|| format!("recording the containers of deployment #{id}"))?;
        Ok(())
    }

    /// End a deployment that did not make it (`failed` or `cancelled`), saying why.
    pub fn finish_unsuccessful(
        &mut self,
        id: i64,
        status: Status,
        error: &str,
    ) -> Result<Deployment> {
        self.conn
            .execute(
                "UPDATE deployments SET status = ?2, error = ?3, finished_at = ?4 WHERE id = ?1",
                params![id, status.as_str(), error, now_ms()],
            )
            .with_context(|| format!("marking deployment #{id} {status}"))?;
        self.expect_deployment(id)
    }

    pub fn set_state(&mut self, environment_id: i64, state: EnvState) -> Result<()> {
        self.conn
            .execute(
                "UPDATE environments SET state = ?2 WHERE id = ?1",
                params![environment_id, state.as_str()],
            )
            .context("changing the environment's state")?;
        Ok(())
    }

    /// Call `each` for a project's deployments, newest first, without holding them all.
    /// `limit` 0 means all of them.
    pub fn each_deployment(
        &self,
        project_id: i64,
        environment_id: Option<i64>,
        limit: u64,
        mut each: impl FnMut(Deployment) -> Result<()>,
    ) -> Result<()> {
        let limit = if limit == 0 { -1 } else { limit as i64 };
        let sql = match environment_id {
            Some(_) => format!(
                "{DEPLOYMENT_SELECT} WHERE d.environment_id = ?1 ORDER BY d.id DESC LIMIT ?2"
            ),
            None => {
                format!("{DEPLOYMENT_SELECT} WHERE d.project_id = ?1 ORDER BY d.id DESC LIMIT ?2")
            }
        };
        // Cached: the server asks the same on every list.
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params![environment_id.unwrap_or(project_id), limit])?;
        while let Some(row) = rows.next().context("reading the history")? {
            each(deployment_from_row(row)?)?;
        }
        Ok(())
    }

    /// The deployments of an environment a rollback may target, newest first.
    pub fn rollback_targets(
        &self,
        environment_id: i64,
        current: Option<i64>,
    ) -> Result<Vec<Deployment>> {
        let mut stmt = self.conn.prepare(&format!(
            "{DEPLOYMENT_SELECT} WHERE d.environment_id = ?1 AND d.status IN ('deployed', 'completed') \
             AND d.id IS NOT ?2 ORDER BY d.id DESC LIMIT 50"
        ))?;
        let rows = stmt.query_map(params![environment_id, current], deployment_from_row)?;
        rows.collect::<rusqlite::Result<_>>()
            .context("reading rollback targets")
    }
}

/// A version (image id, or a static release) that a rollback left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fled {
    /// The image id or release folder of the deployment the rollback left.
    pub version: String,
    /// The rollback that left it.
    pub rollback_id: i64,
    pub at: i64,
    pub reason: Option<String>,
}

impl Store {
    /// The versions an environment's rollbacks left, newest rollback first; only the
    /// rollbacks that served (a failed or cancelled one left nothing). One query.
    pub fn fled(&self, environment_id: i64) -> Result<Vec<Fled>> {
        let mut stmt = self.conn.prepare(
            "SELECT COALESCE(f.image_id, f.artifact), r.id, r.created_at, r.reason \
             FROM deployments r JOIN deployments f ON f.id = r.rolled_back_from_id \
             WHERE r.environment_id = ?1 AND r.is_rollback = 1 \
             AND r.status IN ('deployed', 'completed') \
             AND COALESCE(f.image_id, f.artifact) IS NOT NULL \
             ORDER BY r.id DESC LIMIT 1000",
        )?;
        let rows = stmt.query_map(params![environment_id], |row| {
            Ok(Fled {
                version: row.get(0)?,
                rollback_id: row.get(1)?,
                at: row.get(2)?,
                reason: row.get(3)?,
            })
        })?;
        rows.collect::<rusqlite::Result<_>>()
            .context("reading what rollbacks left")
    }
}

/// `Store::route`'s work, inside a caller's transaction.
pub(super) fn route_in(
    tx: &rusqlite::Transaction,
    id: i64,
    environment_id: i64,
    state: EnvState,
    publish: Option<&Publish>,
) -> Result<()> {
    tx.execute(
        "UPDATE deployments SET status = 'completed' \
         WHERE environment_id = ?1 AND status = 'deployed' AND id != ?2",
        params![environment_id, id],
    )?;
    tx.execute(
        "UPDATE deployments SET status = 'deployed', finished_at = ?2, error = NULL WHERE id = ?1",
        params![id, now_ms()],
    )?;
    tx.execute(
        "UPDATE environments SET current_deployment_id = ?2, state = ?3 WHERE id = ?1",
        params![environment_id, id, state.as_str()],
    )?;
    if let Some(publish) = publish {
        tx.execute(
            "UPDATE environments SET publish = ?2 WHERE id = ?1",
            params![environment_id, publish.to_string()],
        )?;
    }
    Ok(())
}

impl Store {
    /// Deployments of an environment that never finished: `pending` or `deploying`, left
    /// by a process that was killed. Oldest first.
    pub fn unfinished(&self, project_id: i64, environment: &str) -> Result<Vec<Deployment>> {
        let mut stmt = self.conn.prepare(&format!(
            "{DEPLOYMENT_SELECT} WHERE d.project_id = ?1 AND e.name = ?2 \
             AND d.status IN ('pending', 'deploying') ORDER BY d.id"
        ))?;
        let rows = stmt.query_map(params![project_id, environment], deployment_from_row)?;
        rows.collect::<rusqlite::Result<_>>()
            .context("reading unfinished deployments")
    }
}

impl Store {
    /// The deployments of an environment whose standby is on at `now`, newest first.
    pub fn warm(&self, environment_id: i64, now: i64) -> Result<Vec<Deployment>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{DEPLOYMENT_SELECT} WHERE d.environment_id = ?1 AND d.warm_until > ?2 ORDER BY d.id DESC"
        ))?;
        let rows = stmt.query_map(params![environment_id, now], deployment_from_row)?;
        rows.collect::<rusqlite::Result<_>>()
            .context("reading the warm deployments")
    }

    /// The latest deployments of an environment whose standby has ended by `now`: their
    /// containers, if still running, are to be stopped.
    pub fn ended_standbys(&self, environment_id: i64, now: i64) -> Result<Vec<Deployment>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{DEPLOYMENT_SELECT} WHERE d.environment_id = ?1 AND d.warm_until <= ?2 \
             ORDER BY d.id DESC LIMIT 20"
        ))?;
        let rows = stmt.query_map(params![environment_id, now], deployment_from_row)?;
        rows.collect::<rusqlite::Result<_>>()
            .context("reading the ended standbys")
    }

    /// Let a deployment's standby end by `until` at the latest, if it is on (a version
    /// the watch window rolled back from is no rollback target: its containers only
    /// finish their requests).
    pub fn shorten_standby(&mut self, id: i64, until: i64) -> Result<()> {
        self.conn
            .execute(
                "UPDATE deployments SET warm_until = ?2 WHERE id = ?1 AND warm_until > ?2",
                params![id, until],
            )
            .with_context(|| format!("shortening the standby of deployment #{id}"))?;
        Ok(())
    }

    /// End a deployment's standby now (its containers are going away), if it is on.
    pub fn end_standby(&mut self, id: i64) -> Result<()> {
        let now = now_ms();
        self.conn
            .execute(
                "UPDATE deployments SET warm_until = ?2 WHERE id = ?1 AND warm_until > ?2",
                params![id, now],
            )
            .with_context(|| format!("ending the standby of deployment #{id}"))?;
        Ok(())
    }

    /// An environment's database schema and floor, from the deployments that ran (since
    /// the last one accepted below the floor); `None` when none of them declared one.
    pub fn database(&self, environment_id: i64) -> Result<Option<Database>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, schema, schema_compat FROM deployments \
             WHERE environment_id = ?1 AND schema IS NOT NULL \
             AND status IN ('deployed', 'completed', 'ready') \
             AND id >= COALESCE((SELECT max(id) FROM deployments WHERE environment_id = ?1 \
                 AND schema_accepted_by IS NOT NULL \
                 AND status IN ('deployed', 'completed', 'ready')), 0) \
             ORDER BY id",
        )?;
        let rows = stmt.query_map(params![environment_id], |row| {
            Ok((row.get::<_, i64>(0)?, row.get(1)?, row.get(2)?))
        })?;
        let mut database: Option<Database> = None;
        for row in rows {
            let (id, version, compat) = row.context("reading the database's schema")?;
            let Some(schema) = schema_from_columns(version, compat) else {
                continue;
            };
            let Some(db) = database.as_mut() else {
                database = Some(Database {
                    schema: schema.version,
                    schema_by: id,
                    floor: schema.compat,
                    floor_by: id,
                });
                continue;
            };
            if schema.version > db.schema {
                (db.schema, db.schema_by) = (schema.version, id);
            }
            if schema.compat > db.floor {
                (db.floor, db.floor_by) = (schema.compat, id);
            }
        }
        Ok(database)
    }
}

/// What the metrics need of one deployment: how it came about, where, how it ended,
/// how long it took.
#[derive(Debug, Clone)]
pub struct OperationFact {
    /// `deploy`, `rollback` or `promote`.
    pub kind: &'static str,
    pub project: String,
    pub environment: String,
    pub status: String,
    /// Milliseconds, when it finished.
    pub took_ms: Option<i64>,
    pub reason: Option<String>,
}

/// What serves an environment, for `temps_deployment_info`.
#[derive(Debug, Clone)]
pub struct Serving {
    pub project: String,
    pub environment: String,
    pub deployment: i64,
    /// The image, or the static release's folder.
    pub image: String,
}

impl Store {
    /// Every deployment's [`OperationFact`], oldest first.
    pub fn operation_facts(&self) -> Result<Vec<OperationFact>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT d.is_rollback, d.is_promote, p.name, e.name, d.status, \
                 d.finished_at - d.created_at, d.reason \
                 FROM deployments d JOIN projects p ON p.id = d.project_id \
                 JOIN environments e ON e.id = d.environment_id ORDER BY d.id",
            )
            .context("reading the history's operations")?;
        let rows = stmt
            .query_map([], |r| {
                let (rollback, promote): (bool, bool) = (r.get(0)?, r.get(1)?);
                Ok(OperationFact {
                    kind: match (rollback, promote) {
                        (true, _) => "rollback",
                        (_, true) => "promote",
                        _ => "deploy",
                    },
                    project: r.get(2)?,
                    environment: r.get(3)?,
                    status: r.get(4)?,
                    took_ms: r.get(5)?,
                    reason: r.get(6)?,
                })
            })
            .context("reading the history's operations")?;
        rows.collect::<rusqlite::Result<_>>()
            .context("reading the history's operations")
    }

    /// What serves each environment now.
    pub fn serving(&self) -> Result<Vec<Serving>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT p.name, e.name, d.id, coalesce(d.image, d.artifact, '') \
                 FROM environments e JOIN projects p ON p.id = e.project_id \
                 JOIN deployments d ON d.id = e.current_deployment_id ORDER BY p.name, e.name",
            )
            .context("reading what serves")?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Serving {
                    project: r.get(0)?,
                    environment: r.get(1)?,
                    deployment: r.get(2)?,
                    image: r.get(3)?,
                })
            })
            .context("reading what serves")?;
        rows.collect::<rusqlite::Result<_>>()
            .context("reading what serves")
    }
}
