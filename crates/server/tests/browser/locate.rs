//! "Where are you now?" in the page (issue 17, item 4): the button asks, the partner's
//! open page answers at once with a fresh fix, the asker sees the answer arrive; and the
//! partner's last seen and battery shown only while the feelings tier is open.

use crate::harness::{Chromedriver, Pair, Server, axe_source, serial};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_asked_where_they_are_answers_and_last_seen_shows_only_with_feelings() {
    let axe = tokio::task::spawn_blocking(axe_source).await.unwrap();
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("locate").await;
    // 33 km apart on the equator: feelings (20 km in the story) are closed.
    let pair = Pair::bond(&cd, &server, "story", (0.0, 10.0), (0.0, 10.3), false).await;
    let (spike, amethyst) = (&pair.spike, &pair.amethyst);
    spike.wait_text("#pull-text", "Amethyst is east").await;
    amethyst.wait_text("#pull-text", "Spike is west").await;
    assert!(
        !spike.shown("#pull-vitals").await,
        "no last seen while feelings are closed: {}",
        spike.text_content("#pull-vitals").await
    );

    // Spike asks; Amethyst's page answers by itself with a fresh fix.
    amethyst.record_sent_frames().await;
    spike.click("#locate-ask").await;
    spike.wait_text("#locate-status", "Asked Amethyst").await;
    amethyst
        .wait_text("#locate-status", "Spike asks where you are: finding")
        .await;
    // Her device finds itself afresh (with a fixed override, Chromium gives a fix of
    // maximumAge 0 only when the position is set again, as a GPS would report).
    amethyst.set_position(0.0, 10.2999).await;
    amethyst
        .wait_text("#locate-status", "Spike asked where you are")
        .await;
    spike.wait_text("#locate-status", "Amethyst answered").await;
    assert!(
        !spike.shown("#pull-vitals").await,
        "the answer says nothing of when, while feelings are closed"
    );
    // Once a minute.
    spike.click("#locate-ask").await;
    spike.wait_text("#locate-status", "ask again in").await;

    // Amethyst comes within 14 km: feelings open, and her last seen (and battery, where
    // the browser has the Battery Status API) show.
    amethyst.set_position(0.0, 10.13).await;
    spike.wait_tier("feelings", "open").await;
    let vitals = spike.wait_text("#pull-vitals", "Amethyst: last seen").await;
    let has_battery = amethyst
        .js("return typeof navigator.getBattery === 'function'", vec![])
        .await
        .as_bool()
        .unwrap_or(false);
    if has_battery {
        assert!(vitals.contains("battery"), "{vitals}");
    }

    // Amethyst asks in turn: the answer comes with how fresh it is.
    amethyst.click("#locate-ask").await;
    spike
        .wait_text("#locate-status", "Amethyst asks where you are: finding")
        .await;
    spike.set_position(0.0, 10.0001).await;
    amethyst
        .wait_text("#locate-status", "Spike answered: ")
        .await;
    amethyst.wait_text("#locate-status", " ago").await;

    let mut found = Vec::new();
    for (width, height, mobile, label) in [(390, 844, true, "phone"), (1280, 900, false, "desktop")]
    {
        for page in [spike, amethyst] {
            page.set_viewport(width, height, mobile).await;
            for v in page.axe_violations(&axe).await {
                found.push(format!("locate at {label} width: {v}"));
            }
        }
        spike.shot(&format!("locate-asker-{label}")).await;
        amethyst.shot(&format!("locate-answered-{label}")).await;
    }
    assert!(found.is_empty(), "axe-core found:\n{}", found.join("\n"));
    pair.quit().await;
}
