//! Glimpse and sight in real Chromium with its fake camera: Spike asks for a glimpse and
//! gets a blurred look through Amethyst's camera once she allows it; within sight range
//! her camera streams to his window at the size the bond allows; walking out of range
//! stops it.

use serde_json::Value;

use crate::harness::{Browser, Chromedriver, Pair, Server, eventually, serial};

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
    spike.click("#glimpse-ask").await;
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
    let before = frames_seen(spike).await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let during = frames_seen(spike).await - before;
    assert!(
        (3..=12).contains(&during),
        "{during} frames in 3 s at about 2.3 a second"
    );
    amethyst.wait_text("#sight-out", "Spike sees you").await;
    spike.shot("sight").await;

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
    pair.quit().await;
}
