//! What a partner may learn of a position ([`Disclosure`]), for every pair of points and
//! every accuracy: beyond sight range nothing finer than the coarse pull comes out, within
//! it everything is exact.

use haurach_bond::disclosure::{Disclosure, coarsen_bearing, coarsen_distance};
use haurach_bond::geo::{self, Fix};
use haurach_bond::tier::{Tier, TierSet, TierState};
use proptest::prelude::*;

use crate::properties::{distance, lat, lon};

/// An accuracy as devices report it, the unknown ones (NaN, negative) included.
fn accuracy() -> impl Strategy<Value = f64> {
    prop_oneof![
        1 => Just(f64::NAN),
        1 => Just(-1.0),
        1 => Just(0.0),
        8 => 0.0..5_000.0f64,
    ]
}

/// Any state of the tiers with sight closed, or with sight open.
fn tiers(sight: bool) -> impl Strategy<Value = TierState> {
    any::<u16>().prop_map(move |bits| {
        let mut open = TierSet::from_bits(bits);
        if sight {
            open.insert(Tier::Sight);
        } else {
            open.remove(Tier::Sight);
        }
        TierState::new(open)
    })
}

fn fix(lat: f64, lon: f64, accuracy_m: f64) -> Fix {
    Fix {
        lat,
        lon,
        accuracy_m,
        at_ms: 1_700_000_000_000,
    }
}

/// Whether a non-negative number, written as a whole number of units of its second
/// significant figure, needs at most two digits.
fn has_two_figures(x: f64) -> bool {
    if x == 0.0 {
        return true;
    }
    let unit = 10f64.powi(x.log10().floor() as i32 - 1);
    let digits = x / unit;
    x > 0.0 && (digits - digits.round()).abs() < 1e-9 && digits.round() <= 99.0
}

/// Whether a bearing is one a coarse pull can have: a multiple of 5 in [0, 360).
fn is_coarse_bearing(b: f64) -> bool {
    (0.0..360.0).contains(&b) && b % 5.0 == 0.0
}

proptest! {
    /// Beyond sight range the pull, and the point an OwnTracks phone draws, are the coarse
    /// pull and nothing more: a bearing that is a multiple of 5, a distance of two
    /// significant figures, no coordinates; the point is the destination along that pull
    /// from my own fix, whatever either accuracy.
    #[test]
    fn beyond_sight_nothing_finer_than_the_coarse_pull_comes_out(
        tiers in tiers(false),
        lat1 in lat(), lon1 in lon(), acc1 in accuracy(),
        lat2 in lat(), lon2 in lon(), acc2 in accuracy(),
    ) {
        let shown = Disclosure::of(tiers);
        prop_assert_eq!(shown, Disclosure::Coarse);
        let (me, partner) = (fix(lat1, lon1, acc1), fix(lat2, lon2, acc2));
        let g = geo::inverse(lat1, lon1, lat2, lon2);

        let p = shown.pull(g, &partner);
        prop_assert!(!p.exact);
        prop_assert_eq!(p.position, None);
        prop_assert!(is_coarse_bearing(p.bearing_deg), "{p:?}");
        prop_assert!(has_two_figures(p.distance_m), "{p:?}");
        prop_assert_eq!(p.bearing_deg, coarsen_bearing(g.bearing_deg));
        prop_assert_eq!(p.distance_m, coarsen_distance(g.distance_m));

        let w = shown.whereabouts(Some(&me), &partner).unwrap();
        let (bearing, dist) = (coarsen_bearing(g.bearing_deg), coarsen_distance(g.distance_m));
        let (lat, lon) = geo::destination(lat1, lon1, bearing, dist);
        prop_assert_eq!((w.lat, w.lon), (lat, lon));
        // The reach of the rounding, as the OwnTracks answer has always computed it.
        let reach = (dist * 0.05 + dist * 2.5f64.to_radians().tan()).round();
        prop_assert_eq!(w.accuracy_m, reach);
        // Neither accuracy leaks into it.
        let sharp = shown.whereabouts(Some(&fix(lat1, lon1, 0.0)), &fix(lat2, lon2, 0.0));
        prop_assert_eq!(Some(w), sharp);
        // Without a fix of mine there is nothing to place the coarse pull from.
        prop_assert_eq!(shown.whereabouts(None, &partner), None);

        prop_assert_eq!(shown.position((lat2, lon2)), None);
        // The numbers that hang on where the partner is (opens_in_m, a meeting leg's
        // distance, bearing and time) are rounded exactly as the pull is.
        let eta = g.distance_m / 1.4;
        prop_assert_eq!(shown.bearing_deg(g.bearing_deg), coarsen_bearing(g.bearing_deg));
        prop_assert_eq!(shown.distance_m(g.distance_m), coarsen_distance(g.distance_m));
        prop_assert_eq!(shown.duration_s(eta), coarsen_distance(eta));
        prop_assert!(has_two_figures(shown.duration_s(eta)));
    }

    /// Two partners whose coarse pulls from me are the same are drawn on the same point
    /// with the same accuracy: the point carries nothing beyond the coarse pull.
    #[test]
    fn the_same_coarse_pull_draws_the_same_point(
        lat1 in -80.0..80.0f64, lon1 in lon(),
        step in 0u8..72, turn in prop::array::uniform2(-2.4..2.4f64),
        figures in 10u8..=99, exp in 0i32..=5, more in prop::array::uniform2(0.0..0.45f64),
        acc in prop::array::uniform2(accuracy()),
    ) {
        let me = fix(lat1, lon1, 10.0);
        // Two partners in one 5° sector and one step of the second figure (up to 9 945 km,
        // far from the antipode, where a bearing stops meaning anything).
        let partners = [0, 1].map(|i| {
            let bearing = f64::from(step) * 5.0 + turn[i];
            let distance = (f64::from(figures) + more[i]) * 10f64.powi(exp);
            let (lat, lon) = geo::destination(lat1, lon1, bearing, distance);
            fix(lat, lon, acc[i])
        });
        let pulls = partners.map(|p| {
            Disclosure::Coarse.pull(geo::inverse(lat1, lon1, p.lat, p.lon), &p)
        });
        prop_assume!(pulls[0] == pulls[1]);
        let drawn = partners.map(|p| Disclosure::Coarse.whereabouts(Some(&me), &p));
        prop_assert!(drawn[0].is_some());
        prop_assert_eq!(drawn[0], drawn[1]);
    }

    /// The coarse point's accuracy is honest: the partner is within it (give or take the
    /// rounding of the accuracy to whole metres).
    #[test]
    fn the_coarse_circle_holds_the_partner(
        lat1 in lat(), lon1 in lon(), lat2 in lat(), lon2 in lon(),
    ) {
        let (me, partner) = (fix(lat1, lon1, 0.0), fix(lat2, lon2, 0.0));
        let w = Disclosure::Coarse.whereabouts(Some(&me), &partner).unwrap();
        let off = geo::inverse(w.lat, w.lon, lat2, lon2).distance_m;
        prop_assert!(off <= w.accuracy_m + 0.5, "{off} m off, shown {w:?}");
    }

    /// Within sight range everything is exact: the pull is the geodesic and the partner's
    /// position, the OwnTracks point is the partner's fix with its accuracy.
    #[test]
    fn within_sight_everything_is_exact(
        tiers in tiers(true),
        lat1 in lat(), lon1 in lon(), acc1 in accuracy(),
        lat2 in lat(), lon2 in lon(), acc2 in accuracy(),
        have_mine in any::<bool>(),
    ) {
        let shown = Disclosure::of(tiers);
        prop_assert_eq!(shown, Disclosure::Exact);
        let (me, partner) = (fix(lat1, lon1, acc1), fix(lat2, lon2, acc2));
        let g = geo::inverse(lat1, lon1, lat2, lon2);

        let p = shown.pull(g, &partner);
        prop_assert!(p.exact);
        prop_assert_eq!(p.position, Some((lat2, lon2)));
        prop_assert_eq!(p.bearing_deg, g.bearing_deg);
        prop_assert_eq!(p.distance_m, g.distance_m);

        let w = shown.whereabouts(have_mine.then_some(&me), &partner).unwrap();
        prop_assert_eq!((w.lat, w.lon), (lat2, lon2));
        prop_assert_eq!(w.accuracy_m, partner.accuracy_or_zero());

        prop_assert_eq!(shown.position((lat2, lon2)), Some((lat2, lon2)));
        prop_assert_eq!(shown.bearing_deg(g.bearing_deg), g.bearing_deg);
        prop_assert_eq!(shown.distance_m(g.distance_m), g.distance_m);
        prop_assert_eq!(shown.duration_s(g.distance_m / 1.4), g.distance_m / 1.4);
    }

    /// Sight, and no other tier, decides.
    #[test]
    fn sight_alone_decides(bits in any::<u16>()) {
        let state = TierState::new(TierSet::from_bits(bits));
        prop_assert_eq!(Disclosure::of(state).is_exact(), state.is_open(Tier::Sight));
    }

    /// Any distance or time beyond sight has at most two significant figures and stays
    /// within 5 % of the exact one.
    #[test]
    fn coarse_numbers_have_two_figures(x in distance()) {
        for coarse in [Disclosure::Coarse.distance_m(x), Disclosure::Coarse.duration_s(x)] {
            prop_assert!(has_two_figures(coarse), "{x} → {coarse}");
            prop_assert!((coarse - x).abs() <= 0.05 * x, "{x} → {coarse}");
        }
    }
}
