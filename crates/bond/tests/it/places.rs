//! Properties of places and the meeting point, and places along a real GPS track.

use haurach_bond::geo::{self, Fix};
use haurach_bond::meeting::{self, REST_SPEED_MPS};
use haurach_bond::place::{MIN_BAND_M, Place, Transition};
use proptest::prelude::*;

fn place() -> impl Strategy<Value = Place> {
    (-80.0..80.0f64, -180.0..180.0f64, 10.0..50_000.0f64).prop_map(|(lat, lon, radius_m)| Place {
        lat,
        lon,
        radius_m,
    })
}

fn fix_at(place: &Place, bearing: f64, d: f64, accuracy_m: f64) -> Fix {
    let (lat, lon) = geo::destination(place.lat, place.lon, bearing, d);
    Fix {
        lat,
        lon,
        accuracy_m,
        at_ms: 0,
    }
}

proptest! {
    /// A blurry fix never moves anyone where a sharp fix at the same spot would not.
    #[test]
    fn accuracy_only_ever_holds_back(
        p in place(),
        inside: bool,
        bearing in 0.0..360.0f64,
        frac in 0.0..2.0f64,
        acc in 0.0..5_000.0f64,
    ) {
        let d = p.radius_m * frac;
        let blurry = p.transition(inside, &fix_at(&p, bearing, d, acc));
        if let Some(t) = blurry {
            prop_assert_eq!(p.transition(inside, &fix_at(&p, bearing, d, 0.0)), Some(t));
        }
    }

    /// Fixes that wander less than the band can make at most one transition, whatever
    /// their accuracy: standing on the edge does not flap.
    #[test]
    fn wandering_within_the_band_moves_at_most_once(
        p in place(),
        inside: bool,
        start in 0.5..1.2f64,
        steps in prop::collection::vec((0.0..1.0f64, 0.0..360.0f64, 0.0..50.0f64), 1..60),
    ) {
        let band = (p.exit_radius_m() - p.radius_m).max(MIN_BAND_M);
        // Just under the band, less a hair for the ellipsoid's rounding.
        let width = band * 0.999;
        let base = p.radius_m * start;
        let mut state = inside;
        let mut n = 0;
        for (u, bearing, acc) in steps {
            let fix = fix_at(&p, bearing, (base + u * width).max(0.0), acc);
            if p.transition(state, &fix).is_some() {
                state = !state;
                n += 1;
            }
        }
        prop_assert!(n <= 1, "{} transitions", n);
    }

    /// The fair point splits the way so both arrive together (at their usable speeds), and
    /// the later arrival is never later than at the midpoint.
    #[test]
    fn the_fair_point_is_never_worse_than_halfway(
        lat_a in -60.0..60.0f64, lon_a in -170.0..170.0f64,
        bearing in 0.0..360.0f64, d in 10.0..200_000.0f64,
        va in 0.0..40.0f64, vb in 0.0..40.0f64,
    ) {
        let a = Fix { lat: lat_a, lon: lon_a, accuracy_m: 0.0, at_ms: 0 };
        let (lat_b, lon_b) = geo::destination(lat_a, lon_a, bearing, d);
        let b = Fix { lat: lat_b, lon: lon_b, accuracy_m: 0.0, at_ms: 0 };
        let s = meeting::suggest(&a, Some(va), &b, Some(vb));
        prop_assert!((s.distance_m[0] + s.distance_m[1] - d).abs() < 1e-6 * d.max(1.0));
        prop_assert!((s.eta_s[0] - s.eta_s[1]).abs() <= 1e-6 * s.eta_s[0].max(1.0));
        let (ua, ub) = (va.max(REST_SPEED_MPS), vb.max(REST_SPEED_MPS));
        let halfway = (d / 2.0 / ua).max(d / 2.0 / ub);
        prop_assert!(s.eta_s[0] <= halfway * (1.0 + 1e-9));
        // The point is on the way: its distances from both ends add up.
        let from_a = geo::inverse(lat_a, lon_a, s.lat, s.lon).distance_m;
        let from_b = geo::inverse(lat_b, lon_b, s.lat, s.lon).distance_m;
        prop_assert!((from_a + from_b - d).abs() < 1e-3, "{} + {} vs {}", from_a, from_b, d);
    }
}

/// The track points of a GPX file: just enough of GPX for the shared test data.
fn track(path: &str) -> Vec<(f64, f64)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let attr = |tag: &str, name: &str| -> f64 {
        let start = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        let end = start + tag[start..].find('"').unwrap();
        tag[start..end].parse().unwrap()
    };
    text.split("<trkpt ")
        .skip(1)
        .map(|chunk| {
            let tag = &chunk[..chunk.find('>').unwrap()];
            (attr(tag, "lat"), attr(tag, "lon"))
        })
        .collect()
}

fn transitions(track: &[(f64, f64)], place: &Place, accuracy_m: f64) -> Vec<(usize, Transition)> {
    let mut inside = false;
    let mut out = Vec::new();
    for (i, (lat, lon)) in track.iter().enumerate() {
        let fix = Fix {
            lat: *lat,
            lon: *lon,
            accuracy_m,
            at_ms: 0,
        };
        if let Some(t) = place.transition(inside, &fix) {
            inside = t == Transition::Arrived;
            out.push((i, t));
        }
    }
    out
}

#[test]
fn a_hike_passes_a_lake_shore_place_once() {
    // A 27.6 km hike, 871 points (tkrajina/gpxpy's korita-zbevnica).
    let hike = track(&format!(
        "{}/../../../shared/data/gpx/gpxpy-korita-zbevnica.gpx",
        env!("CARGO_MANIFEST_DIR")
    ));
    assert_eq!(hike.len(), 871);
    // A place around the hike's 300th point: the hike walks in once and out once.
    let (lat, lon) = hike[300];
    let spot = Place {
        lat,
        lon,
        radius_m: 200.0,
    };
    let seen = transitions(&hike, &spot, 5.0);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].1, Transition::Arrived);
    assert_eq!(seen[1].1, Transition::Left);
    assert!(seen[0].0 < 300 && seen[1].0 > 300, "{seen:?}");
    // A phone unsure by more than the place's radius can never be sure it is inside.
    assert_eq!(transitions(&hike, &spot, 250.0), []);
}

#[test]
fn a_car_ride_leaves_home_and_comes_back() {
    // 2.7 km by car around Višnjan, back where it started (tkrajina/gpxpy).
    let ride = track(&format!(
        "{}/../../../shared/data/gpx/gpxpy-around-visnjan-with-car.gpx",
        env!("CARGO_MANIFEST_DIR")
    ));
    let (lat, lon) = ride[0];
    let home = Place {
        lat,
        lon,
        radius_m: 100.0,
    };
    let kinds: Vec<Transition> = transitions(&ride, &home, 0.0)
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    assert_eq!(
        kinds,
        [Transition::Arrived, Transition::Left, Transition::Arrived]
    );
}
