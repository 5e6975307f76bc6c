//! The map, over tiles from a tile server the test runs: tiles come only from the origin
//! the setting names (and the page's policy allows no other); beyond sight the partner is
//! a wedge and never a point; within sight a marker; places, the meeting point and "Open
//! in Maps"; a summons; axe-core finds nothing wrong with the map shown. And the journey's chart,
//! from the server, the same on another device of the same person.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{
    Browser, Chromedriver, PASSWORD, Pair, Server, artifacts, axe_source, eventually, serial,
};

/// A tile server on a loopback port: every GET is answered with one 256-pixel PNG the
/// test makes, and its path is kept.
pub(crate) struct Tiles {
    pub(crate) origin: String,
    asked: Arc<Mutex<Vec<String>>>,
}

impl Tiles {
    pub(crate) async fn start() -> Tiles {
        let tile = {
            let img = image::RgbImage::from_fn(256, 256, |x, y| {
                // A light grid, so a screenshot shows where the tiles are.
                if x % 64 == 0 || y % 64 == 0 {
                    image::Rgb([190, 200, 210])
                } else {
                    image::Rgb([232, 236, 226])
                }
            });
            let mut png = std::io::Cursor::new(Vec::new());
            img.write_to(&mut png, image::ImageFormat::Png)
                .expect("encode the tile");
            Arc::new(png.into_inner())
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the tile server");
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let asked = Arc::new(Mutex::new(Vec::new()));
        let kept = asked.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (tile, kept) = (tile.clone(), kept.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let n = stream.read(&mut buf).await.unwrap_or(0);
                    let head = String::from_utf8_lossy(&buf[..n]);
                    let path = head.split(' ').nth(1).unwrap_or_default().to_owned();
                    kept.lock().unwrap().push(path);
                    let header = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ncontent-length: {}\r\n\
                         connection: close\r\n\r\n",
                        tile.len()
                    );
                    let _ = stream.write_all(header.as_bytes()).await;
                    let _ = stream.write_all(&tile).await;
                });
            }
        });
        Tiles { origin, asked }
    }

    pub(crate) fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

/// The page's headers, as a plain GET of `/` gets them.
async fn page_headers(server: &Server) -> String {
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut res = Vec::new();
    stream.read_to_end(&mut res).await.unwrap();
    let res = String::from_utf8_lossy(&res).into_owned();
    res.split_once("\r\n\r\n").unwrap().0.to_lowercase()
}

/// How many elements `css` matches in the page.
pub(crate) async fn count(who: &Browser, css: &str) -> u64 {
    who.js(
        "return document.querySelectorAll(arguments[0]).length",
        vec![json!(css)],
    )
    .await
    .as_u64()
    .unwrap()
}

/// Waits until `css` matches at least one element.
async fn wait_drawn(who: &Browser, css: &str) {
    eventually(format!("{} draws {css}", who.name), async || {
        let n = count(who, css).await;
        ((n > 0).then_some(()), format!("{n} found"))
    })
    .await;
}

/// The wedge the map draws: (nearest, farthest, bearing), or `None` when there is none.
async fn wedge(who: &Browser) -> Option<(f64, f64, f64)> {
    let w = who
        .js(
            "return document.querySelector('#map').dataset.wedge ?? ''",
            vec![],
        )
        .await;
    let parts: Vec<f64> = w
        .as_str()
        .unwrap_or_default()
        .split(' ')
        .filter_map(|p| p.parse().ok())
        .collect();
    (parts.len() == 3).then(|| (parts[0], parts[1], parts[2]))
}

/// The map card in the middle of the window, and a screenshot of the window as it is.
async fn shot_of_map(who: &Browser, name: &str) {
    who.js(
        "document.querySelector('#map-card').scrollIntoView({block: 'center'})",
        vec![],
    )
    .await;
    // Tiles fade in over a quarter of a second; the screenshot waits for them.
    eventually("the tiles to show", async || {
        let loaded = who
            .js(
                "return [...document.querySelectorAll('#map img.leaflet-tile')]
                   .filter((t) => t.complete && t.classList.contains('leaflet-tile-loaded')).length",
                vec![],
            )
            .await;
        (
            (loaded.as_u64().unwrap_or(0) > 0).then_some(()),
            loaded.to_string(),
        )
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    // The map scrolls under the sticky header and banners, never over them.
    let on_top = who
        .js(
            "const s = document.getElementById('sticky');
             // The zoom buttons scrolled up to just above the banners' lower edge: what a
             // finger there touches must be the banners, not the map (tiles let touches
             // through, so the buttons are what can tell).
             const zoom = document.querySelector('#map .leaflet-control-zoom-in');
             const z = zoom.getBoundingClientRect();
             window.scrollBy({top: z.top + z.height / 2 - (s.getBoundingClientRect().bottom - 10), behavior: 'instant'});
             const at = zoom.getBoundingClientRect();
             const hit = document.elementFromPoint(at.left + at.width / 2, at.top + at.height / 2);
             const top = s.contains(hit);
             document.querySelector('#map-card').scrollIntoView({block: 'center', behavior: 'instant'});
             return top",
            vec![],
        )
        .await;
    assert_eq!(on_top, json!(true), "the map covers the banners");
    let shot = who
        .cdp("Page.captureScreenshot", json!({"format": "png"}))
        .await;
    let png = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        shot["data"].as_str().unwrap(),
    )
    .unwrap();
    std::fs::write(artifacts().join(format!("{name}.png")), png).unwrap();
}

/// The openings the journey's chart names ("Sight opened", …), in order.
async fn openings(who: &Browser) -> Value {
    who.js(
        "return [...document.querySelectorAll('#journey .opening-label')].map((t) => t.textContent)",
        vec![],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_map_shows_what_the_pull_allows_over_tiles_from_the_set_source_only() {
    let _serial = serial().await;
    let tiles = Tiles::start().await;
    let template = format!("{}/tiles/{{z}}/{{x}}/{{y}}.png", tiles.origin);
    let server = Server::start_configured(|c| {
        c.map_tiles = template.clone();
        c.map_attribution = "Test tiles contributors".into();
    })
    .await;
    // The page's policy names the tile server's origin, and nothing wider.
    let headers = page_headers(&server).await;
    let policy = headers
        .lines()
        .find_map(|l| l.strip_prefix("content-security-policy: "))
        .expect("a policy")
        .to_owned();
    assert!(
        policy.contains(&format!("img-src 'self' data: blob: {};", tiles.origin)),
        "{policy}"
    );
    assert!(!policy.contains('*'), "{policy}");

    let cd = Chromedriver::start("map").await;
    // 11.1 km apart on the equator: feelings and more, but not sight (2 km).
    let pair = Pair::bond(&cd, &server, "story", (0.0, 10.0), (0.0, 10.1), false).await;
    let (spike, amethyst) = (&pair.spike, &pair.amethyst);
    spike
        .wait_text("#pull-text", "Amethyst is east, 11 km")
        .await;
    spike.wait_shown("#map-card").await;
    spike
        .wait_text("#map-status", "shaded wedge, east: 10.5 km to 11.5 km away")
        .await;
    wait_drawn(spike, "#map path.map-me").await;
    wait_drawn(spike, "#map path.map-wedge").await;
    // Beyond sight: a wedge, never a point where she is, and her position nowhere in the
    // page (it never reached it: the pull carries none).
    assert_eq!(count(spike, "#map path.map-partner").await, 0);
    assert!(!spike.shown("#pull-exact").await);
    let html = spike
        .js("return document.documentElement.outerHTML", vec![])
        .await;
    assert!(
        !html.as_str().unwrap().contains("10.10000"),
        "her position leaked"
    );
    let (near, far, bearing) = wedge(spike).await.expect("a wedge");
    let truth = 11_131.9; // metres, 0.1° of longitude on the equator
    assert!(near <= truth && truth <= far, "{near}..{far}");
    assert_eq!((near, far, bearing), (10_500.0, 11_500.0, 90.0));
    assert!(
        spike
            .text("#map .leaflet-control-attribution")
            .await
            .contains("Test tiles contributors")
    );

    // Tiles came from the tile server, and every image the page loaded from elsewhere
    // than itself came from there.
    eventually("tiles asked of the tile server", async || {
        let asked = tiles.asked();
        (
            asked.iter().any(|p| p.starts_with("/tiles/")).then_some(()),
            format!("{asked:?}"),
        )
    })
    .await;
    let images = spike
        .js(
            "return performance.getEntriesByType('resource')
               .filter((e) => e.initiatorType === 'img' || e.initiatorType === 'css')
               .map((e) => e.name)",
            vec![],
        )
        .await;
    for url in images.as_array().unwrap() {
        let url = url.as_str().unwrap();
        assert!(
            url.starts_with(&server.url()) || url.starts_with(&format!("{}/tiles/", tiles.origin)),
            "an image from elsewhere: {url}"
        );
    }
    shot_of_map(spike, "map-beyond-sight-390").await;
    spike.set_viewport(1280, 900, false).await;
    shot_of_map(spike, "map-beyond-sight-desktop").await;
    spike.set_viewport(360, 844, true).await;
    // What the map's files cost on the wire, as a browser asks for them (brotli), printed
    // with --nocapture.
    for file in [
        "map.js",
        "vendor/leaflet/leaflet.js",
        "vendor/leaflet/leaflet.css",
    ] {
        let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let ask = format!(
            "GET /assets/{file} HTTP/1.1\r\nhost: test\r\naccept-encoding: br, gzip\r\n\
             connection: close\r\n\r\n"
        );
        stream.write_all(ask.as_bytes()).await.unwrap();
        let mut res = Vec::new();
        stream.read_to_end(&mut res).await.unwrap();
        let body = res.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        eprintln!("{file}: {} bytes on the wire", res.len() - body);
    }

    // Closer (3.3 km): the wedge narrows with the pull's rounding.
    amethyst.set_position(0.0, 10.03).await;
    spike.wait_text("#pull-text", "3.3 km").await;
    let (near2, far2, _) = eventually("a narrower wedge", async || {
        let w = wedge(spike).await;
        (w.filter(|w| w.1 < 5_000.0), format!("{w:?}"))
    })
    .await;
    assert_eq!((near2, far2), (3_250.0, 3_350.0));
    assert_eq!(count(spike, "#map path.map-partner").await, 0);

    // Within sight (1.67 km): her marker, where she is.
    amethyst.set_position(0.0, 10.015).await;
    spike.wait_text("#pull-text", "1.7 km").await;
    // Her own way here is drawn on her map.
    amethyst
        .js(
            "document.querySelector('#map-card').scrollIntoView({block: 'center'})",
            vec![],
        )
        .await;
    wait_drawn(amethyst, "#map path.map-journey").await;
    wait_drawn(spike, "#map path.map-partner").await;
    assert_eq!(count(spike, "#map path.map-wedge").await, 0);
    spike.wait_text("#map", "Amethyst").await;

    // A place of his, and the meeting point with "Open in Maps".
    spike.fill("#place-name", "home").await;
    spike.click("#place-form button[type=submit]").await;
    spike.wait_text("#places-mine", "home").await;
    wait_drawn(spike, "#map path.map-place-mine").await;
    spike.wait_text("#map", "home").await;
    wait_drawn(spike, "#map path.map-meeting").await;
    spike.wait_shown("#map-meeting-open").await;
    // On a plain bond the server knows the point already: no warning about the links.
    let open = spike.text("#map-meeting-open").await;
    assert!(!open.contains("knows where it is"), "{open}");
    let geo = spike
        .js(
            "return document.querySelector('#map-meeting-geo').getAttribute('href')",
            vec![],
        )
        .await;
    // Halfway between (0, 10) and (0, 10.015).
    let geo = geo.as_str().unwrap();
    assert!(
        geo.starts_with("geo:") && geo.contains(",10.007500?q="),
        "{geo}"
    );
    let osm = spike
        .js(
            "return document.querySelector('#map-meeting-osm').getAttribute('href')",
            vec![],
        )
        .await;
    assert!(
        osm.as_str().unwrap().contains("&mlon=10.007500#map=17/"),
        "{osm}"
    );

    // twilight, a friend, summons him from 2.2 km north (through the API, as any client
    // would): where she calls from shows on his map.
    let summoned = spike
        .js(
            "const auth = (t) => ({'content-type': 'application/json', Authorization: 'Bearer ' + t});
             const me = localStorage.getItem('haurach.token');
             const creds = JSON.stringify({name: 'twilight', password: arguments[0]});
             await fetch('/api/v1/accounts', {method: 'POST', headers: {'content-type': 'application/json'}, body: creds});
             await fetch('/api/v1/summons/allowed/twilight', {method: 'PUT', headers: auth(me)});
             const s = await (await fetch('/api/v1/sessions', {method: 'POST', headers: {'content-type': 'application/json'}, body: creds})).json();
             const r = await fetch('/api/v1/summons', {method: 'POST', headers: auth(s.token),
               body: JSON.stringify({to: 'spike', lat: 0.02, lon: 10.0})});
             return [r.status, await r.text()]",
            vec![json!(PASSWORD)],
        )
        .await;
    assert_eq!(summoned[0], 201, "{summoned}");
    spike
        .wait_text("#banner-summons-title", "twilight summons you")
        .await;
    wait_drawn(spike, "#map path.map-summons").await;
    spike.wait_text("#map", "Summons: twilight").await;

    // axe-core finds nothing wrong with the map shown, on a phone and on a desktop.
    let axe = tokio::task::spawn_blocking(axe_source).await.unwrap();
    spike.set_viewport(390, 844, true).await;
    let mut found = spike.axe_violations(&axe).await;
    shot_of_map(spike, "map-within-sight-390").await;
    spike.set_viewport(1280, 900, false).await;
    found.extend(spike.axe_violations(&axe).await);
    shot_of_map(spike, "map-within-sight-desktop").await;
    assert!(found.is_empty(), "axe-core found:\n{}", found.join("\n"));
    assert!(
        tiles.asked().iter().all(|p| p.starts_with("/tiles/")),
        "{:?}",
        tiles.asked()
    );
    pair.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journeys_chart_is_the_same_on_another_device() {
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("journey").await;
    let pair = Pair::bond(&cd, &server, "story", (0.0, 10.0), (0.0, 10.1), false).await;
    let (spike, amethyst) = (&pair.spike, &pair.amethyst);
    spike.wait_text("#pull-text", "11 km").await;
    // Amethyst walks toward him: tiers open on the way, each drawn on the chart. Each
    // step waits out the 5 s in which a live link's fixes go to the journey once.
    for lon in [10.05, 10.03, 10.015] {
        tokio::time::sleep(std::time::Duration::from_millis(6_000)).await;
        amethyst.set_position(0.0, lon).await;
    }
    spike.wait_text("#pull-text", "1.7 km").await;
    spike.wait_tier("sight", "open").await;
    // A live link's fixes are committed a moment after the pull they move: the server's
    // chart has her last step once it is stored.
    eventually("the server's chart to hold sight opening", async || {
        let tiers = spike
            .js(
                "const r = await fetch('/api/v1/me/journey', {headers: {Authorization: \
                 'Bearer ' + localStorage.getItem('haurach.token')}}); \
                 return (await r.json()).openings.map((o) => o.tier)",
                vec![],
            )
            .await;
        let seen = tiers.to_string();
        (seen.contains("\"sight\"").then_some(()), seen)
    })
    .await;
    // After a reload, his page draws only what the server says.
    spike.driver.refresh().await.unwrap();
    spike.wait_shown("#journey").await;
    let on_phone = eventually("the openings on his phone", async || {
        let o = openings(spike).await;
        (
            o.as_array()
                .is_some_and(|a| a.iter().any(|t| t == "Sight opened"))
                .then(|| o.clone()),
            o.to_string(),
        )
    })
    .await;

    // His other device: a new browser, where he only logs in.
    let profile = pair.profiles.path().join("spike-laptop");
    let laptop = Browser::open(&cd, &server, "spike", &profile, 1280, (0.0, 10.0)).await;
    laptop.fill("#auth-name", "spike").await;
    laptop.fill("#auth-password", PASSWORD).await;
    laptop.click("#auth-submit").await;
    laptop.wait_shown("#screen-link").await;
    laptop.wait_shown("#journey").await;
    let on_laptop = eventually("the same openings on his laptop", async || {
        let o = openings(&laptop).await;
        ((o == on_phone).then(|| o.clone()), o.to_string())
    })
    .await;
    assert_eq!(on_laptop, on_phone);
    // The same distances: the chart says the same "now".
    let laptop_label = laptop
        .js(
            "return document.querySelector('#journey').getAttribute('aria-label')",
            vec![],
        )
        .await;
    assert!(
        laptop_label.as_str().unwrap().contains("now 1.7 km"),
        "{laptop_label}"
    );
    laptop.quit().await;
    pair.quit().await;
}
