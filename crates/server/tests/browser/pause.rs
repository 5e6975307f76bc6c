//! Pausing one's sharing in the web client: the control, the banner that says so with
//! its Resume button, nothing of where she is leaving her page while paused, her
//! partner's page saying that she paused, and resuming announced; axe-core on both
//! pages at a phone's and a desktop's width.

use crate::harness::{Chromedriver, Pair, Server, axe_source, serial};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pausing_in_the_page_keeps_her_position_and_resuming_is_announced() {
    let axe = tokio::task::spawn_blocking(axe_source).await.unwrap();
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("pause").await;
    // 1.67 km apart on the equator: within sight range of the story profile.
    let pair = Pair::bond(&cd, &server, "story", (0.0, 10.0), (0.0, 10.015), false).await;
    let (spike, amethyst) = (&pair.spike, &pair.amethyst);
    spike
        .wait_text("#pull-text", "Amethyst is east, 1.7 km")
        .await;

    // She pauses for an hour: her page says so plainly, his says she paused.
    amethyst.wait_text("#pause-choices", "Pause sharing").await;
    amethyst
        .click("#pause-choices button[data-pause-s='3600']")
        .await;
    amethyst.wait_shown("#banner-paused").await;
    amethyst.wait_text("#banner-paused", "Sharing paused").await;
    amethyst
        .wait_text("#banner-paused-detail", "Nothing of where you are leaves")
        .await;
    amethyst.wait_hidden("#pause-choices").await;
    amethyst.wait_text("#pull-text", "You paused sharing").await;
    spike
        .wait_text("#pull-text", "Amethyst paused sharing until")
        .await;

    // She walks 56 km east: her page sends no position, and his still says she paused,
    // with no pull, strength or distance left from before.
    amethyst.record_sent_frames().await;
    amethyst.set_position(0.0, 10.5).await;
    spike.wait_text("#strength-text", "0%").await;
    spike
        .wait_text("#pull-text", "Amethyst paused sharing until")
        .await;

    for (who, name) in [(amethyst, "pause-paused"), (spike, "pause-partner-paused")] {
        for (width, height, mobile, label) in
            [(390, 844, true, "phone"), (1280, 900, false, "desktop")]
        {
            who.set_viewport(width, height, mobile).await;
            let found = who.axe_violations(&axe).await;
            assert!(found.is_empty(), "{name} at {label} width: {found:#?}");
            who.shot(&format!("{name}-{label}")).await;
        }
        who.set_viewport(390, 844, true).await;
    }
    let sent = amethyst.sent_frames().await;
    assert!(
        !sent.iter().any(|f| f.contains("\"position\"")),
        "a position left her page while paused: {sent:?}"
    );

    // She resumes: he is told, and her page sends where she is now.
    amethyst.click("#pause-resume").await;
    amethyst.wait_hidden("#banner-paused").await;
    amethyst.wait_shown("#pause-choices").await;
    spike
        .wait_text("#banner-notice-text", "Amethyst is sharing again")
        .await;
    spike
        .wait_text("#pull-text", "Amethyst is east, 56 km")
        .await;
    pair.quit().await;
}
