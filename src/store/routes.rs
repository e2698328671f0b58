//! Proxy mode's shared state: the route table temps writes and `temps proxy` reads, and
//! the state the running proxy reports back (applied generation, in-flight requests).

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::Store;
use crate::clock::now_ms;

fn write_route(
    tx: &rusqlite::Transaction,
    environment_id: i64,
    listen: &str,
    upstreams: &[String],
    deployment_id: Option<i64>,
) -> Result<i64> {
    let generation: i64 = tx.query_row(
        "SELECT COALESCE(MAX(generation), 0) + 1 FROM routes",
        [],
        |r| r.get(0),
    )?;
    tx.execute(
        "INSERT INTO routes (environment_id, listen, upstreams, deployment_id, generation) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (environment_id) DO UPDATE SET \
         listen = excluded.listen, upstreams = excluded.upstreams, \
         deployment_id = excluded.deployment_id, generation = excluded.generation",
        params![
            environment_id,
            listen,
            serde_json::to_string(upstreams)?,
            deployment_id,
            generation
        ],
    )
    .context("writing the route")?;
    Ok(generation)
}

/// The environment remembers how it is served in proxy mode (only while nothing serves
/// it, with `first`).
fn remember_proxy(
    tx: &rusqlite::Transaction,
    environment_id: i64,
    settings: &ProxySettings<'_>,
    first: bool,
) -> Result<()> {
    let (cert, key) = settings.tls.pem();
    tx.execute(
        &format!(
            "UPDATE environments SET proxy = ?2, replicas = ?3, drain_ms = ?4, \
             response_timeout_ms = ?5, domains = ?6, standby_ms = ?7, tls = ?8, tls_cert = ?9, \
             tls_key = ?10, hsts_ms = ?11, publish = NULL WHERE id = ?1{}",
            if first {
                " AND current_deployment_id IS NULL"
            } else {
                ""
            }
        ),
        params![
            environment_id,
            settings.listen,
            settings.replicas,
            settings.drain_ms as i64,
            settings.response_timeout_ms as i64,
            serde_json::to_string(settings.domains)?,
            settings.standby_ms as i64,
            settings.tls.as_str(),
            cert,
            key,
            settings.hsts_ms as i64,
        ],
    )?;
    Ok(())
}

/// A switch in proxy mode, as `Store::route_proxied` makes it.
pub struct ProxiedSwitch<'a> {
    /// The deployment that serves from now on.
    pub id: i64,
    pub environment_id: i64,
    /// The environment's state afterwards.
    pub state: super::EnvState,
    pub settings: ProxySettings<'a>,
    pub upstreams: &'a [String],
    /// The instant path: the warm deployment whose containers `id` serves from, and
    /// those containers.
    pub serves_from: Option<(i64, &'a [String])>,
    /// The replaced deployment stays warm for the settings' standby; `false`: it gets
    /// none (stopped once drained), whatever the environment's standby.
    pub keep_replaced_warm: bool,
}

/// What a switch in proxy mode changed besides the route.
#[derive(Debug)]
pub struct Switched {
    /// The new route's generation.
    pub generation: i64,
    /// Until when the replaced deployment stays warm (`None`: stop it once drained).
    pub warm_until: Option<i64>,
    /// Other standbys of the environment, ended by this switch: their containers stop.
    pub ended: Vec<super::Deployment>,
}

/// Where one environment's requests go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    pub environment_id: i64,
    pub project: String,
    pub environment: String,
    /// The public address the proxy listens on: `0.0.0.0:80`.
    pub listen: String,
    /// `127.0.0.1:49153`, …: round-robin across these.
    pub upstreams: Vec<String>,
    pub deployment_id: Option<i64>,
    pub generation: i64,
    /// How long the app's answer may take to begin, in milliseconds (0: no limit): the
    /// environment's `--response-timeout`.
    pub response_timeout_ms: u64,
    /// The hosts it answers on `listen` (none: every host, the address's default).
    pub domains: Vec<String>,
    /// HTTPS on `listen`, and with which certificates (never serialized: it may hold a key).
    #[serde(skip)]
    pub tls: super::Tls,
    /// With TLS: the `Strict-Transport-Security` max-age in seconds (0: none).
    pub hsts_secs: u64,
}

/// How an environment in proxy mode is served, as the environment remembers it.
#[derive(Debug, Clone, Copy)]
pub struct ProxySettings<'a> {
    /// The public address: `0.0.0.0:80`.
    pub listen: &'a str,
    pub replicas: u32,
    pub drain_ms: u64,
    pub response_timeout_ms: u64,
    /// The hosts it answers on `listen` (none: every host).
    pub domains: &'a [String],
    /// How long a replaced deployment stays warm after a switch (0: stopped once drained).
    pub standby_ms: u64,
    /// HTTPS on `listen`, and with which certificates.
    pub tls: &'a super::Tls,
    /// With TLS: the `Strict-Transport-Security` max-age (0: none).
    pub hsts_ms: u64,
}

/// What the running proxy last said about one ACME domain's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateReport {
    pub domain: String,
    /// The certificate served now: its issuer's name and end of validity (ms).
    pub issuer: Option<String>,
    pub not_after: Option<i64>,
    /// Why the last order or renewal failed, in words an operator can act on.
    pub error: Option<String>,
    pub updated_at: i64,
}

/// What the running proxy last said about itself.
#[derive(Debug, Clone, Serialize)]
pub struct ProxyState {
    pub pid: u32,
    pub started_at: i64,
    pub heartbeat_at: i64,
    /// The highest route generation it applies.
    pub generation: i64,
    /// The addresses it listens on.
    pub listening: Vec<String>,
    /// Requests (and upgraded connections) in flight, per upstream address.
    pub in_flight: BTreeMap<String, u64>,
    /// How each upstream has answered, per address (what the watch window reads).
    pub answers: BTreeMap<String, Answers>,
}

impl ProxyState {
    /// The proxy that said this runs now: its heartbeat is recent and its process exists.
    pub fn is_running(&self, now_ms: i64) -> bool {
        crate::wake::proxy_runs(self.heartbeat_at, self.pid, now_ms)
    }
}

/// How an upstream has answered: every answer and its 5xx ones since the proxy first
/// routed to it, and the same within the last [`ANSWER_WINDOW_SECS`] seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Answers {
    pub requests: u64,
    pub errors: u64,
    pub recent_requests: u64,
    pub recent_errors: u64,
}

/// How far back the proxy's recent answer counts reach.
pub const ANSWER_WINDOW_SECS: u64 = 10;

impl Store {
    /// Point an environment's route at `upstreams`; returns the new generation.
    pub fn set_route(
        &mut self,
        environment_id: i64,
        listen: &str,
        upstreams: &[String],
        deployment_id: Option<i64>,
    ) -> Result<i64> {
        let generation =
            self.write(|tx| write_route(tx, environment_id, listen, upstreams, deployment_id))?;
        crate::wake::notify(&self.path);
        Ok(generation)
    }

    /// Make `id` serve through the proxy, in one transaction: its route is written, it
    /// becomes the environment's current deployment (see `route`), and the environment
    /// remembers its proxy settings. The deployment it replaces stays warm for the
    /// settings' standby; any other standby of the environment ends now (returned, for
    /// its containers to be stopped). With `serves_from`, `id` serves from the warm
    /// containers of that deployment (the instant path): they become `id`'s.
    pub fn route_proxied(&mut self, switch: ProxiedSwitch<'_>) -> Result<Switched> {
        let ProxiedSwitch {
            id,
            environment_id,
            state,
            settings,
            upstreams,
            serves_from,
            keep_replaced_warm,
        } = switch;
        let switched = self.write(|tx| {
            let now = now_ms();
            let previous: Option<i64> = tx.query_row(
                "SELECT current_deployment_id FROM environments WHERE id = ?1",
                [environment_id],
                |r| r.get(0),
            )?;
            let reused = serves_from.map(|(target, _)| target);
            let mut ended = Vec::new();
            {
                let mut stmt = tx.prepare(&format!(
                    "{} WHERE d.environment_id = ?1 AND d.warm_until > ?2 AND d.id != ?3 \
                     AND d.id IS NOT ?4 AND d.id IS NOT ?5",
                    super::deployments::DEPLOYMENT_SELECT
                ))?;
                let rows = stmt.query_map(
                    params![environment_id, now, id, previous, reused],
                    super::deployments::deployment_from_row,
                )?;
                for row in rows {
                    ended.push(row?);
                }
            }
            // A standby cut short keeps the moment it ended.
            tx.execute(
                "UPDATE deployments SET warm_until = ?2 WHERE environment_id = ?1 AND warm_until > ?2",
                params![environment_id, now],
            )?;
            if let Some((target, containers)) = serves_from {
                tx.execute(
                    "UPDATE deployments SET containers = ?2 WHERE id = ?1",
                    params![id, serde_json::to_string(containers)?],
                )?;
                tx.execute(
                    "UPDATE deployments SET warm_until = MIN(COALESCE(warm_until, ?2), ?2) WHERE id = ?1",
                    params![target, now],
                )?;
            }
            let warm_until = match previous {
                Some(previous) if keep_replaced_warm && settings.standby_ms > 0 && previous != id => {
                    let until = now + settings.standby_ms as i64;
                    tx.execute(
                        "UPDATE deployments SET warm_until = ?2 WHERE id = ?1",
                        params![previous, until],
                    )?;
                    Some(until)
                }
                _ => None,
            };
            tx.execute(
                "UPDATE deployments SET warm_until = NULL WHERE id = ?1",
                [id],
            )?;
            super::deployments::route_in(tx, id, environment_id, state, None)?;
            remember_proxy(tx, environment_id, &settings, false)?;
            let generation = write_route(tx, environment_id, settings.listen, upstreams, Some(id))?;
            Ok(Switched {
                generation,
                warm_until,
                ended,
            })
        })
        .with_context(|| format!("routing the environment to deployment #{id}"))?;
        // Committed: a running proxy need not wait for its next poll.
        crate::wake::notify(&self.path);
        Ok(switched)
    }

    /// Remember the address an environment that serves nothing yet was given (`--publish`,
    /// or `--proxy` with its replicas, drain and standby), before its first deployment is
    /// tried: a first deploy that fails must not make the next one forget where to serve.
    pub fn remember_address(
        &mut self,
        environment_id: i64,
        publish: Option<&super::Publish>,
        proxy: Option<ProxySettings<'_>>,
    ) -> Result<()> {
        self.write(|tx| {
            if let Some(publish) = publish {
                tx.execute(
                    "UPDATE environments SET publish = ?2 WHERE id = ?1 AND current_deployment_id IS NULL",
                    params![environment_id, publish.to_string()],
                )?;
            }
            if let Some(mode) = proxy {
                remember_proxy(tx, environment_id, &mode, true)?;
            }
            Ok(())
        })
        .context("remembering the environment's address")
    }

    /// Put an environment in swarm mode with `replicas` tasks and, when given, its
    /// host-mode port: before its first deployment is tried (so a failed first deploy
    /// does not forget it), and once a deployment serves with them.
    pub fn remember_swarm(
        &mut self,
        environment_id: i64,
        replicas: u32,
        publish: Option<&super::Publish>,
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE environments SET swarm = 1, replicas = ?2, proxy = NULL WHERE id = ?1",
                params![environment_id, replicas],
            )?;
            if let Some(publish) = publish {
                tx.execute(
                    "UPDATE environments SET publish = ?2 WHERE id = ?1",
                    params![environment_id, publish.to_string()],
                )?;
            }
            Ok(())
        })
        .context("remembering the environment's swarm mode")
    }

    /// Every route, for the proxy.
    pub fn routes(&self) -> Result<Vec<Route>> {
        let mut stmt = self.conn.prepare(
            "SELECT r.environment_id, p.name, e.name, r.listen, r.upstreams, r.deployment_id, r.generation, \
             e.response_timeout_ms, e.domains, e.tls, e.tls_cert, e.tls_key, e.hsts_ms \
             FROM routes r JOIN environments e ON e.id = r.environment_id JOIN projects p ON p.id = e.project_id \
             ORDER BY r.environment_id",
        )?;
        let rows = stmt.query_map([], |r| {
            let upstreams: String = r.get(4)?;
            Ok(Route {
                environment_id: r.get(0)?,
                project: r.get(1)?,
                environment: r.get(2)?,
                listen: r.get(3)?,
                upstreams: serde_json::from_str(&upstreams).unwrap_or_default(),
                deployment_id: r.get(5)?,
                generation: r.get(6)?,
                response_timeout_ms: r.get::<_, i64>(7)?.max(0) as u64,
                domains: serde_json::from_str(&r.get::<_, String>(8)?).unwrap_or_default(),
                tls: super::Tls::from_columns(&r.get::<_, String>(9)?, r.get(10)?, r.get(11)?),
                hsts_secs: (r.get::<_, i64>(12)?.max(0) as u64) / 1000,
            })
        })?;
        rows.collect::<rusqlite::Result<_>>()
            .context("reading routes")
    }

    pub fn route_of(&self, environment_id: i64) -> Result<Option<Route>> {
        Ok(self
            .routes()?
            .into_iter()
            .find(|r| r.environment_id == environment_id))
    }

    /// The highest generation of any route: cheap, for the proxy to poll.
    pub fn route_generation(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT COALESCE(MAX(generation), 0) FROM routes", [], |r| {
                r.get(0)
            })
            .context("reading the route generation")
    }

    /// The proxy reports itself (called every few tens of milliseconds while it runs).
    /// A report that takes the place of a running proxy's keeps that one's last report
    /// as draining (unless it wrote a fresher one itself): what it has in flight counts
    /// from the first moment, before its own next report says it drains.
    pub fn report_proxy_state(&mut self, state: &ProxyState) -> Result<()> {
        // It reads before it writes: IMMEDIATE, or another process's write between the
        // two (a deploy, a notification's attempt) fails it with SQLITE_BUSY at once.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let previous: Option<u32> = tx
            .query_row("SELECT pid FROM proxy_state WHERE id = 1", [], |r| r.get(0))
            .optional()?;
        if previous.is_some_and(|pid| pid != state.pid && crate::wake::process_exists(pid)) {
            tx.execute(
                "INSERT INTO proxy_draining (pid, heartbeat_at, in_flight, answers) \
                 SELECT pid, heartbeat_at, in_flight, answers FROM proxy_state WHERE id = 1 \
                 ON CONFLICT (pid) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, \
                 in_flight = excluded.in_flight, answers = excluded.answers \
                 WHERE excluded.heartbeat_at > proxy_draining.heartbeat_at",
                [],
            )
            .context("keeping the previous proxy's report as draining")?;
        }
        tx
            .execute(
                "INSERT INTO proxy_state (id, pid, started_at, heartbeat_at, generation, listening, in_flight, answers) \
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, \
                 started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, \
                 generation = excluded.generation, listening = excluded.listening, in_flight = excluded.in_flight, \
                 answers = excluded.answers",
                params![
                    state.pid,
                    state.started_at,
                    now_ms(),
                    state.generation,
                    serde_json::to_string(&state.listening)?,
                    serde_json::to_string(&state.in_flight)?,
                    serde_json::to_string(&state.answers)?,
                ],
            )
            .context("reporting the proxy's state")?;
        tx.commit()?;
        Ok(())
    }

    /// A proxy that handed over to a new one reports what it still has in flight (and
    /// how its upstreams answered) while it drains; `None` when it has exited.
    pub fn report_draining(&mut self, state: Option<&ProxyState>, pid: u32) -> Result<()> {
        match state {
            Some(state) => self.conn.execute(
                "INSERT INTO proxy_draining (pid, heartbeat_at, in_flight, answers) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (pid) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, \
                 in_flight = excluded.in_flight, answers = excluded.answers",
                params![
                    pid,
                    now_ms(),
                    serde_json::to_string(&state.in_flight)?,
                    serde_json::to_string(&state.answers)?,
                ],
            ),
            None => self
                .conn
                .execute("DELETE FROM proxy_draining WHERE pid = ?1", [pid]),
        }
        .context("reporting the draining proxy's state")?;
        Ok(())
    }

    /// What the proxy last reported, if it ever ran against this history. Requests that
    /// proxies it took over from still have in flight count too (their heartbeat is
    /// fresh), and so do their answers: a drain waits for them.
    pub fn proxy_state(&self) -> Result<Option<ProxyState>> {
        let Some(mut state) = self.proxy_state_alone()? else {
            return Ok(None);
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT pid, in_flight, answers FROM proxy_draining WHERE heartbeat_at > ?1",
        )?;
        let rows = stmt.query_map([now_ms() - 2_000], |r| {
            Ok((
                r.get::<_, u32>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (pid, in_flight, answers) = row?;
            if pid == state.pid {
                continue;
            }
            let in_flight: BTreeMap<String, u64> =
                serde_json::from_str(&in_flight).unwrap_or_default();
            for (upstream, count) in in_flight {
                *state.in_flight.entry(upstream).or_default() += count;
            }
            let answers: BTreeMap<String, Answers> =
                serde_json::from_str(&answers).unwrap_or_default();
            for (upstream, theirs) in answers {
                let ours = state.answers.entry(upstream).or_default();
                ours.requests += theirs.requests;
                ours.errors += theirs.errors;
                ours.recent_requests += theirs.recent_requests;
                ours.recent_errors += theirs.recent_errors;
            }
        }
        Ok(Some(state))
    }

    fn proxy_state_alone(&self) -> Result<Option<ProxyState>> {
        self.conn
            .query_row(
                "SELECT pid, started_at, heartbeat_at, generation, listening, in_flight, answers FROM proxy_state WHERE id = 1",
                [],
                |r| {
                    let listening: String = r.get(4)?;
                    let in_flight: String = r.get(5)?;
                    let answers: String = r.get(6)?;
                    Ok(ProxyState {
                        pid: r.get(0)?,
                        started_at: r.get(1)?,
                        heartbeat_at: r.get(2)?,
                        generation: r.get(3)?,
                        listening: serde_json::from_str(&listening).unwrap_or_default(),
                        in_flight: serde_json::from_str(&in_flight).unwrap_or_default(),
                        answers: serde_json::from_str(&answers).unwrap_or_default(),
                    })
                },
            )
            .optional()
            .context("reading the proxy's state")
    }

    /// The proxy reports one ACME domain's certificate (or its last error).
    pub fn report_certificate(&mut self, report: &CertificateReport) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO tls_certificates (domain, issuer, not_after, error, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (domain) DO UPDATE SET \
                 issuer = excluded.issuer, not_after = excluded.not_after, error = excluded.error, \
                 updated_at = excluded.updated_at",
                params![
                    report.domain,
                    report.issuer,
                    report.not_after,
                    report.error,
                    report.updated_at
                ],
            )
            .with_context(|| format!("reporting the certificate of {}", report.domain))?;
        Ok(())
    }

    /// Every ACME domain's certificate, as the proxy last reported it.
    pub fn certificate_reports(&self) -> Result<Vec<CertificateReport>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT domain, issuer, not_after, error, updated_at FROM tls_certificates \
                 ORDER BY domain",
            )
            .context("reading the certificates' reports")?;
        let rows = stmt
            .query_map([], |r| {
                Ok(CertificateReport {
                    domain: r.get(0)?,
                    issuer: r.get(1)?,
                    not_after: r.get(2)?,
                    error: r.get(3)?,
                    updated_at: r.get(4)?,
                })
            })
            .context("reading the certificates' reports")?;
        rows.collect::<rusqlite::Result<_>>()
            .context("reading the certificates' reports")
    }

    /// What the proxy last reported of `domain`'s certificate, if anything.
    pub fn certificate_report(&self, domain: &str) -> Result<Option<CertificateReport>> {
        self.conn
            .query_row(
                "SELECT domain, issuer, not_after, error, updated_at FROM tls_certificates WHERE domain = ?1",
                [domain],
                |r| {
                    Ok(CertificateReport {
                        domain: r.get(0)?,
                        issuer: r.get(1)?,
                        not_after: r.get(2)?,
                        error: r.get(3)?,
                        updated_at: r.get(4)?,
                    })
                },
            )
            .optional()
            .context("reading the certificate report")
    }
}
