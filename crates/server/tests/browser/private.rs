//! A private bond in the web client (issue 20, `docs/privacy.md`): the page's own
//! cryptography and geometry (`web/assets/private.js`) held to the Rust library's vectors
//! (`crates/private/tests/vectors/web.json`), sealing included; two pages bonding
//! privately, the tiers opening and closing as they move and words, a feeling and a
//! thought passing sealed, with nothing of where they are, of what they say or of the
//! invite's secret in what they send or in what the server keeps; a page bonded with a
//! device played by the Rust library (as the CLI is), whose tokens must meet the page's
//! for a tier to open, and which catches a tampered key; and the page and that device
//! passing words, feelings, alarms and thoughts sealed both ways.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use haurach_bond::{Fix, Profile, TierSet, TierState, geo};
use haurach_private::rounding::{self, Cell, Known};
use haurach_private::tokens::report;
use haurach_private::{BondKey, DeviceSecret, InviteSecret, Role, invite};
use haurach_proto::TokenReport;
use haurach_proto::private::{key_from_hex, to_hex};
use haurach_proto::sealed::{Envelope, FixContent, POSITION, StretchContent};
use serde_json::{Value, json};

use crate::harness::{
    Browser, Chromedriver, PASSWORD, RECORD_SENT_FRAMES, Server, axe_source, eventually, serial,
};

// South and west, so every coordinate's text starts with a minus: no time or duration
// in a log line ("12:00:07.654", "latency=7.65 ms") can spell one, and the search finds
// only what is a coordinate.
pub(crate) const HER: (f64, f64) = (-61.123457, -7.654321);
pub(crate) const NEAR: (f64, f64) = (-61.168328, -7.654321); // 5.0 km south of her
pub(crate) const FAR: (f64, f64) = (-61.482413, -7.654321); // 40.0 km south of her

/// What the partners say, feel and think: words nobody else uses, to look for afterwards
/// in what the pages sent and what the server kept.
const WORDS: &str = "the quartz lantern hums";
const FEELING: &str = "longing";
const THOUGHT: &str = "I wonder about the saffron gate";

/// The vectors the Rust library wrote for the page, as text: the page reads them with
/// `JSON.parse`, which gives back every float exactly.
fn vectors() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../private/tests/vectors/web.json");
    std::fs::read_to_string(&path).expect("the web vectors")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_makes_what_the_library_makes() {
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("private-vectors").await;
    let profiles = tempfile::tempdir().unwrap();
    let page = Browser::open(&cd, &server, "Spike", profiles.path(), 390, HER).await;
    let v = vectors();
    let found = page
        .driver
        .execute_async(
            r#"const [v, done] = [JSON.parse(arguments[0]), arguments[arguments.length - 1]];
            (async () => {
              const p = await import("/assets/private.js");
              const bad = [];
              const eq = (what, got, want) => {
                if (JSON.stringify(got) !== JSON.stringify(want)) {
                  bad.push(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
                }
              };
              const hex = p.toHex;
              const inviter = await p.deviceFromBytes(p.fromHex(v.inviter.secret));
              const accepter = await p.deviceFromBytes(p.fromHex(v.accepter.secret));
              eq("the inviter's public key", hex(inviter.public), v.inviter.public);
              eq("the accepter's public key", hex(accepter.public), v.accepter.public);
              const secret = p.fromHex(v.invite.secret);
              eq("the code", p.inviteCode(secret), v.invite.code);
              eq("the lookup hash", hex(await p.lookup(secret)), v.invite.lookup);
              for (const c of v.codes) {
                const read = p.parseInviteCode(c.typed);
                eq(`the code typed ${JSON.stringify(c.typed)}`, read && hex(read), c.secret);
              }
              const mine = await p.deriveBondBytes("inviter", inviter, accepter.public, secret);
              const theirs = await p.deriveBondBytes("accepter", accepter, inviter.public, secret);
              eq("the bond key (inviter)", hex(mine), v.bond.key);
              eq("the bond key (accepter)", hex(theirs), v.bond.key);
              const key = await p.BondKey.fromBytes(mine);
              eq("the inviter's tag", hex(await key.confirmation("inviter")), v.bond.inviter_tag);
              eq("the accepter's tag", hex(await key.confirmation("accepter")), v.bond.accepter_tag);
              eq("the right tag checks", await key.checkConfirmation("accepter", p.fromHex(v.bond.accepter_tag)), true);
              eq("a tag of the other role fails", await key.checkConfirmation("accepter", p.fromHex(v.bond.inviter_tag)), false);
              let weak = "accepted";
              try { await p.deriveBondBytes("inviter", inviter, new Uint8Array(32), secret); }
              catch (e) { weak = "refused"; }
              eq("a low-order public key", weak, "refused");
              eq("centres per band", Array.from({ length: 180 }, (_, b) => p.centresIn(b)), v.bands);
              const wgs84 = await p.loadGeodesic();
              let worst = 0;
              for (const c of v.charts) {
                const near = p.chartsNear(wgs84, c.lat, c.lon, c.g_m);
                eq(`the charts of ${c.lat} ${c.lon}`, near.map((n) => n.chart.id), c.near.map((n) => n.id));
                near.forEach((n, i) => {
                  const want = c.near[i];
                  if (!want) return;
                  const [x, y] = p.project(wgs84, n.chart, c.lat, c.lon);
                  worst = Math.max(worst, Math.abs(n.distance_m - want.distance_m), Math.abs(x - want.x), Math.abs(y - want.y));
                  eq(`the chart ${want.id}'s centre`, [n.chart.lat, n.chart.lon], [want.lat, want.lon]);
                  eq(`the cells of ${c.lat} ${c.lon} on chart ${want.id}`, p.SHIFTS.map((s) => p.cell(x, y, 850, s)), want.cells_850);
                });
              }
              const zeros = (a) => a.fill(0);
              let lists = 0;
              for (const r of v.reports) {
                const got = await p.report(key, r.profile, { lat: r.lat, lon: r.lon, accuracy_m: r.accuracy_m, at_ms: r.at_ms }, zeros);
                eq(`${r.what}: epochs`, got.epochs.map((e) => e.epoch), r.epochs.map((e) => e.epoch));
                got.epochs.forEach((e, i) => {
                  const want = r.epochs[i];
                  if (!want) return;
                  eq(`${r.what}: tiers`, e.tiers.map((t) => t.tier), want.tiers.map((t) => t.tier));
                  e.tiers.forEach((t, j) => {
                    for (const list of ["open", "keep"]) {
                      const tokens = t[list].map(hex);
                      const wanted = want.tiers[j]?.[list] ?? [];
                      eq(`${r.what}: ${t.tier} ${list} length`, tokens.length, p.PER_LIST);
                      const padding = Array(p.PER_LIST - wanted.length).fill("0000000000000000");
                      eq(`${r.what}: ${t.tier} ${list}`, tokens, [...padding, ...wanted]);
                      lists += 1;
                    }
                  });
                });
                const frame = p.reportFrame(got);
                eq(`${r.what}: a frame's list`, atob(frame.epochs[0].tiers[0].open).length, p.PER_LIST * p.TOKEN_LEN);
              }
              // Sealing: the same strings as the library's under the same nonces, each
              // opened back to its words and counter, and every refused string refused.
              const content = await p.contentKey(key);
              const s = v.sealing;
              let sealedCases = 0;
              for (const c of s.sealed) {
                const envelope = { bond: s.bond, from: c.from, kind: c.kind };
                const words = new TextEncoder().encode(c.content);
                eq(`${c.what}: sealed`, await p.seal(content, envelope, c.counter, words, p.fromHex(c.nonce)), c.sealed);
                const opened = await p.open(content, envelope, c.sealed);
                eq(`${c.what}: opened`, opened && new TextDecoder().decode(opened.content), c.content);
                eq(`${c.what}: its counter`, opened && String(opened.counter), String(c.counter));
                // Sealed again with a nonce of its own, it differs and still opens.
                const fresh = await p.seal(content, envelope, c.counter, words);
                eq(`${c.what}: a fresh nonce`, fresh !== c.sealed, true);
                eq(`${c.what}: sealed afresh, opened`, new TextDecoder().decode((await p.open(content, envelope, fresh))?.content ?? new Uint8Array([63])), c.content);
                sealedCases += 1;
              }
              for (const c of s.refused) {
                eq(`${c.what}: refused`, await p.open(content, { bond: c.bond, from: c.from, kind: c.kind }, c.sealed), null);
                sealedCases += 1;
              }
              let long = "sealed";
              try { await p.seal(content, { bond: s.bond, from: "inviter", kind: "voice" }, 1, new Uint8Array(p.MAX_CONTENT + 1)); }
              catch { long = "refused"; }
              eq("content over 16,000 bytes", long, "refused");
              // A page standing still reports again 5 s into each epoch's look-ahead, so
              // both partners' latest reports hold the coming epoch before it begins.
              const bond = await import("/assets/privatebond.js");
              const start = 2_840_000 * p.EPOCH_MS;
              eq("the next report from an epoch's start", bond.untilNextReport(start), p.EPOCH_MS - p.LOOKAHEAD_MS + 5000);
              eq("the next report from inside the look-ahead", bond.untilNextReport(start + p.EPOCH_MS - p.LOOKAHEAD_MS + 6000), p.EPOCH_MS - 1000);
              // A fix rounded before it is sealed: the same cell, point and exactness as
              // the library's, the reach and bound to the geodesics' agreement, and the
              // JSON sealed written as serde_json writes it.
              const r = await import("/assets/rounding.js");
              const cellOf = (c) => c && [c.level, c.row, c.columns_log2, c.column];
              let rounded = 0;
              for (const c of v.rounding.cases) {
                const known = { profile: c.profile, open: new Set(c.open), partner: c.partner };
                const got = r.round(wgs84, c.fix, known);
                eq(`${c.what}: exact`, got.exact, c.exact);
                eq(`${c.what}: the cell`, cellOf(got.cell), cellOf(c.cell));
                eq(`${c.what}: the point`, [got.lat, got.lon], c.point);
                worst = Math.max(worst, Math.abs(got.reach_m - c.reach_m));
                if (c.bound_m !== null) worst = Math.max(worst, Math.abs(got.bound_m - c.bound_m));
                const sent = r.readFixContent(r.fixContent(got));
                const want = JSON.parse(c.content);
                eq(`${c.what}: the content`, [sent.lat, sent.lon, sent.exact], [want.lat, want.lon, want.exact]);
                worst = Math.max(worst, Math.abs(sent.reach_m - want.reach_m));
                rounded += 1;
              }
              for (const c of v.rounding.contents) eq(`the content of ${c.json}`, r.fixContent(c), c.json);
              // Fixes rounded one after another, each keeping the cell sent before: the
              // same cells as the library's at every step.
              let keptSteps = 0;
              for (const w of v.keeping) {
                let kept = null;
                for (const [i, step] of w.steps.entries()) {
                  const known = { profile: w.profile, open: new Set(step.open), partner: null };
                  const got = r.round(wgs84, step.fix, known, kept);
                  eq(`${w.what}, step ${i}: exact`, got.exact, step.exact);
                  eq(`${w.what}, step ${i}: the cell`, cellOf(got.cell), cellOf(step.cell));
                  eq(`${w.what}, step ${i}: the point`, [got.lat, got.lon], step.point);
                  worst = Math.max(worst, Math.abs(got.reach_m - step.reach_m));
                  kept = got.cell;
                  keptSteps += 1;
                }
              }
              // What a rounding costs the page (printed, not judged).
              const r0 = performance.now();
              const far = { profile: "story", open: new Set(["pull", "alarm"]), partner: null };
              for (let i = 0; i < 200; i++) r.round(wgs84, { lat: 46 + i / 1000, lon: 7.6, accuracy_m: 5 }, far);
              const roundMs = (performance.now() - r0) / 200;
              // What a report costs the page (printed, not judged: the machine is shared).
              const t0 = performance.now();
              for (let i = 0; i < 20; i++) {
                await p.report(key, "story", { lat: 61.1 + i / 100, lon: 7.6, accuracy_m: 5, at_ms: Date.now() });
              }
              const reportMs = (performance.now() - t0) / 20;
              done({ bad, worst, lists, sealedCases, reportMs, rounded, roundMs, keptSteps });
            })().catch((e) => done({ bad: [`threw: ${e} ${e.stack}`] }));"#,
            vec![json!(v)],
        )
        .await
        .expect("the vectors' script");
    let found = found.json().clone();
    let bad: Vec<String> = serde_json::from_value(found["bad"].clone()).unwrap();
    assert!(
        bad.is_empty(),
        "the page differs from the library:\n{}",
        bad.join("\n")
    );
    // Every list of every report was compared, and the geodesics agree to a micrometre.
    let v: Value = serde_json::from_str(&v).unwrap();
    let lists: usize = v["reports"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["epochs"].as_array().unwrap())
        .map(|e| 2 * e["tiers"].as_array().unwrap().len())
        .sum();
    assert_eq!(found["lists"].as_u64(), Some(lists as u64));
    let cases = v["sealing"]["sealed"].as_array().unwrap().len()
        + v["sealing"]["refused"].as_array().unwrap().len();
    assert_eq!(found["sealedCases"].as_u64(), Some(cases as u64));
    assert_eq!(
        found["rounded"].as_u64(),
        Some(v["rounding"]["cases"].as_array().unwrap().len() as u64)
    );
    let steps: usize = v["keeping"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["steps"].as_array().unwrap().len())
        .sum();
    assert_eq!(found["keptSteps"].as_u64(), Some(steps as u64));
    let worst = found["worst"].as_f64().unwrap();
    assert!(
        worst < 1e-6,
        "distances, projections and the rounding's reaches differ by {worst} m"
    );
    println!(
        "the page's geodesics differ from the library's by at most {worst:e} m; a story \
         report took the page {:.1} ms on average, rounding a fix {:.3} ms",
        found["reportMs"].as_f64().unwrap_or(f64::NAN),
        found["roundMs"].as_f64().unwrap_or(f64::NAN)
    );
    page.quit().await;
}

// ------------------------------------------------------------------ a bare HTTP client

/// One request to the server (HTTP/1.1, closed after): its status and JSON body.
pub(crate) async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let (method, path, token) = (method.to_owned(), path.to_owned(), token.map(str::to_owned));
    tokio::task::spawn_blocking(move || {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut stream = TcpStream::connect(addr).expect("connect to the server");
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("send the request");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).expect("read the answer");
        let text = String::from_utf8_lossy(&response).into_owned();
        let status: u16 = text[9..12].parse().expect("a status");
        let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            unchunk(rest)
        } else {
            rest.to_owned()
        };
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    })
    .await
    .unwrap()
}

fn unchunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    out
}

/// A citizen registered and logged in through the API: their session token.
pub(crate) async fn citizen(addr: SocketAddr, name: &str) -> String {
    let creds = json!({"name": name, "password": PASSWORD});
    let (status, body) = http(addr, "POST", "/api/v1/accounts", None, Some(creds.clone())).await;
    assert!(status == 201 || status == 200, "{status} {body}");
    let (status, body) = http(addr, "POST", "/api/v1/sessions", None, Some(creds)).await;
    assert!(status == 201 || status == 200, "{status} {body}");
    body["token"].as_str().expect("a session token").to_owned()
}

/// Opens a page, registers through it, and starts recording what it sends.
pub(crate) async fn open_citizen(
    cd: &Chromedriver,
    server: &Server,
    name: &str,
    dir: &Path,
    width: u32,
    at: (f64, f64),
) -> Browser {
    let page = Browser::open(cd, server, name, &dir.join(name.to_lowercase()), width, at).await;
    if width > 800 {
        page.set_viewport(width, 900, false).await;
    }
    page.register().await;
    record_requests(&page).await;
    page
}

/// Keeps a copy of every frame and every request body the page sends from now on (what
/// it sent before is forgotten).
pub(crate) async fn record_requests(page: &Browser) {
    page.record_sent_frames().await;
    page.js(
        &format!(
            "window.__sentFrames.length = 0;
             if (window.__sentBodies) window.__sentBodies.length = 0;
             {RECORD_BODIES}"
        ),
        vec![],
    )
    .await;
}

/// Keeps a copy of every request the page makes through `fetch`, with its body.
const RECORD_BODIES: &str = "if (!window.__sentBodies) {
       window.__sentBodies = [];
       const f = window.fetch;
       window.fetch = function (url, init) {
         window.__sentBodies.push(`${init?.method ?? 'GET'} ${url} ${init?.body ?? ''}`);
         return f.apply(this, arguments);
       };
     }";

/// Everything the page sent since [`record_requests`]: frames and request bodies.
pub(crate) async fn everything_sent(page: &Browser) -> Vec<String> {
    let mut sent = page.sent_frames().await;
    let bodies = page.js("return window.__sentBodies ?? [];", vec![]).await;
    sent.extend(serde_json::from_value::<Vec<String>>(bodies).unwrap());
    sent
}

/// Something that must never leave a device of a private bond.
pub(crate) enum Needle {
    /// Text, which counts only where a number could start (not right after a digit: a
    /// log's "12:00:07.654" does not hold the longitude 7.654).
    Text(String),
    /// Bytes anywhere.
    Bytes(String, Vec<u8>),
}

impl Needle {
    pub(crate) fn found_in(&self, hay: &[u8]) -> bool {
        match self {
            Needle::Text(text) => {
                let needle = text.as_bytes();
                hay.windows(needle.len())
                    .enumerate()
                    .any(|(at, w)| w == needle && (at == 0 || !hay[at - 1].is_ascii_digit()))
            }
            Needle::Bytes(_, needle) => hay.windows(needle.len()).any(|w| w == needle),
        }
    }

    pub(crate) fn what(&self) -> &str {
        match self {
            Needle::Text(text) | Needle::Bytes(text, _) => text,
        }
    }
}

/// Each coordinate used, as text at several precisions and as the bytes of an `f64`
/// both ways.
pub(crate) fn coordinate_needles(points: &[(f64, f64)]) -> Vec<Needle> {
    let mut needles = Vec::new();
    for (lat, lon) in points {
        for value in [lat, lon] {
            for digits in [2, 3, 4, 5, 6] {
                needles.push(Needle::Text(format!("{value:.digits$}")));
            }
            needles.push(Needle::Bytes(
                format!("{value} as f64 (le)"),
                value.to_le_bytes().to_vec(),
            ));
            needles.push(Needle::Bytes(
                format!("{value} as f64 (be)"),
                value.to_be_bytes().to_vec(),
            ));
        }
    }
    needles
}

/// The server's log, every level, kept in memory for the test to search. The server
/// runs in this process, so this is its whole log (a process of its own under nextest;
/// under `cargo test` every test that asks shares one, started by the first).
pub(crate) fn capture_log() -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    static LOG: std::sync::OnceLock<std::sync::Arc<std::sync::Mutex<Vec<u8>>>> =
        std::sync::OnceLock::new();
    LOG.get_or_init(start_log).clone()
}

fn start_log() -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    #[derive(Clone)]
    struct Log(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl Write for Log {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let log = Log(Default::default());
    let kept = log.0.clone();
    // Everything but what the test's own WebDriver client logs of its commands (which
    // hold the positions the test gives the browsers), and sqlx's debug lines: a
    // statement with its placeholders (never a value) and how long it took, whose digits
    // ("elapsed=61.174µs") the search would take for a coordinate.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "trace,thirtyfour=off,reqwest=off,hyper_util=off,sqlx=info",
        ))
        .with_ansi(false)
        .with_writer(move || log.clone())
        .try_init()
        .expect("no other log subscriber in this test process");
    kept
}

/// Every file under `dir`, with its bytes.
pub(crate) fn files_under(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path, bytes));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pages_bond_privately_and_the_tiers_follow_them_without_a_coordinate_sent() {
    let axe = tokio::task::spawn_blocking(axe_source).await.unwrap();
    let _serial = serial().await;
    let log = capture_log();
    let server = Server::start().await;
    let cd = Chromedriver::start("private-pages").await;
    let dir = tempfile::tempdir().unwrap();
    // Spike on a phone, Amethyst at a desktop 40 km south of him.
    let spike = open_citizen(&cd, &server, "Spike", dir.path(), 390, HER).await;
    let amethyst = open_citizen(&cd, &server, "Amethyst", dir.path(), 1280, FAR).await;

    spike
        .wait_text(
            "#invite-private-hint",
            "without learning where either of you is",
        )
        .await;
    spike.click("#invite-private").await;
    let code = eventually("Spike's private code", async || {
        let code = spike.text("#invite-code").await;
        (code.starts_with("HP1-").then(|| code.clone()), code)
    })
    .await;
    assert_eq!(code.len(), 43, "{code}");
    spike
        .wait_text("#invite-hint", "The server never sees it")
        .await;
    let found = spike.axe_violations(&axe).await;
    assert!(
        found.is_empty(),
        "the private invite at a phone's width: {found:#?}"
    );
    spike.shot("private-invite-phone").await;

    // She scans the QR code with her phone's camera: it holds a link to this page with
    // the code after `#`, which no request carries. Her page opens from it (a fresh load,
    // what it sends recorded from its first moment), fills the code in, and takes it out
    // of the address.
    let link = spike
        .js(
            "return import('/assets/privatebond.js').then((b) => b.inviteLink(arguments[0]));",
            vec![json!(code)],
        )
        .await;
    let link = link.as_str().expect("a link").to_owned();
    assert_eq!(
        link,
        format!("{}/#accept={code}", server.url().trim_end_matches('/'))
    );
    amethyst
        .cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({"source": format!("{RECORD_SENT_FRAMES}\n{RECORD_BODIES}")}),
        )
        .await;
    amethyst.driver.goto("about:blank").await.unwrap();
    amethyst.driver.goto(&link).await.unwrap();
    amethyst
        .wait_text("#accept-scanned", "filled in from the link")
        .await;
    let filled = amethyst
        .js(
            "return document.getElementById('accept-code').value;",
            vec![],
        )
        .await;
    assert_eq!(filled, json!(code));
    let address = amethyst.js("return location.href;", vec![]).await;
    assert!(!address.to_string().contains("accept="), "{address}");
    amethyst
        .check_at_both_widths(&axe, "private-accept-scanned", "a scanned private invite")
        .await;
    // At a phone's width the 43 characters wrap inside the box, at a dash: none is out of
    // sight, scrolled away.
    let size = amethyst
        .js(
            "const e = document.getElementById('accept-code');
             return [e.scrollWidth, e.clientWidth, e.scrollHeight, e.clientHeight];",
            vec![],
        )
        .await;
    let [sw, cw, sh, ch] = serde_json::from_value::<[i64; 4]>(size.clone()).unwrap();
    assert!(
        sw <= cw && sh <= ch,
        "the private code scrolls in its box at 390 px (scroll, client: {size})"
    );
    amethyst.set_viewport(1280, 900, false).await;
    amethyst.click("input[name=profile][value=story]").await;
    amethyst.click("#accept-form button[type=submit]").await;
    for page in [&spike, &amethyst] {
        page.wait_shown("#screen-link").await;
        page.wait_text("#private-status", "Keys confirmed").await;
    }
    // Each page opens the other's sealed position and shows the way to it.
    spike.wait_text("#pull-text", "Amethyst is south,").await;
    amethyst.wait_text("#pull-text", "Spike is north,").await;
    // 40 km apart: every tier that needs a distance is closed; what the page cannot
    // seal is not shown. Words, feelings and thoughts are, closed: the box of thoughts is
    // locked, so nothing typed now can ever be sent.
    for page in [&spike, &amethyst] {
        page.wait_tier("feelings", "closed").await;
        page.wait_text("#voice-closed", "Voice passes within").await;
        let send = page.find("#voice-send").await;
        assert!(
            !send.is_enabled().await.unwrap(),
            "{}: voice is closed",
            page.name
        );
        let box_ = page.find("#thought-text").await;
        assert!(
            !box_.is_enabled().await.unwrap(),
            "{}: thoughts are closed",
            page.name
        );
        assert!(page.shown("#radar").await, "{}: no radar", page.name);
        // Places are kept on the device and their news sealed (private_places.rs).
        assert!(
            page.shown("#places-title").await,
            "{}: the places are hidden",
            page.name
        );
        // The journal's words and photos travel sealed, and so do pictures, glimpses
        // and the sight.
        assert!(
            page.shown("label[for=memory-photo]").await,
            "{}: no journal photo is offered",
            page.name
        );
        assert!(
            page.shown("#pictures-title").await,
            "{}: the pictures are hidden",
            page.name
        );
        assert!(
            page.shown("#memories-title").await,
            "{}: the journal is hidden",
            page.name
        );
        assert!(
            page.shown("#eyes-title").await,
            "{}: glimpse and sight are hidden",
            page.name
        );
        assert!(
            page.shown("#feelings-title").await,
            "{}: the feelings are hidden",
            page.name
        );
        assert!(
            page.shown("#alarm-title").await,
            "{}: the alarm is hidden",
            page.name
        );
    }

    // She comes to 5 km: feelings to glimpse open on both pages, sight stays closed.
    amethyst.set_position(NEAR.0, NEAR.1).await;
    for page in [&spike, &amethyst] {
        page.wait_tier("feelings", "open").await;
        page.wait_tier("glimpse", "open").await;
        page.wait_tier("sight", "closed").await;
    }
    // Words, a feeling and a thought pass sealed, and each page opens the other's.
    spike.fill("#voice-text", WORDS).await;
    spike.click("#voice-send").await;
    amethyst
        .wait_text("#latest", &format!("Spike: “{WORDS}”"))
        .await;
    assert_eq!(amethyst.count_messages(WORDS).await, 1);
    spike.wait_text_without("#history", "sending…").await;
    assert_eq!(spike.count_messages(WORDS).await, 1);
    amethyst
        .click(&format!("#feelings .feeling-{FEELING}"))
        .await;
    spike
        .wait_text("#feeling-last", &format!("Amethyst feels {FEELING}"))
        .await;
    spike
        .wait_text("#history", &format!("feels {FEELING}"))
        .await;
    amethyst
        .find("#thought-text")
        .await
        .send_keys(THOUGHT)
        .await
        .unwrap();
    eventually("Spike to read her whole thought", async || {
        let seen = spike.text("#partner-thought").await;
        ((seen == THOUGHT).then_some(()), format!("{seen:?}"))
    })
    .await;
    for (page, name) in [
        (&spike, "private-link-phone"),
        (&amethyst, "private-link-desktop"),
    ] {
        let found = page.axe_violations(&axe).await;
        assert!(found.is_empty(), "{name}: {found:#?}");
        page.shot(name).await;
    }
    // She goes back: they close again on both.
    amethyst.set_position(FAR.0, FAR.1).await;
    for page in [&spike, &amethyst] {
        page.wait_tier("feelings", "closed").await;
        page.wait_tier("glimpse", "closed").await;
    }

    // What left the pages: reports, never a position, a coordinate or the code.
    let secret = invite::parse_code(&code).unwrap();
    let mut needles = coordinate_needles(&[HER, NEAR, FAR]);
    let body = code.trim_start_matches(invite::PREFIX).replace('-', "");
    needles.push(Needle::Text(code.clone()));
    needles.push(Needle::Text(body.clone()));
    needles.push(Needle::Text(body.to_lowercase()));
    needles.push(Needle::Bytes(
        "the secret".into(),
        secret.as_bytes().to_vec(),
    ));
    needles.push(Needle::Text(to_hex(secret.as_bytes())));
    for said in [WORDS, FEELING, THOUGHT, "quartz", "saffron"] {
        needles.push(Needle::Text(said.to_owned()));
    }
    for page in [&spike, &amethyst] {
        let sent = everything_sent(page).await;
        assert!(
            sent.iter().any(|f| f.contains("\"type\":\"report\"")),
            "{}: no report sent",
            page.name
        );
        // What each said went sealed, and nothing in the clear beside it.
        let sealed = if page.name == "Spike" {
            "\"kind\":\"voice\""
        } else {
            "\"type\":\"sealed_thought\""
        };
        assert!(
            sent.iter()
                .any(|f| f.contains(sealed) && f.contains("\"sealed\":")),
            "{} sent nothing sealed: {sent:?}",
            page.name
        );
        for frame in &sent {
            for clear in ["\"body\":", "\"feeling\":", "\"edits\":"] {
                assert!(
                    !frame.contains(clear),
                    "{} sent {clear} in the clear: {frame}",
                    page.name
                );
            }
        }
        assert!(
            !sent.iter().any(|f| f.contains("\"type\":\"position\"")),
            "{}: a position was sent",
            page.name
        );
        assert!(
            sent.iter().any(|f| f.contains("\"type\":\"sealed_fix\"")),
            "{}: no sealed position sent",
            page.name
        );
        for frame in &sent {
            for needle in &needles {
                assert!(
                    !needle.found_in(frame.as_bytes()),
                    "{} sent {}: {frame}",
                    page.name,
                    needle.what()
                );
            }
        }
    }
    spike.quit().await;
    amethyst.quit().await;

    // Nor is any of it anywhere in what the server kept, or in its log.
    let data = server.stop().await;
    let files = files_under(data.path());
    let paths: Vec<_> = files.iter().map(|(path, _)| path).collect();
    assert!(
        paths.len() > 3,
        "the data directory holds little: {paths:?}"
    );
    for (path, bytes) in &files {
        for needle in &needles {
            assert!(
                !needle.found_in(bytes),
                "{} holds {}",
                path.display(),
                needle.what()
            );
        }
    }
    let log = log.lock().unwrap().clone();
    assert!(
        String::from_utf8_lossy(&log).contains("haurach_server"),
        "the log holds nothing of the server: {}",
        String::from_utf8_lossy(&log)
    );
    for needle in &needles {
        assert!(
            !needle.found_in(&log),
            "the server's log holds {}: {}",
            needle.what(),
            String::from_utf8_lossy(&log)
                .lines()
                .filter(|l| needle.found_in(l.as_bytes()))
                .take(3)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_bonds_with_the_rust_library_and_catches_a_tampered_key() {
    let axe = tokio::task::spawn_blocking(axe_source).await.unwrap();
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("private-library").await;
    let dir = tempfile::tempdir().unwrap();

    // Spike's page invites; Amethyst's device is the library, as the CLI uses it, 5 km
    // north. The tiers open only if the page's tokens are the library's, byte for byte.
    let spike = open_citizen(&cd, &server, "Spike", dir.path(), 390, HER).await;
    let her = citizen(server.addr, "amethyst").await;
    let (code, key) = bond_with_library(&spike, &server, &her).await;
    // Her device learns his tag is the same key's.
    let (_, seen) = http(server.addr, "GET", "/api/v1/bond/private", Some(&her), None).await;
    key.check_confirmation(
        Role::Inviter,
        &key_from_hex(seen["inviter_tag"].as_str().expect("his tag")).unwrap(),
    )
    .expect("the page's tag checks in the library");

    let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let fix = Fix {
        lat: NEAR.0,
        lon: NEAR.1,
        accuracy_m: 5.0,
        at_ms: now_ms,
    };
    report_as_library(server.addr, &her, &key, &fix).await;
    spike.wait_tier("glimpse", "open").await;
    spike.wait_tier("sight", "closed").await;
    // Pictures travel sealed from this page too: it says so.
    spike
        .wait_text(
            "#private-card",
            "your journal's words and photos, pictures, glimpses and the live sight, and what you draw over them, travel sealed",
        )
        .await;
    // Her device sends sealed words and a sealed feeling: his page opens them.
    let (_, bond_view) = http(server.addr, "GET", "/api/v1/bond", Some(&her), None).await;
    let bond: uuid::Uuid = bond_view["id"].as_str().unwrap().parse().unwrap();
    let sealer = haurach_private::Sealer::new(&key);
    for (n, kind, content, shown) in [
        (1, "voice", "are you near", "amethyst: “are you near”"),
        (2, "feeling", "calm", "amethyst feels calm"),
    ] {
        let from = Role::Accepter;
        let sealed = haurach_proto::sealed::Envelope { bond, from, kind }
            .seal(&sealer, n, content.as_bytes())
            .unwrap();
        let message = json!({"id": format!("s{n}"), "kind": kind, "sealed": sealed});
        let (status, body) = http(
            server.addr,
            "POST",
            "/api/v1/bond/messages",
            Some(&her),
            Some(message),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        spike.wait_text("#latest", shown).await;
        let latest = spike.text("#latest").await;
        assert!(!latest.contains("undefined"), "{latest}");
    }
    // 40 km: closed again.
    let fix = Fix {
        lat: FAR.0,
        lon: FAR.1,
        ..fix
    };
    report_as_library(server.addr, &her, &key, &fix).await;
    spike.wait_tier("feelings", "closed").await;

    // His page, reloaded, still holds its keys (IndexedDB) and carries on.
    spike.driver.refresh().await.expect("reload the page");
    spike.wait_text("#private-status", "Keys confirmed").await;
    spike.wait_tier("feelings", "closed").await;
    // Another browser of his holds no keys: it says so, and sends nothing of where he is.
    let laptop_dir = dir.path().join("spike-laptop");
    let laptop = Browser::open(&cd, &server, "Spike", &laptop_dir, 1280, NEAR).await;
    laptop.set_viewport(1280, 900, false).await;
    record_requests(&laptop).await;
    laptop.click("#tab-login").await;
    laptop.fill("#auth-name", "Spike").await;
    laptop.fill("#auth-password", PASSWORD).await;
    laptop.click("#auth-submit").await;
    laptop
        .wait_text("#private-status", "not in this browser")
        .await;
    // What she sealed it cannot open, and says so.
    laptop
        .wait_text(
            "#latest",
            "amethyst sent a sealed feeling that this browser cannot open without the bond's keys",
        )
        .await;
    let found = laptop.axe_violations(&axe).await;
    assert!(found.is_empty(), "a browser without the keys: {found:#?}");
    laptop.shot("private-elsewhere-desktop").await;
    // Its pictures card is hidden; a picture chosen all the same is not sent, neither in
    // the clear nor sealed.
    assert!(!laptop.shown("#pictures-title").await);
    laptop
        .js(
            "const c = document.createElement('canvas'); c.width = 40; c.height = 30; \
             c.getContext('2d').fillRect(0, 0, 40, 30); \
             const blob = await new Promise((r) => c.toBlob(r, 'image/png')); \
             const t = new DataTransfer(); \
             t.items.add(new File([blob], 'chosen.png', { type: 'image/png' })); \
             const input = document.querySelector('#image-file'); \
             input.files = t.files; \
             input.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await;
    eventually("the laptop's picture refused", async || {
        let said = laptop.text_content("#image-error").await;
        (
            said.contains("chosen.png was not sent: this browser cannot seal it without the bond's confirmed keys")
                .then_some(()),
            said,
        )
    })
    .await;
    laptop
        .js("return new Promise((r) => setTimeout(r, 1500))", vec![])
        .await;
    let sent = everything_sent(&laptop).await;
    assert!(
        !sent
            .iter()
            .any(|f| f.contains("\"type\":\"report\"") || f.contains("\"type\":\"position\"")),
        "a browser without the keys sent where he is: {sent:?}"
    );
    assert!(
        !sent
            .iter()
            .any(|f| f.starts_with("POST /api/v1/bond/images")),
        "a browser without the keys sent a picture: {sent:?}"
    );
    laptop.quit().await;

    // The bond ends; a new private invite, and this time the public keys were swapped on
    // the way: her device derived its key over a public key that is not his. His page
    // says so plainly and sends no report.
    let (status, body) = http(server.addr, "DELETE", "/api/v1/bond", Some(&her), None).await;
    assert_eq!(status, 204, "{body}");
    spike.wait_shown("#screen-bond").await;
    record_requests(&spike).await;
    spike.click("#invite-private").await;
    let second = eventually("Spike's second private code", async || {
        let shown = spike.text("#invite-code").await;
        (
            (shown.starts_with("HP1-") && shown != code).then(|| shown.clone()),
            shown,
        )
    })
    .await;
    let secret = invite::parse_code(&second).unwrap();
    let device = DeviceSecret::generate();
    accept_as_library(server.addr, &her, &secret, &device).await;
    let swapped = DeviceSecret::generate().public();
    let wrong = BondKey::derive(Role::Accepter, &device, &swapped, &secret).unwrap();
    let tag = json!({"tag": to_hex(&wrong.confirmation(Role::Accepter))});
    let (status, body) = http(
        server.addr,
        "PUT",
        "/api/v1/bond/private/confirmation",
        Some(&her),
        Some(tag),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    spike
        .wait_text(
            "#private-status",
            "The bond's keys do not match: they were tampered with",
        )
        .await;
    let found = spike.axe_violations(&axe).await;
    assert!(
        found.is_empty(),
        "the tampered keys at a phone's width: {found:#?}"
    );
    spike.shot("private-tampered-phone").await;
    spike.set_position(NEAR.0, NEAR.1 + 0.001).await;
    // Give the page a moment in which a report would have gone: it must not.
    let status_text = spike.text("#private-status").await;
    assert!(
        status_text.contains("Nothing about where you are was sent"),
        "{status_text}"
    );
    spike
        .js("return new Promise((r) => setTimeout(r, 1500))", vec![])
        .await;
    let sent = everything_sent(&spike).await;
    assert!(
        !sent
            .iter()
            .any(|f| f.contains("\"type\":\"report\"") || f.contains("\"type\":\"position\"")),
        "the page sent where he is under tampered keys: {sent:?}"
    );
    spike.quit().await;
}

/// Her device (the library) reports `fix` as the CLI's `move` does.
pub(crate) async fn report_as_library(addr: SocketAddr, token: &str, key: &BondKey, fix: &Fix) {
    let tokens = serde_json::to_value(TokenReport::of(&report(key, Profile::Story, fix))).unwrap();
    let (status, body) = http(addr, "PUT", "/api/v1/me/tokens", Some(token), Some(tokens)).await;
    assert_eq!(status, 204, "{body}");
}

/// Spike's page invites privately; her device (the library) accepts, derives the key
/// and confirms it, and his page says the keys are confirmed: the invite's code and the
/// bond key.
pub(crate) async fn bond_with_library(
    spike: &Browser,
    server: &Server,
    her: &str,
) -> (String, BondKey) {
    spike.click("#invite-private").await;
    let code = eventually("Spike's private code", async || {
        let code = spike.text("#invite-code").await;
        (code.starts_with("HP1-").then(|| code.clone()), code)
    })
    .await;
    let secret = invite::parse_code(&code).unwrap();
    let device = DeviceSecret::generate();
    let key = accept_as_library(server.addr, her, &secret, &device).await;
    let tag = json!({"tag": to_hex(&key.confirmation(Role::Accepter))});
    let (status, body) = http(
        server.addr,
        "PUT",
        "/api/v1/bond/private/confirmation",
        Some(her),
        Some(tag),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    spike.wait_text("#private-status", "Keys confirmed").await;
    (code, key)
}

/// Her device (the library) accepts the invite whose secret is `secret` and derives the
/// bond key as the CLI does.
async fn accept_as_library(
    addr: SocketAddr,
    her: &str,
    secret: &InviteSecret,
    device: &DeviceSecret,
) -> BondKey {
    let accept = json!({
        "lookup": to_hex(&secret.lookup()),
        "public_key": to_hex(&device.public()),
        "profile": "story",
    });
    let (status, body) = http(
        addr,
        "POST",
        "/api/v1/bond/private",
        Some(her),
        Some(accept),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, view) = http(addr, "GET", "/api/v1/bond/private", Some(her), None).await;
    assert_eq!(status, 200, "{view}");
    let inviter = key_from_hex(view["inviter_key"].as_str().unwrap()).unwrap();
    BondKey::derive(Role::Accepter, device, &inviter, secret).unwrap()
}

/// Her device on the link, as `haurach watch` and `haurach think` hold it: every frame it
/// gets is kept, and a heartbeat goes every half second so her contact stays live.
pub(crate) struct LibraryLink {
    pub(crate) got: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
    /// The binary frames it got (camera frames), as they came.
    bins: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
    out: tokio::sync::mpsc::UnboundedSender<tokio_tungstenite::tungstenite::Message>,
}

impl LibraryLink {
    pub(crate) async fn open(addr: SocketAddr, token: &str) -> LibraryLink {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        let url = format!("ws://{addr}/api/v1/link?token={token}");
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("her device's link");
        let (mut sink, mut stream) = ws.split();
        let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let bins = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (out, mut outgoing) = tokio::sync::mpsc::unbounded_channel::<Message>();
        let kept = got.clone();
        let kept_bins = bins.clone();
        // Ends when the server closes the link (it stops with the test).
        tokio::spawn(async move {
            let mut beat = tokio::time::interval(std::time::Duration::from_millis(500));
            loop {
                tokio::select! {
                    frame = stream.next() => match frame {
                        Some(Ok(Message::Text(text))) => {
                            kept.lock().unwrap().push(serde_json::from_str(&text).unwrap());
                        }
                        Some(Ok(Message::Binary(bytes))) => {
                            kept_bins.lock().unwrap().push(bytes.to_vec());
                        }
                        Some(Ok(_)) => {}
                        _ => break,
                    },
                    Some(message) = outgoing.recv() => {
                        if sink.send(message).await.is_err() {
                            break;
                        }
                    }
                    _ = beat.tick() => {
                        if sink.send(Message::text(r#"{"type":"heartbeat"}"#)).await.is_err() {
                            break;
                        }
                    }
                }
            }
        });
        LibraryLink { got, bins, out }
    }

    fn send(&self, frame: Value) {
        self.out
            .send(tokio_tungstenite::tungstenite::Message::text(
                frame.to_string(),
            ))
            .expect("her link is open");
    }

    /// Sends a binary frame (a camera frame).
    fn send_binary(&self, frame: Vec<u8>) {
        self.out
            .send(tokio_tungstenite::tungstenite::Message::Binary(
                frame.into(),
            ))
            .expect("her link is open");
    }

    /// The binary frames it got so far.
    fn binaries(&self) -> Vec<Vec<u8>> {
        self.bins.lock().unwrap().clone()
    }

    /// Waits for a frame `pick` takes, and returns what it makes of it.
    pub(crate) async fn wait<T>(&self, what: &str, pick: impl Fn(&Value) -> Option<T>) -> T {
        eventually(what, async || {
            let got = self.got.lock().unwrap().clone();
            let last = got.last().map(Value::to_string).unwrap_or_default();
            (
                got.iter().find_map(&pick),
                format!("{} frames, the last {last}", got.len()),
            )
        })
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_and_the_library_pass_words_feelings_alarms_and_thoughts_sealed_both_ways() {
    use haurach_proto::sealed::Envelope;

    let axe = tokio::task::spawn_blocking(axe_source).await.unwrap();
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("private-sealed").await;
    let dir = tempfile::tempdir().unwrap();

    // Spike's page invites; Amethyst's device is the library, as the CLI uses it, 5 km
    // north, on the link.
    let spike = open_citizen(&cd, &server, "Spike", dir.path(), 390, HER).await;
    let her = citizen(server.addr, "amethyst").await;
    let (_, key) = bond_with_library(&spike, &server, &her).await;
    let link = LibraryLink::open(server.addr, &her).await;
    let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let fix = Fix {
        lat: NEAR.0,
        lon: NEAR.1,
        accuracy_m: 5.0,
        at_ms: now_ms,
    };
    report_as_library(server.addr, &her, &key, &fix).await;
    spike.wait_tier("thoughts", "open").await;
    spike.wait_shown("#voice-form").await;
    let (_, bond_view) = http(server.addr, "GET", "/api/v1/bond", Some(&her), None).await;
    let bond: uuid::Uuid = bond_view["id"].as_str().unwrap().parse().unwrap();
    let sealer = haurach_private::Sealer::new(&key);
    fn envelope(bond: uuid::Uuid, from: Role, kind: &str) -> Envelope<'_> {
        Envelope { bond, from, kind }
    }
    let from_him = |kind| envelope(bond, Role::Inviter, kind);
    let from_her = |kind| envelope(bond, Role::Accepter, kind);
    // What his page sealed, as her device opens it: (kind, counter, content).
    let opened_message = |frame: &Value| -> Option<(String, u64, String)> {
        let m = &frame["message"];
        if frame["type"] != "message" || m["from"] != "Spike" {
            return None;
        }
        assert!(m.get("body").is_none() && m.get("feeling").is_none(), "{m}");
        let kind = m["kind"].as_str().unwrap().to_owned();
        let Some(sealed) = m["sealed"].as_str() else {
            return Some((kind, 0, String::new()));
        };
        let (counter, content) = envelope(bond, Role::Inviter, &kind)
            .open(&sealer, sealed)
            .expect("her device opens what his page sealed");
        Some((kind, counter, String::from_utf8(content).unwrap()))
    };

    // His words, his feeling and his thought reach her device sealed, and open there.
    let words = "été au phare ✓ the cobalt lamp 🌙";
    spike.fill("#voice-text", words).await;
    spike.click("#voice-send").await;
    let said = link
        .wait("his words", |f| {
            opened_message(f).filter(|(kind, _, _)| kind == "voice")
        })
        .await;
    assert_eq!(said.2, words);
    spike.wait_text_without("#history", "sending…").await;
    assert_eq!(spike.count_messages(words).await, 1);
    spike.click("#feelings .feeling-longing").await;
    let felt = link
        .wait("his feeling", |f| {
            opened_message(f).filter(|(kind, _, _)| kind == "feeling")
        })
        .await;
    assert_eq!(felt.2, "longing");
    assert!(felt.1 > said.1, "the counter rises: {said:?} then {felt:?}");
    let thought = "I wonder about the vermilion dune";
    spike
        .find("#thought-text")
        .await
        .send_keys(thought)
        .await
        .unwrap();
    let (counter, _) = link
        .wait("his whole thought", |f| {
            if f["type"] != "sealed_thought" {
                return None;
            }
            let (counter, text) = from_him(haurach_proto::sealed::THOUGHT)
                .open(&sealer, f["sealed"].as_str().unwrap())
                .expect("her device opens his thought");
            (text == thought.as_bytes()).then_some((counter, text))
        })
        .await;
    assert!(counter > felt.1, "{counter} after {}", felt.1);

    // His alarm, with words typed beside it, which her device opens and answers.
    let alarm_words = "the saffron gate fell on me";
    spike.fill("#alarm-words", alarm_words).await;
    let hold = spike.find("#alarm-hold").await;
    spike
        .driver
        .action_chain()
        .click_and_hold_element(&hold)
        .perform()
        .await
        .unwrap();
    // His finger stays down for 1.3 s: this is the action, not a wait.
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    spike
        .driver
        .action_chain()
        .release()
        .perform()
        .await
        .unwrap();
    let alarm = link
        .wait("his alarm", |f| {
            (f["type"] == "message" && f["message"]["kind"] == "alarm")
                .then(|| f["message"].clone())
        })
        .await;
    let wrapped = json!({"type": "message", "message": alarm.clone()});
    let (_, counter, content) = opened_message(&wrapped).expect("his alarm");
    assert_eq!(content, alarm_words, "{alarm}");
    assert!(counter > said.1, "{counter} after {}", said.1);
    let left = spike
        .find("#alarm-words")
        .await
        .value()
        .await
        .unwrap()
        .unwrap_or_default();
    assert_eq!(left, "", "the words went with it");
    link.send(json!({"type": "ack_alarm", "seq": alarm["seq"]}));
    spike
        .wait_text("#alarm-status", "amethyst heard your alarm")
        .await;

    // Her words, her feeling, her alarm's words and her thought, sealed by the library,
    // open on his page.
    let post = async |n: u64, kind: &str, content: &str| {
        let sealed = envelope(bond, Role::Accepter, kind)
            .seal(&sealer, n, content.as_bytes())
            .unwrap();
        let message = json!({"id": format!("her-{n}"), "kind": kind, "sealed": sealed});
        let (status, body) = http(
            server.addr,
            "POST",
            "/api/v1/bond/messages",
            Some(&her),
            Some(message),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    };
    post(1, "voice", "I see the turquoise kite ✓").await;
    spike
        .wait_text("#latest", "amethyst: “I see the turquoise kite ✓”")
        .await;
    assert_eq!(spike.count_messages("I see the turquoise kite ✓").await, 1);
    post(2, "feeling", "victory").await;
    spike
        .wait_text("#feeling-last", "amethyst feels victory")
        .await;
    spike.wait_text("#latest", "amethyst feels victory").await;
    post(3, "alarm", "come to the amber bridge now").await;
    spike
        .wait_text("#banner-alarm", "amethyst raised the alarm!")
        .await;
    spike
        .wait_text("#banner-alarm", "“come to the amber bridge now”")
        .await;
    spike
        .wait_text("#history", "raised the alarm: come to the amber bridge now")
        .await;
    spike.click("#alarm-ack").await;
    link.wait("his answer", |f| {
        (f["type"] == "alarm_acknowledged").then_some(())
    })
    .await;
    let sealed = from_her(haurach_proto::sealed::THOUGHT)
        .seal(&sealer, 4, "are you thinking of the dunes".as_bytes())
        .unwrap();
    link.send(json!({"type": "sealed_thought", "sealed": sealed}));
    spike
        .wait_text("#partner-thought", "are you thinking of the dunes")
        .await;

    // Changed on the way (by the server, or anyone between): said plainly, never shown
    // as empty words.
    let tampered = |sealed: String| {
        let mut raw = URL_SAFE_NO_PAD.decode(sealed).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 0x01;
        URL_SAFE_NO_PAD.encode(raw)
    };
    let bad = tampered(
        from_her("voice")
            .seal(&sealer, 5, b"this never shows")
            .unwrap(),
    );
    let message = json!({"id": "her-5", "kind": "voice", "sealed": bad});
    let (status, body) = http(
        server.addr,
        "POST",
        "/api/v1/bond/messages",
        Some(&her),
        Some(message),
    )
    .await;
    assert_eq!(status, 201, "the server cannot tell: {body}");
    spike
        .wait_text(
            "#latest",
            "amethyst sent a sealed message that does not open: it was changed on the way",
        )
        .await;
    spike
        .wait_text(
            "#history",
            "(sealed, and it does not open: it was changed on the way)",
        )
        .await;
    let bad = tampered(
        from_her(haurach_proto::sealed::THOUGHT)
            .seal(&sealer, 6, b"nor does this")
            .unwrap(),
    );
    link.send(json!({"type": "sealed_thought", "sealed": bad}));
    spike
        .wait_text(
            "#partner-guard",
            "amethyst's thought does not open: it was changed on the way",
        )
        .await;
    let history = spike.text("#history").await;
    assert!(!history.contains("never shows"), "{history}");

    // How it looks, at a phone's width and a desktop's.
    spike
        .check_at_both_widths(&axe, "private-sealed", "sealed words")
        .await;

    // Two tabs of his take counters at once, for the same 3 s: never the same one twice.
    // The second tab is opened first, so both start within a moment of each other.
    let first = spike.driver.window().await.unwrap();
    let second = spike.driver.new_tab().await.unwrap();
    spike.driver.switch_to_window(second.clone()).await.unwrap();
    spike.driver.goto(server.url()).await.unwrap();
    let until = spike.js("return Date.now() + 3000;", vec![]).await;
    let take = "const until = arguments[0];
        window.__taken = [];
        window.__takenDone = false;
        import('/assets/privatebond.js').then(async (b) => {
          const t0 = performance.now();
          while (Date.now() < until) window.__taken.push(await b.nextCounter('Spike'));
          window.__takenMs = (performance.now() - t0) / window.__taken.length;
          window.__takenDone = true;
        });";
    spike.js(take, vec![until.clone()]).await;
    spike.driver.switch_to_window(first.clone()).await.unwrap();
    spike.js(take, vec![until]).await;
    let mut tabs: Vec<Vec<u64>> = Vec::new();
    for window in [first.clone(), second] {
        spike.driver.switch_to_window(window).await.unwrap();
        let mine: Vec<u64> = eventually("a tab's counters", async || {
            let got = spike
                .js("return window.__takenDone ? window.__taken : null;", vec![])
                .await;
            (serde_json::from_value(got.clone()).ok(), got.to_string())
        })
        .await;
        assert!(mine.windows(2).all(|w| w[0] < w[1]), "{mine:?}");
        // What a counter costs (printed, not judged: the machine is shared).
        let ms = spike.js("return window.__takenMs;", vec![]).await;
        println!(
            "a tab took {} counters, {:.1} ms each on average, the other tab taking them too",
            mine.len(),
            ms.as_f64().unwrap_or(f64::NAN)
        );
        tabs.push(mine);
    }
    // The second tab is the one in front: closed, the first is his page again.
    spike.driver.close_window().await.unwrap();
    spike.driver.switch_to_window(first).await.unwrap();
    // They did take them at the same time: each took some between two of the other's.
    let (a, b) = (&tabs[0], &tabs[1]);
    assert!(
        a.iter().any(|n| b[0] < *n && n < b.last().unwrap())
            && b.iter().any(|n| a[0] < *n && n < a.last().unwrap()),
        "the tabs did not take counters at the same time: {a:?} {b:?}"
    );
    let mut taken = tabs.concat();
    let n = taken.len();
    taken.sort_unstable();
    taken.dedup();
    assert_eq!(
        taken.len(),
        n,
        "two tabs took the same counter: {a:?} {b:?}"
    );

    // Reloaded, his page shows what passed, opened, and goes on counting from where it
    // was.
    spike.driver.refresh().await.expect("reload the page");
    spike.wait_text("#private-status", "Keys confirmed").await;
    spike
        .wait_text(
            "#latest",
            "amethyst sent a sealed message that does not open",
        )
        .await;
    for shown in [words, "I see the turquoise kite ✓"] {
        spike.wait_text("#history", shown).await;
    }
    spike.wait_text("#history", "felt longing").await;
    let highest = taken.last().copied().unwrap();
    spike.fill("#voice-text", "still here").await;
    spike.click("#voice-send").await;
    let again = link
        .wait("his words after the reload", |f| {
            opened_message(f).filter(|(_, _, content)| content == "still here")
        })
        .await;
    assert!(again.1 > highest, "{} after {highest}", again.1);

    // Nothing he said left his page in the clear.
    let sent = everything_sent(&spike).await;
    for frame in &sent {
        for clear in [
            words,
            "cobalt",
            "longing",
            thought,
            "vermilion",
            "still here",
            "\"body\":",
            "\"feeling\":",
            "\"edits\":",
        ] {
            assert!(!frame.contains(clear), "his page sent {clear:?}: {frame}");
        }
    }
    spike.quit().await;

    // Nor did the server keep any of it.
    let data = server.stop().await;
    let files = files_under(data.path());
    assert!(
        files.iter().any(|(path, _)| path.ends_with("haurach.db")),
        "{:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for (path, bytes) in &files {
        for said in [
            "cobalt",
            "longing",
            "vermilion",
            "still here",
            "turquoise",
            "amber bridge",
            "victory",
            "dunes",
            "never shows",
        ] {
            assert!(
                !Needle::Text(said.to_owned()).found_in(bytes),
                "{} holds {said:?}",
                path.display()
            );
        }
    }
}

/// Her device (the library) seals `fix` rounded as the CLI's `move` rounds it, knowing
/// the bond as the server shows it to her now and his page's latest sealed position, and
/// sends it with `counter`: what it sealed, as his page will open it.
pub(crate) async fn seal_fix_as_library(
    addr: SocketAddr,
    her: &str,
    sealer: &haurach_private::Sealer,
    counter: u64,
    fix: &Fix,
    known: Option<Known>,
) -> FixContent {
    let (_, view) = http(addr, "GET", "/api/v1/bond", Some(her), None).await;
    let view: haurach_proto::BondView = serde_json::from_value(view).unwrap();
    let known = known.unwrap_or_else(|| {
        let mut open = TierSet::EMPTY;
        for (tier, t) in &view.tiers {
            if t.open {
                open.insert(*tier);
            }
        }
        Known {
            profile: view.profile,
            tiers: TierState::new(open),
            partner: view
                .partner_sealed_fix
                .as_ref()
                .and_then(|p| open_fix(sealer, view.id, Role::Inviter, &p.sealed))
                .map(|c| c.partner()),
        }
    });
    let content = FixContent::of(&rounding::round(fix, &known));
    let sealed = Envelope {
        bond: view.id,
        from: Role::Accepter,
        kind: POSITION,
    }
    .seal(sealer, counter, &content.to_bytes())
    .unwrap();
    let (status, body) = http(
        addr,
        "PUT",
        "/api/v1/me/sealed-fix",
        Some(her),
        Some(json!({ "sealed": sealed })),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    content
}

/// A still page whose fix wanders a few metres either side of a cell's line is seen by
/// the partner at one point throughout, not flipping between two cells (which would
/// tell the partner it stands on that line): the page keeps the cell it last sealed
/// (`docs/privacy.md`, "Keeping the cell"), and after a reload too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_still_page_jittering_across_a_cell_line_is_seen_in_one_place() {
    let axe = tokio::task::spawn_blocking(axe_source).await.unwrap();
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("private-cellkeep").await;
    let dir = tempfile::tempdir().unwrap();
    // Glimpse open and sight closed, her position known only roughly: his page goes by
    // 15 km, rows of 180°/2^13, wherever within a few metres he is. The line is the
    // western edge of the cell of HER.
    let cell = Cell::of(HER.0, HER.1, 13);
    let west = cell.lon_span().0;
    let metre = 1.0 / (111_320.0 * HER.0.to_radians().cos());
    let at = |m: f64| (HER.0, west + m * metre);
    let spike = open_citizen(&cd, &server, "Spike", dir.path(), 390, at(2.0)).await;
    let her = citizen(server.addr, "amethyst").await;
    let (_, key) = bond_with_library(&spike, &server, &her).await;
    let link = LibraryLink::open(server.addr, &her).await;
    let sealer = haurach_private::Sealer::new(&key);
    let (_, view) = http(server.addr, "GET", "/api/v1/bond", Some(&her), None).await;
    let bond: uuid::Uuid = view["id"].as_str().unwrap().parse().unwrap();
    let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let near = Fix {
        lat: NEAR.0,
        lon: NEAR.1,
        accuracy_m: 5.0,
        at_ms: now_ms,
    };
    let nothing = Known {
        profile: Profile::Story,
        tiers: TierState::initial(Profile::Story),
        partner: None,
    };
    seal_fix_as_library(server.addr, &her, &sealer, 1, &near, Some(nothing)).await;
    report_as_library(server.addr, &her, &key, &near).await;
    spike.wait_tier("glimpse", "open").await;
    spike.wait_tier("sight", "closed").await;
    // His page's next sealed position after `from` frames: what her device opens.
    let next = async |from: usize| {
        eventually("his page's next sealed position", async || {
            let got = link.got.lock().unwrap().clone();
            let found = got.iter().skip(from).find_map(|f| {
                (f["type"] == "partner_sealed_fix")
                    .then(|| open_fix(&sealer, bond, Role::Inviter, f["sealed"].as_str()?))
                    .flatten()
                    .filter(|c| c.reach_m < 0.6 * 15_000.0)
            });
            (found, format!("{} frames", got.len()))
        })
        .await
    };
    let mut seen = vec![next(0).await];
    for m in [-2.0, 2.0, -4.0, 1.0, -1.0, 3.0, -3.0] {
        let from = link.got.lock().unwrap().len();
        spike.set_position(at(m).0, at(m).1).await;
        seen.push(next(from).await);
    }
    // Reloaded while west of the line, the page still sends the cell east of it.
    let from = link.got.lock().unwrap().len();
    spike.js("location.reload()", vec![]).await;
    spike.wait_tier("glimpse", "open").await;
    seen.push(next(from).await);
    let points: Vec<(f64, f64)> = seen.iter().map(|c| (c.lat, c.lon)).collect();
    assert!(
        points.iter().all(|p| *p == points[0]),
        "his still page was seen in more than one place: {points:?}"
    );
    assert!(!seen[0].exact);
    // Her device sees a cell of 13 around him, and it reaches wherever his fix went.
    let kept = (0..=rounding::MAX_LEVEL)
        .map(|l| Cell::of(at(2.0).0, at(2.0).1, l))
        .chain((0..=rounding::MAX_LEVEL).map(|l| Cell::of(at(-2.0).0, at(-2.0).1, l)))
        .find(|c| c.centre() == points[0])
        .unwrap_or_else(|| panic!("{:?} is no cell's centre by his fix", seen[0]));
    assert_eq!(kept.level, 13);
    for m in [-4.0, 3.0] {
        let off = geo::inverse(points[0].0, points[0].1, at(m).0, at(m).1).distance_m;
        assert!(off <= seen[0].reach_m, "{off} m beyond {}", seen[0].reach_m);
    }
    spike
        .check_at_both_widths(&axe, "private-cellkeep", "a still page on a private bond")
        .await;
    spike.quit().await;
}

/// A sealed position of `from` in `bond`, opened; `None` when it does not open.
pub(crate) fn open_fix(
    sealer: &haurach_private::Sealer,
    bond: uuid::Uuid,
    from: Role,
    sealed: &str,
) -> Option<FixContent> {
    let (_, bytes) = Envelope {
        bond,
        from,
        kind: POSITION,
    }
    .open(sealer, sealed)
    .ok()?;
    FixContent::from_bytes(&bytes)
}

/// The distance a page shows in its pull sentence ("amethyst is south, 5.0 km"), metres.
fn shown_distance(sentence: &str) -> f64 {
    let words: Vec<&str> = sentence
        .split([',', ' '])
        .filter(|w| !w.is_empty())
        .collect();
    let at = words
        .iter()
        .position(|w| *w == "km" || *w == "m")
        .unwrap_or_else(|| panic!("no distance in {sentence:?}"));
    let n: f64 = words[at - 1].replace(',', "").parse().unwrap();
    if words[at] == "km" { n * 1000.0 } else { n }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_and_the_library_share_positions_sealed_coarse_beyond_sight_and_exact_within() {
    let axe = tokio::task::spawn_blocking(axe_source).await.unwrap();
    let _serial = serial().await;
    let log = capture_log();
    let server = Server::start().await;
    let cd = Chromedriver::start("private-positions").await;
    let dir = tempfile::tempdir().unwrap();
    // 800 m from him, north-east: within sight (2 km in the story profile).
    let (slat, slon) = geo::destination(HER.0, HER.1, 40.0, 800.0);
    let sight = (slat, slon);

    // Spike's page invites; Amethyst's device is the library, as the CLI uses it.
    let spike = open_citizen(&cd, &server, "Spike", dir.path(), 390, HER).await;
    let her = citizen(server.addr, "amethyst").await;
    let (_, key) = bond_with_library(&spike, &server, &her).await;
    let link = LibraryLink::open(server.addr, &her).await;
    let sealer = haurach_private::Sealer::new(&key);
    let (_, view) = http(server.addr, "GET", "/api/v1/bond", Some(&her), None).await;
    let bond: uuid::Uuid = view["id"].as_str().unwrap().parse().unwrap();
    // Every sealed position of his page her device has received, opened.
    let his_fixes = |got: &[Value]| -> Vec<FixContent> {
        got.iter()
            .filter(|f| f["type"] == "partner_sealed_fix")
            .map(|f| {
                open_fix(&sealer, bond, Role::Inviter, f["sealed"].as_str().unwrap())
                    .expect("her device opens his page's sealed position")
            })
            .collect()
    };
    let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let near = Fix {
        lat: NEAR.0,
        lon: NEAR.1,
        accuracy_m: 5.0,
        at_ms: now_ms,
    };

    // Her device knows nothing yet (no tier open, nothing of him): it seals a quarter
    // of a continent. His page shows the way to it and says plainly that it is rough.
    let nothing = Known {
        profile: Profile::Story,
        tiers: TierState::initial(Profile::Story),
        partner: None,
    };
    let rough = seal_fix_as_library(server.addr, &her, &sealer, 1, &near, Some(nothing)).await;
    assert!(rough.reach_m > 1_000_000.0, "{rough:?}");
    spike
        .wait_text(
            "#pull-rough",
            "amethyst's device has shared only a rough area so far",
        )
        .await;
    let found = spike.axe_violations(&axe).await;
    assert!(
        found.is_empty(),
        "a rough position at a phone's width: {found:#?}"
    );
    spike.shot("private-pull-rough-phone").await;

    // She reports from 5 km: feelings to glimpse open, sight stays closed. His page
    // seals again with what it now knows: a cell of at least a tenth of 1 km (sight is
    // closed, so she is beyond 1 km), reaching no more than 0.6 of the 15 km glimpse
    // allows (the cell grown by half a side, as every rounded position claims), never
    // his fix.
    report_as_library(server.addr, &her, &key, &near).await;
    spike.wait_tier("glimpse", "open").await;
    spike.wait_tier("sight", "closed").await;
    let his = link
        .wait("his page's position sealed at glimpse", |f| {
            let fixes = his_fixes(std::slice::from_ref(f));
            fixes.into_iter().find(|c| c.reach_m < 0.6 * 15_000.0)
        })
        .await;
    assert!(
        !his.exact,
        "beyond sight his page sealed his exact fix: {his:?}"
    );
    assert_ne!((his.lat, his.lon), HER);
    let level = (0..=rounding::MAX_LEVEL)
        .find(|l| Cell::of(HER.0, HER.1, *l).centre() == (his.lat, his.lon))
        .unwrap_or_else(|| panic!("{his:?} is not the centre of a cell of his fix"));
    let cell = Cell::of(HER.0, HER.1, level);
    assert!(
        (cell.kept_reach_m() - his.reach_m).abs() < 1e-6,
        "{his:?}: the reach is not its grown cell's ({})",
        cell.kept_reach_m()
    );
    assert!(
        cell.side_m() >= rounding::SHARE * 1_000.0,
        "a cell of {} m while sight is closed",
        cell.side_m()
    );
    let off = geo::inverse(HER.0, HER.1, his.lat, his.lon).distance_m;
    assert!(
        off <= his.reach_m,
        "he is {off} m from the point, beyond its reach"
    );

    // Her device seals again, knowing his: his page shows south, about 5 km, within what
    // her cell and the coarse pull allow, and no longer says it is rough.
    let hers = seal_fix_as_library(server.addr, &her, &sealer, 2, &near, None).await;
    let truth = geo::inverse(HER.0, HER.1, NEAR.0, NEAR.1).distance_m;
    assert!(!hers.exact && hers.reach_m < truth, "{hers:?}");
    spike.wait_hidden("#pull-rough").await;
    let sentence = spike.wait_text("#pull-text", "amethyst is south,").await;
    let shown = shown_distance(&sentence);
    assert!(
        (shown - truth).abs() <= hers.reach_m + 0.05 * truth + 50.0,
        "{sentence:?}: {shown} m shown, {truth} m true, her cell reaches {} m",
        hers.reach_m
    );
    assert!(
        !spike.shown("#pull-exact").await,
        "an exact position beyond sight"
    );
    assert!(spike.shown("#radar").await, "no radar");
    let label = spike.text_content("#radar-label").await;
    assert!(label.contains("amethyst is south,"), "{label}");
    spike
        .check_at_both_widths(&axe, "private-pull", "the sealed pull")
        .await;

    // Within sight: her device seals her exact fix, his page shows it exactly, and seals
    // his own exactly once sight opens.
    let close = Fix {
        lat: sight.0,
        lon: sight.1,
        ..near
    };
    report_as_library(server.addr, &her, &key, &close).await;
    spike.wait_tier("sight", "open").await;
    let exact = seal_fix_as_library(server.addr, &her, &sealer, 3, &close, None).await;
    assert!(exact.exact, "{exact:?}");
    spike
        .wait_text("#pull-exact", "Within sight: amethyst is exactly at")
        .await;
    let sentence = spike.wait_text("#pull-text", "800 m").await;
    assert!(sentence.contains("amethyst is north-east,"), "{sentence}");
    let his = link
        .wait("his page's exact position", |f| {
            his_fixes(std::slice::from_ref(f))
                .into_iter()
                .find(|c| c.exact)
        })
        .await;
    assert_eq!((his.lat, his.lon, his.reach_m), (HER.0, HER.1, 5.0));
    let found = spike.axe_violations(&axe).await;
    assert!(
        found.is_empty(),
        "the exact pull at a phone's width: {found:#?}"
    );
    spike.shot("private-pull-exact-phone").await;

    // A stretch her device saw in its own fixes (the server sees none), sealed in her
    // next position: his page shows it as it shows a plain bond's stretch.
    let stretched = FixContent {
        stretch: Some(StretchContent {
            jump_m: 20_000.0,
            over_ms: 1_000,
        }),
        ..exact
    };
    let sealed = Envelope {
        bond,
        from: Role::Accepter,
        kind: POSITION,
    }
    .seal(&sealer, 4, &stretched.sealed_bytes())
    .unwrap();
    let (status, body) = http(
        server.addr,
        "PUT",
        "/api/v1/me/sealed-fix",
        Some(&her),
        Some(json!({ "sealed": sealed })),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    spike
        .wait_text("#banner-stretch-title", "amethyst moved suddenly")
        .await;
    spike
        .wait_text(
            "#banner-stretch",
            "amethyst's position jumped 20 km at once",
        )
        .await;
    spike
        .check_at_both_widths(&axe, "private-stretch", "a sealed stretch")
        .await;
    // Told once: dismissed, and the page reloaded (the bond's view holds that position
    // again, opened before), it does not come back.
    spike.click("#banner-stretch .banner-close").await;
    spike.wait_hidden("#banner-stretch").await;
    spike.driver.refresh().await.expect("reload the page");
    spike
        .wait_text("#pull-exact", "Within sight: amethyst is exactly at")
        .await;
    // What his page sends from here on is searched below. He steps 10 m (no stretch);
    // her device gets his position, sealed, and his page has had time to open hers again.
    record_requests(&spike).await;
    let before = link.got.lock().unwrap().len();
    let step = geo::destination(HER.0, HER.1, 90.0, 10.0);
    spike.set_position(step.0, step.1).await;
    eventually("his page's position after the reload", async || {
        let got = link.got.lock().unwrap().clone();
        let sealed = got[before..]
            .iter()
            .any(|f| f["type"] == "partner_sealed_fix");
        (sealed.then_some(()), format!("{} frames", got.len()))
    })
    .await;
    assert!(
        !spike.shown("#banner-stretch").await,
        "the stretch was told again after a reload"
    );

    // Changed on the way: said plainly, and no pull is drawn from it.
    let mut raw = URL_SAFE_NO_PAD
        .decode(
            Envelope {
                bond,
                from: Role::Accepter,
                kind: POSITION,
            }
            .seal(&sealer, 5, &exact.to_bytes())
            .unwrap(),
        )
        .unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 0x01;
    let (status, body) = http(
        server.addr,
        "PUT",
        "/api/v1/me/sealed-fix",
        Some(&her),
        Some(json!({ "sealed": URL_SAFE_NO_PAD.encode(raw) })),
    )
    .await;
    assert_eq!(status, 204, "the server cannot tell: {body}");
    spike
        .wait_text(
            "#pull-text",
            "amethyst's position came sealed and does not open: it was changed on the way",
        )
        .await;
    assert!(
        !spike.shown("#pull-exact").await,
        "a position from what did not open"
    );

    // His page is the mover: 1,000 km in a moment stretches the bond. His page judges it
    // (the server sees no position), tells him, and seals it for her device.
    let away = geo::destination(HER.0, HER.1, 0.0, 1_000_000.0);
    spike.set_position(away.0, away.1).await;
    spike
        .wait_text("#banner-stretch-title", "You moved suddenly")
        .await;
    spike
        .wait_text("#banner-stretch", "Your position jumped 1,000 km at once")
        .await;
    let told = link
        .wait("his page's stretch, sealed", |f| {
            his_fixes(std::slice::from_ref(f))
                .into_iter()
                .find_map(|c| c.stretch)
        })
        .await;
    assert_eq!(told.jump_m, 1_000_000.0, "{told:?}");
    assert!(told.over_ms > 0, "{told:?}");
    // Every sealed position of his is as long as every other: the server cannot tell
    // the one that carries the stretch.
    let lengths: std::collections::BTreeSet<usize> = link
        .got
        .lock()
        .unwrap()
        .iter()
        .filter(|f| f["type"] == "partner_sealed_fix")
        .map(|f| f["sealed"].as_str().unwrap().len())
        .collect();
    assert_eq!(lengths.len(), 1, "{lengths:?}");

    // Nothing of where either is left his page but sealed, nor is it in what the server
    // kept or logged.
    let needles = coordinate_needles(&[HER, NEAR, sight, step, away]);
    let sent = everything_sent(&spike).await;
    assert!(
        sent.iter().any(|f| f.contains("\"type\":\"sealed_fix\"")),
        "no sealed position sent: {sent:?}"
    );
    assert!(
        !sent.iter().any(|f| f.contains("\"type\":\"position\"")),
        "a position was sent"
    );
    for frame in &sent {
        for needle in &needles {
            assert!(
                !needle.found_in(frame.as_bytes()),
                "his page sent {}: {frame}",
                needle.what()
            );
        }
    }
    // Paused, his page seals nothing: not when he moves, nor when the tiers close (the
    // pause closes them), though the rounding then changes.
    record_requests(&spike).await;
    spike
        .click("#pause-choices button[data-pause-s='3600']")
        .await;
    spike.wait_shown("#banner-paused").await;
    spike.set_position(NEAR.0, NEAR.1).await;
    spike.wait_tier("sight", "closed").await;
    spike.wait_text("#pull-text", "You paused sharing").await;
    spike
        .js("return new Promise((r) => setTimeout(r, 1500))", vec![])
        .await;
    let paused = everything_sent(&spike).await;
    assert!(
        !paused.iter().any(|f| f.contains("\"type\":\"sealed_fix\"")
            || f.contains("\"type\":\"report\"")
            || f.contains("\"type\":\"position\"")),
        "his page sent where he is while paused: {paused:?}"
    );
    // Her device got only sealed positions from the server: no pull, no coordinate.
    for frame in link.got.lock().unwrap().iter() {
        assert_ne!(frame["type"], "pull", "{frame}");
        let text = frame.to_string();
        for needle in &needles {
            assert!(
                !needle.found_in(text.as_bytes()),
                "she was sent {}: {text}",
                needle.what()
            );
        }
    }
    spike.quit().await;
    let data = server.stop().await;
    let files = files_under(data.path());
    assert!(
        files.iter().any(|(path, _)| path.ends_with("haurach.db")),
        "{:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for (path, bytes) in &files {
        for needle in &needles {
            assert!(
                !needle.found_in(bytes),
                "{} holds {}",
                path.display(),
                needle.what()
            );
        }
    }
    let log = log.lock().unwrap().clone();
    assert!(
        String::from_utf8_lossy(&log).contains("haurach_server"),
        "the log holds nothing of the server"
    );
    for needle in &needles {
        assert!(
            !needle.found_in(&log),
            "the server's log holds {}",
            needle.what()
        );
    }
}

/// Journal words travel sealed too: his page seals what he writes and opens it in his
/// journal; her device (the library) opens it once they are together, and his page opens
/// what her device sealed. A photo is not offered, and no word leaves his page in the
/// clear or stays on the server.
#[tokio::test]
async fn a_page_and_the_library_keep_sealed_journals_that_open_when_together() {
    use haurach_proto::sealed::{Envelope, MEMORY, MEMORY_PHOTO, PhotoContent};

    let axe = tokio::task::spawn_blocking(axe_source).await.unwrap();
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("private-journal").await;
    let dir = tempfile::tempdir().unwrap();

    let spike = open_citizen(&cd, &server, "Spike", dir.path(), 390, HER).await;
    let her = citizen(server.addr, "amethyst").await;
    let (_, key) = bond_with_library(&spike, &server, &her).await;
    spike.wait_shown("#memory-form").await;
    spike.wait_shown("label[for=memory-photo]").await;
    let (_, bond_view) = http(server.addr, "GET", "/api/v1/bond", Some(&her), None).await;
    let bond: uuid::Uuid = bond_view["id"].as_str().unwrap().parse().unwrap();
    let sealer = haurach_private::Sealer::new(&key);
    let from = |role| Envelope {
        bond,
        from: role,
        kind: MEMORY,
    };

    // Written while she has not reported: kept, his own, opened on his page.
    let his = "the jade ferry waits at the north quay ✓";
    spike.fill("#memory-text", his).await;
    spike.click("#memory-form button[type=submit]").await;
    spike.wait_text("#memories-mine", his).await;
    let (_, theirs) = http(
        server.addr,
        "GET",
        "/api/v1/bond/memories",
        Some(&her),
        None,
    )
    .await;
    assert_eq!(theirs["memories"], json!([]), "not together yet: {theirs}");
    // A photo with a caption: drawn on his page (no EXIF) and sealed with the caption.
    let photo_path = std::fs::canonicalize(GPS_PHOTO).expect("the photo");
    let photo_file = std::fs::read(&photo_path).unwrap();
    assert!(photo_file.windows(4).any(|w| w == b"Exif"));
    let caption = "the cobalt lighthouse at low tide";
    spike.fill("#memory-text", caption).await;
    spike
        .find("#memory-photo")
        .await
        .send_keys(photo_path.to_str().unwrap())
        .await
        .expect("choose the photo");
    spike.wait_text("#memories-mine", caption).await;
    eventually("his own journal photo shown", async || {
        let n = spike
            .js(
                "return [...document.querySelectorAll('#memories-mine img')]\
                 .filter((i) => i.complete && i.naturalWidth > 0).length;",
                vec![],
            )
            .await;
        ((n == json!(1)).then_some(()), format!("{n} photos shown"))
    })
    .await;

    // Together (she stands where he does): his entry opens to her, sealed, and her device
    // opens it; hers, sealed on her device, opens on his page.
    let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let fix = Fix {
        lat: HER.0,
        lon: HER.1,
        accuracy_m: 5.0,
        at_ms: now_ms,
    };
    report_as_library(server.addr, &her, &key, &fix).await;
    spike.wait_tier("memories", "open").await;
    let (status, theirs) = http(
        server.addr,
        "GET",
        "/api/v1/bond/memories",
        Some(&her),
        None,
    )
    .await;
    assert_eq!(status, 200, "{theirs}");
    let entry = &theirs["memories"][0];
    assert!(entry.get("body").is_none(), "{entry}");
    let (_, opened) = from(Role::Inviter)
        .open(&sealer, entry["sealed"].as_str().expect("sealed"))
        .expect("her device opens his entry");
    assert_eq!(opened, his.as_bytes());
    // His photo opens on her device: the caption, the entry's id, a JPEG without EXIF.
    let photo_entry = &theirs["memories"][1];
    assert_eq!(photo_entry["photo_sealed"], true, "{theirs}");
    let (status, _, sealed_photo) = http_bytes(
        server.addr,
        "GET",
        photo_entry["photo"].as_str().unwrap(),
        &her,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let photo_envelope = |role| Envelope {
        bond,
        from: role,
        kind: MEMORY_PHOTO,
    };
    let (_, content) = photo_envelope(Role::Inviter)
        .open_frame(&sealer, &sealed_photo)
        .expect("her device opens his photo");
    let content = PhotoContent::decode(&content).expect("a photo's content");
    assert_eq!(
        (content.id.as_str(), content.caption.as_deref()),
        (photo_entry["client_id"].as_str().unwrap(), Some(caption))
    );
    assert!(content.picture.starts_with(&[0xFF, 0xD8]), "not a JPEG");
    assert!(
        !content.picture.windows(4).any(|w| w == b"Exif"),
        "EXIF left his page"
    );
    let shown = image::load_from_memory(&content.picture).expect("a photo");
    assert_eq!(shown.width().max(shown.height()), 800);
    // Hers, a violet photo sealed on her device with its caption, shows on his page.
    let violet = [140, 60, 200];
    let her_caption = "the saffron kite above the pass";
    let her_photo = PhotoContent {
        id: "h-photo".into(),
        caption: Some(her_caption.into()),
        picture: solid_jpeg(320, 240, violet),
    };
    let sealed = photo_envelope(Role::Accepter)
        .seal_frame(&sealer, 2, &her_photo.encode())
        .unwrap();
    let (status, _, _) = http_bytes(
        server.addr,
        "POST",
        "/api/v1/me/memories/photos/sealed?id=h-photo",
        &her,
        Some(("application/octet-stream", sealed)),
    )
    .await;
    assert_eq!(status, 201);
    let hers = "the amber kite over the salt flats";
    let sealed = from(Role::Accepter)
        .seal(&sealer, 1, hers.as_bytes())
        .unwrap();
    let (status, body) = http(
        server.addr,
        "POST",
        "/api/v1/me/memories",
        Some(&her),
        Some(json!({"id": "h1", "sealed": sealed})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    // His page lists the journals again when it writes, as a person would see it.
    spike.fill("#memory-text", "a second line").await;
    spike.click("#memory-form button[type=submit]").await;
    spike.wait_text("#memories-theirs", hers).await;
    spike.wait_text("#memories-mine", "a second line").await;
    spike.wait_text("#memories-theirs", her_caption).await;
    wait_colour(&spike, "#memories-theirs img", violet).await;

    spike
        .check_at_both_widths(&axe, "private-journal", "a sealed journal")
        .await;

    // Nothing he wrote left his page in the clear, and the server kept none of it.
    for frame in everything_sent(&spike).await {
        for clear in ["jade", "second line", "cobalt", "\"body\":", "caption="] {
            assert!(!frame.contains(clear), "his page sent {clear:?}: {frame}");
        }
    }
    spike.quit().await;
    let data = server.stop().await;
    // Runs of both photos as shown (his as it left his page, hers) and of his file.
    let mut needles: Vec<Needle> = ["jade", "second line", "amber kite", "cobalt", "saffron"]
        .into_iter()
        .map(|said| Needle::Text(said.to_owned()))
        .collect();
    for (name, bytes) in [
        ("his photo as sealed", &content.picture),
        ("her photo", &her_photo.picture),
        ("his photo's file", &photo_file),
    ] {
        let middle = bytes.len() / 2;
        needles.push(Needle::Bytes(
            format!("{name}'s middle"),
            bytes[middle..middle + 32].to_vec(),
        ));
    }
    for (path, bytes) in &files_under(data.path()) {
        for needle in &needles {
            assert!(
                !needle.found_in(bytes),
                "{} holds {}",
                path.display(),
                needle.what()
            );
        }
    }
}

/// A JPEG of `width` × `height` pixels of one colour, as her device's camera would give.
fn solid_jpeg(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
    let img =
        image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(width, height, image::Rgb(rgb)));
    haurach_picture::encode(&img, 80).unwrap()
}

/// The colour at the middle of the image `css` on `page`, once it has loaded.
async fn middle_colour(page: &Browser, css: &str) -> Option<[u8; 3]> {
    let v = page
        .js(
            "const img = document.querySelector(arguments[0]); \
             if (!img || !img.complete || !img.naturalWidth) return null; \
             const c = document.createElement('canvas'); \
             c.width = img.naturalWidth; c.height = img.naturalHeight; \
             const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0); \
             const d = ctx.getImageData(c.width >> 1, c.height >> 1, 1, 1).data; \
             return [d[0], d[1], d[2]];",
            vec![json!(css)],
        )
        .await;
    let a = v.as_array()?;
    Some([0, 1, 2].map(|i| a[i].as_u64().unwrap_or(0) as u8))
}

/// Waits until the middle of `css` on `page` is `rgb`, give or take what JPEG changes.
async fn wait_colour(page: &Browser, css: &str, rgb: [u8; 3]) {
    eventually(format!("{css} showing {rgb:?}"), async || {
        let seen = middle_colour(page, css).await;
        let near = seen.is_some_and(|c| (0..3).all(|i| c[i].abs_diff(rgb[i]) <= 12));
        (near.then_some(()), format!("{seen:?}"))
    })
    .await;
}

/// Keeps the bytes of every binary frame the page sends from now on.
async fn record_binaries(page: &Browser) {
    page.js(
        "if (!window.__sentBinary) {
           window.__sentBinary = [];
           const send = WebSocket.prototype.send;
           WebSocket.prototype.send = function (data) {
             if (typeof data !== 'string') {
               const u = data instanceof Uint8Array ? data : new Uint8Array(data);
               let text = '';
               for (let i = 0; i < u.length; i += 4096) {
                 text += String.fromCharCode.apply(null, u.subarray(i, i + 4096));
               }
               window.__sentBinary.push(btoa(text));
             }
             return send.call(this, data);
           };
         }",
        vec![],
    )
    .await;
}

/// The binary frames the page sent since [`record_binaries`].
async fn binaries_sent(page: &Browser) -> Vec<Vec<u8>> {
    use base64::engine::general_purpose::STANDARD;
    let v = page.js("return window.__sentBinary ?? [];", vec![]).await;
    serde_json::from_value::<Vec<String>>(v)
        .unwrap()
        .iter()
        .map(|b| STANDARD.decode(b).unwrap())
        .collect()
}

/// Glimpses and the live sight travel sealed (kinds `glimpse` and `sight`): his page
/// seals its camera's frames and opens her device's (the library); a frame changed on
/// the way is said to be; his page's sight stops when they leave sight range and hers is
/// refused; and no JPEG either sent is in a frame the server passed on, in its data
/// directory or in its log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_and_the_library_exchange_sealed_glimpses_and_sight() {
    use haurach_proto::link::{Over, Trace};
    use haurach_proto::sealed::{Envelope, GLIMPSE, SIGHT, TRACE};

    let axe = tokio::task::spawn_blocking(axe_source).await.unwrap();
    let _serial = serial().await;
    let log = capture_log();
    let server = Server::start().await;
    let cd = Chromedriver::start("private-camera").await;
    let dir = tempfile::tempdir().unwrap();
    // 500 m from him, north: within sight (2 km in the story profile) for certain.
    let within = geo::destination(HER.0, HER.1, 0.0, 500.0);

    let spike = open_citizen(&cd, &server, "Spike", dir.path(), 390, HER).await;
    record_binaries(&spike).await;
    let her = citizen(server.addr, "amethyst").await;
    let (_, key) = bond_with_library(&spike, &server, &her).await;
    let link = LibraryLink::open(server.addr, &her).await;
    let sealer = haurach_private::Sealer::new(&key);
    let (_, view) = http(server.addr, "GET", "/api/v1/bond", Some(&her), None).await;
    let bond: uuid::Uuid = view["id"].as_str().unwrap().parse().unwrap();
    let from = |role, kind| Envelope {
        bond,
        from: role,
        kind,
    };
    let (status, body) = http(
        server.addr,
        "PUT",
        "/api/v1/me/camera",
        Some(&her),
        Some(json!({"allow": true})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let now_ms = || (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let fix = |at: (f64, f64)| Fix {
        lat: at.0,
        lon: at.1,
        accuracy_m: 5.0,
        at_ms: now_ms(),
    };

    // 5 km apart: glimpse open, sight closed. He lets her glimpse through his camera.
    report_as_library(server.addr, &her, &key, &fix(NEAR)).await;
    spike.wait_tier("glimpse", "open").await;
    spike.wait_shown("#eyes-title").await;
    spike.click("#camera-allow").await;
    spike
        .wait_attr("#camera-allow", "aria-checked", "true")
        .await;

    // She asks; he says yes; her device opens his glimpse: a JPEG no larger than the
    // side the server named, without metadata.
    link.send(json!({"type": "glimpse_ask"}));
    spike.wait_shown("#banner-glimpse-ask").await;
    spike.click("#glimpse-yes").await;
    let glimpse = eventually("his sealed glimpse on her link", async || {
        let got = link.binaries();
        let last = got.iter().find(|b| b[0] == 0x03).cloned();
        (last, format!("{} binary frames", got.len()))
    })
    .await;
    let (_, his_glimpse) = from(Role::Inviter, GLIMPSE)
        .open_frame(&sealer, &glimpse[17..])
        .expect("her device opens his glimpse");
    let img = image::load_from_memory(&his_glimpse).expect("a JPEG");
    // The server knows no distance: the side is the plain bond's at glimpse's edge.
    let edge =
        haurach_bond::images::rendition_side(Profile::Story, Profile::Story.strength(10_000.0))
            .of(u32::MAX);
    assert!(
        img.width().max(img.height()) <= edge,
        "{} × {}, more than {edge}",
        img.width(),
        img.height()
    );
    assert!(!his_glimpse.windows(4).any(|w| w == b"Exif"));
    let mut sent_jpegs = vec![his_glimpse.clone()];

    // He asks; her device answers with a magenta frame at the side the server names; his
    // page opens it and shows magenta.
    spike.click("#glimpse-ask").await;
    let side = link
        .wait("the ask on her link", |f| {
            (f["type"] == "glimpse_asked").then(|| f["side"].as_u64().unwrap() as u32)
        })
        .await;
    let magenta = [200, 30, 160];
    let jpeg = solid_jpeg(side, side * 3 / 4, magenta);
    let mut frame = vec![0x03];
    frame.extend(
        from(Role::Accepter, GLIMPSE)
            .seal_frame(&sealer, 1, &jpeg)
            .unwrap(),
    );
    link.send_binary(frame);
    sent_jpegs.push(jpeg);
    spike
        .wait_text("#glimpse-status", "blurred by the distance")
        .await;
    wait_colour(&spike, "#glimpse-img", magenta).await;
    // A glimpse changed on the way does not open, and his page says so.
    spike.click("#glimpse-ask").await;
    eventually("a second ask on her link", async || {
        let n = link
            .got
            .lock()
            .unwrap()
            .iter()
            .filter(|f| f["type"] == "glimpse_asked")
            .count();
        ((n >= 2).then_some(()), format!("{n} asks"))
    })
    .await;
    let jpeg = solid_jpeg(side, side * 3 / 4, [20, 20, 200]);
    let mut frame = vec![0x03];
    frame.extend(
        from(Role::Accepter, GLIMPSE)
            .seal_frame(&sealer, 2, &jpeg)
            .unwrap(),
    );
    let last = frame.len() - 1;
    frame[last] ^= 0x01;
    link.send_binary(frame);
    sent_jpegs.push(jpeg);
    spike
        .wait_text("#glimpse-status", "changed on the way")
        .await;
    // The glimpse before it is not left under those words, as if it were the changed one.
    assert!(
        !spike.shown("#glimpse-view").await,
        "a glimpse is still shown under \"changed on the way\""
    );

    // 500 m apart: sight opens; his camera streams sealed frames her device opens.
    report_as_library(server.addr, &her, &key, &fix(within)).await;
    spike.wait_tier("sight", "open").await;
    let his_sight = eventually("his sealed sight frames on her link", async || {
        let frames: Vec<Vec<u8>> = link
            .binaries()
            .into_iter()
            .filter(|b| b[0] == 0x04)
            .collect();
        (
            (frames.len() >= 2).then(|| frames.clone()),
            format!("{}", frames.len()),
        )
    })
    .await;
    for frame in &his_sight {
        // What the sealed frames weigh beside the bound at 240 pixels (the report's
        // figures; `--nocapture` shows them).
        eprintln!(
            "his sealed sight frame: {} bytes (bound {})",
            frame.len(),
            1 + haurach_proto::sealed::FRAME_OVERHEAD + haurach_bond::images::jpeg_bytes_bound(240)
        );
        let (_, jpeg) = from(Role::Inviter, SIGHT)
            .open_frame(&sealer, &frame[1..])
            .expect("her device opens his sight");
        let img = image::load_from_memory(&jpeg).expect("a JPEG");
        assert!(img.width().max(img.height()) <= 240, "{}", img.width());
        sent_jpegs.push(jpeg);
    }
    // Her camera's sight, green, reaches his page and shows.
    let green = [30, 180, 60];
    let jpeg = solid_jpeg(240, 180, green);
    let mut counter = 3;
    let mut sight = |jpeg: &[u8]| {
        counter += 1;
        let mut frame = vec![0x04];
        frame.extend(
            from(Role::Accepter, SIGHT)
                .seal_frame(&sealer, counter, jpeg)
                .unwrap(),
        );
        frame
    };
    link.send_binary(sight(&jpeg));
    sent_jpegs.push(jpeg.clone());
    spike.wait_text("#sight-status", "sees, live").await;
    wait_colour(&spike, "#sight-img", green).await;
    spike.wait_text("#sight-out", "amethyst sees you").await;
    // No sealed position from her yet, so no distance on his page: the strength is what
    // the open tiers prove, the plain bond's at sight's edge (2 km): 34 %, not 0.
    spike.wait_text("#strength-text", "34%").await;

    // Strokes travel sealed: his stroke over her sight reaches her device as a
    // `sealed_trace` it opens (the points and what they are drawn over inside the seal),
    // never as a `trace`; hers over his own camera view lands on his page.
    spike.record_sent_frames().await;
    let drawn = crate::sight::draw(&spike, "#sight-trace", 30, 15).await;
    let sealed = link
        .wait("his sealed stroke on her link", |f| {
            (f["type"] == "sealed_trace").then(|| f["sealed"].as_str().unwrap().to_owned())
        })
        .await;
    let (_, opened) = from(Role::Inviter, TRACE)
        .open(&sealer, &sealed)
        .expect("her device opens his stroke");
    let stroke: Trace = serde_json::from_slice(&opened).expect("a stroke");
    assert!(
        matches!(&stroke.over, Over::Sight(whose) if whose.eq_ignore_ascii_case("amethyst")),
        "{stroke:?}"
    );
    let [x, y] = stroke.points[0];
    let (x0, y0) = drawn[0];
    assert!(
        (f64::from(x) - x0).abs() < 0.05 && (f64::from(y) - y0).abs() < 0.05,
        "{stroke:?} starts away from {drawn:?}"
    );
    let clear: Vec<String> = spike
        .sent_frames()
        .await
        .into_iter()
        .filter(|f| f.contains("\"type\":\"trace\""))
        .collect();
    assert!(
        clear.is_empty(),
        "his page sent a stroke in the clear: {clear:?}"
    );
    let his_name = view["partner"].as_str().expect("his name").to_owned();
    let hers = Trace {
        over: Over::Sight(his_name),
        stroke: 1,
        points: vec![[0.5, 0.5], [0.8, 0.7]],
        end: true,
    };
    let sealed = from(Role::Accepter, TRACE)
        .seal(&sealer, 1_000, &serde_json::to_vec(&hers).unwrap())
        .unwrap();
    link.send(json!({"type": "sealed_trace", "sealed": sealed}));
    crate::sight::wait_stroke(&spike, "#sight-self-trace", [(0.5, 0.5), (0.8, 0.7)]).await;

    spike
        .check_at_both_widths(&axe, "private-camera", "sealed glimpse and sight")
        .await;

    // A sight frame changed on the way (sent after the rate allows another) is said to be.
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let mut bad = sight(&jpeg);
    bad[20] ^= 0x01;
    link.send_binary(bad);
    spike.wait_text("#sight-status", "changed on the way").await;

    // 40 km apart: sight closes, his camera stops, and hers is refused.
    report_as_library(server.addr, &her, &key, &fix(FAR)).await;
    spike.wait_tier("sight", "closed").await;
    spike.wait_hidden("#sight-view").await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let count = || link.binaries().iter().filter(|b| b[0] == 0x04).count();
    let (settled, sent_then) = (count(), binaries_sent(&spike).await.len());
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(count(), settled, "his sight reached her out of range");
    assert_eq!(
        binaries_sent(&spike).await.len(),
        sent_then,
        "his page sent sight out of range"
    );
    link.send_binary(sight(&jpeg));
    link.wait("her sight refused", |f| {
        (f["type"] == "error" && f["problem"]["code"] == "tier_closed").then_some(())
    })
    .await;

    // Nothing in the clear: his page sent only sealed camera frames, and no JPEG either
    // side sent (its header, and a run of its middle) is in a frame the server passed on,
    // in its data directory or in its log.
    let sent = binaries_sent(&spike).await;
    assert!(sent.len() >= 3, "{} binary frames", sent.len());
    assert!(
        sent.iter().all(|b| b[0] == 0x03 || b[0] == 0x04),
        "his page sent a camera frame in the clear: {:?}",
        sent.iter().map(|b| b[0]).collect::<Vec<_>>()
    );
    let needles: Vec<Needle> = sent_jpegs
        .iter()
        .enumerate()
        .flat_map(|(n, jpeg)| {
            let middle = jpeg.len() / 2;
            [
                Needle::Bytes(format!("JPEG {n}'s header"), jpeg[..32].to_vec()),
                Needle::Bytes(
                    format!("JPEG {n}'s middle"),
                    jpeg[middle..middle + 32].to_vec(),
                ),
            ]
        })
        .collect();
    let relayed = link.binaries();
    assert!(relayed.len() >= 4, "{} frames relayed", relayed.len());
    spike.quit().await;
    let data = server.stop().await;
    let log = log.lock().unwrap().clone();
    let mut hays: Vec<(String, Vec<u8>)> = Vec::new();
    hays.extend(
        sent.into_iter()
            .map(|b| ("a frame his page sent".to_owned(), b)),
    );
    hays.extend(
        relayed
            .into_iter()
            .map(|b| ("a frame the server passed her".to_owned(), b)),
    );
    hays.extend(
        files_under(data.path())
            .into_iter()
            .map(|(path, bytes)| (path.display().to_string(), bytes)),
    );
    hays.push(("the server's log".to_owned(), log));
    for (what, hay) in &hays {
        for needle in &needles {
            assert!(!needle.found_in(hay), "{what} holds {}", needle.what());
        }
    }
}

/// The real photo with GPS in its EXIF (see `crates/picture/tests/picture.rs`): 800 × 600.
const GPS_PHOTO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../picture/tests/gps-photo.jpg"
);

/// One request to the server with a body of bytes: its status, its `haurach-side` header
/// (0 when there is none) and its body's bytes.
async fn http_bytes(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    body: Option<(&str, Vec<u8>)>,
) -> (u16, u32, Vec<u8>) {
    let (method, path, token) = (method.to_owned(), path.to_owned(), token.to_owned());
    let body = body.map(|(t, b)| (t.to_owned(), b));
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).expect("connect to the server");
        let (kind, bytes) = body.unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
             Authorization: Bearer {token}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\r\n",
            bytes.len()
        )
        .expect("send the request");
        stream.write_all(&bytes).expect("send the body");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).expect("read the answer");
        let split = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a head");
        let head = String::from_utf8_lossy(&response[..split]).to_ascii_lowercase();
        let status: u16 = head[9..12].parse().expect("a status");
        let side = head
            .lines()
            .find_map(|l| l.strip_prefix("haurach-side: "))
            .map_or(0, |v| v.trim().parse().unwrap());
        let mut rest = response[split + 4..].to_vec();
        if head.contains("transfer-encoding: chunked") {
            let mut out = Vec::new();
            let mut at = 0;
            loop {
                let eol = at + rest[at..].windows(2).position(|w| w == b"\r\n").unwrap();
                let n =
                    usize::from_str_radix(std::str::from_utf8(&rest[at..eol]).unwrap().trim(), 16)
                        .unwrap();
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&rest[eol + 2..eol + 2 + n]);
                at = eol + 2 + n + 2;
            }
            rest = out;
        }
        (status, side, rest)
    })
    .await
    .unwrap()
}

/// Keeps the bytes of every request body of bytes the page sends from now on (a sealed
/// picture's upload), and says which requests sent a file as it was chosen.
async fn record_uploads(page: &Browser) {
    page.js(
        "if (!window.__uploads) {
           window.__uploads = [];
           const f = window.fetch;
           window.fetch = function (url, init) {
             const body = init?.body;
             if (body instanceof Blob) {
               window.__uploads.push({ url: String(url), file: true, bytes: '' });
             } else if (body instanceof Uint8Array || body instanceof ArrayBuffer) {
               const u = body instanceof Uint8Array ? body : new Uint8Array(body);
               let text = '';
               for (let i = 0; i < u.length; i += 4096) {
                 text += String.fromCharCode.apply(null, u.subarray(i, i + 4096));
               }
               window.__uploads.push({ url: String(url), file: false, bytes: btoa(text) });
             }
             return f.apply(this, arguments);
           };
         }",
        vec![],
    )
    .await;
}

/// The request bodies of bytes the page sent since [`record_uploads`]: `(url, sent as
/// the file chosen, bytes)`.
async fn uploads_sent(page: &Browser) -> Vec<(String, bool, Vec<u8>)> {
    use base64::engine::general_purpose::STANDARD;
    let v = page.js("return window.__uploads ?? [];", vec![]).await;
    v.as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["url"].as_str().unwrap().to_owned(),
                u["file"].as_bool().unwrap(),
                STANDARD.decode(u["bytes"].as_str().unwrap()).unwrap(),
            )
        })
        .collect()
}

/// A picture her device (the library) sends sealed, as the CLI's `send-image` does: its
/// renditions at every rung below its longest side and itself, sealed under `counter`.
/// The server's answer, and the JPEG of each rendition.
async fn send_picture_as_library(
    addr: SocketAddr,
    her: &str,
    sealer: &haurach_private::Sealer,
    bond: uuid::Uuid,
    counter: u64,
    id: &str,
    jpeg: &[u8],
) -> (Value, Vec<Vec<u8>>) {
    use haurach_proto::sealed_pictures::{self, MEDIA_TYPE, PictureContent};
    let (width, height) = haurach_picture::dimensions(jpeg).unwrap();
    let longest = width.max(height);
    let mut sealed = Vec::new();
    let mut jpegs = Vec::new();
    for side in sealed_pictures::sides_for(longest) {
        let bytes = if side == longest {
            jpeg.to_vec()
        } else {
            haurach_picture::render(jpeg, side).unwrap()
        };
        let (width, height) = haurach_picture::dimensions(&bytes).unwrap();
        let content = PictureContent {
            id: id.to_owned(),
            side,
            width,
            height,
            media_type: "image/jpeg".into(),
            bytes: bytes.clone(),
        };
        sealed.push((
            side,
            sealed_pictures::seal(sealer, bond, Role::Accepter, counter, &content).unwrap(),
        ));
        jpegs.push(bytes);
    }
    let (status, _, body) = http_bytes(
        addr,
        "POST",
        &format!("/api/v1/bond/images/sealed?id={id}"),
        her,
        Some((MEDIA_TYPE, sealed_pictures::write_upload(&sealed))),
    )
    .await;
    let view: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 201, "{view}");
    (view, jpegs)
}

/// The natural width of picture `id` as `page` shows it (0 while none is shown).
async fn picture_width(page: &Browser, id: &str) -> u64 {
    page.js(
        "const img = document.querySelector(`#gallery figure[data-id='${arguments[0]}'] img`); \
         return img && img.getAttribute('src') && img.complete ? img.naturalWidth : 0;",
        vec![json!(id)],
    )
    .await
    .as_u64()
    .unwrap_or(0)
}

async fn wait_picture_width(page: &Browser, id: &str, want: u64) {
    eventually(format!("picture {id} {want} px wide"), async || {
        let w = picture_width(page, id).await;
        ((w == want).then_some(()), format!("{w} px"))
    })
    .await;
}

/// A JPEG of `width` × `height` pixels, `rgb` in its middle half and noise (from `seed`)
/// around it: a picture whose every run of bytes is its own, unlike one of a single
/// colour, whose repeating bytes another file could hold too.
fn noisy_jpeg(width: u32, height: u32, rgb: [u8; 3], seed: u32) -> Vec<u8> {
    let mut state = seed;
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let inside =
            (width / 4..3 * width / 4).contains(&x) && (height / 4..3 * height / 4).contains(&y);
        if inside {
            image::Rgb(rgb)
        } else {
            let [a, b, c, _] = state.to_be_bytes();
            image::Rgb([a, b, c])
        }
    });
    haurach_picture::encode(&image::DynamicImage::ImageRgb8(img), 80).unwrap()
}

/// Pictures travel sealed (kind `picture`) between a page and the library, as the CLI
/// seals them: his page strips and cuts the photo it is given and sends only sealed
/// renditions, which her device opens at the side the server serves (no EXIF); the page
/// opens the pictures her device sends, and shows the larger copy once they come
/// together; a copy changed on the server's disk is said to be and not shown; and no run
/// of a JPEG either sent, nor of the photo file, is in what the page sent, in the
/// server's data directory or in its log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_and_the_library_exchange_sealed_pictures() {
    use haurach_proto::link::{Over, Trace};
    use haurach_proto::sealed::TRACE;
    use haurach_proto::sealed_pictures;

    let axe = tokio::task::spawn_blocking(axe_source).await.unwrap();
    let _serial = serial().await;
    let log = capture_log();
    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path().to_owned();
    let server = Server::start_on(data_dir, "127.0.0.1:0".parse().unwrap()).await;
    let cd = Chromedriver::start("private-pictures").await;
    let dir = tempfile::tempdir().unwrap();
    // 500 m from him, north: within sight (2 km in the story profile) for certain.
    let within = geo::destination(HER.0, HER.1, 0.0, 500.0);

    let spike = open_citizen(&cd, &server, "Spike", dir.path(), 390, HER).await;
    record_uploads(&spike).await;
    let her = citizen(server.addr, "amethyst").await;
    let (_, key) = bond_with_library(&spike, &server, &her).await;
    let link = LibraryLink::open(server.addr, &her).await;
    let sealer = haurach_private::Sealer::new(&key);
    let (_, view) = http(server.addr, "GET", "/api/v1/bond", Some(&her), None).await;
    let bond: uuid::Uuid = view["id"].as_str().unwrap().parse().unwrap();
    let now_ms = || (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let fix = |at: (f64, f64)| Fix {
        lat: at.0,
        lon: at.1,
        accuracy_m: 5.0,
        at_ms: now_ms(),
    };
    // The server knows no distance: a picture's side is the plain bond's at the edge of
    // the narrowest tier open.
    let side_at = |range_m: f64| {
        haurach_bond::images::rendition_side(Profile::Story, Profile::Story.strength(range_m))
            .of(800)
    };
    let far_side = side_at(10_000.0);
    assert!(far_side < 800, "{far_side}");

    // 5 km apart: glimpse open, sight closed. His page sends the photo.
    report_as_library(server.addr, &her, &key, &fix(NEAR)).await;
    spike.wait_tier("glimpse", "open").await;
    spike.wait_shown("#pictures-title").await;
    let photo_path = std::fs::canonicalize(GPS_PHOTO).expect("the photo");
    let photo = std::fs::read(&photo_path).unwrap();
    assert!(photo.windows(4).any(|w| w == b"Exif"));
    spike
        .find("#image-file")
        .await
        .send_keys(photo_path.to_str().unwrap())
        .await
        .expect("choose the file");
    spike
        .wait_text("#image-status", "sealed on this device")
        .await;
    // His own picture shows whole on his page, opened from what the server keeps.
    let (_, list) = http(server.addr, "GET", "/api/v1/bond/images", Some(&her), None).await;
    let his = list["images"][0].clone();
    assert_eq!(his["sealed"], true, "{list}");
    let his_id = his["id"].as_str().unwrap().to_owned();
    let his_client_id = his["client_id"].as_str().unwrap().to_owned();
    wait_picture_width(&spike, &his_id, 800).await;

    // Her device opens it at the side the server serves, without metadata.
    let open_his = async |side: Option<u32>| {
        let path = match side {
            Some(side) => format!("/api/v1/bond/images/{his_id}/picture?side={side}"),
            None => format!("/api/v1/bond/images/{his_id}/picture"),
        };
        let (status, served, bytes) = http_bytes(server.addr, "GET", &path, &her, None).await;
        assert_eq!(status, 200);
        let content =
            sealed_pictures::open(&sealer, bond, Role::Inviter, &his_client_id, served, &bytes)
                .expect("her device opens his picture");
        let img = image::load_from_memory(&content.bytes).expect("a JPEG");
        assert_eq!(content.media_type, "image/jpeg");
        assert_eq!((img.width(), img.height()), (content.width, content.height));
        assert_eq!(img.width().max(img.height()), served);
        assert!(
            !content.bytes.windows(4).any(|w| w == b"Exif"),
            "his picture at {served} px holds EXIF"
        );
        (served, content.bytes)
    };
    let (served, small) = open_his(None).await;
    assert_eq!(served, far_side, "5 km apart");
    let mut jpegs = vec![small];

    // Her device sends two pictures, sealed; his page opens them at the small side.
    let orange = [230, 120, 20];
    let teal = [20, 150, 150];
    let (a, a_jpegs) = send_picture_as_library(
        server.addr,
        &her,
        &sealer,
        bond,
        1,
        "her-orange",
        &noisy_jpeg(800, 600, orange, 1),
    )
    .await;
    let (b, b_jpegs) = send_picture_as_library(
        server.addr,
        &her,
        &sealer,
        bond,
        2,
        "her-teal",
        &noisy_jpeg(800, 600, teal, 2),
    )
    .await;
    let violet = [120, 40, 200];
    let (c, c_jpegs) = send_picture_as_library(
        server.addr,
        &her,
        &sealer,
        bond,
        3,
        "her-violet",
        &noisy_jpeg(800, 600, violet, 3),
    )
    .await;
    jpegs.extend(a_jpegs);
    jpegs.extend(b_jpegs);
    jpegs.extend(c_jpegs);
    let (a, b, c) = (
        a["id"].as_str().unwrap().to_owned(),
        b["id"].as_str().unwrap().to_owned(),
        c["id"].as_str().unwrap().to_owned(),
    );
    let figure = |id: &str| format!("#gallery figure[data-id='{id}']");
    wait_picture_width(&spike, &a, u64::from(far_side)).await;
    wait_picture_width(&spike, &b, u64::from(far_side)).await;
    wait_colour(&spike, &format!("{} img", figure(&a)), orange).await;
    wait_colour(&spike, &format!("{} img", figure(&b)), teal).await;
    wait_colour(&spike, &format!("{} img", figure(&c)), violet).await;
    spike
        .wait_text(
            &format!("{} figcaption", figure(&a)),
            &format!("{far_side} of 800 pixels"),
        )
        .await;
    let found = spike.axe_violations(&axe).await;
    assert!(
        found.is_empty(),
        "sealed pictures, far, at a phone's width: {found:#?}"
    );
    spike.shot("private-pictures-far-phone").await;

    // The teal picture's full size is changed on the server's disk.
    let full = data.join(format!("images/{b}/s800.sealed"));
    let mut bytes = std::fs::read(&full).expect("the teal picture's full size on disk");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&full, bytes).unwrap();
    // The violet one's full size is its 128-pixel rung, passed off as the full size: it
    // opens, but is not the side the server says.
    let small = std::fs::read(data.join(format!("images/{c}/s128.sealed"))).unwrap();
    std::fs::write(data.join(format!("images/{c}/s800.sealed")), small).unwrap();

    // 500 m apart: sight opens. His page shows the orange picture whole, and says the teal
    // one was changed on the way, showing nothing of it.
    report_as_library(server.addr, &her, &key, &fix(within)).await;
    spike.wait_tier("sight", "open").await;
    wait_picture_width(&spike, &a, 800).await;
    wait_colour(&spike, &format!("{} img", figure(&a)), orange).await;
    spike
        .wait_text(&format!("{} figcaption", figure(&a)), "full size")
        .await;
    spike
        .wait_text(
            "#image-status",
            "A picture from amethyst was changed on the way, so it is not shown.",
        )
        .await;
    spike
        .wait_text(
            &format!("{} figcaption", figure(&b)),
            "amethyst · changed on the way, so it is not shown",
        )
        .await;
    assert_eq!(
        picture_width(&spike, &b).await,
        0,
        "the teal picture is still shown under \"changed on the way\""
    );
    assert!(!spike.shown(&format!("{} img", figure(&b))).await);
    spike
        .wait_text(
            &format!("{} figcaption", figure(&c)),
            "amethyst · changed on the way, so it is not shown",
        )
        .await;
    assert_eq!(
        picture_width(&spike, &c).await,
        0,
        "a small rung passed off as the full size is shown"
    );
    // A stroke over a sealed picture travels sealed too: her device opens it, drawn over
    // that picture; no stroke leaves his page in the clear.
    let drawn = crate::sight::draw(&spike, &format!("{} .trace", figure(&a)), 30, 15).await;
    let sealed = link
        .wait("his sealed stroke over her picture", |f| {
            (f["type"] == "sealed_trace").then(|| f["sealed"].as_str().unwrap().to_owned())
        })
        .await;
    let (_, opened) = Envelope {
        bond,
        from: Role::Inviter,
        kind: TRACE,
    }
    .open(&sealer, &sealed)
    .expect("her device opens his stroke");
    let stroke: Trace = serde_json::from_slice(&opened).expect("a stroke");
    assert!(
        matches!(stroke.over, Over::Image(id) if id.to_string() == a),
        "{stroke:?} is not over {a}"
    );
    let [x, y] = stroke.points[0];
    assert!(
        (f64::from(x) - drawn[0].0).abs() < 0.05 && (f64::from(y) - drawn[0].1).abs() < 0.05,
        "{stroke:?} starts away from {drawn:?}"
    );
    spike
        .check_at_both_widths(&axe, "private-pictures", "sealed pictures")
        .await;

    // Her device now opens his picture whole, and each smaller rendition it asks for.
    let (served, whole) = open_his(None).await;
    assert_eq!(served, 800, "together");
    jpegs.push(whole);
    for side in sealed_pictures::sides_for(800) {
        let (served, jpeg) = open_his(Some(side)).await;
        assert_eq!(served, side);
        jpegs.push(jpeg);
    }

    // Nothing in the clear: his page sent the picture once, sealed, never the file; and no
    // run of any JPEG either side made, nor of the photo file, is in what his page sent,
    // in the server's data directory or in its log.
    let uploads = uploads_sent(&spike).await;
    assert!(
        uploads
            .iter()
            .all(|(url, file, _)| !file && url.contains("/images/sealed?")),
        "his page sent a picture in the clear: {:?}",
        uploads.iter().map(|(u, f, _)| (u, f)).collect::<Vec<_>>()
    );
    assert_eq!(uploads.len(), 1, "one upload");
    let sent = everything_sent(&spike).await;
    assert!(
        !sent.iter().any(|f| f.contains("\"type\":\"trace\"")),
        "his page sent a stroke in the clear"
    );
    let mut needles: Vec<Needle> = jpegs
        .iter()
        .enumerate()
        .flat_map(|(n, jpeg)| {
            let middle = jpeg.len() / 2;
            [
                Needle::Bytes(format!("JPEG {n}'s header"), jpeg[..32].to_vec()),
                Needle::Bytes(
                    format!("JPEG {n}'s middle"),
                    jpeg[middle..middle + 32].to_vec(),
                ),
                Needle::Bytes(format!("JPEG {n}'s end"), jpeg[jpeg.len() - 32..].to_vec()),
            ]
        })
        .collect();
    let exif = photo.windows(4).position(|w| w == b"Exif").unwrap();
    for (what, at) in [
        ("header", 0),
        ("EXIF", exif),
        ("middle", photo.len() / 2),
        ("end", photo.len() - 32),
    ] {
        needles.push(Needle::Bytes(
            format!("the photo file's {what}"),
            photo[at..at + 32].to_vec(),
        ));
    }
    spike.quit().await;
    let data_dir = server.stop().await;
    let log = log.lock().unwrap().clone();
    let mut hays: Vec<(String, Vec<u8>)> = Vec::new();
    hays.extend(
        uploads
            .into_iter()
            .map(|(url, _, bytes)| (format!("his page's upload {url}"), bytes)),
    );
    hays.extend(sent.into_iter().map(|s| {
        (
            "a frame or request his page sent".to_owned(),
            s.into_bytes(),
        )
    }));
    hays.extend(
        files_under(data_dir.path())
            .into_iter()
            .map(|(path, bytes)| (path.display().to_string(), bytes)),
    );
    hays.push(("the server's log".to_owned(), log));
    for (what, hay) in &hays {
        for needle in &needles {
            assert!(!needle.found_in(hay), "{what} holds {}", needle.what());
        }
    }
}

/// Regression for issue 20's open question ("neither client refuses a counter it has
/// seen"): the partner's device (the library) seals words, positions and thoughts once,
/// and each reaches the page a second time elsewhere, as a server that replays them
/// would send them: the words stored again as a new message, an older sealed position
/// kept as the latest, an older thought relayed again. The page shows none of them
/// again and says the server sent them again; reloaded (the history fetched again, the
/// link resumed), it still shows the words once, at their own number. And the page's
/// rule (`privatebond.judgeSeen`) gives the library's verdicts (`haurach_private::Seen`)
/// on a long scripted run, beyond its window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_refuses_what_the_server_sends_again_and_shows_a_resumed_message_once() {
    use haurach_private::{Place, Seen, Verdict};
    use haurach_proto::sealed::THOUGHT;

    let axe = tokio::task::spawn_blocking(axe_source).await.unwrap();
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("private-replays").await;
    let dir = tempfile::tempdir().unwrap();
    let spike = open_citizen(&cd, &server, "Spike", dir.path(), 390, HER).await;
    let her = citizen(server.addr, "amethyst").await;
    let (_, key) = bond_with_library(&spike, &server, &her).await;
    let link = LibraryLink::open(server.addr, &her).await;
    let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let fix = Fix {
        lat: NEAR.0,
        lon: NEAR.1,
        accuracy_m: 5.0,
        at_ms: now_ms,
    };
    report_as_library(server.addr, &her, &key, &fix).await;
    spike.wait_tier("thoughts", "open").await;
    let (_, bond_view) = http(server.addr, "GET", "/api/v1/bond", Some(&her), None).await;
    let bond: uuid::Uuid = bond_view["id"].as_str().unwrap().parse().unwrap();
    let sealer = haurach_private::Sealer::new(&key);
    let from_her = |kind| Envelope {
        bond,
        from: Role::Accepter,
        kind,
    };
    let post = async |id: &str, kind: &str, sealed: &str| {
        let message = json!({"id": id, "kind": kind, "sealed": sealed});
        let (status, body) = http(
            server.addr,
            "POST",
            "/api/v1/bond/messages",
            Some(&her),
            Some(message),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        body["seq"].as_i64().unwrap()
    };

    // Her words, once, then the same sealed string again as a new message.
    let words = "the amber heron is here";
    let sealed = from_her("voice")
        .seal(&sealer, 1, words.as_bytes())
        .unwrap();
    let first = post("her-1", "voice", &sealed).await;
    spike
        .wait_text("#latest", &format!("amethyst: “{words}”"))
        .await;
    let again = post("her-1-again", "voice", &sealed).await;
    assert!(again > first, "a new number: {first} then {again}");
    let replayed = "(sealed, and sent before: the server sent it again, so it is not shown)";
    spike.wait_text("#history", replayed).await;
    // Not news: the newest line still gives her words.
    let latest = spike.text("#latest").await;
    assert!(latest.contains(words), "{latest}");
    assert_eq!(spike.count_messages(words).await, 1);
    assert_eq!(spike.count_messages(replayed).await, 1);

    // Her position, twice; then the server keeps the older one as her latest.
    let put_fix = async |counter: u64, lat: f64| {
        let content = FixContent {
            lat,
            lon: NEAR.1,
            reach_m: 2_000.0,
            exact: false,
            stretch: None,
        };
        let sealed = from_her(POSITION)
            .seal(&sealer, counter, &content.to_bytes())
            .unwrap();
        let (status, body) = http(
            server.addr,
            "PUT",
            "/api/v1/me/sealed-fix",
            Some(&her),
            Some(json!({ "sealed": sealed })),
        )
        .await;
        assert_eq!(status, 204, "{body}");
        sealed
    };
    let older = put_fix(2, NEAR.0).await;
    spike.wait_text("#pull-text", "5.0 km").await;
    put_fix(3, FAR.0).await;
    spike.wait_text("#pull-text", "40 km").await;
    let (status, body) = http(
        server.addr,
        "PUT",
        "/api/v1/me/sealed-fix",
        Some(&her),
        Some(json!({ "sealed": older })),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    spike
        .wait_text(
            "#banner-notice-text",
            "The server sent an earlier position of amethyst's again, so it is not shown.",
        )
        .await;
    let pull = spike.text("#pull-text").await;
    assert!(pull.contains("40 km"), "the newer one stays: {pull}");

    // Her thoughts: the newest again shows as it is; an older one again does not.
    let thought = |counter: u64, text: &str| {
        let sealed = from_her(THOUGHT)
            .seal(&sealer, counter, text.as_bytes())
            .unwrap();
        link.send(json!({"type": "sealed_thought", "sealed": sealed.clone()}));
        sealed
    };
    let old_thought = thought(4, "the heron lands");
    spike.wait_text("#partner-thought", "the heron lands").await;
    thought(5, "the heron flies off");
    spike
        .wait_text("#partner-thought", "the heron flies off")
        .await;
    link.send(json!({"type": "sealed_thought", "sealed": old_thought}));
    spike
        .wait_text(
            "#partner-guard",
            "The server sent an earlier thought of amethyst's again, so it is not shown.",
        )
        .await;
    assert_eq!(
        spike.text("#partner-thought").await.trim(),
        "the heron flies off"
    );

    // How it looks, at a phone's width and a desktop's.
    spike
        .check_at_both_widths(&axe, "private-replay", "what the server sent again")
        .await;

    // Reloaded: the history is fetched again and the link resumes. The words show once,
    // at their own number; the copy is still said to be sent again.
    spike.driver.refresh().await.expect("reload the page");
    spike.wait_text("#private-status", "Keys confirmed").await;
    spike.wait_text("#history", words).await;
    spike.wait_text("#history", replayed).await;
    assert_eq!(spike.count_messages(words).await, 1);
    assert_eq!(spike.count_messages(replayed).await, 1);
    let history = spike.text("#history").await;
    assert!(
        history.find(words).unwrap() < history.find(replayed).unwrap(),
        "the words at their own number, before the copy: {history}"
    );
    // The server still keeps the older position as her latest: opened again after the
    // reload, it is still refused, and no pull is made from it.
    spike
        .wait_text(
            "#banner-notice-text",
            "The server sent an earlier position of amethyst's again, so it is not shown.",
        )
        .await;
    let pull = spike.text("#pull-text").await;
    assert!(pull.contains("Waiting for amethyst's position"), "{pull}");

    // The page's rule is the library's, step by step: messages honest and replayed,
    // resumed, beyond the window, and positions old and new.
    let mut seen = Seen::default();
    let mut script = Vec::new();
    let mut expected = Vec::new();
    let n = haurach_private::seen::MESSAGE_WINDOW as u64 + 40;
    let mut step = |counter: u64, place: Place<'_>| {
        let verdict = seen.open(counter, place).0;
        script.push(match place {
            Place::Message(seq) => json!([counter, { "seq": seq }]),
            Place::Latest(kind) => json!([counter, { "kind": kind }]),
        });
        expected.push(match verdict {
            Verdict::Fresh => "fresh",
            Verdict::Again => "again",
            Verdict::Replayed => "replayed",
            Verdict::Older => "older",
        });
    };
    for i in 0..n {
        step(3 * i + 1, Place::Message(2 * i as i64 + 10));
        if i % 7 == 0 {
            step(3 * i + 2, Place::Latest("position"));
        }
        if i % 50 == 0 && i > 0 {
            step(3 * (i / 2) + 1, Place::Message(2 * (i / 2) as i64 + 10));
            step(
                3 * (i / 2) + 1,
                Place::Message(2 * n as i64 + 10 + i as i64),
            );
            step(
                3 * (i / 2) + 2 - 3 * ((i / 2) % 7),
                Place::Latest("position"),
            );
            step(3 * i + 4, Place::Message(2 * i as i64 + 10));
        }
    }
    step(1, Place::Message(10));
    step(1, Place::Message(2 * n as i64 + 10_000));
    assert!(expected.contains(&"replayed") && expected.contains(&"older"));
    let got = spike
        .driver
        .execute_async(
            r#"const [script, done] = [arguments[0], arguments[arguments.length - 1]];
            import("/assets/privatebond.js").then((b) => {
              const seen = {};
              done(script.map(([counter, place]) => b.judgeSeen(seen, counter, place)));
            });"#,
            vec![json!(script)],
        )
        .await
        .unwrap();
    let got: Vec<String> = serde_json::from_value(got.json().clone()).unwrap();
    assert_eq!(got.len(), expected.len());
    for (idx, (got, want)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(got, want, "step {idx}: {}", script[idx]);
    }
    spike.quit().await;
}

/// A private bond's place news and meeting point (`docs/privacy.md`, "Sealed places and
/// the meeting point"), sealed by the partner's device (the library, as the CLI seals
/// them) at 40 km, open in the page's history as a plain bond's notices say them, never
/// as their JSON; one changed on the way is said to be so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_opens_a_private_bonds_sealed_place_news_and_meeting_point() {
    use haurach_proto::sealed::{MeetingContent, PlaceContent};

    let axe = tokio::task::spawn_blocking(axe_source).await.unwrap();
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("private-places").await;
    let dir = tempfile::tempdir().unwrap();
    let spike = open_citizen(&cd, &server, "Spike", dir.path(), 390, HER).await;
    let her = citizen(server.addr, "amethyst").await;
    let (_, key) = bond_with_library(&spike, &server, &her).await;
    let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let fix = Fix {
        lat: FAR.0,
        lon: FAR.1,
        accuracy_m: 5.0,
        at_ms: now_ms,
    };
    report_as_library(server.addr, &her, &key, &fix).await;
    let (_, bond_view) = http(server.addr, "GET", "/api/v1/bond", Some(&her), None).await;
    let bond: uuid::Uuid = bond_view["id"].as_str().unwrap().parse().unwrap();
    let sealer = haurach_private::Sealer::new(&key);
    let seal = |kind: &str, counter: u64, content: &[u8]| {
        Envelope {
            bond,
            from: Role::Accepter,
            kind,
        }
        .seal(&sealer, counter, content)
        .unwrap()
    };
    let post = async |id: &str, kind: &str, sealed: &str| {
        let message = json!({"id": id, "kind": kind, "sealed": sealed});
        let (status, body) = http(
            server.addr,
            "POST",
            "/api/v1/bond/messages",
            Some(&her),
            Some(message),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    };

    let news = PlaceContent {
        place: "the jade orchard".into(),
        event: haurach_proto::PlaceEvent::Arrived,
        at: time::OffsetDateTime::now_utc(),
        position: None,
    };
    post("p1", "place", &seal("place", 1, &news.to_bytes())).await;
    spike
        .wait_text("#history", "arrived at the jade orchard")
        .await;
    let pin = MeetingContent::Pinned {
        lat: -61.213468,
        lon: -7.662817,
        name: Some("the umber bridge".into()),
    };
    post("m1", "meeting", &seal("meeting", 2, &pin.to_bytes())).await;
    spike
        .wait_text(
            "#history",
            "pinned the meeting point: the umber bridge (-61.21347, -7.66282)",
        )
        .await;
    post(
        "m2",
        "meeting",
        &seal("meeting", 3, &MeetingContent::Reached.to_bytes()),
    )
    .await;
    spike
        .wait_text("#history", "reached the meeting point")
        .await;
    // Changed on the way: a character in the middle of the sealed bytes.
    let mut tampered = seal("place", 4, &news.to_bytes()).into_bytes();
    tampered[60] = if tampered[60] == b'A' { b'B' } else { b'A' };
    post("p2", "place", &String::from_utf8(tampered).unwrap()).await;
    spike
        .wait_text(
            "#history",
            "sent place news (sealed, and it does not open: it was changed on the way)",
        )
        .await;
    let history = spike.text("#history").await;
    assert!(
        history.contains("amethyst") && !history.contains('{') && !history.contains("\"place\""),
        "{history}"
    );
    assert_eq!(spike.count_messages("arrived at the jade orchard").await, 1);

    spike
        .check_at_both_widths(&axe, "private-places", "place news and the meeting point")
        .await;
    spike.quit().await;
}

/// `text` as a QR code: its modules, dark or light, row by row, and its width (without
/// the quiet zone).
fn qr_modules(text: &str) -> (Vec<bool>, usize) {
    let qr = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M).unwrap();
    let dark = qr
        .to_colors()
        .iter()
        .map(|c| *c == qrcode::Color::Dark)
        .collect();
    (dark, qr.width())
}

/// Grey pixels of a QR code (`modules`, `n` wide) drawn `module` pixels a module, with a
/// quiet zone of four modules, centred on a `w` × `h` light frame: luma, row by row.
fn qr_pixels((modules, n): &(Vec<bool>, usize), module: usize, w: usize, h: usize) -> Vec<u8> {
    let side = (n + 8) * module;
    assert!(side <= w && side <= h, "{side} px does not fit {w} × {h}");
    let (x0, y0) = ((w - side) / 2 + 4 * module, (h - side) / 2 + 4 * module);
    let mut luma = vec![235u8; w * h];
    for (i, dark) in modules.iter().enumerate() {
        if !dark {
            continue;
        }
        let (mx, my) = (i % n, i / n);
        for y in 0..module {
            let row = (y0 + my * module + y) * w;
            let x = x0 + mx * module;
            luma[row + x..row + x + module].fill(16);
        }
    }
    luma
}

/// The accept form reads a partner's private invite from a QR code in the page itself,
/// through the camera (Chromium's fake camera, playing a video of the QR code a partner's
/// screen shows) and from a picture, fills the code in and accepts nothing by itself;
/// another QR code fills nothing in; the code goes to no server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_accept_form_reads_a_private_invite_from_the_camera_and_from_a_picture() {
    let axe = tokio::task::spawn_blocking(axe_source).await.unwrap();
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("private-scan").await;
    let dir = tempfile::tempdir().unwrap();

    // Amethyst's device (the library) makes a private invite; her screen shows its QR
    // code, which holds the link to the page with the code after `#`.
    let her = citizen(server.addr, "amethyst").await;
    let secret = InviteSecret::generate();
    let invite = json!({
        "lookup": to_hex(&secret.lookup()),
        "public_key": to_hex(&DeviceSecret::generate().public()),
    });
    let (status, body) = http(
        server.addr,
        "POST",
        "/api/v1/bond/private-invites",
        Some(&her),
        Some(invite),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let code = invite::code(&secret);
    let link = format!("{}/#accept={code}", server.url().trim_end_matches('/'));
    let qr = qr_modules(&link);

    // The camera films it: a 640 × 480 video (YUV 4:2:0), the code 6 px a module.
    let (w, h) = (640, 480);
    let mut video = format!("YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\nFRAME\n").into_bytes();
    video.extend(qr_pixels(&qr, 6, w, h));
    video.extend(vec![128u8; w * h / 2]);
    let camera = dir.path().join("camera.y4m");
    std::fs::write(&camera, video).unwrap();
    let spike = Browser::open_with(
        &cd,
        &server,
        "Spike",
        &dir.path().join("spike"),
        390,
        HER,
        &[format!(
            "--use-file-for-fake-video-capture={}",
            camera.display()
        )],
    )
    .await;
    spike.register().await;
    record_requests(&spike).await;
    spike.wait_shown("#scan-start").await;
    spike.click("#scan-start").await;
    spike
        .wait_text("#accept-scanned", "read from the QR code")
        .await;
    let filled = spike.find("#accept-code").await.value().await.unwrap();
    assert_eq!(filled.as_deref(), Some(code.as_str()));
    spike.wait_hidden("#scan-box").await;
    let camera_on = spike
        .js(
            "return document.getElementById('scan-video').srcObject !== null;",
            vec![],
        )
        .await;
    assert_eq!(
        camera_on,
        json!(false),
        "the camera is off once the code is read"
    );
    // Nothing was accepted: the form waits for him.
    spike.wait_shown("#accept-form").await;
    spike
        .check_at_both_widths(
            &axe,
            "private-scan",
            "a private invite read from the camera",
        )
        .await;
    spike.set_viewport(390, 844, false).await;

    // A picture of a QR code that is not an invite fills nothing in; one of the invite
    // does.
    spike
        .js("document.getElementById('accept-code').value = '';", vec![])
        .await;
    let picture = |name: &str, text: &str| {
        let pixels = qr_pixels(&qr_modules(text), 8, 480, 480);
        let path = dir.path().join(name);
        image::GrayImage::from_raw(480, 480, pixels)
            .unwrap()
            .save(&path)
            .unwrap();
        path.display().to_string()
    };
    let other = picture("other.png", "https://example.org/not-an-invite");
    spike
        .find("#scan-file")
        .await
        .send_keys(&other)
        .await
        .unwrap();
    spike
        .wait_text(
            "#scan-status",
            "Nothing filled in: this QR code is not a Haurach private invite.",
        )
        .await;
    let empty = spike.find("#accept-code").await.value().await.unwrap();
    assert_eq!(empty.as_deref(), Some(""));
    let shown = picture("invite.png", &link);
    spike
        .find("#scan-file")
        .await
        .send_keys(&shown)
        .await
        .unwrap();
    spike
        .wait_text("#accept-scanned", "read from the picture")
        .await;
    let filled = spike.find("#accept-code").await.value().await.unwrap();
    assert_eq!(filled.as_deref(), Some(code.as_str()));

    // The code is the invite's secret: it reached no server.
    let sent = everything_sent(&spike).await;
    assert!(
        !sent.iter().any(|s| s.contains(&code)),
        "the code was sent: {sent:?}"
    );
}
