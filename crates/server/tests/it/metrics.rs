//! What an operator's Prometheus reads from `GET /metrics` (issue 19, item 6): each
//! request timed under its route's template (never the path asked for), the build, the
//! database and NATS up, links, positions and messages, and the process's CPU, memory
//! and descriptors.

use serde_json::json;

use crate::common::{TestServer, raw, two_nodes};

/// The scraped text of `/metrics`.
pub(crate) async fn scrape(s: &TestServer) -> String {
    let (status, head, body) = raw(s.addr, "GET", "/metrics", None, None, "").await;
    assert_eq!(status, 200, "{head}");
    assert!(
        head.contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    body
}

/// The value of the sample whose name and labels are exactly `series`, if it is there.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// [`sample`], which must be there.
pub(crate) fn must(text: &str, series: &str) -> f64 {
    sample(text, series).unwrap_or_else(|| panic!("no {series} in /metrics:\n{text}"))
}

#[tokio::test]
async fn each_route_is_timed_under_its_template_beside_the_build_the_database_and_the_process() {
    let s = TestServer::start().await;
    // Spike is the first account, so the tower's.
    let (spike, amethyst) = s.pair("spike", "amethyst", "story").await;
    s.put_position(&spike, 53.66059, 23.12036).await;
    let (status, _) = s
        .call(
            "POST",
            "/api/v1/bond/messages",
            Some(&spike),
            Some(&json!({"kind": "alarm", "id": "m1", "body": "where are you?"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = s
        .call(
            "GET",
            "/api/v1/tower/people/amethyst/sessions",
            Some(&spike),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _, _) = raw(s.addr, "GET", "/no/such/hau_route", None, None, "").await;
    assert_eq!(status, 404);
    let mut link = s.link(&amethyst, None).await;
    link.next().await;

    let text = scrape(&s).await;
    // Requests by method, route template and status class, with buckets, count and sum.
    assert_eq!(
        must(
            &text,
            r#"haurach_http_request_duration_seconds_count{method="POST",route="/api/v1/sessions",class="2xx"}"#
        ),
        2.0
    );
    let sessions = r#"method="GET",route="/api/v1/tower/people/{name}/sessions",class="2xx""#;
    assert_eq!(
        must(
            &text,
            &format!("haurach_http_request_duration_seconds_bucket{{{sessions},le=\"+Inf\"}}")
        ),
        1.0
    );
    assert!(
        must(
            &text,
            &format!("haurach_http_request_duration_seconds_sum{{{sessions}}}")
        ) > 0.0
    );
    assert_eq!(
        must(
            &text,
            r#"haurach_http_request_duration_seconds_count{method="GET",route="unmatched",class="4xx"}"#
        ),
        1.0
    );
    // No label holds a path asked for: no name, no id, nothing a client made up.
    for asked in ["people/amethyst", "hau_route", "/no/such"] {
        assert!(!text.contains(asked), "{asked} in /metrics:\n{text}");
    }
    // The link's upgrade is timed too, and the link counted while open.
    assert_eq!(
        must(
            &text,
            r#"haurach_http_request_duration_seconds_count{method="GET",route="/api/v1/link",class="1xx"}"#
        ),
        1.0
    );
    assert_eq!(must(&text, "haurach_links_open"), 1.0);
    assert!(must(&text, "haurach_http_connections_open") >= 1.0);
    assert_eq!(must(&text, "haurach_positions_total"), 1.0);
    assert_eq!(must(&text, "haurach_messages_total"), 1.0);
    assert!(must(&text, r#"haurach_http_responses_total{class="2xx"}"#) >= 8.0);

    // The build, the database, the indexer; no NATS on one node.
    let build = format!(
        r#"haurach_build_info{{version="{}",store="sqlite",bus="local"}}"#,
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(must(&text, &build), 1.0);
    assert_eq!(must(&text, "haurach_database_up"), 1.0);
    assert!(must(&text, "haurach_indexer_lag_messages") >= 0.0);
    assert!(!text.contains("haurach_nats_up"), "{text}");
    assert_eq!(
        must(&text, r#"haurach_pushes_total{outcome="failed"}"#),
        0.0
    );
    assert_eq!(must(&text, "haurach_pushes_in_flight"), 0.0);

    // The process (this test's, which runs the server).
    assert!(must(&text, "process_cpu_seconds_total") > 0.0);
    assert!(must(&text, "process_resident_memory_bytes") > 1e6);
    assert!(must(&text, "process_open_fds") >= 3.0);
    assert!(must(&text, "process_max_fds") >= must(&text, "process_open_fds"));
    assert!(must(&text, "process_start_time_seconds") > 1.7e9);
    link.close().await;
}

#[tokio::test]
async fn both_nodes_of_a_city_say_their_database_and_nats_are_up() {
    let Some(nodes) = two_nodes().await else {
        return;
    };
    for node in [&nodes.one, &nodes.two] {
        let text = scrape(node).await;
        let build = format!(
            r#"haurach_build_info{{version="{}",store="postgres",bus="nats"}}"#,
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(must(&text, &build), 1.0);
        assert_eq!(must(&text, "haurach_database_up"), 1.0);
        assert_eq!(must(&text, "haurach_nats_up"), 1.0);
        assert_eq!(must(&text, "haurach_nats_dropped_total"), 0.0);
        // PostgreSQL has no journal of its own to lag behind.
        assert!(!text.contains("haurach_indexer_lag"), "{text}");
    }
}

/// Every series the sample Grafana dashboard and docs/deploy.md's Observability section
/// name is one the server shows (NATS's only with `nats_url`, tested above), so the docs
/// stay true when a series is renamed.
#[tokio::test]
async fn the_dashboard_and_the_deploy_doc_name_only_series_the_server_shows() {
    let s = TestServer::start().await;
    // The first scrape is timed once it is answered: the second shows it.
    scrape(&s).await;
    let text = scrape(&s).await;
    let docs = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs");
    let dashboard = std::fs::read_to_string(format!("{docs}/grafana-dashboard.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    let mut named = String::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            named += target["expr"].as_str().unwrap();
            named.push('\n');
        }
    }
    let deploy = std::fs::read_to_string(format!("{docs}/deploy.md")).unwrap();
    let observability = deploy.split("## Observability").nth(1).unwrap();
    named += observability.split("\n## ").next().unwrap();
    let mut seen = 0;
    for word in named.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        // Series, not log targets (`haurach_server::http::access`).
        if !(word.starts_with("haurach_") || word.starts_with("process_"))
            || named.contains(&format!("{word}::"))
        {
            continue;
        }
        seen += 1;
        let shown = text.lines().any(|l| {
            l.strip_prefix(word)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
                || l.starts_with(&format!("# TYPE {word} "))
        });
        assert!(
            shown || word == "haurach_nats_up" || word == "haurach_nats_dropped_total",
            "{word} is named in the docs but not in /metrics:\n{text}"
        );
    }
    assert!(seen > 30, "{seen} series named");
}
