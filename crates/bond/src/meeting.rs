//! The meeting point (the Needle): where the partners should meet, fair to both.
//!
//! Moving toward each other along the geodesic between them at their recent speeds, the
//! partners meet soonest at the point where they arrive together: the one who moves
//! faster covers the larger share, `va / (va + vb)` of the way. That point minimises the
//! later of the two arrivals. When either speed is unknown (or both partners are at
//! rest), the suggestion is the geodesic midpoint.
//!
//! A person standing still can still walk: a recent speed below [`REST_SPEED_MPS`] counts
//! as that speed, so a partner at rest is not made to wait for the other to walk the
//! whole way.

use crate::geo::{self, Fix};

/// The speed a person at rest is assumed to be able to walk at, metres per second.
pub const REST_SPEED_MPS: f64 = 1.0;

/// How far back a recent speed looks, milliseconds.
pub const SPEED_WINDOW_MS: i64 = 5 * 60_000;

/// The shortest stretch of time a speed is measured over, milliseconds.
pub const MIN_SPEED_SPAN_MS: i64 = 10_000;

/// The shortest time between two fixes the recent speed keeps (the newest fix may be
/// closer; it is replaced by the next until it is not).
pub const SPEED_STEP_MS: i64 = 1_000;

/// Within this distance of the meeting point a person has arrived, metres (with the
/// fix's accuracy and the hysteresis of [`crate::place`]).
pub const ARRIVAL_RADIUS_M: f64 = 50.0;

/// A suggested meeting point and what it means for each partner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Suggestion {
    /// Latitude of the point, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Whether the speeds moved it off the geodesic midpoint (false: a speed is unknown,
    /// or both are at rest).
    pub by_speed: bool,
    /// For each partner (in the order given): distance to the point, metres.
    pub distance_m: [f64; 2],
    /// For each partner: the bearing toward the point (toward the other partner, since
    /// the point lies on the geodesic between them), degrees.
    pub bearing_deg: [f64; 2],
    /// For each partner: the estimated time to walk (or ride) there, seconds.
    pub eta_s: [f64; 2],
}

/// The speed used for an estimate: the recent one, but never below a walk.
pub fn usable_speed(speed_mps: Option<f64>) -> f64 {
    speed_mps
        .filter(|s| s.is_finite())
        .unwrap_or(REST_SPEED_MPS)
        .max(REST_SPEED_MPS)
}

/// Estimated seconds to cover `distance_m` at a recent speed (see [`usable_speed`]).
pub fn eta_s(distance_m: f64, speed_mps: Option<f64>) -> f64 {
    distance_m / usable_speed(speed_mps)
}

/// The fair meeting point of two partners at `a` and `b` with their recent speeds.
pub fn suggest(a: &Fix, speed_a: Option<f64>, b: &Fix, speed_b: Option<f64>) -> Suggestion {
    let (ab, ba) = geo::inverse_both(a.lat, a.lon, b.lat, b.lon);
    suggest_along(a, [&ab, &ba], speed_a, speed_b)
}

/// [`suggest`] when the geodesic between the partners is solved already: `toward[0]` from
/// `a` toward the partner, `toward[1]` back (as [`geo::inverse_both`] gives them). Costs
/// one direct geodesic (the point itself) and nothing else.
pub fn suggest_along(
    a: &Fix,
    toward: [&geo::Geodesic; 2],
    speed_a: Option<f64>,
    speed_b: Option<f64>,
) -> Suggestion {
    let g = toward[0];
    let (va, vb) = (usable_speed(speed_a), usable_speed(speed_b));
    // Both at rest (or walking no faster than a rest counts) also meet halfway.
    let (share, by_speed) = match (speed_a, speed_b) {
        (Some(_), Some(_)) if va > REST_SPEED_MPS || vb > REST_SPEED_MPS => (va / (va + vb), true),
        _ => (0.5, false),
    };
    let da = g.distance_m * share;
    let db = g.distance_m - da;
    let (lat, lon) = geo::destination(a.lat, a.lon, g.bearing_deg, da);
    Suggestion {
        lat,
        lon,
        by_speed,
        distance_m: [da, db],
        bearing_deg: [g.bearing_deg, toward[1].bearing_deg],
        eta_s: [eta_s(da, speed_a), eta_s(db, speed_b)],
    }
}

/// A person's recent speed from their recent fixes: the length of the path over the last
/// [`SPEED_WINDOW_MS`], divided by the time it took.
///
/// The path's length is kept as fixes come and go (one geodesic inverse per fix, never
/// one per step of the window), so reading the speed costs nothing. Fixes closer than
/// [`SPEED_STEP_MS`] to the one kept before them replace each other, so the window holds
/// at most about 300 fixes however fast a client sends.
#[derive(Debug, Clone, Default)]
pub struct RecentSpeed {
    /// Each fix with the length of the step that reached it from the one before.
    fixes: std::collections::VecDeque<(Fix, f64)>,
    /// The sum of the steps after the first fix, metres.
    path_m: f64,
}

impl RecentSpeed {
    /// No fixes yet.
    pub fn new() -> RecentSpeed {
        RecentSpeed::default()
    }

    /// Takes a fix; an older one than the newest held is ignored.
    pub fn observe(&mut self, fix: Fix) {
        if self
            .fixes
            .back()
            .is_some_and(|(last, _)| last.at_ms > fix.at_ms)
        {
            return;
        }
        // The newest fix held is only provisional while it is closer than a step to the
        // one before it: the new fix takes its place.
        let len = self.fixes.len();
        if len >= 2
            && self.fixes[len - 1].0.at_ms - self.fixes[len - 2].0.at_ms < SPEED_STEP_MS
            && let Some((_, step)) = self.fixes.pop_back()
        {
            self.path_m -= step;
        }
        let step = match self.fixes.back() {
            Some((last, _)) => geo::inverse(last.lat, last.lon, fix.lat, fix.lon).distance_m,
            None => 0.0,
        };
        self.fixes.push_back((fix, step));
        self.path_m += step;
        let mut popped = false;
        while self
            .fixes
            .front()
            .is_some_and(|(first, _)| fix.at_ms - first.at_ms > SPEED_WINDOW_MS)
        {
            self.fixes.pop_front();
            popped = true;
        }
        if popped {
            // The new first fix's step starts outside the window. The sum is taken again
            // (additions only) rather than subtracted, so no rounding drift builds up.
            if let Some((_, step)) = self.fixes.front_mut() {
                *step = 0.0;
            }
            self.path_m = self.fixes.iter().map(|(_, step)| step).sum();
        }
    }

    /// Metres per second over the window, or `None` when the fixes span less than
    /// [`MIN_SPEED_SPAN_MS`] or the newest is older than the window at `now_ms`.
    pub fn speed_mps(&self, now_ms: i64) -> Option<f64> {
        let (first, last) = (self.fixes.front()?.0, self.fixes.back()?.0);
        let span = last.at_ms - first.at_ms;
        if span < MIN_SPEED_SPAN_MS || now_ms - last.at_ms > SPEED_WINDOW_MS {
            return None;
        }
        Some(self.path_m.max(0.0) / (span as f64 / 1000.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix(lat: f64, lon: f64, at_ms: i64) -> Fix {
        Fix {
            lat,
            lon,
            accuracy_m: 0.0,
            at_ms,
        }
    }

    #[test]
    fn each_partners_way_to_the_point_is_what_an_inverse_to_it_gives() {
        let (a, b) = (fix(48.85, 2.35, 0), fix(45.76, 4.83, 0));
        let s = suggest(&a, Some(2.0), &b, Some(6.0));
        assert!(s.by_speed);
        for (i, from) in [a, b].iter().enumerate() {
            let g = geo::inverse(from.lat, from.lon, s.lat, s.lon);
            assert!(
                (g.distance_m - s.distance_m[i]).abs() < 1e-6,
                "{i}: {g:?} {s:?}"
            );
            assert!(
                (g.bearing_deg - s.bearing_deg[i]).abs() < 1e-6,
                "{i}: {g:?} {s:?}"
            );
        }
    }

    #[test]
    fn unknown_speeds_meet_at_the_midpoint() {
        let a = fix(0.0, 0.0, 0);
        let b = fix(0.0, 0.2, 0);
        let s = suggest(&a, None, &b, Some(3.0));
        assert!(!s.by_speed);
        assert!((s.lon - 0.1).abs() < 1e-9 && s.lat.abs() < 1e-9, "{s:?}");
        assert!((s.distance_m[0] - s.distance_m[1]).abs() < 1e-6);
        // Estimates still use what is known: a walk for the unknown one.
        assert!((s.eta_s[0] - s.distance_m[0] / REST_SPEED_MPS).abs() < 1e-6);
        assert!((s.eta_s[1] - s.distance_m[1] / 3.0).abs() < 1e-6);
    }

    #[test]
    fn the_faster_one_covers_more_and_both_arrive_together() {
        // A cyclist at 5 m/s and a walker at 1.25 m/s, 10 km apart on the equator.
        let a = fix(0.0, 0.0, 0);
        let (lat, lon) = geo::destination(0.0, 0.0, 90.0, 10_000.0);
        let b = fix(lat, lon, 0);
        let s = suggest(&a, Some(5.0), &b, Some(1.25));
        assert!(s.by_speed);
        assert!((s.distance_m[0] - 8_000.0).abs() < 1e-6, "{s:?}");
        assert!((s.distance_m[1] - 2_000.0).abs() < 1e-6, "{s:?}");
        assert!((s.eta_s[0] - 1_600.0).abs() < 1e-6 && (s.eta_s[1] - 1_600.0).abs() < 1e-6);
        let from_a = geo::inverse(0.0, 0.0, s.lat, s.lon).distance_m;
        assert!((from_a - 8_000.0).abs() < 1e-6);
    }

    #[test]
    fn two_at_rest_meet_halfway() {
        let a = fix(0.0, 0.0, 0);
        let b = fix(0.0, 0.2, 0);
        let s = suggest(&a, Some(0.2), &b, Some(0.0));
        assert!(!s.by_speed);
        assert!((s.lon - 0.1).abs() < 1e-9, "{s:?}");
    }

    #[test]
    fn a_partner_at_rest_still_walks() {
        let a = fix(0.0, 0.0, 0);
        let (lat, lon) = geo::destination(0.0, 0.0, 0.0, 3_000.0);
        let b = fix(lat, lon, 0);
        let s = suggest(&a, Some(2.0), &b, Some(0.0));
        assert!((s.distance_m[0] - 2_000.0).abs() < 1e-6, "{s:?}");
        assert!((s.eta_s[0] - s.eta_s[1]).abs() < 1e-6);
    }

    fn lat_at(north_m: f64) -> f64 {
        geo::destination(0.0, 0.0, 0.0, north_m).0
    }

    #[test]
    fn recent_speed_is_path_over_time_within_the_window() {
        let mut r = RecentSpeed::new();
        assert_eq!(r.speed_mps(0), None);
        // 100 m north every 20 s: 5 m/s.
        for i in 0..10 {
            let (lat, lon) = geo::destination(0.0, 0.0, 0.0, 100.0 * f64::from(i));
            r.observe(fix(lat, lon, i64::from(i) * 20_000));
        }
        let v = r.speed_mps(180_000).unwrap();
        assert!((v - 5.0).abs() < 1e-6, "{v}");
        // Nothing heard for longer than the window: unknown.
        assert_eq!(r.speed_mps(180_000 + SPEED_WINDOW_MS + 1), None);
        // Resting at 900 m until 440 s: the fixes before 140 s leave the window, and with
        // them their steps. 700 m to 900 m over 300 s.
        r.observe(fix(lat_at(900.0), 0.0, 440_000));
        let v = r.speed_mps(440_000).unwrap();
        assert!((v - 200.0 / 300.0).abs() < 1e-9, "{v}");
        // Still resting at 560 s: only the rest is left, 0 m over 120 s.
        r.observe(fix(lat_at(900.0), 0.0, 560_000));
        assert_eq!(r.speed_mps(560_000), Some(0.0));
        // A single fix spans no time.
        let mut one = RecentSpeed::new();
        one.observe(fix(0.0, 0.0, 0));
        assert_eq!(one.speed_mps(0), None);
    }

    #[test]
    fn fixes_many_times_a_second_keep_the_window_small_and_the_speed_right() {
        let mut r = RecentSpeed::new();
        // 3 m/s due north, 50 fixes a second, for ten minutes.
        for i in 0..30_000 {
            let at_ms = i64::from(i) * 20;
            let (lat, lon) = geo::destination(0.0, 0.0, 0.0, 3.0 * at_ms as f64 / 1000.0);
            r.observe(fix(lat, lon, at_ms));
        }
        assert!(r.fixes.len() <= 302, "{} fixes held", r.fixes.len());
        let v = r.speed_mps(599_980).unwrap();
        assert!((v - 3.0).abs() < 1e-6, "{v}");
    }
}
