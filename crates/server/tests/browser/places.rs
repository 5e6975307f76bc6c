//! Places, the meeting point and the journey in the web client; and a partner who carries
//! only the OwnTracks app, seen from the web client and seeing it back.

use std::io::{Read, Write};
use std::net::TcpStream;

use base64::Engine;
use serde_json::{Value, json};

use crate::harness::{Browser, Chromedriver, PASSWORD, Pair, Server, eventually, serial};

/// One HTTP exchange as a phone or a script makes it: status and JSON body.
fn http(server: &Server, method: &str, path: &str, auth: Option<&str>, body: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nx-limit-d: phone\r\n",
        body.len()
    );
    if let Some(auth) = auth {
        req.push_str(&format!("authorization: {auth}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).unwrap();
    let mut res = String::new();
    stream.read_to_string(&mut res).unwrap();
    let (head, rest) = res.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if head.to_lowercase().contains("transfer-encoding: chunked") {
        let (_, chunk) = rest.split_once("\r\n").unwrap();
        chunk.rsplit_once("\r\n0").map_or(chunk, |c| c.0).to_owned()
    } else {
        rest.to_owned()
    };
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn places_news_the_meeting_point_and_the_journey_in_the_page() {
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("places").await;
    // 1.67 km apart on the equator: within sight range (2 km) of the story profile.
    let pair = Pair::bond(&cd, &server, "story", (0.0, 10.0), (0.0, 10.015), false).await;
    let (spike, amethyst) = (&pair.spike, &pair.amethyst);
    spike
        .wait_text("#pull-text", "Amethyst is east, 1.7 km")
        .await;

    // The meeting point: halfway (neither has moved), shown exactly within sight.
    spike.wait_text("#meeting-text", "Meet halfway").await;
    spike.wait_text("#meeting-legs", "You: 830 m east").await;

    // Amethyst names the place where she stands.
    amethyst.fill("#place-name", "home").await;
    amethyst.click("#place-form button[type=submit]").await;
    amethyst.wait_text("#places-mine", "home").await;
    amethyst.wait_text("#places-mine", "You are here").await;
    // Spike's page shows it at once, without a reload.
    spike.wait_text("#places-partner", "home").await;
    // His page read the meeting point with the places, never alone (where a city
    // without one answered 404, logged on every load).
    let asked = spike
        .js(
            "return performance.getEntriesByType('resource')
               .filter((e) => e.name.includes('/api/v1/bond/meeting')).length",
            vec![],
        )
        .await;
    assert_eq!(asked, json!(0));

    // She walks off and comes back: Spike hears both, by name.
    amethyst.set_position(0.0, 10.02).await;
    spike.wait_text("#places-news", "Amethyst left home").await;
    amethyst.set_position(0.0, 10.015).await;
    spike
        .wait_text("#places-news", "Amethyst arrived at home")
        .await;
    // Within sight, Spike sees where her place is.
    spike.wait_text("#places-partner", "home").await;
    spike.wait_text("#places-partner", "Amethyst is here").await;
    spike
        .wait_text("#places-partner", "0.00000° N, 10.01500° E")
        .await;

    // Amethyst pins her home; both see it. (Her quick walk stretched the bond: its
    // banner sits on top of the page, so the button is brought to the middle first.)
    amethyst
        .js(
            "document.querySelector('#meeting-pin').scrollIntoView({block: 'center'})",
            vec![],
        )
        .await;
    amethyst.click("#meeting-pin").await;
    spike
        .wait_text("#meeting-text", "Meet at home (pinned by Amethyst)")
        .await;
    amethyst.wait_text("#meeting-legs", "You: there.").await;
    spike.wait_shown("#meeting-unpin").await;

    // The journey: the distances Spike's page was told, drawn.
    spike.wait_shown("#journey").await;
    let label = eventually("the journey's label", async || {
        let label = spike
            .js(
                "return document.querySelector('#journey').getAttribute('aria-label') ?? ''",
                vec![],
            )
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned();
        (
            label
                .starts_with("The distance to Amethyst since")
                .then(|| label.clone()),
            label,
        )
    })
    .await;
    assert!(label.contains("now 1.7 km"), "{label}");
    // Her own journey downloads as GPX (what the page fetches, checked in the page).
    let gpx = amethyst
        .js(
            "const r = await fetch('/api/v1/me/journey.gpx', {headers: {Authorization: \
             'Bearer ' + localStorage.getItem('haurach.token')}}); return await r.text()",
            vec![],
        )
        .await;
    let gpx = gpx.as_str().unwrap_or_default();
    assert!(gpx.contains("<trkpt lat=\"0\" lon=\"10.015\">"), "{gpx}");
    assert!(
        !gpx.contains("lon=\"10\""),
        "spike's track is not hers: {gpx}"
    );
    amethyst
        .js(
            "document.querySelector('#journey-gpx').scrollIntoView({block: 'center'})",
            vec![],
        )
        .await;
    amethyst.click("#journey-gpx").await;
    assert!(!amethyst.shown("#journey-error").await);
    spike.shot("places-spike").await;
    amethyst.shot("places-amethyst").await;
    pair.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_with_only_the_owntracks_app_and_one_with_the_web_client_see_each_other() {
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("owntracks").await;
    let profiles = tempfile::tempdir().unwrap();
    let amethyst = Browser::open(
        &cd,
        &server,
        "Amethyst",
        &profiles.path().join("amethyst"),
        390,
        (46.0500, 14.5000),
    )
    .await;
    amethyst.register().await;
    amethyst.click("#invite-make").await;
    let code = eventually("the invite code", async || {
        let code = amethyst.text("#invite-code").await;
        ((code.len() == 9).then(|| code.clone()), code)
    })
    .await;

    // Spike registers and bonds with a script; from then on only his phone speaks.
    let creds = json!({"name": "spike", "password": PASSWORD}).to_string();
    assert_eq!(
        http(&server, "POST", "/api/v1/accounts", None, &creds).0,
        201
    );
    let (_, session) = http(&server, "POST", "/api/v1/sessions", None, &creds);
    let bearer = format!("Bearer {}", session["token"].as_str().unwrap());
    let accept = json!({"code": code, "profile": "city"}).to_string();
    assert_eq!(
        http(&server, "POST", "/api/v1/bond", Some(&bearer), &accept).0,
        201
    );
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("spike:{PASSWORD}"))
    );
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let waypoints = json!({"_type": "waypoints", "waypoints": [
        {"_type": "waypoint", "desc": "Work", "lat": 46.0520, "lon": 14.5050, "rad": 80, "tst": now - 3600}
    ]});
    assert_eq!(
        http(
            &server,
            "POST",
            "/owntracks",
            Some(&basic),
            &waypoints.to_string()
        )
        .0,
        200
    );
    let location = |lat: f64, lon: f64, tst: i64| {
        json!({"_type": "location", "lat": lat, "lon": lon, "acc": 8, "tid": "sp", "tst": tst})
            .to_string()
    };
    http(
        &server,
        "POST",
        "/owntracks",
        Some(&basic),
        &location(46.0540, 14.5100, now - 60),
    );
    amethyst.wait_shown("#screen-link").await;
    amethyst.wait_text("#pull-text", "spike is").await;
    let (status, answer) = http(
        &server,
        "POST",
        "/owntracks",
        Some(&basic),
        &location(46.0520, 14.5050, now - 30),
    );
    assert_eq!(status, 200);
    // The web client hears him arrive at work, sees his place, and where to meet.
    amethyst
        .wait_text("#places-news", "spike arrived at Work")
        .await;
    amethyst.wait_text("#places-partner", "Work").await;
    amethyst.wait_text("#meeting-text", "Meet").await;
    // His phone shows her as a friend: a card and a location (city profile: 430 m apart
    // is beyond its 100 m sight, so a point on the rounded pull, not where she is).
    assert_eq!(
        answer[0],
        json!({"_type": "card", "tid": "AM", "name": "Amethyst"})
    );
    assert_eq!(answer[1]["_type"], "location");
    assert_eq!(answer[1]["tid"], "AM");
    assert_ne!(
        (answer[1]["lat"].as_f64(), answer[1]["lon"].as_f64()),
        (Some(46.05), Some(14.5)),
        "{answer}"
    );
    amethyst.shot("owntracks-partner").await;
    amethyst.quit().await;
}
