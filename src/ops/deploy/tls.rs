//! The TLS of an environment in proxy mode, as the operations see it: what `deploy` asks
//! for, checked before anything is recorded (a certificate that cannot serve its domains
//! is refused there, never found out by the proxy, which would then refuse those
//! handshakes, and only those); and what `status` says of each TLS domain: the issuer,
//! the end of validity and the last error. Own certificates are read from the history as
//! deploy checked them; ACME's are what the running proxy reported.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use crate::certificate::{self, check_own, Unusable};
use crate::clock::rfc3339;
use crate::error::{ExitStatus, Failure};
use crate::store::{Environment, Store, Tls};

/// What `deploy` was told: `--tls acme|off`, or `--tls-cert` with `--tls-key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsRequest {
    Acme,
    Off,
    Own { cert: PathBuf, key: PathBuf },
}

/// The TLS to serve `domains` with: what was asked for, else what the environment
/// remembers; an own certificate read and checked as of `now` (ms).
pub fn choose(
    requested: Option<&TlsRequest>,
    remembered: &Tls,
    domains: &[String],
    now: i64,
) -> Result<Tls, Failure> {
    let tls = match requested {
        None => remembered.clone(),
        Some(TlsRequest::Off) => Tls::Off,
        Some(TlsRequest::Acme) => Tls::Acme,
        Some(TlsRequest::Own { cert, key }) => {
            let read = |what: &str, path: &PathBuf| {
                std::fs::read_to_string(path).map_err(|e| {
                    Failure::usage(format!(
                        "cannot read the TLS {what} `{}`: {e}",
                        path.display()
                    ))
                    .hint("give PEM files: `--tls-cert fullchain.pem --tls-key privkey.pem`")
                })
            };
            Tls::Own {
                cert: read("certificate", cert)?,
                key: read("key", key)?,
            }
        }
    };
    if tls.is_on() && domains.is_empty() {
        return Err(Failure::usage(
            "HTTPS needs the environment's domains: a certificate is chosen by the name a client asks for",
        )
        .hint("name them: `--domain shop.example.com` (repeat for more)"));
    }
    if let (Tls::Acme, Some(wildcard)) = (&tls, domains.iter().find(|d| d.starts_with("*."))) {
        return Err(Failure::usage(format!(
            "`--tls acme` gets certificates for exact names; {wildcard} needs a certificate of your own"
        ))
        .hint("give one: `--tls-cert fullchain.pem --tls-key privkey.pem`, or name each host with `--domain`"));
    }
    if let Tls::Own { cert, key } = &tls {
        let given = matches!(requested, Some(TlsRequest::Own { .. }));
        let hint = if given {
            "give the certificate chain (leaf first) and its own key, valid now for every `--domain`"
        } else {
            "the environment's certificate is remembered from an earlier deploy: give a new one with `--tls-cert PEM --tls-key PEM`"
        };
        check_own(cert, key, domains, now).map_err(|why| match why {
            Unusable::Malformed(why) => {
                Failure::usage(format!("the TLS certificate or key cannot be used: {why}"))
                    .hint(hint)
            }
            Unusable::Refused(why) => Failure::new(
                ExitStatus::Refused,
                format!("the TLS certificate cannot serve this environment: {why}"),
            )
            .hint(hint),
        })?;
    }
    Ok(tls)
}

/// `--hsts` only means something over HTTPS.
pub fn check_hsts(hsts: Option<Duration>, tls: &Tls) -> Result<(), Failure> {
    match hsts {
        Some(max_age) if !max_age.is_zero() && !tls.is_on() => Err(Failure::usage(
            "--hsts applies to environments served over HTTPS",
        )
        .hint(
            "serve HTTPS with `--tls acme` or `--tls-cert PEM --tls-key PEM`, or leave --hsts out",
        )),
        _ => Ok(()),
    }
}

/// Refuse (exit 4) serving `listen` with TLS when other environments serve plain HTTP
/// there, or the other way round: an address is one or the other for all of them.
pub fn check_address(
    store: &Store,
    environment_id: Option<i64>,
    listen: &str,
    tls: &Tls,
    who: &str,
) -> anyhow::Result<()> {
    for (env, project) in store.proxied_environments()? {
        if Some(env.id) == environment_id || env.proxy.as_deref() != Some(listen) {
            continue;
        }
        if env.tls.is_on() != tls.is_on() {
            let (theirs, ours) = if env.tls.is_on() {
                ("HTTPS", "plain HTTP")
            } else {
                ("plain HTTP", "HTTPS")
            };
            return Err(Failure::new(
                ExitStatus::Refused,
                format!(
                    "{listen} serves {theirs} for {project}/{}; {who} cannot serve {ours} there",
                    env.name
                ),
            )
            .hint(format!(
                "an address is HTTPS or plain for all its environments: use another `--proxy` address, \
                 or {}",
                if env.tls.is_on() {
                    "serve this one over HTTPS too (`--tls acme` or `--tls-cert`/`--tls-key`)"
                } else {
                    "leave this one plain (`--tls off`)"
                }
            ))
            .into());
        }
    }
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct TlsView {
    pub domain: String,
    pub issuer: Option<String>,
    /// RFC 3339.
    pub not_after: Option<String>,
    /// What went wrong last, and what to do; `null` when nothing did.
    pub error: Option<String>,
}

/// One line per TLS domain of `env` (none when it is plain), as of `now` (ms);
/// `proxy_running`: a `temps proxy` reports itself.
pub fn views(
    store: &Store,
    env: &Environment,
    proxy_running: bool,
    now: i64,
) -> Result<Vec<TlsView>> {
    if env.proxy.is_none() {
        return Ok(Vec::new());
    }
    let mut views = Vec::new();
    match &env.tls {
        Tls::Off => {}
        Tls::Own { cert, key } => {
            let facts = certificate::certified_key(cert, key).map(|(_, facts)| facts);
            for domain in &env.domains {
                views.push(match &facts {
                    Ok(facts) => TlsView {
                        domain: domain.clone(),
                        issuer: Some(facts.issuer.clone()),
                        not_after: Some(rfc3339(facts.not_after)),
                        error: (facts.not_after <= now).then(|| {
                            format!(
                                "the certificate expired on {}: deploy a renewed one with \
                                 `--tls-cert PEM --tls-key PEM`",
                                rfc3339(facts.not_after)
                            )
                        }),
                    },
                    Err(why) => TlsView {
                        domain: domain.clone(),
                        issuer: None,
                        not_after: None,
                        error: Some(format!("{why}: deploy with `--tls-cert PEM --tls-key PEM`")),
                    },
                });
            }
        }
        Tls::Acme => {
            for domain in &env.domains {
                let report = store.certificate_report(domain)?;
                let error = match &report {
                    Some(report) => report.error.clone(),
                    None if !proxy_running => {
                        Some("no certificate yet: `temps proxy` gets it once it runs".to_string())
                    }
                    None => None,
                };
                views.push(TlsView {
                    domain: domain.clone(),
                    issuer: report.as_ref().and_then(|r| r.issuer.clone()),
                    not_after: report.as_ref().and_then(|r| r.not_after).map(rfc3339),
                    error,
                });
            }
        }
    }
    Ok(views)
}
