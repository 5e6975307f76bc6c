//! What the browser tests stand on: chromedriver started on a free port (and killed when
//! dropped), the server run in-process, a browser window per partner with its own profile
//! and its geolocation set through the DevTools protocol, polling helpers that wait for
//! what a person would see, and full-page screenshots under `target/artifacts/browser/`.

use std::fmt::Display;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use haurach_server::Config;
use serde_json::{Value, json};
use tempfile::TempDir;
use thirtyfour::error::WebDriverErrorInner;
use thirtyfour::prelude::*;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// How long a condition may take to become true. Generous: on a loaded 2-core machine
/// (the browser, the server and the other tests' builds) bonding and the first fixes
/// took over 10 s once; a passing test never waits this long.
pub const WAIT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(100);
/// The password every test citizen uses.
pub const PASSWORD: &str = "purple-dragon";

/// Held by a test for its whole run: at most [`AT_ONCE`] browser tests run at a time,
/// since each starts two Chromiums and the machines they run on may have two cores. File
/// locks, so they hold both between threads (`cargo test`) and between processes (`cargo
/// nextest`).
pub struct Serial {
    _lock: std::fs::File,
}

/// How many browser tests run at once. One at a time, the browser tests were the
/// suite's longest chain (about six minutes of the test phase, with the rest of the
/// suite done well before): each mostly waits, on the server, the page and the timers
/// it tests, so two share the machine with room to spare.
const AT_ONCE: usize = 2;

pub async fn serial() -> Serial {
    let dir = artifacts();
    tokio::task::spawn_blocking(move || {
        let mut slots: Vec<std::fs::File> = (0..AT_ONCE)
            .map(|slot| {
                std::fs::File::options()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(dir.join(format!("serial-{slot}.lock")))
                    .expect("open a browser tests' lock file")
            })
            .collect();
        loop {
            for slot in 0..slots.len() {
                match slots[slot].try_lock() {
                    Ok(()) => {
                        return Serial {
                            _lock: slots.swap_remove(slot),
                        };
                    }
                    Err(std::fs::TryLockError::WouldBlock) => {}
                    Err(std::fs::TryLockError::Error(e)) => {
                        panic!("lock a browser tests' lock file: {e}")
                    }
                }
            }
            std::thread::sleep(POLL);
        }
    })
    .await
    .expect("the lock task")
}

/// Where screenshots and logs go: `target/artifacts/browser/`.
pub fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("artifacts").join("browser");
    std::fs::create_dir_all(dir.join("logs")).expect("create target/artifacts/browser");
    dir
}

/// axe-core's script (npm; the version is pinned by `tests/browser/axe/package-lock.json`),
/// installed under `target/axe/` with `npm ci` the first time it is needed.
pub fn axe_source() -> String {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/axe");
    let dir = artifacts().join("../../axe");
    let script = dir.join("node_modules/axe-core/axe.min.js");
    let lock = std::fs::read(here.join("package-lock.json")).expect("the axe lock file");
    let installed = std::fs::read(dir.join("package-lock.json")).ok();
    if !script.exists() || installed.as_deref() != Some(&lock[..]) {
        std::fs::create_dir_all(&dir).expect("create target/axe");
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(here.join(file), dir.join(file)).expect("copy the axe manifest");
        }
        let status = Command::new("npm")
            .args([
                "ci",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--quiet",
            ])
            .current_dir(&dir)
            .status()
            .expect("npm (Node.js) installs axe-core for the accessibility test");
        assert!(status.success(), "npm ci of axe-core failed: {status}");
    }
    std::fs::read_to_string(&script).expect("axe.min.js")
}

/// Polls `probe` every 100 ms until it gives a value, for up to [`WAIT`]. The probe also
/// says what it saw, so a timeout tells what was on screen instead of only "timed out".
pub async fn eventually<T>(
    what: impl Display,
    mut probe: impl AsyncFnMut() -> (Option<T>, String),
) -> T {
    let start = Instant::now();
    loop {
        let (value, seen) = probe().await;
        if let Some(value) = value {
            return value;
        }
        if start.elapsed() > WAIT {
            panic!("waited {WAIT:?} for {what}; last saw: {seen}");
        }
        tokio::time::sleep(POLL).await;
    }
}

// ------------------------------------------------------------------------ chromedriver

/// A chromedriver process on a free port; killed when dropped.
pub struct Chromedriver {
    child: Child,
    port: u16,
}

impl Chromedriver {
    /// Starts chromedriver and waits until `/status` says it is ready.
    pub async fn start(test: &str) -> Chromedriver {
        assert!(
            Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists(),
            "{CHROMEDRIVER} or {CHROMIUM} is missing: the browser tests need Debian's \
             chromium and chromium-driver. `scripts/test` installs them (CI runs it), or \
             `apt-get install chromium chromium-driver`"
        );
        let port = free_port();
        let log = std::fs::File::create(
            artifacts()
                .join("logs")
                .join(format!("{test}-chromedriver.log")),
        )
        .expect("create the chromedriver log");
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::from(log.try_clone().expect("log file")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start chromedriver");
        let driver = Chromedriver { child, port };
        eventually("chromedriver to answer /status", async || {
            let status = http_get(port, "/status");
            let ready = status
                .as_deref()
                .is_ok_and(|s| s.contains("\"ready\":true"));
            (ready.then_some(()), format!("{status:?}"))
        })
        .await;
        driver
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// A bare HTTP GET to localhost, so waiting for chromedriver needs no HTTP client.
fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_millis(500)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    // Read what comes until the server closes or pauses: the status fits in one read.
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => response.extend_from_slice(&buf[..n]),
            Err(e) if response.is_empty() => return Err(e),
            Err(_) => break,
        }
    }
    Ok(String::from_utf8_lossy(&response).into_owned())
}

// ------------------------------------------------------------------------------ server

/// The server, run in-process on a port-0 listener (or a given address, to come back on
/// the same port after a restart).
pub struct Server {
    pub addr: SocketAddr,
    dir: Option<TempDir>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Server {
    /// A server with a 2-second contact timeout, so the contact tests are quick.
    pub async fn start() -> Server {
        Server::start_on(
            tempfile::tempdir().expect("tempdir"),
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
    }

    /// A server on `dir` listening on `addr`.
    pub async fn start_on(dir: TempDir, addr: SocketAddr) -> Server {
        // Tests register citizens freely; the gate's own tests set their mode.
        Server::start_with(dir, addr, haurach_proto::GateMode::Open).await
    }

    /// A fresh server whose gate is in `gate` mode.
    pub async fn start_gate(gate: haurach_proto::GateMode) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        Server::start_with(dir, "127.0.0.1:0".parse().unwrap(), gate).await
    }

    /// A fresh server (gate open) whose configuration `change` sets.
    pub async fn start_configured(change: impl FnOnce(&mut Config)) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Server::config(&dir, haurach_proto::GateMode::Open);
        change(&mut config);
        Server::launch(dir, "127.0.0.1:0".parse().unwrap(), config).await
    }

    /// The tests' configuration: a 2-second contact timeout, and no map, so no test asks
    /// a tile server on the internet (the map's own test runs a tile server of its own).
    fn config(dir: &TempDir, gate: haurach_proto::GateMode) -> Config {
        Config {
            data: dir.path().to_owned(),
            contact_timeout_s: 2.0,
            gate,
            map_tiles: String::new(),
            ..Config::default()
        }
    }

    async fn start_with(dir: TempDir, addr: SocketAddr, gate: haurach_proto::GateMode) -> Server {
        let config = Server::config(&dir, gate);
        Server::launch(dir, addr, config).await
    }

    async fn launch(dir: TempDir, addr: SocketAddr, config: Config) -> Server {
        // The server's warnings and errors (a 500's cause) in the test's output, which
        // the runner shows when the test fails. A test that keeps the log itself set its
        // subscriber first, and this one is not set.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
            .with_test_writer()
            .try_init();
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind the server");
        let addr = listener.local_addr().expect("local address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            haurach_server::run(config, listener, async {
                let _ = stopped.await;
            })
            .await
            .expect("the server runs");
        });
        Server {
            addr,
            dir: Some(dir),
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server; returns its data directory, to start it again.
    pub async fn stop(mut self) -> TempDir {
        let _ = self.stop.take().expect("running").send(());
        let task = self.task.take().expect("running");
        tokio::time::timeout(WAIT, task)
            .await
            .expect("the server stops within WAIT")
            .expect("the server task ends cleanly");
        self.dir.take().expect("data directory")
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

// ----------------------------------------------------------------------------- browser

/// One browser window: one partner.
pub struct Browser {
    pub driver: WebDriver,
    /// The citizen's name, for messages.
    pub name: String,
    /// The Chromium profile, reused when the window is opened again.
    pub profile: PathBuf,
    origin: String,
}

impl Browser {
    /// Opens a fresh window on the server's page, with geolocation allowed.
    pub async fn open(
        cd: &Chromedriver,
        server: &Server,
        name: &str,
        profile: &Path,
        width: u32,
        at: (f64, f64),
    ) -> Browser {
        Browser::open_with(cd, server, name, profile, width, at, &[]).await
    }

    /// [`Browser::open`], with more of Chromium's arguments (a fake camera's video file).
    pub async fn open_with(
        cd: &Chromedriver,
        server: &Server,
        name: &str,
        profile: &Path,
        width: u32,
        at: (f64, f64),
        extra: &[String],
    ) -> Browser {
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary(CHROMIUM).expect("binary");
        for arg in [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=390,844",
            "--lang=en-GB",
            "--force-device-scale-factor=1",
            // A fake camera (a moving test pattern) that needs no permission prompt.
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
        ] {
            caps.add_arg(arg).expect("argument");
        }
        for arg in extra {
            caps.add_arg(arg).expect("argument");
        }
        caps.add_arg(&format!("--user-data-dir={}", profile.display()))
            .expect("argument");
        // thirtyfour's HTTP client is reqwest, which the workspace builds with rustls and
        // no provider of its own (the CLI installs ring at start): the same here.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // On a busy machine chromedriver sometimes reads Chromium's DevTools port file
        // before it is written ("Devtools port number file contents <> were in an
        // unexpected format") and gives up on that Chromium: start another, twice at most.
        let mut tries = 0;
        let driver = loop {
            tries += 1;
            match WebDriver::new(cd.url(), caps.clone()).await {
                Ok(driver) => break driver,
                Err(e) if tries < 3 && format!("{e:?}").contains("SessionNotCreated") => {
                    eprintln!("{name}: Chromium did not start ({e}); starting it again");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => panic!("a Chromium session through chromedriver: {e}"),
            }
        };
        let browser = Browser {
            driver,
            name: name.to_owned(),
            profile: profile.to_owned(),
            origin: server.url(),
        };
        browser
            .cdp(
                "Browser.grantPermissions",
                json!({"permissions": ["geolocation", "sensors"], "origin": browser.origin}),
            )
            .await;
        browser.set_viewport(width, 844, true).await;
        browser.set_position(at.0, at.1).await;
        browser
            .driver
            .goto(format!("{}/", browser.origin))
            .await
            .expect("open the page");
        // The test server's contact timeout is 2 s: heartbeats must come more often.
        browser
            .driver
            .execute(
                "localStorage.setItem('haurach.heartbeat_ms', '500')",
                vec![],
            )
            .await
            .expect("set the heartbeat");
        browser
    }

    /// Sends a DevTools command.
    pub async fn cdp(&self, method: &str, params: Value) -> Value {
        self.driver
            .cdp()
            .send_raw(method, params)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    /// Makes the page a phone's (`mobile`) or a desktop's of the given size. A window
    /// cannot be made narrower than 500 px, so the viewport is emulated instead.
    pub async fn set_viewport(&self, width: u32, height: u32, mobile: bool) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        )
        .await;
    }

    /// Checks the page as it is with axe-core at a phone's size (390x844, where the
    /// browser tests keep it) and at a desktop's (1280x900), and takes a screenshot at
    /// each, `NAME-phone` and `NAME-desktop`; the page is left at the phone's size. `what`
    /// names what is on screen, for the failure.
    pub async fn check_at_both_widths(&self, axe: &str, name: &str, what: &str) {
        for (width, height, mobile, size) in
            [(390, 844, true, "phone"), (1280, 900, false, "desktop")]
        {
            self.set_viewport(width, height, mobile).await;
            let found = self.axe_violations(axe).await;
            assert!(found.is_empty(), "{what} at a {size}'s width: {found:#?}");
            self.shot(&format!("{name}-{size}")).await;
        }
        self.set_viewport(390, 844, true).await;
    }

    /// Sets where the device says it is.
    pub async fn set_position(&self, lat: f64, lon: f64) {
        self.cdp(
            "Emulation.setGeolocationOverride",
            json!({"latitude": lat, "longitude": lon, "accuracy": 5}),
        )
        .await;
    }

    /// Runs a script in the page and returns what it returns.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.driver
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("{}: script failed: {e}", self.name))
            .json()
            .clone()
    }

    /// What axe-core finds wrong with the page as it is now, a line per rule broken (its
    /// id, impact, what it asks and the elements that break it); empty when nothing.
    pub async fn axe_violations(&self, axe: &str) -> Vec<String> {
        self.js(axe, vec![]).await;
        let found = self
            .driver
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] })
                   .then((r) => done(r.violations.map((v) =>
                     `${v.id} (${v.impact}): ${v.help}: ` +
                     v.nodes.map((n) => n.target.join(' ')).join(', '))))
                   .catch((e) => done([`axe failed: ${e}`]));",
                vec![],
            )
            .await
            .unwrap_or_else(|e| panic!("{}: axe failed: {e}", self.name));
        serde_json::from_value(found.json().clone()).expect("a list of violations")
    }

    /// From now on, keeps a copy of every frame the page sends on any WebSocket, for
    /// [`Browser::sent_frames`]: what left the device, whatever the screen shows.
    pub async fn record_sent_frames(&self) {
        self.js(RECORD_SENT_FRAMES, vec![]).await;
    }

    /// The frames the page sent since [`Browser::record_sent_frames`]: text frames as
    /// they are, binary ones (camera frames) as `binary, N bytes`.
    pub async fn sent_frames(&self) -> Vec<String> {
        let frames = self.js("return window.__sentFrames ?? [];", vec![]).await;
        serde_json::from_value(frames).expect("a list of frames")
    }

    /// How many messages in the history read exactly `body`.
    pub async fn count_messages(&self, body: &str) -> usize {
        let n = self
            .js(
                "return [...document.querySelectorAll('#history .msg-body')]\
                 .filter((e) => e.textContent === arguments[0]).length",
                vec![json!(body)],
            )
            .await;
        n.as_u64().unwrap_or(0) as usize
    }

    /// The text alternative of an element with `aria-labelledby` or a `<title>`.
    pub async fn text_content(&self, css: &str) -> String {
        self.js(
            "return document.querySelector(arguments[0])?.textContent ?? ''",
            vec![json!(css)],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    pub async fn find(&self, css: &str) -> WebElement {
        self.driver
            .find(By::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{}: no element {css}: {e}", self.name))
    }

    /// The text a person sees in the element (empty when it is hidden or absent).
    pub async fn text(&self, css: &str) -> String {
        match self.driver.find(By::Css(css)).await {
            Ok(el) => el.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    pub async fn shown(&self, css: &str) -> bool {
        match self.driver.find(By::Css(css)).await {
            Ok(el) => el.is_displayed().await.unwrap_or(false),
            Err(_) => false,
        }
    }

    /// Waits until the element's visible text contains `want`; returns the text.
    pub async fn wait_text(&self, css: &str, want: &str) -> String {
        eventually(
            format!("{}: {css} to say {want:?}", self.name),
            async || {
                let text = self.text(css).await;
                (
                    text.contains(want).then(|| text.clone()),
                    format!("{text:?}"),
                )
            },
        )
        .await
    }

    /// Waits until the element's visible text no longer contains `gone`.
    pub async fn wait_text_without(&self, css: &str, gone: &str) -> String {
        eventually(
            format!("{}: {css} to stop saying {gone:?}", self.name),
            async || {
                let text = self.text(css).await;
                (
                    (!text.contains(gone)).then(|| text.clone()),
                    format!("{text:?}"),
                )
            },
        )
        .await
    }

    pub async fn wait_shown(&self, css: &str) {
        eventually(format!("{}: {css} to be shown", self.name), async || {
            let shown = self.shown(css).await;
            (shown.then_some(()), format!("shown: {shown}"))
        })
        .await
    }

    pub async fn wait_hidden(&self, css: &str) {
        eventually(format!("{}: {css} to be hidden", self.name), async || {
            let shown = self.shown(css).await;
            ((!shown).then_some(()), format!("shown: {shown}"))
        })
        .await
    }

    /// Waits until an attribute has a value containing `want`; returns it.
    pub async fn wait_attr(&self, css: &str, attr: &str, want: &str) -> String {
        eventually(
            format!("{}: {css}[{attr}] to contain {want:?}", self.name),
            async || {
                let value = match self.driver.find(By::Css(css)).await {
                    Ok(el) => el.attr(attr).await.ok().flatten().unwrap_or_default(),
                    Err(_) => String::new(),
                };
                (
                    value.contains(want).then(|| value.clone()),
                    format!("{value:?}"),
                )
            },
        )
        .await
    }

    /// Clicks the element `css` names. One the page drew again between finding and
    /// clicking (a list redrawn as news comes) is found again: a person clicks what is
    /// on the screen now.
    pub async fn click(&self, css: &str) {
        for _ in 0..10 {
            match self.find(css).await.click().await {
                Ok(()) => return,
                Err(e) if matches!(e.as_inner(), WebDriverErrorInner::StaleElementReference(_)) => {
                    tokio::time::sleep(POLL).await;
                }
                Err(e) => panic!("click {css}: {e}"),
            }
        }
        panic!("click {css}: the page kept drawing it again");
    }

    /// Replaces the content of an input, as typed.
    pub async fn fill(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        el.clear().await.expect("clear");
        el.send_keys(text).await.expect("type");
    }

    /// Waits until the tiers list says `tier` is `state` ("open" or "closed").
    pub async fn wait_tier(&self, tier: &str, state: &str) {
        let css = format!("#tiers li[data-tier={tier}] .tier-state");
        eventually(
            format!("{}: the {tier} tier to be {state}", self.name),
            async || {
                let seen = self.text(&css).await.to_lowercase();
                ((seen == state).then_some(()), format!("{seen:?}"))
            },
        )
        .await
    }

    /// Registers through the gate's form and waits for the bond screen.
    pub async fn register(&self) {
        self.click("#tab-register").await;
        self.fill("#auth-name", &self.name).await;
        self.fill("#auth-password", PASSWORD).await;
        self.click("#auth-submit").await;
        self.wait_shown("#screen-bond").await;
    }

    /// Fills the gatekeeper's book of a gated city's Register tab (the tab chosen, the
    /// book shown), the name and password included; the form is not sent.
    pub async fn fill_book(&self, family: &str) {
        self.fill("#auth-name", &self.name).await;
        self.fill("#auth-password", PASSWORD).await;
        self.fill("#book-name", &self.name).await;
        self.fill("#book-family", family).await;
        self.fill("#book-from", "the desert").await;
        self.fill("#book-age", "19").await;
        self.fill("#book-calling", "Letter Bearer").await;
    }

    /// Tries to register again under the same name (the form is on screen).
    pub async fn register_again(&self) {
        self.click("#tab-register").await;
        self.fill("#auth-name", &self.name).await;
        self.fill("#auth-password", PASSWORD).await;
        self.click("#auth-submit").await;
    }

    /// A full-page screenshot at `target/artifacts/browser/NAME.png`.
    pub async fn shot(&self, name: &str) {
        // From the top: a full-page capture of a scrolled page draws the sticky header
        // where the scroll left it.
        self.js("window.scrollTo(0, 0)", vec![]).await;
        let shot = self
            .cdp(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true}),
            )
            .await;
        let data = shot["data"].as_str().expect("screenshot data");
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("base64 png");
        let path = artifacts().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
    }

    pub async fn quit(self) {
        self.driver.quit().await.expect("close the browser");
    }
}

/// The script of [`Browser::record_sent_frames`]: also given to
/// `Page.addScriptToEvaluateOnNewDocument` to record from a page's first moment.
pub const RECORD_SENT_FRAMES: &str = "if (!window.__sentFrames) {
       window.__sentFrames = [];
       const send = WebSocket.prototype.send;
       WebSocket.prototype.send = function (data) {
         window.__sentFrames.push(typeof data === 'string'
           ? data : `binary, ${data.byteLength ?? data.size} bytes`);
         return send.call(this, data);
       };
     }";

/// Two partners, each in a window, registered and bonded through the page itself: the
/// first makes an invite code, the second types it and picks the profile. Positions are
/// set before the link screen opens, so the pull shows at once.
pub struct Pair {
    pub spike: Browser,
    pub amethyst: Browser,
    pub profiles: TempDir,
}

impl Pair {
    pub async fn bond(
        cd: &Chromedriver,
        server: &Server,
        profile: &str,
        spike_at: (f64, f64),
        amethyst_at: (f64, f64),
        screenshots: bool,
    ) -> Pair {
        Pair::bond_with(
            cd,
            server,
            profile,
            (spike_at, amethyst_at),
            screenshots,
            async |_| {},
        )
        .await
    }

    /// As [`Pair::bond`], with `before_accept` run on Amethyst's page once she has typed
    /// the code and picked the profile, just before she accepts.
    pub async fn bond_with(
        cd: &Chromedriver,
        server: &Server,
        profile: &str,
        (spike_at, amethyst_at): ((f64, f64), (f64, f64)),
        screenshots: bool,
        before_accept: impl AsyncFnOnce(&Browser),
    ) -> Pair {
        let profiles = tempfile::tempdir().expect("tempdir");
        // Spike's phone is a small one, 360 px wide; Amethyst's is 390 px.
        let spike_profile = profiles.path().join("spike");
        let spike = Browser::open(cd, server, "Spike", &spike_profile, 360, spike_at).await;
        let amethyst_profile = profiles.path().join("amethyst");
        let amethyst =
            Browser::open(cd, server, "Amethyst", &amethyst_profile, 390, amethyst_at).await;

        if screenshots {
            spike.wait_shown("#screen-welcome").await;
            spike.shot("welcome").await;
        }
        spike.register().await;
        amethyst.register().await;
        spike.click("#invite-make").await;
        let code = eventually("Spike's invite code", async || {
            let code = spike.text("#invite-code").await;
            ((code.len() == 9).then(|| code.clone()), code)
        })
        .await;
        amethyst.fill("#accept-code", &code).await;
        amethyst
            .click(&format!("input[name=profile][value={profile}]"))
            .await;
        if screenshots {
            spike.shot("bond-invite").await;
            amethyst.shot("bond-accept").await;
        }
        before_accept(&amethyst).await;
        amethyst.click("#accept-form button[type=submit]").await;
        spike.wait_shown("#screen-link").await;
        amethyst.wait_shown("#screen-link").await;
        Pair {
            spike,
            amethyst,
            profiles,
        }
    }

    pub async fn quit(self) {
        self.spike.quit().await;
        self.amethyst.quit().await;
    }
}
