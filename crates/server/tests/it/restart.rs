//! A server stopped and started again on the same data directory has lost nothing it had
//! acknowledged. (The SIGKILL version of this test runs the real binary: see the CLI's
//! end-to-end tests.)

use haurach_proto::ServerFrame;
use serde_json::json;

use crate::common::TestServer;

#[tokio::test]
async fn everything_acknowledged_survives_a_restart() {
    let s = TestServer::start().await;
    let (spike, amethyst) = s.pair("spike", "amethyst", "open").await;
    s.put_position(&spike, 30.0, 31.0).await;
    s.put_position(&amethyst, 30.0, 31.5).await;
    for (i, body) in ["before", "the", "restart"].iter().enumerate() {
        let send = json!({"kind": "voice", "id": format!("m{i}"), "body": body});
        let (status, _) = s
            .call("POST", "/api/v1/bond/messages", Some(&spike), Some(&send))
            .await;
        assert_eq!(status, 201);
    }
    let dir = s.stop().await;

    let s = TestServer::start_in(dir, |_| {}).await;
    let (status, view) = s.call("GET", "/api/v1/bond", Some(&amethyst), None).await;
    assert_eq!(status, 200, "sessions and the bond survive");
    assert_eq!(view["partner"], "spike");
    assert!(
        view["pull"]["distance_m"].as_f64().unwrap() > 40_000.0,
        "positions survive"
    );
    let mut link = s.link(&amethyst, None).await;
    let ServerFrame::Hello { .. } = link.next().await else {
        panic!()
    };
    let mut bodies = Vec::new();
    for _ in 0..3 {
        let ServerFrame::Message { message } = link.next().await else {
            panic!()
        };
        bodies.push(message.body.unwrap());
    }
    assert_eq!(bodies, ["before", "the", "restart"]);
    // The account can still log in with its password.
    let creds = json!({"name": "spike", "password": "purple-dragon"});
    assert_eq!(
        s.call("POST", "/api/v1/sessions", None, Some(&creds))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn tiers_follow_the_stored_positions_when_their_own_write_was_lost() {
    // Regression: tiers are written a moment after they change; a server killed in that
    // moment came back with every tier closed although the partners stood 5 km apart.
    let s = TestServer::start().await;
    let (spike, amethyst) = s.pair("spike", "amethyst", "story").await;
    s.put_position(&spike, 30.0, 31.0).await;
    s.put_position(&amethyst, 30.0, 31.05).await;
    let dir = s.stop().await;
    {
        use haurach_store::{Sqlite, Store};
        let store = Sqlite::open(dir.path()).await.unwrap();
        let a = store.account_by_name("spike").await.unwrap().unwrap();
        let bond = store.bond_of(a.id).await.unwrap().unwrap();
        store
            .set_open_tiers(&[(bond.id, haurach_bond::TierSet::always())])
            .await
            .unwrap();
    }
    let s = TestServer::start_in(dir, |_| {}).await;
    let (_, view) = s.call("GET", "/api/v1/bond", Some(&amethyst), None).await;
    assert_eq!(view["tiers"]["glimpse"]["open"], true, "{view}");
    assert_eq!(view["tiers"]["sight"]["open"], false, "{view}");
}

/// A stopped server lets go of its data directory (the journal's lock) without waiting
/// for what it would have done later: a message nobody has seen yet waits 10 s for its
/// push, and that wait held the store, so a server started again at once on the same
/// directory waited 10 s for the lock, and failed on a busy machine.
#[tokio::test]
async fn a_stopped_server_lets_go_of_its_data_directory_with_a_push_waiting() {
    let s = TestServer::start().await;
    let (spike, _) = s.pair("spike", "amethyst", "open").await;
    let send = json!({"kind": "voice", "id": "m", "body": "unseen"});
    let (status, _) = s
        .call("POST", "/api/v1/bond/messages", Some(&spike), Some(&send))
        .await;
    assert_eq!(status, 201);
    let dir = s.stop().await;
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.path().join("journal/lock"))
        .unwrap();
    // The store closes behind the server (its last writes); far less than the push's
    // 10 s wait.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while lock.try_lock().is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the data directory is still locked 5 s after the server stopped"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
