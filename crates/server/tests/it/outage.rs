//! A node of a multi-node city while PostgreSQL or NATS is down: it says so on /healthz,
//! refuses what it cannot store with 503 and a problem that says why, and recovers by
//! itself when they return.

use std::time::{Duration, Instant};

use haurach_testkit::{NatsServer, PgCluster, or_skip};
use serde_json::json;

use crate::common::{TestServer, raw};

/// The value `/metrics` shows for `gauge` (a series without labels).
async fn gauge(server: &TestServer, gauge: &str) -> f64 {
    let (_, _, text) = raw(server.addr, "GET", "/metrics", None, None, "").await;
    text.lines()
        .find_map(|l| l.strip_prefix(gauge)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {gauge} in /metrics:\n{text}"))
}

/// Polls `/healthz` until its status is `want` (panics after 30 s); returns the body.
async fn health_becomes(server: &TestServer, want: u16) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = server.call("GET", "/healthz", None, None).await;
        if status == want {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/healthz stayed {status} ({body}), expected {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_refuses_what_it_cannot_store_and_recovers_when_its_servers_return() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    let Some(mut nats) = or_skip(NatsServer::start()) else {
        return;
    };
    let (db, bus) = (pg.url(), nats.url());
    let server = TestServer::start_with(move |c| {
        c.database_url = Some(db);
        c.nats_url = Some(bus);
    })
    .await;
    let (spike, amethyst) = server.pair("spike", "amethyst", "story").await;
    let alarm = |id: &str| json!({"kind": "alarm", "id": id, "body": "where are you?"});
    let (status, _) = server
        .call(
            "POST",
            "/api/v1/bond/messages",
            Some(&spike),
            Some(&alarm("a1")),
        )
        .await;
    assert_eq!(status, 201);
    health_becomes(&server, 200).await;
    assert_eq!(gauge(&server, "haurach_database_up").await, 1.0);
    assert_eq!(gauge(&server, "haurach_nats_up").await, 1.0);

    // PostgreSQL goes down: the node says so (to a load balancer and to Prometheus), and
    // an alarm is refused, not lost quietly.
    let pg = tokio::task::spawn_blocking(move || {
        pg.pause();
        pg
    })
    .await
    .unwrap();
    let body = health_becomes(&server, 503).await;
    assert!(
        body["detail"].as_str().unwrap().contains("database"),
        "{body}"
    );
    assert_eq!(gauge(&server, "haurach_database_up").await, 0.0);
    let (status, problem) = server
        .call(
            "POST",
            "/api/v1/bond/messages",
            Some(&spike),
            Some(&alarm("a2")),
        )
        .await;
    assert_eq!(status, 503, "{problem}");
    assert_eq!(problem["code"], "storage_unavailable");

    // It comes back; the node reconnects by itself and the retry of the refused alarm
    // is stored.
    let pg = tokio::task::spawn_blocking(move || {
        pg.resume();
        pg
    })
    .await
    .unwrap();
    health_becomes(&server, 200).await;
    assert_eq!(gauge(&server, "haurach_database_up").await, 1.0);
    let (status, _) = server
        .call(
            "POST",
            "/api/v1/bond/messages",
            Some(&spike),
            Some(&alarm("a2")),
        )
        .await;
    assert_eq!(status, 201);
    let (status, page) = server
        .call("GET", "/api/v1/bond/messages", Some(&amethyst), None)
        .await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a1", "a2"]);

    // NATS goes down: the node says so; when it is back, the node reconnects by itself.
    nats.pause();
    let body = health_becomes(&server, 503).await;
    assert!(body["detail"].as_str().unwrap().contains("NATS"), "{body}");
    assert_eq!(gauge(&server, "haurach_nats_up").await, 0.0);
    nats.resume();
    health_becomes(&server, 200).await;
    assert_eq!(gauge(&server, "haurach_nats_up").await, 1.0);
    drop(pg);
}
