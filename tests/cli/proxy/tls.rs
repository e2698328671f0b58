//! HTTPS at the edge, through the real `temps proxy` and real clients (curl, which
//! verifies the certificate against the CA it is given and names the host by SNI): the
//! certificate is chosen by name, a name without one gets no handshake, HTTP/2 and
//! HTTP/1.1 are chosen by ALPN, the app is told `https`, and a certificate that cannot
//! serve only loses its own domains.

use std::path::{Path, PathBuf};
use std::process::Command;

use temps::store::{ProxySettings, Store, Tls};

use super::harness::{environment, route, Proxy, Upstream};
use crate::common::{free_port, TestEnv};

/// A CA and certificates it signs, as PEM files in the test's folder.
pub struct Authority {
    pub ca: PathBuf,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    dir: PathBuf,
}

impl Authority {
    pub fn new(dir: &Path) -> Authority {
        let key = rcgen::KeyPair::generate().expect("a CA key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "temps test CA");
        let cert = params.self_signed(&key).expect("the CA certificate");
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, cert.pem()).expect("write the CA");
        Authority {
            ca,
            issuer: rcgen::Issuer::new(params, key),
            dir: dir.to_path_buf(),
        }
    }

    /// A certificate for `names` valid from `from` to `until` days from now (PEM, key PEM).
    pub fn issue_valid(&self, names: &[&str], from: i64, until: i64) -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("a key");
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("params");
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now + time::Duration::days(from);
        params.not_after = now + time::Duration::days(until);
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        (cert.pem(), key.serialize_pem())
    }

    pub fn issue(&self, names: &[&str]) -> (String, String) {
        self.issue_valid(names, -1, 30)
    }

    /// `issue`, written to `<stem>.crt` and `<stem>.key`.
    pub fn files(&self, stem: &str, pem: &(String, String)) -> (PathBuf, PathBuf) {
        let cert = self.dir.join(format!("{stem}.crt"));
        let key = self.dir.join(format!("{stem}.key"));
        std::fs::write(&cert, &pem.0).expect("write the certificate");
        std::fs::write(&key, &pem.1).expect("write the key");
        (cert, key)
    }
}

/// Give an environment with nothing deployed its TLS, domains and HSTS, as a deploy
/// remembers them.
pub fn secure(
    env: &TestEnv,
    environment_id: i64,
    listen: &str,
    domains: &[&str],
    tls: Tls,
    hsts_ms: u64,
) {
    let domains: Vec<String> = domains.iter().map(|d| d.to_string()).collect();
    Store::open(&env.db())
        .expect("open the history")
        .remember_address(
            environment_id,
            None,
            Some(ProxySettings {
                listen,
                replicas: 1,
                drain_ms: 1000,
                response_timeout_ms: 60_000,
                domains: &domains,
                standby_ms: 0,
                tls: &tls,
                hsts_ms,
            }),
        )
        .expect("remember the TLS settings");
}

/// What curl got.
#[derive(Debug)]
pub struct Fetched {
    /// curl's exit code: 0, or 35 for a failed handshake, 60 for an untrusted certificate.
    pub code: i32,
    pub status: u16,
    /// `2` or `1.1`.
    pub version: String,
    pub headers: String,
    pub body: String,
    pub stderr: String,
}

impl Fetched {
    pub fn from(&self) -> &str {
        self.body.lines().next().unwrap_or_default()
    }

    pub fn seen(&self, name: &str) -> &str {
        let prefix = format!("{name}: ");
        self.body
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_default()
    }
}

/// `curl https://HOST:PORT/PATH`, resolving HOST to 127.0.0.1 and trusting only `ca`;
/// `extra` adds options (`--http1.1`).
pub fn curl(ca: &Path, host: &str, port: u16, path: &str, extra: &[&str]) -> Fetched {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "--cacert"])
        .arg(ca)
        .args(["--resolve", &format!("{host}:{port}:127.0.0.1")])
        .args(["-D", "-", "-w", "\n%{http_code} %{http_version}"])
        .args(extra)
        .arg(format!("https://{host}:{port}{path}"))
        .output()
        .expect("run curl (bash tests/tools-up.sh installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let (rest, tail) = stdout.rsplit_once('\n').unwrap_or(("", &stdout));
    let mut tail = tail.split(' ');
    let status = tail.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let version = tail.next().unwrap_or_default().to_string();
    let (headers, body) = rest.split_once("\r\n\r\n").unwrap_or((rest, ""));
    Fetched {
        code: out.status.code().unwrap_or(-1),
        status,
        version,
        headers: headers.to_ascii_lowercase(),
        body: body.to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn https_picks_the_certificate_by_name_and_refuses_names_it_has_none_for() {
    let env = TestEnv::new();
    let authority = Authority::new(env.dir.path());
    let shop = environment(&env, "shop");
    let blog = environment(&env, "blog");
    let (a, b) = (Upstream::start("A"), Upstream::start("B"));
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let (cert, key) = authority.issue(&["shop.example.test"]);
    secure(
        &env,
        shop,
        &listen,
        &["shop.example.test"],
        Tls::Own { cert, key },
        3_600_000,
    );
    let (cert, key) = authority.issue(&["*.blog.example.test"]);
    secure(
        &env,
        blog,
        &listen,
        &["*.blog.example.test"],
        Tls::Own { cert, key },
        0,
    );
    route(&env, shop, &listen, &[&a.addr]);
    let generation = route(&env, blog, &listen, &[&b.addr]);
    let proxy = Proxy::start(&env);
    proxy.applied(generation);
    proxy.logged(&format!(
        "listening on {listen} for shop/production (HTTPS)"
    ));

    // HTTP/2 by ALPN, the certificate verified for the name, the app told `https`.
    let got = curl(&authority.ca, "shop.example.test", port, "/", &[]);
    assert_eq!((got.code, got.status, got.from()), (0, 200, "A"), "{got:?}");
    assert_eq!(got.version, "2", "{got:?}");
    assert_eq!(got.seen("x-forwarded-proto"), "https", "{got:?}");
    assert_eq!(got.seen("host"), format!("shop.example.test:{port}"));
    assert!(
        got.headers
            .contains("strict-transport-security: max-age=3600"),
        "{got:?}"
    );
    let got = curl(
        &authority.ca,
        "shop.example.test",
        port,
        "/",
        &["--http1.1"],
    );
    assert_eq!((got.code, got.status, got.from()), (0, 200, "A"), "{got:?}");
    assert_eq!(got.version, "1.1", "{got:?}");
    assert_eq!(got.seen("x-forwarded-proto"), "https", "{got:?}");
    assert!(
        got.headers
            .contains("strict-transport-security: max-age=3600"),
        "{got:?}"
    );

    // The wildcard certificate serves one label under it, and the other environment.
    let got = curl(
        &authority.ca,
        "a.blog.example.test",
        port,
        "/",
        &["--http1.1"],
    );
    assert_eq!((got.code, got.status, got.from()), (0, 200, "B"), "{got:?}");
    assert!(
        !got.headers.contains("strict-transport-security"),
        "{got:?}"
    );

    // No certificate, no handshake: an unknown name, a name two labels down, no name.
    for host in ["other.example.test", "a.b.blog.example.test"] {
        let got = curl(&authority.ca, host, port, "/", &[]);
        assert_eq!(got.code, 35, "a handshake for {host} is refused: {got:?}");
        assert!(got.stderr.contains("SSL"), "{got:?}");
    }
    let no_sni = Command::new("curl")
        .args(["-sS", "-k", "--max-time", "20"])
        .arg(format!("https://127.0.0.1:{port}/"))
        .output()
        .expect("curl");
    assert_eq!(
        no_sni.status.code(),
        Some(35),
        "an IP address sends no SNI: {}",
        String::from_utf8_lossy(&no_sni.stderr)
    );
    // Still serving the names it has.
    let got = curl(&authority.ca, "x.blog.example.test", port, "/", &[]);
    assert_eq!((got.code, got.from()), (0, "B"), "{got:?}");
}

#[test]
fn a_certificate_that_cannot_serve_loses_only_its_own_domains_and_a_new_one_swaps_in() {
    let env = TestEnv::new();
    let authority = Authority::new(env.dir.path());
    let shop = environment(&env, "shop");
    let blog = environment(&env, "blog");
    let (a, b) = (Upstream::start("A"), Upstream::start("B"));
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let (cert, key) = authority.issue(&["shop.example.test"]);
    secure(
        &env,
        shop,
        &listen,
        &["shop.example.test"],
        Tls::Own { cert, key },
        0,
    );
    // A key that is not the certificate's, written past deploy's checks.
    let (cert, _) = authority.issue(&["blog.example.test"]);
    let (_, other_key) = authority.issue(&["blog.example.test"]);
    secure(
        &env,
        blog,
        &listen,
        &["blog.example.test"],
        Tls::Own {
            cert,
            key: other_key,
        },
        0,
    );
    route(&env, shop, &listen, &[&a.addr]);
    let generation = route(&env, blog, &listen, &[&b.addr]);
    let proxy = Proxy::start(&env);
    proxy.applied(generation);
    proxy.logged("blog/production: its certificate cannot be served");

    let got = curl(&authority.ca, "blog.example.test", port, "/", &[]);
    assert_eq!(got.code, 35, "{got:?}");
    let got = curl(&authority.ca, "shop.example.test", port, "/", &[]);
    assert_eq!((got.code, got.from()), (0, "A"), "{got:?}");

    // A good one, at the next route change: no restart.
    let mut store = Store::open(&env.db()).expect("open");
    let _ = &mut store;
    let (cert, key) = authority.issue(&["blog.example.test"]);
    let tls = Tls::Own { cert, key };
    let domains = vec!["blog.example.test".to_string()];
    store
        .remember_address(
            blog,
            None,
            Some(ProxySettings {
                listen: &listen,
                replicas: 1,
                drain_ms: 1000,
                response_timeout_ms: 60_000,
                domains: &domains,
                standby_ms: 0,
                tls: &tls,
                hsts_ms: 0,
            }),
        )
        .expect("a new certificate");
    let pid = proxy.pid();
    let state = proxy.applied(route(&env, blog, &listen, &[&b.addr]));
    assert_eq!(state.pid, pid);
    let got = curl(&authority.ca, "blog.example.test", port, "/", &[]);
    assert_eq!((got.code, got.from()), (0, "B"), "{got:?}");
}
