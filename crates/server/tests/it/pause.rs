//! Pausing one's sharing (`/api/v1/me/pause`): positions from every source sent while
//! paused reach nobody (not the partner's link, pull or OwnTracks friend, not the
//! journey), the partner sees the pause, the alarm passes both ways, contact is not lost
//! and resuming is announced (on the link and as a push) without a stretch. A pause
//! survives a restart and ends by itself at its `until`; with two nodes, the node that
//! did not take the pause keeps it too.

use std::time::{Duration, Instant};

use haurach_proto::{
    ClientFrame, ContactState, MessageKind, Mover, PositionUpdate, SendMessage, ServerFrame,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::common::{Link, TestServer, two_nodes};
use crate::owntracks::{location, now_s, post};
use crate::push::{BrowserKeys, PushService, decrypt_elsewhere};

/// Where she goes while paused: a latitude nobody else uses, to look for in answers.
const HIDDEN: (f64, f64) = (51.61234, -0.31234);

fn at(lat: f64, lon: f64) -> ClientFrame {
    ClientFrame::Position(PositionUpdate {
        lat,
        lon,
        accuracy_m: None,
        at: None,
        by_hand: false,
        battery: None,
    })
}

/// Every frame up to and including the first that `last` matches.
async fn frames_until(link: &mut Link, last: impl Fn(&ServerFrame) -> bool) -> Vec<ServerFrame> {
    let mut seen = Vec::new();
    loop {
        let frame = link.next().await;
        let done = last(&frame);
        seen.push(frame);
        if done {
            return seen;
        }
    }
}

fn resumed(who: &str) -> impl Fn(&ServerFrame) -> bool {
    move |f| matches!(f, ServerFrame::Resumed { who: w } if w == who)
}

fn paused(who: &str) -> impl Fn(&ServerFrame) -> bool {
    move |f| matches!(f, ServerFrame::Paused { who: w, .. } if w == who)
}

fn pulls(frames: &[ServerFrame]) -> Vec<&ServerFrame> {
    frames
        .iter()
        .filter(|f| matches!(f, ServerFrame::Pull { .. }))
        .collect()
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap()
}

#[tokio::test]
async fn positions_sent_while_paused_reach_nobody_and_resuming_is_announced() {
    let (service, push_addr) = PushService::start().await;
    let s = TestServer::start_with(|c| c.push_allow_loopback = true).await;
    let (amethyst, spike) = s.pair("amethyst", "spike", "city").await;
    s.put_position(&amethyst, 51.5, -0.1).await;
    s.put_position(&spike, 51.5005, -0.1).await;
    let phone = BrowserKeys::new();
    let sub = phone.subscription(&format!("http://{push_addr}/dev/phone"));
    let (status, body) = s
        .call(
            "POST",
            "/api/v1/push/subscriptions",
            Some(&spike),
            Some(&sub),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let mut hers = s.link(&amethyst, None).await;
    hers.next().await;
    let mut his = s.link(&spike, None).await;
    let ServerFrame::Hello { bond, .. } = his.next().await else {
        panic!("hello first");
    };
    assert!(
        bond.unwrap().pull.unwrap().exact,
        "within sight before the pause"
    );

    // She pauses until she resumes; he is told.
    let (status, view) = s
        .call("PUT", "/api/v1/me/pause", Some(&amethyst), Some(&json!({})))
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["paused"], true);
    assert!(view.get("until").is_none(), "{view}");
    let before = frames_until(&mut his, paused("amethyst")).await;
    assert!(matches!(
        before.last(),
        Some(ServerFrame::Paused { until: None, .. })
    ));

    // Her positions from every source: the HTTP move, the live link, the OwnTracks app
    // (accepted, so the app does not send them again).
    s.put_position(&amethyst, HIDDEN.0, HIDDEN.1).await;
    hers.send(&at(HIDDEN.0, HIDDEN.1)).await;
    let her_app = Some(("amethyst", "purple-dragon"));
    let (status, _, _) = post(&s, her_app, &location(HIDDEN.0, HIDDEN.1, now_s())).await;
    assert_eq!(status, 200);
    // The alarm passes while she is paused, both ways (her link answers `sent` after the
    // position frame before it was handled).
    hers.send(&ClientFrame::Send(SendMessage {
        kind: MessageKind::Alarm,
        id: "paused-alarm".into(),
        body: Some("here".into()),
        feeling: None,
        sealed: None,
    }))
    .await;
    hers.until(|f| matches!(f, ServerFrame::Sent { .. })).await;
    let alarm = json!({"kind": "alarm", "id": "his-alarm", "body": "and here"});
    let (status, raised) = s
        .call("POST", "/api/v1/bond/messages", Some(&spike), Some(&alarm))
        .await;
    assert_eq!(status, 201, "{raised}");
    hers.until(|f| matches!(f, ServerFrame::Message { message } if message.from == "spike"))
        .await;
    // He moves meanwhile: his own pull is not worked out from where she was either.
    s.put_position(&spike, 51.5006, -0.1).await;

    // What he sees: that she paused, no pull; the tiers that need a distance closed.
    let (status, view) = s.call("GET", "/api/v1/bond", Some(&spike), None).await;
    assert_eq!(status, 200);
    assert_eq!(view["partner_pause"]["paused"], true, "{view}");
    assert_eq!(view["pull"], Value::Null, "{view}");
    assert_eq!(view["tiers"]["sight"]["open"], false, "{view}");
    assert_eq!(view["tiers"]["alarm"]["open"], true, "{view}");
    assert_eq!(view["contact"], "live", "{view}");
    // His OwnTracks app shows her paused, with no location.
    let (status, _, friends) = post(
        &s,
        Some(("spike", "purple-dragon")),
        &location(51.5006, -0.1, now_s()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(friends[0]["name"], "amethyst (paused)", "{friends}");
    assert!(
        !friends
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["tid"] == "AM" && f["_type"] == "location"),
        "{friends}"
    );
    assert!(!friends.to_string().contains("51.61"), "{friends}");
    // Nor does her own journey keep where she went.
    let (status, gpx) = s
        .call("GET", "/api/v1/me/journey.gpx", Some(&amethyst), None)
        .await;
    assert_eq!(status, 200);
    assert!(!gpx.to_string().contains("51.61"), "{gpx}");

    // She resumes: he is told on the link and on his phone.
    let (status, _) = s
        .call("DELETE", "/api/v1/me/pause", Some(&amethyst), None)
        .await;
    assert_eq!(status, 204);
    let during = frames_until(&mut his, resumed("amethyst")).await;
    assert!(
        pulls(&during).is_empty(),
        "a pull while she was paused: {during:?}"
    );
    assert!(
        during.iter().any(|f| matches!(f,
            ServerFrame::Message { message } if message.kind == MessageKind::Alarm && message.from == "amethyst")),
        "her alarm while paused: {during:?}"
    );
    assert!(
        !during.iter().any(|f| matches!(
            f,
            ServerFrame::Contact {
                state: ContactState::Lost,
                ..
            }
        )),
        "{during:?}"
    );
    let push = service.wait_for("/dev/phone", "pause", 0).await;
    assert_eq!(push.headers["content-encoding"], "aes128gcm");
    // Who, and that they resumed: nothing of where (decrypted by another implementation).
    let (_, key) = s.call("GET", "/api/v1/push/key", Some(&spike), None).await;
    let base = format!("http://{push_addr}");
    let key = key["public_key"].as_str().unwrap();
    let decrypted = decrypt_elsewhere(&phone, key, &base, &[push]);
    assert_eq!(
        decrypted[0].0,
        json!({"kind": "resumed", "who": "amethyst"})
    );

    // Her next fix, 44 km from the last one she shared a moment ago, moves the pull
    // again from where she is now, and is no stretch of the bond.
    s.put_position(&amethyst, 51.9, -0.1).await;
    let after = frames_until(&mut his, |f| {
        matches!(
            f,
            ServerFrame::Pull {
                moved: Mover::Partner,
                ..
            }
        )
    })
    .await;
    assert!(
        !after
            .iter()
            .any(|f| matches!(f, ServerFrame::Stretch { .. })),
        "{after:?}"
    );
    let (_, view) = s.call("GET", "/api/v1/bond", Some(&spike), None).await;
    assert_eq!(view["partner_pause"]["paused"], false, "{view}");
    let distance = view["pull"]["distance_m"].as_f64().unwrap();
    assert!((43_000.0..46_000.0).contains(&distance), "{view}");
}

#[tokio::test]
async fn a_pause_survives_a_restart_and_ends_by_itself_without_losing_contact() {
    // A contact timeout far shorter than the pause: silence while paused is no loss.
    let tweak = |c: &mut haurach_server::Config| c.contact_timeout_s = 1.0;
    let s = TestServer::start_with(tweak).await;
    let (amethyst, spike) = s.pair("amethyst", "spike", "city").await;
    s.put_position(&amethyst, 51.5, -0.1).await;
    s.put_position(&spike, 51.5005, -0.1).await;
    let until = OffsetDateTime::now_utc() + Duration::from_secs(4);
    let (status, view) = s
        .call(
            "PUT",
            "/api/v1/me/pause",
            Some(&amethyst),
            Some(&json!({"until": rfc3339(until)})),
        )
        .await;
    assert_eq!(status, 200, "{view}");

    let s = TestServer::start_in(s.stop().await, tweak).await;
    let (status, view) = s
        .call("GET", "/api/v1/me/pause", Some(&amethyst), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(view["paused"], true, "{view}");
    let kept = OffsetDateTime::parse(view["until"].as_str().unwrap(), &Rfc3339).unwrap();
    assert_eq!(kept.unix_timestamp(), until.unix_timestamp());
    let mut his = s.link(&spike, None).await;
    let ServerFrame::Hello { bond, .. } = his.next().await else {
        panic!("hello first");
    };
    let bond = bond.unwrap();
    assert!(bond.partner_pause.paused && bond.pull.is_none(), "{bond:?}");
    // Still dropped after the restart.
    s.put_position(&amethyst, HIDDEN.0, HIDDEN.1).await;
    let (_, view) = s.call("GET", "/api/v1/bond", Some(&spike), None).await;
    assert_eq!(view["pull"], Value::Null, "{view}");

    // Its end comes by itself, announced; she was never lost meanwhile (he may be: his
    // link is silent).
    let during = frames_until(&mut his, resumed("amethyst")).await;
    assert!(
        !during.iter().any(|f| matches!(
            f,
            ServerFrame::Contact {
                state: ContactState::Lost,
                who,
                ..
            } if who == "amethyst"
        )),
        "{during:?}"
    );
    assert!(pulls(&during).is_empty(), "{during:?}");
    let (_, view) = s
        .call("GET", "/api/v1/me/pause", Some(&amethyst), None)
        .await;
    assert_eq!(view, json!({"paused": false}));
}

#[tokio::test]
async fn a_pause_in_the_past_or_beyond_a_year_is_refused() {
    let s = TestServer::start().await;
    let amethyst = s.citizen("amethyst").await;
    for until in [
        OffsetDateTime::now_utc() - Duration::from_secs(60),
        OffsetDateTime::now_utc() + Duration::from_secs(400 * 86_400),
    ] {
        let (status, problem) = s
            .call(
                "PUT",
                "/api/v1/me/pause",
                Some(&amethyst),
                Some(&json!({"until": rfc3339(until)})),
            )
            .await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["code"], "invalid_pause");
    }
    // Unbonded, a pause still keeps positions out of the journey.
    let (status, _) = s
        .call("PUT", "/api/v1/me/pause", Some(&amethyst), Some(&json!({})))
        .await;
    assert_eq!(status, 200);
    s.put_position(&amethyst, HIDDEN.0, HIDDEN.1).await;
    let (_, gpx) = s
        .call("GET", "/api/v1/me/journey.gpx", Some(&amethyst), None)
        .await;
    assert!(!gpx.to_string().contains("51.61"), "{gpx}");
}

#[tokio::test]
async fn with_two_nodes_the_other_node_keeps_the_pause_too() {
    let Some(nodes) = two_nodes().await else {
        return;
    };
    let (one, two) = (&nodes.one, &nodes.two);
    let (amethyst, spike) = one.pair("amethyst", "spike", "city").await;
    one.put_position(&amethyst, 51.5, -0.1).await;
    one.put_position(&spike, 51.5005, -0.1).await;
    let mut his = two.link(&spike, None).await;
    his.next().await;

    let (status, _) = one
        .call("PUT", "/api/v1/me/pause", Some(&amethyst), Some(&json!({})))
        .await;
    assert_eq!(status, 200);
    frames_until(&mut his, paused("amethyst")).await;
    // Node two has heard of it (its view of the bond says so) before she posts there.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, view) = two.call("GET", "/api/v1/bond", Some(&spike), None).await;
        if view["partner_pause"]["paused"] == true {
            break;
        }
        assert!(Instant::now() < deadline, "node two never heard: {view}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    two.put_position(&amethyst, HIDDEN.0, HIDDEN.1).await;
    one.put_position(&amethyst, HIDDEN.0, HIDDEN.1).await;
    two.put_position(&spike, 51.5006, -0.1).await;
    let (_, view) = one.call("GET", "/api/v1/bond", Some(&spike), None).await;
    assert_eq!(view["pull"], Value::Null, "{view}");

    // Resumed through node two; she then moves through node one.
    let (status, _) = two
        .call("DELETE", "/api/v1/me/pause", Some(&amethyst), None)
        .await;
    assert_eq!(status, 204);
    let during = frames_until(&mut his, resumed("amethyst")).await;
    assert!(pulls(&during).is_empty(), "{during:?}");
    one.put_position(&amethyst, 51.5002, -0.1).await;
    let ServerFrame::Pull { pull, .. } = his
        .until(|f| {
            matches!(
                f,
                ServerFrame::Pull {
                    moved: Mover::Partner,
                    ..
                }
            )
        })
        .await
    else {
        unreachable!()
    };
    assert!(pull.distance_m < 100.0, "{pull:?}");
}
