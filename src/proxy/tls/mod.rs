//! HTTPS at the edge: the certificates each TLS address serves, picked by the name the
//! client asks for (SNI), swapped in for new handshakes without a restart.
//!
//! An address is TLS or plain for all its environments. On a TLS address every
//! environment names its domains, and each domain has its certificate: the operator's
//! own (given at deploy, exact names and wildcards) or one the proxy got itself by ACME
//! (`acme`). A handshake without a name, or for a name no environment there holds a
//! certificate for, is refused: never a stand-in certificate a client would have to
//! click through. ACME's TLS-ALPN-01 challenge (`acme-tls/1`) is answered on the same
//! address, and HTTP-01 on the plain `--http` address (`edge`).

pub mod acme;
pub mod edge;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use sha2::{Digest, Sha256};

use crate::store::{Route, Tls};

/// The ALPN protocol of ACME's TLS-ALPN-01 challenge (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// Where a name's certificate comes from.
#[derive(Clone)]
enum Source {
    Own(Arc<CertifiedKey>),
    /// The one ACME got for this very name, once it has.
    Acme,
}

/// Which certificate answers which name on one TLS address.
#[derive(Default)]
struct AddressCertificates {
    exact: HashMap<String, Source>,
    /// `example.com` for `*.example.com`.
    wildcard: HashMap<String, Source>,
}

/// Every TLS address's certificates, and ACME's challenges: shared by the listeners'
/// resolvers, the route table's updates and the ACME manager.
#[derive(Default)]
pub struct Certificates {
    addresses: RwLock<HashMap<SocketAddr, Arc<AddressCertificates>>>,
    /// What ACME got, by domain.
    acme: RwLock<HashMap<String, Arc<CertifiedKey>>>,
    /// Own certificates as parsed, by a digest of their PEM: parsed once, not at every
    /// route change.
    parsed: Mutex<HashMap<[u8; 32], Arc<CertifiedKey>>>,
    /// Where ACME's certificates are kept: a domain that appears is served from there at
    /// once, before the ACME manager looks at it (a restarted or upgraded proxy serves
    /// from its first handshake on).
    acme_folder: Mutex<Option<std::path::PathBuf>>,
    pub challenges: Challenges,
}

/// ACME's challenges while an order is open.
#[derive(Default)]
pub struct Challenges {
    /// HTTP-01: token → key authorization.
    http: RwLock<HashMap<String, String>>,
    /// TLS-ALPN-01: domain → the challenge's self-signed certificate.
    alpn: RwLock<HashMap<String, Arc<CertifiedKey>>>,
}

impl Challenges {
    pub fn set_http(&self, token: &str, key_authorization: &str) {
        write(&self.http).insert(token.to_string(), key_authorization.to_string());
    }

    pub fn http(&self, token: &str) -> Option<String> {
        read(&self.http).get(token).cloned()
    }

    pub fn set_alpn(&self, domain: &str, key: Arc<CertifiedKey>) {
        write(&self.alpn).insert(domain.to_string(), key);
    }

    fn alpn(&self, domain: &str) -> Option<Arc<CertifiedKey>> {
        read(&self.alpn).get(domain).cloned()
    }

    /// The order is over: forget its challenges.
    pub fn clear(&self, domain: &str, token: &str) {
        write(&self.http).remove(token);
        write(&self.alpn).remove(domain);
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

/// What a set of TLS routes asks of the certificates.
#[derive(Debug, Default)]
pub struct Applied {
    /// One line each: a certificate that cannot be served (its domains' handshakes are
    /// refused; the address's other domains are served).
    pub problems: Vec<String>,
    /// The domains ACME is to get and keep certificates for.
    pub acme: BTreeSet<String>,
}

impl Certificates {
    /// Serve the certificates of `secure` (per TLS address, its environments' routes)
    /// for new handshakes from now on.
    pub fn apply(&self, secure: &BTreeMap<SocketAddr, Vec<Route>>) -> Applied {
        let mut applied = Applied::default();
        let mut parsed = self.parsed.lock().unwrap_or_else(PoisonError::into_inner);
        let mut used = HashMap::new();
        let mut addresses = HashMap::new();
        for (addr, routes) in secure {
            let mut certificates = AddressCertificates::default();
            for route in routes {
                let source = match &route.tls {
                    Tls::Off => continue,
                    Tls::Acme => {
                        applied.acme.extend(route.domains.iter().cloned());
                        Source::Acme
                    }
                    Tls::Own { cert, key } => {
                        let digest: [u8; 32] = Sha256::new()
                            .chain_update(cert.as_bytes())
                            .chain_update([0])
                            .chain_update(key.as_bytes())
                            .finalize()
                            .into();
                        let key = match parsed.get(&digest) {
                            Some(key) => Arc::clone(key),
                            None => match crate::certificate::certified_key(cert, key) {
                                Ok((key, _)) => key,
                                Err(why) => {
                                    applied.problems.push(format!(
                                        "{}/{}: its certificate cannot be served ({why}); \
                                         handshakes for {} are refused",
                                        route.project,
                                        route.environment,
                                        route.domains.join(", ")
                                    ));
                                    continue;
                                }
                            },
                        };
                        used.insert(digest, Arc::clone(&key));
                        Source::Own(key)
                    }
                };
                for domain in &route.domains {
                    match domain.strip_prefix("*.") {
                        Some(parent) => certificates
                            .wildcard
                            .insert(parent.to_string(), source.clone()),
                        None => certificates.exact.insert(domain.clone(), source.clone()),
                    };
                }
            }
            addresses.insert(*addr, Arc::new(certificates));
        }
        *parsed = used;
        drop(parsed);
        *write(&self.addresses) = addresses;
        let folder = self
            .acme_folder
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut acme = write(&self.acme);
        acme.retain(|domain, _| applied.acme.contains(domain));
        if let Some(folder) = folder {
            for domain in &applied.acme {
                if !acme.contains_key(domain) {
                    if let Some((key, _)) = acme::kept(&folder, domain) {
                        acme.insert(domain.clone(), key);
                    }
                }
            }
        }
        drop(acme);
        applied
    }

    /// Serve ACME's kept certificates from `folder`.
    pub fn set_acme_folder(&self, folder: std::path::PathBuf) {
        *self
            .acme_folder
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(folder);
    }

    /// The certificate for `name` on `listen`: an exact domain, then a wildcard one
    /// label up; `None` when none is held (the handshake is refused).
    fn lookup(&self, listen: SocketAddr, name: &str) -> Option<Arc<CertifiedKey>> {
        let certificates = read(&self.addresses).get(&listen).cloned()?;
        let source = certificates.exact.get(name).or_else(|| {
            let (label, parent) = name.split_once('.')?;
            (!label.is_empty())
                .then(|| certificates.wildcard.get(parent))
                .flatten()
        })?;
        match source {
            Source::Own(key) => Some(Arc::clone(key)),
            Source::Acme => read(&self.acme).get(name).cloned(),
        }
    }

    /// Serve `key` for `domain` (got by ACME) from the next handshake on.
    pub fn install_acme(&self, domain: &str, key: Arc<CertifiedKey>) {
        write(&self.acme).insert(domain.to_string(), key);
    }
}

/// Picks the certificate for one TLS address by SNI.
#[derive(Debug)]
struct Resolver {
    listen: SocketAddr,
    certificates: Arc<Certificates>,
}

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Certificates")
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // No name, no certificate: an address's certificates are chosen by name.
        let name = hello
            .server_name()?
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let challenge = hello
            .alpn()
            .is_some_and(|mut offered| offered.any(|p| p == ACME_TLS_ALPN));
        if challenge {
            return self.certificates.challenges.alpn(&name);
        }
        self.certificates.lookup(self.listen, &name)
    }
}

/// How many TLS sessions one address remembers for resumption (rustls' default is 256).
const SESSION_CACHE: usize = 4096;

/// The TLS configuration of one address: HTTP/2 and HTTP/1.1 by ALPN (and ACME's
/// `acme-tls/1`), its certificates by SNI.
pub fn server_config(
    listen: SocketAddr,
    certificates: Arc<Certificates>,
) -> Result<Arc<ServerConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // TLS 1.2 and 1.3, with the provider's default suites.
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Resolver {
            listen,
            certificates,
        }));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec(), ACME_TLS_ALPN.to_vec()];
    config.session_storage = rustls::server::ServerSessionMemoryCache::new(SESSION_CACHE);
    Ok(Arc::new(config))
}
