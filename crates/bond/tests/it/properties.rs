//! Properties of the rules that must hold for every input, checked with proptest.

use haurach_bond::contact::{Contact, ContactEvent, StretchDetector};
use haurach_bond::geo::{self, Fix};
use haurach_bond::pull::{self, coarsen_bearing, coarsen_distance};
use haurach_bond::thoughts::{Edit, ThoughtText, diff};
use haurach_bond::tier::{Profile, Separation, Tier, TierState};
use proptest::prelude::*;

/// A latitude, with the poles themselves drawn often enough to matter.
pub(crate) fn lat() -> impl Strategy<Value = f64> {
    prop_oneof![1 => Just(90.0), 1 => Just(-90.0), 8 => -90.0..=90.0]
}

/// A longitude, with the antimeridian itself drawn often enough to matter.
pub(crate) fn lon() -> impl Strategy<Value = f64> {
    prop_oneof![1 => Just(180.0), 1 => Just(-180.0), 8 => -180.0..=180.0]
}

fn profile() -> impl Strategy<Value = Profile> {
    prop::sample::select(Profile::ALL.to_vec())
}

/// A profile and one of its tiers that needs a distance, with that distance.
fn ranged_tier() -> impl Strategy<Value = (Profile, Tier, f64)> {
    let ranged: Vec<_> = Profile::ALL
        .into_iter()
        .flat_map(|profile| {
            Tier::ALL
                .into_iter()
                .filter_map(move |tier| profile.range_m(tier).map(|range| (profile, tier, range)))
        })
        .collect();
    prop::sample::select(ranged)
}

/// Distances from 0 to beyond the antipode, denser at the short end where the ranges are.
pub(crate) fn distance() -> impl Strategy<Value = f64> {
    prop_oneof![0.0..100.0, 0.0..3_000.0, 0.0..30_000.0, 0.0..25_000_000.0]
}

pub(crate) fn angle_diff(a: f64, b: f64) -> f64 {
    let d = (a - b).rem_euclid(360.0);
    d.min(360.0 - d)
}

fn fix(lat: f64, lon: f64, accuracy_m: f64, at_ms: i64) -> Fix {
    Fix {
        lat,
        lon,
        accuracy_m,
        at_ms,
    }
}

// Geodesy.
proptest! {
    #[test]
    fn distance_is_symmetric(lat1 in lat(), lon1 in lon(), lat2 in lat(), lon2 in lon()) {
        let there = geo::inverse(lat1, lon1, lat2, lon2);
        let back = geo::inverse(lat2, lon2, lat1, lon1);
        prop_assert!((there.distance_m - back.distance_m).abs() <= 1e-6, "{there:?} {back:?}");
        prop_assert!(there.distance_m >= 0.0);
        prop_assert!((0.0..360.0).contains(&there.bearing_deg), "{there:?}");
    }

    /// Following the bearing for the distance reaches the other point: the bearing is a
    /// right answer even at the poles and between nearly antipodal points.
    #[test]
    fn the_bearing_leads_to_the_point(lat1 in lat(), lon1 in lon(), lat2 in lat(), lon2 in lon()) {
        let g = geo::inverse(lat1, lon1, lat2, lon2);
        let (lat, lon) = geo::destination(lat1, lon1, g.bearing_deg, g.distance_m);
        prop_assert!(geo::valid_coordinates(lat, lon));
        let miss = geo::inverse(lat, lon, lat2, lon2).distance_m;
        prop_assert!(miss <= 1e-6, "{g:?} misses by {miss} m");
    }

    /// Only the difference of longitudes matters, so a pair across the antimeridian
    /// measures as the same pair moved to the prime meridian.
    #[test]
    fn the_antimeridian_is_seamless(
        lat1 in -80.0..80.0f64, east in 0.0..1.0f64,
        lat2 in -80.0..80.0f64, west in 0.0..1.0f64,
    ) {
        let across = geo::inverse(lat1, 180.0 - east, lat2, -180.0 + west);
        let moved = geo::inverse(lat1, -east, lat2, west);
        prop_assert!((across.distance_m - moved.distance_m).abs() <= 1e-6);
        // Between coincident points the bearing means nothing.
        if across.distance_m > 1e-3 {
            prop_assert!(angle_diff(across.bearing_deg, moved.bearing_deg) <= 1e-9);
        }
    }

    /// A pole is one point whatever its longitude, and every bearing from it is defined.
    #[test]
    fn a_pole_is_one_point(
        north in any::<bool>(), pole_lon1 in lon(), pole_lon2 in lon(),
        lat in lat(), lon in lon(),
    ) {
        let pole = if north { 90.0 } else { -90.0 };
        let a = geo::inverse(pole, pole_lon1, lat, lon);
        let b = geo::inverse(pole, pole_lon2, lat, lon);
        prop_assert!((a.distance_m - b.distance_m).abs() <= 1e-6, "{a:?} {b:?}");
        let back = geo::inverse(lat, lon, pole, pole_lon1);
        prop_assert!((a.distance_m - back.distance_m).abs() <= 1e-6);
        prop_assert!((0.0..360.0).contains(&a.bearing_deg) && (0.0..360.0).contains(&back.bearing_deg));
        // Toward the north pole is due north, toward the south pole due south, from
        // anywhere but a pole (from one pole to the other, every meridian is as short).
        if lat.abs() < 90.0 {
            let expected = if north { 0.0 } else { 180.0 };
            prop_assert!(angle_diff(back.bearing_deg, expected) <= 1e-6, "{back:?}");
        }
    }

    #[test]
    fn pessimistic_distance_is_never_less_than_the_distance(
        lat1 in lat(), lon1 in lon(), lat2 in lat(), lon2 in lon(),
        acc1 in prop_oneof![Just(f64::NAN), -10.0..100.0f64],
        acc2 in prop_oneof![Just(f64::NAN), -10.0..100.0f64],
    ) {
        let (a, b) = (fix(lat1, lon1, acc1, 0), fix(lat2, lon2, acc2, 0));
        let d = geo::inverse(lat1, lon1, lat2, lon2).distance_m;
        let p = geo::pessimistic_distance(&a, &b);
        prop_assert!(p >= d && p <= d + 200.0, "{p} {d}");
    }
}

#[test]
fn across_the_antimeridian_on_the_equator() {
    // 0.2° of the equator: 0.2 × 2π × 6 378 137 m / 360.
    let east = geo::inverse(0.0, 179.9, 0.0, -179.9);
    assert!((east.distance_m - 22_263.898).abs() < 1e-3, "{east:?}");
    assert!((east.bearing_deg - 90.0).abs() < 1e-9, "{east:?}");
    let west = geo::inverse(0.0, -179.9, 0.0, 179.9);
    assert!((west.distance_m - east.distance_m).abs() < 1e-9);
    assert!((west.bearing_deg - 270.0).abs() < 1e-9, "{west:?}");
}

// Strength and tiers.
proptest! {
    #[test]
    fn strength_is_in_unit_range_and_never_grows_with_distance(
        profile in profile(), d1 in distance(), d2 in distance(),
    ) {
        let (near, far) = if d1 <= d2 { (d1, d2) } else { (d2, d1) };
        let (s_near, s_far) = (profile.strength(near), profile.strength(far));
        prop_assert!((0.0..=1.0).contains(&s_near) && (0.0..=1.0).contains(&s_far));
        prop_assert!(s_near >= s_far, "{profile:?}: {near} m → {s_near}, {far} m → {s_far}");
    }

    /// From a bond with no distance yet, one update opens exactly the tiers in range.
    #[test]
    fn a_first_update_opens_exactly_the_tiers_in_range(profile in profile(), d in distance()) {
        let mut state = TierState::initial(profile);
        let changes = state.update(profile, d);
        prop_assert!(changes.iter().all(|c| c.open));
        for tier in Tier::ALL {
            let in_range = profile.range_m(tier).is_none_or(|range| d <= range);
            prop_assert_eq!(state.is_open(tier), in_range, "{:?} at {} m", tier, d);
        }
    }

    /// Along any walk, a tier opens only within its range, closes only past 1.1 × its
    /// range, and is never open past 1.1 × its range.
    #[test]
    fn tiers_follow_their_ranges_along_any_walk(
        profile in profile(),
        walk in prop::collection::vec(prop_oneof![9 => distance(), 1 => Just(f64::NAN)], 1..40),
    ) {
        let mut state = TierState::initial(profile);
        for d in walk {
            let before = state;
            let changes = state.update(profile, d);
            for change in &changes {
                let range = profile.range_m(change.tier);
                prop_assert!(range.is_some(), "{change:?}: an unranged tier changed");
                let range = range.unwrap();
                if change.open {
                    prop_assert!(d <= range, "{change:?} opened at {d} m");
                } else {
                    prop_assert!(d.is_nan() || d > range * TierState::HYSTERESIS, "{change:?} at {d} m");
                }
                prop_assert_eq!(before.is_open(change.tier), !change.open);
            }
            for tier in state.open().iter() {
                if let Some(range) = profile.range_m(tier) {
                    prop_assert!(d <= range * TierState::HYSTERESIS, "{tier:?} open at {d} m");
                }
            }
            let mut order = changes.iter().map(|c| c.tier);
            prop_assert!(order.clone().zip(order.by_ref().skip(1)).all(|(a, b)| a < b));
        }
    }

    /// A walker on the edge of a range, wandering 5 % either side of it, never makes an
    /// open tier close.
    #[test]
    fn jitter_at_the_edge_never_flaps(
        (profile, tier, range) in ranged_tier(),
        start in distance(),
        inside in 0.0..=1.0f64,
        jitter in prop::collection::vec(0.95..=1.05f64, 1..50),
    ) {
        let mut state = TierState::initial(profile);
        state.update(profile, start);
        state.update(profile, range * inside);
        prop_assert!(state.is_open(tier));
        for factor in jitter {
            let changes = state.update(profile, range * factor);
            prop_assert!(
                changes.iter().all(|c| c.tier != tier),
                "{tier:?} flapped at {} m: {changes:?}", range * factor
            );
        }
    }

    /// A reset with a distance never keeps open what an update would close, nor opens what
    /// an update would not.
    #[test]
    fn reset_agrees_with_the_ranges(
        from in profile(), to in profile(), d0 in distance(), d in distance(),
    ) {
        let mut state = TierState::initial(from);
        state.update(from, d0);
        let before = state;
        state.reset(to, Some(d.into()));
        for tier in Tier::ALL {
            match to.range_m(tier) {
                None => prop_assert!(state.is_open(tier)),
                Some(range) if d <= range => prop_assert!(state.is_open(tier)),
                Some(range) if d > range * TierState::HYSTERESIS => prop_assert!(!state.is_open(tier)),
                Some(_) => prop_assert_eq!(state.is_open(tier), before.is_open(tier)),
            }
        }
        state.reset(to, None);
        prop_assert_eq!(state, TierState::initial(to));
    }
}

// Together (memories) and the pessimistic distance (every other tier).
proptest! {
    #[test]
    fn only_memories_gain_from_blurry_fixes_and_never_past_the_allowance(
        profile in profile(),
        d in 0.0..200.0f64,
        acc_a in 0.0..500.0f64,
        acc_b in 0.0..500.0f64,
    ) {
        let mut blurry = TierState::initial(profile);
        blurry.update(profile, Separation::of(d, acc_a, acc_b));
        let mut sharp = TierState::initial(profile);
        sharp.update(profile, Separation::of(d, 0.0, 0.0));
        for tier in Tier::ALL {
            if tier == Tier::Memories {
                if let Some(range) = profile.range_m(tier) && blurry.is_open(tier) {
                    prop_assert!(d <= range + 2.0 * Separation::ALLOWANCE_M);
                }
            } else if blurry.is_open(tier) {
                prop_assert!(sharp.is_open(tier), "{:?} opened only for blurry fixes", tier);
            }
        }
    }
}

// The pull.
proptest! {
    #[test]
    fn a_coarse_bearing_is_a_multiple_of_five_near_the_exact_one(bearing in -720.0..720.0f64) {
        let coarse = coarsen_bearing(bearing);
        prop_assert!((0.0..360.0).contains(&coarse), "{coarse}");
        prop_assert_eq!(coarse % 5.0, 0.0);
        prop_assert!(angle_diff(coarse, bearing) <= 2.5 + 1e-9, "{bearing} → {coarse}");
    }

    #[test]
    fn a_coarse_distance_has_two_significant_figures(d in prop_oneof![0.0..100.0, 0.0..25_000_000.0f64]) {
        let coarse = coarsen_distance(d);
        if d == 0.0 {
            prop_assert_eq!(coarse, 0.0);
        } else {
            prop_assert!((coarse - d).abs() <= 0.05 * d, "{d} → {coarse}");
            // Written as a whole number of units of its second significant figure, it
            // needs at most two digits.
            let unit = 10f64.powi(coarse.log10().floor() as i32 - 1);
            let digits = coarse / unit;
            prop_assert!((digits - digits.round()).abs() < 1e-9, "{d} → {coarse}");
            prop_assert!(digits.round() <= 99.0, "{d} → {coarse}");
        }
    }

    #[test]
    fn the_pull_is_exact_only_within_sight(
        lat1 in lat(), lon1 in lon(), lat2 in lat(), lon2 in lon(), sight in any::<bool>(),
    ) {
        let (me, partner) = (fix(lat1, lon1, 5.0, 0), fix(lat2, lon2, 5.0, 0));
        let g = geo::inverse(lat1, lon1, lat2, lon2);
        let p = pull::pull(&me, &partner, sight);
        prop_assert_eq!(p.exact, sight);
        if sight {
            prop_assert_eq!(p.position, Some((lat2, lon2)));
            prop_assert_eq!(p.bearing_deg, g.bearing_deg);
            prop_assert_eq!(p.distance_m, g.distance_m);
        } else {
            prop_assert_eq!(p.position, None);
            prop_assert_eq!(p.bearing_deg, coarsen_bearing(g.bearing_deg));
            prop_assert_eq!(p.distance_m, coarsen_distance(g.distance_m));
        }
    }
}

// Contact and stretch.
proptest! {
    /// Each silence longer than the timeout is reported lost exactly once, at the first
    /// tick past the timeout, and restored with its full length.
    #[test]
    fn contact_is_lost_once_per_silence(
        timeout in 1_000i64..120_000,
        silences in prop::collection::vec((0i64..300_000, 1i64..30_000), 1..20),
        start in 0i64..2_000_000_000_000,
    ) {
        let mut contact = Contact::new(timeout, Some(start), start);
        let mut last_heard = start;
        for (silence, tick_every) in silences {
            let mut lost_events = Vec::new();
            let mut t = last_heard;
            loop {
                t = (t + tick_every).min(last_heard + silence);
                if let Some(event) = contact.tick(t) {
                    lost_events.push((t, event));
                }
                if t == last_heard + silence {
                    break;
                }
            }
            let heard_at = last_heard + silence;
            if silence > timeout {
                prop_assert_eq!(lost_events.len(), 1, "{:?}", lost_events);
                let (at, event) = lost_events[0];
                prop_assert_eq!(event, ContactEvent::Lost { since_ms: last_heard });
                prop_assert!(at > last_heard + timeout && at - tick_every <= last_heard + timeout);
                prop_assert!(!contact.is_live());
                prop_assert_eq!(
                    contact.heard(heard_at),
                    Some(ContactEvent::Restored { lost_for_ms: silence })
                );
            } else {
                prop_assert!(lost_events.is_empty(), "{:?}", lost_events);
                prop_assert_eq!(contact.heard(heard_at), None);
            }
            prop_assert!(contact.is_live());
            prop_assert_eq!(contact.last_heard_ms(), Some(heard_at));
            last_heard = heard_at;
        }
    }

    #[test]
    fn walking_never_stretches(
        lat in -85.0..85.0f64, lon in lon(),
        steps in prop::collection::vec((1i64..3_600_000, 0.0..360.0f64, 0.0..50.0f64), 1..50),
    ) {
        let mut here = fix(lat, lon, 10.0, 0);
        let mut detector = StretchDetector::new(300.0, Some(here));
        for (dt_ms, bearing, accuracy_m) in steps {
            let walked_m = 5.0 * dt_ms as f64 / 3_600.0;
            let (lat, lon) = geo::destination(here.lat, here.lon, bearing, walked_m);
            here = fix(lat, lon, accuracy_m, here.at_ms + dt_ms);
            prop_assert_eq!(detector.observe(&here), None);
        }
    }

    #[test]
    fn fifty_kilometres_in_a_minute_stretches(
        lat in -85.0..85.0f64, lon in lon(), bearing in 0.0..360.0f64,
        acc1 in 0.0..50.0f64, acc2 in 0.0..50.0f64, at in 0i64..2_000_000_000_000,
    ) {
        let mut detector = StretchDetector::new(300.0, None);
        prop_assert_eq!(detector.observe(&fix(lat, lon, acc1, at)), None);
        let (lat2, lon2) = geo::destination(lat, lon, bearing, 50_000.0);
        let stretch = detector.observe(&fix(lat2, lon2, acc2, at + 60_000));
        prop_assert!(stretch.is_some());
        let stretch = stretch.unwrap();
        prop_assert_eq!(stretch.over_ms, 60_000);
        prop_assert!((stretch.jump_m - (50_000.0 - acc1 - acc2)).abs() < 1e-6);
        prop_assert!(stretch.speed_kmh > 2_990.0 && stretch.speed_kmh <= 3_000.0 + 1e-6);
    }
}

// Thoughts.
proptest! {
    #[test]
    fn a_diff_turns_old_into_new(old in any::<String>(), new in any::<String>()) {
        let edits = diff(&old, &new);
        prop_assert!(edits.len() <= 2);
        let mut thought = ThoughtText::default();
        let typed = [Edit::Insert { pos: 0, text: old.clone() }];
        prop_assert!(thought.apply(0, true, &typed));
        prop_assert!(thought.apply(1, false, &edits));
        prop_assert_eq!(thought.text(), new.as_str());
        prop_assert!(thought.in_sync());
    }

    /// Typing, with one batch lost on the way: the receiver notices the gap, keeps the
    /// text it had, and catches up at the next reset.
    #[test]
    fn a_lost_batch_is_noticed_and_a_reset_resyncs(
        texts in prop::collection::vec("\\PC{0,12}", 2..12),
        lost_idx in any::<prop::sample::Index>(),
    ) {
        let lost = 1 + lost_idx.index(texts.len() - 1);
        let mut thought = ThoughtText::default();
        let mut sent = String::new();
        let mut seq = 100;
        prop_assert!(thought.apply(seq, true, &[]));
        for (idx, text) in texts.iter().enumerate() {
            seq += 1;
            let edits = diff(&sent, text);
            sent.clone_from(text);
            if idx == lost {
                continue;
            }
            let before = thought.text().to_owned();
            let accepted = thought.apply(seq, false, &edits);
            prop_assert_eq!(accepted, idx < lost, "batch {} of {}", idx, texts.len());
            if accepted {
                prop_assert_eq!(thought.text(), text.as_str());
            } else {
                prop_assert_eq!(thought.text(), before.as_str());
                prop_assert!(!thought.in_sync());
            }
        }
        seq += 1;
        let reset = [Edit::Insert { pos: 0, text: sent.clone() }];
        prop_assert!(thought.apply(seq, true, &reset));
        prop_assert_eq!(thought.text(), sent.as_str());
        prop_assert!(thought.in_sync());
        prop_assert!(thought.apply(seq + 1, false, &diff(&sent, "")));
        prop_assert_eq!(thought.text(), "");
    }
}

proptest! {
    /// One inverse seen from both ends agrees with two separate inverses.
    #[test]
    fn inverse_both_matches_two_inverses(
        lat1 in -89.0f64..89.0, lon1 in -180.0f64..180.0,
        lat2 in -89.0f64..89.0, lon2 in -180.0f64..180.0,
    ) {
        let (ab, ba) = haurach_bond::geo::inverse_both(lat1, lon1, lat2, lon2);
        let ab2 = haurach_bond::geo::inverse(lat1, lon1, lat2, lon2);
        let ba2 = haurach_bond::geo::inverse(lat2, lon2, lat1, lon1);
        prop_assert!((ab.distance_m - ab2.distance_m).abs() < 1e-6);
        prop_assert!((ba.distance_m - ba2.distance_m).abs() < 1e-6);
        // Near-antipodal pairs have many shortest paths; compare bearings elsewhere.
        if ab.distance_m < 19_000_000.0 {
            let diff = (ab.bearing_deg - ab2.bearing_deg).abs();
            prop_assert!(diff.min(360.0 - diff) < 1e-6, "{} {}", ab.bearing_deg, ab2.bearing_deg);
            let diff = (ba.bearing_deg - ba2.bearing_deg).abs();
            prop_assert!(diff.min(360.0 - diff) < 1e-6, "{} {}", ba.bearing_deg, ba2.bearing_deg);
        }
    }
}
