//! The journey's chart ([`journey::chart`]): what the person was shown, worked out again
//! from both partners' fixes.

use haurach_bond::disclosure::coarsen_distance;
use haurach_bond::geo::{self, Fix};
use haurach_bond::journey::chart;
use haurach_bond::tier::{Profile, Tier};
use proptest::prelude::*;

const MINUTE: i64 = 60_000;

fn fix(lat: f64, lon: f64, at_ms: i64) -> Fix {
    Fix {
        lat,
        lon,
        accuracy_m: 5.0,
        at_ms,
    }
}

/// Amethyst stands still; Spike walks toward her from 20.5 km, a fix a minute.
fn walk() -> (Vec<Fix>, Vec<Fix>, Vec<f64>) {
    let (lat, lon) = (51.5, -0.12);
    let her = vec![fix(lat, lon, 0), fix(lat, lon, 60 * MINUTE)];
    let mut him = Vec::new();
    let mut distances = Vec::new();
    for (n, d) in [
        20_500.0, 19_400.0, 15_700.0, 9_000.0, 2_400.0, 1_800.0, 600.0, 12.0,
    ]
    .into_iter()
    .enumerate()
    {
        let (la, lo) = geo::destination(lat, lon, 40.0, d);
        him.push(fix(la, lo, (n as i64 + 1) * MINUTE));
        distances.push(geo::inverse(lat, lon, la, lo).distance_m);
    }
    (her, him, distances)
}

#[test]
fn beyond_sight_the_chart_holds_the_coarse_distance_and_within_it_the_exact_one() {
    let (her, him, distances) = walk();
    let c = chart(Profile::Story, &her, &him, 10 * MINUTE, i64::MIN);
    let shown: Vec<f64> = c.told.iter().map(|t| t.distance_m).collect();
    // Her chart: one point per fix of his (hers came first, alone).
    assert_eq!(shown.len(), distances.len());
    for (told, truth) in c.told.iter().zip(&distances) {
        // Sight opens within 2 km pessimistically (the distance plus 10 m of accuracy).
        if truth + 10.0 <= 2_000.0 {
            assert!(told.exact, "{told:?}");
            assert!((told.distance_m - truth).abs() < 1e-6);
        } else {
            assert!(!told.exact, "{told:?}");
            assert_eq!(told.distance_m, coarsen_distance(*truth));
        }
    }
    let opened: Vec<Tier> = c.opened.iter().map(|o| o.tier).collect();
    assert_eq!(
        opened,
        [
            Tier::Feelings,
            Tier::Voice,
            Tier::Thoughts,
            Tier::Images,
            Tier::Glimpse,
            Tier::Sight,
            Tier::Memories
        ]
    );
    // Each opening is marked at the distance shown at that moment, in time order.
    assert!(c.opened.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
    assert_eq!(c.opened[0].distance_m, 19_000.0);
}

#[test]
fn his_chart_is_hers_seen_from_the_other_side() {
    let (her, him, _) = walk();
    let hers = chart(Profile::Story, &her, &him, 10 * MINUTE, i64::MIN);
    let his = chart(Profile::Story, &him, &her, 10 * MINUTE, i64::MIN);
    assert_eq!(hers, his);
}

#[test]
fn a_fix_too_old_beside_the_other_is_not_measured() {
    // She shared once, then paused; his walk an hour later measures nothing against it,
    // and the tiers opened before close as for an unknown distance.
    let her = vec![fix(51.5, -0.12, 0)];
    let near = geo::destination(51.5, -0.12, 90.0, 1_000.0);
    let him = vec![
        fix(near.0, near.1, MINUTE),
        fix(near.0, near.1 + 0.001, 60 * MINUTE),
    ];
    let c = chart(Profile::Story, &her, &him, 10 * MINUTE, i64::MIN);
    assert_eq!(c.told.len(), 1, "{c:?}");
    assert!(c.told[0].exact);
}

#[test]
fn fixes_from_before_the_bond_only_say_where_it_began() {
    // He shared at 11 km before the bond was made and has not moved since; she walked
    // about before it too. The chart begins when the bond did, from where each was then.
    let (lat, lon) = (0.0, 10.0);
    let him = vec![fix(lat, lon, 0)];
    let her = vec![
        fix(lat, 10.3, MINUTE),
        fix(lat, 10.1, 2 * MINUTE),
        fix(lat, 10.05, 4 * MINUTE),
    ];
    let bonded = 3 * MINUTE;
    let c = chart(Profile::Story, &him, &her, 10 * MINUTE, bonded);
    let points: Vec<(i64, f64)> = c.told.iter().map(|t| (t.at_ms, t.distance_m)).collect();
    assert_eq!(points, [(bonded, 11_000.0), (4 * MINUTE, 5_600.0)]);
    // Feelings and the rest were open from the start, marked where the chart begins.
    assert_eq!(c.opened[0].at_ms, bonded);
    assert_eq!(c.opened[0].tier, Tier::Feelings);
}

proptest! {
    /// Whatever the walk, a point beyond sight is never finer than the coarse pull.
    #[test]
    fn no_point_beyond_sight_is_finer_than_the_pull(
        steps in proptest::collection::vec((0.0..360.0f64, 1.0..40_000.0f64, 0.0..50.0f64), 1..40),
    ) {
        let her = vec![fix(10.0, 20.0, 0)];
        let him: Vec<Fix> = steps
            .iter()
            .enumerate()
            .map(|(n, &(bearing, d, acc))| {
                let (la, lo) = geo::destination(10.0, 20.0, bearing, d);
                Fix { lat: la, lon: lo, accuracy_m: acc, at_ms: n as i64 * 1000 }
            })
            .collect();
        let c = chart(Profile::Story, &her, &him, 10 * MINUTE, i64::MIN);
        prop_assert_eq!(c.told.len(), him.len());
        for (told, f) in c.told.iter().zip(&him) {
            let truth = geo::inverse(10.0, 20.0, f.lat, f.lon).distance_m;
            if !told.exact {
                prop_assert_eq!(told.distance_m, coarsen_distance(truth));
            }
            // Exact only within sight's reach with its hysteresis.
            if told.exact {
                prop_assert!(truth <= 2_200.0);
            }
        }
    }
}
