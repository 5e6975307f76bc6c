//! The authorization matrix: every route × every kind of caller, with what each must
//! get. The routes come from the served OpenAPI document (built from the route table),
//! so a route without a row here fails the test.
//!
//! The callers: nobody (no token), a logged-out token, an applicant the tower has not
//! answered, a declined applicant, a citizen outside the bond, the partner (Spike, whose
//! bond with Amethyst holds the objects asked for) and the tower (Celestia). The objects
//! (a picture, a letter with a parcel, a journal photo) are Amethyst's, shared with Spike.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::common::{TestServer, raw, raw_with};

/// What a caller must get.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Must {
    /// 401.
    Unauth,
    /// 403 `awaiting_tower`.
    Waiting,
    /// 403 `application_declined`.
    Declined,
    /// 403 `tower_only`.
    TowerOnly,
    /// 404: the object is not theirs to know of.
    Hidden,
    /// Past every check of who they are (any answer but those above and 5xx).
    Through,
    /// Past the checks, and the object is found (not 404).
    Sees,
}

use Must::*;

/// Nobody, logged out, applicant, declined, outsider, partner, tower.
const ROLES: [&str; 7] = [
    "nobody",
    "logged out",
    "applicant",
    "declined",
    "outsider",
    "partner",
    "tower",
];

const PUBLIC: [Must; 7] = [Through; 7];
const CITIZEN: [Must; 7] = [Unauth, Unauth, Waiting, Declined, Through, Through, Through];
const VISITOR: [Must; 7] = [Unauth, Unauth, Through, Through, Through, Through, Through];
const TOWER: [Must; 7] = [
    Unauth, Unauth, Waiting, Declined, TowerOnly, TowerOnly, Through,
];
/// Amethyst's object in her bond with Spike.
const BONDS: [Must; 7] = [Unauth, Unauth, Waiting, Declined, Hidden, Sees, Hidden];

/// Every route's row: method, path template, what each caller must get.
fn rows() -> Vec<(&'static str, &'static str, [Must; 7])> {
    vec![
        // Each answered in its own test below (an upgrade; Basic auth).
        ("GET", "/api/v1/link", CITIZEN),
        ("POST", "/owntracks", CITIZEN),
        ("GET", "/healthz", PUBLIC),
        ("GET", "/metrics", PUBLIC),
        ("GET", "/api/v1/openapi.json", PUBLIC),
        ("POST", "/api/v1/accounts", PUBLIC),
        ("POST", "/api/v1/sessions", PUBLIC),
        ("GET", "/api/v1/me", CITIZEN),
        ("PUT", "/api/v1/me/position", CITIZEN),
        ("POST", "/api/v1/bond/invites", CITIZEN),
        ("GET", "/api/v1/bond", CITIZEN),
        ("POST", "/api/v1/bond", CITIZEN),
        ("GET", "/api/v1/bond/messages", CITIZEN),
        ("POST", "/api/v1/bond/messages", CITIZEN),
        ("POST", "/api/v1/bond/alarms/{seq}/ack", CITIZEN),
        ("POST", "/api/v1/bond/locate", CITIZEN),
        // A private bond.
        ("POST", "/api/v1/bond/private-invites", CITIZEN),
        ("GET", "/api/v1/bond/private", CITIZEN),
        ("POST", "/api/v1/bond/private", CITIZEN),
        ("PUT", "/api/v1/bond/private/confirmation", CITIZEN),
        ("PUT", "/api/v1/me/tokens", CITIZEN),
        ("PUT", "/api/v1/me/sealed-fix", CITIZEN),
        ("GET", "/api/v1/places", CITIZEN),
        ("PUT", "/api/v1/places/{name}", CITIZEN),
        ("DELETE", "/api/v1/places/{name}", CITIZEN),
        ("GET", "/api/v1/bond/meeting", CITIZEN),
        ("PUT", "/api/v1/bond/meeting", CITIZEN),
        ("DELETE", "/api/v1/bond/meeting", CITIZEN),
        ("GET", "/api/v1/me/journey.gpx", CITIZEN),
        ("GET", "/api/v1/me/journey", CITIZEN),
        ("GET", "/api/v1/me/export", CITIZEN),
        ("GET", "/api/v1/bond/images", CITIZEN),
        ("POST", "/api/v1/bond/images", CITIZEN),
        ("POST", "/api/v1/bond/images/sealed", CITIZEN),
        ("GET", "/api/v1/bond/images/{id}/picture", BONDS),
        ("GET", "/api/v1/bond/images/{id}/original", BONDS),
        ("GET", "/api/v1/me/camera", CITIZEN),
        ("PUT", "/api/v1/me/camera", CITIZEN),
        ("GET", "/api/v1/me/pause", CITIZEN),
        ("PUT", "/api/v1/me/pause", CITIZEN),
        ("DELETE", "/api/v1/me/pause", CITIZEN),
        ("GET", "/api/v1/me/memories", CITIZEN),
        ("POST", "/api/v1/me/memories", CITIZEN),
        ("POST", "/api/v1/me/memories/photos", CITIZEN),
        ("POST", "/api/v1/me/memories/photos/sealed", CITIZEN),
        ("GET", "/api/v1/bond/memories", CITIZEN),
        ("GET", "/api/v1/memories/{id}/photo", BONDS),
        ("GET", "/api/v1/gate", PUBLIC),
        ("GET", "/api/v1/gate/me", VISITOR),
        ("GET", "/api/v1/gate/queue", TOWER),
        ("POST", "/api/v1/gate/applications/{name}/decision", TOWER),
        ("GET", "/api/v1/gate/register", TOWER),
        ("GET", "/api/v1/gate/register.csv", TOWER),
        ("POST", "/api/v1/gate/invites", CITIZEN),
        ("POST", "/api/v1/parcels", CITIZEN),
        ("GET", "/api/v1/letters", CITIZEN),
        ("POST", "/api/v1/letters", CITIZEN),
        ("GET", "/api/v1/letters/{id}", BONDS),
        ("POST", "/api/v1/letters/{id}/read", BONDS),
        ("GET", "/api/v1/letters/{id}/parcels/{index}", BONDS),
        ("GET", "/api/v1/letters/threads/{id}", BONDS),
        // After the others: the partner hands the letter back.
        ("POST", "/api/v1/letters/{id}/return", BONDS),
        ("GET", "/api/v1/summons/allowed", CITIZEN),
        ("PUT", "/api/v1/summons/allowed/{name}", CITIZEN),
        ("DELETE", "/api/v1/summons/allowed/{name}", CITIZEN),
        ("GET", "/api/v1/summons", CITIZEN),
        ("POST", "/api/v1/summons", CITIZEN),
        ("GET", "/api/v1/summons/{id}", CITIZEN),
        ("POST", "/api/v1/summons/{id}/accept", CITIZEN),
        ("POST", "/api/v1/summons/{id}/decline", CITIZEN),
        ("POST", "/api/v1/summons/{id}/end", CITIZEN),
        ("GET", "/api/v1/push/key", CITIZEN),
        ("POST", "/api/v1/push/subscriptions", CITIZEN),
        ("DELETE", "/api/v1/push/subscriptions", CITIZEN),
        ("GET", "/api/v1/me/devices", CITIZEN),
        ("POST", "/api/v1/me/devices", CITIZEN),
        ("DELETE", "/api/v1/me/devices/{name}", CITIZEN),
        // The tower's tools on Amethyst, who is none of the callers: her sessions end.
        ("POST", "/api/v1/tower/towers", TOWER),
        ("GET", "/api/v1/tower/people/{name}/sessions", TOWER),
        ("GET", "/api/v1/tower/people/{name}/export", TOWER),
        ("DELETE", "/api/v1/tower/people/{name}/sessions/{id}", TOWER),
        ("PUT", "/api/v1/tower/people/{name}/password", TOWER),
        ("DELETE", "/api/v1/tower/people/{name}/sessions", TOWER),
        // Then the tower removes Amethyst: her bond with Spike ends with her.
        ("DELETE", "/api/v1/tower/people/{name}", TOWER),
        // Near the end: the partner ends the bond.
        ("DELETE", "/api/v1/bond", CITIZEN),
        // Last: it logs the caller's token out.
        ("DELETE", "/api/v1/sessions/current", VISITOR),
    ]
}

/// Routes whose callers are asked in [`the_link_and_owntracks_are_closed_like_every_route`].
const OWN_TESTS: [&str; 2] = ["/api/v1/link", "/owntracks"];

struct City {
    s: TestServer,
    /// Tokens by role (none for nobody).
    tokens: [Option<String>; 7],
    picture: String,
    letter: String,
    memory: String,
}

async fn post_bytes(s: &TestServer, token: &str, path: &str, bytes: &[u8], kind: &str) -> Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: t\r\nconnection: close\r\nauthorization: Bearer {token}\r\n\
         content-type: {kind}\r\ncontent-length: {}\r\n\r\n",
        bytes.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut res = Vec::new();
    stream.read_to_end(&mut res).await.unwrap();
    let split = res.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status = String::from_utf8_lossy(&res[9..12]).to_string();
    let body: Value = serde_json::from_slice(&res[split + 4..]).unwrap_or(Value::Null);
    assert!(status.starts_with('2'), "{path}: {status} {body}");
    body
}

async fn city() -> City {
    let s = TestServer::start_with(|c| c.gate = haurach_proto::GateMode::Application).await;
    let register =
        |name: &str| json!({"name": name, "password": "purple-dragon", "book": {"name": name}});
    let login = async |name: &str| {
        let creds = json!({"name": name, "password": "purple-dragon"});
        let (status, body) = s.call("POST", "/api/v1/sessions", None, Some(&creds)).await;
        assert_eq!(status, 200, "login {name}: {body}");
        body["token"].as_str().unwrap().to_owned()
    };
    for name in [
        "celestia",
        "spike",
        "amethyst",
        "trixie",
        "applejack",
        "discord",
    ] {
        let (status, body) = s
            .call("POST", "/api/v1/accounts", None, Some(&register(name)))
            .await;
        assert!(status == 201 || status == 202, "{name}: {body}");
    }
    let tower = login("celestia").await;
    for (name, decision) in [
        ("spike", "approved"),
        ("amethyst", "approved"),
        ("trixie", "approved"),
        ("discord", "declined"),
    ] {
        let (status, body) = s
            .call(
                "POST",
                &format!("/api/v1/gate/applications/{name}/decision"),
                Some(&tower),
                Some(&json!({"decision": decision, "answer": "so be it"})),
            )
            .await;
        assert_eq!(status, 200, "{name}: {body}");
    }
    let (spike, amethyst) = (login("spike").await, login("amethyst").await);
    let gone = login("spike").await;
    let (status, _) = s
        .call("DELETE", "/api/v1/sessions/current", Some(&gone), None)
        .await;
    assert_eq!(status, 204);

    // The bond, both in one place, so every tier is open.
    let (_, invite) = s
        .call("POST", "/api/v1/bond/invites", Some(&amethyst), None)
        .await;
    let accept = json!({"code": invite["code"], "profile": "open"});
    let (status, bond) = s
        .call("POST", "/api/v1/bond", Some(&spike), Some(&accept))
        .await;
    assert_eq!(status, 201, "{bond}");
    s.put_position(&amethyst, 51.5, -0.12).await;
    s.put_position(&spike, 51.5, -0.12).await;

    const PHOTO: &[u8] = include_bytes!("../../../picture/tests/gps-photo.jpg");
    let picture = post_bytes(
        &s,
        &amethyst,
        "/api/v1/bond/images?id=pic",
        PHOTO,
        "image/jpeg",
    )
    .await;
    let memory = post_bytes(
        &s,
        &amethyst,
        "/api/v1/me/memories/photos?id=mem",
        PHOTO,
        "image/jpeg",
    )
    .await;
    // Open the journals to the bond: both ask while together.
    s.call("GET", "/api/v1/bond/memories", Some(&spike), None)
        .await;
    let parcel = post_bytes(
        &s,
        &amethyst,
        "/api/v1/parcels",
        b"a box",
        "application/octet-stream",
    )
    .await;
    let letter = json!({"to": "spike", "body": "for you", "id": "l1",
                        "parcels": [{"name": "box.bin", "hash": parcel["hash"]}]});
    let (status, letter) = s
        .call("POST", "/api/v1/letters", Some(&amethyst), Some(&letter))
        .await;
    assert_eq!(status, 201, "{letter}");
    let letter = letter["id"].as_str().unwrap().to_owned();
    let (status, _) = s
        .call(
            "POST",
            &format!("/api/v1/letters/{letter}/read"),
            Some(&spike),
            None,
        )
        .await;
    assert_eq!(status, 200);

    let tokens = [
        None,
        Some(gone),
        Some(login("applejack").await),
        Some(login("discord").await),
        Some(login("trixie").await),
        Some(spike),
        Some(tower),
    ];
    City {
        tokens,
        picture: picture["id"].as_str().unwrap().to_owned(),
        memory: memory["id"].as_str().unwrap().to_owned(),
        letter,
        s,
    }
}

/// The path of a row's template with the city's objects in it.
fn fill(template: &str, c: &City) -> String {
    let id = if template.contains("/images/") {
        &c.picture
    } else if template.contains("/memories/") {
        &c.memory
    } else if template.contains("/letters/") {
        &c.letter
    } else if template.contains("/sessions/") {
        // A session's id as the list shows it (none of Amethyst's: the tower is told
        // there is no such session, past every check).
        "0123456789abcdef"
    } else {
        "0190a0b0-0000-7000-8000-000000000000"
    };
    template
        .replace("{id}", id)
        .replace("{seq}", "1")
        .replace("{index}", "0")
        .replace("{name}", "amethyst")
}

fn verdict(must: Must, status: u16, code: &str) -> bool {
    let checked = matches!(
        (status, code),
        (401, _)
            | (
                403,
                "awaiting_tower" | "application_declined" | "tower_only"
            )
    );
    match must {
        Unauth => status == 401,
        Waiting => (status, code) == (403, "awaiting_tower"),
        Declined => (status, code) == (403, "application_declined"),
        TowerOnly => (status, code) == (403, "tower_only"),
        Hidden => status == 404,
        Through => !checked && status < 500,
        Sees => !checked && status < 500 && status != 404,
    }
}

/// Hardening, part 3: "the authorization matrix as a table-driven test: every route ×
/// {no token, revoked, applicant, declined, citizen outside the bond, partner, tower}".
#[tokio::test]
async fn every_route_answers_every_kind_of_caller_as_it_must() {
    let c = city().await;
    // Every route of the document has a row, and every row a route.
    let (_, _, doc) = raw(c.s.addr, "GET", "/api/v1/openapi.json", None, None, "").await;
    let doc: Value = serde_json::from_str(&doc).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let rows = rows();
    let listed: BTreeSet<(String, String)> = rows
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    let missing: Vec<_> = documented.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "routes without a row in the matrix: {missing:?}"
    );
    let stale: Vec<_> = listed.difference(&documented).collect();
    assert!(
        stale.is_empty(),
        "rows for routes that do not exist: {stale:?}"
    );

    let mut wrong = Vec::new();
    let mut cells = 0;
    for (method, template, musts) in &rows {
        if OWN_TESTS.contains(template) {
            continue;
        }
        let path = fill(template, &c);
        for (role, must) in musts.iter().enumerate() {
            let auth = c.tokens[role].as_ref().map(|t| format!("Bearer {t}"));
            let headers: Vec<(&str, &str)> = auth
                .as_deref()
                .map(|a| ("authorization", a))
                .into_iter()
                .collect();
            let body = matches!(*method, "POST" | "PUT").then_some("{}");
            let (status, _, text) =
                raw_with(c.s.addr, method, &path, &headers, body, "application/json").await;
            let code = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["code"].as_str().map(str::to_owned))
                .unwrap_or_default();
            cells += 1;
            if !verdict(*must, status, &code) {
                wrong.push(format!(
                    "{method} {template} as {}: {status} {code}, must be {must:?}",
                    ROLES[role]
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {cells} cells wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// The live link (an upgrade) and OwnTracks (Basic auth with a name and password): closed
/// the same way as every route.
#[tokio::test]
async fn the_link_and_owntracks_are_closed_like_every_route() {
    let c = city().await;
    let link_must = [Unauth, Unauth, Waiting, Declined, Through, Through, Through];
    let mut wrong = Vec::new();
    for (role, must) in link_must.iter().enumerate() {
        let mut headers = vec![
            ("connection", "upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ];
        let auth = c.tokens[role].as_ref().map(|t| format!("Bearer {t}"));
        if let Some(auth) = auth.as_deref() {
            headers.push(("authorization", auth));
        }
        let (status, head, text) = raw_upgrade(c.s.addr, "/api/v1/link", &headers).await;
        let code = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["code"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let ok = if *must == Through {
            status == 101
        } else {
            verdict(*must, status, &code)
        };
        if !ok {
            wrong.push(format!("link as {}: {status} {code} {head}", ROLES[role]));
        }
    }
    // OwnTracks: by name and password; a logged-out token means nothing to it.
    use base64::Engine;
    let names = [
        None,
        None,
        Some("applejack"),
        Some("discord"),
        Some("trixie"),
        Some("spike"),
        Some("celestia"),
    ];
    for (role, name) in names.iter().enumerate() {
        if role == 1 {
            continue;
        }
        let auth = name.map(|n| {
            let creds =
                base64::engine::general_purpose::STANDARD.encode(format!("{n}:purple-dragon"));
            format!("Basic {creds}")
        });
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| ("authorization", a))
            .into_iter()
            .collect();
        let fix = r#"{"_type":"location","lat":51.5,"lon":-0.12,"tst":1700000000}"#;
        let (status, _, text) = raw_with(
            c.s.addr,
            "POST",
            "/owntracks",
            &headers,
            Some(fix),
            "application/json",
        )
        .await;
        let code = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["code"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let must = CITIZEN[role];
        let ok = if must == Through {
            status == 200
        } else {
            verdict(must, status, &code)
        };
        if !ok {
            wrong.push(format!(
                "owntracks as {}: {status} {code} {text}",
                ROLES[role]
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// An upgrade request: status, head, and the body if the server answered with one.
async fn raw_upgrade(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nhost: t\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 8192];
    let mut got = Vec::new();
    loop {
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut buf))
            .await
            .map_or(0, |r| r.unwrap_or(0));
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
            let len = head
                .lines()
                .find_map(|l| {
                    l.to_lowercase()
                        .strip_prefix("content-length: ")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if status == 101 || body.len() >= len {
                return (status, head.to_owned(), body.to_owned());
            }
        }
    }
    panic!(
        "no answer to the upgrade: {}",
        String::from_utf8_lossy(&got)
    );
}
