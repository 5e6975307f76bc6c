//! The gate and the tower: the gate's modes (by application, by invite), the first
//! account as the tower's, applicants waiting for its answer, the register (also as CSV)
//! and newcomers arriving at an empty city at once.

use haurach_proto::{GateMode, ServerFrame};
use serde_json::json;

use haurach_testkit::{PgCluster, or_skip};

use super::{Db, book, city_server, login, register};
use crate::common::{http, raw};

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
