//! The dashboard in a real browser: the page `temps serve` serves at `/`, signed in with a
//! responder token, rolls an environment back the way an on-call would at 3 a.m. and takes
//! the banner's way out (a promote); a reader sees the same history and no way to change
//! it; a rollback that fails shows why. Real engine, real server, real chromium (through
//! chromedriver); nothing is mocked.
//!
//! With `TEMPS_SCREENSHOTS` set, the main views are saved as docs/screenshots/*.png.

mod browser;
mod island;

use std::time::Duration;

use fantoccini::Locator;
use serde_json::json;

use super::routes::static_pair;
use super::server::{token, Server};
use crate::common::*;
use crate::{require_browser, require_docker};
use browser::{Driver, Page};

/// A rollback checks the new container's health before it serves: give it time.
const ROLLBACK: Duration = Duration::from_secs(90);
/// How long a step that asks the server once may take to show.
const STEP: Duration = Duration::from_secs(20);

#[test]
fn a_responder_rolls_back_and_promotes_from_the_dashboard_and_a_reader_only_reads() {
    require_docker!();
    let browser = require_browser!();
    let env = TestEnv::new();
    let project = env.web_project("shop");
    let port = free_port();
    let publish = format!("127.0.0.1:{port}");
    for (image, reason) in [(WEB_V1, "first release"), (WEB_V2, "checkout redesign")] {
        env.ok(&[
            "deploy",
            &project,
            "--image",
            image,
            "--publish",
            &publish,
            "--reason",
            reason,
        ]);
    }
    assert_eq!(serving(port).as_deref(), Some("v2"));
    let responder = token(&env, "oncall", "responder", &["--project", &project]);
    let reader = token(&env, "viewer", "reader", &["--project", &project]);

    let server = Server::start(&env);
    let driver = Driver::start(&browser, server.port);
    runtime().block_on(async {
        let page = driver.open().await;
        page.goto(&format!("http://127.0.0.1:{}/", server.port))
            .await;
        sign_in(&page, &responder, "oncall").await;
        open_environment(&page, &project).await;

        // #2 serves; #1 is the version to go back to.
        assert_row(&page, 2, &["Current"], &[]).await;
        page.press("Actions for #1").await;
        page.choose("Rollback to this deployment").await;
        confirm_rollback(&page, &publish).await;

        assert_row(&page, 3, &["Current", "Rollback"], &[]).await;
        assert_row(&page, 2, &[], &["Current"]).await;
        assert_eq!(serving(port).as_deref(), Some("v1"), "{}", server.stderr());
        let banner = page
            .wait_for_text("the rolled-back banner", "[role=status].banner", ROLLBACK)
            .await;
        assert!(
            banner.contains("rolled back") && banner.contains("ready"),
            "{banner}"
        );
        page.screenshot("dashboard-deployments").await;
        on_a_phone(&page).await;

        // The banner's way out: promote the version the rollback left.
        page.press("Promote #2").await;
        let title = page
            .wait_for_text("the promote's dialog", "dialog[open] h2", ROLLBACK)
            .await;
        assert_eq!(title, "Promote #2 on production?");
        let target = page
            .wait_for_text(
                "the promote's target",
                "dialog[open] dd[data-term=target]",
                ROLLBACK,
            )
            .await;
        assert!(target.starts_with("#2 "), "target: {target}");
        page.press("Promote").await;
        let result = page
            .wait_for_text("the promote's result", "dialog[open] .result", ROLLBACK)
            .await;
        assert!(result.contains("#4 serves"), "result: {result}");
        page.press("Close").await;
        assert_row(&page, 4, &["Current", "Promote"], &[]).await;
        assert_row(&page, 3, &["Rollback"], &["Current"]).await;
        page.eventually("the banner to go", ROLLBACK, async || {
            let banner = page.client.find(Locator::Css(".banner")).await.ok()?;
            banner.text().await.ok()?.is_empty().then_some(())
        })
        .await;
        assert_eq!(serving(port).as_deref(), Some("v2"), "{}", server.stderr());

        sign_out(&page).await;
        sign_in(&page, &reader, "viewer").await;
        open_environment(&page, &project).await;
        assert_row(&page, 4, &["Current", "Promote"], &[]).await;
        let names = page.button_names().await;
        assert!(
            !names.iter().any(|n| n.starts_with("Actions for")),
            "a reader is offered actions: {names:?}"
        );
        assert!(
            !names.iter().any(|n| n.starts_with("Promote")),
            "a reader is offered a promote: {names:?}"
        );

        // A session that ends (here: its cookie is gone) brings back the sign-in form at
        // the page's next request: following a link, or its own refresh when that comes
        // first (the link is hidden then, with the rest of the signed-in page).
        page.client
            .delete_all_cookies()
            .await
            .expect("forget the cookie");
        if let Ok(link) = page.client.find(Locator::LinkText(&project)).await {
            let _ = link.click().await;
        }
        let message = page
            .wait_for_text("why the page signed out", "#signin-message", ROLLBACK)
            .await;
        assert!(message.starts_with("Signed out:"), "{message}");
        page.field("Token").await;
        page.close().await;
    });

    // What the page does not offer, the API refuses too.
    server
        .post(
            &format!("/api/projects/{project}/deployments/1/rollback"),
            &reader,
            &json!({}),
        )
        .error(403, "forbidden");
    let history = env.json(&["list", &project, "--limit", "0"]);
    assert_eq!(history.as_array().map(Vec::len), Some(4), "{history}");
    assert_eq!(serving(port).as_deref(), Some("v2"));
}

#[test]
fn a_rollback_that_fails_shows_its_error_and_hint_and_the_previous_version_serves() {
    require_docker!();
    let browser = require_browser!();
    let env = TestEnv::new();
    // No health path: the image's own HEALTHCHECK decides, and BROKEN=1 fails it.
    let project = env.project_name("shop");
    env.ok(&["project", "create", &project, "--health-timeout", "20s"]);
    let port = free_port();
    let publish = format!("127.0.0.1:{port}");
    env.ok(&["deploy", &project, "--image", FLAKY, "--publish", &publish]);
    env.ok(&["deploy", &project, "--image", WEB_V2]);
    env.ok(&["env", "set", &project, "BROKEN=1"]);
    let responder = token(&env, "oncall", "responder", &["--project", &project]);

    let server = Server::start(&env);
    let driver = Driver::start(&browser, server.port);
    runtime().block_on(async {
        let page = driver.open().await;
        page.goto(&format!("http://127.0.0.1:{}/", server.port))
            .await;
        sign_in(&page, &responder, "oncall").await;
        open_environment(&page, &project).await;
        open_rollback_dialog(&page, 1).await;
        let variables = page
            .wait_for_text(
                "the variables changed since #1 ran",
                "dialog[open] dd[data-term=variables]",
                ROLLBACK,
            )
            .await;
        assert!(variables.starts_with("BROKEN"), "variables: {variables}");
        let result = confirm(&page, "Roll back").await;
        assert!(result.contains("#3 failed"), "result: {result}");
        let hint = page
            .wait_for_text("the error's hint", "dialog[open] .result .hint", ROLLBACK)
            .await;
        assert!(hint.len() > "hint: ".len(), "hint: {hint}");
        page.screenshot("dashboard-failed").await;
        page.press("Close").await;

        assert_row(&page, 3, &["Rollback"], &["Current"]).await;
        assert_row(&page, 2, &["Current"], &[]).await;
        let failed = page
            .wait_for_text(
                "the failed rollback's status and error",
                "tr[data-id='3'] .error-text",
                ROLLBACK,
            )
            .await;
        assert!(!failed.is_empty());
        let banner = page.body_text().await;
        assert!(!banner.contains("is rolled back"), "{banner}");
        page.close().await;
    });
    assert_eq!(serving(port).as_deref(), Some("v2"), "{}", server.stderr());
}

#[test]
fn the_page_comes_with_a_policy_that_runs_only_its_own_scripts() {
    use sha2::{Digest, Sha256};
    let env = TestEnv::new();
    let server = Server::start(&env);
    let page = server.req("GET", "/").send().status(200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8"),
        "{page:?}"
    );
    let policy = page
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("no Content-Security-Policy:\n{page:?}"));
    let directives: Vec<&str> = policy.split(';').map(str::trim).collect();
    // Each inline script of the page, by its hash, and nothing else.
    let hashes: Vec<String> = page
        .body
        .split("<script")
        .skip(1)
        .map(|rest| {
            let body = &rest[rest.find('>').expect("a tag") + 1..];
            let script = &body[..body.find("</script>").expect("an end tag")];
            format!("'sha256-{}'", base64(&Sha256::digest(script.as_bytes())))
        })
        .collect();
    assert!(!hashes.is_empty(), "the page has no script");
    assert_eq!(
        directives
            .iter()
            .find(|d| d.starts_with("script-src "))
            .map(|d| d["script-src ".len()..].split(' ').collect::<Vec<_>>()),
        Some(hashes.iter().map(String::as_str).collect()),
        "{policy}"
    );
    for wanted in [
        "default-src 'none'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ] {
        assert!(directives.contains(&wanted), "no {wanted}: {policy}");
    }
    assert!(!policy.contains("unsafe-eval"), "{policy}");
    for (header, value) in [
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(page.header(header), Some(value), "{page:?}");
    }
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

#[test]
fn over_https_and_http2_the_dashboard_rolls_back_and_signs_out() {
    let browser = require_browser!();
    let env = TestEnv::new();
    let site = static_pair(&env, "tlsdash");
    let responder = token(&env, "oncall", "responder", &["--project", &site]);
    let (cert, key) = crate::serve::certificate(env.dir.path());
    let server = Server::listening(
        &env,
        "127.0.0.1:0",
        &["--tls-cert", &cert, "--tls-key", &key],
        &[],
    );
    // A self-signed certificate: the browser is told to accept it, and speaks HTTP/2.
    let driver = Driver::with_args(&browser, server.port, &["--ignore-certificate-errors"]);
    let cookie = runtime().block_on(async {
        let page = driver.open().await;
        let origin = format!("https://127.0.0.1:{}", server.port);
        page.goto(&format!("{origin}/")).await;
        assert_eq!(
            protocol_of(&page, &format!("{origin}/")).await,
            "h2",
            "the page did not come over HTTP/2"
        );
        sign_in(&page, &responder, "oncall").await;
        assert_eq!(
            protocol_of(&page, &format!("{origin}/api/session")).await,
            "h2",
            "signing in did not go over HTTP/2"
        );
        let cookies = page.client.get_all_cookies().await.expect("the cookies");
        let session = cookies
            .iter()
            .find(|c| c.name() == "__Host-temps_session")
            .unwrap_or_else(|| panic!("no __Host- session cookie: {cookies:?}"));
        assert_eq!(session.secure(), Some(true), "{session:?}");
        assert_eq!(session.http_only(), Some(true), "{session:?}");
        let cookie = format!("{}={}", session.name(), session.value());
        open_environment(&page, &site).await;

        open_rollback_dialog(&page, 1).await;
        let result = confirm(&page, "Roll back").await;
        assert!(result.contains("#3 serves"), "result: {result}");
        // The rollback's POST, which passed the same-origin check on HTTP/2's `:authority`.
        let rollback = format!("{origin}/api/projects/{site}/deployments/1/rollback");
        assert_eq!(protocol_of(&page, &rollback).await, "h2");
        page.press("Close").await;
        assert_row(&page, 3, &["Current", "Rollback"], &[]).await;

        sign_out(&page).await;
        page.close().await;
        cookie
    });
    let newest = &env.json(&["list", &site, "--limit", "1"])[0];
    assert_eq!(newest["id"], 3, "{newest}");
    assert_eq!(newest["rolled_back_to_id"], 1, "{newest}");
    assert_eq!(newest["created_by"], "token:oncall", "{newest}");
    assert_eq!(newest["status"], "deployed", "{newest}");
    // Signed out, the session is gone on the server too.
    let out = std::process::Command::new("curl")
        .args(["-sS", "--http2", "-o", "/dev/null", "-w", "%{http_code}"])
        .args(["--cacert", &cert, "-H", &format!("Cookie: {cookie}")])
        .arg(format!("https://127.0.0.1:{}/api/session", server.port))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "401");
}

/// The protocol (`nextHopProtocol`) that brought `url` to the page: the page's own (its
/// navigation) or one of its requests', waiting until the browser has recorded one with a
/// protocol (for a response still arriving it is not set yet).
async fn protocol_of(page: &Page, url: &str) -> String {
    let script = format!(
        "return performance.getEntries()
           .filter(e => e.name === {url} && e.nextHopProtocol)
           .map(e => e.nextHopProtocol)",
        url = json!(url)
    );
    let protocols = page
        .eventually(&format!("the protocol of {url}"), STEP, async || {
            let found = page.script(&script).await;
            let found: Vec<String> = serde_json::from_value(found).ok()?;
            (!found.is_empty()).then_some(found)
        })
        .await;
    let first = protocols[0].clone();
    assert!(
        protocols.iter().all(|p| *p == first),
        "{url} came over {protocols:?}"
    );
    first
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// The dialog's plan says what is known of the database schema, and "unknown" for a
/// target that declares none; a target below the floor is offered no rollback.
#[test]
fn the_rollback_dialog_shows_the_schema_and_the_menu_offers_nothing_below_the_floor() {
    require_docker!();
    let browser = require_browser!();
    let images = crate::schema::images();
    let env = TestEnv::new();
    let project = env.web_project("schemadash");
    let port = free_port();
    let publish = format!("127.0.0.1:{port}");
    env.ok(&["deploy", &project, "--image", WEB_V1, "--publish", &publish]);
    env.ok(&["deploy", &project, "--image", &images.s35]);
    env.ok(&["deploy", &project, "--image", &images.s42_compat40]);
    let responder = token(&env, "oncall", "responder", &["--project", &project]);
    let server = Server::start(&env);
    let driver = Driver::start(&browser, server.port);
    runtime().block_on(async {
        let page = driver.open().await;
        page.goto(&format!("http://127.0.0.1:{}/", server.port))
            .await;
        sign_in(&page, &responder, "oncall").await;
        open_environment(&page, &project).await;
        open_rollback_dialog(&page, 1).await;
        let schema = page
            .wait_for_text(
                "the plan's schema",
                "dialog[open] dd[data-term=schema]",
                STEP,
            )
            .await;
        assert_eq!(
            schema,
            "database 42 (needs 40 or newer), target unknown: compatibility unknown"
        );
        page.press("Cancel").await;
        // #2 (schema 35) is below the floor: no rollback, no promote, so no menu.
        let names = page.button_names().await;
        assert!(
            names.iter().any(|n| n == "Actions for #1")
                && !names.iter().any(|n| n == "Actions for #2"),
            "{names:?}"
        );
        page.close().await;
    });
    assert_eq!(serving(port).as_deref(), Some("v1"));
}

/// Type the token into the sign-in form and wait until the page says who is signed in.
async fn sign_in(page: &Page, token: &str, name: &str) {
    let field = page.field("Token").await;
    assert_eq!(
        field.attr("type").await.expect("type").as_deref(),
        Some("password")
    );
    field.send_keys(token).await.expect("type the token");
    page.press("Sign in").await;
    let who = page
        .wait_for_text("who is signed in", "#who .name", Duration::from_secs(20))
        .await;
    assert_eq!(who, name);
}

/// Press `Sign out`; the sign-in form comes back, saying so (and nothing else: no request
/// of the page's that was in flight may read as a session that ended by itself).
async fn sign_out(page: &Page) {
    page.press("Sign out").await;
    page.field("Token").await;
    let message = page
        .wait_for_text("the signed-out message", "#signin-message", STEP)
        .await;
    assert_eq!(message, "You signed out.");
}

/// Follow the project's link, then its production environment's.
async fn open_environment(page: &Page, project: &str) {
    page.click("the project's link", Locator::LinkText(project))
        .await;
    let href = format!("a[href='#/{project}/production']");
    page.click("the environment's link", Locator::Css(&href))
        .await;
    page.wait_for(
        "the deployments table",
        Locator::XPath("//table[caption[contains(., 'production')]]//tr[td]"),
    )
    .await;
}

/// Choose `Rollback to this deployment` in #ID's menu, and wait for the plan to show it
/// as the target.
async fn open_rollback_dialog(page: &Page, id: i64) {
    page.press(&format!("Actions for #{id}")).await;
    page.choose("Rollback to this deployment").await;
    let target = page
        .wait_for_text(
            "the plan's target",
            "dialog[open] dd[data-term=target]",
            ROLLBACK,
        )
        .await;
    assert!(target.starts_with(&format!("#{id} ")), "target: {target}");
}

/// Press the dialog's confirming `button`; the result it shows once the operation ends.
async fn confirm(page: &Page, button: &str) -> String {
    page.press(button).await;
    page.wait_for_text("the operation's result", "dialog[open] .result", ROLLBACK)
        .await
}

/// The dialog shows the plan; confirm it, follow the progress, see the result.
async fn confirm_rollback(page: &Page, publish: &str) {
    let current = page
        .wait_for_text(
            "the plan's current deployment",
            "dialog[open] dd[data-term=current]",
            Duration::from_secs(20),
        )
        .await;
    assert!(current.starts_with("#2 "), "current: {current}");
    let dialog = page.body_text().await;
    let target = page
        .wait_for_text(
            "the plan's target",
            "dialog[open] dd[data-term=target]",
            ROLLBACK,
        )
        .await;
    assert!(target.starts_with("#1 "), "target: {target}");
    assert!(
        dialog.contains("Database migrations and external state")
            && dialog.contains("are not reverted"),
        "{dialog}"
    );
    let addresses = page
        .wait_for_text(
            "the plan's addresses",
            "dialog[open] dd[data-term=addresses]",
            ROLLBACK,
        )
        .await;
    assert!(addresses.contains(publish), "addresses: {addresses}");
    page.button("Cancel").await;
    page.screenshot("dashboard-confirm").await;

    page.press("Roll back").await;
    let result = page
        .wait_for_text("the rollback's result", "dialog[open] .result", ROLLBACK)
        .await;
    assert!(result.contains("#3 serves"), "result: {result}");
    let progress = page
        .client
        .find_all(Locator::Css("dialog[open] .progress li"))
        .await
        .expect("progress lines");
    assert!(progress.len() > 2, "{} progress lines", progress.len());
    page.screenshot("dashboard-result").await;
    page.press("Close").await;
}

/// The row of deployment #ID has these labels (Current, Rollback, Promote) and not those.
async fn assert_row(page: &Page, id: i64, has: &[&str], lacks: &[&str]) {
    let what = format!("row #{id} with {has:?} and without {lacks:?}");
    let row = format!("//table//tr[td[1]//*[normalize-space()='#{id}']]");
    page.eventually(&what, ROLLBACK, async || {
        let row = page.client.find(Locator::XPath(&row)).await.ok()?;
        let mut labels = Vec::new();
        for tag in row.find_all(Locator::Css(".tag")).await.ok()? {
            labels.push(tag.text().await.ok()?);
        }
        (has.iter().all(|l| labels.iter().any(|t| t == l))
            && !lacks.iter().any(|l| labels.iter().any(|t| t == l)))
        .then_some(())
    })
    .await;
}

/// At 390x844 nothing scrolls sideways and the actions are thumb-sized.
async fn on_a_phone(page: &Page) {
    let window = page.viewport_size().await;
    page.viewport(390, 844).await;
    let sideways = page
        .script("return document.documentElement.scrollWidth - window.innerWidth")
        .await;
    assert!(
        sideways.as_i64().is_some_and(|w| w <= 0),
        "the page scrolls sideways by {sideways} px"
    );
    let actions = page.button("Actions for #2").await;
    let (_, _, width, height) = actions.rectangle().await.expect("its size");
    assert!(
        width >= 44.0 && height >= 44.0,
        "Actions for #2 is {width}x{height}"
    );
    page.script("document.getElementById('deployments-section').scrollIntoView()")
        .await;
    page.screenshot("dashboard-phone").await;
    page.script("window.scrollTo(0, 0)").await;
    page.window_viewport(&window).await;
}
