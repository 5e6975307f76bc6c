//! Places and the meeting point, through the HTTP API and the live link: arriving and
//! leaving along real GPS tracks, the privacy of a partner's places, what survives a
//! restart, and the meeting point for partners at known positions and speeds.

use haurach_bond::geo;
use haurach_proto::{ClientFrame, MeetingKind, PlaceEvent, PositionUpdate, ServerFrame};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::common::{Link, TestServer};

/// The track points of a GPX file with their times: just enough of GPX for the test data.
fn track(path: &str) -> Vec<(f64, f64, OffsetDateTime)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let attr = |tag: &str, name: &str| -> f64 {
        let start = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        let end = start + tag[start..].find('"').unwrap();
        tag[start..end].parse().unwrap()
    };
    text.split("<trkpt ")
        .skip(1)
        .map(|chunk| {
            let tag = &chunk[..chunk.find('>').unwrap()];
            let t0 = chunk.find("<time>").unwrap() + 6;
            let t1 = chunk.find("</time>").unwrap();
            let at = OffsetDateTime::parse(&chunk[t0..t1], &Rfc3339).unwrap();
            (attr(tag, "lat"), attr(tag, "lon"), at)
        })
        .collect()
}

fn repo_path(p: &str) -> String {
    format!("{}/../../{p}", env!("CARGO_MANIFEST_DIR"))
}

async fn put_place(s: &TestServer, token: &str, name: &str, lat: f64, lon: f64, r: f64) -> Value {
    let (status, body) = s
        .call(
            "PUT",
            &format!("/api/v1/places/{name}"),
            Some(token),
            Some(&json!({"lat": lat, "lon": lon, "radius_m": r})),
        )
        .await;
    assert!(status == 201 || status == 200, "{status} {body}");
    body
}

async fn position_at(s: &TestServer, token: &str, lat: f64, lon: f64, acc: f64, at_ms: i64) {
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000).unwrap();
    let body =
        json!({"lat": lat, "lon": lon, "accuracy_m": acc, "at": at.format(&Rfc3339).unwrap()});
    let (status, res) = s
        .call("PUT", "/api/v1/me/position", Some(token), Some(&body))
        .await;
    assert_eq!(status, 204, "{res}");
}

fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Every place frame until `last` arrives, as "who event place" lines.
async fn place_news_until(link: &mut Link, last: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let frame = link.until(|f| matches!(f, ServerFrame::Place(_))).await;
        let ServerFrame::Place(n) = frame else {
            unreachable!()
        };
        let event = match n.event {
            PlaceEvent::Arrived => "arrived at",
            PlaceEvent::Left => "left",
        };
        let line = format!("{} {event} {}", n.who, n.place);
        let done = line == last;
        seen.push(line);
        if done {
            return seen;
        }
    }
}

#[tokio::test]
async fn a_run_arrives_and_leaves_its_places_once_each_and_the_partner_hears_by_name() {
    // A 12.8 km run that starts and ends at the same spot (georust/gpx's Garmin fixture).
    let run = track(&repo_path("../shared/data/gpx/gpx-garmin-activity.gpx"));
    assert_eq!(run.len(), 988);
    let s = TestServer::start().await;
    // Story profile, no position for amethyst: whatever the range, news passes.
    let (spike, amethyst) = s.pair("spike", "amethyst", "story").await;
    // Home is 350 m wide: the cool-down winds 240 to 285 m out from the start, really
    // going out of a 250 m place's band and back, which would be news each time.
    put_place(&s, &spike, "home", run[0].0, run[0].1, 350.0).await;
    put_place(&s, &spike, "turn", run[509].0, run[509].1, 150.0).await;
    let mut watcher = s.link(&amethyst, None).await;
    watcher.next().await; // hello
    let mut runner = s.link(&spike, None).await;
    runner.next().await;
    for (lat, lon, at) in &run {
        runner
            .send(&ClientFrame::Position(PositionUpdate {
                lat: *lat,
                lon: *lon,
                accuracy_m: Some(5.0),
                at: Some(*at),
                by_hand: false,
                battery: None,
            }))
            .await;
    }
    let news = place_news_until(&mut watcher, "spike arrived at home").await;
    // The first fix is at home: the run arrives there before anything else.
    assert_eq!(news, ["spike arrived at home"]);
    let news = place_news_until(&mut watcher, "spike arrived at home").await;
    assert_eq!(
        news,
        [
            "spike left home",
            "spike arrived at turn",
            "spike left turn",
            "spike arrived at home",
        ]
    );
    // Nothing more: no flapping on any edge along the way.
    let more = watcher
        .try_next(std::time::Duration::from_millis(300))
        .await;
    assert!(
        more.as_ref()
            .is_none_or(|f| !matches!(f, ServerFrame::Place(_))),
        "{more:?}"
    );
    let (_, places) = s.call("GET", "/api/v1/places", Some(&spike), None).await;
    assert_eq!(places["mine"][0]["name"], "home");
    assert_eq!(places["mine"][0]["inside"], true);
    assert_eq!(places["mine"][1]["inside"], false);
}

#[tokio::test]
async fn a_blurry_fix_on_the_edge_neither_arrives_nor_leaves() {
    let s = TestServer::start().await;
    let (spike, _amethyst) = s.pair("spike", "amethyst", "city").await;
    let (lat, lon) = (45.7681, 14.3605);
    put_place(&s, &spike, "cafe", lat, lon, 50.0).await;
    let mut link = s.link(&spike, None).await;
    link.next().await;
    let t0 = now_ms() - 600_000;
    // 30 m from the centre, but the phone is only sure within 40 m: not yet there.
    let (a, b) = geo::destination(lat, lon, 90.0, 30.0);
    position_at(&s, &spike, a, b, 40.0, t0).await;
    // A sharp fix there: arrived.
    position_at(&s, &spike, a, b, 5.0, t0 + 1_000).await;
    // Wandering across the edge for a while, ±20 m around 50 m, accuracy 10 m.
    for i in 0..40 {
        let d = 50.0 + 20.0 * (f64::from(i) * 0.9).sin();
        let (a, b) = geo::destination(lat, lon, 45.0, d);
        position_at(&s, &spike, a, b, 10.0, t0 + 2_000 + i64::from(i) * 1_000).await;
    }
    let mut news = Vec::new();
    while let Some(frame) = link.try_next(std::time::Duration::from_millis(300)).await {
        if let ServerFrame::Place(n) = frame {
            news.push((n.place, n.event));
        }
    }
    assert_eq!(news, [("cafe".to_owned(), PlaceEvent::Arrived)]);
}

#[tokio::test]
async fn a_partners_places_show_where_they_are_only_within_sight_range() {
    let s = TestServer::start().await;
    let (spike, amethyst) = s.pair("spike", "amethyst", "story").await;
    put_place(&s, &amethyst, "tower", 23.13, 53.77, 300.0).await;
    s.put_position(&spike, 23.12, 53.66).await;
    s.put_position(&amethyst, 23.13, 53.77).await; // about 11 km apart: no sight
    let (status, places) = s.call("GET", "/api/v1/places", Some(&spike), None).await;
    assert_eq!(status, 200);
    let tower = &places["partner"][0];
    assert_eq!(tower["name"], "tower");
    assert_eq!(tower["inside"], true);
    assert!(tower.get("position").is_none(), "{places}");
    // Her own view has it.
    let (_, hers) = s.call("GET", "/api/v1/places", Some(&amethyst), None).await;
    assert_eq!(hers["mine"][0]["position"]["lat"], 23.13);
    // Within 2 km, sight is open: the place is shown.
    s.put_position(&spike, 23.125, 53.765).await;
    let (_, places) = s.call("GET", "/api/v1/places", Some(&spike), None).await;
    assert_eq!(places["partner"][0]["position"]["lon"], 53.77, "{places}");
}

#[tokio::test]
async fn places_are_checked_and_named_once_in_any_case() {
    let s = TestServer::start().await;
    let token = s.citizen("spike").await;
    let cases = [
        (
            json!({"lat": 91.0, "lon": 0.0, "radius_m": 100.0}),
            "invalid_position",
        ),
        (
            json!({"lat": 1.0, "lon": 0.0, "radius_m": 5.0}),
            "invalid_radius",
        ),
        (
            json!({"lat": 1.0, "lon": 0.0, "radius_m": 60_000.0}),
            "invalid_radius",
        ),
        (json!({"lat": 1.0, "lon": 0.0}), "invalid_body"),
    ];
    for (body, code) in cases {
        let (status, problem) = s
            .call("PUT", "/api/v1/places/home", Some(&token), Some(&body))
            .await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (422, Some(code)),
            "{body}"
        );
    }
    let (status, _) = s
        .call(
            "PUT",
            "/api/v1/places/%20home",
            Some(&token),
            Some(&json!({"lat": 1.0, "lon": 0.0, "radius_m": 50.0})),
        )
        .await;
    assert_eq!(status, 422);
    let body = json!({"lat": 1.0, "lon": 2.0, "radius_m": 50.0});
    let (status, _) = s
        .call("PUT", "/api/v1/places/Home", Some(&token), Some(&body))
        .await;
    assert_eq!(status, 201);
    let (status, place) = s
        .call("PUT", "/api/v1/places/HOME", Some(&token), Some(&body))
        .await;
    assert_eq!((status, place["name"].as_str()), (200, Some("HOME")));
    let (_, places) = s.call("GET", "/api/v1/places", Some(&token), None).await;
    assert_eq!(places["mine"].as_array().unwrap().len(), 1);
    assert_eq!(places["partner"], json!([]));
    let (status, _) = s
        .call("DELETE", "/api/v1/places/home", Some(&token), None)
        .await;
    assert_eq!(status, 204);
    let (status, problem) = s
        .call("DELETE", "/api/v1/places/home", Some(&token), None)
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (404, Some("place_not_found"))
    );
    let (status, _) = s.call("GET", "/api/v1/places", None, None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn being_inside_survives_a_restart_so_an_arrival_is_not_announced_twice() {
    let s = TestServer::start().await;
    let (spike, _) = s.pair("spike", "amethyst", "story").await;
    put_place(&s, &spike, "home", 10.0, 10.0, 100.0).await;
    let mut link = s.link(&spike, None).await;
    link.next().await;
    position_at(&s, &spike, 10.0, 20.0, 0.0, now_ms() - 5_000).await;
    position_at(&s, &spike, 10.0, 10.0, 0.0, now_ms() - 4_000).await;
    link.until(|f| matches!(f, ServerFrame::Place(_))).await;
    link.close().await;
    let dir = s.stop().await;
    let s = TestServer::start_in(dir, |_| {}).await;
    let mut link = s.link(&spike, None).await;
    link.next().await;
    position_at(&s, &spike, 10.0, 10.0001, 0.0, now_ms() - 1_000).await;
    while let Some(frame) = link.try_next(std::time::Duration::from_millis(300)).await {
        assert!(!matches!(frame, ServerFrame::Place(_)), "{frame:?}");
    }
    let (_, places) = s.call("GET", "/api/v1/places", Some(&spike), None).await;
    assert_eq!(places["mine"][0]["inside"], true);
}

/// A place the partner makes or deletes reached the other's page only after a reload: now
/// both links hear `places_changed` (nothing of the place in it), and the places read
/// carry the meeting point, so a page need not ask for it alone and log a 404.
#[tokio::test]
async fn a_partners_new_place_is_announced_and_places_carry_the_meeting_point() {
    let s = TestServer::start().await;
    let (spike, amethyst) = s.pair("spike", "amethyst", "story").await;
    let (_, places) = s.call("GET", "/api/v1/places", Some(&spike), None).await;
    assert!(places.get("meeting").is_none(), "{places}");
    let mut link = s.link(&spike, None).await;
    link.until(|f| matches!(f, ServerFrame::Hello { .. })).await;

    put_place(&s, &amethyst, "library", 23.13, 53.77, 300.0).await;
    let frame = link
        .until(|f| matches!(f, ServerFrame::PlacesChanged { .. }))
        .await;
    assert_eq!(
        serde_json::to_value(&frame).unwrap(),
        json!({"type": "places_changed", "who": "amethyst"})
    );
    let (_, places) = s.call("GET", "/api/v1/places", Some(&spike), None).await;
    assert_eq!(places["partner"][0]["name"], "library");
    let (status, _) = s
        .call("DELETE", "/api/v1/places/library", Some(&amethyst), None)
        .await;
    assert_eq!(status, 204);
    link.until(|f| matches!(f, ServerFrame::PlacesChanged { .. }))
        .await;

    s.put_position(&spike, 23.12, 53.66).await;
    s.put_position(&amethyst, 23.13, 53.77).await;
    let (_, places) = s.call("GET", "/api/v1/places", Some(&spike), None).await;
    let (_, meeting) = s
        .call("GET", "/api/v1/bond/meeting", Some(&spike), None)
        .await;
    assert_eq!(places["meeting"]["kind"], "suggested", "{places}");
    assert_eq!(places["meeting"]["you"], meeting["you"]);
}

#[tokio::test]
async fn the_meeting_point_is_halfway_without_speeds_and_hides_itself_beyond_sight() {
    let s = TestServer::start().await;
    let (spike, amethyst) = s.pair("spike", "amethyst", "story").await;
    let (status, problem) = s
        .call("GET", "/api/v1/bond/meeting", Some(&spike), None)
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (404, Some("meeting_unknown"))
    );
    // 30 km apart along the equator.
    let (lat_b, lon_b) = geo::destination(0.0, 0.0, 90.0, 30_000.0);
    s.put_position(&spike, 0.0, 0.0).await;
    s.put_position(&amethyst, lat_b, lon_b).await;
    let (status, m) = s
        .call("GET", "/api/v1/bond/meeting", Some(&spike), None)
        .await;
    assert_eq!(status, 200, "{m}");
    assert_eq!(m["kind"], "suggested");
    assert_eq!(m["by_speed"], false);
    assert_eq!(m["exact"], false);
    // The point would give amethyst away: no coordinates, a rounded way there.
    assert!(m.get("position").is_none(), "{m}");
    assert_eq!(m["you"]["distance_m"], 15_000.0);
    assert_eq!(m["you"]["bearing_deg"], 90.0);
    assert_eq!(m["partner"]["distance_m"], 15_000.0);
    // At a walk (1 m/s) 15 km is 15,000 s, rounded to two figures.
    assert_eq!(m["you"]["eta_s"], 15_000.0);

    // 1.5 km apart: sight is open and the midpoint is shown exactly.
    let (lat_b, lon_b) = geo::destination(0.0, 0.0, 90.0, 1_500.0);
    s.put_position(&amethyst, lat_b, lon_b).await;
    let (_, m) = s
        .call("GET", "/api/v1/bond/meeting", Some(&amethyst), None)
        .await;
    assert_eq!(m["exact"], true);
    let (lat_m, lon_m) = geo::destination(0.0, 0.0, 90.0, 750.0);
    assert!(
        (m["position"]["lat"].as_f64().unwrap() - lat_m).abs() < 1e-9,
        "{m}"
    );
    assert!(
        (m["position"]["lon"].as_f64().unwrap() - lon_m).abs() < 1e-9,
        "{m}"
    );
    assert!((m["you"]["distance_m"].as_f64().unwrap() - 750.0).abs() < 1e-6);
    assert!((m["you"]["bearing_deg"].as_f64().unwrap() - 270.0).abs() < 1e-6);
}

#[tokio::test]
async fn the_faster_partner_covers_more_of_the_way() {
    let s = TestServer::start().await;
    let (spike, amethyst) = s.pair("spike", "amethyst", "story").await;
    let t0 = now_ms() - 120_000;
    // Spike rides north at 5 m/s from the equator; amethyst walks south at 1.25 m/s
    // from 1,900 m further north. After 100 s they are 1,275 m apart (within sight).
    for i in 0..=5 {
        let t = t0 + i * 20_000;
        let (a, b) = geo::destination(0.0, 0.0, 0.0, 100.0 * i as f64);
        position_at(&s, &spike, a, b, 0.0, t).await;
        let (a, b) = geo::destination(0.0, 0.0, 0.0, 1_900.0 - 25.0 * i as f64);
        position_at(&s, &amethyst, a, b, 0.0, t).await;
    }
    let (_, m) = s
        .call("GET", "/api/v1/bond/meeting", Some(&spike), None)
        .await;
    assert_eq!(m["by_speed"], true, "{m}");
    assert_eq!(m["exact"], true);
    // 5 / (5 + 1.25) of the 1,275 m between them: 1,020 m for spike, 255 m for her,
    // both there in 204 s.
    let mine = m["you"]["distance_m"].as_f64().unwrap();
    let hers = m["partner"]["distance_m"].as_f64().unwrap();
    assert!((mine - 1_020.0).abs() < 0.5, "{m}");
    assert!((hers - 255.0).abs() < 0.5, "{m}");
    assert!(
        (m["you"]["eta_s"].as_f64().unwrap() - 204.0).abs() < 0.5,
        "{m}"
    );
    assert!(
        (m["partner"]["eta_s"].as_f64().unwrap() - 204.0).abs() < 0.5,
        "{m}"
    );
}

#[tokio::test]
async fn a_pinned_meeting_point_is_seen_by_both_and_reaching_it_is_news_for_both() {
    let s = TestServer::start().await;
    let (spike, amethyst) = s.pair("spike", "amethyst", "story").await;
    put_place(&s, &spike, "needle", 23.2, 53.7, 100.0).await;
    s.put_position(&spike, 23.12, 53.66).await;
    s.put_position(&amethyst, 23.3, 53.8).await;
    let mut hers = s.link(&amethyst, None).await;
    hers.next().await;
    // Neither a place of someone else nor both a place and a point.
    let (status, problem) = s
        .call(
            "PUT",
            "/api/v1/bond/meeting",
            Some(&amethyst),
            Some(&json!({"place": "needle"})),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (404, Some("place_not_found"))
    );
    let (status, problem) = s
        .call(
            "PUT",
            "/api/v1/bond/meeting",
            Some(&spike),
            Some(&json!({"place": "needle", "lat": 1.0, "lon": 2.0})),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("invalid_pin"))
    );
    let (status, _) = s
        .call(
            "PUT",
            "/api/v1/bond/meeting",
            Some(&spike),
            Some(&json!({"place": "needle"})),
        )
        .await;
    assert_eq!(status, 204);
    let frame = hers
        .until(|f| matches!(f, ServerFrame::Meeting { .. }))
        .await;
    let ServerFrame::Meeting { meeting } = frame else {
        unreachable!()
    };
    assert_eq!(meeting.kind, MeetingKind::Pinned);
    assert_eq!(meeting.name.as_deref(), Some("needle"));
    assert_eq!(meeting.pinned_by.as_deref(), Some("spike"));
    // A pin was shared on purpose: she sees where it is, though spike is beyond sight.
    assert_eq!(meeting.position.map(|p| (p.lat, p.lon)), Some((23.2, 53.7)));
    assert!(!meeting.exact);
    // She walks there: both hear it.
    s.put_position(&amethyst, 23.2, 53.7001).await;
    let frame = hers
        .until(|f| matches!(f, ServerFrame::MeetingReached { .. }))
        .await;
    assert_eq!(
        frame,
        ServerFrame::MeetingReached {
            who: "amethyst".into()
        }
    );
    // The pin (and who reached it) survives a restart.
    hers.close().await;
    let dir = s.stop().await;
    let s = TestServer::start_in(dir, |_| {}).await;
    let (_, m) = s
        .call("GET", "/api/v1/bond/meeting", Some(&spike), None)
        .await;
    assert_eq!(m["kind"], "pinned");
    assert_eq!(m["partner"]["arrived"], true, "{m}");
    assert_eq!(m["you"]["arrived"], false);
    let (status, _) = s
        .call("DELETE", "/api/v1/bond/meeting", Some(&spike), None)
        .await;
    assert_eq!(status, 204);
    let (_, m) = s
        .call("GET", "/api/v1/bond/meeting", Some(&spike), None)
        .await;
    assert_eq!(m["kind"], "suggested");
}

#[tokio::test]
async fn the_journey_exports_as_gpx_and_only_ones_own() {
    let s = TestServer::start().await;
    let (spike, amethyst) = s.pair("spike", "amethyst", "story").await;
    let t0 = now_ms() - 60_000;
    for i in 0..5 {
        position_at(
            &s,
            &spike,
            10.0 + f64::from(i) * 0.001,
            20.0,
            3.0,
            t0 + i64::from(i) * 1_000,
        )
        .await;
    }
    s.put_position(&amethyst, 11.0, 21.0).await;
    let (status, headers, body) = crate::common::raw(
        s.addr,
        "GET",
        "/api/v1/me/journey.gpx",
        Some(&spike),
        None,
        "application/json",
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        headers.contains("content-type: application/gpx+xml"),
        "{headers}"
    );
    assert_eq!(body.matches("<trkpt").count(), 5, "{body}");
    assert!(body.contains("<trkpt lat=\"10.004\" lon=\"20\">"), "{body}");
    assert!(
        !body.contains("lat=\"11\""),
        "the partner's track leaked: {body}"
    );
    let (status, problem) = s
        .call(
            "GET",
            "/api/v1/me/journey.gpx?from=2030-01-01T00:00:00Z&to=2020-01-01T00:00:00Z",
            Some(&spike),
            None,
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("invalid_range"))
    );
}

#[tokio::test]
async fn journeys_are_deleted_after_the_configured_days() {
    let s = TestServer::start_with(|c| c.journey_days = 1.0).await;
    let token = s.citizen("spike").await;
    // Two days ago, and now.
    position_at(&s, &token, 1.0, 1.0, 0.0, now_ms() - 2 * 86_400_000).await;
    position_at(&s, &token, 2.0, 2.0, 0.0, now_ms() - 1_000).await;
    let dir = s.stop().await;
    // The sweep runs at start.
    let s = TestServer::start_in(dir, |c| c.journey_days = 1.0).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (_, _, body) = crate::common::raw(
            s.addr,
            "GET",
            "/api/v1/me/journey.gpx",
            Some(&token),
            None,
            "application/json",
        )
        .await;
        if body.matches("<trkpt").count() == 1 {
            assert!(body.contains("lat=\"2\""), "{body}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not deleted: {body}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_journeys_chart_is_the_pull_as_shown_and_the_track_only_ones_own() {
    let s = TestServer::start().await;
    let (spike, amethyst) = s.pair("spike", "amethyst", "story").await;
    let t0 = now_ms();
    let (lat, lon) = (51.4321, -0.1234);
    position_at(&s, &amethyst, lat, lon, 5.0, t0).await;
    // Spike walks toward her: 12,345 m (coarse: 12,000), 3,456 m (3,500), then 789 m,
    // within sight (exact).
    let legs = [12_345.0, 3_456.0, 789.0];
    for (i, d) in legs.into_iter().enumerate() {
        let (la, lo) = geo::destination(lat, lon, 30.0, d);
        position_at(&s, &spike, la, lo, 5.0, t0 + 1_000 * (i as i64 + 1)).await;
    }
    let (status, journey) = s
        .call("GET", "/api/v1/me/journey", Some(&spike), None)
        .await;
    assert_eq!(status, 200, "{journey}");
    let shown: Vec<(f64, bool)> = journey["distances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["distance_m"].as_f64().unwrap(),
                d["exact"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(shown.len(), 3, "{journey}");
    assert_eq!(shown[0], (12_000.0, false));
    assert_eq!(shown[1], (3_500.0, false));
    assert!(shown[2].1 && (shown[2].0 - 789.0).abs() < 0.01, "{journey}");
    let opened: Vec<&str> = journey["openings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["tier"].as_str().unwrap())
        .collect();
    assert_eq!(
        opened,
        [
            "feelings", "voice", "thoughts", "images", "glimpse", "sight"
        ]
    );
    // His own three fixes; nothing of hers but the distances.
    assert_eq!(journey["fixes"].as_array().unwrap().len(), 3, "{journey}");
    assert!(!journey.to_string().contains("51.4321"), "{journey}");
    // Her chart is the same chart: one pull, two sides.
    let (_, hers) = s
        .call("GET", "/api/v1/me/journey", Some(&amethyst), None)
        .await;
    assert_eq!(hers["distances"], journey["distances"]);
    assert_eq!(hers["fixes"].as_array().unwrap().len(), 1);
    // Without a bond: the track alone.
    let alone = s.citizen("rarity").await;
    position_at(&s, &alone, 1.0, 2.0, 0.0, now_ms()).await;
    let (_, mine) = s
        .call("GET", "/api/v1/me/journey", Some(&alone), None)
        .await;
    assert_eq!(mine["fixes"].as_array().unwrap().len(), 1);
    assert_eq!(mine["distances"], json!([]));
    let (status, problem) = s
        .call(
            "GET",
            "/api/v1/me/journey?from=2030-01-01T00:00:00Z&to=2020-01-01T00:00:00Z",
            Some(&spike),
            None,
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("invalid_range"))
    );
}
