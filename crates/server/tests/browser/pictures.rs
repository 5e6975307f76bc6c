//! Pictures in the web client: Amethyst sends a real photo from her page; Spike's page
//! shows it at the size their distance allows, sharper as she comes closer, and never
//! blurrier again when she walks away.

use serde_json::{Value, json};

use crate::harness::{Chromedriver, Pair, Server, eventually, serial};

/// Spike at 0° N 10° E; on the equator 0.01° of longitude is 1.113 km.
const SPIKE: (f64, f64) = (0.0, 10.0);

/// The real photo with GPS in its EXIF (see `crates/picture/tests/picture.rs`).
const GPS_PHOTO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../picture/tests/gps-photo.jpg"
);

/// The natural width of the picture Spike's page shows, and the side it was sent at.
async fn shown(pair: &Pair) -> (u64, String) {
    let v = pair
        .spike
        .js(
            "const img = document.querySelector('#gallery img'); \
             return img && img.complete && img.naturalWidth ? [img.naturalWidth, img.dataset.side] : null;",
            vec![],
        )
        .await;
    match v {
        Value::Array(a) => (
            a[0].as_u64().unwrap_or(0),
            a[1].as_str().unwrap_or("").to_owned(),
        ),
        _ => (0, String::new()),
    }
}

async fn wait_width(pair: &Pair, want: u64) {
    eventually(&format!("Spike's picture {want} px wide"), async || {
        let (w, side) = shown(pair).await;
        ((w == want).then_some(()), format!("{w} px (side {side})"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_picture_sharpens_as_the_partners_come_closer() {
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("pictures").await;
    // 0.09° east: 10 km apart. Images pass (15 km), as a 128-pixel thumbnail.
    let pair = Pair::bond(&cd, &server, "story", SPIKE, (0.0, 10.09), false).await;
    pair.amethyst.wait_tier("images", "open").await;
    pair.spike
        .wait_text("#pull-text", "Amethyst is east, 10 km")
        .await;

    let input = pair.amethyst.find("#image-file").await;
    let photo = std::fs::canonicalize(GPS_PHOTO).expect("the photo");
    input
        .send_keys(photo.to_str().unwrap())
        .await
        .expect("choose the file");
    pair.amethyst
        .wait_text("#image-status", "none of its metadata")
        .await;
    // Her own picture is whole on her page.
    eventually("Amethyst's own picture", async || {
        let v = pair
            .amethyst
            .js(
                "const img = document.querySelector('#gallery img'); \
                 return img && img.complete ? img.naturalWidth : 0;",
                vec![],
            )
            .await;
        ((v == json!(800)).then_some(()), v.to_string())
    })
    .await;

    wait_width(&pair, 128).await;
    pair.spike
        .wait_text("#gallery figcaption", "128 of 800 pixels")
        .await;
    pair.spike.wait_text("#history", "sent a picture").await;
    pair.spike.shot("picture-far").await;

    // She comes to 5 km: 512 pixels.
    pair.amethyst.set_position(0.0, 10.045).await;
    wait_width(&pair, 512).await;
    // Within sight (1.5 km): whole.
    pair.amethyst.set_position(0.0, 10.0135).await;
    wait_width(&pair, 800).await;
    pair.spike
        .wait_text("#gallery figcaption", "full size")
        .await;
    pair.spike.shot("picture-near").await;

    // She traces a line over the picture; it appears over Spike's copy, in place.
    let svg = pair.amethyst.find("#gallery .trace").await;
    pair.amethyst
        .driver
        .action_chain()
        .move_to_element_center(&svg)
        .click_and_hold()
        .move_by_offset(40, 10)
        .move_by_offset(40, 10)
        .release()
        .perform()
        .await
        .expect("draw a stroke");
    let theirs = eventually("Amethyst's stroke on Spike's picture", async || {
        let v = pair
            .spike
            .js(
                "const l = document.querySelector('#gallery .stroke-theirs'); \
                 return l ? l.getAttribute('points') : null;",
                vec![],
            )
            .await;
        let points: Vec<(f64, f64)> = v
            .as_str()
            .unwrap_or("")
            .split_whitespace()
            .filter_map(|p| p.split_once(','))
            .map(|(x, y)| (x.parse().unwrap(), y.parse().unwrap()))
            .collect();
        ((points.len() >= 3).then(|| points.clone()), format!("{v}"))
    })
    .await;
    let mine = pair
        .amethyst
        .js(
            "return document.querySelector('#gallery .stroke-mine').getAttribute('points')",
            vec![],
        )
        .await;
    // The stroke starts at the picture's centre and goes right and down on both sides.
    let (x0, y0) = theirs[0];
    assert!(
        (x0 - 0.5).abs() < 0.02 && (y0 - 0.5).abs() < 0.02,
        "{theirs:?}"
    );
    let (x1, y1) = *theirs.last().unwrap();
    assert!(x1 > x0 + 0.1 && y1 > y0, "{theirs:?} (hers: {mine})");
    pair.spike.shot("trace").await;

    // She walks away to 12 km; after a reload the picture is still whole.
    pair.amethyst.set_position(0.0, 10.108).await;
    pair.spike
        .wait_text("#pull-text", "Amethyst is east, 12 km")
        .await;
    pair.spike.driver.refresh().await.expect("reload");
    wait_width(&pair, 800).await;
    pair.quit().await;
}
