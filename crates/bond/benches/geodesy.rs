//! Micro-benchmarks of the rules the server runs on every move: the geodesic inverse
//! (goal: at most 1 µs per pair), both ends from one inverse, a pull; and what places and
//! the meeting point add to a move (judging a place, the fair point, a recent speed).
//!
//! `cargo bench -p haurach-bond`

use haurach_bond::geo::{self, Fix};
use haurach_bond::pull;

fn main() {
    divan::main();
}

/// Pairs from a city walk to across an ocean, so no single path through the algorithm
/// is measured alone.
const PAIRS: [(f64, f64, f64, f64); 4] = [
    (48.8566, 2.3522, 48.8600, 2.3600),
    (23.1200, 53.6600, 23.1330, 53.7700),
    (40.7128, -74.0060, 51.5074, -0.1278),
    (-33.8688, 151.2093, 35.6762, 139.6503),
];

#[divan::bench]
fn inverse(bencher: divan::Bencher) {
    let mut i = 0;
    bencher.bench_local(|| {
        let (a, b, c, d) = PAIRS[i % PAIRS.len()];
        i += 1;
        geo::inverse(divan::black_box(a), b, c, d)
    });
}

#[divan::bench]
fn inverse_both(bencher: divan::Bencher) {
    let mut i = 0;
    bencher.bench_local(|| {
        let (a, b, c, d) = PAIRS[i % PAIRS.len()];
        i += 1;
        geo::inverse_both(divan::black_box(a), b, c, d)
    });
}

#[divan::bench]
fn coarse_pull(bencher: divan::Bencher) {
    let me = Fix {
        lat: 23.12,
        lon: 53.66,
        accuracy_m: 5.0,
        at_ms: 0,
    };
    let partner = Fix {
        lat: 23.133,
        lon: 53.77,
        accuracy_m: 5.0,
        at_ms: 0,
    };
    bencher.bench_local(|| pull::pull(divan::black_box(&me), &partner, false));
}

/// Judging a place on a move: one inverse.
#[divan::bench]
fn place_judge(bencher: divan::Bencher) {
    let home = haurach_bond::place::Place {
        lat: 23.12,
        lon: 53.66,
        radius_m: 100.0,
    };
    let fix = Fix {
        lat: 23.1205,
        lon: 53.6604,
        accuracy_m: 5.0,
        at_ms: 0,
    };
    bencher.bench_local(|| divan::black_box(&home).judge(true, &fix));
}

/// The fair meeting point: an inverse and a direct problem.
#[divan::bench]
fn meeting_suggest(bencher: divan::Bencher) {
    let a = Fix {
        lat: 23.12,
        lon: 53.66,
        accuracy_m: 5.0,
        at_ms: 0,
    };
    let b = Fix {
        lat: 23.133,
        lon: 53.77,
        accuracy_m: 5.0,
        at_ms: 0,
    };
    bencher.bench_local(|| {
        haurach_bond::meeting::suggest(divan::black_box(&a), Some(1.4), &b, Some(4.0))
    });
}

/// A recent speed over a full window (a fix a second for five minutes): taking a fix
/// and reading the speed.
#[divan::bench]
fn recent_speed_observe_and_read(bencher: divan::Bencher) {
    let mut speed = haurach_bond::meeting::RecentSpeed::new();
    let mut t = 0i64;
    let mut next = move || {
        t += 1_000;
        Fix {
            lat: 23.12 + (t as f64) * 1e-8,
            lon: 53.66,
            accuracy_m: 5.0,
            at_ms: t,
        }
    };
    for _ in 0..300 {
        speed.observe(next());
    }
    bencher.bench_local(|| {
        let fix = next();
        speed.observe(fix);
        speed.speed_mps(fix.at_ms)
    });
}
