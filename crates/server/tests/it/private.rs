//! A private bond through the API (issue 20), on SQLite and on PostgreSQL: the test plays
//! both partners' devices with `haurach-private`. The tiers open and close from token
//! reports as the matcher says at the story profile's distances, the alarm passes at any
//! range, a position from any source (HTTP, the link, OwnTracks) is refused and never
//! stored, malformed or stale reports are refused, and neither partner's link ever
//! receives a token.

use haurach_bond::{Fix, Profile, Tier};
use haurach_private::tokens::{EPOCH_MS, report};
use haurach_private::{BondKey, DeviceSecret, InviteSecret, Role};
use haurach_proto::private::{key_from_hex, to_hex};
use haurach_proto::{ClientFrame, PositionUpdate, ServerFrame, TokenReport};
use serde_json::{Value, json};

use crate::common::{Link, TestServer};
use crate::owntracks::{location, now_s, post};

const HER: (f64, f64) = (46.123457, 7.654321);
const NEAR: (f64, f64) = (46.168463, 7.654321); // 5.0 km north of her
const FAR: (f64, f64) = (46.483419, 7.654321); // 40.0 km north of her

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

fn tokens(key: &BondKey, at: (f64, f64), at_ms: i64) -> TokenReport {
    let fix = Fix {
        lat: at.0,
        lon: at.1,
        accuracy_m: 5.0,
        at_ms,
    };
    TokenReport::of(&report(key, Profile::Story, &fix))
}

/// Amethyst invites privately, spike accepts; both devices derive and confirm the key
/// through the server. Returns their tokens and the bond key.
async fn bond_privately(s: &TestServer) -> (String, String, BondKey) {
    let (her, him) = (s.citizen("amethyst").await, s.citizen("spike").await);
    let (a, b, secret) = (
        DeviceSecret::generate(),
        DeviceSecret::generate(),
        InviteSecret::generate(),
    );
    let invite = json!({"lookup": to_hex(&secret.lookup()), "public_key": to_hex(&a.public())});
    let (status, body) = s
        .call(
            "POST",
            "/api/v1/bond/private-invites",
            Some(&her),
            Some(&invite),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let accept = json!({
        "lookup": to_hex(&secret.lookup()),
        "public_key": to_hex(&b.public()),
        "profile": "story",
    });
    let (status, view) = s
        .call("POST", "/api/v1/bond/private", Some(&him), Some(&accept))
        .await;
    assert_eq!(status, 201, "{view}");
    assert_eq!(view["partner"], "amethyst");
    let keys = |v: &Value, field: &str| key_from_hex(v[field].as_str().unwrap()).unwrap();
    let (_, seen_by_her) = s
        .call("GET", "/api/v1/bond/private", Some(&her), None)
        .await;
    let (_, seen_by_him) = s
        .call("GET", "/api/v1/bond/private", Some(&him), None)
        .await;
    assert_eq!(seen_by_her["role"], "inviter");
    assert_eq!(seen_by_him["role"], "accepter");
    let ka = BondKey::derive(
        Role::Inviter,
        &a,
        &keys(&seen_by_her, "accepter_key"),
        &secret,
    )
    .unwrap();
    let kb = BondKey::derive(
        Role::Accepter,
        &b,
        &keys(&seen_by_him, "inviter_key"),
        &secret,
    )
    .unwrap();
    for (token, key, role) in [(&her, &ka, Role::Inviter), (&him, &kb, Role::Accepter)] {
        let tag = json!({"tag": to_hex(&key.confirmation(role))});
        let (status, body) = s
            .call(
                "PUT",
                "/api/v1/bond/private/confirmation",
                Some(token),
                Some(&tag),
            )
            .await;
        assert_eq!(status, 204, "{body}");
    }
    let (_, seen) = s
        .call("GET", "/api/v1/bond/private", Some(&him), None)
        .await;
    kb.check_confirmation(Role::Inviter, &keys(&seen, "inviter_tag"))
        .unwrap();
    let (_, seen) = s
        .call("GET", "/api/v1/bond/private", Some(&her), None)
        .await;
    ka.check_confirmation(Role::Accepter, &keys(&seen, "accepter_tag"))
        .unwrap();
    (her, him, ka)
}

async fn put_tokens(s: &TestServer, token: &str, report: &TokenReport) -> (u16, Value) {
    let body = serde_json::to_value(report).unwrap();
    s.call("PUT", "/api/v1/me/tokens", Some(token), Some(&body))
        .await
}

async fn open_tiers(s: &TestServer, token: &str) -> Vec<Tier> {
    let (status, view) = s.call("GET", "/api/v1/bond", Some(token), None).await;
    assert_eq!(status, 200, "{view}");
    Tier::ALL
        .into_iter()
        .filter(|t| view["tiers"][t.key()]["open"] == true)
        .collect()
}

/// Every frame up to the first `last` matches, each also checked for tokens.
async fn frames_until(
    link: &mut Link,
    reports: &[&TokenReport],
    last: impl Fn(&ServerFrame) -> bool,
) -> Vec<ServerFrame> {
    let mut seen = Vec::new();
    loop {
        let frame = link.next().await;
        let text = serde_json::to_string(&frame).unwrap();
        for report in reports {
            for tier in report.epochs.iter().flat_map(|e| &e.tiers) {
                assert!(
                    !text.contains(&tier.open[..12]) && !text.contains(&tier.keep[..12]),
                    "a token reached a link: {text}"
                );
            }
        }
        assert!(
            !matches!(frame, ServerFrame::Pull { .. }),
            "a private bond has no pull on the server: {text}"
        );
        let done = last(&frame);
        seen.push(frame);
        if done {
            return seen;
        }
    }
}

fn tier_frame(tier: Tier, open: bool) -> impl Fn(&ServerFrame) -> bool {
    move |f| matches!(f, ServerFrame::Tier { tier: t, open: o, .. } if *t == tier && *o == open)
}

async fn story(s: &TestServer) {
    let (her, him, key) = bond_privately(s).await;
    let mut her_link = s.link(&her, None).await;
    let mut his_link = s.link(&him, None).await;
    assert!(matches!(her_link.next().await, ServerFrame::Hello { .. }));
    assert!(matches!(his_link.next().await, ServerFrame::Hello { .. }));
    assert_eq!(open_tiers(s, &her).await, [Tier::Pull, Tier::Alarm]);

    // A position, from any source, is refused and stored nowhere.
    let (status, body) = s
        .call(
            "PUT",
            "/api/v1/me/position",
            Some(&him),
            Some(&json!({"lat": NEAR.0, "lon": NEAR.1})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("private_bond")),
        "{body}"
    );
    his_link
        .send(&ClientFrame::Position(PositionUpdate {
            lat: NEAR.0,
            lon: NEAR.1,
            accuracy_m: None,
            at: None,
            by_hand: false,
            battery: None,
        }))
        .await;
    let ServerFrame::Error { problem, .. } = his_link.next().await else {
        panic!("a position on the link is answered with an error")
    };
    assert_eq!(problem.code, "private_bond");
    let (status, _, body) = post(
        s,
        Some(("spike", "purple-dragon")),
        &location(NEAR.0, NEAR.1, now_s()),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("private_bond")),
        "{body}"
    );
    // Places and a pinned point are coordinates too.
    let place = json!({"lat": NEAR.0, "lon": NEAR.1, "radius_m": 50});
    let (status, body) = s
        .call("PUT", "/api/v1/places/home", Some(&him), Some(&place))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("private_bond")),
        "{body}"
    );
    let pin = json!({"lat": NEAR.0, "lon": NEAR.1});
    let (status, body) = s
        .call("PUT", "/api/v1/bond/meeting", Some(&him), Some(&pin))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("private_bond")),
        "{body}"
    );

    // 5 km apart: every tier to glimpse (10 km) opens, sight (2 km) does not.
    let now = now_ms();
    let (hers, near) = (tokens(&key, HER, now), tokens(&key, NEAR, now));
    assert_eq!(put_tokens(s, &her, &hers).await.0, 204);
    let (status, body) = put_tokens(s, &him, &near).await;
    assert_eq!(status, 204, "{body}");
    frames_until(
        &mut her_link,
        &[&hers, &near],
        tier_frame(Tier::Glimpse, true),
    )
    .await;
    frames_until(
        &mut his_link,
        &[&hers, &near],
        tier_frame(Tier::Glimpse, true),
    )
    .await;
    assert_eq!(
        open_tiers(s, &him).await,
        [
            Tier::Pull,
            Tier::Alarm,
            Tier::Feelings,
            Tier::Voice,
            Tier::Thoughts,
            Tier::Images,
            Tier::Glimpse
        ]
    );
    // 40 km apart: beyond 1.5 times feelings' 20 km, everything ranged closes.
    let far = tokens(&key, FAR, now_ms());
    assert_eq!(put_tokens(s, &him, &far).await.0, 204);
    frames_until(
        &mut her_link,
        &[&hers, &near, &far],
        tier_frame(Tier::Feelings, false),
    )
    .await;
    assert_eq!(open_tiers(s, &her).await, [Tier::Pull, Tier::Alarm]);

    // The alarm passes at any range.
    let alarm = json!({"id": "a1", "kind": "alarm", "body": "the sand is moving"});
    let (status, body) = s
        .call("POST", "/api/v1/bond/messages", Some(&her), Some(&alarm))
        .await;
    assert_eq!(status, 201, "{body}");
    frames_until(&mut his_link, &[&hers, &near, &far], |f| {
        matches!(f, ServerFrame::Message { message } if message.body.as_deref() == Some("the sand is moving"))
    })
    .await;

    // A report of another shape, or of another time, is refused and moves nothing.
    let mut short = near.clone();
    short.epochs[0].tiers.pop();
    let mut stale = near.clone();
    stale.epochs[0].epoch -= 3;
    let mut garbled = near.clone();
    garbled.epochs[0].tiers[0].open = "not base64!".into();
    for bad in [short, stale, garbled] {
        let (status, body) = put_tokens(s, &him, &bad).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("invalid_report")),
            "{body}"
        );
    }
    // On the link too; a report by link frame moves the tiers as over HTTP.
    let near_again = tokens(&key, NEAR, now_ms());
    his_link
        .send(&ClientFrame::Report(near_again.clone()))
        .await;
    frames_until(
        &mut his_link,
        &[&hers, &near, &far, &near_again],
        tier_frame(Tier::Feelings, true),
    )
    .await;
    assert!(
        EPOCH_MS > 0 && open_tiers(s, &her).await.contains(&Tier::Glimpse),
        "opened again from the link's report"
    );
}

#[tokio::test]
async fn a_private_bond_opens_its_tiers_from_tokens_and_takes_no_position() {
    story(&TestServer::start().await).await;
}

#[tokio::test]
async fn a_private_bond_opens_its_tiers_from_tokens_and_takes_no_position_on_postgres() {
    let Some(pg) = haurach_testkit::or_skip(haurach_testkit::PgCluster::start()) else {
        return;
    };
    let url = pg.url();
    story(&TestServer::start_with(move |c| c.database_url = Some(url)).await).await;
}

#[tokio::test]
async fn a_plain_bond_takes_no_tokens_and_has_no_keys() {
    let s = TestServer::start().await;
    let (her, _) = s.pair("amethyst", "spike", "story").await;
    let key = BondKey::from_bytes([1; 32]);
    let (status, body) = put_tokens(&s, &her, &tokens(&key, HER, now_ms())).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("plain_bond")),
        "{body}"
    );
    let (status, body) = s
        .call("GET", "/api/v1/bond/private", Some(&her), None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("plain_bond")),
        "{body}"
    );
    let lonely = s.citizen("rarity").await;
    let (status, body) = s
        .call("GET", "/api/v1/bond/private", Some(&lonely), None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("not_bonded")),
        "{body}"
    );
    let bad = json!({"lookup": "00", "public_key": "11"});
    let (status, body) = s
        .call(
            "POST",
            "/api/v1/bond/private-invites",
            Some(&lonely),
            Some(&bad),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_key")),
        "{body}"
    );
}

/// With two nodes, each partner on their own: a report heard by one node reaches the
/// other's copy of the bond (as `BondEvent::Report`, over NATS), so both decide the same
/// tiers and both partners are told.
#[tokio::test]
async fn two_nodes_decide_a_private_bonds_tiers_alike() {
    let Some(nodes) = crate::common::two_nodes().await else {
        return;
    };
    let (one, two) = (&nodes.one, &nodes.two);
    let (her, him, key) = bond_privately(one).await;
    // Each node holds the bond (a link loads it) before either reports.
    let mut her_link = one.link(&her, None).await;
    let mut his_link = two.link(&him, None).await;
    assert!(matches!(her_link.next().await, ServerFrame::Hello { .. }));
    assert!(matches!(his_link.next().await, ServerFrame::Hello { .. }));
    let now = now_ms();
    let (hers, near) = (tokens(&key, HER, now), tokens(&key, NEAR, now));
    assert_eq!(put_tokens(one, &her, &hers).await.0, 204);
    assert_eq!(put_tokens(two, &him, &near).await.0, 204);
    frames_until(
        &mut her_link,
        &[&hers, &near],
        tier_frame(Tier::Glimpse, true),
    )
    .await;
    frames_until(
        &mut his_link,
        &[&hers, &near],
        tier_frame(Tier::Glimpse, true),
    )
    .await;
    // Node two lets him speak: its copy has voice open too.
    let voice = json!({"id": "v1", "kind": "voice", "body": "five kilometres"});
    let (status, body) = two
        .call("POST", "/api/v1/bond/messages", Some(&him), Some(&voice))
        .await;
    assert_eq!(status, 201, "{body}");
}
