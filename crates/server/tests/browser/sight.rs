//! Glimpse and sight in real Chromium with its fake camera: Spike asks for a glimpse and
//! gets a blurred look through Amethyst's camera once she allows it; within sight range
//! her camera streams to his window at the size the bond allows; walking out of range
//! stops it. A stroke he draws over the glimpse or over the live sight appears on her
//! page over the frame she sent or over her own camera view, in the same place.

use serde_json::{Value, json};

use crate::harness::{Browser, Chromedriver, Pair, Server, axe_source, eventually, serial};

const SPIKE: (f64, f64) = (0.0, 10.0);

/// The natural size of an image on a page, once loaded.
async fn natural(b: &Browser, css: &str) -> Option<(u64, u64)> {
    let v = b
        .js(
            &format!(
                "const img = document.querySelector('{css}'); \
                 return img && img.complete && img.naturalWidth ? [img.naturalWidth, img.naturalHeight] : null;"
            ),
            vec![],
        )
        .await;
    match v {
        Value::Array(a) => Some((a[0].as_u64()?, a[1].as_u64()?)),
        _ => None,
    }
}

/// How many sight frames Spike's page has shown so far.
async fn frames_seen(b: &Browser) -> u64 {
    b.js(
        "window.__sightFrames ??= (() => { let n = 0; \
           new MutationObserver(() => n++).observe(document.getElementById('sight-img'), \
             {attributes: true, attributeFilter: ['src']}); return () => n; })(); \
         return window.__sightFrames();",
        vec![],
    )
    .await
    .as_u64()
    .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_glimpse_and_a_few_seconds_of_sight_through_the_fake_camera() {
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("sight").await;
    // 8 km apart: glimpse (10 km) is open, sight (2 km) is not.
    let pair = Pair::bond(&cd, &server, "story", SPIKE, (0.0, 10.0719), false).await;
    let (spike, amethyst) = (&pair.spike, &pair.amethyst);
    spike.wait_tier("glimpse", "open").await;

    // She has not allowed her camera: the ask is refused, plainly.
    spike.click("#glimpse-ask").await;
    spike
        .wait_text("#glimpse-status", "has not allowed glimpses")
        .await;

    amethyst.click("#camera-allow").await;
    amethyst
        .wait_attr("#camera-allow", "aria-checked", "true")
        .await;
    // Allowing glimpses is not a yes to every glimpse: she is asked each time, and her
    // "Not now" sends nothing.
    amethyst.record_sent_frames().await;
    spike.click("#glimpse-ask").await;
    amethyst
        .wait_text(
            "#glimpse-ask-title",
            "Spike asks to glimpse through your camera.",
        )
        .await;
    amethyst.shot("glimpse-asked").await;
    let axe = tokio::task::spawn_blocking(axe_source).await.unwrap();
    assert_eq!(amethyst.axe_violations(&axe).await, Vec::<String>::new());
    amethyst.click("#glimpse-no").await;
    amethyst.wait_hidden("#banner-glimpse-ask").await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(natural(spike, "#glimpse-img").await, None);
    let sent = amethyst.sent_frames().await;
    assert!(
        sent.iter().all(|f| f.starts_with('{')),
        "a camera frame left her page after \"Not now\": {:?}",
        sent.iter()
            .filter(|f| !f.starts_with('{'))
            .collect::<Vec<_>>()
    );
    // Asked again, she says yes, and always for this bond.
    spike.click("#glimpse-ask").await;
    amethyst.wait_shown("#banner-glimpse-ask").await;
    amethyst.click("#glimpse-always").await;
    amethyst.click("#glimpse-yes").await;
    spike
        .wait_text("#glimpse-status", "blurred by the distance")
        .await;
    // Chromium's fake camera is 640 × 480; at 8 km a glimpse is 192 pixels wide.
    let size = eventually("the glimpse on Spike's page", async || {
        let n = natural(spike, "#glimpse-img").await;
        (n, format!("{n:?}"))
    })
    .await;
    assert_eq!(size, (192, 144));
    spike.shot("glimpse").await;

    // She comes within 1.5 km: sight opens and her camera streams by itself, at 256
    // pixels (the bond's size at 1.5 km).
    amethyst.set_position(0.0, 10.0135).await;
    spike.wait_tier("sight", "open").await;
    spike.wait_text("#sight-status", "live").await;
    let size = eventually("sight frames at 256 pixels", async || {
        let n = natural(spike, "#sight-img").await;
        (n.filter(|(w, _)| *w == 256), format!("{n:?}"))
    })
    .await;
    assert_eq!(size, (256, 192));
    // Frames keep coming (the rate the bond allows is the server's to enforce, and is
    // tested there; a page's own rate depends on how loaded the machine is).
    let before = frames_seen(spike).await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let during = frames_seen(spike).await - before;
    assert!(during >= 2, "{during} frames in 3 s at about 2.3 a second");
    amethyst.wait_text("#sight-out", "Spike sees you").await;
    // Her camera in use is never only a line halfway down her page: a banner at the top
    // says so, with a stop.
    amethyst
        .wait_text("#banner-camera-text", "Spike sees through your camera now.")
        .await;
    spike.shot("sight").await;
    amethyst.shot("sight-sending").await;
    assert_eq!(amethyst.axe_violations(&axe).await, Vec::<String>::new());

    // She walks out to 3 km: the stream stops within a second of the tier closing.
    amethyst.set_position(0.0, 10.027).await;
    spike.wait_tier("sight", "closed").await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let settled = frames_seen(spike).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        frames_seen(spike).await,
        settled,
        "frames after sight closed"
    );
    let live = amethyst
        .js(
            "return document.querySelector('#sight-out').textContent",
            vec![],
        )
        .await;
    assert_eq!(live, Value::String(String::new()), "her camera still sends");
    amethyst.wait_hidden("#banner-camera").await;

    // Back within sight it streams again, and one tap on the banner stops it.
    amethyst.set_position(0.0, 10.0135).await;
    amethyst.wait_shown("#banner-camera").await;
    spike.wait_text("#sight-status", "live").await;
    amethyst.click("#camera-stop").await;
    amethyst.wait_hidden("#banner-camera").await;
    amethyst
        .wait_attr("#camera-allow", "aria-checked", "false")
        .await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let settled = frames_seen(spike).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(frames_seen(spike).await, settled, "frames after the stop");
    pair.quit().await;
}

/// Draws a stroke over the canvas `css` in `b`'s window: from its centre, two moves of
/// (`dx`, `dy`) pixels. Returns where it started and ended, as fractions of the canvas.
pub(crate) async fn draw(b: &Browser, css: &str, dx: i64, dy: i64) -> [(f64, f64); 2] {
    let size = b
        .js(
            "const c = document.querySelector(arguments[0]); \
             c.scrollIntoView({block: 'center'}); \
             const r = c.getBoundingClientRect(); return [r.width, r.height];",
            vec![json!(css)],
        )
        .await;
    let (w, h) = (size[0].as_f64().unwrap(), size[1].as_f64().unwrap());
    assert!(w > 100.0 && h > 50.0, "{css} is {w} × {h}");
    let canvas = b.find(css).await;
    b.driver
        .action_chain()
        .move_to_element_center(&canvas)
        .click_and_hold()
        .move_by_offset(dx, dy)
        .move_by_offset(dx, dy)
        .release()
        .perform()
        .await
        .expect("draw a stroke");
    let end = (0.5 + 2.0 * dx as f64 / w, 0.5 + 2.0 * dy as f64 / h);
    [(0.5, 0.5), end]
}

/// How many painted pixels the canvas `css` has within 3 pixels of each point (fractions
/// of its size), read back with `getImageData`; `None` while it has no size.
async fn ink(b: &Browser, css: &str, points: &[(f64, f64)]) -> Option<Vec<u64>> {
    let points: Vec<_> = points.iter().map(|(x, y)| json!([x, y])).collect();
    let v = b
        .js(
            "const c = document.querySelector(arguments[0]); \
             if (!c || !c.width || !c.height) return null; \
             const ctx = c.getContext('2d'); \
             return arguments[1].map(([fx, fy]) => { \
               const x = Math.round(fx * c.width), y = Math.round(fy * c.height); \
               const d = ctx.getImageData(Math.max(0, x - 3), Math.max(0, y - 3), 7, 7).data; \
               let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; \
               return n; });",
            vec![json!(css), json!(points)],
        )
        .await;
    v.as_array()
        .map(|a| a.iter().map(|n| n.as_u64().unwrap_or(0)).collect())
}

/// Waits until the canvas `css` in `b`'s window is painted along a stroke from `start` to
/// `end` (both ends and the middle), and nowhere near the corners the stroke stays away
/// from.
pub(crate) async fn wait_stroke(b: &Browser, css: &str, [start, end]: [(f64, f64); 2]) {
    let middle = ((start.0 + end.0) / 2.0, (start.1 + end.1) / 2.0);
    let on = [start, middle, end];
    // Away from the stroke: the two corners on the side it does not go to.
    let far_x = if end.0 > start.0 { 0.1 } else { 0.9 };
    let away = [(far_x, 0.1), (far_x, 0.9)];
    let all: Vec<_> = on.iter().chain(&away).copied().collect();
    eventually(
        format!("{}: a stroke on {css} from {start:?} to {end:?}", b.name),
        async || {
            let seen = ink(b, css, &all).await;
            let ok = seen
                .as_ref()
                .is_some_and(|n| n[..3].iter().all(|&n| n > 0) && n[3..].iter().all(|&n| n == 0));
            (
                ok.then_some(()),
                format!("inked pixels near {all:?}: {seen:?}"),
            )
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stroke_over_a_glimpse_and_over_the_live_sight_lands_in_place_on_the_other_side() {
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("sight-trace").await;
    // 1.5 km apart: pictures, glimpse and sight are all open.
    let pair = Pair::bond(&cd, &server, "story", SPIKE, (0.0, 10.0135), false).await;
    let (spike, amethyst) = (&pair.spike, &pair.amethyst);
    spike.wait_tier("sight", "open").await;
    amethyst.wait_tier("sight", "open").await;
    amethyst.click("#camera-allow").await;
    amethyst
        .wait_attr("#camera-allow", "aria-checked", "true")
        .await;

    // Spike glimpses through her camera and draws over the glimpse; the stroke appears
    // over the frame her camera sent, in the same place.
    spike.click("#glimpse-ask").await;
    amethyst.wait_shown("#banner-glimpse-ask").await;
    amethyst.click("#glimpse-yes").await;
    spike
        .wait_text("#glimpse-status", "blurred by the distance")
        .await;
    eventually("the glimpse on Spike's page", async || {
        let n = natural(spike, "#glimpse-img").await;
        (n, format!("{n:?}"))
    })
    .await;
    amethyst.wait_shown("#glimpse-sent").await;
    eventually("the glimpse Amethyst sent, on her page", async || {
        let n = natural(amethyst, "#glimpse-sent-img").await;
        (n, format!("{n:?}"))
    })
    .await;
    let stroke = draw(spike, "#glimpse-trace", 40, 10).await;
    wait_stroke(spike, "#glimpse-trace", stroke).await;
    wait_stroke(amethyst, "#glimpse-sent-trace", stroke).await;
    amethyst.shot("trace-glimpse").await;

    // Her camera streams to Spike; he draws over the live sight, up and to the left. The
    // stroke appears over her own camera view, what her camera sends.
    spike.wait_text("#sight-status", "live").await;
    amethyst.wait_shown("#sight-self").await;
    let stroke = draw(spike, "#sight-trace", -40, -20).await;
    wait_stroke(amethyst, "#sight-self-trace", stroke).await;
    // His stroke over the sight is not drawn over the glimpse she sent.
    let glimpse = ink(amethyst, "#glimpse-sent-trace", &stroke[1..]).await;
    assert_eq!(
        glimpse,
        Some(vec![0]),
        "the sight's stroke over the glimpse"
    );
    amethyst.shot("trace-sight").await;
    pair.quit().await;
}
