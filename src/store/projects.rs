//! Projects, environments and their variables.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result};
use rusqlite::{params, OptionalExtension, Row, Transaction};

use super::{
    digest, EnvState, Environment, Preset, Project, ProjectChanges, Publish, Store, Tls,
    DEFAULT_HEALTH_INTERVAL, DEFAULT_HEALTH_TIMEOUT, DEFAULT_HOOK_TIMEOUT, DEFAULT_STOP_TIMEOUT,
};
use crate::clock::now_ms;
use crate::error::{check_name, Failure};

const PROJECT_COLUMNS: &str = "id, name, preset, container_port, health_path, health_timeout_ms, \
     health_interval_ms, stop_timeout_ms, created_at, hooks_dir, hook_timeout_ms, watch_ms";

fn project_from_row(row: &Row) -> rusqlite::Result<Project> {
    let preset: String = row.get(2)?;
    let ms = |i| {
        row.get::<_, i64>(i)
            .map(|v| Duration::from_millis(v as u64))
    };
    Ok(Project {
        id: row.get(0)?,
        name: row.get(1)?,
        preset: preset.parse().unwrap_or(Preset::Docker),
        container_port: row.get(3)?,
        health_path: row.get(4)?,
        health_timeout: ms(5)?,
        health_interval: ms(6)?,
        stop_timeout: ms(7)?,
        created_at: row.get(8)?,
        hooks_dir: row.get(9)?,
        hook_timeout: ms(10)?,
        watch: ms(11)?,
    })
}

const ENVIRONMENT_COLUMNS: &str =
    "id, project_id, name, publish, current_deployment_id, state, proxy, replicas, drain_ms, \
     response_timeout_ms, domains, standby_ms, swarm, tls, tls_cert, tls_key, hsts_ms";

fn environment_from_row(row: &Row) -> rusqlite::Result<Environment> {
    let publish: Option<String> = row.get(3)?;
    let state: String = row.get(5)?;
    Ok(Environment {
        id: row.get(0)?,
        project_id: row.get(1)?,
        name: row.get(2)?,
        publish: publish.and_then(|p| p.parse::<Publish>().ok()),
        current_deployment_id: row.get(4)?,
        state: if state == "rolled_back" {
            EnvState::RolledBack
        } else {
            EnvState::Normal
        },
        proxy: row.get(6)?,
        replicas: row.get::<_, u32>(7)?.max(1),
        drain: Duration::from_millis(row.get::<_, i64>(8)?.max(0) as u64),
        response_timeout: Duration::from_millis(row.get::<_, i64>(9)?.max(0) as u64),
        domains: serde_json::from_str(&row.get::<_, String>(10)?).unwrap_or_default(),
        standby: Duration::from_millis(row.get::<_, i64>(11)?.max(0) as u64),
        swarm: row.get::<_, i64>(12)? != 0,
        tls: Tls::from_columns(&row.get::<_, String>(13)?, row.get(14)?, row.get(15)?),
        hsts: Duration::from_millis(row.get::<_, i64>(16)?.max(0) as u64),
    })
}

pub fn project_not_found(name: &str) -> Failure {
    Failure::not_found(format!(
        "no project named `{}`",
        crate::text::printable(name)
    ))
    .hint("`temps project list` shows the projects; `temps project create NAME` registers one")
}

impl Store {
    pub fn create_project(
        &mut self,
        name: &str,
        preset: Preset,
        settings: &ProjectChanges,
    ) -> Result<Project> {
        self.write(|tx| {
            let exists: bool = tx
                .query_row("SELECT 1 FROM projects WHERE name = ?1", [name], |_| Ok(true))
                .optional()?
                .unwrap_or(false);
            if exists {
                return Err(Failure::usage(format!("project `{name}` already exists"))
                    .hint(format!("change its settings with `temps project update {name}`"))
                    .into());
            }
            let ms = |d: Option<Duration>, default: Duration| d.unwrap_or(default).as_millis() as i64;
            tx.execute(
                "INSERT INTO projects (name, preset, container_port, health_path, health_timeout_ms, \
                 health_interval_ms, stop_timeout_ms, created_at, hooks_dir, hook_timeout_ms, watch_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    name,
                    preset.as_str(),
                    settings.container_port,
                    settings.health_path.as_deref().filter(|p| !p.is_empty()),
                    ms(settings.health_timeout, DEFAULT_HEALTH_TIMEOUT),
                    ms(settings.health_interval, DEFAULT_HEALTH_INTERVAL),
                    ms(settings.stop_timeout, DEFAULT_STOP_TIMEOUT),
                    now_ms(),
                    settings.hooks_dir.as_deref().filter(|d| !d.is_empty()),
                    ms(settings.hook_timeout, DEFAULT_HOOK_TIMEOUT),
                    ms(settings.watch, Duration::ZERO),
                ],
            )
            .context("recording the project")?;
            Ok(())
        })?;
        self.project(name)
    }

    pub fn update_project(&mut self, name: &str, changes: &ProjectChanges) -> Result<Project> {
        check_name("project", name)?;
        self.write(|tx| {
            let id: i64 = tx
                .query_row("SELECT id FROM projects WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
                .optional()?
                .ok_or_else(|| project_not_found(name))?;
            if let Some(port) = changes.container_port {
                tx.execute(
                    "UPDATE projects SET container_port = ?2 WHERE id = ?1",
                    params![id, port],
                )?;
            }
            if let Some(dir) = &changes.hooks_dir {
                let dir = Some(dir.as_str()).filter(|d| !d.is_empty());
                tx.execute(
                    "UPDATE projects SET hooks_dir = ?2 WHERE id = ?1",
                    params![id, dir],
                )?;
            }
            if let Some(path) = &changes.health_path {
                let path = Some(path.as_str()).filter(|p| !p.is_empty());
                tx.execute(
                    "UPDATE projects SET health_path = ?2 WHERE id = ?1",
                    params![id, path],
                )?;
            }
            for (column, value) in [
                ("health_timeout_ms", changes.health_timeout),
                ("health_interval_ms", changes.health_interval),
                ("stop_timeout_ms", changes.stop_timeout),
                ("hook_timeout_ms", changes.hook_timeout),
                ("watch_ms", changes.watch),
            ] {
                if let Some(d) = value {
                    tx.execute(
                        &format!("UPDATE projects SET {column} = ?2 WHERE id = ?1"),
                        params![id, d.as_millis() as i64],
                    )?;
                }
            }
            Ok(())
        })
        .context("updating the project")?;
        self.project(name)
    }

    /// The project, or a not-found failure (exit 3); a name that could never be a
    /// project's is a usage error (exit 2).
    pub fn project(&self, name: &str) -> Result<Project> {
        check_name("project", name)?;
        self.conn
            .prepare_cached(&format!(
                "SELECT {PROJECT_COLUMNS} FROM projects WHERE name = ?1"
            ))?
            .query_row([name], project_from_row)
            .optional()
            .context("reading the project")?
            .ok_or_else(|| project_not_found(name).into())
    }

    pub fn projects(&self) -> Result<Vec<Project>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects ORDER BY name"
        ))?;
        let rows = stmt.query_map([], project_from_row)?;
        rows.collect::<rusqlite::Result<_>>()
            .context("reading projects")
    }

    pub fn environment(&self, project_id: i64, name: &str) -> Result<Option<Environment>> {
        check_name("environment", name)?;
        self.conn
            .query_row(
                &format!("SELECT {ENVIRONMENT_COLUMNS} FROM environments WHERE project_id = ?1 AND name = ?2"),
                params![project_id, name],
                environment_from_row,
            )
            .optional()
            .context("reading the environment")
    }

    pub fn environment_by_id(&self, id: i64) -> Result<Environment> {
        self.conn
            .query_row(
                &format!("SELECT {ENVIRONMENT_COLUMNS} FROM environments WHERE id = ?1"),
                [id],
                environment_from_row,
            )
            .context("reading the environment")
    }

    /// Every environment in proxy mode, with its project's name.
    pub fn proxied_environments(&self) -> Result<Vec<(Environment, String)>> {
        let columns: Vec<String> = ENVIRONMENT_COLUMNS
            .split(',')
            .map(|c| format!("e.{}", c.trim()))
            .collect();
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {}, p.name FROM environments e JOIN projects p ON p.id = e.project_id \
             WHERE e.proxy IS NOT NULL ORDER BY e.id",
            columns.join(", ")
        ))?;
        // The project's name follows the environment's columns, however many they are.
        let name_at = columns.len();
        let rows = stmt.query_map([], |row| {
            Ok((environment_from_row(row)?, row.get(name_at)?))
        })?;
        rows.collect::<rusqlite::Result<_>>()
            .context("reading the environments in proxy mode")
    }

    pub fn environments(&self, project_id: i64) -> Result<Vec<Environment>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ENVIRONMENT_COLUMNS} FROM environments WHERE project_id = ?1 ORDER BY name"
        ))?;
        let rows = stmt.query_map([project_id], environment_from_row)?;
        rows.collect::<rusqlite::Result<_>>()
            .context("reading environments")
    }

    /// The current values of an environment's variables, by name.
    pub fn variables(&self, environment_id: i64) -> Result<BTreeMap<String, String>> {
        variables_in(&self.conn, environment_id)
    }

    /// Set variables, creating the environment on first use.
    pub fn set_variables(
        &mut self,
        project_id: i64,
        environment: &str,
        pairs: &[(String, String)],
    ) -> Result<()> {
        check_name("environment", environment)?;
        self.write(|tx| {
            let env = ensure_environment(tx, project_id, environment)?;
            for (key, value) in pairs {
                tx.execute(
                    "INSERT INTO variables (environment_id, key, value) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (environment_id, key) DO UPDATE SET value = excluded.value",
                    params![env.id, key, value],
                )
                .with_context(|| format!("setting variable {key}"))?;
            }
            Ok(())
        })
    }

    /// Remove variables; returns the names that were not set.
    pub fn unset_variables(&mut self, environment_id: i64, keys: &[String]) -> Result<Vec<String>> {
        self.write(|tx| {
            let mut missing = Vec::new();
            for key in keys {
                let removed = tx.execute(
                    "DELETE FROM variables WHERE environment_id = ?1 AND key = ?2",
                    params![environment_id, key],
                )?;
                if removed == 0 {
                    missing.push(key.clone());
                }
            }
            Ok(missing)
        })
    }
}

pub(super) fn variables_in(
    conn: &rusqlite::Connection,
    environment_id: i64,
) -> Result<BTreeMap<String, String>> {
    let mut stmt =
        conn.prepare_cached("SELECT key, value FROM variables WHERE environment_id = ?1")?;
    let rows = stmt.query_map([environment_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect::<rusqlite::Result<_>>()
        .context("reading variables")
}

/// Digests of the variables as they are now, to remember with a deployment.
pub(super) fn variables_digest(
    conn: &rusqlite::Connection,
    environment_id: i64,
) -> Result<BTreeMap<String, String>> {
    Ok(variables_in(conn, environment_id)?
        .iter()
        .map(|(k, v)| (k.clone(), digest(k, v)))
        .collect())
}

/// The environment, created (state `normal`, nothing serving) when missing.
pub(super) fn ensure_environment(
    tx: &Transaction,
    project_id: i64,
    name: &str,
) -> Result<Environment> {
    tx.execute(
        "INSERT INTO environments (project_id, name) VALUES (?1, ?2) \
         ON CONFLICT (project_id, name) DO NOTHING",
        params![project_id, name],
    )
    .context("creating the environment")?;
    tx.query_row(
        &format!(
            "SELECT {ENVIRONMENT_COLUMNS} FROM environments WHERE project_id = ?1 AND name = ?2"
        ),
        params![project_id, name],
        environment_from_row,
    )
    .context("reading the environment")
}
