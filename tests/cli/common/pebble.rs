//! A real ACME server for the HTTPS tests: Debian's `pebble`, with `pebble-challtestsrv`
//! as its DNS (every name is 127.0.0.1), each test its own pair on free loopback ports,
//! its own self-signed listener certificate (openssl), and pebble's validation ports
//! pointed at the proxy's addresses. Without pebble a test skips locally and fails on CI
//! (`bash tests/pebble-up.sh` installs it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::free_port;

pub struct Pebble {
    children: Vec<Child>,
    /// The directory URL.
    pub directory: String,
    /// The root pebble's own HTTPS listener chains to (`--acme-ca-root`).
    pub listener_root: PathBuf,
    /// The root that issued certificates chain to (fetched from the management API).
    pub root: PathBuf,
}

fn installed(tool: &str) -> bool {
    Command::new(tool)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Pebble and its DNS, or `None` (skip) locally without them; a panic on CI.
pub fn pebble_ready() -> bool {
    if installed("pebble") && installed("pebble-challtestsrv") {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("CI needs pebble and pebble-challtestsrv; run `bash tests/pebble-up.sh`");
    }
    eprintln!("SKIPPED: no pebble; run `bash tests/pebble-up.sh` to test ACME against it");
    false
}

/// Skip (locally) or fail (on CI) a test that needs pebble.
#[macro_export]
macro_rules! require_pebble {
    () => {
        if !$crate::common::pebble::pebble_ready() {
            return;
        }
    };
}

impl Pebble {
    /// Start pebble in `dir`, validating HTTP-01 on `http_port` and TLS-ALPN-01 on
    /// `tls_port` of 127.0.0.1; issued certificates are valid for `validity_secs`
    /// (`None`: pebble's default, years).
    pub fn start(dir: &Path, http_port: u16, tls_port: u16, validity_secs: Option<u64>) -> Pebble {
        let dir = dir.join("pebble");
        std::fs::create_dir_all(&dir).expect("pebble's folder");
        let (cert, key) = (dir.join("listener.pem"), dir.join("listener.key"));
        let made = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            ])
            .arg("/CN=localhost")
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            // Not a CA: a self-signed CA certificate cannot also be the server's own
            // (rustls refuses `CaUsedAsEndEntity`).
            .args(["-addext", "basicConstraints=critical,CA:FALSE", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl (bash tests/tools-up.sh installs it)");
        assert!(made.success(), "openssl made no certificate");
        let (acme, management, dns, dns_management) =
            (free_port(), free_port(), free_port(), free_port());
        let mut config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{acme}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": cert,
            "privateKey": key,
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        if let Some(validity) = validity_secs {
            config["pebble"]["certificateValidityPeriod"] = validity.into();
        }
        let config_path = dir.join("pebble.json");
        std::fs::write(&config_path, config.to_string()).expect("pebble's config");
        let log =
            |name: &str| Stdio::from(std::fs::File::create(dir.join(name)).expect("a log file"));
        let challtestsrv = Command::new("pebble-challtestsrv")
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .args(["-dns01", &format!("127.0.0.1:{dns}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", &format!("127.0.0.1:{dns_management}")])
            .stdout(log("challtestsrv.log"))
            .stderr(log("challtestsrv.err"))
            .spawn()
            .expect("start pebble-challtestsrv");
        let pebble = Command::new("pebble")
            .arg("-config")
            .arg(&config_path)
            .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
            // Validation at once, every nonce good, no reused authorization: each order
            // really validates.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdout(log("pebble.log"))
            .stderr(log("pebble.err"))
            .spawn()
            .expect("start pebble");
        let mut started = Pebble {
            children: vec![challtestsrv, pebble],
            directory: format!("https://127.0.0.1:{acme}/dir"),
            listener_root: cert,
            root: dir.join("root.pem"),
        };
        // The issuing root changes at every start: fetched once pebble answers.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let fetched = Command::new("curl")
                .args(["-sf", "--max-time", "5", "--cacert"])
                .arg(&started.listener_root)
                .arg("-o")
                .arg(&started.root)
                .arg(format!("https://127.0.0.1:{management}/roots/0"))
                .status()
                .is_ok_and(|s| s.success());
            if fetched {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "pebble did not answer within 30 s; its log: {}",
                started.log()
            );
            thread::sleep(Duration::from_millis(100));
        }
        started.children.shrink_to_fit();
        started
    }

    /// pebble's log, for failure messages.
    pub fn log(&self) -> String {
        let dir = self.listener_root.parent().expect("pebble's folder");
        std::fs::read_to_string(dir.join("pebble.log")).unwrap_or_default()
    }

    /// `temps proxy` options for this CA.
    pub fn proxy_options(&self) -> Vec<String> {
        vec![
            "--acme-directory".into(),
            self.directory.clone(),
            "--acme-ca-root".into(),
            self.listener_root.display().to_string(),
        ]
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
