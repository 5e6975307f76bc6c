//! The hard rule of a private bond's tiers, as property tests over the whole Earth: a
//! tier opens for certain when the partners are half its range apart or closer, and is
//! never open, whether just opened or kept open by the hysteresis, beyond 1.5 times it.

use haurach_bond::geo::destination;
use haurach_bond::{Fix, Profile, Tier};
use haurach_private::tokens::{EPOCH_MS, report};
use haurach_private::{BondKey, Matcher, Role};
use proptest::prelude::*;

/// Latitudes anywhere, often near or at a pole.
fn latitude() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => -90.0..=90.0f64,
        1 => 89.0..=90.0f64,
        1 => -90.0..=-89.0f64,
        1 => Just(90.0),
        1 => Just(-90.0),
    ]
}

/// Longitudes anywhere, often near the antimeridian.
fn longitude() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => -180.0..=180.0f64,
        1 => 179.9..=180.0f64,
        1 => -180.0..=-179.9f64,
    ]
}

/// The ranged tiers of the story and city profiles, by their ranges.
fn ranged() -> impl Strategy<Value = (Profile, Tier)> {
    let all: Vec<(Profile, Tier)> = [Profile::Story, Profile::City]
        .into_iter()
        .flat_map(|p| Tier::ALL.into_iter().map(move |t| (p, t)))
        .filter(|(p, t)| p.range_m(*t).is_some())
        .collect();
    proptest::sample::select(all)
}

/// What the matcher decides for partners at `a` and `b` (the padding is random, and
/// decides nothing: a random token meets another with a chance of 2⁻⁶⁴): (the tiers open when they
/// report there first, the tiers open when they first stood together at `a` and the
/// accepter then moved to `b`).
fn decide(profile: Profile, a: (f64, f64), b: (f64, f64)) -> (Matcher, Matcher) {
    let key = BondKey::from_bytes([11; 32]);
    let at_ms = 3_000 * EPOCH_MS;
    let fix = |(lat, lon): (f64, f64)| Fix {
        lat,
        lon,
        accuracy_m: 0.0,
        at_ms,
    };
    let mut fresh = Matcher::new(profile);
    fresh.report(Role::Inviter, report(&key, profile, &fix(a)));
    fresh.report(Role::Accepter, report(&key, profile, &fix(b)));
    let mut kept = Matcher::new(profile);
    kept.report(Role::Inviter, report(&key, profile, &fix(a)));
    kept.report(Role::Accepter, report(&key, profile, &fix(a)));
    assert_eq!(
        kept.state().open().iter().count(),
        9,
        "together opens everything"
    );
    kept.report(Role::Accepter, report(&key, profile, &fix(b)));
    (fresh, kept)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Right at the edges of the rule: just within half a range, just beyond 1.5 times.
    #[test]
    fn at_the_edges_of_the_rule(
        lat in latitude(),
        lon in longitude(),
        bearing in 0.0..360.0f64,
        (profile, tier) in ranged(),
        frac in prop_oneof![0.45..=0.5f64, 1.500_001..1.6f64],
    ) {
        let range = profile.range_m(tier).unwrap();
        let b = destination(lat, lon, bearing, frac * range);
        let (fresh, kept) = decide(profile, (lat, lon), b);
        if frac <= 0.5 {
            prop_assert!(fresh.state().is_open(tier), "{tier:?} closed at {}", frac * range);
            prop_assert!(kept.state().is_open(tier), "{tier:?} closed at {}", frac * range);
        } else {
            prop_assert!(!fresh.state().is_open(tier), "{tier:?} open at {}", frac * range);
            prop_assert!(!kept.state().is_open(tier), "{tier:?} kept at {}", frac * range);
        }
    }

    /// At any distance, every tier of the profile at once.
    #[test]
    fn at_any_distance_every_tier(
        lat in latitude(),
        lon in longitude(),
        bearing in 0.0..360.0f64,
        profile in prop_oneof![Just(Profile::Story), Just(Profile::City), Just(Profile::Open)],
        log_d in 0.0..4.7f64,
    ) {
        let d = 10f64.powf(log_d);
        let b = destination(lat, lon, bearing, d);
        let (fresh, kept) = decide(profile, (lat, lon), b);
        for tier in Tier::ALL {
            let Some(range) = profile.range_m(tier) else {
                prop_assert!(fresh.state().is_open(tier) && kept.state().is_open(tier));
                continue;
            };
            if d <= range / 2.0 {
                prop_assert!(fresh.state().is_open(tier), "{tier:?} closed at {d}");
                prop_assert!(kept.state().is_open(tier), "{tier:?} closed at {d}");
            }
            if d > 1.5 * range {
                prop_assert!(!fresh.state().is_open(tier), "{tier:?} open at {d}");
                prop_assert!(!kept.state().is_open(tier), "{tier:?} kept at {d}");
            }
        }
    }
}

#[test]
fn across_the_antimeridian_and_over_the_pole() {
    // Side by side across the antimeridian: 10 m apart, one at 179.99995°E.
    let a = (-16.5, 179.999_95);
    let b = destination(a.0, a.1, 90.0, 10.0);
    assert!(b.1 < 0.0, "{b:?}");
    let (fresh, _) = decide(Profile::City, a, b);
    assert!(fresh.state().is_open(Tier::Memories));
    // Over the North Pole: 12 m apart on opposite meridians.
    let (fresh, _) = decide(Profile::City, (89.999_95, 0.0), (89.999_95, 180.0));
    assert!(fresh.state().is_open(Tier::Memories));
    // 40 m apart over the pole: memories (25 m × 1.5 = 37.5 m) stay closed.
    let (fresh, _) = decide(Profile::City, (89.999_82, 45.0), (89.999_82, -135.0));
    assert!(!fresh.state().is_open(Tier::Memories));
    assert!(fresh.state().is_open(Tier::Sight));
}
