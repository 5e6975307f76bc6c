//! `POST /owntracks` with the payloads the OwnTracks project publishes (its JSON schema
//! test suite, copied into `fixtures/owntracks` with its source), the answer's friend
//! and its privacy, and waypoints becoming places.

use std::collections::BTreeMap;

use base64::Engine as _;
use haurach_bond::geo;
use haurach_bond::pull::{coarsen_bearing, coarsen_distance};
use haurach_proto::{PlaceEvent, ServerFrame};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::TestServer;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/fixtures/owntracks");

/// What the OwnTracks app does: POST with Basic auth and the device's name.
pub async fn post(s: &TestServer, auth: Option<(&str, &str)>, body: &[u8]) -> (u16, String, Value) {
    let mut stream = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let mut head = format!(
        "POST /owntracks HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\
         content-type: application/json\r\nx-limit-u: ignored\r\nx-limit-d: phone\r\n\
         content-length: {}\r\n",
        body.len()
    );
    if let Some((name, password)) = auth {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{name}:{password}"));
        head.push_str(&format!("authorization: Basic {basic}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut res = Vec::new();
    stream.read_to_end(&mut res).await.unwrap();
    let res = String::from_utf8_lossy(&res).into_owned();
    let (head, rest) = res.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let head = head.to_lowercase();
    let body = if head.contains("transfer-encoding: chunked") {
        // Small answers: one chunk.
        let (_, chunk) = rest.split_once("\r\n").unwrap();
        chunk.rsplit_once("\r\n0").map_or(chunk, |c| c.0).to_owned()
    } else {
        rest.to_owned()
    };
    (
        status,
        head,
        serde_json::from_str(&body).unwrap_or(Value::Null),
    )
}

const SPIKE: Option<(&str, &str)> = Some(("spike", "purple-dragon"));

/// The fixtures' expectations from the upstream Makefile: name → whether the schema
/// accepts it.
fn expectations() -> BTreeMap<String, bool> {
    let make = std::fs::read_to_string(format!("{FIXTURES}/Makefile.upstream")).unwrap();
    let mut out = BTreeMap::new();
    for word in make.split_whitespace() {
        let word = word.trim_end_matches('\\');
        if word.starts_with('%') || word.starts_with('#') {
            continue;
        }
        for (suffix, ok) in [
            (".msuccess", true),
            (".ssuccess", true),
            (".esuccess", true),
            (".mfail", false),
            (".efail", false),
        ] {
            if let Some(name) = word.strip_suffix(suffix) {
                out.insert(name.to_owned(), ok);
            }
        }
    }
    out
}

/// Valid OwnTracks that Haurach refuses on purpose, with the code it answers.
fn refused_on_purpose(name: &str) -> Option<&'static str> {
    if name == "e" {
        // Haurach has no key to decrypt with.
        return Some("owntracks_unsupported");
    }
    if name.starts_with("cmd-") || name.starts_with("tour") || name == "untour" {
        // Commands and requests go to a device, not from it.
        return Some("owntracks_unsupported");
    }
    if name == "w" {
        // A waypoint without a name or a centre cannot become a place.
        return Some("owntracks_invalid");
    }
    None
}

#[tokio::test]
async fn every_published_payload_is_accepted_or_refused_with_a_clear_problem() {
    let s = TestServer::start().await;
    s.pair("spike", "amethyst", "story").await;
    let cases = expectations();
    assert!(cases.len() >= 55, "{cases:?}");
    let mut accepted = Vec::new();
    for (name, schema_ok) in &cases {
        let body = std::fs::read(format!("{FIXTURES}/{name}.json"))
            .unwrap_or_else(|e| panic!("{name}.json: {e}"));
        let (status, headers, answer) = post(&s, SPIKE, &body).await;
        let expect_ok = *schema_ok && refused_on_purpose(name).is_none();
        if expect_ok {
            assert_eq!(status, 200, "{name}: {answer}");
            assert!(
                answer.is_array(),
                "{name}: the answer is always an array: {answer}"
            );
            accepted.push(name.as_str());
        } else {
            assert!(
                (400..500).contains(&status),
                "{name} should be refused: {status} {answer}"
            );
            assert!(
                headers.contains("content-type: application/problem+json"),
                "{name}"
            );
            assert!(!answer["detail"].as_str().unwrap().is_empty());
            if let Some(code) = refused_on_purpose(name).filter(|_| *schema_ok) {
                assert_eq!(answer["code"], code, "{name}: {answer}");
            } else {
                let code = answer["code"].as_str().unwrap();
                assert!(
                    [
                        "owntracks_invalid",
                        "owntracks_unsupported",
                        "malformed_json"
                    ]
                    .contains(&code),
                    "{name}: {answer}"
                );
            }
        }
    }
    // Every kind the app sends in normal use went through.
    for name in [
        "l",
        "l2",
        "location-5s",
        "transition",
        "waypoint-circular",
        "waypoints-follow-only",
        "card-vw",
        "lwt",
        "steps",
        "status",
        "array",
    ] {
        assert!(accepted.contains(&name), "{name} was not accepted");
    }
    // The waypoints became spike's places.
    let token = login(&s, "spike").await;
    let (_, places) = s.call("GET", "/api/v1/places", Some(&token), None).await;
    let names: Vec<&str> = places["mine"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["+follow", "here"], "{places}");
    assert_eq!(places["mine"][1]["radius_m"], 500.0);
}

async fn login(s: &TestServer, name: &str) -> String {
    let creds = json!({"name": name, "password": "purple-dragon"});
    let (_, body) = s.call("POST", "/api/v1/sessions", None, Some(&creds)).await;
    body["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_empty_body_is_ignored_and_credentials_are_required() {
    let s = TestServer::start().await;
    s.pair("spike", "amethyst", "story").await;
    let (status, _, answer) = post(&s, SPIKE, b"").await;
    assert_eq!(status, 200);
    assert_eq!(
        answer,
        json!([{"_type": "card", "tid": "AM", "name": "amethyst"}])
    );
    let (status, headers, answer) = post(&s, None, b"").await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (401, Some("unauthorized"))
    );
    assert!(headers.contains("www-authenticate: basic"), "{headers}");
    let (status, _, _) = post(&s, Some(("spike", "not-the-password")), b"").await;
    assert_eq!(status, 401);
    // Guessing is limited as at the login form: ten failures a minute per name.
    for _ in 0..9 {
        post(&s, Some(("spike", "guess")), b"").await;
    }
    let (status, _, answer) = post(&s, Some(("spike", "guess")), b"").await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (429, Some("too_many_attempts"))
    );
    // The phone that logged in before keeps working.
    assert_eq!(post(&s, SPIKE, b"").await.0, 200);
    let (status, _, answer) = post(&s, SPIKE, b"{not json").await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("malformed_json"))
    );
    // Unbonded: nobody to show.
    let s2 = TestServer::start().await;
    s2.citizen("spike").await;
    let (status, _, answer) = post(&s2, SPIKE, b"").await;
    assert_eq!((status, answer), (200, json!([])));
}

pub fn location(lat: f64, lon: f64, tst: i64) -> Vec<u8> {
    json!({"_type": "location", "lat": lat, "lon": lon, "acc": 10, "tid": "sp", "tst": tst})
        .to_string()
        .into_bytes()
}

pub fn now_s() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[tokio::test]
async fn the_partner_is_a_friend_whose_location_is_exact_only_within_sight() {
    let s = TestServer::start().await;
    let (_, amethyst) = s.pair("spike", "amethyst", "story").await;
    let (her_lat, her_lon) = (23.13, 53.77);
    s.put_position(&amethyst, her_lat, her_lon).await;
    let (me_lat, me_lon) = (23.12, 53.60);
    let (status, _, answer) = post(&s, SPIKE, &location(me_lat, me_lon, now_s())).await;
    assert_eq!(status, 200);
    let list = answer.as_array().unwrap();
    assert_eq!(
        list[0],
        json!({"_type": "card", "tid": "AM", "name": "amethyst"})
    );
    let friend = &list[1];
    assert_eq!(friend["_type"], "location");
    assert_eq!(friend["tid"], "AM");
    assert!(friend["tst"].as_i64().unwrap() > 0);
    let (lat, lon) = (
        friend["lat"].as_f64().unwrap(),
        friend["lon"].as_f64().unwrap(),
    );
    // Not where she is...
    let off = geo::inverse(lat, lon, her_lat, her_lon).distance_m;
    assert!(off > 1.0, "her real position was sent");
    // ...but on the coarse pull from spike: bearing to 5°, distance to two figures.
    let real = geo::inverse(me_lat, me_lon, her_lat, her_lon);
    let shown = geo::inverse(me_lat, me_lon, lat, lon);
    assert!(
        (shown.distance_m - coarsen_distance(real.distance_m)).abs() < 0.01,
        "{shown:?}"
    );
    assert!(
        (shown.bearing_deg - coarsen_bearing(real.bearing_deg)).abs() < 1e-6,
        "{shown:?}"
    );
    assert!(
        friend["acc"].as_f64().unwrap() >= off,
        "the circle covers her: {friend}"
    );
    // Whole metres, as the booklet types it.
    assert!(friend["acc"].is_i64(), "{friend}");

    // Within sight range (2 km), the exact position.
    let (status, _, answer) = post(&s, SPIKE, &location(23.125, 53.765, now_s())).await;
    assert_eq!(status, 200);
    let friend = &answer[1];
    assert_eq!(
        (friend["lat"].as_f64(), friend["lon"].as_f64()),
        (Some(her_lat), Some(her_lon))
    );
    // And the meeting point, visible to both within sight, is a second friend.
    assert_eq!(answer[2]["tid"], "ND", "{answer}");
    assert_eq!(answer[3]["_type"], "location");
}

#[tokio::test]
async fn an_owntracks_walker_and_a_web_partner_see_each_others_places() {
    let s = TestServer::start().await;
    let (spike_token, amethyst) = s.pair("spike", "amethyst", "city").await;
    let mut hers = s.link(&amethyst, None).await;
    hers.next().await;
    let waypoints = json!({"_type": "waypoints", "waypoints": [
        {"_type": "waypoint", "desc": "Home", "lat": 46.05, "lon": 14.50, "rad": 100, "tst": 1_700_000_000},
        {"_type": "waypoint", "desc": "Work", "lat": 46.06, "lon": 14.51, "rad": 150, "tst": 1_700_000_000}
    ]});
    let (status, _, _) = post(&s, SPIKE, waypoints.to_string().as_bytes()).await;
    assert_eq!(status, 200);
    let t = now_s() - 60;
    post(&s, SPIKE, &location(46.04, 14.49, t)).await;
    post(&s, SPIKE, &location(46.05, 14.5001, t + 30)).await;
    let frame = hers.until(|f| matches!(f, ServerFrame::Place(_))).await;
    let ServerFrame::Place(news) = frame else {
        unreachable!()
    };
    assert_eq!(
        (news.who.as_str(), news.place.as_str(), news.event),
        ("spike", "Home", PlaceEvent::Arrived)
    );
    let (_, places) = s.call("GET", "/api/v1/places", Some(&amethyst), None).await;
    assert_eq!(places["partner"].as_array().unwrap().len(), 2, "{places}");
    // Spike's fixes went into his journey like any other.
    let (_, _, gpx) = crate::common::raw(
        s.addr,
        "GET",
        "/api/v1/me/journey.gpx",
        Some(&spike_token),
        None,
        "application/json",
    )
    .await;
    assert_eq!(gpx.matches("<trkpt").count(), 2, "{gpx}");
}

#[tokio::test]
async fn the_partners_places_reach_the_phone_as_transitions() {
    let s = TestServer::start().await;
    let (_, amethyst) = s.pair("spike", "amethyst", "story").await;
    // Spike's phone posts once: from now on news is held for it.
    post(&s, SPIKE, &location(23.12, 53.60, now_s() - 100)).await;
    let (status, _) = s
        .call(
            "PUT",
            "/api/v1/places/tower",
            Some(&amethyst),
            Some(&json!({"lat": 23.13, "lon": 53.77, "radius_m": 200.0})),
        )
        .await;
    assert_eq!(status, 201);
    s.put_position(&amethyst, 23.0, 53.0).await;
    s.put_position(&amethyst, 23.13, 53.7701).await;
    let (_, _, answer) = post(&s, SPIKE, b"").await;
    let transitions: Vec<&Value> = answer
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["_type"] == "transition")
        .collect();
    assert_eq!(transitions.len(), 1, "{answer}");
    let t = transitions[0];
    assert_eq!(
        (t["tid"].as_str(), t["event"].as_str(), t["desc"].as_str()),
        (Some("AM"), Some("enter"), Some("tower"))
    );
    // Placed where the friend is shown (beyond sight: the rounded pull), not at the tower.
    assert_eq!(
        (t["lat"].clone(), t["lon"].clone()),
        (answer[1]["lat"].clone(), answer[1]["lon"].clone())
    );
    assert_ne!(t["lon"].as_f64(), Some(53.77));
    // Delivered once.
    let (_, _, again) = post(&s, SPIKE, b"").await;
    assert!(
        again
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["_type"] != "transition"),
        "{again}"
    );
}

/// Hardening finding 6: `/owntracks` let applicants and declined accounts in (positions
/// and places written, 200) while every other route answered them 403.
#[tokio::test]
async fn the_app_is_closed_to_applicants_and_declined_accounts_like_every_route() {
    let s = TestServer::start_with(|c| c.gate = haurach_proto::GateMode::Application).await;
    let tower = s.citizen("celestia").await;
    for name in ["twilight", "rarity"] {
        let book = json!({"name": name, "password": "purple-dragon", "book": {"name": name}});
        let (status, _) = s.call("POST", "/api/v1/accounts", None, Some(&book)).await;
        assert_eq!(status, 202, "an application waits for the tower");
    }
    let waypoint = json!({"_type": "waypoint", "desc": "Library", "lat": 46.0, "lon": 7.0,
                          "rad": 50, "tst": now_s()})
    .to_string();
    let decide = |name: &str, decision: &str| {
        let (path, body) = (
            format!("/api/v1/gate/applications/{name}/decision"),
            json!({"decision": decision, "answer": "So be it."}),
        );
        let (s, tower) = (&s, &tower);
        async move {
            let (status, _) = s.call("POST", &path, Some(tower), Some(&body)).await;
            assert_eq!(status, 200);
        }
    };

    for name in ["twilight", "rarity"] {
        let phone = Some((name, "purple-dragon"));
        let (status, _, answer) = post(&s, phone, &location(46.0, 7.0, now_s())).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (403, Some("awaiting_tower"))
        );
        let (status, _, _) = post(&s, phone, waypoint.as_bytes()).await;
        assert_eq!(status, 403);
    }
    decide("rarity", "declined").await;
    let (status, _, answer) =
        post(&s, Some(("rarity", "purple-dragon")), waypoint.as_bytes()).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (403, Some("application_declined"))
    );

    // Let in, she finds nothing the app sent while she waited: no place, no position.
    decide("twilight", "approved").await;
    let token = login(&s, "twilight").await;
    let (_, places) = s.call("GET", "/api/v1/places", Some(&token), None).await;
    assert_eq!(places["mine"], json!([]), "{places}");
    let (_, me) = s.call("GET", "/api/v1/me", Some(&token), None).await;
    assert!(me["position"].is_null(), "{me}");
    // And from now on the app works for her.
    let (status, _, _) = post(&s, Some(("twilight", "purple-dragon")), waypoint.as_bytes()).await;
    assert_eq!(status, 200);
}
