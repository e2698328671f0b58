//! HTTPS in proxy mode end to end: a deploy with a certificate of one's own serves the
//! real container over HTTPS (verified by curl against its CA), `status` shows the
//! certificate, a rollback keeps it, and every bad input is refused at deploy with the
//! spec's exit code and nothing changed.

use serde_json::Value;

use super::Site;
use crate::common::{WEB_V1, WEB_V2};
use crate::proxy::tls::{curl, Authority};
use crate::require_docker;

#[test]
fn a_deploy_with_its_own_certificate_serves_https_and_bad_inputs_change_nothing() {
    require_docker!();
    let site = Site::new("tlsshop");
    let env = &site.env;
    let authority = Authority::new(env.dir.path());
    let listen = site.listen();
    let good = authority.files("good", &authority.issue(&["shop.example.test"]));
    let (cert, key) = (good.0.display().to_string(), good.1.display().to_string());
    let record = env.json(&[
        "deploy",
        &site.project,
        "--image",
        WEB_V1,
        "--proxy",
        &listen,
        "--domain",
        "shop.example.test",
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--hsts",
        "1h",
        "--standby",
        "0s",
        "--drain",
        "1s",
    ]);
    assert_eq!(record["status"], "deployed", "{record:#}");
    let got = curl(&authority.ca, "shop.example.test", site.port, "/", &[]);
    assert_eq!(
        (got.code, got.status, got.body.trim()),
        (0, 200, "v1"),
        "{got:?}"
    );
    assert!(
        got.headers
            .contains("strict-transport-security: max-age=3600"),
        "{got:?}"
    );

    let status = site.status();
    let tls = status["tls"].as_array().cloned().unwrap_or_default();
    assert_eq!(tls.len(), 1, "{status:#}");
    assert_eq!(tls[0]["domain"], "shop.example.test");
    assert_eq!(tls[0]["issuer"], "temps test CA");
    assert_eq!(tls[0]["error"], Value::Null);
    assert!(tls[0]["not_after"].as_str().is_some(), "{status:#}");
    let table = env.ok(&["status", &site.project]);
    assert!(
        table
            .stdout
            .contains("https      shop.example.test  certificate from temps test CA until"),
        "{}",
        table.stdout
    );

    // Every bad input: refused before anything is recorded, the environment as it was.
    let before = (site.status(), env.history(&[&site.project]));
    let expired = authority.files(
        "expired",
        &authority.issue_valid(&["shop.example.test"], -30, -1),
    );
    let wrong_name = authority.files("wrong", &authority.issue(&["other.example.test"]));
    let other_key = authority.files("other", &authority.issue(&["shop.example.test"]));
    let not_pem = env.dir.path().join("not.pem");
    std::fs::write(&not_pem, "not a certificate").expect("write");
    let path = |p: &std::path::Path| p.display().to_string();
    let bad: Vec<(Vec<String>, i32, &str)> = vec![
        (
            vec![
                "--tls-cert".into(),
                path(&expired.0),
                "--tls-key".into(),
                path(&expired.1),
            ],
            4,
            "the certificate expired on",
        ),
        (
            vec![
                "--tls-cert".into(),
                path(&wrong_name.0),
                "--tls-key".into(),
                path(&wrong_name.1),
            ],
            4,
            "not valid for shop.example.test (it names other.example.test)",
        ),
        (
            vec![
                "--tls-cert".into(),
                cert.clone(),
                "--tls-key".into(),
                path(&other_key.1),
            ],
            4,
            "the key does not belong to the certificate",
        ),
        (
            vec![
                "--tls-cert".into(),
                path(&not_pem),
                "--tls-key".into(),
                key.clone(),
            ],
            2,
            "the certificate file holds no certificate",
        ),
        (
            vec![
                "--tls".into(),
                "acme".into(),
                "--domain".into(),
                "*.shop.example.test".into(),
            ],
            2,
            "`--tls acme` gets certificates for exact names",
        ),
        (
            vec!["--tls".into(), "off".into(), "--hsts".into(), "1h".into()],
            2,
            "--hsts applies to environments served over HTTPS",
        ),
    ];
    for (flags, code, words) in bad {
        let mut args = vec!["deploy", &site.project, "--image", WEB_V2];
        args.extend(flags.iter().map(String::as_str));
        let run = env
            .run(&args)
            .code(code)
            .stderr_has(words)
            .stderr_has("hint:");
        drop(run);
    }
    // Another environment: plain HTTP on the HTTPS address, or HTTPS without a domain.
    let blog = env.web_project("tlsblog");
    env.run(&[
        "deploy",
        &blog,
        "--image",
        WEB_V1,
        "--proxy",
        &listen,
        "--domain",
        "blog.example.test",
    ])
    .code(4)
    .stderr_has(&format!(
        "{listen} serves HTTPS for {}/production",
        site.project
    ));
    env.run(&[
        "deploy", &blog, "--image", WEB_V1, "--proxy", &listen, "--tls", "acme",
    ])
    .code(2)
    .stderr_has("HTTPS needs the environment's domains");
    let after = (site.status(), env.history(&[&site.project]));
    assert_eq!(after.0["tls"], before.0["tls"]);
    assert_eq!(after.0["current"]["id"], before.0["current"]["id"]);
    assert_eq!(after.1, before.1, "no deployment recorded");
    let got = curl(&authority.ca, "shop.example.test", site.port, "/", &[]);
    assert_eq!((got.code, got.body.trim()), (0, "v1"), "{got:?}");

    // Later deploys and rollbacks keep the certificate the environment remembers.
    let v2 = env.json(&["deploy", &site.project, "--image", WEB_V2]);
    assert_eq!(v2["status"], "deployed", "{v2:#}");
    let got = curl(
        &authority.ca,
        "shop.example.test",
        site.port,
        "/",
        &["--http1.1"],
    );
    assert_eq!((got.code, got.body.trim()), (0, "v2"), "{got:?}");
    let id = record["id"].as_i64().expect("an id").to_string();
    env.ok(&["rollback", &id, "--yes"]);
    let got = curl(&authority.ca, "shop.example.test", site.port, "/", &[]);
    assert_eq!((got.code, got.body.trim()), (0, "v1"), "{got:?}");
    let got = curl(&authority.ca, "other.example.test", site.port, "/", &[]);
    assert_eq!(got.code, 35, "{got:?}");
}
