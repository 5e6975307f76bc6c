//! The map and the journey on a private bond in the web client (issue 20,
//! `docs/privacy.md`, "The map on a private bond"): the map is drawn without tiles unless
//! the person chooses them for the bond on this device, the partner (a device played by
//! the Rust library, as the CLI is) is drawn from their sealed position as what it is (an
//! area of its reach beyond sight, a point within), and the journey is this device's
//! record, in IndexedDB, drawn again after a reload. Every request the page makes (to the
//! server and to the test's tile server) is checked: none carries a coordinate, none asks
//! for the journey, and no tile is asked until the person switches tiles on.

use haurach_bond::{Fix, Profile, TierState, geo};
use haurach_private::rounding::Known;
use serde_json::{Value, json};

use crate::harness::{Browser, Chromedriver, Server, axe_source, eventually, serial};
use crate::map::{Tiles, count};
use crate::private::{
    HER, LibraryLink, NEAR, bond_with_library, citizen, coordinate_needles, everything_sent,
    open_citizen, report_as_library, seal_fix_as_library,
};

/// Every request the page made since it was loaded (Resource Timing: scripts, styles,
/// images, tiles and `fetch` calls alike), by URL.
async fn requests(page: &Browser) -> Vec<String> {
    let urls = page
        .js(
            "performance.setResourceTimingBufferSize(100000);
             return performance.getEntriesByType('resource').map((e) => e.name);",
            vec![],
        )
        .await;
    serde_json::from_value(urls).expect("a list of URLs")
}

/// What the map draws of the partner (`#map[data-partner]`): "point", "area REACH",
/// "wedge" or "".
async fn partner_drawn(page: &Browser) -> String {
    page.js(
        "return document.querySelector('#map').dataset.partner ?? ''",
        vec![],
    )
    .await
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

/// Waits until the map draws the partner as an area of `reach` metres.
async fn wait_area(page: &Browser, reach: f64) {
    eventually(format!("the map draws an area of {reach} m"), async || {
        let drawn = partner_drawn(page).await;
        let r: Option<f64> = drawn.strip_prefix("area ").and_then(|r| r.parse().ok());
        (r.filter(|r| (r - reach).abs() < 1e-6).map(|_| ()), drawn)
    })
    .await;
}

/// How many points of my own track the map draws (`#map[data-track]`; 0 when none is
/// drawn): Leaflet's drawing leaves out points in a straight line, so its path is no count.
async fn track_points(page: &Browser) -> usize {
    let n = page
        .js(
            "return Number(document.querySelector('#map').dataset.track ?? 0) *
               (document.querySelector('#map path.map-journey') ? 1 : 0)",
            vec![],
        )
        .await;
    n.as_u64().unwrap_or(0) as usize
}

/// The journey's chart: its points and the openings it names.
async fn chart(page: &Browser) -> (usize, Value) {
    let points = page
        .js(
            "return (document.querySelector('#journey polyline.distance')?.getAttribute('points') ?? '')
               .split(' ').filter(Boolean).length",
            vec![],
        )
        .await
        .as_u64()
        .unwrap() as usize;
    let openings = page
        .js(
            "return [...document.querySelectorAll('#journey .opening-label')].map((t) => t.textContent)",
            vec![],
        )
        .await;
    (points, openings)
}

async fn scroll_to_map(page: &Browser) {
    page.js(
        "document.querySelector('#map-card').scrollIntoView({block: 'center', behavior: 'instant'})",
        vec![],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_bonds_map_draws_the_sealed_partner_without_tiles_and_keeps_the_journey_on_the_device()
 {
    let axe = tokio::task::spawn_blocking(axe_source).await.unwrap();
    let _serial = serial().await;
    let tiles = Tiles::start().await;
    let template = format!("{}/tiles/{{z}}/{{x}}/{{y}}.png", tiles.origin);
    let server = Server::start_configured(|c| {
        c.map_tiles = template.clone();
        c.map_attribution = "Test tiles contributors".into();
    })
    .await;
    let host = tiles.origin.trim_start_matches("http://").to_owned();
    let cd = Chromedriver::start("private-map").await;
    let dir = tempfile::tempdir().unwrap();
    // 800 m from him, north-east: within sight (2 km in the story profile).
    let sight = geo::destination(HER.0, HER.1, 40.0, 800.0);

    let spike = open_citizen(&cd, &server, "Spike", dir.path(), 390, HER).await;
    // From here every request is kept (Resource Timing's buffer made large enough).
    requests(&spike).await;
    let her = citizen(server.addr, "amethyst").await;
    let (_, key) = bond_with_library(&spike, &server, &her).await;
    let _link = LibraryLink::open(server.addr, &her).await;
    let sealer = haurach_private::Sealer::new(&key);
    let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let near = Fix {
        lat: NEAR.0,
        lon: NEAR.1,
        accuracy_m: 5.0,
        at_ms: now_ms,
    };
    // What the page sent and asked for, gathered before each reload.
    let mut sent = Vec::new();
    let mut asked = Vec::new();

    // The map is there on the private bond, without tiles: a scale bar, and the switch
    // that says what tiles would cost, off.
    spike.wait_shown("#map-card").await;
    spike.wait_shown("#map .leaflet-control-scale-line").await;
    spike.wait_shown("#map-tiles-choice").await;
    let label = spike.text("#map-tiles-choice label").await;
    assert_eq!(label, format!("Show map tiles from {host}"));
    let cost = spike.text("#map-tiles-cost").await;
    assert!(
        cost.contains(&format!("{host} learns which area you look at")),
        "{cost}"
    );
    assert_eq!(
        spike
            .js(
                "return document.querySelector('#map-tiles-on').checked",
                vec![]
            )
            .await,
        json!(false)
    );

    // Her device seals knowing nothing of him: a quarter of a continent. The map draws
    // that area, as wide as its reach, and no point.
    let nothing = Known {
        profile: Profile::Story,
        tiers: TierState::initial(Profile::Story),
        partner: None,
    };
    let rough = seal_fix_as_library(server.addr, &her, &sealer, 1, &near, Some(nothing)).await;
    wait_area(&spike, rough.reach_m).await;

    // Her tokens from 5 km open the tiers up to glimpse; her device seals again knowing
    // his page's position: a cell of a few kilometres. Drawn as that area, never finer.
    report_as_library(server.addr, &her, &key, &near).await;
    spike.wait_tier("glimpse", "open").await;
    spike.wait_tier("sight", "closed").await;
    let hers = seal_fix_as_library(server.addr, &her, &sealer, 2, &near, None).await;
    assert!(!hers.exact && hers.reach_m < 0.6 * 15_000.0, "{hers:?}");
    wait_area(&spike, hers.reach_m).await;
    assert_eq!(count(&spike, "#map path.map-area").await, 1);
    assert_eq!(
        count(&spike, "#map path.map-partner").await,
        0,
        "a point beyond sight"
    );
    let status = spike.text("#map-status").await;
    assert!(
        status.contains("amethyst is somewhere in the shaded area"),
        "{status}"
    );

    // He walks east in steps of 60 m: his own track is drawn.
    let steps: Vec<(f64, f64)> = (1..=3)
        .map(|i| geo::destination(HER.0, HER.1, 90.0, 60.0 * i as f64))
        .collect();
    for (i, step) in steps.iter().enumerate() {
        spike.set_position(step.0, step.1).await;
        eventually(format!("his track after step {}", i + 1), async || {
            let n = track_points(&spike).await;
            ((n >= i + 2).then_some(()), format!("{n} points"))
        })
        .await;
    }
    assert_eq!(
        count(&spike, "#map img").await,
        0,
        "an image on a tile-free map"
    );
    scroll_to_map(&spike).await;
    spike
        .check_at_both_widths(
            &axe,
            "private-map-area",
            "a private bond's map without tiles",
        )
        .await;

    // Within sight her device seals her exact fix: the map draws her there.
    let close = Fix {
        lat: sight.0,
        lon: sight.1,
        ..near
    };
    report_as_library(server.addr, &her, &key, &close).await;
    spike.wait_tier("sight", "open").await;
    let exact = seal_fix_as_library(server.addr, &her, &sealer, 3, &close, None).await;
    assert!(exact.exact, "{exact:?}");
    spike.wait_attr("#map", "data-partner", "point").await;
    assert_eq!(count(&spike, "#map path.map-partner").await, 1);
    assert_eq!(count(&spike, "#map path.map-area").await, 0);
    // He walks on towards her: the distance, exact now, changes with each step.
    let on = geo::destination(steps[2].0, steps[2].1, 0.0, 100.0);
    spike.set_position(on.0, on.1).await;

    // The journey's chart is drawn from this device's record, and says so.
    spike.wait_shown("#journey").await;
    let device = spike.text("#journey-device").await;
    assert!(device.contains("This device's record only"), "{device}");
    assert!(
        !spike.shown("#journey-gpx").await,
        "a GPX download the server cannot make"
    );
    let before = eventually("the chart's openings", async || {
        let c = chart(&spike).await;
        let names = c.1.to_string();
        (names.contains("Sight opened").then(|| c.clone()), names)
    })
    .await;
    assert!(before.0 >= 2, "{before:?}");
    let track_before = track_points(&spike).await;
    assert!(track_before >= 4, "{track_before} points");
    scroll_to_map(&spike).await;
    spike
        .check_at_both_widths(
            &axe,
            "private-map-point",
            "a private bond's map within sight",
        )
        .await;

    // After a reload the chart and the track come back from this device, not the server.
    sent.extend(everything_sent(&spike).await);
    asked.extend(requests(&spike).await);
    spike.driver.refresh().await.expect("reload the page");
    spike.wait_text("#private-status", "Keys confirmed").await;
    spike.wait_shown("#journey").await;
    let after = eventually("the chart after the reload", async || {
        let c = chart(&spike).await;
        (
            (c.0 >= before.0 && c.1 == before.1).then(|| c.clone()),
            format!("{c:?}"),
        )
    })
    .await;
    assert_eq!(after.1, before.1);
    eventually("the track after the reload", async || {
        let n = track_points(&spike).await;
        ((n >= track_before).then_some(()), format!("{n} points"))
    })
    .await;
    spike.wait_attr("#map", "data-partner", "point").await;
    crate::private::record_requests(&spike).await;
    let reloaded = requests(&spike).await;
    assert!(
        reloaded.iter().any(|u| u.ends_with("/journey.js")),
        "the reload's requests are not all here: {reloaded:?}"
    );
    asked.extend(reloaded);
    assert!(
        tiles.asked().is_empty(),
        "tiles asked while off: {:?}",
        tiles.asked()
    );

    // Tiles by choice: switched on, they come from the tile server's origin only, and
    // the choice is kept for this bond over a reload.
    scroll_to_map(&spike).await;
    spike.click("#map-tiles-on").await;
    let tiles_loaded = async || {
        eventually("the tiles", async || {
            let n = count(&spike, "#map img.leaflet-tile.leaflet-tile-loaded").await;
            ((n > 0).then_some(()), format!("{n} loaded"))
        })
        .await
    };
    tiles_loaded().await;
    sent.extend(everything_sent(&spike).await);
    asked.extend(requests(&spike).await);
    spike.driver.refresh().await.expect("reload the page");
    spike.wait_text("#private-status", "Keys confirmed").await;
    eventually("the switch kept on", async || {
        let on = spike
            .js(
                "return document.querySelector('#map-tiles-on')?.checked",
                vec![],
            )
            .await;
        ((on == json!(true)).then_some(()), on.to_string())
    })
    .await;
    crate::private::record_requests(&spike).await;
    tiles_loaded().await;
    let srcs = spike
        .js(
            "return [...document.querySelectorAll('#map img')].map((i) => i.src)",
            vec![],
        )
        .await;
    for src in srcs.as_array().unwrap() {
        assert!(
            src.as_str()
                .unwrap()
                .starts_with(&format!("{}/tiles/", tiles.origin)),
            "{src}"
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    scroll_to_map(&spike).await;
    spike
        .check_at_both_widths(&axe, "private-map-tiles", "a private bond's map over tiles")
        .await;
    sent.extend(everything_sent(&spike).await);
    asked.extend(requests(&spike).await);
    assert!(!tiles.asked().is_empty());
    for path in tiles.asked() {
        assert!(path.starts_with("/tiles/"), "{path}");
    }

    // Every request went to the server or, once chosen, to the tile server; none asked
    // for the journey, and none (nor any frame or body) carries a coordinate.
    let needles = coordinate_needles(&[HER, NEAR, sight, steps[0], steps[1], steps[2], on]);
    for url in &asked {
        assert!(
            url.starts_with(&server.url()) || url.starts_with(&tiles.origin),
            "a request elsewhere: {url}"
        );
        assert!(
            !url.contains("/api/v1/me/journey"),
            "the journey asked of the server: {url}"
        );
    }
    for what in asked.iter().chain(&sent).chain(&tiles.asked()) {
        for needle in &needles {
            assert!(
                !needle.found_in(what.as_bytes()),
                "{} left the page: {what}",
                needle.what()
            );
        }
    }
    assert!(
        sent.iter().any(|f| f.contains("\"type\":\"sealed_fix\"")),
        "nothing sealed was sent: the search above searched nothing"
    );
    spike.quit().await;
}
