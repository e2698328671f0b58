//! Certificates as temps reads them: a PEM chain and its key made into what rustls
//! serves, and what a certificate says about itself (its names, its issuer, its
//! validity) for deploy's checks and for `status`.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// What a certificate says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The issuer's common name (and organisation): `R11, Let's Encrypt`.
    pub issuer: String,
    /// Validity, in milliseconds since the epoch.
    pub not_before: i64,
    pub not_after: i64,
    /// The DNS names it is valid for, lower case (`*.example.com` for a wildcard).
    pub names: Vec<String>,
}

/// Read one DER certificate.
pub fn facts(der: &[u8]) -> Result<Facts, String> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let issuer = cert.issuer();
    let first = |mut values: Box<dyn Iterator<Item = _> + '_>| {
        values
            .next()
            .and_then(|value: &x509_parser::x509::AttributeTypeAndValue<'_>| {
                value.as_str().ok().map(str::to_string)
            })
    };
    let common_name = first(Box::new(issuer.iter_common_name()));
    let organisation = first(Box::new(issuer.iter_organization()));
    let issuer = match (common_name, organisation) {
        (Some(cn), Some(o)) if cn != o => format!("{cn}, {o}"),
        (Some(name), _) | (None, Some(name)) => name,
        (None, None) => issuer.to_string(),
    };
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            if let GeneralName::DNSName(dns) = name {
                names.push(dns.trim_end_matches('.').to_ascii_lowercase());
            }
        }
    }
    // Only without a SAN extension does the subject's common name name the host
    // (RFC 6125); browsers ignore it altogether, so it is only a last resort here.
    if names.is_empty() {
        if let Some(cn) = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|v| v.as_str().ok())
        {
            names.push(cn.to_ascii_lowercase());
        }
    }
    let validity = cert.validity();
    Ok(Facts {
        issuer,
        not_before: validity.not_before.timestamp() * 1000,
        not_after: validity.not_after.timestamp() * 1000,
        names,
    })
}

/// Whether a certificate valid for `names` serves `domain`: the same name, or a
/// wildcard one label up (`*.example.com` serves `shop.example.com`). A wildcard domain
/// is served only by the same wildcard.
pub fn covers(names: &[String], domain: &str) -> bool {
    names.iter().any(|name| {
        name == domain
            || (!domain.starts_with("*.")
                && name.strip_prefix("*.").is_some_and(|parent| {
                    domain
                        .split_once('.')
                        .is_some_and(|(label, rest)| !label.is_empty() && rest == parent)
                }))
    })
}

/// Why a certificate and key cannot be served, in two kinds: input that is not what
/// was asked for (unreadable, not PEM), and a certificate that cannot serve (expired,
/// another key, other names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    Malformed(String),
    Refused(String),
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unusable::Malformed(why) | Unusable::Refused(why) => f.write_str(why),
        }
    }
}

/// A PEM chain and key as rustls serves them, with the leaf's facts. The key must be
/// the leaf's.
pub fn certified_key(
    cert_pem: &str,
    key_pem: &str,
) -> Result<(Arc<CertifiedKey>, Facts), Unusable> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| Unusable::Malformed(format!("the certificate file is not PEM: {e}")))?;
    let Some(leaf) = chain.first() else {
        return Err(Unusable::Malformed(
            "the certificate file holds no certificate (`-----BEGIN CERTIFICATE-----`)".into(),
        ));
    };
    let facts = facts(leaf).map_err(Unusable::Malformed)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| {
        Unusable::Malformed(format!("the key file holds no private key in PEM: {e}"))
    })?;
    let provider = rustls::crypto::ring::default_provider();
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| Unusable::Malformed(format!("the key cannot be used: {e}")))?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(rustls::Error::InconsistentKeys(_)) => {
            return Err(Unusable::Refused(
                "the key does not belong to the certificate (their public keys differ)".into(),
            ))
        }
        Err(other) => {
            return Err(Unusable::Malformed(format!(
                "the certificate cannot be read: {other}"
            )))
        }
    }
    Ok((Arc::new(certified), facts))
}

/// Check a certificate of one's own for `domains` at `now` (ms): it parses, its key is
/// its own, it is valid now, and it names every domain.
pub fn check_own(
    cert_pem: &str,
    key_pem: &str,
    domains: &[String],
    now: i64,
) -> Result<Facts, Unusable> {
    let (_, facts) = certified_key(cert_pem, key_pem)?;
    if facts.not_after <= now {
        return Err(Unusable::Refused(format!(
            "the certificate expired on {}",
            crate::clock::rfc3339(facts.not_after)
        )));
    }
    if facts.not_before > now {
        return Err(Unusable::Refused(format!(
            "the certificate is not valid before {}",
            crate::clock::rfc3339(facts.not_before)
        )));
    }
    if let Some(missing) = domains.iter().find(|d| !covers(&facts.names, d)) {
        let names = if facts.names.is_empty() {
            "no DNS name".to_string()
        } else {
            facts.names.join(", ")
        };
        return Err(Unusable::Refused(format!(
            "the certificate is not valid for {missing} (it names {names})"
        )));
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own(names: &[&str]) -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("params");
        let cert = params.self_signed(&key).expect("cert");
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn names_cover_exact_and_one_label_wildcards() {
        let names = vec![
            "shop.example.com".to_string(),
            "*.blog.example.com".to_string(),
        ];
        assert!(covers(&names, "shop.example.com"));
        assert!(covers(&names, "a.blog.example.com"));
        assert!(covers(&names, "*.blog.example.com"));
        assert!(!covers(&names, "blog.example.com"));
        assert!(!covers(&names, "a.b.blog.example.com"));
        assert!(!covers(&names, "*.example.com"));
    }

    #[test]
    fn own_certificates_are_checked_for_key_names_and_validity() {
        let now = crate::clock::now_ms();
        let (cert, key) = own(&["shop.example.com"]);
        let facts = check_own(&cert, &key, &["shop.example.com".into()], now).expect("valid");
        assert!(facts.not_after > now);
        assert_eq!(facts.names, ["shop.example.com"]);

        let wrong_name = check_own(&cert, &key, &["blog.example.com".into()], now);
        assert!(
            matches!(&wrong_name, Err(Unusable::Refused(why)) if why.contains("not valid for blog.example.com")),
            "{wrong_name:?}"
        );
        let (_, other_key) = own(&["shop.example.com"]);
        let mismatch = check_own(&cert, &other_key, &[], now);
        assert!(
            matches!(&mismatch, Err(Unusable::Refused(why)) if why.contains("does not belong")),
            "{mismatch:?}"
        );
        let later = facts.not_after + 1;
        assert!(matches!(
            check_own(&cert, &key, &[], later),
            Err(Unusable::Refused(why)) if why.contains("expired")
        ));
        assert!(matches!(
            check_own("not a certificate", &key, &[], now),
            Err(Unusable::Malformed(_))
        ));
        assert!(matches!(
            check_own(&cert, "no key", &[], now),
            Err(Unusable::Malformed(_))
        ));
    }
}
