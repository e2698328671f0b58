//! A headless chromium driven through chromedriver (WebDriver), finding things as a person
//! does: fields by their label, buttons and menu items by their accessible name and role, as
//! the browser's own accessibility tree computes them.
//!
//! chromedriver runs as a child process on a port it chooses itself (`--port=0`, read back
//! from what it prints); the guard ends the browser session and the driver when it drops,
//! even when the test panics. The browser gets a fresh profile in a temporary folder, and
//! a network of its own (`island`) that reaches only the server under test.

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use tempfile::TempDir;

use super::island::Island;
use crate::common::Browser;

/// How long a page may take to show what a step waits for. A rollback runs a health
/// check, so its result gets longer (see `Page::wait_for_text`).
const STEP: Duration = Duration::from_secs(20);

/// A running chromedriver and the profile folder of the browser it starts.
pub struct Driver {
    child: Child,
    /// chromedriver's port, as this host reaches it.
    port: u16,
    browser: Browser,
    profile: TempDir,
    session: Mutex<Option<String>>,
    /// Extra arguments for the browser (`--ignore-certificate-errors`).
    browser_args: Vec<String>,
    /// The network chromedriver and the browser run in (dropped last).
    _island: Island,
}

impl Driver {
    /// A driver whose browser reaches this host's loopback at `server`'s port only.
    pub fn start(browser: &Browser, server: u16) -> Driver {
        Driver::with_args(browser, server, &[])
    }

    /// A driver whose browser windows start with these extra arguments.
    pub fn with_args(browser: &Browser, server: u16, args: &[&str]) -> Driver {
        let mut island = Island::new();
        island.let_out(server);
        let mut command = Command::new(&browser.chromedriver);
        command
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = island
            .spawn(command)
            .unwrap_or_else(|e| panic!("starting {}: {e}", browser.chromedriver.display()));
        // "ChromeDriver was started successfully on port 33195.", read on a thread so
        // that a driver that never says it cannot hang the test.
        let stdout = child.stdout.take().expect("chromedriver's stdout");
        let (said, port) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = std::io::BufReader::new(stdout).lines();
            let port = lines.by_ref().map_while(Result::ok).find_map(|line| {
                line.split_once("started successfully on port ")
                    .and_then(|(_, rest)| rest.trim_end_matches('.').trim().parse::<u16>().ok())
            });
            let _ = said.send(port);
            // Keep reading, so that the driver never blocks on a full pipe.
            for _ in lines {}
        });
        let port = match port.recv_timeout(STEP) {
            Ok(Some(port)) => port,
            other => {
                let _ = child.kill();
                panic!("chromedriver did not say its port within {STEP:?}: {other:?}");
            }
        };
        Driver {
            child,
            port: island.let_in(port),
            browser: browser.clone(),
            profile: tempfile::Builder::new()
                .prefix("temps-chromium-")
                .tempdir()
                .expect("a profile folder"),
            session: Mutex::new(None),
            browser_args: args.iter().map(|a| a.to_string()).collect(),
            _island: island,
        }
    }

    /// A new browser window (one WebDriver session).
    pub async fn open(&self) -> Page {
        let mut args: Vec<String> = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        args.push(format!("--user-data-dir={}", self.profile.path().display()));
        args.extend(self.browser_args.iter().cloned());
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": self.browser.chromium,
                "args": args,
            }),
        );
        // chromedriver listens on loopback: plain HTTP, no TLS stack to build.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .unwrap_or_else(|e| panic!("a chromium session through chromedriver: {e}"));
        let id = client.session_id().await.expect("the session id");
        *self.session.lock().expect("session") = id;
        Page { client }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Ending the session closes chromium; killing the driver alone could leave it behind.
        if let Some(id) = self.session.lock().ok().and_then(|mut s| s.take()) {
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let _ = write!(
                    stream,
                    "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                );
                let _ = stream.read_to_end(&mut Vec::new());
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser window.
pub struct Page {
    pub client: Client,
}

impl Page {
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("opening {url}: {e}"));
    }

    /// The first element `locator` finds, waiting for it to appear.
    pub async fn wait_for(&self, what: &str, locator: Locator<'_>) -> Element {
        self.client
            .wait()
            .at_most(STEP)
            .for_element(locator)
            .await
            .unwrap_or_else(|e| panic!("{what} did not appear within {STEP:?}: {e}"))
    }

    /// Wait (up to `within`) until an element `css` finds shows text, and return it.
    pub async fn wait_for_text(&self, what: &str, css: &str, within: Duration) -> String {
        self.eventually(what, within, async || {
            let element = self.client.find(Locator::Css(css)).await.ok()?;
            let text = element.text().await.ok()?;
            (!text.trim().is_empty()).then_some(text)
        })
        .await
    }

    /// Ask `check` again every 100 ms until it answers, or panic after `within`.
    pub async fn eventually<T>(
        &self,
        what: &str,
        within: Duration,
        mut check: impl AsyncFnMut() -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + within;
        loop {
            if let Some(found) = check().await {
                return found;
            }
            if Instant::now() > deadline {
                let text = self.body_text().await;
                panic!("{what} did not happen within {within:?}; the page shows:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Everything the page shows, as text (for failure messages).
    pub async fn body_text(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(e) => format!("(no body: {e})"),
        }
    }

    /// The text field labelled `label`, once it shows (a hidden form's field is in the
    /// page all along, and cannot be typed into).
    pub async fn field(&self, label: &str) -> Element {
        let xpath = format!(
            "//input[@id=//label[normalize-space()={}]/@for]",
            quote(label)
        );
        self.eventually(&format!("the field labelled {label:?}"), STEP, async || {
            let field = self.client.find(Locator::XPath(&xpath)).await.ok()?;
            field.is_displayed().await.ok()?.then_some(field)
        })
        .await
    }

    /// Click what `locator` finds; find it again if a refresh replaced it meanwhile.
    pub async fn click(&self, what: &str, locator: Locator<'_>) {
        self.eventually(&format!("a click on {what}"), STEP, async || {
            let element = self.client.find(locator).await.ok()?;
            element.click().await.ok()
        })
        .await
    }

    /// Click the button named `name`; find it again if a refresh replaced it meanwhile.
    pub async fn press(&self, name: &str) {
        self.activate("button", name).await
    }

    /// Choose the menu item named `name`.
    pub async fn choose(&self, name: &str) {
        self.activate("menuitem", name).await
    }

    async fn activate(&self, role: &str, name: &str) {
        let deadline = Instant::now() + STEP;
        loop {
            match self.named(role, name).await.click().await {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => panic!("clicking the {role} {name:?}: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// The button whose accessible name is exactly `name`, waiting for it.
    pub async fn button(&self, name: &str) -> Element {
        self.named("button", name).await
    }

    async fn named(&self, role: &str, name: &str) -> Element {
        // Narrow by text or aria-label, then check what the accessibility tree says.
        let xpath = format!(
            "//*[@aria-label={q} or (not(@aria-label) and normalize-space()={q})]",
            q = quote(name)
        );
        self.eventually(&format!("a {role} named {name:?}"), STEP, async || {
            for element in self.client.find_all(Locator::XPath(&xpath)).await.ok()? {
                // A refresh may have replaced it since: then it is not the one.
                if !element.is_displayed().await.unwrap_or(false) {
                    continue;
                }
                let (label, found) = (self.label(&element).await, self.role(&element).await);
                if label.as_deref() == Some(name) && found.as_deref() == Some(role) {
                    return Some(element);
                }
            }
            None
        })
        .await
    }

    /// The accessible names of every button on the page, read in one go (again, if a
    /// refresh replaced a button while they were read).
    pub async fn button_names(&self) -> Vec<String> {
        self.eventually("the names of the buttons", STEP, async || {
            let buttons = self
                .client
                .find_all(Locator::Css("button, [role=button]"))
                .await
                .ok()?;
            let mut names = Vec::new();
            for button in buttons {
                names.push(self.label(&button).await?);
            }
            Some(names)
        })
        .await
    }

    /// The accessible name the browser computes for an element; `None` when it is gone.
    pub async fn label(&self, element: &Element) -> Option<String> {
        self.ask(element, "computedlabel").await
    }

    /// The role the browser computes for an element; `None` when it is gone.
    pub async fn role(&self, element: &Element) -> Option<String> {
        self.ask(element, "computedrole").await
    }

    async fn ask(&self, element: &Element, what: &'static str) -> Option<String> {
        let answer = self
            .client
            .issue_cmd(ElementQuery {
                element: element.element_id().to_string(),
                what,
            })
            .await
            .ok()?;
        Some(answer.as_str().unwrap_or_default().to_string())
    }

    /// Make the page's viewport WIDTH x HEIGHT CSS pixels, as a phone's would be (the
    /// browser's device emulation), until `window_viewport` gives the window's back.
    ///
    /// Not by resizing the window: the page learns of a new window size some time after
    /// WebDriver answered, so its size cannot be read back to correct the window's.
    pub async fn viewport(&self, width: u32, height: u32) {
        self.devtools(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 0, "mobile": false}),
        )
        .await;
        self.wait_for_viewport(json!([width, height])).await;
    }

    /// End `viewport`'s emulation: the viewport is the window's again, `size` in CSS pixels.
    pub async fn window_viewport(&self, size: &Value) {
        self.devtools("Emulation.clearDeviceMetricsOverride", json!({}))
            .await;
        self.wait_for_viewport(size.clone()).await;
    }

    /// The viewport's size in CSS pixels, `[width, height]`.
    pub async fn viewport_size(&self) -> Value {
        self.script("return [window.innerWidth, window.innerHeight]")
            .await
    }

    async fn wait_for_viewport(&self, size: Value) {
        let what = format!("a viewport of {size} CSS pixels");
        self.eventually(&what, STEP, async || {
            (self.viewport_size().await == size).then_some(())
        })
        .await
    }

    /// A DevTools command, through chromedriver's `goog/cdp/execute`.
    async fn devtools(&self, command: &'static str, params: Value) {
        self.client
            .issue_cmd(DevTools { command, params })
            .await
            .unwrap_or_else(|e| panic!("{command}: {e}"));
    }

    /// Run a script in the page; its `return` value.
    pub async fn script(&self, source: &str) -> Value {
        self.client
            .execute(source, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("running {source:?}: {e}"))
    }

    /// Save what the window shows as docs/screenshots/NAME.png, only when
    /// `TEMPS_SCREENSHOTS` is set (so an ordinary run never rewrites the committed files).
    pub async fn screenshot(&self, name: &str) {
        if std::env::var_os("TEMPS_SCREENSHOTS").is_none() {
            return;
        }
        let png = self.client.screenshot().await.expect("a screenshot");
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs/screenshots")
            .join(format!("{name}.png"));
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("docs/screenshots");
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        eprintln!("saved {}", path.display());
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// `GET /session/{id}/element/{id}/computedlabel` (or `computedrole`): WebDriver's view of
/// the accessibility tree, which fantoccini has no method for.
#[derive(Debug)]
struct ElementQuery {
    element: String,
    what: &'static str,
}

impl WebDriverCompatibleCommand for ElementQuery {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/element/{}/{}",
            session_id.unwrap_or_default(),
            self.element,
            self.what
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::GET, None)
    }
}

/// `POST /session/{id}/goog/cdp/execute`: one DevTools command, chromedriver's own
/// extension (fantoccini has no method for it).
#[derive(Debug)]
struct DevTools {
    command: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for DevTools {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({"cmd": self.command, "params": self.params});
        (http::Method::POST, Some(body.to_string()))
    }
}

/// A string as an XPath literal.
fn quote(text: &str) -> String {
    if !text.contains('\'') {
        format!("'{text}'")
    } else {
        format!("\"{text}\"")
    }
}
