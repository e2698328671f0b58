//! ACME against a real CA (Debian's pebble): `temps proxy` gets a certificate for an
//! environment with `--tls acme` through TLS-ALPN-01 on its TLS address or HTTP-01 on
//! `--http`, serves it to a real client that trusts only pebble's root, renews it when a
//! third of its life is left, keeps it across a restart without ordering again, and
//! says in `status` why an order failed.

use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use temps::store::Tls;

use super::harness::{environment, route, Proxy, Upstream};
use super::tls::{curl, secure};
use crate::common::pebble::Pebble;
use crate::common::{free_port, TestEnv};
use crate::require_pebble;

/// Wait up to `limit` for `check`.
#[track_caller]
fn within<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(100));
    }
}

/// The `tls` list `temps status --output json` shows for the project.
fn tls_status(env: &TestEnv, project: &str) -> Vec<Value> {
    let status = env.json(&["status", project]);
    status[0]["tls"].as_array().cloned().unwrap_or_default()
}

/// The certificate's end of validity as `status` shows it, once it has one.
fn not_after(env: &TestEnv, project: &str) -> Option<String> {
    tls_status(env, project)
        .first()?
        .get("not_after")?
        .as_str()
        .map(str::to_string)
}

#[test]
fn acme_gets_a_certificate_by_tls_alpn_and_renews_it_before_it_expires() {
    require_pebble!();
    let env = TestEnv::new();
    let port = free_port();
    // Short-lived certificates: renewed 20 s after issue, a third of 30 s before the end.
    let pebble = Pebble::start(env.dir.path(), free_port(), port, Some(30));
    let web = environment(&env, "web");
    let upstream = Upstream::start("A");
    let listen = format!("127.0.0.1:{port}");
    secure(&env, web, &listen, &["shop.acme.test"], Tls::Acme, 0);
    let generation = route(&env, web, &listen, &[&upstream.addr]);
    let options = pebble.proxy_options();
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    let proxy = Proxy::start_with(&env, &options);
    proxy.applied(generation);

    let got = within(Duration::from_secs(60), "a certificate from pebble", || {
        let got = curl(&pebble.root, "shop.acme.test", port, "/", &[]);
        (got.code == 0).then_some(got)
    });
    assert_eq!((got.status, got.from()), (200, "A"), "{got:?}");
    assert_eq!(got.seen("x-forwarded-proto"), "https");
    proxy.logged("ACME: ordering a certificate for shop.acme.test (TLS-ALPN-01)");
    let first = within(Duration::from_secs(10), "status to show it", || {
        not_after(&env, "web")
    });
    let shown = tls_status(&env, "web");
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert_eq!(shown[0]["domain"], "shop.acme.test");
    assert!(
        shown[0]["issuer"]
            .as_str()
            .unwrap_or_default()
            .contains("Pebble"),
        "{shown:?}"
    );
    assert_eq!(shown[0]["error"], Value::Null, "{shown:?}");
    // Kept beside the history, for the proxy's user only.
    let kept = temps::proxy::tls::acme::state_dir(&env.db());
    let mode = |path: &std::path::Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).expect("kept").permissions().mode() & 0o777
    };
    assert_eq!(mode(&kept), 0o700);
    let folder = std::fs::read_dir(&kept)
        .expect("the ACME folder")
        .next()
        .expect("one directory's folder")
        .expect("entry")
        .path();
    assert_eq!(mode(&folder.join("shop.acme.test.key")), 0o600);
    assert_eq!(mode(&folder.join("account.json")), 0o600);

    // Renewed before it expires, and served from the next handshake on.
    let second = within(Duration::from_secs(60), "the renewal", || {
        not_after(&env, "web").filter(|n| *n != first)
    });
    assert!(second > first, "{first} then {second}");
    let got = curl(&pebble.root, "shop.acme.test", port, "/", &[]);
    assert_eq!((got.code, got.from()), (0, "A"), "{got:?}");
    assert!(
        proxy.stderr().matches("ACME: ordering").count() >= 2,
        "{}",
        proxy.stderr()
    );
    // A name without a certificate still gets no handshake.
    let got = curl(&pebble.root, "other.acme.test", port, "/", &[]);
    assert_eq!(got.code, 35, "{got:?}");
}

#[test]
fn acme_by_http01_redirects_to_https_and_a_restart_orders_nothing() {
    require_pebble!();
    let env = TestEnv::new();
    let (port, http) = (free_port(), free_port());
    let pebble = Pebble::start(env.dir.path(), http, port, None);
    let web = environment(&env, "web");
    let upstream = Upstream::start("A");
    let listen = format!("127.0.0.1:{port}");
    secure(&env, web, &listen, &["shop.acme.test"], Tls::Acme, 0);
    let generation = route(&env, web, &listen, &[&upstream.addr]);
    let mut options = pebble.proxy_options();
    options.extend(["--http".to_string(), format!("127.0.0.1:{http}")]);
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    let mut proxy = Proxy::start_with(&env, &options);
    proxy.applied(generation);

    within(Duration::from_secs(60), "a certificate from pebble", || {
        (curl(&pebble.root, "shop.acme.test", port, "/", &[]).code == 0).then_some(())
    });
    proxy.logged("ACME: ordering a certificate for shop.acme.test (HTTP-01)");
    let issued = within(Duration::from_secs(10), "status to show it", || {
        not_after(&env, "web")
    });

    // Every other request for the domain on --http goes to https, method and body kept.
    let redirect = std::process::Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
        ])
        .args(["--resolve", &format!("shop.acme.test:{http}:127.0.0.1")])
        .arg(format!("http://shop.acme.test:{http}/cart?item=1"))
        .output()
        .expect("curl");
    assert_eq!(
        String::from_utf8_lossy(&redirect.stdout),
        format!("308 https://shop.acme.test:{port}/cart?item=1")
    );
    // Other hosts there: nothing is routed on --http, so no one's.
    let other = std::process::Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("http://127.0.0.1:{http}/"))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&other.stdout), "404");

    // A restart serves the certificate it kept, at once, and orders nothing.
    assert_eq!(proxy.terminate().code(), Some(0));
    let again = Proxy::start_with(&env, &options);
    super::harness::eventually("the restarted proxy to listen", || {
        again.state().filter(|s| {
            s.pid == again.pid() && s.generation >= generation && !s.listening.is_empty()
        })
    });
    // From the first handshake on: the kept certificate is served as the routes apply.
    let got = curl(&pebble.root, "shop.acme.test", port, "/", &[]);
    assert_eq!((got.code, got.from()), (0, "A"), "{got:?}");
    assert_eq!(not_after(&env, "web"), Some(issued));
    thread::sleep(Duration::from_millis(500));
    assert!(
        !again.stderr().contains("ACME: ordering"),
        "a restart orders again: {}",
        again.stderr()
    );
}

#[test]
fn a_failed_order_says_why_in_status() {
    require_pebble!();
    let env = TestEnv::new();
    let port = free_port();
    // pebble validates TLS-ALPN-01 on a port nobody listens on: as when 443 does not
    // reach the proxy.
    let pebble = Pebble::start(env.dir.path(), free_port(), free_port(), None);
    let web = environment(&env, "web");
    let upstream = Upstream::start("A");
    let listen = format!("127.0.0.1:{port}");
    secure(&env, web, &listen, &["shop.acme.test"], Tls::Acme, 0);
    let generation = route(&env, web, &listen, &[&upstream.addr]);
    let options = pebble.proxy_options();
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    let proxy = Proxy::start_with(&env, &options);
    proxy.applied(generation);

    let error = within(Duration::from_secs(60), "the order to fail", || {
        let shown = tls_status(&env, "web");
        shown.first()?.get("error")?.as_str().map(str::to_string)
    });
    assert!(
        error.contains("cannot connect to shop.acme.test on port 443"),
        "{error}"
    );
    assert!(error.contains("next try"), "{error}");
    let table = env.ok(&["status", "web"]);
    let text = table.stdout.clone();
    assert!(
        text.contains("https      shop.acme.test  no certificate yet"),
        "{text}"
    );
    assert!(text.contains("error: the CA cannot connect"), "{text}");
    let got = curl(&pebble.root, "shop.acme.test", port, "/", &[]);
    assert_eq!(got.code, 35, "no certificate, no handshake: {got:?}");
    drop(proxy);
}
