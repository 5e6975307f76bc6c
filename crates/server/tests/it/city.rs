//! The city over HTTP and the link: the gate's modes and the tower, fire-mail (parcels,
//! receipts, threads, return to sender, the exactly-once move under a race, bad input),
//! and summoning.

use haurach_proto::{GateMode, LetterState, ServerFrame, SummonState};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use haurach_server::Config;
use haurach_testkit::{PgCluster, or_skip};

use crate::common::{TestServer, http, raw};

/// Where a test's city keeps its records: SQLite in a temporary directory, or a
/// throwaway PostgreSQL cluster. Each story below runs on both.
pub enum Db {
    Sqlite,
    Postgres(PgCluster),
}

async fn city_server(db: &Db, tweak: impl FnOnce(&mut Config)) -> TestServer {
    let url = match db {
        Db::Sqlite => None,
        Db::Postgres(pg) => Some(pg.url()),
    };
    TestServer::start_with(move |c| {
        c.database_url = url;
        tweak(c);
    })
    .await
}

#[tokio::test]
async fn sqlite_the_first_account_is_the_towers_and_applicants_wait_for_its_answer() {
    the_first_account_is_the_towers_and_applicants_wait_for_its_answer(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_the_first_account_is_the_towers_and_applicants_wait_for_its_answer() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    the_first_account_is_the_towers_and_applicants_wait_for_its_answer(Db::Postgres(pg)).await;
}

#[tokio::test]
async fn sqlite_an_invite_only_gate_lets_in_only_holders_of_a_code() {
    an_invite_only_gate_lets_in_only_holders_of_a_code(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_an_invite_only_gate_lets_in_only_holders_of_a_code() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    an_invite_only_gate_lets_in_only_holders_of_a_code(Db::Postgres(pg)).await;
}

#[tokio::test]
async fn sqlite_a_letter_with_a_parcel_moves_from_hand_to_hand_with_receipts() {
    a_letter_with_a_parcel_moves_from_hand_to_hand_with_receipts(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_a_letter_with_a_parcel_moves_from_hand_to_hand_with_receipts() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    a_letter_with_a_parcel_moves_from_hand_to_hand_with_receipts(Db::Postgres(pg)).await;
}

#[tokio::test]
async fn sqlite_return_to_sender_puts_the_letter_and_parcel_back_in_the_senders_hands() {
    return_to_sender_puts_the_letter_and_parcel_back_in_the_senders_hands(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_return_to_sender_puts_the_letter_and_parcel_back_in_the_senders_hands() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    return_to_sender_puts_the_letter_and_parcel_back_in_the_senders_hands(Db::Postgres(pg)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_a_read_and_a_return_racing_each_other_exactly_one_wins() {
    a_read_and_a_return_racing_each_other_exactly_one_wins(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_read_and_a_return_racing_each_other_exactly_one_wins() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    a_read_and_a_return_racing_each_other_exactly_one_wins(Db::Postgres(pg)).await;
}

#[tokio::test]
async fn sqlite_bad_letters_and_parcels_get_clear_problems_and_leave_nothing_behind() {
    bad_letters_and_parcels_get_clear_problems_and_leave_nothing_behind(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_bad_letters_and_parcels_get_clear_problems_and_leave_nothing_behind() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    bad_letters_and_parcels_get_clear_problems_and_leave_nothing_behind(Db::Postgres(pg)).await;
}

#[tokio::test]
async fn sqlite_a_summons_pulls_the_summoned_to_the_summoner_and_stretches_their_bond() {
    a_summons_pulls_the_summoned_to_the_summoner_and_stretches_their_bond(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_a_summons_pulls_the_summoned_to_the_summoner_and_stretches_their_bond() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    a_summons_pulls_the_summoned_to_the_summoner_and_stretches_their_bond(Db::Postgres(pg)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_of_newcomers_arriving_at_once_at_an_empty_city_exactly_one_is_the_tower() {
    of_newcomers_arriving_at_once_at_an_empty_city_exactly_one_is_the_tower(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_of_newcomers_arriving_at_once_at_an_empty_city_exactly_one_is_the_tower() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    of_newcomers_arriving_at_once_at_an_empty_city_exactly_one_is_the_tower(Db::Postgres(pg)).await;
}

async fn register(s: &TestServer, body: Value) -> (u16, Value) {
    s.call("POST", "/api/v1/accounts", None, Some(&body)).await
}

async fn login(s: &TestServer, name: &str) -> String {
    let creds = json!({"name": name, "password": "purple-dragon"});
    let (status, body) = s.call("POST", "/api/v1/sessions", None, Some(&creds)).await;
    assert_eq!(status, 200, "login {name}: {body}");
    body["token"].as_str().unwrap().to_owned()
}

fn book(name: &str) -> Value {
    json!({"name": name, "family_name": "Sparkle...I guess", "from": "the desert, kept by the Dark Earth",
           "age": 19, "calling": "Letter Bearer, I assume?", "note": "a pull brought me here"})
}

/// Uploads `bytes` as a parcel; returns the status and body.
async fn upload(s: &TestServer, token: &str, bytes: &[u8]) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/parcels HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\
         authorization: Bearer {token}\r\ncontent-type: application/octet-stream\r\n\
         content-length: {}\r\n\r\n",
        bytes.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (413) before reading the whole body.
    let _ = stream.write_all(bytes).await;
    let mut res = Vec::new();
    let _ = stream.read_to_end(&mut res).await;
    let res = String::from_utf8_lossy(&res).into_owned();
    let (head, body) = res.split_once("\r\n\r\n").expect("a full response");
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    if status >= 400 {
        assert!(
            head.to_lowercase().contains("application/problem+json"),
            "{head}"
        );
    }
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Downloads a parcel: status and bytes.
async fn download(s: &TestServer, token: &str, path: &str) -> (u16, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\nauthorization: Bearer {token}\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut res = Vec::new();
    stream.read_to_end(&mut res).await.unwrap();
    let split = res.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&res[..split]).to_lowercase();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = res[split + 4..].to_vec();
    assert!(
        !head.contains("transfer-encoding: chunked"),
        "parcels are sent with their length"
    );
    (status, body)
}

async fn the_first_account_is_the_towers_and_applicants_wait_for_its_answer(db: Db) {
    let s = city_server(&db, |c| c.gate = GateMode::Application).await;
    let (status, gate) = s.call("GET", "/api/v1/gate", None, None).await;
    assert_eq!(
        (status, &gate["mode"], &gate["first"]),
        (200, &json!("application"), &json!(true))
    );

    // The first account on a fresh server is the tower's, book or not.
    let (status, _) = register(&s, json!({"name": "celestia", "password": "purple-dragon"})).await;
    assert_eq!(status, 201);
    let tower = login(&s, "celestia").await;
    let (status, page) = s.call("GET", "/api/v1/gate/me", Some(&tower), None).await;
    assert_eq!(
        (status, &page["standing"], &page["way"]),
        (200, &json!("tower"), &json!("first"))
    );

    let mut tower_link = s.link(&tower, None).await;

    // Then the gate asks for the book.
    let (status, problem) =
        register(&s, json!({"name": "twilight", "password": "purple-dragon"})).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("book_required"))
    );
    let (status, page) = register(
        &s,
        json!({"name": "twilight", "password": "purple-dragon", "book": book("Twilight")}),
    )
    .await;
    assert_eq!(status, 202, "{page}");
    assert_eq!(page["standing"], "applicant");
    assert_eq!(page["book"]["calling"], "Letter Bearer, I assume?");
    // The book goes to the tower at once.
    let frame = tower_link
        .until(|f| matches!(f, ServerFrame::Application { .. }))
        .await;
    let ServerFrame::Application { arrival } = frame else {
        unreachable!()
    };
    assert_eq!(arrival.account.name, "twilight");
    let (status, _) = register(
        &s,
        json!({"name": "trixie", "password": "purple-dragon", "book": book("Trixie")}),
    )
    .await;
    assert_eq!(status, 202);

    // An applicant can log in and read their book, and nothing else.
    let twilight = login(&s, "twilight").await;
    for (method, path, body) in [
        ("GET", "/api/v1/me", None),
        ("GET", "/api/v1/bond", None),
        ("POST", "/api/v1/bond/invites", None),
        (
            "PUT",
            "/api/v1/me/position",
            Some(json!({"lat": 1.0, "lon": 2.0})),
        ),
        ("GET", "/api/v1/letters", None),
        (
            "POST",
            "/api/v1/letters",
            Some(json!({"to": "celestia", "body": "let me in"})),
        ),
        ("GET", "/api/v1/summons", None),
        ("GET", "/api/v1/gate/queue", None),
        ("POST", "/api/v1/gate/invites", None),
    ] {
        let (status, problem) = s.call(method, path, Some(&twilight), body.as_ref()).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (403, Some("awaiting_tower")),
            "{method} {path}"
        );
    }
    let (status, _, _) = raw(
        s.addr,
        "GET",
        &format!("/api/v1/link?token={twilight}"),
        None,
        None,
        "application/json",
    )
    .await;
    assert_eq!(status, 403, "the live link is closed to applicants too");
    let (status, page) = s
        .call("GET", "/api/v1/gate/me", Some(&twilight), None)
        .await;
    assert_eq!(status, 200);
    assert!(page.get("decision").is_none(), "{page}");

    // The tower sees the queue, oldest first, and answers.
    let (status, queue) = s
        .call("GET", "/api/v1/gate/queue", Some(&tower), None)
        .await;
    assert_eq!(status, 200);
    let names: Vec<&str> = queue["arrivals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["account"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["twilight", "trixie"]);
    let approve = json!({"decision": "approved", "answer": "Welcome to the city, letter bearer."});
    let (status, page) = s
        .call(
            "POST",
            "/api/v1/gate/applications/twilight/decision",
            Some(&tower),
            Some(&approve),
        )
        .await;
    assert_eq!(
        (status, &page["standing"]),
        (200, &json!("citizen")),
        "{page}"
    );
    let (status, problem) = s
        .call(
            "POST",
            "/api/v1/gate/applications/twilight/decision",
            Some(&tower),
            Some(&approve),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("already_decided"))
    );
    let decline = json!({"decision": "declined", "answer": "Not this year."});
    let (status, _) = s
        .call(
            "POST",
            "/api/v1/gate/applications/trixie/decision",
            Some(&tower),
            Some(&decline),
        )
        .await;
    assert_eq!(status, 200);
    let (status, problem) = s
        .call(
            "POST",
            "/api/v1/gate/applications/nobody/decision",
            Some(&tower),
            Some(&decline),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (404, Some("no_such_application"))
    );

    // The book comes back with what the tower wrote; the same session now works.
    let (_, page) = s
        .call("GET", "/api/v1/gate/me", Some(&twilight), None)
        .await;
    assert_eq!(page["decision"], "approved");
    assert_eq!(page["answer"], "Welcome to the city, letter bearer.");
    assert_eq!(page["decided_by"], "celestia");
    let (status, _) = s.call("GET", "/api/v1/me", Some(&twilight), None).await;
    assert_eq!(status, 200);
    let trixie = login(&s, "trixie").await;
    let (status, problem) = s.call("GET", "/api/v1/me", Some(&trixie), None).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("application_declined"))
    );
    let (_, page) = s.call("GET", "/api/v1/gate/me", Some(&trixie), None).await;
    assert_eq!(
        (&page["decision"], &page["answer"]),
        (&json!("declined"), &json!("Not this year."))
    );

    // A citizen is not the tower.
    for path in [
        "/api/v1/gate/queue",
        "/api/v1/gate/register",
        "/api/v1/gate/register.csv",
    ] {
        let (status, problem) = s.call("GET", path, Some(&twilight), None).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (403, Some("tower_only")),
            "{path}"
        );
    }
    let (status, problem) = s
        .call(
            "POST",
            "/api/v1/gate/applications/trixie/decision",
            Some(&twilight),
            Some(&approve),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("tower_only"))
    );

    // The register: everyone who arrived, how, and what the tower decided; also as CSV.
    let (_, register) = s
        .call("GET", "/api/v1/gate/register", Some(&tower), None)
        .await;
    let rows = register["arrivals"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["way"], "first");
    assert_eq!(rows[2]["decision"], "declined");
    let (status, head, csv) = raw(
        s.addr,
        "GET",
        "/api/v1/gate/register.csv",
        Some(&tower),
        None,
        "application/json",
    )
    .await;
    assert_eq!(status, 200);
    assert!(head.contains("content-type: text/csv"), "{head}");
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[0].starts_with("account,name,family_name,from,age,calling,note,way"));
    assert!(
        lines[2].starts_with(
            "twilight,Twilight,Sparkle...I guess,\"the desert, kept by the Dark Earth\",19,"
        ),
        "{}",
        lines[2]
    );
    assert!(
        lines[2].contains(",approved,Welcome to the city, letter bearer.")
            || lines[2].contains(",approved,\"Welcome to the city, letter bearer.\"")
    );
}

async fn an_invite_only_gate_lets_in_only_holders_of_a_code(db: Db) {
    let s = city_server(&db, |c| c.gate = GateMode::Invite).await;
    let (status, _) = register(&s, json!({"name": "celestia", "password": "purple-dragon"})).await;
    assert_eq!(status, 201, "the first account needs no code");
    let tower = login(&s, "celestia").await;
    let (status, problem) =
        register(&s, json!({"name": "spike", "password": "purple-dragon"})).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("invite_required"))
    );
    let (status, problem) = register(
        &s,
        json!({"name": "spike", "password": "purple-dragon", "invite": "ABCD-EFGH"}),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (404, Some("no_such_invite"))
    );
    let (status, invite) = s
        .call("POST", "/api/v1/gate/invites", Some(&tower), None)
        .await;
    assert_eq!(status, 201);
    let code = invite["code"].as_str().unwrap().to_lowercase();
    let (status, account) = register(
        &s,
        json!({"name": "spike", "password": "purple-dragon", "invite": code}),
    )
    .await;
    assert_eq!((status, &account["name"]), (201, &json!("spike")));
    let (status, problem) = register(
        &s,
        json!({"name": "rarity", "password": "purple-dragon", "invite": code}),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (404, Some("no_such_invite")),
        "a code works once"
    );
    let (_, register) = s
        .call("GET", "/api/v1/gate/register", Some(&tower), None)
        .await;
    assert_eq!(register["arrivals"][1]["invited_by"], "celestia");
    assert_eq!(
        register["arrivals"].as_array().unwrap().len(),
        2,
        "nothing half-done"
    );
}

async fn a_letter_with_a_parcel_moves_from_hand_to_hand_with_receipts(db: Db) {
    let s = city_server(&db, |_| {}).await;
    let spike = s.citizen("spike").await;
    let twilight = s.citizen("twilight").await;
    let mut spike_link = s.link(&spike, None).await;
    let mut twilight_link = s.link(&twilight, None).await;

    let box_bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let (status, parcel) = upload(&s, &spike, &box_bytes).await;
    assert_eq!(status, 201, "{parcel}");
    let hash = format!("{:x}", Sha256::digest(&box_bytes));
    assert_eq!(parcel["hash"], hash.as_str());
    assert_eq!(parcel["size"], box_bytes.len());
    // Stored once by content: on one node under the data directory; with PostgreSQL in
    // the database, where every node reaches it, and not on this node's disk.
    let stored = s.dir.path().join("parcels").join(&hash[..2]).join(&hash);
    match &db {
        Db::Sqlite => assert_eq!(std::fs::read(&stored).unwrap(), box_bytes),
        Db::Postgres(_) => assert!(!stored.exists(), "a parcel under one node's data directory"),
    }

    let letter = json!({"to": "Twilight", "body": "A box for you. Breathe on it to send it back.",
                        "parcels": [{"name": "box.bin", "hash": hash}], "id": "first-letter"});
    let (status, sent) = s
        .call("POST", "/api/v1/letters", Some(&spike), Some(&letter))
        .await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(
        (&sent["holder"], &sent["state"]),
        (&json!("twilight"), &json!("unread"))
    );
    let id = sent["id"].as_str().unwrap().to_owned();
    let (status, again) = s
        .call("POST", "/api/v1/letters", Some(&spike), Some(&letter))
        .await;
    assert_eq!(
        (status, &again["id"]),
        (200, &json!(id)),
        "a retry is not a second letter"
    );

    // It appears in her hands at once, sealed.
    let frame = twilight_link
        .until(|f| matches!(f, ServerFrame::Letter { .. }))
        .await;
    let ServerFrame::Letter { letter } = frame else {
        unreachable!()
    };
    assert_eq!(letter.id.to_string(), id);
    assert_eq!(letter.body, None, "sealed until read");
    assert_eq!(letter.parcels[0].name, "box.bin");

    // Moved, not copied: it left the sender's hands.
    let (_, spike_inbox) = s.call("GET", "/api/v1/letters", Some(&spike), None).await;
    assert_eq!(spike_inbox["letters"], json!([]));
    let (_, spike_sent) = s
        .call("GET", "/api/v1/letters?box=sent", Some(&spike), None)
        .await;
    assert_eq!(spike_sent["letters"][0]["id"], id.as_str());

    // Listing her inbox delivers it: the sender's receipt.
    let (_, inbox) = s
        .call("GET", "/api/v1/letters", Some(&twilight), None)
        .await;
    assert_eq!(inbox["letters"][0]["id"], id.as_str());
    assert!(inbox["letters"][0]["delivered_at"].is_string());
    let frame = spike_link
        .until(|f| matches!(f, ServerFrame::LetterReceipt { .. }))
        .await;
    let ServerFrame::LetterReceipt { letter } = frame else {
        unreachable!()
    };
    assert!(letter.delivered_at.is_some() && letter.read_at.is_none());

    // The parcel opens only with the letter.
    let parcel_path = format!("/api/v1/letters/{id}/parcels/0");
    let (status, _) = download(&s, &twilight, &parcel_path).await;
    assert_eq!(status, 403);
    let (status, opened) = s
        .call(
            "POST",
            &format!("/api/v1/letters/{id}/read"),
            Some(&twilight),
            None,
        )
        .await;
    assert_eq!((status, &opened["state"]), (200, &json!("read")));
    assert_eq!(
        opened["body"],
        "A box for you. Breathe on it to send it back."
    );
    let frame = spike_link
        .until(|f| matches!(f, ServerFrame::LetterReceipt { letter } if letter.read_at.is_some()))
        .await;
    let ServerFrame::LetterReceipt { letter } = frame else {
        unreachable!()
    };
    assert_eq!(letter.state, LetterState::Read);
    let (status, bytes) = download(&s, &twilight, &parcel_path).await;
    assert_eq!(status, 200);
    assert_eq!(bytes, box_bytes);

    // A reply travels the same way, threaded; with no `to` it goes back to the writer.
    let reply = json!({"in_reply_to": id, "body": "Got it! Thank you."});
    let (status, answer) = s
        .call("POST", "/api/v1/letters", Some(&twilight), Some(&reply))
        .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(
        (&answer["to"], &answer["thread"]),
        (&json!("spike"), &json!(id))
    );
    let frame = spike_link
        .until(|f| matches!(f, ServerFrame::Letter { .. }))
        .await;
    let ServerFrame::Letter { letter } = frame else {
        unreachable!()
    };
    assert_eq!(letter.in_reply_to.map(|u| u.to_string()), Some(id.clone()));
    let (_, thread) = s
        .call(
            "GET",
            &format!("/api/v1/letters/threads/{id}"),
            Some(&spike),
            None,
        )
        .await;
    let bodies: Vec<&str> = thread["letters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["body"].as_str().unwrap_or("(sealed)"))
        .collect();
    assert_eq!(
        bodies,
        ["A box for you. Breathe on it to send it back.", "(sealed)"]
    );

    // Nobody else reads it.
    let rarity = s.citizen("rarity").await;
    let (status, problem) = s
        .call("GET", &format!("/api/v1/letters/{id}"), Some(&rarity), None)
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (404, Some("no_such_letter"))
    );
    let (status, problem) = s
        .call(
            "POST",
            &format!("/api/v1/letters/{id}/read"),
            Some(&rarity),
            None,
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (404, Some("no_such_letter"))
    );
    let (status, _) = download(&s, &rarity, &parcel_path).await;
    assert_eq!(status, 404);
}

async fn return_to_sender_puts_the_letter_and_parcel_back_in_the_senders_hands(db: Db) {
    let s = city_server(&db, |_| {}).await;
    let spike = s.citizen("spike").await;
    let twilight = s.citizen("twilight").await;
    let mut spike_link = s.link(&spike, None).await;
    let (_, parcel) = upload(&s, &spike, b"a very small box").await;
    let letter = json!({"to": "twilight", "body": "for you", "parcels": [{"name": "box.txt", "hash": parcel["hash"]}]});
    let (_, sent) = s
        .call("POST", "/api/v1/letters", Some(&spike), Some(&letter))
        .await;
    let id = sent["id"].as_str().unwrap().to_owned();

    let (status, back) = s
        .call(
            "POST",
            &format!("/api/v1/letters/{id}/return"),
            Some(&twilight),
            None,
        )
        .await;
    assert_eq!(status, 200, "{back}");
    assert_eq!(
        (&back["state"], &back["holder"]),
        (&json!("returned"), &json!("spike"))
    );
    let frame = spike_link
        .until(|f| matches!(f, ServerFrame::Letter { .. }))
        .await;
    let ServerFrame::Letter { letter } = frame else {
        unreachable!()
    };
    assert_eq!(letter.state, LetterState::Returned);

    let (_, inbox) = s
        .call("GET", "/api/v1/letters", Some(&twilight), None)
        .await;
    assert_eq!(inbox["letters"], json!([]), "gone from her hands");
    let (_, inbox) = s.call("GET", "/api/v1/letters", Some(&spike), None).await;
    assert_eq!(inbox["letters"][0]["id"], id.as_str(), "back in his");
    let (status, bytes) = download(&s, &spike, &format!("/api/v1/letters/{id}/parcels/0")).await;
    assert_eq!((status, bytes.as_slice()), (200, &b"a very small box"[..]));

    for action in ["read", "return"] {
        let (status, problem) = s
            .call(
                "POST",
                &format!("/api/v1/letters/{id}/{action}"),
                Some(&twilight),
                None,
            )
            .await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (409, Some("letter_moved")),
            "{action}"
        );
    }
}

/// The race the issue asks about: for each of many letters a read and a return are sent
/// at the same moment on two connections (all letters at once, so the server handles
/// dozens of moves concurrently). Exactly one of each pair wins, and the letter ends in
/// exactly the place the winner put it.
async fn a_read_and_a_return_racing_each_other_exactly_one_wins(db: Db) {
    let s = city_server(&db, |_| {}).await;
    let spike = s.citizen("spike").await;
    let twilight = s.citizen("twilight").await;
    let mut ids = Vec::new();
    for i in 0..40 {
        let letter = json!({"to": "twilight", "body": format!("letter {i}")});
        let (status, sent) = s
            .call("POST", "/api/v1/letters", Some(&spike), Some(&letter))
            .await;
        assert_eq!(status, 201);
        ids.push(sent["id"].as_str().unwrap().to_owned());
    }
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(ids.len() * 2));
    let mut tasks = Vec::new();
    for id in &ids {
        for action in ["read", "return"] {
            let (addr, token, path, start) = (
                s.addr,
                twilight.clone(),
                format!("/api/v1/letters/{id}/{action}"),
                start.clone(),
            );
            tasks.push(tokio::spawn(async move {
                start.wait().await;
                let (status, body) = http(addr, "POST", &path, Some(&token), None).await;
                (action, status, body)
            }));
        }
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let (_, twilight_inbox) = s
        .call("GET", "/api/v1/letters", Some(&twilight), None)
        .await;
    let (_, spike_inbox) = s.call("GET", "/api/v1/letters", Some(&spike), None).await;
    let held_by = |inbox: &Value, id: &str| {
        inbox["letters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["id"] == id)
    };
    let (mut reads_won, mut returns_won) = (0, 0);
    for (i, id) in ids.iter().enumerate() {
        let pair = &results[2 * i..2 * i + 2];
        let winners: Vec<_> = pair
            .iter()
            .filter(|(_, status, _)| *status == 200)
            .collect();
        let losers: Vec<_> = pair
            .iter()
            .filter(|(_, status, body)| *status == 409 && body["code"] == "letter_moved")
            .collect();
        assert_eq!(
            (winners.len(), losers.len()),
            (1, 1),
            "letter {i}: {pair:?}"
        );
        let (action, _, letter) = winners[0];
        let (in_hers, in_his) = (held_by(&twilight_inbox, id), held_by(&spike_inbox, id));
        if *action == "read" {
            reads_won += 1;
            assert_eq!(letter["state"], "read");
            assert!(
                in_hers && !in_his,
                "letter {i} read: it stays with her only"
            );
        } else {
            returns_won += 1;
            assert_eq!(letter["state"], "returned");
            assert!(
                !in_hers && in_his,
                "letter {i} returned: it is with him only"
            );
        }
    }
    assert_eq!(reads_won + returns_won, ids.len());
}

async fn bad_letters_and_parcels_get_clear_problems_and_leave_nothing_behind(db: Db) {
    let s = city_server(&db, |c| {
        c.max_parcel_bytes = 1000;
        c.parcel_quota_bytes = 1500;
        c.letters_per_day = 3;
    })
    .await;
    let spike = s.citizen("spike").await;
    let twilight = s.citizen("twilight").await;
    let cases = [
        (
            json!({"to": "nobody", "body": "hello"}),
            404,
            "no_such_citizen",
        ),
        (
            json!({"to": "twilight", "body": "   "}),
            422,
            "empty_letter",
        ),
        (
            json!({"to": "twilight", "body": "x".repeat(20_001)}),
            413,
            "letter_too_long",
        ),
        (json!({"to": "spike", "body": "dear me"}), 422, "own_letter"),
        (json!({"body": "to whom?"}), 422, "recipient_required"),
        (
            json!({"to": "twilight", "body": "a box", "parcels": [{"name": "x", "hash": "0".repeat(64)}]}),
            422,
            "unknown_parcel",
        ),
        (
            json!({"to": "twilight", "body": "a box", "parcels": [{"name": "../x", "hash": "0".repeat(64)}]}),
            422,
            "invalid_parcel_name",
        ),
    ];
    for (body, status, code) in cases {
        let (got, problem) = s
            .call("POST", "/api/v1/letters", Some(&spike), Some(&body))
            .await;
        assert_eq!(
            (got, problem["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
    // A parcel over the letter limit is refused before it is stored.
    let (status, problem) = upload(&s, &spike, &[7u8; 1001]).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (413, Some("parcel_too_large"))
    );
    assert!(
        problem["detail"].as_str().unwrap().contains("1000 bytes"),
        "{problem}"
    );
    // Twilight's parcel is hers: spike cannot attach it by its hash.
    let (status, hers) = upload(&s, &twilight, b"twilight's secret").await;
    assert_eq!(status, 201);
    let body = json!({"to": "twilight", "body": "a box", "parcels": [{"name": "x", "hash": hers["hash"]}]});
    let (status, problem) = s
        .call("POST", "/api/v1/letters", Some(&spike), Some(&body))
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("unknown_parcel"))
    );
    // The quota: 1000 + 600 bytes is more than 1500.
    let (status, _) = upload(&s, &spike, &[1u8; 1000]).await;
    assert_eq!(status, 201);
    let (status, problem) = upload(&s, &spike, &[2u8; 600]).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (413, Some("parcel_quota_exceeded"))
    );
    assert!(
        problem["detail"].as_str().unwrap().contains("quota"),
        "{problem}"
    );
    // Letters per day.
    for i in 0..3 {
        let (status, _) = s
            .call(
                "POST",
                "/api/v1/letters",
                Some(&spike),
                Some(&json!({"to": "twilight", "body": format!("{i}")})),
            )
            .await;
        assert_eq!(status, 201);
    }
    let (status, problem) = s
        .call(
            "POST",
            "/api/v1/letters",
            Some(&spike),
            Some(&json!({"to": "twilight", "body": "one more"})),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (429, Some("letter_quota_exceeded"))
    );
    // None of the refused letters left a trace.
    let (_, sent) = s
        .call("GET", "/api/v1/letters?box=sent", Some(&spike), None)
        .await;
    assert_eq!(sent["letters"].as_array().unwrap().len(), 3);
    let (_, inbox) = s
        .call("GET", "/api/v1/letters", Some(&twilight), None)
        .await;
    assert_eq!(inbox["letters"].as_array().unwrap().len(), 3);
    // Bad ids.
    let (status, problem) = s
        .call("GET", "/api/v1/letters/not-a-uuid", Some(&spike), None)
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("invalid_path"))
    );
    let (status, problem) = s
        .call("GET", "/api/v1/letters?box=attic", Some(&spike), None)
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("invalid_box"))
    );
}

async fn a_summons_pulls_the_summoned_to_the_summoner_and_stretches_their_bond(db: Db) {
    let s = city_server(&db, |_| {}).await;
    // Spike and Amethyst are bonded; Twilight summons Spike away.
    let (spike, amethyst) = s.pair("spike", "amethyst", "story").await;
    let twilight = s.citizen("twilight").await;
    s.put_position(&spike, 46.0, 7.0).await;
    s.put_position(&amethyst, 46.0, 7.01).await;
    let call = json!({"to": "spike", "lat": 46.05, "lon": 7.0});
    let (status, problem) = s
        .call("POST", "/api/v1/summons", Some(&twilight), Some(&call))
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("summons_not_allowed"))
    );
    let (status, _) = s
        .call(
            "PUT",
            "/api/v1/summons/allowed/twilight",
            Some(&spike),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (_, allowed) = s
        .call("GET", "/api/v1/summons/allowed", Some(&spike), None)
        .await;
    assert_eq!(allowed["allowed"], json!(["twilight"]));

    let mut spike_link = s.link(&spike, None).await;
    let mut twilight_link = s.link(&twilight, None).await;
    let mut amethyst_link = s.link(&amethyst, None).await;
    let (status, summons) = s
        .call("POST", "/api/v1/summons", Some(&twilight), Some(&call))
        .await;
    assert_eq!(status, 201, "{summons}");
    let id = summons["id"].as_str().unwrap().to_owned();
    let (status, problem) = s
        .call("POST", "/api/v1/summons", Some(&twilight), Some(&call))
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("summons_open"))
    );

    // Spike sees it like an alarm: her exact position and the pull toward her (north,
    // about 5.6 km).
    let frame = spike_link
        .until(|f| matches!(f, ServerFrame::Summons { .. }))
        .await;
    let ServerFrame::Summons { summons } = frame else {
        unreachable!()
    };
    assert_eq!(summons.state, SummonState::Calling);
    assert_eq!((summons.summoner.lat, summons.summoner.lon), (46.05, 7.0));
    assert!(summons.bearing_deg.unwrap() < 1.0 || summons.bearing_deg.unwrap() > 359.0);
    assert!(
        (summons.distance_m.unwrap() - 5_559.0).abs() < 10.0,
        "{summons:?}"
    );
    assert_eq!(
        summons.summoned, None,
        "his position is not shared before he accepts"
    );
    // Nor is the pull, which with her own position would give him away.
    let frame = twilight_link
        .until(|f| matches!(f, ServerFrame::Summons { .. }))
        .await;
    let ServerFrame::Summons { summons: hers } = frame else {
        unreachable!()
    };
    assert_eq!(
        (hers.state, hers.distance_m, hers.bearing_deg),
        (SummonState::Calling, None, None)
    );
    let (_, listed) = s
        .call("GET", "/api/v1/summons", Some(&twilight), None)
        .await;
    assert!(
        listed["summonses"][0].get("distance_m").is_none(),
        "{listed}"
    );

    // Only the summoned answers.
    let (status, problem) = s
        .call(
            "POST",
            &format!("/api/v1/summons/{id}/accept"),
            Some(&twilight),
            None,
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("not_summoned"))
    );
    let (status, accepted) = s
        .call(
            "POST",
            &format!("/api/v1/summons/{id}/accept"),
            Some(&spike),
            None,
        )
        .await;
    assert_eq!(
        (status, &accepted["state"]),
        (200, &json!("accepted")),
        "{accepted}"
    );
    // Amethyst is told: her partner is being pulled away.
    let frame = amethyst_link
        .until(|f| matches!(f, ServerFrame::PartnerSummoned { .. }))
        .await;
    assert_eq!(
        frame,
        ServerFrame::PartnerSummoned {
            partner: "spike".into(),
            by: "twilight".into()
        }
    );

    // On the way: Twilight sees him approach, exactly.
    s.put_position(&spike, 46.03, 7.0).await;
    let frame = twilight_link
        .until(|f| matches!(f, ServerFrame::Summons { summons } if summons.summoned.is_some_and(|p| p.lat == 46.03)))
        .await;
    let ServerFrame::Summons { summons } = frame else {
        unreachable!()
    };
    assert_eq!(summons.state, SummonState::Accepted);
    // Within 25 m he has arrived; the summons ends.
    s.put_position(&spike, 46.0501, 7.0).await;
    let frame = twilight_link
        .until(|f| matches!(f, ServerFrame::Summons { summons } if summons.state == SummonState::Arrived))
        .await;
    let ServerFrame::Summons { summons } = frame else {
        unreachable!()
    };
    assert!(summons.distance_m.unwrap() < 25.0);
    let (_, open) = s.call("GET", "/api/v1/summons", Some(&spike), None).await;
    assert_eq!(open["summonses"], json!([]));
    let (status, problem) = s
        .call(
            "POST",
            &format!("/api/v1/summons/{id}/end"),
            Some(&spike),
            None,
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("summons_moved"))
    );

    // A declined summons, and one ended by the summoner.
    let (_, again) = s
        .call("POST", "/api/v1/summons", Some(&twilight), Some(&call))
        .await;
    let id = again["id"].as_str().unwrap();
    let (status, declined) = s
        .call(
            "POST",
            &format!("/api/v1/summons/{id}/decline"),
            Some(&spike),
            None,
        )
        .await;
    assert_eq!((status, &declined["state"]), (200, &json!("declined")));
    let (_, again) = s
        .call("POST", "/api/v1/summons", Some(&twilight), Some(&call))
        .await;
    let id = again["id"].as_str().unwrap();
    let (status, ended) = s
        .call(
            "POST",
            &format!("/api/v1/summons/{id}/end"),
            Some(&twilight),
            None,
        )
        .await;
    assert_eq!((status, &ended["state"]), (200, &json!("ended")));
    // Withdrawn permission.
    let (status, _) = s
        .call(
            "DELETE",
            "/api/v1/summons/allowed/twilight",
            Some(&spike),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = s
        .call("POST", "/api/v1/summons", Some(&twilight), Some(&call))
        .await;
    assert_eq!(status, 403);
}

/// When several newcomers arrive at an empty city at once, exactly one becomes the tower;
/// the others are applicants (the count of accounts and the insert share one transaction).
async fn of_newcomers_arriving_at_once_at_an_empty_city_exactly_one_is_the_tower(db: Db) {
    let s = city_server(&db, |c| c.gate = GateMode::Application).await;
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(6));
    let mut tasks = Vec::new();
    for i in 0..6 {
        let (addr, start) = (s.addr, start.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({"name": format!("newcomer{i}"), "password": "purple-dragon",
                              "book": {"name": format!("Newcomer {i}")}})
            .to_string();
            start.wait().await;
            http(addr, "POST", "/api/v1/accounts", None, Some(&body))
                .await
                .0
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, [201, 202, 202, 202, 202, 202]);
}

/// The store's own guarantee, without HTTP in between: for each letter a read and a
/// return are started together on the store; exactly one succeeds and the other sees
/// `letter_moved`. On PostgreSQL the two run on two pools, as on two nodes.
async fn each_letter_moves_exactly_once<S: haurach_store::Store>(node1: S, node2: S) {
    use haurach_store::city::{LetterLimits, LetterMove, NewLetter, Sent};
    use haurach_store::{Conflict, StoreError};
    let spike = node1.create_account("spike", "h", 1).await.unwrap();
    let twilight = node1.create_account("twilight", "h", 1).await.unwrap();
    let limits = LetterLimits {
        max_parcel_bytes: 1,
        letters_per_day: 1_000,
    };
    let mut ids = Vec::new();
    for i in 0..50 {
        let letter = NewLetter {
            sender: spike.id,
            to: Some("twilight".into()),
            body: format!("letter {i}"),
            parcels: vec![],
            in_reply_to: None,
            client_id: None,
            now_ms: 2,
        };
        let Sent::New(letter) = node1.send_letter(letter, limits).await.unwrap() else {
            panic!("a new letter")
        };
        ids.push(letter.id);
    }
    let mut tasks = Vec::new();
    for id in &ids {
        for (how, node) in [(LetterMove::Read, &node1), (LetterMove::Return, &node2)] {
            let (node, id, who) = (node.clone(), *id, twilight.id);
            tasks.push(tokio::spawn(async move {
                node.move_letter(id, who, how, 3).await
            }));
        }
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    for (i, pair) in results.chunks(2).enumerate() {
        let wins = pair.iter().filter(|r| r.is_ok()).count();
        let moved = pair
            .iter()
            .filter(|r| matches!(r, Err(StoreError::Conflict(Conflict::LetterMoved))))
            .count();
        assert_eq!((wins, moved), (1, 1), "letter {i}: {pair:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_moves_each_letter_exactly_once_under_concurrency() {
    let dir = tempfile::tempdir().unwrap();
    let store = haurach_store::Sqlite::open(dir.path()).await.unwrap();
    each_letter_moves_exactly_once(store.clone(), store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_moves_each_letter_exactly_once_across_two_nodes() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    let node1 = haurach_store::Postgres::connect(&pg.url()).await.unwrap();
    let node2 = haurach_store::Postgres::connect(&pg.url()).await.unwrap();
    each_letter_moves_exactly_once(node1, node2).await;
}

/// An accepted summons is kept in the store: after a restart the server still follows it
/// and passes the summoned's moves to the summoner.
#[tokio::test]
async fn an_accepted_summons_is_still_followed_after_a_restart() {
    let s = TestServer::start().await;
    let spike = s.citizen("spike").await;
    let twilight = s.citizen("twilight").await;
    s.put_position(&spike, 46.0, 7.0).await;
    s.call(
        "PUT",
        "/api/v1/summons/allowed/twilight",
        Some(&spike),
        None,
    )
    .await;
    let call = json!({"to": "spike", "lat": 46.05, "lon": 7.0});
    let (_, summons) = s
        .call("POST", "/api/v1/summons", Some(&twilight), Some(&call))
        .await;
    let id = summons["id"].as_str().unwrap().to_owned();
    let (status, _) = s
        .call(
            "POST",
            &format!("/api/v1/summons/{id}/accept"),
            Some(&spike),
            None,
        )
        .await;
    assert_eq!(status, 200);

    let dir = s.stop().await;
    let s = TestServer::start_in(dir, |c| c.gate = GateMode::Open).await;
    let mut twilight_link = s.link(&twilight, None).await;
    s.put_position(&spike, 46.04, 7.0).await;
    let frame = twilight_link
        .until(|f| matches!(f, ServerFrame::Summons { .. }))
        .await;
    let ServerFrame::Summons { summons } = frame else {
        unreachable!()
    };
    assert_eq!(summons.state, SummonState::Accepted);
    assert_eq!(summons.summoned.map(|p| p.lat), Some(46.04));
    assert!(
        (summons.distance_m.unwrap() - 1_112.0).abs() < 5.0,
        "{summons:?}"
    );
}
