//! What a visit costs a phone: the bytes a first visit moves, and a repeat visit that asks
//! the server for nothing of the app but the page (the assets have content-hashed names
//! and are served `immutable`, and the service worker keeps them); the API's answers are
//! the person's data, asked each time.

use crate::harness::{Browser, Chromedriver, Server, serial};

/// What the page loaded, from the Resource Timing API: (url, bytes on the wire), the
/// page itself first. A response from a cache moved 0 bytes.
async fn loaded(b: &Browser) -> Vec<(String, u64)> {
    let v = b
        .js(
            "return [performance.getEntriesByType('navigation')[0],
                     ...performance.getEntriesByType('resource')]
                    .map(e => [e.name, e.transferSize]);",
            vec![],
        )
        .await;
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e[0].as_str().unwrap().to_owned(),
                e[1].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_visit_asks_for_nothing_but_the_page() {
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("weight").await;
    let profile = tempfile::tempdir().unwrap();
    let b = Browser::open(&cd, &server, "Visitor", profile.path(), 390, (0.0, 0.0)).await;
    b.wait_shown("#screen-welcome").await;
    // Settled: every module and style the page imports has come.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let first = loaded(&b).await;
    let bytes: u64 = first.iter().map(|(_, n)| n).sum();
    println!(
        "first visit: {} requests, {bytes} bytes on the wire: {first:?}",
        first.len()
    );
    assert!(first.len() > 5, "{first:?}");

    // The visitor comes back (a new navigation, as from the home screen).
    b.driver.goto(server.url()).await.unwrap();
    b.wait_shown("#screen-welcome").await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let again = loaded(&b).await;
    // Its assets come from the browser's cache or the service worker's; only the page
    // and the API's answers (data, not the app) come from the server.
    let asked: Vec<&(String, u64)> = again
        .iter()
        .skip(1)
        .filter(|(url, n)| *n > 0 && !url.contains("/api/"))
        .collect();
    println!(
        "repeat visit: the page ({} bytes), {} asset requests: {asked:?}; all: {again:?}",
        again[0].1,
        asked.len()
    );
    assert!(
        asked.is_empty(),
        "a repeat visit asked the server again for {asked:?}"
    );
    b.quit().await;
}
