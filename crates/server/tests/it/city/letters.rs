//! Fire-mail: letters and their parcels, receipts, return to sender, the exactly-once
//! move under a race (over HTTP and on the store itself) and bad input.

use haurach_proto::{LetterState, ServerFrame};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use haurach_testkit::{PgCluster, or_skip};

use super::{Db, city_server, download, upload};
use crate::common::http;

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

#[tokio::test]
async fn sqlite_the_inbox_pages_and_every_page_listed_is_delivered() {
    the_inbox_pages_and_every_page_listed_is_delivered(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_the_inbox_pages_and_every_page_listed_is_delivered() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    the_inbox_pages_and_every_page_listed_is_delivered(Db::Postgres(pg)).await;
}

/// Hardening finding 9: "the inbox listing stops at 500 with no paging, and listing is
/// what delivers letters, so letters past 500 are never delivered". The inbox comes a
/// page at a time, each page pointing to the next; paging through delivers every letter
/// once, and no letter is on two pages.
async fn the_inbox_pages_and_every_page_listed_is_delivered(db: Db) {
    let s = city_server(&db, |_| {}).await;
    let spike = s.citizen("spike").await;
    let twilight = s.citizen("twilight").await;
    for i in 0..7 {
        let letter =
            json!({"to": "twilight", "body": format!("letter {i}"), "id": format!("l{i}")});
        let (status, sent) = s
            .call("POST", "/api/v1/letters", Some(&spike), Some(&letter))
            .await;
        assert_eq!(status, 201, "{sent}");
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/letters?limit=3".to_owned();
    loop {
        let (status, page) = s.call("GET", &path, Some(&twilight), None).await;
        assert_eq!(status, 200, "{page}");
        for l in page["letters"].as_array().unwrap() {
            seen.push(l["id"].as_str().unwrap().to_owned());
            assert!(l["delivered_at"].is_string(), "{l}");
        }
        match page["next"].as_str() {
            Some(next) => path = format!("/api/v1/letters?limit=3&before={next}"),
            None => break,
        }
        assert!(seen.len() <= 9, "paging goes on: {seen:?}");
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (7, 7), "{seen:?}");
    let (_, sent) = s
        .call("GET", "/api/v1/letters?box=sent", Some(&spike), None)
        .await;
    let delivered = sent["letters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["delivered_at"].is_string())
        .count();
    assert_eq!(delivered, 7, "every sender's receipt");
}
