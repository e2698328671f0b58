//! What `status` says of an environment's certificates: per TLS domain, the issuer, the
//! end of validity and the last error. Own certificates are read from the history as
//! deploy checked them; ACME's are what the running proxy reported.

use anyhow::Result;
use serde::Serialize;

use super::certificate;
use crate::clock::rfc3339;
use crate::store::{Environment, Store, Tls};

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
