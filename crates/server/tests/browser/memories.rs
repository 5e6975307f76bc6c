//! Memories in the web client: what Amethyst writes while apart stays hers until the two
//! are together; then it opens on Spike's page, and stays after they part.

use crate::harness::{Chromedriver, Pair, Server, serial};

const SPIKE: (f64, f64) = (0.0, 10.0);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_opens_when_together_and_stays_open() {
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("memories").await;
    // 1.1 km apart.
    let pair = Pair::bond(&cd, &server, "story", SPIKE, (0.0, 10.01), false).await;
    let (spike, amethyst) = (&pair.spike, &pair.amethyst);

    amethyst
        .fill("#memory-text", "The Glass Needle at dusk")
        .await;
    amethyst.click("#memory-form button[type=submit]").await;
    amethyst
        .wait_text("#memories-mine", "The Glass Needle at dusk")
        .await;
    spike
        .wait_text(
            "#memories-theirs",
            "Nothing of Amethyst's journal has opened",
        )
        .await;

    // She comes to him: the memories tier opens and her journal with it.
    amethyst.set_position(0.0, 10.0).await;
    spike.wait_tier("memories", "open").await;
    spike
        .wait_text("#memories-theirs", "The Glass Needle at dusk")
        .await;
    spike.wait_text("#memories-open", "You are together").await;
    spike.shot("memories").await;

    // She leaves again; after a reload it is still there.
    amethyst.set_position(0.0, 10.02).await;
    spike.wait_tier("memories", "closed").await;
    spike.driver.refresh().await.expect("reload");
    spike
        .wait_text("#memories-theirs", "The Glass Needle at dusk")
        .await;
    pair.quit().await;
}
