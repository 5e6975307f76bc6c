//! The strength-to-size curve of image renditions.

use haurach_bond::images::{
    LADDER, LARGEST_RUNG, SIGHT_EDGE, SIGHT_TOGETHER, Side, THUMBNAIL_SIDE, rendition_side,
    sight_params,
};
use haurach_bond::{Profile, Tier};
use proptest::prelude::*;

fn side_at(profile: Profile, distance_m: f64) -> Side {
    rendition_side(profile, profile.strength(distance_m))
}

#[test]
fn a_thumbnail_at_the_edge_of_the_images_tier() {
    assert_eq!(
        side_at(Profile::Story, 15_000.0),
        Side::AtMost(THUMBNAIL_SIDE)
    );
    assert_eq!(side_at(Profile::City, 750.0), Side::AtMost(THUMBNAIL_SIDE));
    // Held open by hysteresis a little past the range: still the thumbnail.
    assert_eq!(
        side_at(Profile::Story, 16_400.0),
        Side::AtMost(THUMBNAIL_SIDE)
    );
}

#[test]
fn full_size_within_sight_range() {
    for profile in [Profile::Story, Profile::City] {
        let sight = profile.range_m(Tier::Sight).unwrap();
        assert_eq!(side_at(profile, sight), Side::Full, "{profile:?}");
        assert_eq!(side_at(profile, sight * 0.5), Side::Full, "{profile:?}");
        assert_eq!(side_at(profile, 0.0), Side::Full, "{profile:?}");
        assert_ne!(side_at(profile, sight * 1.05), Side::Full, "{profile:?}");
    }
    assert_eq!(side_at(Profile::Open, 10_000_000.0), Side::Full);
}

#[test]
fn the_documented_story_values() {
    let expected = [
        (12_000.0, 96),
        (10_000.0, 128),
        (7_000.0, 256),
        (5_000.0, 512),
        (3_000.0, 1024),
        (2_500.0, 1536),
    ];
    for (d, side) in expected {
        assert_eq!(side_at(Profile::Story, d), Side::AtMost(side), "at {d} m");
    }
    let city = [(500.0, 128), (300.0, 256), (150.0, 1024)];
    for (d, side) in city {
        assert_eq!(
            side_at(Profile::City, d),
            Side::AtMost(side),
            "city at {d} m"
        );
    }
}

#[test]
fn an_unknown_strength_is_the_thumbnail() {
    assert_eq!(
        rendition_side(Profile::Story, f64::NAN),
        Side::AtMost(THUMBNAIL_SIDE)
    );
}

#[test]
fn a_rendition_is_never_larger_than_the_picture() {
    assert_eq!(Side::AtMost(1024).of(640), 640);
    assert_eq!(Side::AtMost(1024).of(4032), 1024);
    assert_eq!(Side::Full.of(4032), 4032);
}

#[test]
fn the_ladder_rises_and_ends_at_the_largest_rung() {
    assert!(LADDER.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(LADDER[0], THUMBNAIL_SIDE);
    assert_eq!(*LADDER.last().unwrap(), LARGEST_RUNG);
}

proptest! {
    /// Coming closer never makes a picture smaller, and every size is a rung or full.
    #[test]
    fn closer_is_never_smaller(a in 0.0..25_000.0f64, b in 0.0..25_000.0f64) {
        for profile in Profile::ALL {
            let (near, far) = if a <= b { (a, b) } else { (b, a) };
            let (s_near, s_far) = (side_at(profile, near), side_at(profile, far));
            prop_assert!(s_near >= s_far, "{profile:?}: {near} m gives {s_near:?}, {far} m gives {s_far:?}");
            if let Side::AtMost(side) = s_near {
                prop_assert!(LADDER.contains(&side));
            }
        }
    }
}

#[test]
fn sight_runs_from_the_edge_to_together() {
    let at = |d: f64| sight_params(Profile::Story, Profile::Story.strength(d));
    assert_eq!(at(2_000.0), SIGHT_EDGE);
    assert_eq!(at(2_100.0), SIGHT_EDGE, "held open by hysteresis");
    assert_eq!(at(20.0), SIGHT_TOGETHER);
    assert_eq!(at(1_500.0).side, 256);
    assert_eq!(at(1_000.0).side, 288);
    assert!((at(1_000.0).fps - 2.75).abs() < 0.01);
    assert_eq!(at(500.0).side, 336);
    assert_eq!(sight_params(Profile::Open, 1.0), SIGHT_TOGETHER);
    assert_eq!(sight_params(Profile::City, f64::NAN), SIGHT_EDGE);
}

proptest! {
    /// Closer never means a slower or smaller sight.
    #[test]
    fn closer_sight_is_never_poorer(a in 0.0..3_000.0f64, b in 0.0..3_000.0f64) {
        for profile in Profile::ALL {
            let (near, far) = if a <= b { (a, b) } else { (b, a) };
            let (n, f) = (
                sight_params(profile, profile.strength(near)),
                sight_params(profile, profile.strength(far)),
            );
            prop_assert!(n.fps >= f.fps && n.side >= f.side);
            prop_assert!(n.side % 16 == 0);
        }
    }
}
