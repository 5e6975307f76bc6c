//! Summoning: a summons pulls the summoned to the summoner and stretches their bond, and
//! an accepted summons is still followed after a restart.

use haurach_proto::{GateMode, ServerFrame, SummonState};
use serde_json::json;

use haurach_testkit::{PgCluster, or_skip};

use super::{Db, city_server};
use crate::common::TestServer;

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
