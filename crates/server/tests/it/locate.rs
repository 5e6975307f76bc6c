//! "Where are you now?" (`POST /api/v1/bond/locate`) on real servers: the asked
//! partner's link and devices are told, their OwnTracks app gets `reportLocation` once
//! per ask whichever node it posts to, asking is limited to once a minute, and the
//! answer reaches the asker. And "last seen" and the battery, which reach the partner
//! only while the feelings tier is open: on the link, over HTTP and on the OwnTracks
//! friend.

use haurach_proto::{ClientFrame, Mover, PositionUpdate, PullView, ServerFrame};
use serde_json::{Value, json};

use crate::common::{TestServer, raw};
use crate::owntracks::{now_s, post};
use crate::push::{BrowserKeys, PushService, decrypt_elsewhere};

const SPIKE: Option<(&str, &str)> = Some(("spike", "purple-dragon"));

/// Amethyst stays here; spike is 14 km north (feelings open in the story profile,
/// within 20 km) or 33 km north (closed).
const HOME: (f64, f64) = (46.0, 7.0);
const NEAR: (f64, f64) = (46.126, 7.0);
const FAR: (f64, f64) = (46.3, 7.0);

fn is_locate(cmd: &Value) -> bool {
    cmd == &json!({"_type": "cmd", "action": "reportLocation"})
}

/// How many `reportLocation` commands an OwnTracks answer holds.
fn commands(answer: &Value) -> usize {
    answer
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| is_locate(m))
        .count()
}

/// Unix seconds in RFC 3339, as a position's `at`.
fn rfc3339(unix_s: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix_s)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// The next pull frame after the partner moved.
async fn partner_pull(link: &mut crate::common::Link) -> PullView {
    match link
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
    {
        ServerFrame::Pull { pull, .. } => pull,
        _ => unreachable!(),
    }
}

/// The story on `ask` (where amethyst asks) and `answer` (where spike's link and app
/// are): the same server on SQLite, two nodes on PostgreSQL.
async fn story(ask: &TestServer, answer: &TestServer) {
    let (amethyst, spike) = ask.pair("amethyst", "spike", "story").await;
    let loner = ask.citizen("twilight").await;
    ask.put_position(&amethyst, HOME.0, HOME.1).await;
    // A minute old: the answer below is fresher.
    let (status, _) = answer
        .call(
            "PUT",
            "/api/v1/me/position",
            Some(&spike),
            Some(&json!({"lat": NEAR.0, "lon": NEAR.1, "at": rfc3339(now_s() - 60)})),
        )
        .await;
    assert_eq!(status, 204);

    // Nobody to ask without a partner.
    let (status, problem) = ask
        .call("POST", "/api/v1/bond/locate", Some(&loner), None)
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (404, Some("not_bonded"))
    );

    let mut spike_link = answer.link(&spike, None).await;
    spike_link.next().await; // hello
    let mut her_link = ask.link(&amethyst, None).await;
    her_link.next().await;

    let (status, body) = ask
        .call("POST", "/api/v1/bond/locate", Some(&amethyst), None)
        .await;
    assert_eq!(status, 202, "{body}");
    // Spike's page is told at once (on whichever node it is linked to)...
    let asked = spike_link
        .until(|f| matches!(f, ServerFrame::Locate { .. }))
        .await;
    assert_eq!(
        asked,
        ServerFrame::Locate {
            by: "amethyst".into()
        }
    );
    // ...and answers with a fresh fix, which amethyst sees arrive with its time.
    // A second ago (a time the server takes as it is, not as "now").
    let at = time::OffsetDateTime::from_unix_timestamp(now_s() - 1).unwrap();
    spike_link
        .send(&ClientFrame::Position(PositionUpdate {
            lat: NEAR.0 + 0.0005,
            lon: NEAR.1,
            accuracy_m: Some(8.0),
            at: Some(at),
            by_hand: false,
            battery: Some(64),
        }))
        .await;
    let pull = partner_pull(&mut her_link).await;
    assert_eq!((pull.seen_at, pull.battery), (Some(at), Some(64)));

    // Asking again within the minute: 429, saying when.
    let (status, headers, body) = raw(
        ask.addr,
        "POST",
        "/api/v1/bond/locate",
        Some(&amethyst),
        None,
        "application/json",
    )
    .await;
    assert_eq!(status, 429, "{body}");
    assert!(
        headers.contains("content-type: application/problem+json"),
        "{headers}"
    );
    let problem: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["code"], "asked_recently");
    let retry: u64 = headers
        .lines()
        .find_map(|l| l.strip_prefix("retry-after: "))
        .expect("Retry-After")
        .trim()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Spike's own asks are his.
    let (status, _) = answer
        .call("POST", "/api/v1/bond/locate", Some(&spike), None)
        .await;
    assert_eq!(status, 202);

    // Spike's OwnTracks app, posting to the other node: told once to report.
    let fix = crate::owntracks::location(NEAR.0, NEAR.1, now_s());
    let (status, _, first) = post(answer, SPIKE, &fix).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(commands(&first), 1, "{first}");
    let (_, _, second) = post(answer, SPIKE, &fix).await;
    assert_eq!(commands(&second), 0, "once per ask: {second}");
    let (_, _, third) = post(ask, SPIKE, &fix).await;
    assert_eq!(commands(&third), 0, "once per ask, on every node: {third}");
}

#[tokio::test]
async fn a_partner_asked_where_they_are_answers_on_sqlite() {
    let s = TestServer::start().await;
    story(&s, &s).await;
}

#[tokio::test]
async fn a_partner_asked_where_they_are_answers_on_postgres() {
    let Some(nodes) = crate::common::two_nodes().await else {
        return;
    };
    story(&nodes.two, &nodes.one).await;
}

#[tokio::test]
async fn the_asked_partner_s_devices_are_pushed_who_asks() {
    let (service, push_addr) = PushService::start().await;
    let s = TestServer::start_with(|c| c.push_allow_loopback = true).await;
    let (amethyst, spike) = s.pair("amethyst", "spike", "story").await;
    let (_, key) = s.call("GET", "/api/v1/push/key", Some(&spike), None).await;
    let keys = BrowserKeys::new();
    let sub = keys.subscription(&format!("http://{push_addr}/dev/phone"));
    let (status, _) = s
        .call(
            "POST",
            "/api/v1/push/subscriptions",
            Some(&spike),
            Some(&sub),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = s
        .call("POST", "/api/v1/bond/locate", Some(&amethyst), None)
        .await;
    assert_eq!(status, 202);
    let push = service.wait_for("/dev/phone", "locate", 0).await;
    assert_eq!(push.headers["urgency"], "high");
    let decrypted = decrypt_elsewhere(
        &keys,
        key["public_key"].as_str().unwrap(),
        &format!("http://{push_addr}"),
        &[push],
    );
    assert_eq!(
        decrypted[0].0,
        json!({"kind": "locate", "from": "amethyst"}),
        "who asks, and nothing of where"
    );
}

/// The partner's pull as `GET /api/v1/bond` shows it.
async fn bond_pull(s: &TestServer, token: &str) -> Value {
    let (status, bond) = s.call("GET", "/api/v1/bond", Some(token), None).await;
    assert_eq!(status, 200);
    bond["pull"].clone()
}

// Regression: the OwnTracks friend carried the partner's real fix time at any range.
#[tokio::test]
async fn last_seen_and_the_battery_reach_the_partner_only_while_feelings_are_open() {
    let s = TestServer::start().await;
    let (amethyst, spike) = s.pair("amethyst", "spike", "story").await;
    s.put_position(&amethyst, HOME.0, HOME.1).await;
    let mut her_link = s.link(&amethyst, None).await;
    her_link.next().await;
    // An hour old fix from spike's phone, 33 km away: feelings are closed.
    let far = json!({"lat": FAR.0, "lon": FAR.1, "at": rfc3339(now_s() - 3600), "battery": 31});
    let (status, body) = s
        .call("PUT", "/api/v1/me/position", Some(&spike), Some(&far))
        .await;
    assert_eq!(status, 204, "{body}");
    let pull = partner_pull(&mut her_link).await;
    assert_eq!((pull.seen_at, pull.battery), (None, None), "pull frame");
    let view = bond_pull(&s, &amethyst).await;
    assert!(view.is_object(), "{view}");
    assert!(
        view.get("seen_at").is_none() && view.get("battery").is_none(),
        "bond view: {view}"
    );
    // Her OwnTracks app: the friend's time is the answer's, and no battery.
    let her = Some(("amethyst", "purple-dragon"));
    let before = now_s();
    let (_, _, answer) = post(&s, her, b"").await;
    let friend = &answer[1];
    assert_eq!(friend["_type"], "location", "{answer}");
    assert!(friend["tst"].as_i64().unwrap() >= before, "{friend}");
    assert!(friend.get("batt").is_none(), "{friend}");

    // Spike comes within 14 km, the phone's battery at 30 %: feelings open.
    let near_at = time::OffsetDateTime::from_unix_timestamp(now_s() - 5).unwrap();
    let near = json!({"lat": NEAR.0, "lon": NEAR.1, "at": rfc3339(near_at.unix_timestamp()), "battery": 30});
    let (status, _) = s
        .call("PUT", "/api/v1/me/position", Some(&spike), Some(&near))
        .await;
    assert_eq!(status, 204);
    let pull = partner_pull(&mut her_link).await;
    assert_eq!((pull.seen_at, pull.battery), (Some(near_at), Some(30)));
    let view = bond_pull(&s, &amethyst).await;
    assert_eq!(view["battery"], 30, "{view}");
    assert!(view["seen_at"].is_string(), "{view}");
    let (_, _, answer) = post(&s, her, b"").await;
    let friend = &answer[1];
    assert_eq!(friend["tst"].as_i64(), Some(near_at.unix_timestamp()));
    assert_eq!(friend["batt"], 30, "{friend}");
    // And the app's own battery reaches her the same way.
    let body =
        json!({"_type": "location", "lat": NEAR.0, "lon": NEAR.1, "tst": now_s(), "batt": 77})
            .to_string();
    let (status, _, _) = post(&s, SPIKE, body.as_bytes()).await;
    assert_eq!(status, 200);
    let pull = partner_pull(&mut her_link).await;
    assert_eq!(pull.battery, Some(77));
}
