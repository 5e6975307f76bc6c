//! A private bond through the API (issue 20), on SQLite and on PostgreSQL: the test plays
//! both partners' devices with `haurach-private`. The tiers open and close from token
//! reports as the matcher says at the story profile's distances, the alarm passes at any
//! range, a position from any source (HTTP, the link, OwnTracks) is refused and never
//! stored, malformed or stale reports are refused, a silent partner's report expires with
//! its epoch, and neither partner's link ever receives a token. Words, feelings and the alarm's words travel sealed: the server
//! refuses them in the clear, gates them by their tier, and keeps each message's
//! sequence, retry and resume as in a plain bond. Positions travel sealed too: relayed
//! to the partner (across nodes), the latest kept for a later link, dropped while
//! pausing, refused on a plain bond.

use haurach_bond::{Fix, Profile, Tier};
use haurach_private::tokens::{EPOCH_MS, report};
use haurach_private::{BondKey, DeviceSecret, InviteSecret, Role, Sealer};
use haurach_proto::private::{key_from_hex, to_hex};
use haurach_proto::sealed::{Envelope, MEMORY};
use haurach_proto::{
    ClientFrame, MessageKind, PositionUpdate, SendMessage, ServerFrame, TokenReport,
};
use haurach_server::Config;
use haurach_server::bus::{Bus, LocalBus, Subscription};
use haurach_server::runtime::Hub;
use haurach_store::blobs::{Blobs, FsBlobs};
use haurach_store::files::Files;
use haurach_store::{Sqlite, Store};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{Link, TestServer};
use crate::owntracks::{location, now_s, post};

pub(crate) const HER: (f64, f64) = (46.123457, 7.654321);
pub(crate) const NEAR: (f64, f64) = (46.168463, 7.654321); // 5.0 km north of her
pub(crate) const FAR: (f64, f64) = (46.483419, 7.654321); // 40.0 km north of her

pub(crate) fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

pub(crate) fn tokens(key: &BondKey, at: (f64, f64), at_ms: i64) -> TokenReport {
    let fix = Fix {
        lat: at.0,
        lon: at.1,
        accuracy_m: 5.0,
        at_ms,
    };
    TokenReport::of(&report(key, Profile::Story, &fix))
}

/// A private bond made through the API: both partners' tokens, the bond key both
/// devices hold, and the bond's id.
pub(crate) struct Private {
    pub(crate) her: String,
    pub(crate) him: String,
    pub(crate) key: BondKey,
    pub(crate) bond: Uuid,
}

impl Private {
    /// The sealer both devices hold.
    pub(crate) fn sealer(&self) -> Sealer {
        Sealer::new(&self.key)
    }

    /// What spike's device (the accepter) seals `kind` under in this bond.
    pub(crate) fn his(&self, kind: &'static str) -> Envelope<'static> {
        Envelope {
            bond: self.bond,
            from: Role::Accepter,
            kind,
        }
    }

    /// Both devices report their tokens now: amethyst standing at `her_at` through
    /// `to_her`, spike at `him_at` through `to_him` (the same server, or two nodes).
    pub(crate) async fn stand(
        &self,
        (to_her, her_at): (&TestServer, (f64, f64)),
        (to_him, him_at): (&TestServer, (f64, f64)),
    ) {
        let now = now_ms();
        report_ok(to_her, &self.her, &tokens(&self.key, her_at, now)).await;
        report_ok(to_him, &self.him, &tokens(&self.key, him_at, now)).await;
    }
}

/// Amethyst invites privately, spike accepts; both devices derive and confirm the key
/// through the server.
pub(crate) async fn bond_privately(s: &TestServer) -> Private {
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
    let bond = view["id"].as_str().unwrap().parse().unwrap();
    Private {
        her,
        him,
        key: ka,
        bond,
    }
}

/// `status` and `body` are the problem `code` with `expected` status.
pub(crate) fn assert_problem(status: u16, body: &Value, expected: u16, code: &str) {
    assert_eq!(
        (status, body["code"].as_str()),
        (expected, Some(code)),
        "{body}"
    );
}

async fn put_tokens(s: &TestServer, token: &str, report: &TokenReport) -> (u16, Value) {
    let body = serde_json::to_value(report).unwrap();
    s.call("PUT", "/api/v1/me/tokens", Some(token), Some(&body))
        .await
}

/// Reports over HTTP, which must be taken.
pub(crate) async fn report_ok(s: &TestServer, token: &str, report: &TokenReport) {
    let (status, body) = put_tokens(s, token, report).await;
    assert_eq!(status, 204, "{body}");
}

/// Waits on each link until `tier` is `open`, checking every frame on the way for the
/// `known` reports' tokens and for a pull.
async fn await_tier(links: &mut [&mut Link], known: &[&TokenReport], tier: Tier, open: bool) {
    for link in links {
        frames_until(link, known, tier_frame(tier, open)).await;
    }
}

pub(crate) async fn open_tiers(s: &TestServer, token: &str) -> Vec<Tier> {
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
    let Private {
        her,
        him,
        key,
        bond,
    } = bond_privately(s).await;
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
    assert_problem(status, &body, 409, "private_bond");
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
    assert_problem(status, &body, 409, "private_bond");
    // Places and a pinned point are coordinates too.
    let place = json!({"lat": NEAR.0, "lon": NEAR.1, "radius_m": 50});
    let (status, body) = s
        .call("PUT", "/api/v1/places/home", Some(&him), Some(&place))
        .await;
    assert_problem(status, &body, 409, "private_bond");
    let pin = json!({"lat": NEAR.0, "lon": NEAR.1});
    let (status, body) = s
        .call("PUT", "/api/v1/bond/meeting", Some(&him), Some(&pin))
        .await;
    assert_problem(status, &body, 409, "private_bond");

    // 5 km apart: every tier to glimpse (10 km) opens, sight (2 km) does not.
    let now = now_ms();
    let (hers, near) = (tokens(&key, HER, now), tokens(&key, NEAR, now));
    report_ok(s, &her, &hers).await;
    report_ok(s, &him, &near).await;
    let links = &mut [&mut her_link, &mut his_link];
    await_tier(links, &[&hers, &near], Tier::Glimpse, true).await;
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
    report_ok(s, &him, &far).await;
    let known = [&hers, &near, &far];
    await_tier(&mut [&mut her_link], &known, Tier::Feelings, false).await;
    assert_eq!(open_tiers(s, &her).await, [Tier::Pull, Tier::Alarm]);

    // The alarm passes at any range, its words sealed.
    let words = envelope(bond, Role::Inviter, "alarm")
        .seal(&Sealer::new(&key), 1, b"the sand is moving")
        .unwrap();
    let alarm = json!({"id": "a1", "kind": "alarm", "sealed": words});
    let (status, body) = post_message(s, &her, &alarm).await;
    assert_eq!(status, 201, "{body}");
    frames_until(&mut his_link, &known, |f| {
        matches!(f, ServerFrame::Message { message } if message.sealed.as_deref() == Some(words.as_str()))
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
        assert_problem(status, &body, 422, "invalid_report");
    }
    // On the link too; a report by link frame moves the tiers as over HTTP.
    let near_again = tokens(&key, NEAR, now_ms());
    his_link
        .send(&ClientFrame::Report(near_again.clone()))
        .await;
    let known = [&hers, &near, &far, &near_again];
    await_tier(&mut [&mut his_link], &known, Tier::Feelings, true).await;
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
    let Some((_pg, s)) = TestServer::on_postgres().await else {
        return;
    };
    story(&s).await;
}

#[tokio::test]
async fn a_plain_bond_takes_no_tokens_and_has_no_keys() {
    let s = TestServer::start().await;
    let (her, _) = s.pair("amethyst", "spike", "story").await;
    let key = BondKey::from_bytes([1; 32]);
    let (status, body) = put_tokens(&s, &her, &tokens(&key, HER, now_ms())).await;
    assert_problem(status, &body, 409, "plain_bond");
    let (status, body) = s
        .call("GET", "/api/v1/bond/private", Some(&her), None)
        .await;
    assert_problem(status, &body, 409, "plain_bond");
    // Nothing is sealed in a plain bond: the server could show it to nobody.
    let sealer = Sealer::new(&key);
    let sealed = envelope(Uuid::nil(), Role::Inviter, "voice")
        .seal(&sealer, 1, b"words")
        .unwrap();
    let voice = json!({"id": "s1", "kind": "voice", "sealed": sealed});
    let (status, body) = s
        .call("POST", "/api/v1/bond/messages", Some(&her), Some(&voice))
        .await;
    assert_problem(status, &body, 409, "unexpected_sealed");
    let lonely = s.citizen("rarity").await;
    let (status, body) = s
        .call("GET", "/api/v1/bond/private", Some(&lonely), None)
        .await;
    assert_problem(status, &body, 404, "not_bonded");
    let bad = json!({"lookup": "00", "public_key": "11"});
    let (status, body) = s
        .call(
            "POST",
            "/api/v1/bond/private-invites",
            Some(&lonely),
            Some(&bad),
        )
        .await;
    assert_problem(status, &body, 422, "invalid_key");
}

/// A private bond keeps no place on the server: places kept there before refuse the
/// invite and the acceptance until the device names them as kept (and they are gone with
/// it), and no place is taken while the invite waits.
#[tokio::test]
async fn places_on_the_server_go_when_the_device_keeps_them_as_the_bond_turns_private() {
    let s = TestServer::start().await;
    let (her, him) = (s.citizen("amethyst").await, s.citizen("spike").await);
    let place = json!({"lat": 46.2, "lon": 7.3, "radius_m": 100.0});
    for (token, name) in [(&her, "home"), (&him, "den")] {
        let path = format!("/api/v1/places/{name}");
        let (status, body) = s.call("PUT", &path, Some(token), Some(&place)).await;
        assert_eq!(status, 201, "{body}");
    }
    let mine = async |token: &str| {
        let (status, body) = s.call("GET", "/api/v1/places", Some(token), None).await;
        assert_eq!(status, 200, "{body}");
        body["mine"].as_array().unwrap().len()
    };
    let secret = InviteSecret::generate();
    let lookup = to_hex(&secret.lookup());
    let key = to_hex(&DeviceSecret::generate().public());

    let bare = json!({"lookup": lookup, "public_key": key});
    let (status, body) = s
        .call(
            "POST",
            "/api/v1/bond/private-invites",
            Some(&her),
            Some(&bare),
        )
        .await;
    assert_problem(status, &body, 409, "places_stored");
    assert_eq!(mine(&her).await, 1);
    let named = json!({"lookup": lookup, "public_key": key, "forget_places": ["HOME"]});
    let (status, body) = s
        .call(
            "POST",
            "/api/v1/bond/private-invites",
            Some(&her),
            Some(&named),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(mine(&her).await, 0);
    let (status, body) = s
        .call("PUT", "/api/v1/places/later", Some(&her), Some(&place))
        .await;
    assert_problem(status, &body, 409, "private_invite");

    let many: Vec<String> = (0..101).map(|i| format!("p{i}")).collect();
    for forget in [json!(many), json!(["x".repeat(65)])] {
        let accept = json!({"lookup": lookup, "public_key": key, "forget_places": forget});
        let (status, body) = s
            .call("POST", "/api/v1/bond/private", Some(&him), Some(&accept))
            .await;
        assert_problem(status, &body, 422, "invalid_forget_places");
    }
    let accept = json!({"lookup": lookup, "public_key": key});
    let (status, body) = s
        .call("POST", "/api/v1/bond/private", Some(&him), Some(&accept))
        .await;
    assert_problem(status, &body, 409, "places_stored");
    assert_eq!(mine(&him).await, 1);
    let accept = json!({"lookup": lookup, "public_key": key, "forget_places": ["den"]});
    let (status, body) = s
        .call("POST", "/api/v1/bond/private", Some(&him), Some(&accept))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!((mine(&her).await, mine(&him).await), (0, 0));
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
    let Private {
        her,
        him,
        key,
        bond,
    } = bond_privately(one).await;
    // Each node holds the bond (a link loads it) before either reports.
    let mut her_link = one.link(&her, None).await;
    let mut his_link = two.link(&him, None).await;
    assert!(matches!(her_link.next().await, ServerFrame::Hello { .. }));
    assert!(matches!(his_link.next().await, ServerFrame::Hello { .. }));
    let now = now_ms();
    let (hers, near) = (tokens(&key, HER, now), tokens(&key, NEAR, now));
    report_ok(one, &her, &hers).await;
    report_ok(two, &him, &near).await;
    let links = &mut [&mut her_link, &mut his_link];
    await_tier(links, &[&hers, &near], Tier::Glimpse, true).await;
    // Node two lets him speak: its copy has voice open too.
    let sealed = envelope(bond, Role::Accepter, "voice")
        .seal(&Sealer::new(&key), 1, b"five kilometres")
        .unwrap();
    let voice = json!({"id": "v1", "kind": "voice", "sealed": sealed});
    let (status, body) = two
        .call("POST", "/api/v1/bond/messages", Some(&him), Some(&voice))
        .await;
    assert_eq!(status, 201, "{body}");
    // His sealed position, taken by node two, reaches her link on node one, and node one
    // shows it in her view of the bond.
    let his = sealed_fix(&key, bond, Role::Accepter, 2, NEAR);
    assert_eq!(put_sealed_fix(two, &him, &his).await.0, 204);
    assert_eq!(next_sealed_fix(&mut her_link, &[&hers, &near]).await.0, his);
    let (_, view) = one.call("GET", "/api/v1/bond", Some(&her), None).await;
    assert_eq!(view["partner_sealed_fix"]["sealed"], his.as_str(), "{view}");
}

/// The frames waiting for a subscriber, without waiting for more (the hub publishes
/// before its calls return): the tier frames, in order.
fn tier_frames(sub: &mut Subscription) -> Vec<(Tier, bool)> {
    let mut out = Vec::new();
    while let Some(frame) = sub.try_recv().expect("the test keeps up with its frames") {
        if let ServerFrame::Tier { tier, open, .. } = serde_json::from_str(&frame.json).unwrap() {
            out.push((tier, open));
        }
    }
    out
}

/// Both partners report 5 km apart and fall silent: once the newest report's epochs are
/// past by the server's clock, its tokens are void, the distance is unknown, and the
/// sweep closes the ranged tiers on both links, once; the alarm stays. The test drives
/// the hub on a paused clock, as `clock.rs` does (the epochs are ten minutes long): what
/// waits on the store is done while the clock runs.
#[tokio::test]
async fn a_silent_private_bonds_tokens_expire_with_their_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let store = Sqlite::open(dir.path()).await.unwrap();
    let bus = LocalBus::new();
    let config = Config {
        data: dir.path().to_owned(),
        ..Config::default()
    };
    let hub = Hub::new(
        store.clone(),
        bus.clone(),
        Blobs::Files(FsBlobs::new(dir.path().join("parcels"))),
        Files::Disk(dir.path().to_owned()),
        config,
    );
    let clock = haurach_server::clock::now_ms;
    let her = store
        .create_account("amethyst", "-", clock())
        .await
        .unwrap();
    let him = store.create_account("spike", "-", clock()).await.unwrap();
    let secret = InviteSecret::generate();
    let (a, b) = (DeviceSecret::generate(), DeviceSecret::generate());
    hub.create_private_invite(her.id, &to_hex(&secret.lookup()), &to_hex(&a.public()), &[])
        .await
        .unwrap();
    hub.accept_private_invite(
        him.id,
        &to_hex(&secret.lookup()),
        &to_hex(&b.public()),
        &[],
        Profile::Story,
    )
    .await
    .unwrap();
    let key = BondKey::derive(Role::Inviter, &a, &b.public(), &secret).unwrap();
    let mut subs = [bus.subscribe(her.id), bus.subscribe(him.id)];

    let now = clock();
    let (hers, near) = (tokens(&key, HER, now), tokens(&key, NEAR, now));
    hub.token_report(her.id, &hers).await.unwrap();
    hub.token_report(him.id, &near).await.unwrap();
    let ranged = [
        Tier::Feelings,
        Tier::Voice,
        Tier::Thoughts,
        Tier::Images,
        Tier::Glimpse,
    ];
    for sub in &mut subs {
        assert_eq!(tier_frames(sub), ranged.map(|t| (t, true)));
    }
    // The first of the two reports to expire: the end of its last epoch.
    let expires =
        [&hers, &near].map(|r| (r.epochs.iter().map(|e| e.epoch).max().unwrap() + 1) * EPOCH_MS);
    let (first, last) = (expires[0].min(expires[1]), expires[0].max(expires[1]));

    tokio::time::pause();
    let t0 = clock();
    let advance_to = |at: i64| async move {
        tokio::time::advance(std::time::Duration::from_millis((at - clock()) as u64)).await;
        assert_eq!(
            clock(),
            at,
            "the server's clock moved only as the test moved it"
        );
    };
    // A moment before, the tokens still hold: nothing closes.
    advance_to(first - 1).await;
    hub.sweep().await;
    for sub in &mut subs {
        assert_eq!(
            tier_frames(sub),
            [],
            "{} ms after the pause",
            first - 1 - t0
        );
    }
    advance_to(first).await;
    hub.sweep().await;
    for sub in &mut subs {
        assert_eq!(tier_frames(sub), ranged.map(|t| (t, false)));
    }
    // Past both reports' epochs, nothing more is sent, and the alarm is still open.
    advance_to(last.max(first + 1)).await;
    hub.sweep().await;
    hub.sweep().await;
    for (sub, who) in subs.iter_mut().zip([her.id, him.id]) {
        assert_eq!(tier_frames(sub), []);
        for (tier, open) in [
            (Tier::Alarm, true),
            (Tier::Pull, true),
            (Tier::Feelings, false),
        ] {
            let standing = hub.standing(who, tier).await.unwrap().unwrap();
            assert_eq!(standing.open, open, "{tier:?}");
        }
    }
}

pub(crate) fn envelope(bond: Uuid, from: Role, kind: &str) -> Envelope<'_> {
    Envelope { bond, from, kind }
}

/// Posts a message body; its status and answer.
async fn post_message(s: &TestServer, token: &str, message: &Value) -> (u16, Value) {
    s.call("POST", "/api/v1/bond/messages", Some(token), Some(message))
        .await
}

/// Where [`opened_until`] stops: at a sequence number, or after so many messages. A
/// count where the numbers are not known: PostgreSQL's sequence may skip a number a
/// refused message took.
#[derive(Clone, Copy)]
enum Upto {
    Seq(i64),
    Count(usize),
}

/// The sealed messages a link receives until `upto`, opened: each one's sequence number,
/// kind and content. Every one carries its content sealed only.
async fn opened_until(
    link: &mut Link,
    sealer: &Sealer,
    bond: Uuid,
    upto: Upto,
) -> Vec<(i64, MessageKind, Option<String>)> {
    let mut seen = Vec::new();
    loop {
        let ServerFrame::Message { message } = link.next().await else {
            continue;
        };
        assert!(
            message.body.is_none() && message.feeling.is_none(),
            "a private bond's message in the clear: {message:?}"
        );
        let from = if message.from == "amethyst" {
            Role::Inviter
        } else {
            Role::Accepter
        };
        let content = message.sealed.as_ref().map(|text| {
            let (_, content) = envelope(bond, from, message.kind.key())
                .open(sealer, text)
                .expect("the partner opens it");
            String::from_utf8(content).unwrap()
        });
        seen.push((message.seq, message.kind, content));
        let done = match upto {
            Upto::Seq(seq) => message.seq >= seq,
            Upto::Count(n) => seen.len() >= n,
        };
        if done {
            return seen;
        }
    }
}

/// Words, a feeling and alarms on a private bond: sealed by the sender, gated by their
/// tier, refused in the clear, stored once per client id, and replayed in order, still
/// sealed, to a link that resumes.
async fn sealed_messages(s: &TestServer) {
    let Private {
        her,
        him,
        key,
        bond,
    } = bond_privately(s).await;
    let sealer = Sealer::new(&key);
    let mut his_link = s.link(&him, None).await;
    assert!(matches!(his_link.next().await, ServerFrame::Hello { .. }));
    let now = now_ms();
    let (hers, near) = (tokens(&key, HER, now), tokens(&key, NEAR, now));
    report_ok(s, &her, &hers).await;
    report_ok(s, &him, &near).await;
    await_tier(&mut [&mut his_link], &[&hers, &near], Tier::Voice, true).await;

    // Words in the clear, a feeling in the clear, or words with nothing sealed: refused.
    for (message, status, code) in [
        (
            json!({"id": "p1", "kind": "voice", "body": "wandering"}),
            409,
            "private_bond",
        ),
        (
            json!({"id": "p2", "kind": "feeling", "feeling": "calm"}),
            409,
            "private_bond",
        ),
        (
            json!({"id": "p3", "kind": "alarm", "body": "help"}),
            409,
            "private_bond",
        ),
        (
            json!({"id": "p4", "kind": "voice", "sealed": "not base64!"}),
            422,
            "invalid_sealed",
        ),
        (
            json!({"id": "p5", "kind": "voice", "sealed": "AAAA"}),
            422,
            "invalid_sealed",
        ),
    ] {
        let (got, body) = post_message(s, &her, &message).await;
        assert_problem(got, &body, status, code);
    }
    let (status, body) = post_message(s, &him, &json!({"id": "p6", "kind": "feeling"})).await;
    assert_eq!(
        (status, body["code"].as_str().is_some()),
        (422, true),
        "{body}"
    );

    // Sealed words: stored once, whatever the retries.
    let words = envelope(bond, Role::Inviter, "voice")
        .seal(&sealer, 1, "I HEARD that".as_bytes())
        .unwrap();
    let voice = json!({"id": "w1", "kind": "voice", "sealed": words});
    let (status, first) = post_message(s, &her, &voice).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["sealed"], words.as_str());
    assert!(first.get("body").is_none(), "{first}");
    let (status, again) = post_message(s, &her, &voice).await;
    assert_eq!((status, &again["seq"]), (200, &first["seq"]), "{again}");
    let other = envelope(bond, Role::Inviter, "voice")
        .seal(&sealer, 2, b"something else")
        .unwrap();
    let reused = json!({"id": "w1", "kind": "voice", "sealed": other});
    let (status, body) = post_message(s, &her, &reused).await;
    assert_problem(status, &body, 409, "message_id_reused");
    // A feeling, sealed, and words over the link.
    let calm = envelope(bond, Role::Accepter, "feeling")
        .seal(&sealer, 1, b"calm")
        .unwrap();
    let feeling = json!({"id": "f1", "kind": "feeling", "sealed": calm});
    assert_eq!(post_message(s, &him, &feeling).await.0, 201);
    let said = envelope(bond, Role::Accepter, "voice")
        .seal(&sealer, 2, "the sand is warm".as_bytes())
        .unwrap();
    his_link
        .send(&ClientFrame::Send(SendMessage {
            kind: MessageKind::Voice,
            id: "w2".into(),
            body: None,
            feeling: None,
            sealed: Some(said),
        }))
        .await;
    // The three reached him live, sealed (the refused ones took no number).
    let mut live = opened_until(&mut his_link, &sealer, bond, Upto::Count(3)).await;

    // 40 km apart: voice is closed to sealed words too; the alarm passes, with sealed
    // words or none.
    let far = tokens(&key, FAR, now_ms());
    report_ok(s, &him, &far).await;
    await_tier(
        &mut [&mut his_link],
        &[&hers, &near, &far],
        Tier::Voice,
        false,
    )
    .await;
    let words = envelope(bond, Role::Inviter, "voice")
        .seal(&sealer, 3, b"are you there")
        .unwrap();
    let voice = json!({"id": "w3", "kind": "voice", "sealed": words});
    let (status, body) = post_message(s, &her, &voice).await;
    assert_problem(status, &body, 403, "tier_closed");
    let moving = envelope(bond, Role::Inviter, "alarm")
        .seal(&sealer, 4, b"the sand is moving")
        .unwrap();
    let alarm = json!({"id": "a1", "kind": "alarm", "sealed": moving});
    assert_eq!(post_message(s, &her, &alarm).await.0, 201);
    let (status, last) = post_message(s, &her, &json!({"id": "a2", "kind": "alarm"})).await;
    assert_eq!(status, 201, "{last}");
    let last = last["seq"].as_i64().unwrap();

    // Every one reached him live, sealed, and opens to what was said, in order; a link
    // that resumes from the start gets the same again.
    let expected = vec![
        (MessageKind::Voice, Some("I HEARD that".to_owned())),
        (MessageKind::Feeling, Some("calm".to_owned())),
        (MessageKind::Voice, Some("the sand is warm".to_owned())),
        (MessageKind::Alarm, Some("the sand is moving".to_owned())),
        (MessageKind::Alarm, None),
    ];
    let content = |seen: Vec<(i64, MessageKind, Option<String>)>| {
        assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "{seen:?}");
        seen.into_iter().map(|(_, k, c)| (k, c)).collect::<Vec<_>>()
    };
    live.extend(opened_until(&mut his_link, &sealer, bond, Upto::Seq(last)).await);
    assert_eq!(content(live), expected);
    his_link.close().await;
    let mut again = s.link(&him, Some(0)).await;
    let ServerFrame::Hello { bond: view, .. } = again.next().await else {
        panic!("hello first")
    };
    // The raised alarms in the bond's view are sealed as well.
    let view = view.expect("bonded");
    assert!(
        view.alarms
            .iter()
            .all(|a| a.body.is_none() && a.from == "amethyst"),
        "{:?}",
        view.alarms
    );
    let replayed = opened_until(&mut again, &sealer, bond, Upto::Seq(last)).await;
    assert_eq!(content(replayed), expected);
    // And so is the page of messages over HTTP.
    let (status, page) = s
        .call("GET", "/api/v1/bond/messages?after=0", Some(&him), None)
        .await;
    assert_eq!(status, 200, "{page}");
    let messages = page["messages"].as_array().unwrap();
    assert_eq!(messages.len(), expected.len(), "{page}");
    assert!(messages.iter().all(|m| m.get("body").is_none()), "{page}");
}

#[tokio::test]
async fn a_private_bond_carries_words_and_feelings_sealed_and_never_in_the_clear() {
    sealed_messages(&TestServer::start().await).await;
}

#[tokio::test]
async fn a_private_bond_carries_words_and_feelings_sealed_and_never_in_the_clear_on_postgres() {
    let Some((_pg, s)) = TestServer::on_postgres().await else {
        return;
    };
    sealed_messages(&s).await;
}

/// The next sealed thought a link receives (amethyst's), opened.
async fn next_thought(link: &mut Link, sealer: &Sealer, bond: Uuid) -> String {
    loop {
        if let ServerFrame::SealedThought { sealed } = link.next().await {
            let (_, text) = envelope(bond, Role::Inviter, "thought")
                .open(sealer, &sealed)
                .expect("the partner opens it");
            return String::from_utf8(text).unwrap();
        }
    }
}

/// Thoughts in a private bond: the whole text sealed, passed only while thoughts are
/// open and the thinker does not guard, never in the clear.
#[tokio::test]
async fn a_private_bond_passes_sealed_thoughts_only_while_thoughts_are_open() {
    let s = TestServer::start().await;
    let Private {
        her,
        him,
        key,
        bond,
    } = bond_privately(&s).await;
    let sealer = Sealer::new(&key);
    let mut her_link = s.link(&her, None).await;
    let mut his_link = s.link(&him, None).await;
    assert!(matches!(her_link.next().await, ServerFrame::Hello { .. }));
    assert!(matches!(his_link.next().await, ServerFrame::Hello { .. }));
    let now = now_ms();
    let (hers, near) = (tokens(&key, HER, now), tokens(&key, NEAR, now));
    report_ok(&s, &her, &hers).await;
    report_ok(&s, &him, &near).await;
    let links = &mut [&mut her_link, &mut his_link];
    await_tier(links, &[&hers, &near], Tier::Thoughts, true).await;
    let thought = |counter: u64, text: &str| ClientFrame::SealedThought {
        sealed: envelope(bond, Role::Inviter, "thought")
            .seal(&sealer, counter, text.as_bytes())
            .unwrap(),
    };

    // Edits in the clear are refused: the server would read them.
    her_link
        .send(&ClientFrame::Thought {
            seq: 0,
            reset: true,
            edits: vec![haurach_bond::thoughts::Edit::Insert {
                pos: 0,
                text: "I wonder".into(),
            }],
        })
        .await;
    assert_eq!(next_error(&mut her_link).await.code, "private_bond");

    her_link.send(&thought(1, "I wonder")).await;
    assert_eq!(next_thought(&mut his_link, &sealer, bond).await, "I wonder");
    // Guarded, nothing passes; unguarded, the next one does.
    her_link.send(&ClientFrame::Guard { on: true }).await;
    her_link.send(&thought(2, "if he is attractive")).await;
    her_link.send(&ClientFrame::Guard { on: false }).await;
    her_link.send(&thought(3, "I wonder what he sees")).await;
    assert_eq!(
        next_thought(&mut his_link, &sealer, bond).await,
        "I wonder what he sees"
    );
    // 40 km apart thoughts are closed: nothing passes until they open again.
    let far = tokens(&key, FAR, now_ms());
    report_ok(&s, &him, &far).await;
    let known = [&hers, &near, &far];
    await_tier(&mut [&mut her_link], &known, Tier::Thoughts, false).await;
    her_link.send(&thought(4, "are you there")).await;
    // A frame that is answered: the thought before it has been handled.
    her_link.send(&ClientFrame::AckAlarm { seq: 1 }).await;
    next_error(&mut her_link).await;
    let near_again = tokens(&key, NEAR, now_ms());
    report_ok(&s, &him, &near_again).await;
    await_tier(&mut [&mut her_link], &[&near_again], Tier::Thoughts, true).await;
    her_link.send(&thought(5, "there you are")).await;
    assert_eq!(
        next_thought(&mut his_link, &sealer, bond).await,
        "there you are"
    );

    // A sealed thought in a plain bond is refused.
    let (plain, _) = s.pair("rarity", "pinkie", "story").await;
    let mut plain_link = s.link(&plain, None).await;
    assert!(matches!(plain_link.next().await, ServerFrame::Hello { .. }));
    plain_link.send(&thought(1, "hello")).await;
    assert_eq!(next_error(&mut plain_link).await.code, "unexpected_sealed");
}

/// The next `error` frame a link receives, past any other.
async fn next_error(link: &mut Link) -> haurach_proto::Problem {
    loop {
        if let ServerFrame::Error { problem, .. } = link.next().await {
            return problem;
        }
    }
}

/// Pictures in the clear (they travel sealed: `sealed_pictures.rs`), traces and journal
/// photos: on a private bond the server takes none of them, even with their tiers open,
/// so it never holds one in the clear (docs/privacy.md, "Limits, as built"). Nor
/// journal words or a camera frame in the clear (glimpses and sight travel sealed:
/// `sight::a_private_bond_relays_sealed_*`).
#[tokio::test]
async fn a_private_bond_takes_no_picture_plain_camera_frame_trace_or_journal_entry() {
    let s = TestServer::start().await;
    let Private { her, him, key, .. } = bond_privately(&s).await;
    let mut her_link = s.link(&her, None).await;
    let mut his_link = s.link(&him, None).await;
    assert!(matches!(her_link.next().await, ServerFrame::Hello { .. }));
    assert!(matches!(his_link.next().await, ServerFrame::Hello { .. }));
    let now = now_ms();
    let (hers, near) = (tokens(&key, HER, now), tokens(&key, NEAR, now));
    report_ok(&s, &her, &hers).await;
    report_ok(&s, &him, &near).await;
    // 5 km apart: images and glimpse are open.
    let links = &mut [&mut her_link, &mut his_link];
    await_tier(links, &[&hers, &near], Tier::Glimpse, true).await;

    let sent = crate::images::send_image(&s, &him, "sky", crate::images::GPS_PHOTO).await;
    let body: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_problem(sent.status, &body, 409, "private_bond");
    let (status, body) = s
        .call(
            "POST",
            "/api/v1/me/memories",
            Some(&him),
            Some(&json!({"id": "m1", "body": "the quartz lantern hums"})),
        )
        .await;
    assert_problem(status, &body, 409, "private_bond");

    // A glimpse may be asked (sealed, it can be answered): she has not allowed her
    // camera, which is the only refusal.
    his_link.send(&ClientFrame::GlimpseAsk).await;
    assert_eq!(next_error(&mut his_link).await.code, "camera_not_allowed");
    let mut glimpse = vec![0x01];
    glimpse.extend_from_slice(crate::images::GPS_PHOTO);
    his_link
        .send_raw(tokio_tungstenite::tungstenite::Message::Binary(
            glimpse.into(),
        ))
        .await;
    assert_eq!(next_error(&mut his_link).await.code, "private_bond");
    let stroke = json!({
        "type": "trace", "image": Uuid::nil(), "stroke": 1,
        "points": [[0.1, 0.2], [0.5, 0.25]], "end": true
    });
    his_link.send_text(&stroke.to_string()).await;
    assert_eq!(next_error(&mut his_link).await.code, "private_bond");

    // Nothing of them was kept: no picture listed, no journal entry.
    let (_, images) = s.call("GET", "/api/v1/bond/images", Some(&her), None).await;
    assert_eq!(images["images"], json!([]));
    let (_, memories) = s.call("GET", "/api/v1/me/memories", Some(&him), None).await;
    assert_eq!(memories["memories"], json!([]));
}

/// Strokes travel sealed (`sealed_trace`, kind `trace`): passed to the partner untouched
/// while the images tier is open, refused when it is closed, malformed, or on a plain
/// bond; what the stroke is drawn over is inside the seal, so the server sees no more
/// than that a stroke passed.
#[tokio::test]
async fn a_private_bond_passes_sealed_strokes_only_while_the_images_tier_is_open() {
    use haurach_proto::link::{Over, Trace};
    use haurach_proto::sealed::TRACE;

    let s = TestServer::start().await;
    let private = bond_privately(&s).await;
    let (her, him, key) = (&private.her, &private.him, &private.key);
    let mut her_link = s.link(her, None).await;
    let mut his_link = s.link(him, None).await;
    assert!(matches!(her_link.next().await, ServerFrame::Hello { .. }));
    assert!(matches!(his_link.next().await, ServerFrame::Hello { .. }));
    let now = now_ms();
    let (hers, near) = (tokens(key, HER, now), tokens(key, NEAR, now));
    report_ok(&s, her, &hers).await;
    report_ok(&s, him, &near).await;
    let links = &mut [&mut her_link, &mut his_link];
    await_tier(links, &[&hers, &near], Tier::Images, true).await;

    let stroke = Trace {
        over: Over::Sight("amethyst".into()),
        stroke: 1,
        points: vec![[0.1, 0.2], [0.5, 0.25]],
        end: true,
    };
    let sealer = private.sealer();
    let seal = |counter| {
        private
            .his(TRACE)
            .seal(&sealer, counter, &serde_json::to_vec(&stroke).unwrap())
            .unwrap()
    };
    let sealed = seal(1);
    his_link
        .send(&ClientFrame::SealedTrace {
            sealed: sealed.clone(),
        })
        .await;
    let ServerFrame::SealedTrace { sealed: got } = her_link
        .until(|f| matches!(f, ServerFrame::SealedTrace { .. }))
        .await
    else {
        unreachable!()
    };
    assert_eq!(got, sealed, "passed on untouched");
    let (_, opened) = private.his(TRACE).open(&sealer, &got).unwrap();
    assert_eq!(serde_json::from_slice::<Trace>(&opened).unwrap(), stroke);

    // Not a sealed string: refused.
    his_link
        .send(&ClientFrame::SealedTrace {
            sealed: "not sealed".into(),
        })
        .await;
    assert_eq!(next_error(&mut his_link).await.code, "invalid_sealed");

    // 40 km apart the images tier is closed: refused, and nothing reaches her.
    let far = tokens(key, FAR, now_ms());
    report_ok(&s, him, &far).await;
    let links = &mut [&mut her_link, &mut his_link];
    await_tier(links, &[&hers, &near, &far], Tier::Images, false).await;
    his_link
        .send(&ClientFrame::SealedTrace { sealed: seal(2) })
        .await;
    assert_eq!(next_error(&mut his_link).await.code, "tier_closed");
    her_link.send(&ClientFrame::Heartbeat).await;
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(500), async {
            her_link
                .until(|f| matches!(f, ServerFrame::SealedTrace { .. }))
                .await
        })
        .await
        .is_err(),
        "a stroke reached her with the images tier closed"
    );

    // On a plain bond a sealed stroke is refused.
    let (pearl, _garnet) = s.pair("pearl", "garnet", "story").await;
    let mut plain = s.link(&pearl, None).await;
    assert!(matches!(plain.next().await, ServerFrame::Hello { .. }));
    plain
        .send(&ClientFrame::SealedTrace { sealed: seal(3) })
        .await;
    assert_eq!(next_error(&mut plain).await.code, "unexpected_sealed");
}

/// A journal photo travels sealed with its caption (`POST
/// /api/v1/me/memories/photos/sealed`): kept as it came, refused on a plain bond, empty or
/// shorter than the sealing; the partner gets it only once they have been together, and
/// their device opens it to the entry's id, the caption and the photo without metadata.
/// Neither the photo nor the caption is anywhere in the server's data directory.
#[tokio::test]
async fn a_private_bonds_journal_photo_travels_sealed_and_opens_to_the_partner_together() {
    use haurach_proto::sealed::{MEMORY_PHOTO, PhotoContent};

    use crate::images::{GPS_PHOTO, exchange, get};

    let s = TestServer::start().await;
    let private = bond_privately(&s).await;
    let (her, him, sealer) = (&private.her, &private.him, private.sealer());
    private.stand((&s, HER), (&s, NEAR)).await;
    // His device strips the photo and seals it with its caption and the entry's id.
    let stripped = haurach_picture::accept(GPS_PHOTO, haurach_picture::Limits::default())
        .unwrap()
        .stripped;
    let caption = "the amber kite over the dune";
    let content = PhotoContent {
        id: "kite".into(),
        caption: Some(caption.into()),
        picture: stripped.clone(),
    };
    let sealed = private
        .his(MEMORY_PHOTO)
        .seal_frame(&sealer, 1, &content.encode())
        .unwrap();
    let post = async |token: &str, body: &[u8]| {
        exchange(
            s.addr,
            "POST",
            "/api/v1/me/memories/photos/sealed?id=kite",
            token,
            body,
            "application/octet-stream",
        )
        .await
    };

    let empty = post(him, b"").await;
    assert_problem(empty.status, &empty.json(), 400, "image_required");
    let short = post(him, &sealed[..20]).await;
    assert_problem(short.status, &short.json(), 422, "invalid_sealed");
    let kept = post(him, &sealed).await;
    assert_eq!(kept.status, 201, "{}", kept.json());
    let entry = kept.json();
    assert_eq!(entry["photo_sealed"], true, "{entry}");
    assert!(
        entry.get("body").is_none() && entry.get("sealed").is_none(),
        "{entry}"
    );
    let again = post(him, &sealed).await;
    assert_eq!((again.status, &again.json()["id"]), (200, &entry["id"]));
    let photo = entry["photo"].as_str().unwrap().to_owned();

    // Apart, it has not opened to her.
    let theirs = get(&s, her, "/api/v1/bond/memories").await;
    assert_eq!(theirs.json()["memories"], json!([]));
    assert_eq!(get(&s, her, &photo).await.status, 404);

    // Together: it opens to her, and her device opens it.
    private.stand((&s, HER), (&s, HER)).await;
    assert!(open_tiers(&s, her).await.contains(&Tier::Memories));
    let theirs = get(&s, her, "/api/v1/bond/memories").await.json();
    assert_eq!(theirs["memories"][0]["photo_sealed"], true, "{theirs}");
    let served = get(&s, her, &photo).await;
    assert_eq!(served.status, 200);
    assert!(
        served
            .headers
            .to_ascii_lowercase()
            .contains("content-type: application/vnd.haurach.sealed-photo"),
        "{}",
        served.headers
    );
    assert_eq!(served.body, sealed, "served as it came");
    let (_, opened) = private
        .his(MEMORY_PHOTO)
        .open_frame(&sealer, &served.body)
        .expect("her device opens it");
    assert_eq!(PhotoContent::decode(&opened), Some(content));
    // Changed on the way, it does not open.
    let mut changed = served.body.clone();
    changed[40] ^= 1;
    assert!(
        private
            .his(MEMORY_PHOTO)
            .open_frame(&sealer, &changed)
            .is_err()
    );

    // On a plain bond a sealed photo is refused.
    let (pearl, _garnet) = s.pair("pearl", "garnet", "story").await;
    let plain = post(&pearl, &sealed).await;
    assert_problem(plain.status, &plain.json(), 409, "unexpected_sealed");

    // Neither the photo (any 32-byte run of it) nor the caption is kept in the clear.
    let dir = s.stop().await;
    let runs: Vec<&[u8]> = stripped.chunks_exact(32).step_by(8).collect();
    assert!(runs.len() > 4);
    for (path, bytes) in data_files(dir.path()) {
        assert!(
            !bytes
                .windows(caption.len())
                .any(|w| w == caption.as_bytes()),
            "{} holds the caption",
            path.display()
        );
        for run in &runs {
            assert!(
                !bytes.windows(32).any(|w| w == *run),
                "{} holds the photo",
                path.display()
            );
        }
    }
}

/// `who`'s position at `at`, rounded as their device would with nothing known of the
/// partner and sealed as their `counter`-th thing.
fn sealed_fix(key: &BondKey, bond: Uuid, from: Role, counter: u64, at: (f64, f64)) -> String {
    let shared = haurach_private::rounding::round(
        &Fix {
            lat: at.0,
            lon: at.1,
            accuracy_m: 5.0,
            at_ms: now_ms(),
        },
        &haurach_private::rounding::Known {
            profile: Profile::Story,
            tiers: haurach_bond::TierState::initial(Profile::Story),
            partner: None,
        },
    );
    envelope(bond, from, haurach_proto::sealed::POSITION)
        .seal(
            &Sealer::new(key),
            counter,
            &haurach_proto::sealed::FixContent::of(&shared).to_bytes(),
        )
        .unwrap()
}

/// The next sealed position a link receives: the sealed string and when it came, if
/// the frame says.
async fn next_sealed_fix(link: &mut Link, known: &[&TokenReport]) -> (String, Option<String>) {
    let frames = frames_until(link, known, |f| {
        matches!(f, ServerFrame::PartnerSealedFix { .. })
    })
    .await;
    let Some(ServerFrame::PartnerSealedFix { sealed, at }) = frames.last() else {
        unreachable!()
    };
    (sealed.clone(), at.map(|at| at.to_string()))
}

async fn put_sealed_fix(s: &TestServer, token: &str, sealed: &str) -> (u16, Value) {
    let body = json!({"sealed": sealed});
    s.call("PUT", "/api/v1/me/sealed-fix", Some(token), Some(&body))
        .await
}

/// Positions in a private bond travel sealed: each partner's device sends its own,
/// rounded and sealed; the server relays it to the partner as it came (when it came only
/// while feelings are open), keeps the latest for a partner who links later, drops one
/// sent while pausing and shows none while a partner is hidden; a plain position is
/// still refused, and sealed positions of another shape too.
async fn sealed_positions(s: &TestServer) {
    let Private {
        her,
        him,
        key,
        bond,
    } = bond_privately(s).await;
    let sealer = Sealer::new(&key);
    let mut her_link = s.link(&her, None).await;
    let mut his_link = s.link(&him, None).await;
    let ServerFrame::Hello { bond: view, .. } = her_link.next().await else {
        panic!("hello first")
    };
    assert_eq!(view.expect("bonded").partner_sealed_fix, None);
    assert!(matches!(his_link.next().await, ServerFrame::Hello { .. }));
    // 40 km apart: nothing ranged is open.
    let now = now_ms();
    let (hers, far) = (tokens(&key, HER, now), tokens(&key, FAR, now));
    report_ok(s, &her, &hers).await;
    report_ok(s, &him, &far).await;
    let known = [&hers, &far];

    // His, over HTTP, reaches her link as it came; she opens it.
    let his = sealed_fix(&key, bond, Role::Accepter, 1, FAR);
    let (status, body) = put_sealed_fix(s, &him, &his).await;
    assert_eq!(status, 204, "{body}");
    let (got, at) = next_sealed_fix(&mut her_link, &known).await;
    assert_eq!(got, his);
    assert_eq!(
        at, None,
        "when it came is a feeling's worth: feelings are closed"
    );
    let (_, content) = envelope(bond, Role::Accepter, haurach_proto::sealed::POSITION)
        .open(&sealer, &got)
        .unwrap();
    let content = haurach_proto::sealed::FixContent::from_bytes(&content).unwrap();
    assert!(!content.exact);
    let off = haurach_bond::geo::inverse(content.lat, content.lon, FAR.0, FAR.1).distance_m;
    assert!(off > 0.0 && off <= content.reach_m, "{content:?}");
    // Hers, over the link, reaches him.
    let mine = sealed_fix(&key, bond, Role::Inviter, 1, HER);
    her_link
        .send(&ClientFrame::SealedFix {
            sealed: mine.clone(),
        })
        .await;
    assert_eq!(next_sealed_fix(&mut his_link, &known).await.0, mine);

    // Kept: a link she opens later, and the bond's view, give his latest.
    let his_second = sealed_fix(&key, bond, Role::Accepter, 2, FAR);
    assert_eq!(put_sealed_fix(s, &him, &his_second).await.0, 204);
    assert_eq!(next_sealed_fix(&mut her_link, &known).await.0, his_second);
    her_link.close().await;
    let mut later = s.link(&her, None).await;
    let ServerFrame::Hello { bond: view, .. } = later.next().await else {
        panic!("hello first")
    };
    let kept = view.expect("bonded").partner_sealed_fix.expect("his kept");
    assert_eq!((kept.sealed.as_str(), kept.at), (his_second.as_str(), None));
    let (_, view) = s.call("GET", "/api/v1/bond", Some(&him), None).await;
    assert_eq!(
        view["partner_sealed_fix"]["sealed"],
        mine.as_str(),
        "{view}"
    );
    assert_eq!(view["pull"], Value::Null, "{view}");

    // 5 km apart, feelings open: when it came is told too.
    let near = tokens(&key, NEAR, now_ms());
    report_ok(s, &him, &near).await;
    let known = [&hers, &far, &near];
    let his_near = sealed_fix(&key, bond, Role::Accepter, 3, NEAR);
    assert_eq!(put_sealed_fix(s, &him, &his_near).await.0, 204);
    let (got, at) = next_sealed_fix(&mut later, &known).await;
    assert_eq!(got, his_near);
    assert!(at.is_some(), "feelings are open");

    // While he pauses, his positions are dropped and his kept one is shown to nobody.
    let (status, body) = s
        .call("PUT", "/api/v1/me/pause", Some(&him), Some(&json!({})))
        .await;
    assert_eq!(status, 200, "{body}");
    let dropped = sealed_fix(&key, bond, Role::Accepter, 4, HER);
    assert_eq!(put_sealed_fix(s, &him, &dropped).await.0, 204);
    let (_, view) = s.call("GET", "/api/v1/bond", Some(&her), None).await;
    assert!(view.get("partner_sealed_fix").is_none(), "{view}");
    let (_, view) = s.call("GET", "/api/v1/bond", Some(&him), None).await;
    assert!(view.get("partner_sealed_fix").is_none(), "{view}");
    s.call("DELETE", "/api/v1/me/pause", Some(&him), None).await;
    let near_again = tokens(&key, NEAR, now_ms());
    report_ok(s, &him, &near_again).await;
    let (_, view) = s.call("GET", "/api/v1/bond", Some(&her), None).await;
    assert_eq!(
        view["partner_sealed_fix"]["sealed"],
        his_near.as_str(),
        "the one sent while paused was dropped: {view}"
    );

    // A plain position is still refused; a sealed one of another shape too.
    let (status, body) = s
        .call(
            "PUT",
            "/api/v1/me/position",
            Some(&him),
            Some(&json!({"lat": NEAR.0, "lon": NEAR.1})),
        )
        .await;
    assert_problem(status, &body, 409, "private_bond");
    let long = format!("{his_near}{}", "A".repeat(400));
    for bad in ["not base64!", "AAAA", long.as_str()] {
        let (status, body) = put_sealed_fix(s, &him, bad).await;
        assert_problem(status, &body, 422, "invalid_sealed");
    }
    later
        .send(&ClientFrame::SealedFix {
            sealed: "AAAA".into(),
        })
        .await;
    assert_eq!(next_error(&mut later).await.code, "invalid_sealed");
}

#[tokio::test]
async fn a_private_bond_relays_and_keeps_sealed_positions() {
    sealed_positions(&TestServer::start().await).await;
}

#[tokio::test]
async fn a_private_bond_relays_and_keeps_sealed_positions_on_postgres() {
    let Some((_pg, s)) = TestServer::on_postgres().await else {
        return;
    };
    sealed_positions(&s).await;
}

/// A plain bond takes positions, not sealed ones.
#[tokio::test]
async fn a_plain_bond_refuses_a_sealed_position() {
    let s = TestServer::start().await;
    let (her, _) = s.pair("amethyst", "spike", "story").await;
    let key = BondKey::from_bytes([1; 32]);
    let sealed = sealed_fix(&key, Uuid::nil(), Role::Inviter, 1, HER);
    let (status, body) = put_sealed_fix(&s, &her, &sealed).await;
    assert_problem(status, &body, 409, "unexpected_sealed");
    let mut link = s.link(&her, None).await;
    assert!(matches!(link.next().await, ServerFrame::Hello { .. }));
    link.send(&ClientFrame::SealedFix { sealed }).await;
    assert_eq!(next_error(&mut link).await.code, "unexpected_sealed");
}

/// Every file under `dir` (the server's data directory: the database, its WAL, the
/// message journal, files), read whole.
pub(crate) fn data_files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                found.push((path, bytes));
            }
        }
    }
    found
}

async fn write_memory(s: &TestServer, token: &str, entry: &Value) -> (u16, Value) {
    s.call("POST", "/api/v1/me/memories", Some(token), Some(entry))
        .await
}

/// Journal words travel sealed in a private bond: the server keeps the sealed string
/// with the bond it was sealed in, shows it to its author at once and to the partner
/// only once they have been together, and never holds the words.
#[tokio::test]
async fn a_private_bond_keeps_sealed_journal_words_and_opens_them_when_together() {
    let s = TestServer::start().await;
    let Private {
        her,
        him,
        key,
        bond,
    } = bond_privately(&s).await;
    let sealer = Sealer::new(&key);
    let words = "the quartz lantern hums under the ridge";
    let sealed = envelope(bond, Role::Accepter, MEMORY)
        .seal(&sealer, 1, words.as_bytes())
        .unwrap();

    // Refused before anything is kept: words in the clear, both fields, a broken seal.
    let (status, body) = write_memory(&s, &him, &json!({"id": "m1", "body": words})).await;
    assert_problem(status, &body, 409, "private_bond");
    let both = json!({"id": "m1", "body": words, "sealed": sealed});
    let (status, body) = write_memory(&s, &him, &both).await;
    assert_problem(status, &body, 422, "invalid_memory");
    let broken = json!({"id": "m1", "sealed": format!("{}!", &sealed[1..])});
    let (status, body) = write_memory(&s, &him, &broken).await;
    assert_problem(status, &body, 422, "invalid_sealed");

    // 40 km apart: kept, shown to him sealed, not to her.
    let now = now_ms();
    report_ok(&s, &her, &tokens(&key, HER, now)).await;
    report_ok(&s, &him, &tokens(&key, FAR, now)).await;
    let entry = json!({"id": "m1", "sealed": sealed});
    let (status, written) = write_memory(&s, &him, &entry).await;
    assert_eq!(status, 201, "{written}");
    assert_eq!(written["sealed"], sealed.as_str());
    assert!(
        written.get("body").is_none() && written.get("shared_at").is_none(),
        "{written}"
    );
    let (status, again) = write_memory(&s, &him, &entry).await;
    assert_eq!(
        (status, &again["id"]),
        (200, &written["id"]),
        "a retry is kept once"
    );
    let (_, hers) = s
        .call("GET", "/api/v1/bond/memories", Some(&her), None)
        .await;
    assert_eq!(hers["memories"], json!([]), "{hers}");

    // Together: it opens to her, as it came, and her device opens the words.
    let now = now_ms();
    report_ok(&s, &her, &tokens(&key, HER, now)).await;
    report_ok(&s, &him, &tokens(&key, HER, now)).await;
    assert!(open_tiers(&s, &her).await.contains(&Tier::Memories));
    let (status, hers) = s
        .call("GET", "/api/v1/bond/memories", Some(&her), None)
        .await;
    assert_eq!(status, 200, "{hers}");
    let shown = &hers["memories"][0];
    assert_eq!(shown["sealed"], sealed.as_str(), "{hers}");
    assert!(
        shown.get("body").is_none() && shown["shared_at"].is_string(),
        "{hers}"
    );
    let (_, opened) = envelope(bond, Role::Accepter, MEMORY)
        .open(&sealer, shown["sealed"].as_str().unwrap())
        .unwrap();
    assert_eq!(opened, words.as_bytes());

    // The server never held the words.
    for (path, bytes) in data_files(s.dir.path()) {
        assert!(
            !bytes.windows(words.len()).any(|w| w == words.as_bytes()),
            "{} holds the journal's words",
            path.display()
        );
    }

    // A plain bond takes no sealed words.
    let (plain, _) = s.pair("rarity", "pinkie", "story").await;
    let (status, body) = write_memory(&s, &plain, &json!({"id": "p1", "sealed": sealed})).await;
    assert_problem(status, &body, 409, "unexpected_sealed");
}

/// A private bond's place news and meeting point (`docs/privacy.md`, "Sealed places and
/// the meeting point"): sealed by the device, passed at any range (the pull's tier) while
/// words are closed, stored and replayed sealed like every message; refused in the clear
/// or with nothing sealed, and refused on a plain bond, whose server tells of places and
/// the meeting point itself.
async fn sealed_places(s: &TestServer) {
    let Private {
        her,
        him,
        key,
        bond,
    } = bond_privately(s).await;
    let sealer = Sealer::new(&key);
    let mut his_link = s.link(&him, None).await;
    assert!(matches!(his_link.next().await, ServerFrame::Hello { .. }));
    let now = now_ms();
    let (hers, far) = (tokens(&key, HER, now), tokens(&key, FAR, now));
    report_ok(s, &her, &hers).await;
    report_ok(s, &him, &far).await;
    // 40 km apart: words are closed, so only a kind that passes at any range gets through.
    let words = envelope(bond, Role::Inviter, "voice")
        .seal(&sealer, 1, b"are you there")
        .unwrap();
    let (status, body) = post_message(
        s,
        &her,
        &json!({"id": "v1", "kind": "voice", "sealed": words}),
    )
    .await;
    assert_problem(status, &body, 403, "tier_closed");

    for (message, status, code) in [
        (json!({"id": "q1", "kind": "place"}), 422, "sealed_required"),
        (
            json!({"id": "q2", "kind": "meeting"}),
            422,
            "sealed_required",
        ),
        (
            json!({"id": "q3", "kind": "place", "body": "home", "sealed": words}),
            409,
            "private_bond",
        ),
        (
            json!({"id": "q4", "kind": "meeting", "sealed": "AAAA"}),
            422,
            "invalid_sealed",
        ),
    ] {
        let (got, body) = post_message(s, &her, &message).await;
        assert_problem(got, &body, status, code);
    }

    let news = r#"{"place":"home","event":"arrived","at":"2027-01-15T08:00:00Z"}"#;
    let pin = r#"{"what":"pinned","lat":46.2,"lon":7.6,"name":"the well"}"#;
    let place = envelope(bond, Role::Inviter, "place")
        .seal(&sealer, 2, news.as_bytes())
        .unwrap();
    let meeting = envelope(bond, Role::Inviter, "meeting")
        .seal(&sealer, 3, pin.as_bytes())
        .unwrap();
    let (status, first) = post_message(
        s,
        &her,
        &json!({"id": "n1", "kind": "place", "sealed": place}),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = post_message(
        s,
        &her,
        &json!({"id": "n1", "kind": "place", "sealed": place}),
    )
    .await;
    assert_eq!((status, &again["seq"]), (200, &first["seq"]), "stored once");
    let (status, last) = post_message(
        s,
        &her,
        &json!({"id": "n2", "kind": "meeting", "sealed": meeting}),
    )
    .await;
    assert_eq!(status, 201, "{last}");
    let last = last["seq"].as_i64().unwrap();
    let expected = vec![
        (MessageKind::Place, Some(news.to_owned())),
        (MessageKind::Meeting, Some(pin.to_owned())),
    ];
    let strip = |seen: Vec<(i64, MessageKind, Option<String>)>| {
        seen.into_iter().map(|(_, k, c)| (k, c)).collect::<Vec<_>>()
    };
    let live = opened_until(&mut his_link, &sealer, bond, Upto::Seq(last)).await;
    assert_eq!(strip(live), expected);
    his_link.close().await;
    let mut resumed = s.link(&him, Some(0)).await;
    assert!(matches!(resumed.next().await, ServerFrame::Hello { .. }));
    let replayed = opened_until(&mut resumed, &sealer, bond, Upto::Seq(last)).await;
    assert_eq!(strip(replayed), expected);
    // The plain routes stay refused on a private bond.
    let (status, body) = s
        .call(
            "PUT",
            "/api/v1/bond/meeting",
            Some(&her),
            Some(&json!({"lat": 46.2, "lon": 7.6})),
        )
        .await;
    assert_problem(status, &body, 409, "private_bond");
}

#[tokio::test]
async fn a_private_bond_carries_place_news_and_the_meeting_point_sealed_at_any_range() {
    sealed_places(&TestServer::start().await).await;
}

#[tokio::test]
async fn a_private_bond_carries_place_news_and_the_meeting_point_sealed_at_any_range_on_postgres() {
    let Some((_pg, s)) = TestServer::on_postgres().await else {
        return;
    };
    sealed_places(&s).await;
}

/// A plain bond's server tells of places and the meeting point itself: a device's own
/// place or meeting message is refused, sealed or not.
#[tokio::test]
async fn a_plain_bond_refuses_place_and_meeting_messages() {
    let s = TestServer::start().await;
    let (her, _) = s.pair("amethyst", "spike", "story").await;
    let key = BondKey::from_bytes([1; 32]);
    let sealed = envelope(Uuid::nil(), Role::Inviter, "place")
        .seal(&Sealer::new(&key), 1, b"{}")
        .unwrap();
    for kind in ["place", "meeting"] {
        let (status, body) = post_message(
            &s,
            &her,
            &json!({"id": "x", "kind": kind, "sealed": sealed}),
        )
        .await;
        assert_problem(status, &body, 409, "unexpected_sealed");
        let (status, body) = post_message(&s, &her, &json!({"id": "y", "kind": kind})).await;
        assert_problem(status, &body, 422, "sealed_required");
    }
}
