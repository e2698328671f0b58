//! Domains: environments in proxy mode that share one listen address are told apart by
//! the request's host. A domain is a host name (`shop.example.com`) or a wildcard for one
//! label (`*.example.com`); names are kept in lower case. An environment with none
//! answers every host the others there do not name (the address's catch-all): alone on
//! its address, by default; joining an address others share by domain, only when it asks
//! with `--domain '*'`, so that unknown hosts never reach it by accident.

use crate::error::{ExitStatus, Failure};
use crate::store::Store;

/// At most this many domains per environment.
pub const MAX_DOMAINS: usize = 32;

/// A domain as given on the command line, checked and in lower case.
pub fn normalize(text: &str) -> Result<String, Failure> {
    let host = text.trim().trim_end_matches('.').to_ascii_lowercase();
    let name = host.strip_prefix("*.").unwrap_or(&host);
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    let labels: Vec<&str> = name.split('.').collect();
    let valid = host.len() <= 253
        && labels.iter().all(|l| label_ok(l))
        // A wildcard covers one label under a name of two labels at least: `*.com` is not one.
        && (!host.starts_with("*.") || labels.len() >= 2);
    if valid {
        Ok(host)
    } else {
        let shown: String = text.chars().take(80).collect();
        let shown = crate::text::printable(&shown);
        Err(Failure::usage(format!("`{shown}` is not a domain")).hint(
            "a host name like `shop.example.com`, or `*.example.com` for every name one label under it",
        ))
    }
}

/// `--domain '*'`: every host the other environments on the address do not name.
pub const CATCH_ALL: &str = "*";

/// Whether `--domain` asks for the catch-all.
pub fn claims_catch_all(given: &[String]) -> bool {
    given.iter().any(|d| d.trim() == CATCH_ALL)
}

/// The domains given, checked, in lower case, without repeats; `'*'` alone is none (the
/// catch-all, see [`claims_catch_all`]).
pub fn normalize_all(given: &[String]) -> Result<Vec<String>, Failure> {
    if claims_catch_all(given) {
        if given.len() > 1 {
            return Err(Failure::usage(
                "`--domain '*'` answers every other host already: give it alone",
            )
            .hint("either `--domain '*'`, or the hosts: `--domain shop.example.com --domain www.shop.example.com`"));
        }
        return Ok(Vec::new());
    }
    let mut domains = Vec::with_capacity(given.len());
    for text in given {
        let domain = normalize(text)?;
        if !domains.contains(&domain) {
            domains.push(domain);
        }
    }
    if domains.len() > MAX_DOMAINS {
        return Err(Failure::usage(format!(
            "{} domains given; an environment answers at most {MAX_DOMAINS}",
            domains.len()
        ))
        .hint("use a wildcard like `*.example.com` for many names under one"));
    }
    Ok(domains)
}

/// How an environment asks for its place on a proxy address.
pub struct Claim<'a> {
    /// The environment, when it exists.
    pub environment_id: Option<i64>,
    /// `project/environment`, for messages.
    pub who: &'a str,
    pub listen: &'a str,
    /// Its domains there (none: the catch-all).
    pub domains: &'a [String],
    /// It is not on `listen` yet (a first deploy there, or a move).
    pub joining: bool,
    /// It asked for the catch-all by name (`--domain '*'`).
    pub catch_all_asked: bool,
}

/// Refuse (exit 4) domains on the address that another environment there holds, a
/// second environment without domains (two catch-alls) on one address, and one that
/// joins an address others share by domain without naming its domains or `'*'`.
pub fn check_claims(store: &Store, claim: &Claim<'_>) -> anyhow::Result<()> {
    let Claim {
        environment_id,
        who,
        listen,
        domains,
        joining,
        catch_all_asked,
    } = *claim;
    let mut by_domain = Vec::new();
    for other in store.proxied_environments()? {
        let (env, project) = other;
        if Some(env.id) == environment_id || env.proxy.as_deref() != Some(listen) {
            continue;
        }
        let name = format!("{project}/{}", env.name);
        if let Some(taken) = domains.iter().find(|d| env.domains.contains(d)) {
            return Err(Failure::new(
                ExitStatus::Refused,
                format!("{taken} on {listen} belongs to {name} already; {who} cannot claim it"),
            )
            .hint(format!(
                "choose another domain, or remove it from {name} first (deploy it with its other `--domain`s)"
            ))
            .into());
        }
        if domains.is_empty() && env.domains.is_empty() {
            return Err(Failure::new(
                ExitStatus::Refused,
                format!(
                    "{name} answers every host on {listen} already; {who} can share that address only with `--domain HOST`"
                ),
            )
            .hint("give this environment its domains (`--domain shop.example.com`), or another `--proxy` address")
            .into());
        }
        by_domain.push(name);
    }
    if domains.is_empty() && joining && !catch_all_asked && !by_domain.is_empty() {
        return Err(Failure::new(
            ExitStatus::Refused,
            format!(
                "{listen} is shared by domain ({}); {who} names no domain, so it would answer every \
                 host they do not name, which get the proxy's 404 now",
                by_domain.join(", ")
            ),
        )
        .hint(
            "name its hosts (`--domain shop.example.com`), or make it the address's catch-all on purpose: \
             `--domain '*'`",
        )
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_host_names_or_one_label_wildcards() {
        assert_eq!(normalize("Shop.Example.COM.").unwrap(), "shop.example.com");
        assert_eq!(normalize("*.example.com").unwrap(), "*.example.com");
        assert_eq!(normalize("localhost").unwrap(), "localhost");
        for bad in [
            "",
            "*.com",
            "*",
            "a..b",
            "-a.com",
            "a-.com",
            "a b.com",
            "a/b.com",
            "a@b.com",
            "*.*.example.com",
            "a.*.example.com",
            "ex_ample.com",
            &format!("{}.com", "a".repeat(64)),
        ] {
            assert!(normalize(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_star_alone_asks_for_the_catch_all() {
        let star = vec!["*".to_string()];
        assert!(claims_catch_all(&star));
        assert_eq!(normalize_all(&star).unwrap(), Vec::<String>::new());
        let mixed = vec!["*".to_string(), "a.com".to_string()];
        assert!(normalize_all(&mixed).is_err());
        assert!(!claims_catch_all(&["*.a.com".to_string()]));
    }

    #[test]
    fn repeats_are_dropped_and_the_count_bounded() {
        let given = vec!["a.com".to_string(), "A.com".to_string()];
        assert_eq!(normalize_all(&given).unwrap(), ["a.com"]);
        let many: Vec<String> = (0..40).map(|i| format!("h{i}.example.com")).collect();
        assert!(normalize_all(&many).is_err());
    }
}
