//! Places: a named centre and radius (home, work, the Needle), and whether a person is
//! inside one, judged with the fix's accuracy and a band of hysteresis so that a person
//! standing on the edge does not arrive and leave over and over.
//!
//! The rule, like the tiers' pessimistic distance:
//!
//! - a person **arrives** when the whole circle of their fix's uncertainty is inside the
//!   place: `distance + accuracy ≤ radius`;
//! - a person who is inside **leaves** only when the whole circle is outside the exit
//!   radius: `distance − accuracy > exit`, where `exit = max(1.1 × radius, radius + 25 m)`.
//!
//! A blurry fix therefore never arrives and never leaves: it cannot tell. The 25 m floor
//! of the band is there because 10 % of a small place (a 50 m café) is less than the
//! wander of a phone's fix standing still.

use crate::geo::{self, Fix};

/// The factor of the band of hysteresis, as for the tiers.
pub const EXIT_FACTOR: f64 = 1.1;

/// The narrowest band of hysteresis, metres.
pub const MIN_BAND_M: f64 = 25.0;

/// The smallest radius a place may have, metres.
pub const MIN_RADIUS_M: f64 = 10.0;

/// The largest radius a place may have, metres (a city).
pub const MAX_RADIUS_M: f64 = 50_000.0;

/// A named circle on the ground.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    /// Latitude of the centre, degrees.
    pub lat: f64,
    /// Longitude of the centre, degrees.
    pub lon: f64,
    /// Radius, metres.
    pub radius_m: f64,
}

/// Arriving at or leaving a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The person is now inside.
    Arrived,
    /// The person is now outside.
    Left,
}

impl Place {
    /// The radius beyond which someone inside has left.
    pub fn exit_radius_m(&self) -> f64 {
        (self.radius_m * EXIT_FACTOR).max(self.radius_m + MIN_BAND_M)
    }

    /// The geodesic distance from the centre to a fix, metres.
    pub fn distance_m(&self, fix: &Fix) -> f64 {
        geo::inverse(self.lat, self.lon, fix.lat, fix.lon).distance_m
    }

    /// Whether someone who was `inside` (or not) is inside after `fix`.
    pub fn judge(&self, inside: bool, fix: &Fix) -> bool {
        self.judge_at(inside, self.distance_m(fix), fix.accuracy_or_zero())
    }

    /// [`Place::judge`] for a fix `d` metres from the centre with accuracy `acc`, when the
    /// distance is known already.
    pub fn judge_at(&self, inside: bool, d: f64, acc: f64) -> bool {
        if inside {
            d - acc <= self.exit_radius_m()
        } else {
            d + acc <= self.radius_m
        }
    }

    /// The transition `fix` makes for someone who was `inside` (or not), if any.
    pub fn transition(&self, inside: bool, fix: &Fix) -> Option<Transition> {
        match (inside, self.judge(inside, fix)) {
            (false, true) => Some(Transition::Arrived),
            (true, false) => Some(Transition::Left),
            _ => None,
        }
    }
}

/// Whether a radius is acceptable for a place.
pub fn valid_radius(radius_m: f64) -> bool {
    (MIN_RADIUS_M..=MAX_RADIUS_M).contains(&radius_m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_distance(place: &Place, d: f64, accuracy_m: f64) -> Fix {
        let (lat, lon) = geo::destination(place.lat, place.lon, 90.0, d);
        Fix {
            lat,
            lon,
            accuracy_m,
            at_ms: 0,
        }
    }

    const HOME: Place = Place {
        lat: 45.8,
        lon: 14.36,
        radius_m: 100.0,
    };

    #[test]
    fn arriving_needs_the_whole_fix_inside() {
        assert!(HOME.judge(false, &at_distance(&HOME, 99.0, 0.0)));
        assert!(!HOME.judge(false, &at_distance(&HOME, 101.0, 0.0)));
        // 80 m from the centre, but the fix could be 30 m farther out.
        assert!(!HOME.judge(false, &at_distance(&HOME, 80.0, 30.0)));
        assert!(HOME.judge(false, &at_distance(&HOME, 60.0, 30.0)));
    }

    #[test]
    fn leaving_needs_the_whole_fix_beyond_the_band() {
        assert_eq!(HOME.exit_radius_m(), 125.0);
        assert!(HOME.judge(true, &at_distance(&HOME, 120.0, 0.0)));
        assert!(!HOME.judge(true, &at_distance(&HOME, 126.0, 0.0)));
        // 200 m out, but the fix could be 100 m nearer: still home.
        assert!(HOME.judge(true, &at_distance(&HOME, 200.0, 100.0)));
    }

    #[test]
    fn a_large_place_keeps_a_band_of_a_tenth() {
        let city = Place {
            radius_m: 5_000.0,
            ..HOME
        };
        assert_eq!(city.exit_radius_m(), 5_500.0);
    }

    #[test]
    fn standing_on_the_edge_does_not_flap() {
        // A phone on the edge, its fixes wandering ±20 m around 100 m with 10 m accuracy.
        let mut inside = true;
        let mut n_transitions = 0;
        for i in 0..200 {
            let d = 100.0 + 20.0 * (f64::from(i) * 0.7).sin();
            if let Some(_t) = HOME.transition(inside, &at_distance(&HOME, d, 10.0)) {
                inside = !inside;
                n_transitions += 1;
            }
        }
        assert_eq!(n_transitions, 0);
        assert!(inside);
    }
}
