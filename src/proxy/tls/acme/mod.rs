//! ACME (RFC 8555) inside `temps proxy`: an account, then one certificate per domain of
//! every environment with `--tls acme`, got and renewed by the proxy itself.
//!
//! The protocol (JWS, nonces, polling) is instant-acme's; the challenge is answered
//! here: TLS-ALPN-01 on the domain's TLS address (a self-signed certificate for
//! `acme-tls/1` handshakes, see `super::Resolver`), or HTTP-01 on the `--http` address
//! when there is one, the other one on the next try after a failure. A certificate is
//! renewed when a third of its life is left; a failure is retried after 1 minute, then
//! 2, 4, … at most an hour. New certificates serve new handshakes at once.
//!
//! The account's key and the certificates live beside the history, in `<db>-tls/`
//! (folders 0700, files 0600), one folder per ACME directory: a restarted proxy serves
//! what it has and orders nothing until renewal is due. What it holds and its last
//! error go to the history for `status` (`tls_certificates`).

mod failed;
mod kept;

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{anyhow, Result};
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use rustls::sign::CertifiedKey;
use tokio::sync::watch;

use super::Certificates;
use crate::certificate::{self, Facts};
use crate::clock::now_ms;
use crate::store::{CertificateReport, Store};
use failed::Failed;
pub use kept::{folder, kept, state_dir};
use kept::{private_dir, write_private};

/// Let's Encrypt's production directory: the default.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// How the proxy speaks ACME.
#[derive(Debug, Clone)]
pub struct AcmeOptions {
    /// The CA's directory URL (`--acme-directory`).
    pub directory: String,
    /// The account's contact (`--acme-email`).
    pub email: Option<String>,
    /// A PEM root that the CA's own HTTPS certificate chains to (`--acme-ca-root`).
    pub ca_root: Option<PathBuf>,
    /// HTTP-01 is possible: the proxy serves `--http`.
    pub http_challenge: bool,
    /// Where the account and certificates live: `<db>-tls/`.
    pub state_dir: PathBuf,
}

impl Default for AcmeOptions {
    fn default() -> Self {
        AcmeOptions {
            directory: LETS_ENCRYPT.to_string(),
            email: None,
            ca_root: None,
            http_challenge: false,
            state_dir: PathBuf::from("temps.db-tls"),
        }
    }
}

/// The first retry after a failure; each next one waits twice as long, up to the cap.
const BACKOFF_FIRST: Duration = Duration::from_secs(60);
const BACKOFF_CAP: Duration = Duration::from_secs(3600);
/// How long one order may take, challenge and issuance included.
const ORDER_TIMEOUT: Duration = Duration::from_secs(90);

/// One domain's certificate and its retries.
#[derive(Default)]
struct Domain {
    held: Option<Facts>,
    /// When the next order may start after a failure (ms).
    retry_at: Option<i64>,
    failures: u32,
    last_error: Option<String>,
}

impl Domain {
    /// When it should be ordered (ms): now when none is held, else when a third of its
    /// life is left; later after a failure.
    fn due_at(&self) -> i64 {
        let renew = match &self.held {
            None => 0,
            Some(facts) => facts.not_after - (facts.not_after - facts.not_before) / 3,
        };
        renew.max(self.retry_at.unwrap_or(0))
    }
}

/// Start the ACME manager on the current runtime; it follows the domains `wanted` says.
pub fn spawn(
    store: Store,
    options: AcmeOptions,
    certificates: Arc<Certificates>,
    wanted: watch::Receiver<BTreeSet<String>>,
) {
    let manager = Manager {
        store: Arc::new(Mutex::new(store)),
        folder: folder(&options),
        options,
        certificates,
        account: None,
        domains: HashMap::new(),
        prefer_http: HashMap::new(),
    };
    tokio::spawn(manager.run(wanted));
}

struct Manager {
    store: Arc<Mutex<Store>>,
    options: AcmeOptions,
    /// This directory's account and certificates.
    folder: PathBuf,
    certificates: Arc<Certificates>,
    account: Option<Account>,
    domains: HashMap<String, Domain>,
    /// Per domain, the challenge to try next (true: HTTP-01).
    prefer_http: HashMap<String, bool>,
}

impl Manager {
    async fn run(mut self, mut wanted: watch::Receiver<BTreeSet<String>>) {
        loop {
            let domains = wanted.borrow_and_update().clone();
            self.domains.retain(|d, _| domains.contains(d));
            for domain in &domains {
                if !self.domains.contains_key(domain) {
                    let loaded = self.load(domain);
                    self.domains.insert(domain.clone(), loaded);
                }
            }
            let now = now_ms();
            let due: Vec<String> = domains
                .iter()
                .filter(|d| self.domains.get(*d).is_some_and(|s| s.due_at() <= now))
                .cloned()
                .collect();
            for domain in due {
                self.renew(&domain).await;
            }
            let next = self.domains.values().map(Domain::due_at).min();
            let wait = next.map_or(BACKOFF_CAP, |at| {
                Duration::from_millis(
                    (at - now_ms()).clamp(200, BACKOFF_CAP.as_millis() as i64) as u64
                )
            });
            tokio::select! {
                changed = wanted.changed() => if changed.is_err() { return },
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// What is on disk for `domain`: served at once when it is for that name.
    fn load(&self, domain: &str) -> Domain {
        let (cert, key) = self.paths(domain);
        let mut state = Domain::default();
        let (Ok(cert), Ok(key)) = (fs::read_to_string(&cert), fs::read_to_string(&key)) else {
            return state;
        };
        match certificate::certified_key(&cert, &key) {
            Ok((certified, facts)) if certificate::covers(&facts.names, domain) => {
                self.certificates.install_acme(domain, certified);
                self.report(domain, Some(&facts), None);
                state.held = Some(facts);
            }
            Ok(_) => super::super::problem(format!(
                "the certificate kept for {domain} is for other names: ordering a new one"
            )),
            Err(why) => super::super::problem(format!(
                "the certificate kept for {domain} cannot be used ({why}): ordering a new one"
            )),
        }
        state
    }

    fn paths(&self, domain: &str) -> (PathBuf, PathBuf) {
        (
            self.folder.join(format!("{domain}.crt")),
            self.folder.join(format!("{domain}.key")),
        )
    }

    /// Order `domain`'s certificate; on success serve it and keep it, else say why and
    /// wait before the next try.
    async fn renew(&mut self, domain: &str) {
        let http = self.options.http_challenge && *self.prefer_http.get(domain).unwrap_or(&true);
        let kind = if http { "HTTP-01" } else { "TLS-ALPN-01" };
        super::super::event(format!(
            "ACME: ordering a certificate for {domain} ({kind})"
        ));
        let outcome = tokio::time::timeout(ORDER_TIMEOUT, self.order(domain, http)).await;
        let outcome = outcome.unwrap_or_else(|_| {
            Err(Failed::new(format!(
                "the CA did not finish the order within {}s: it may be slow or unable to reach \
                 this proxy; retrying",
                ORDER_TIMEOUT.as_secs()
            )))
        });
        let mut state = self.domains.remove(domain).unwrap_or_default();
        match outcome.and_then(|(chain, key)| self.keep(domain, &chain, &key)) {
            Ok(facts) => {
                super::super::event(format!(
                    "ACME: {domain} has a certificate from {} until {}",
                    facts.issuer,
                    crate::clock::rfc3339(facts.not_after)
                ));
                self.report(domain, Some(&facts), None);
                state = Domain {
                    held: Some(facts),
                    ..Domain::default()
                };
            }
            Err(failed) => {
                state.failures += 1;
                let backoff = BACKOFF_FIRST
                    .saturating_mul(1 << (state.failures - 1).min(12))
                    .min(BACKOFF_CAP);
                let retry_at = now_ms() + backoff.as_millis() as i64;
                state.retry_at = Some(retry_at);
                let text = format!(
                    "{} (next try {})",
                    failed.text,
                    crate::clock::rfc3339(retry_at)
                );
                if state.last_error.as_ref() != Some(&text) {
                    super::super::problem(format!("ACME: {domain}: {text}"));
                }
                self.report(domain, state.held.as_ref(), Some(&text));
                state.last_error = Some(text);
                if self.options.http_challenge {
                    self.prefer_http.insert(domain.to_string(), !http);
                }
            }
        }
        self.domains.insert(domain.to_string(), state);
    }

    /// Write what the proxy holds for `domain` (and its last error) for `status`.
    fn report(&self, domain: &str, facts: Option<&Facts>, error: Option<&str>) {
        let report = CertificateReport {
            domain: domain.to_string(),
            issuer: facts.map(|f| f.issuer.clone()),
            not_after: facts.map(|f| f.not_after),
            error: error.map(str::to_string),
            updated_at: now_ms(),
        };
        let store = Arc::clone(&self.store);
        // SQLite may wait for another writer: never on the runtime's threads.
        tokio::task::spawn_blocking(move || {
            let mut store = store.lock().unwrap_or_else(PoisonError::into_inner);
            if let Err(err) = store.report_certificate(&report) {
                super::super::problem(format!("{err:#}"));
            }
        });
    }

    /// Serve and keep a new certificate.
    fn keep(&self, domain: &str, chain: &str, key: &str) -> Result<Facts, Failed> {
        let (certified, facts) = certificate::certified_key(chain, key)
            .map_err(|why| Failed::new(format!("the CA's certificate cannot be served: {why}")))?;
        let (cert_path, key_path) = self.paths(domain);
        private_dir(&self.folder)
            .and_then(|()| write_private(&key_path, key.as_bytes()))
            .and_then(|()| write_private(&cert_path, chain.as_bytes()))
            .map_err(|err| {
                super::super::problem(format!(
                    "ACME: keeping the certificate of {domain}: {err:#} (it serves, but a restart orders again)"
                ));
            })
            .ok();
        self.certificates.install_acme(domain, certified);
        Ok(facts)
    }

    /// The account: kept on disk, made once.
    async fn account(&mut self) -> Result<Account, Failed> {
        if let Some(account) = &self.account {
            return Ok(account.clone());
        }
        let builder = match &self.options.ca_root {
            Some(root) => Account::builder_with_root(root),
            None => Account::builder(),
        }
        .map_err(|err| Failed::new(format!("cannot set up the ACME client: {err}")))?;
        let path = self.folder.join("account.json");
        let directory = &self.options.directory;
        let unreachable = |err: instant_acme::Error| Failed::from_acme(err, None, "", directory);
        let account = match fs::read(&path) {
            Ok(bytes) => {
                let credentials: AccountCredentials =
                    serde_json::from_slice(&bytes).map_err(|e| {
                        Failed::new(format!("`{}` is not an ACME account: {e}", path.display()))
                    })?;
                builder
                    .from_credentials(credentials)
                    .await
                    .map_err(unreachable)?
            }
            Err(_) => {
                let contact = self.options.email.as_ref().map(|e| format!("mailto:{e}"));
                let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
                let (account, credentials) = builder
                    .create(
                        &NewAccount {
                            contact: &contacts,
                            terms_of_service_agreed: true,
                            only_return_existing: false,
                        },
                        directory.clone(),
                        None,
                    )
                    .await
                    .map_err(unreachable)?;
                let json = serde_json::to_vec(&credentials)
                    .map_err(|e| Failed::new(format!("keeping the ACME account: {e}")))?;
                private_dir(&self.folder)
                    .and_then(|()| write_private(&path, &json))
                    .map_err(|e| Failed::new(format!("keeping the ACME account: {e:#}")))?;
                super::super::event(format!("ACME: account made at {directory}"));
                account
            }
        };
        self.account = Some(account.clone());
        Ok(account)
    }

    /// One order for `domain`: the challenge, then the certificate. Returns the chain
    /// and its key, PEM.
    async fn order(&mut self, domain: &str, http: bool) -> Result<(String, String), Failed> {
        let account = self.account().await?;
        let directory = self.options.directory.clone();
        let acme = |err| Failed::from_acme(err, Some(http), domain, &directory);
        let identifiers = [Identifier::Dns(domain.to_string())];
        let mut order = account
            .new_order(&NewOrder::new(&identifiers))
            .await
            .map_err(acme)?;
        let challenges = &self.certificates.challenges;
        let mut tokens = Vec::new();
        {
            let mut authorizations = order.authorizations();
            while let Some(authorization) = authorizations.next().await {
                let mut authorization = authorization.map_err(acme)?;
                match authorization.status {
                    AuthorizationStatus::Pending => {}
                    AuthorizationStatus::Valid => continue,
                    other => {
                        return Err(Failed::new(format!(
                            "the CA's authorization for {domain} is {other:?}: retrying with a new order"
                        )))
                    }
                }
                let kind = if http {
                    ChallengeType::Http01
                } else {
                    ChallengeType::TlsAlpn01
                };
                let mut challenge = authorization.challenge(kind.clone()).ok_or_else(|| {
                    Failed::new(format!("the CA offers no {kind:?} challenge for {domain}"))
                })?;
                let key_authorization = challenge.key_authorization();
                if http {
                    challenges.set_http(&challenge.token, key_authorization.as_str());
                } else {
                    let certified = alpn_certificate(domain, key_authorization.digest().as_ref())
                        .map_err(|e| {
                        Failed::new(format!("making the TLS-ALPN-01 certificate: {e:#}"))
                    })?;
                    challenges.set_alpn(domain, certified);
                }
                tokens.push(challenge.token.clone());
                challenge.set_ready().await.map_err(acme)?;
            }
        }
        let polling = RetryPolicy::new()
            .initial_delay(Duration::from_millis(250))
            .backoff(1.5)
            .timeout(ORDER_TIMEOUT);
        let status = order.poll_ready(&polling).await;
        for token in &tokens {
            challenges.clear(domain, token);
        }
        match status.map_err(acme)? {
            OrderStatus::Ready => {}
            _ => {
                // The challenge failed: its error says why.
                let mut why = None;
                let mut authorizations = order.authorizations();
                while let Some(Ok(authorization)) = authorizations.next().await {
                    why = why.or_else(|| {
                        authorization
                            .challenges
                            .iter()
                            .find_map(|c| c.error.clone())
                    });
                }
                return Err(match why {
                    Some(problem) => Failed::from_problem(&problem, Some(http), domain),
                    None => Failed::new(format!("the CA refused the order for {domain}")),
                });
            }
        }
        let key =
            rcgen::KeyPair::generate().map_err(|e| Failed::new(format!("making a key: {e}")))?;
        let csr = rcgen::CertificateParams::new(vec![domain.to_string()])
            .and_then(|params| params.serialize_request(&key))
            .map_err(|e| Failed::new(format!("making the signing request: {e}")))?;
        order.finalize_csr(csr.der()).await.map_err(acme)?;
        let chain = order.poll_certificate(&polling).await.map_err(acme)?;
        Ok((chain, key.serialize_pem()))
    }
}

/// The TLS-ALPN-01 certificate (RFC 8737): self-signed for `domain`, with the key
/// authorization's digest in a critical `acmeIdentifier` extension.
fn alpn_certificate(domain: &str, digest: &[u8]) -> Result<Arc<CertifiedKey>> {
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(vec![domain.to_string()])?;
    params
        .custom_extensions
        .push(rcgen::CustomExtension::new_acme_identifier(digest));
    let cert = params.self_signed(&key)?;
    // Not through `certificate::certified_key`: certificate parsers refuse its critical
    // extension, which only the CA's validator reads.
    let der = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der())
        .map_err(|why| anyhow!("{why}"))?;
    let signing = rustls::crypto::ring::default_provider()
        .key_provider
        .load_private_key(der)?;
    Ok(Arc::new(CertifiedKey::new(
        vec![cert.der().clone()],
        signing,
    )))
}
