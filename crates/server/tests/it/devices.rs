//! The phone in a pocket (issue 17, item 3): the OwnTracks app posting with a device
//! password of its own beside the web client on one account, the freshest fix winning.

use haurach_proto::{ClientFrame, PositionUpdate, ServerFrame};
use serde_json::{Value, json};

use crate::common::TestServer;
use crate::owntracks::{location, now_s, post};

async fn make_device(s: &TestServer, token: &str, name: &str) -> (u16, Value) {
    s.call(
        "POST",
        "/api/v1/me/devices",
        Some(token),
        Some(&json!({"name": name})),
    )
    .await
}

#[tokio::test]
async fn a_device_password_posts_positions_until_revoked_and_does_nothing_else() {
    let s = TestServer::start().await;
    let (spike, _amethyst) = s.pair("spike", "amethyst", "story").await;
    let (status, made) = make_device(&s, &spike, "phone").await;
    assert_eq!(status, 201, "{made}");
    let password = made["password"].as_str().unwrap().to_owned();
    assert!(
        password.starts_with("hdp_") && password.len() > 40,
        "{made}"
    );

    // The app posts with the account's name and the device's password.
    let phone = Some(("spike", password.as_str()));
    let (status, _, answer) = post(&s, phone, &location(23.12, 53.60, now_s())).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer[0]["name"], "amethyst", "{answer}");
    let (_, me) = s.call("GET", "/api/v1/me", Some(&spike), None).await;
    assert_eq!(me["position"]["lat"], 23.12, "{me}");
    // Under the name of nobody else.
    let (status, _, _) = post(&s, Some(("amethyst", &password)), b"").await;
    assert_eq!(status, 401);

    // It cannot log in, nor stand for a session token.
    let creds = json!({"name": "spike", "password": password});
    let (status, body) = s.call("POST", "/api/v1/sessions", None, Some(&creds)).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
    let (status, _) = s.call("GET", "/api/v1/me", Some(&password), None).await;
    assert_eq!(status, 401);

    // Listed without its password; a second device of the same name is refused.
    let (status, list) = s
        .call("GET", "/api/v1/me/devices", Some(&spike), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["name"], "phone");
    assert!(list[0].get("password").is_none(), "{list}");
    let (status, body) = make_device(&s, &spike, "phone").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("device_exists"))
    );
    let (status, body) = make_device(&s, &spike, "my phone!").await;
    assert_eq!((status, body["code"].as_str()), (422, Some("invalid_name")));

    // Revoked: refused from the very next post, while the account's password still works.
    let (status, _) = s
        .call("DELETE", "/api/v1/me/devices/phone", Some(&spike), None)
        .await;
    assert_eq!(status, 204);
    let (status, headers, body) = post(&s, phone, b"").await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
    assert!(headers.contains("content-type: application/problem+json"));
    let (status, _, _) = post(&s, Some(("spike", "purple-dragon")), b"").await;
    assert_eq!(status, 200);
    let (status, body) = s
        .call("DELETE", "/api/v1/me/devices/phone", Some(&spike), None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("device_not_found"))
    );
}

/// Amethyst's pull toward Spike, as she reads it.
async fn her_pull(s: &TestServer, token: &str) -> (f64, f64) {
    let (_, bond) = s.call("GET", "/api/v1/bond", Some(token), None).await;
    let pull = &bond["pull"];
    (
        pull["bearing_deg"].as_f64().unwrap(),
        pull["distance_m"].as_f64().unwrap(),
    )
}

#[tokio::test]
async fn the_freshest_fix_wins_between_the_web_client_and_the_app() {
    let s = TestServer::start().await;
    let (spike, amethyst) = s.pair("spike", "amethyst", "story").await;
    s.put_position(&amethyst, 23.13, 53.77).await;
    let mut hers = s.link(&amethyst, None).await;
    hers.next().await;
    // Spike's web client moves him over the link, with its fix's own time.
    let mut web = s.link(&spike, None).await;
    web.next().await;
    let taken = time::OffsetDateTime::now_utc() - time::Duration::seconds(5);
    web.send(&ClientFrame::Position(PositionUpdate {
        lat: 23.12,
        lon: 53.60,
        accuracy_m: Some(10.0),
        at: Some(taken),
        by_hand: false,
        battery: None,
    }))
    .await;
    hers.until(|f| matches!(f, ServerFrame::Pull { .. })).await;
    let from_web = her_pull(&s, &amethyst).await;

    // The app's post of a fix taken a minute before, delayed in the phone's queue, moves
    // nothing: the partner's pull stays where the web client put him.
    let (status, _, _) = post(
        &s,
        Some(("spike", "purple-dragon")),
        &location(22.0, 52.0, now_s() - 60),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(her_pull(&s, &amethyst).await, from_web);
    let (_, me) = s.call("GET", "/api/v1/me", Some(&spike), None).await;
    assert_eq!(me["position"]["lat"], 23.12, "{me}");

    // The web client sending again the fix it holds (a page waking up) does not move him
    // back past a newer fix from the app either.
    let (status, _, _) = post(
        &s,
        Some(("spike", "purple-dragon")),
        &location(23.50, 54.00, now_s()),
    )
    .await;
    assert_eq!(status, 200);
    let from_app = her_pull(&s, &amethyst).await;
    assert_ne!(from_app, from_web, "the newer fix from the app wins");
    web.send(&ClientFrame::Position(PositionUpdate {
        lat: 23.12,
        lon: 53.60,
        accuracy_m: Some(10.0),
        at: Some(taken),
        by_hand: false,
        battery: None,
    }))
    .await;
    // A bad position after it is answered with an error: the link has handled the one
    // before it by then.
    web.send_text(r#"{"type":"position","lat":999,"lon":0}"#)
        .await;
    web.until(|f| matches!(f, ServerFrame::Error { .. })).await;
    let (_, me) = s.call("GET", "/api/v1/me", Some(&spike), None).await;
    assert_eq!(me["position"]["lat"], 23.50, "{me}");
    assert_eq!(her_pull(&s, &amethyst).await, from_app);
}
