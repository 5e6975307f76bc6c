//! One screen that tells: on a phone the first screen shows the pull, the strength of the
//! bond and the newest thing that passed, without scrolling; news lives in one area that
//! never covers the page; what must be seen stays until it is.

use std::time::Duration;

use serde_json::json;

use crate::harness::{Browser, Chromedriver, Pair, Server, axe_source, serial};

/// Spike at 0° N 10° E, Amethyst 5.6 km east: everything up to glimpse is open.
const SPIKE: (f64, f64) = (0.0, 10.0);
const AMETHYST: (f64, f64) = (0.0, 10.05);

/// Whether the element is wholly inside the viewport with the page scrolled to the top.
async fn on_first_screen(browser: &Browser, css: &str) -> (bool, String) {
    let v = browser
        .js(
            "window.scrollTo(0, 0);
             const r = document.querySelector(arguments[0]).getBoundingClientRect();
             return [r.top >= 0 && r.bottom <= innerHeight && r.height > 0,
                     `${arguments[0]}: ${Math.round(r.top)}..${Math.round(r.bottom)} of ${innerHeight}`];",
            vec![json!(css)],
        )
        .await;
    (
        v[0].as_bool().unwrap(),
        v[1].as_str().unwrap_or_default().to_owned(),
    )
}

async fn style(browser: &Browser, css: &str, property: &str) -> String {
    browser
        .js(
            "return getComputedStyle(document.querySelector(arguments[0]))[arguments[1]];",
            vec![json!(css), json!(property)],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_screen_tells_the_pull_the_strength_and_the_newest_news() {
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("screen").await;
    let pair = Pair::bond(&cd, &server, "story", SPIKE, AMETHYST, false).await;
    let (spike, amethyst) = (&pair.spike, &pair.amethyst);
    amethyst.wait_tier("voice", "open").await;
    spike.wait_tier("feelings", "open").await;

    // Amethyst's phone is 390×844. A feeling from Spike is on her first screen, beside
    // the pull and the strength, with nothing to scroll.
    spike.click("#feelings .feeling-joy").await;
    amethyst.wait_text("#latest", "Spike feels joy").await;
    for css in ["#pull-text", "#radar", "#strength", "#latest"] {
        let (seen, at) = on_first_screen(amethyst, css).await;
        assert!(seen, "not on the first screen at 390×844: {at}");
    }
    // Then his words take its place.
    spike.fill("#voice-text", "I can feel you").await;
    spike.click("#voice-send").await;
    amethyst
        .wait_text("#latest", "Spike: “I can feel you”")
        .await;
    amethyst.shot("first-screen-phone").await;
    // A tap on it shows the words in full, in their card.
    amethyst.click("#latest").await;
    crate::harness::eventually("the voice card to come into view", async || {
        let top = amethyst
            .js(
                "return document.getElementById('voice-title').getBoundingClientRect().top;",
                vec![],
            )
            .await
            .as_f64()
            .unwrap();
        ((0.0..400.0).contains(&top).then_some(()), format!("{top}"))
    })
    .await;

    // One area for news, never over the page: lesser news sits in it, not on top of the
    // controls at the bottom of the screen; a summons has its own colour, not the alarm's.
    assert_eq!(
        style(amethyst, "#banner-notice", "position").await,
        "static"
    );
    assert!(
        amethyst
            .js(
                "return document.getElementById('banners').contains(document.getElementById('banner-notice'));",
                vec![],
            )
            .await
            .as_bool()
            .unwrap()
    );
    assert_ne!(
        style(amethyst, "#banner-summons", "backgroundColor").await,
        style(amethyst, "#banner-alarm", "backgroundColor").await,
        "a summons looks like an alarm"
    );

    // Spike raises the alarm; it is Amethyst's newest news until she answers. His page
    // keeps her answer until he has seen it, not for a few seconds.
    let raised = spike
        .js(
            "return fetch('/api/v1/bond/messages', {method: 'POST',
               headers: {'content-type': 'application/json',
                         authorization: `Bearer ${localStorage.getItem('haurach.token')}`},
               body: JSON.stringify({kind: 'alarm', id: 'screen-alarm', body: 'here'})})
               .then((r) => r.status);",
            vec![],
        )
        .await;
    assert_eq!(raised, json!(201));
    amethyst
        .wait_text("#latest", "Spike raised the alarm")
        .await;
    amethyst.wait_attr("#latest", "data-kind", "alarm").await;
    let violations = amethyst.axe_violations(&axe_source()).await;
    assert!(
        violations.is_empty(),
        "axe-core on a raised alarm: {violations:?}"
    );
    amethyst.click("#alarm-ack").await;
    amethyst.wait_text("#latest", "(answered)").await;
    amethyst
        .wait_attr("#latest", "data-kind", "alarm-answered")
        .await;
    spike
        .wait_text("#banner-heard", "Amethyst heard your alarm")
        .await;
    let violations = spike.axe_violations(&axe_source()).await;
    assert!(
        violations.is_empty(),
        "axe-core on an answered alarm: {violations:?}"
    );
    // Longer than any toast lasted (6 s): still there.
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert!(
        spike.shown("#banner-heard").await,
        "the answer went away unseen"
    );
    spike.click("#banner-heard .banner-close").await;
    spike.wait_hidden("#banner-heard").await;

    // At desktop width the same news is at the top too.
    amethyst.set_viewport(1280, 800, false).await;
    let (seen, at) = on_first_screen(amethyst, "#latest").await;
    assert!(seen, "not on the first screen at 1280×800: {at}");
    amethyst.shot("first-screen-desktop").await;

    // Amethyst's page closes: Spike's says when she was last heard, and keeps saying it.
    let Pair {
        spike, amethyst, ..
    } = pair;
    amethyst.quit().await;
    spike
        .wait_text("#banner-contact", "Contact with Amethyst lost")
        .await;
    spike.wait_text("#banner-contact", "Last heard at").await;
    let violations = spike.axe_violations(&axe_source()).await;
    assert!(
        violations.is_empty(),
        "axe-core on lost contact: {violations:?}"
    );
    spike.shot("contact-lost-last-heard").await;
    spike.quit().await;
}
