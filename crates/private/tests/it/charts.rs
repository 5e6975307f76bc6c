//! Charts: every point finds the charts the rule says it uses, and a chart's map never
//! shrinks a distance nor stretches it by more than the tokens' geometry allows for.

use haurach_bond::geo::{destination, inverse};
use haurach_private::geometry::{CORE_RADIUS_M, all_charts, charts_near, project};
use haurach_private::tokens::MAX_CHARTS;
use proptest::prelude::*;

/// Latitudes anywhere, often near a pole.
fn latitude() -> impl Strategy<Value = f64> {
    prop_oneof![
        -90.0..=90.0f64,
        88.5..=90.0f64,
        -90.0..=-88.5f64,
        Just(90.0),
        Just(-90.0),
    ]
}

/// Longitudes anywhere, often near the antimeridian.
fn longitude() -> impl Strategy<Value = f64> {
    prop_oneof![-180.0..=180.0f64, 179.0..=180.0f64, -180.0..=-179.0f64,]
}

/// Every chart whose centre is within the rule's reach, found the slow way: a cheap
/// spherical bound over all 41,000 centres, then the exact distance.
fn brute_force(lat: f64, lon: f64, g_m: f64) -> Vec<u32> {
    let (la, lo) = (lat.to_radians(), lon.to_radians());
    let mut all: Vec<(u32, f64)> = all_charts()
        .filter(|c| {
            let (lb, lob) = (c.lat.to_radians(), c.lon.to_radians());
            let cos = la.sin() * lb.sin() + la.cos() * lb.cos() * (lo - lob).cos();
            // Within 200 km on a sphere of radius 6,371 km (geodesics on WGS84 differ
            // by under 0.7%, far less than this bound's slack).
            cos.clamp(-1.0, 1.0).acos() * 6_371_000.0 < 200_000.0
        })
        .map(|c| (c.id, inverse(c.lat, c.lon, lat, lon).distance_m))
        .collect();
    all.sort_by(|a, b| a.1.total_cmp(&b.1));
    let nearest = all[0].1;
    let mut ids: Vec<u32> = all
        .into_iter()
        .filter(|(_, d)| *d <= nearest + 2.0 * g_m)
        .map(|(id, _)| id)
        .collect();
    ids.sort_unstable();
    ids
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_point_finds_exactly_the_charts_the_rule_names(
        lat in latitude(),
        lon in longitude(),
        g_m in prop_oneof![Just(12.5e3), 0.0..13e3f64],
    ) {
        let near = charts_near(lat, lon, g_m);
        prop_assert!(near[0].distance_m <= CORE_RADIUS_M);
        prop_assert!(near.len() <= MAX_CHARTS, "{} charts", near.len());
        let mut ids: Vec<u32> = near.iter().map(|n| n.chart.id).collect();
        ids.sort_unstable();
        prop_assert_eq!(ids, brute_force(lat, lon, g_m));
    }

    #[test]
    fn a_chart_never_shrinks_a_distance_and_stretches_it_by_under_a_ten_thousandth(
        lat in latitude(),
        lon in longitude(),
        bearing in 0.0..360.0f64,
        d_m in prop_oneof![0.0..100.0f64, 0.0..30_000.0f64],
    ) {
        let (lat2, lon2) = destination(lat, lon, bearing, d_m);
        // Every chart either point uses for the largest tier.
        for near in charts_near(lat, lon, 12.5e3).iter().chain(&charts_near(lat2, lon2, 12.5e3)) {
            let (x1, y1) = project(&near.chart, lat, lon);
            let (x2, y2) = project(&near.chart, lat2, lon2);
            let planar = (x1 - x2).hypot(y1 - y2);
            // A millimetre for rounding at the largest coordinates.
            prop_assert!(planar >= d_m - 1e-3, "{planar} < {d_m}");
            prop_assert!(planar <= d_m * 1.0001 + 1e-3, "{planar} vs {d_m}");
        }
    }
}

#[test]
fn no_place_uses_more_charts_than_a_report_has_room_for() {
    // The densest places: around the poles, where the polar chart meets the rings of
    // 89.5° and 88.5°, and the equator's corners between bands, on a fine mesh.
    let mut most = 0;
    for lat in (0..=400).map(|k| 90.0 - f64::from(k) * 0.01) {
        for lon in (0..72).map(|k| -180.0 + f64::from(k) * 5.0) {
            for sign in [1.0, -1.0] {
                most = most.max(charts_near(sign * lat, lon, 12.5e3).len());
            }
        }
    }
    for lat in (0..200).map(|k| -1.0 + f64::from(k) * 0.01) {
        for lon in (0..100).map(|k| 179.0 + f64::from(k) * 0.01) {
            most = most.max(charts_near(lat, lon, 12.5e3).len());
        }
    }
    assert!(most <= MAX_CHARTS, "{most}");
}
