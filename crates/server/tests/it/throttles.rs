//! Guessing and floods, as an attacker meets them over HTTP: hardening finding 7 ("ten
//! wrong passwords a minute lock the real owner out (429 even with the right password),
//! and there is no per-address limit; user names can be told apart by timing (15.3 ms
//! for an existing name, 0.8 ms for an unknown one); registration (93/s) and invite-code
//! guessing (1,038/s) are not throttled").
//!
//! The server is told that 127.0.0.1 is a proxy, so each request can come "from" the
//! address its `X-Forwarded-For` names, as it would behind nginx.

use serde_json::{Value, json};

use crate::common::{TestServer, raw_with};

/// A JSON request from `from` (through the trusted proxy at 127.0.0.1): status, lowercase
/// headers, body.
async fn from(
    s: &TestServer,
    from: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> (u16, String, Value) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("x-forwarded-for", from)];
    if let Some(auth) = auth.as_deref() {
        headers.push(("authorization", auth));
    }
    let (status, head, body) = raw_with(
        s.addr,
        method,
        path,
        &headers,
        Some(&body.to_string()),
        "application/json",
    )
    .await;
    (
        status,
        head,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

async fn behind_proxy() -> TestServer {
    TestServer::start_with(|c| c.trusted_proxies = vec!["127.0.0.1".into()]).await
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} in /metrics"))
}

#[tokio::test]
async fn a_guesser_is_held_but_the_owner_logs_in_from_elsewhere() {
    let s = behind_proxy().await;
    s.citizen("spike").await;
    let wrong = json!({"name": "spike", "password": "not-his-password"});
    let right = json!({"name": "spike", "password": "purple-dragon"});
    let guesser = "198.51.100.66";
    let mut held = None;
    for attempt in 1..=20 {
        let (status, head, body) =
            from(&s, guesser, "POST", "/api/v1/sessions", None, &wrong).await;
        if status == 429 {
            assert_eq!(body["code"], "too_many_attempts", "{body}");
            assert!(head.contains("retry-after: "), "{head}");
            held = Some(attempt);
            break;
        }
        assert_eq!(status, 401, "{body}");
    }
    let held = held.expect("the guesser is held within twenty tries");
    assert!(held <= 7, "held only at attempt {held}");
    // The guesser's next try waits, right password or not.
    let (status, _, _) = from(&s, guesser, "POST", "/api/v1/sessions", None, &right).await;
    assert_eq!(status, 429);
    // Spike, from his own address, is not locked out.
    let (status, _, body) = from(&s, "203.0.113.5", "POST", "/api/v1/sessions", None, &right).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn without_a_trusted_proxy_a_forwarded_address_changes_nothing() {
    let s = TestServer::start().await;
    s.citizen("spike").await;
    let wrong = json!({"name": "spike", "password": "not-his-password"});
    let mut statuses = Vec::new();
    for i in 0..10 {
        // A new made-up address each time: ignored, all come from 127.0.0.1.
        let ip = format!("198.51.100.{i}");
        let (status, _, _) = from(&s, &ip, "POST", "/api/v1/sessions", None, &wrong).await;
        statuses.push(status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}

#[tokio::test]
async fn an_unknown_name_costs_a_password_check_like_a_known_one() {
    let s = TestServer::start().await;
    s.citizen("spike").await;
    let checks = || async {
        let (_, _, body) = crate::common::raw(s.addr, "GET", "/metrics", None, None, "").await;
        metric(&body, "haurach_password_checks_total")
    };
    let before = checks().await;
    let nobody = json!({"name": "nobody-here", "password": "purple-dragon"});
    let (status, _) = s
        .call("POST", "/api/v1/sessions", None, Some(&nobody))
        .await;
    assert_eq!(status, 401);
    assert_eq!(
        checks().await,
        before + 1,
        "the unknown name was answered without argon2id"
    );
}

#[tokio::test]
async fn registrations_from_one_address_run_out_but_not_for_others() {
    let s = TestServer::start_with(|c| {
        c.trusted_proxies = vec!["127.0.0.1".into()];
        c.registrations_per_hour = 3;
    })
    .await;
    let reg = |n: &str| json!({"name": n, "password": "purple-dragon"});
    for n in ["a1", "a2", "a3"] {
        let (status, _, body) =
            from(&s, "192.0.2.1", "POST", "/api/v1/accounts", None, &reg(n)).await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, head, body) = from(
        &s,
        "192.0.2.1",
        "POST",
        "/api/v1/accounts",
        None,
        &reg("a4"),
    )
    .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["code"], "too_many_registrations");
    assert!(head.contains("retry-after: "), "{head}");
    let (status, _, body) = from(
        &s,
        "192.0.2.2",
        "POST",
        "/api/v1/accounts",
        None,
        &reg("b1"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn invite_codes_cannot_be_guessed_quickly() {
    let s = TestServer::start().await;
    let token = s.citizen("spike").await;
    let mut statuses = Vec::new();
    for i in 0..15 {
        let guess = json!({"code": format!("ABCD{i:04}")});
        let (status, _) = s
            .call("POST", "/api/v1/bond", Some(&token), Some(&guess))
            .await;
        statuses.push(status);
    }
    let first_429 = statuses.iter().position(|&s| s == 429);
    assert_eq!(first_429, Some(10), "{statuses:?}");
}
