//! The link screen, as two partners see it: the pull, the tiers, voice, thoughts,
//! feelings, the alarm, contact, and coming back after the server went away.

use std::time::Duration;

use serde_json::json;
use thirtyfour::Key;

use crate::harness::{Browser, Chromedriver, Pair, Server, eventually, serial};

/// Spike stays at 0° N 10° E; Amethyst is on the same parallel, east of him, where each
/// test puts her. On the equator 0.01° of longitude is 1.113 km.
const SPIKE: (f64, f64) = (0.0, 10.0);

/// Moves Amethyst's device and waits until Spike's page has the news.
async fn move_amethyst(pair: &Pair, lon: f64, spike_reads: &str) {
    pair.amethyst.set_position(0.0, lon).await;
    pair.spike.wait_text("#pull-text", spike_reads).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pull_shows_bearing_and_distance_and_tiers_follow_the_distance() {
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("pull").await;
    // 0.17° of longitude: 18.9 km due east. Feelings (20 km) pass; voice (17 km) does not.
    let pair = Pair::bond(&cd, &server, "story", SPIKE, (0.0, 10.17), true).await;
    let (spike, amethyst) = (&pair.spike, &pair.amethyst);

    spike
        .wait_text("#pull-text", "Amethyst is east, 19 km")
        .await;
    amethyst
        .wait_text("#pull-text", "Spike is west, 19 km")
        .await;
    let radar = spike.text_content("#radar-label").await;
    assert!(
        radar.starts_with("Amethyst is east, 19 km"),
        "radar's text alternative: {radar:?}"
    );
    spike.wait_text("#heading-mode", "North is up").await;
    spike.wait_text("#next-tier", "Voice opens in 1.9 km").await;
    spike.wait_tier("feelings", "open").await;
    spike.wait_tier("voice", "closed").await;
    spike.wait_tier("thoughts", "closed").await;
    spike.wait_attr("#strength", "aria-valuetext", "1%").await;
    spike
        .wait_text(
            "#voice-closed",
            "Voice passes within 17 km — you are 19 km apart",
        )
        .await;
    assert!(!spike.find("#voice-send").await.is_enabled().await.unwrap());
    spike.shot("link-far").await;

    // Amethyst flies 7.8 km west in a moment: 11 km apart. Voice, thoughts and images
    // open; glimpse (10 km) does not yet. The jump is faster than anyone travels: stretch.
    move_amethyst(&pair, 10.1, "Amethyst is east, 11 km").await;
    for tier in ["feelings", "voice", "thoughts", "images"] {
        spike.wait_tier(tier, "open").await;
    }
    spike.wait_tier("glimpse", "closed").await;
    spike
        .wait_text("#next-tier", "Glimpse opens in 1.1 km")
        .await;
    spike.wait_shown("#banner-stretch").await;
    spike
        .wait_text("#banner-stretch", "Amethyst's position jumped 7.8 km")
        .await;
    amethyst
        .wait_text("#banner-stretch", "Your position jumped 7.8 km")
        .await;
    assert!(spike.find("#voice-send").await.is_enabled().await.unwrap());
    spike.shot("link-near").await;

    // Back out to 17.5 km: past voice's 17 km but within 1.1 × 17 km, so voice stays
    // open; images (15 km, closing past 16.5 km) close.
    move_amethyst(&pair, 10.157, "Amethyst is east, 17 km").await;
    spike.wait_tier("images", "closed").await;
    spike.wait_tier("voice", "open").await;
    spike.wait_tier("thoughts", "open").await;

    // 18.9 km is past 1.1 × 17 km = 18.7 km: voice and thoughts close.
    move_amethyst(&pair, 10.17, "Amethyst is east, 19 km").await;
    spike.wait_tier("voice", "closed").await;
    spike.wait_tier("thoughts", "closed").await;
    spike.wait_tier("feelings", "open").await;
    spike.wait_text("#next-tier", "Voice opens in 1.9 km").await;

    // Within sight (2 km) the exact position is shared.
    move_amethyst(&pair, 10.01, "Amethyst is east, 1.1 km").await;
    spike
        .wait_text(
            "#pull-exact",
            "Amethyst is exactly at 0.00000° N, 10.01000° E",
        )
        .await;
    amethyst
        .wait_text("#pull-exact", "Spike is exactly at 0.00000° N, 10.00000° E")
        .await;
    spike.wait_tier("sight", "open").await;
    spike.shot("link-sight").await;

    // The same screen on a desktop: two columns.
    spike.set_viewport(1280, 900, false).await;
    spike
        .wait_text("#pull-text", "Amethyst is east, 1.1 km")
        .await;
    spike.shot("link-desktop").await;

    // A desktop has no GPS: Spike types where he is. Amethyst (at 10.01° E) is now west.
    spike.fill("#pos-lat", "0").await;
    spike.fill("#pos-lon", "10.05").await;
    spike.click("#position-form button[type=submit]").await;
    // Nothing moves before he says so: the page asks, naming how far.
    spike
        .wait_text(
            "#hand-detail",
            "To 0.00000° N, 10.05000° E, 5.6 km from where your device puts you.",
        )
        .await;
    spike.shot("link-hand-confirm").await;
    spike.click("#hand-yes").await;
    spike.wait_text("#position-status", "set by hand").await;
    spike
        .wait_text("#pull-text", "Amethyst is west, 4.5 km")
        .await;
    // Amethyst is told it was set by hand, not measured.
    amethyst
        .wait_text(
            "#pull-text",
            "Spike is east, 4.5 km, a position Spike set by hand",
        )
        .await;
    spike.wait_shown("#gps-resume").await;

    // Or clicks on the radar: a point straight below the centre moves him south.
    let radar = spike.find("#radar").await;
    let rect = radar.rect().await.unwrap();
    let tap_below_centre = async || {
        spike
            .driver
            .action_chain()
            .move_to_element_with_offset(&radar, 0, (rect.height / 4.0) as i64)
            .click()
            .perform()
            .await
            .unwrap();
    };
    tap_below_centre().await;
    // A tap that moved him without asking: now it asks, and Cancel leaves him where he was.
    spike.wait_shown("#hand-dialog").await;
    spike.click("#hand-no").await;
    spike.wait_hidden("#hand-dialog").await;
    let status = spike.text("#position-status").await;
    assert!(status.contains("10.05000° E"), "{status}");
    tap_below_centre().await;
    spike.click("#hand-yes").await;
    let status = spike.wait_text("#position-status", "° S, 10.0").await;
    assert!(status.ends_with("set by hand."), "{status}");
    spike
        .wait_text("#pull-text", "Amethyst is north-west")
        .await;
    amethyst
        .wait_text("#pull-text", "Spike is south-east")
        .await;
    spike.shot("link-desktop-by-hand").await;

    spike.set_viewport(360, 844, true).await;
    // Back on a phone with a compass, facing west (alpha 90°): the arrow turns, and
    // Amethyst, north-west, is ahead to the right.
    let z = std::f64::consts::FRAC_PI_4.sin();
    spike
        .cdp(
            "Emulation.setSensorOverrideEnabled",
            json!({"enabled": true, "type": "absolute-orientation"}),
        )
        .await;
    spike
        .cdp(
            "Emulation.setSensorOverrideReadings",
            json!({"type": "absolute-orientation",
                   "reading": {"quaternion": {"x": 0, "y": 0, "z": z, "w": z}}}),
        )
        .await;
    // The page asks for headings when it opens; a device without a sensor then has
    // none to give, so the page is opened again now that the emulated one is there.
    spike.driver.refresh().await.unwrap();
    spike
        .wait_text("#heading-mode", "turns with your phone")
        .await;
    let pull = spike.wait_text("#pull-text", "— ahead to your right").await;
    assert!(pull.starts_with("Amethyst is north-west"), "{pull}");
    spike.shot("link-compass").await;
    pair.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_thoughts_and_feelings_reach_the_other_window() {
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("voice").await;
    // 5.6 km apart: everything up to glimpse is open.
    let pair = Pair::bond(&cd, &server, "story", SPIKE, (0.0, 10.05), false).await;
    let (spike, amethyst) = (&pair.spike, &pair.amethyst);
    spike.wait_tier("voice", "open").await;
    amethyst.wait_tier("thoughts", "open").await;

    // Voice.
    let words = "You miss someone as well, don't you?";
    spike.fill("#voice-text", words).await;
    spike.click("#voice-send").await;
    amethyst.wait_text("#history", words).await;
    spike.wait_text("#history", words).await;
    spike.wait_text_without("#history", "sending…").await;
    assert_eq!(amethyst.count_messages(words).await, 1);

    // Thoughts pass as they are typed, edits included.
    let thought = spike.find("#thought-text").await;
    thought
        .send_keys("I wonder if she's attractive")
        .await
        .unwrap();
    amethyst
        .wait_text("#partner-thought", "I wonder if she's attractive")
        .await;
    amethyst.shot("thoughts-arriving").await;
    for _ in 0.."attractive".len() {
        thought.send_keys(Key::Backspace).await.unwrap();
    }
    thought.send_keys("kind 🐉").await.unwrap();
    eventually("Amethyst to see the edited thought", async || {
        let seen = amethyst.text("#partner-thought").await;
        (
            (seen == "I wonder if she's kind 🐉").then_some(()),
            format!("{seen:?}"),
        )
    })
    .await;

    amethyst.fill("#voice-text", "I HEARD that!").await;
    amethyst.click("#voice-send").await;
    spike.wait_text("#history", "I HEARD that!").await;

    // A feeling.
    amethyst.click("#feelings .feeling-joy").await;
    spike.wait_text("#feeling-last", "Amethyst feels joy").await;
    spike.wait_text("#history", "feels joy").await;
    spike.shot("voice-and-feelings").await;

    // Guarded, nothing passes, and what was on Amethyst's screen is withdrawn.
    spike.record_sent_frames().await;
    spike.click("#guard").await;
    spike.wait_attr("#guard", "aria-checked", "true").await;
    amethyst
        .wait_text("#partner-guard", "Spike is guarding their thoughts.")
        .await;
    amethyst
        .wait_text_without("#partner-thought", "I wonder")
        .await;
    // The box is locked while guarded: nothing typed then exists to leak, neither at the
    // next reset (every 3 s) nor when the guard comes off.
    let _ = thought.send_keys(" secret").await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(amethyst.text("#partner-thought").await, "");
    spike.click("#guard").await;
    amethyst
        .wait_text("#partner-thought", "I wonder if she's kind 🐉")
        .await;
    amethyst
        .wait_text_without("#partner-guard", "guarding")
        .await;
    thought.send_keys(" and brave").await.unwrap();
    amethyst
        .wait_text("#partner-thought", "I wonder if she's kind 🐉 and brave")
        .await;
    let sent = spike.sent_frames().await;
    assert!(
        !sent.iter().any(|f| f.contains("secret")),
        "typed while guarded, and sent: {sent:?}"
    );
    pair.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alarm_passes_at_100_km_and_is_acknowledged() {
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("alarm").await;
    // 0.9° of longitude: 100 km. Nothing passes but the pull and the alarm.
    let pair = Pair::bond(&cd, &server, "story", SPIKE, (0.0, 10.9), false).await;
    let (spike, amethyst) = (&pair.spike, &pair.amethyst);
    spike
        .wait_text("#pull-text", "Amethyst is east, 100 km")
        .await;
    spike.wait_tier("feelings", "closed").await;
    spike
        .wait_text("#feelings-closed", "you are 100 km apart")
        .await;
    let joy = spike.find("#feelings .feeling-joy").await;
    assert!(
        !joy.is_enabled().await.unwrap(),
        "feelings are closed at 100 km"
    );

    // A tap is not enough.
    spike.click("#alarm-hold").await;
    spike.wait_text("#alarm-status", "Keep holding").await;

    // Held for over a second with the pointer, it goes, with the words typed beside it.
    spike.fill("#alarm-words", "my ankle, by the ford").await;
    let hold = spike.find("#alarm-hold").await;
    spike
        .driver
        .action_chain()
        .click_and_hold_element(&hold)
        .perform()
        .await
        .unwrap();
    // The person's finger stays down for 1.3 s: this is the action, not a wait.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    spike
        .driver
        .action_chain()
        .release()
        .perform()
        .await
        .unwrap();
    spike
        .wait_text("#alarm-status", "waiting for Amethyst to answer")
        .await;
    spike
        .wait_text(
            "#banner-alarm-out",
            "Your alarm is raised: waiting for Amethyst",
        )
        .await;
    amethyst.wait_shown("#banner-alarm").await;
    amethyst
        .wait_text("#banner-alarm", "Spike raised the alarm!")
        .await;
    amethyst
        .wait_text("#banner-alarm", "“my ankle, by the ford”")
        .await;
    amethyst.shot("alarm-incoming").await;
    spike.shot("alarm-raised").await;

    // It stays until answered, even if Amethyst reopens the page.
    amethyst.driver.refresh().await.unwrap();
    amethyst
        .wait_text("#banner-alarm", "Spike raised the alarm!")
        .await;

    amethyst.click("#alarm-ack").await;
    amethyst.wait_hidden("#banner-alarm").await;
    spike
        .wait_text("#alarm-status", "Amethyst heard your alarm.")
        .await;
    spike.wait_hidden("#banner-alarm-out").await;
    spike
        .wait_text(
            "#history",
            "raised the alarm: my ankle, by the ford (answered)",
        )
        .await;

    // The keyboard works too: Amethyst holds Space on the button, Spike answers with Enter.
    amethyst
        .js("document.getElementById('alarm-hold').focus()", vec![])
        .await;
    amethyst
        .driver
        .action_chain()
        .key_down(Key::Space)
        .perform()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    amethyst
        .driver
        .action_chain()
        .key_up(Key::Space)
        .perform()
        .await
        .unwrap();
    spike
        .wait_text("#banner-alarm", "Amethyst raised the alarm!")
        .await;
    spike
        .js("document.getElementById('alarm-ack').focus()", vec![])
        .await;
    spike
        .driver
        .action_chain()
        .send_keys(Key::Enter)
        .perform()
        .await
        .unwrap();
    spike.wait_hidden("#banner-alarm").await;
    amethyst
        .wait_text("#alarm-status", "Spike heard your alarm.")
        .await;
    pair.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_is_lost_when_a_window_closes_and_restored_when_it_returns() {
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("contact").await;
    let pair = Pair::bond(&cd, &server, "city", SPIKE, (0.0, 10.001), false).await;
    pair.spike
        .wait_text("#pull-text", "Amethyst is east, 110 m")
        .await;
    let Pair {
        spike,
        amethyst,
        profiles,
    } = pair;
    let amethyst_profile = amethyst.profile.clone();

    // Amethyst's window closes; after the contact timeout (2 s here) Spike is told.
    amethyst.quit().await;
    spike.wait_shown("#banner-contact").await;
    spike
        .wait_text("#banner-contact", "Contact with Amethyst lost")
        .await;
    spike.shot("contact-lost").await;

    // She opens the page again: her session is remembered, the link comes back.
    let amethyst = Browser::open(
        &cd,
        &server,
        "Amethyst",
        &amethyst_profile,
        390,
        (0.0, 10.001),
    )
    .await;
    amethyst.wait_shown("#screen-link").await;
    spike
        .wait_text("#banner-contact", "Contact with Amethyst restored")
        .await;
    spike.shot("contact-restored").await;
    spike.quit().await;
    amethyst.quit().await;
    drop(profiles);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_server_restarts_nothing_is_lost_or_doubled() {
    let _serial = serial().await;
    let server = Server::start().await;
    let addr = server.addr;
    let cd = Chromedriver::start("reconnect").await;
    let pair = Pair::bond(&cd, &server, "open", SPIKE, (0.0, 20.0), false).await;
    let (spike, amethyst) = (&pair.spike, &pair.amethyst);
    spike.wait_text("#conn-text", "live").await;

    spike.fill("#voice-text", "before the storm").await;
    spike.click("#voice-send").await;
    amethyst.wait_text("#history", "before the storm").await;

    // The server goes away: both pages say so, and a message typed now waits.
    let dir = server.stop().await;
    spike.wait_shown("#banner-offline").await;
    spike
        .wait_text("#banner-offline", "Offline — reconnecting…")
        .await;
    amethyst
        .wait_text("#banner-offline", "Offline — reconnecting…")
        .await;
    amethyst.wait_text("#conn-text", "offline").await;
    spike.fill("#voice-text", "sent while offline").await;
    spike.click("#voice-send").await;
    spike.wait_text("#history", "waiting for the link…").await;
    spike.shot("offline").await;

    // It comes back on the same address: the pages reconnect by themselves, the waiting
    // message goes out once, and nothing already seen comes twice.
    let server = Server::start_on(dir, addr).await;
    spike.wait_text("#conn-text", "live").await;
    amethyst.wait_text("#conn-text", "live").await;
    amethyst.wait_text("#history", "sent while offline").await;
    spike
        .wait_text_without("#history", "waiting for the link")
        .await;
    spike.wait_hidden("#banner-offline").await;
    for body in ["before the storm", "sent while offline"] {
        assert_eq!(
            amethyst.count_messages(body).await,
            1,
            "{body:?} on Amethyst's page"
        );
        assert_eq!(
            spike.count_messages(body).await,
            1,
            "{body:?} on Spike's page"
        );
    }
    // A reload starts from the server's history: still once each.
    amethyst.driver.refresh().await.unwrap();
    amethyst.wait_text("#history", "sent while offline").await;
    assert_eq!(amethyst.count_messages("before the storm").await, 1);
    assert_eq!(amethyst.count_messages("sent while offline").await, 1);
    spike.shot("reconnected").await;
    pair.quit().await;
    drop(server);
}

/// Hardening the web client's promise: "Nothing you type reaches Amethyst now" while the
/// thoughts tier is closed. Before, the box took what was typed and sent it all the moment
/// the tier opened (and every 3 s before that, to a server that dropped it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_typed_while_thoughts_are_closed_ever_leaves_the_page() {
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("thoughts-closed").await;
    // 0.2° of longitude: 22 km apart, past the thoughts' 17 km.
    let pair = Pair::bond(&cd, &server, "story", SPIKE, (0.0, 10.2), false).await;
    let (spike, amethyst) = (&pair.spike, &pair.amethyst);
    spike.wait_tier("thoughts", "closed").await;
    spike.record_sent_frames().await;
    spike
        .wait_text("#thoughts-closed", "Until then the box is locked.")
        .await;
    let thought = spike.find("#thought-text").await;
    let _ = thought.send_keys("my secret plan").await;
    assert_eq!(thought.value().await.unwrap().unwrap_or_default(), "");
    spike.shot("thoughts-locked").await;

    // Amethyst comes within 6 km: the box opens, empty, and what is typed now passes.
    move_amethyst(&pair, 10.05, "Amethyst is east, 5.6 km").await;
    spike.wait_tier("thoughts", "open").await;
    thought.send_keys("hello").await.unwrap();
    amethyst.wait_text("#partner-thought", "hello").await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(amethyst.text("#partner-thought").await, "hello");
    let sent = spike.sent_frames().await;
    assert!(
        !sent.iter().any(|f| f.contains("secret")),
        "typed while closed, and sent: {sent:?}"
    );
    pair.quit().await;
}

/// The accepting page learns of the bond twice: from the `bonded` frame and from the
/// answer to its accept. On a busy phone the answer can come last, after the first pull
/// (seen once in CI); the pull must stay, since nothing sends it again until someone
/// moves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_answer_to_the_accept_does_not_lose_the_first_pull() {
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("late-accept").await;
    // Her page is handed the answer to the accept 3 s after it came: by then the frames
    // (`bonded`, then the pull once Spike's page sends where he is) are in.
    let Pair {
        spike, amethyst, ..
    } = Pair::bond_with(
        &cd,
        &server,
        "story",
        (SPIKE, (0.0, 10.3)),
        false,
        async |amethyst| {
            amethyst
                .js(
                    r#"const fetched = window.fetch;
                       window.fetch = async (path, init) => {
                         const res = await fetched(path, init);
                         if (path === "/api/v1/bond" && init?.method === "POST") {
                           await new Promise((done) => setTimeout(done, 3000));
                         }
                         return res;
                       };"#,
                    vec![],
                )
                .await;
        },
    )
    .await;
    spike
        .wait_text("#pull-text", "Amethyst is east, 33 km")
        .await;
    amethyst
        .wait_text("#pull-text", "Spike is west, 33 km")
        .await;
    // Past the answer: the pull is still there.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let pull = amethyst.text("#pull-text").await;
    assert!(
        pull.contains("Spike is west, 33 km"),
        "the answer to the accept took the pull away: {pull:?}"
    );
    spike.quit().await;
    amethyst.quit().await;
}
