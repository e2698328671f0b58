//! Why an ACME order failed, in words an operator can act on: the CA's problem
//! document (RFC 8555 §6.7) turned into what to fix (DNS, a port that does not reach the
//! proxy, a rate limit, a CAA record, the directory out of reach).

use instant_acme::Problem;

/// Why an order failed, in words an operator can act on.
#[derive(Debug)]
pub(super) struct Failed {
    pub text: String,
}

impl Failed {
    pub fn new(text: String) -> Failed {
        Failed { text }
    }

    pub fn from_acme(
        err: instant_acme::Error,
        http: Option<bool>,
        domain: &str,
        directory: &str,
    ) -> Failed {
        match err {
            instant_acme::Error::Api(problem) => Failed::from_problem(&problem, http, domain),
            instant_acme::Error::Timeout(_) => Failed::new(format!(
                "the CA did not validate {domain} in time: it may not reach this proxy"
            )),
            other => Failed::new(format!(
                "cannot reach the ACME directory {directory}: {}; check the network, \
                 `--acme-directory` and `--acme-ca-root`",
                error_chain(&other)
            )),
        }
    }

    pub fn from_problem(problem: &Problem, http: Option<bool>, domain: &str) -> Failed {
        let kind = problem
            .r#type
            .as_deref()
            .and_then(|t| t.rsplit(':').next())
            .unwrap_or("");
        let detail = problem.detail.clone().unwrap_or_default();
        let port = match http {
            Some(true) => "port 80 (HTTP-01, `temps proxy --http`)",
            _ => "port 443 (TLS-ALPN-01, the TLS address)",
        };
        // Some CAs (pebble) report a validation that could not connect as `unauthorized`.
        let lower = detail.to_ascii_lowercase();
        let unreachable = [
            "failed to connect",
            "connection refused",
            "timeout",
            "no route to host",
        ]
        .iter()
        .any(|words| lower.contains(words));
        let kind = if unreachable && matches!(kind, "unauthorized" | "tls" | "incorrectResponse") {
            "connection"
        } else {
            kind
        };
        let text = match kind {
            "dns" => format!(
                "DNS: the CA cannot resolve {domain} ({detail}): point its A/AAAA record at this host"
            ),
            "connection" => format!(
                "the CA cannot connect to {domain} on {port}: make that port reach `temps proxy` \
                 (firewall, port forwarding, DNS) ({detail})"
            ),
            "incorrectResponse" | "unauthorized" | "tls" => format!(
                "the CA reached {domain} on {port} but not this proxy, or got a wrong answer: check \
                 that its DNS points at this host and nothing else answers there ({detail})"
            ),
            "rateLimited" => format!(
                "rate limit at the CA for {domain} ({detail}): waiting before the next order"
            ),
            "caa" => format!("a CAA record of {domain} forbids this CA ({detail})"),
            "rejectedIdentifier" => {
                format!("the CA refuses to issue for {domain} ({detail})")
            }
            _ => format!("the CA refused: {problem}"),
        };
        Failed { text }
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
