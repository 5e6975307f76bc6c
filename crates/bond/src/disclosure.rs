//! What a partner may learn of a position: the one place where the privacy of the pull
//! is decided.
//!
//! The rule (DESIGN.md, "Privacy of the pull"): within sight range a partner learns
//! positions exactly; beyond it only a coarsened pull, the bearing rounded to 5° and the
//! distance to two significant figures, and never coordinates. Everything shown about
//! where a partner is follows it: the pull itself, the distance left before the next
//! tier opens, each one's way to a meeting point that lies between them (distance,
//! bearing and time), a partner's places, and the point an OwnTracks phone draws for
//! the partner.
//!
//! A [`Disclosure`] is that decision, made once from the tiers ([`Disclosure::of`]); its
//! methods apply it to each kind of value. The server goes through it rather than
//! calling [`coarsen_bearing`] and [`coarsen_distance`] itself. Those two stay public
//! for tests that check a coarse value against the rounding (and for [`crate::pull`],
//! which re-exports them), not as a second way of deciding what is shown.

use crate::geo::{self, Fix, Geodesic};
use crate::tier::{Tier, TierState};

/// The pull toward the partner, as one partner may learn it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pull {
    /// Initial bearing toward the partner, degrees in [0, 360); a multiple of 5 unless exact.
    pub bearing_deg: f64,
    /// Geodesic distance to the partner in metres; two significant figures unless exact.
    pub distance_m: f64,
    /// Whether this is the exact pull (within sight range).
    pub exact: bool,
    /// The partner's (lat, lon), only when exact.
    pub position: Option<(f64, f64)>,
}

/// The step a coarse bearing is rounded to, degrees.
pub const BEARING_STEP_DEG: f64 = 5.0;

/// How much a partner may learn of a position: everything within sight range, only a
/// coarsened pull beyond it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disclosure {
    /// Within sight range: positions, bearings and distances exactly.
    Exact,
    /// Beyond sight range: bearings to [`BEARING_STEP_DEG`], distances (and the times
    /// that would give a distance away) to two significant figures, no coordinates.
    Coarse,
}

/// Whether a partner may learn how fresh the other's latest fix is ("last seen") and
/// their phone's battery level: only while the feelings tier is open. Beyond it the
/// pull keeps coming, but when a fix was taken and how full the battery is say how
/// someone's day goes (asleep, out since morning), which is a feeling's worth of
/// closeness; an OwnTracks friend is then given the time of the answer instead.
pub fn shows_vitals(tiers: TierState) -> bool {
    tiers.is_open(Tier::Feelings)
}

/// Where an OwnTracks phone draws the partner: a point and the radius of its uncertainty.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Whereabouts {
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Radius of the uncertainty, metres: the partner's own accuracy when exact, the
    /// reach of the rounding (in whole metres) when coarse.
    pub accuracy_m: f64,
}

impl Disclosure {
    /// The disclosure for a bond whose tiers are `tiers`: exact while sight is open.
    pub fn of(tiers: TierState) -> Disclosure {
        Disclosure::from_sight(tiers.is_open(Tier::Sight))
    }

    /// Exact when `sight_open`, coarse otherwise.
    pub fn from_sight(sight_open: bool) -> Disclosure {
        if sight_open {
            Disclosure::Exact
        } else {
            Disclosure::Coarse
        }
    }

    /// Whether positions are shown exactly.
    pub fn is_exact(self) -> bool {
        self == Disclosure::Exact
    }

    /// The pull toward `partner` along `toward`, the geodesic from me to them (from
    /// [`geo::inverse`] or [`geo::inverse_both`]). Exact, it is that geodesic and the
    /// partner's position; coarse, the rounded bearing and distance and no position.
    pub fn pull(self, toward: Geodesic, partner: &Fix) -> Pull {
        Pull {
            bearing_deg: self.bearing_deg(toward.bearing_deg),
            distance_m: self.distance_m(toward.distance_m),
            exact: self.is_exact(),
            position: self.position((partner.lat, partner.lon)),
        }
    }

    /// A distance that depends on where the partner is (the pull's, a way to a meeting
    /// point between us, how far the next tier is), as it may be shown: exact, or rounded
    /// to two significant figures ([`coarsen_distance`]).
    pub fn distance_m(self, distance_m: f64) -> f64 {
        match self {
            Disclosure::Exact => distance_m,
            Disclosure::Coarse => coarsen_distance(distance_m),
        }
    }

    /// A bearing that depends on where the partner is, as it may be shown: exact (as it
    /// is given, not normalised), or rounded to [`BEARING_STEP_DEG`] in [0, 360)
    /// ([`coarsen_bearing`]).
    pub fn bearing_deg(self, bearing_deg: f64) -> f64 {
        match self {
            Disclosure::Exact => bearing_deg,
            Disclosure::Coarse => coarsen_bearing(bearing_deg),
        }
    }

    /// A time that depends on a distance to the partner (how long it takes to reach a
    /// meeting point between us), as it may be shown. Exact, or rounded to two
    /// significant figures like the distance it would otherwise give away.
    pub fn duration_s(self, duration_s: f64) -> f64 {
        self.distance_m(duration_s)
    }

    /// A position (a place's centre, a meeting point between us, the partner's fix), if
    /// it may be shown: only when exact.
    pub fn position<T>(self, position: T) -> Option<T> {
        match self {
            Disclosure::Exact => Some(position),
            Disclosure::Coarse => None,
        }
    }

    /// Where the partner at `partner` may be drawn for me, at `me`, on a map that needs
    /// a point (an OwnTracks friend).
    ///
    /// Exact, it is the partner's fix with its accuracy (whether or not I have a fix).
    /// Coarse, it is the point reached from my own fix along the coarse pull, so it says
    /// nothing the coarse pull does not; its accuracy is how far the rounding can move a
    /// point ([`coarse_reach_m`]). Without a fix of mine there is nothing to place it from:
    /// `None`.
    pub fn whereabouts(self, me: Option<&Fix>, partner: &Fix) -> Option<Whereabouts> {
        match self {
            Disclosure::Exact => Some(Whereabouts {
                lat: partner.lat,
                lon: partner.lon,
                accuracy_m: partner.accuracy_or_zero(),
            }),
            Disclosure::Coarse => {
                let me = me?;
                let pull = self.pull(
                    geo::inverse(me.lat, me.lon, partner.lat, partner.lon),
                    partner,
                );
                let (lat, lon) =
                    geo::destination(me.lat, me.lon, pull.bearing_deg, pull.distance_m);
                Some(Whereabouts {
                    lat,
                    lon,
                    accuracy_m: coarse_reach_m(pull.distance_m),
                })
            }
        }
    }
}

/// How far from the point on a coarse pull of `distance_m` (already coarse) the partner
/// may be, in whole metres: 5 % of the distance for its rounding to two significant
/// figures, plus the distance times the tangent of half a bearing step for the bearing's
/// rounding. The two errors are at right angles, so their sum is generous.
pub fn coarse_reach_m(distance_m: f64) -> f64 {
    let half_step = (BEARING_STEP_DEG / 2.0).to_radians();
    (distance_m * 0.05 + distance_m * half_step.tan()).round()
}

/// A bearing rounded to the nearest 5 degrees, in [0, 360).
///
/// Halves round away from zero (2.5 becomes 5), and anything that rounds to 360 is 0.
/// The server shows coarse bearings through [`Disclosure::bearing_deg`], not this.
pub fn coarsen_bearing(bearing_deg: f64) -> f64 {
    geo::normalize_bearing((bearing_deg / BEARING_STEP_DEG).round() * BEARING_STEP_DEG)
}

/// A distance rounded to two significant figures.
///
/// 17 234 m becomes 17 000 m, 1 549 m becomes 1 500 m, 9.96 m becomes 10 m; halves round
/// away from zero. Zero and non-finite distances are returned as they are. The server
/// shows coarse distances through [`Disclosure::distance_m`], not this.
pub fn coarsen_distance(distance_m: f64) -> f64 {
    if distance_m == 0.0 || !distance_m.is_finite() {
        return distance_m;
    }
    // The power of ten of the second significant figure. `log10` can be off by one just
    // below a power of ten, so the exponent is checked against the value itself.
    let magnitude = distance_m.abs();
    let mut exp = magnitude.log10().floor() as i32;
    if 10f64.powi(exp) > magnitude {
        exp -= 1;
    } else if 10f64.powi(exp + 1) <= magnitude {
        exp += 1;
    }
    let step_exp = exp - 1;
    // Scaling by an exact power of ten (multiplying for steps ≥ 1, dividing for steps
    // < 1, since 0.1 and its kin are not exact in binary) keeps results such as 0.12
    // free of a trailing ...0000001.
    if step_exp >= 0 {
        let step = 10f64.powi(step_exp);
        (distance_m / step).round() * step
    } else {
        let scale = 10f64.powi(-step_exp);
        (distance_m * scale).round() / scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tier::{Profile, TierSet};

    fn fix(lat: f64, lon: f64, accuracy_m: f64) -> Fix {
        Fix {
            lat,
            lon,
            accuracy_m,
            at_ms: 0,
        }
    }

    #[test]
    fn distances_keep_two_significant_figures() {
        assert_eq!(coarsen_distance(17_234.0), 17_000.0);
        assert_eq!(coarsen_distance(1_549.0), 1_500.0);
        assert_eq!(coarsen_distance(1_550.0), 1_600.0);
        assert_eq!(coarsen_distance(0.0), 0.0);
        assert_eq!(coarsen_distance(9.96), 10.0);
        assert_eq!(coarsen_distance(99.6), 100.0);
        assert_eq!(coarsen_distance(1_000.0), 1_000.0);
        assert_eq!(coarsen_distance(999.0), 1_000.0);
        assert_eq!(coarsen_distance(0.1234), 0.12);
        assert_eq!(coarsen_distance(20_003_931.46), 20_000_000.0);
    }

    #[test]
    fn bearings_round_to_five_degrees() {
        assert_eq!(coarsen_bearing(0.0), 0.0);
        assert_eq!(coarsen_bearing(2.4), 0.0);
        assert_eq!(coarsen_bearing(2.5), 5.0);
        assert_eq!(coarsen_bearing(93.0), 95.0);
        assert_eq!(coarsen_bearing(357.4), 355.0);
        assert_eq!(coarsen_bearing(357.5), 0.0);
        assert_eq!(coarsen_bearing(359.99), 0.0);
        assert!(coarsen_bearing(-1.0).is_sign_positive());
    }

    #[test]
    fn sight_decides() {
        assert_eq!(
            Disclosure::of(TierState::initial(Profile::Story)),
            Disclosure::Coarse
        );
        assert_eq!(
            Disclosure::of(TierState::initial(Profile::City)),
            Disclosure::Coarse
        );
        // "Open" shares everything at any range: sight is open from the start.
        assert_eq!(
            Disclosure::of(TierState::initial(Profile::Open)),
            Disclosure::Exact
        );
        let mut sight = TierSet::EMPTY;
        sight.insert(Tier::Sight);
        assert_eq!(Disclosure::of(TierState::new(sight)), Disclosure::Exact);
        // Glimpse is not sight: a partner seen on request is still only pulled coarsely.
        let mut glimpse = TierSet::EMPTY;
        glimpse.insert(Tier::Glimpse);
        assert_eq!(Disclosure::of(TierState::new(glimpse)), Disclosure::Coarse);
        assert!(Disclosure::from_sight(true).is_exact());
        assert!(!Disclosure::from_sight(false).is_exact());
    }

    #[test]
    fn beyond_sight_the_pull_hides_the_position() {
        let me = fix(0.0, 0.0, 0.0);
        let partner = fix(0.1, 0.1, 0.0);
        let g = geo::inverse(0.0, 0.0, 0.1, 0.1);
        let coarse = Disclosure::Coarse.pull(g, &partner);
        assert_eq!(
            coarse,
            Pull {
                bearing_deg: 45.0,
                distance_m: 16_000.0,
                exact: false,
                position: None,
            }
        );
        let exact = Disclosure::Exact.pull(g, &partner);
        assert!(exact.exact);
        assert_eq!(exact.position, Some((0.1, 0.1)));
        assert_eq!(
            (exact.bearing_deg, exact.distance_m),
            (g.bearing_deg, g.distance_m)
        );

        // The point an OwnTracks phone draws: 16 km along 45° from me, within 1 499 m.
        let w = Disclosure::Coarse.whereabouts(Some(&me), &partner).unwrap();
        let (lat, lon) = geo::destination(0.0, 0.0, 45.0, 16_000.0);
        assert_eq!((w.lat, w.lon), (lat, lon));
        assert_eq!(w.accuracy_m, 1_499.0);
        assert!(geo::inverse(w.lat, w.lon, 0.1, 0.1).distance_m <= w.accuracy_m);
    }

    #[test]
    fn a_bearing_just_short_of_north_is_north_only_when_coarse() {
        assert_eq!(Disclosure::Coarse.bearing_deg(357.5), 0.0);
        assert_eq!(Disclosure::Exact.bearing_deg(357.5), 357.5);
        // Exact bearings are passed on as given, as the meeting legs always were.
        assert_eq!(Disclosure::Exact.bearing_deg(-1.0), -1.0);
        assert_eq!(Disclosure::Coarse.bearing_deg(-1.0), 0.0);
    }

    #[test]
    fn times_are_rounded_like_distances() {
        assert_eq!(Disclosure::Coarse.duration_s(1_234.5), 1_200.0);
        assert_eq!(Disclosure::Exact.duration_s(1_234.5), 1_234.5);
        assert_eq!(Disclosure::Coarse.distance_m(0.0), 0.0);
        assert_eq!(Disclosure::Coarse.distance_m(f64::INFINITY), f64::INFINITY);
    }

    #[test]
    fn coordinates_only_within_sight() {
        assert_eq!(Disclosure::Exact.position((1.0, 2.0)), Some((1.0, 2.0)));
        assert_eq!(Disclosure::Coarse.position((1.0, 2.0)), None);
    }

    #[test]
    fn whereabouts_without_my_fix() {
        let partner = fix(45.8, 14.36, 12.0);
        // Within sight my own fix is not needed.
        assert_eq!(
            Disclosure::Exact.whereabouts(None, &partner),
            Some(Whereabouts {
                lat: 45.8,
                lon: 14.36,
                accuracy_m: 12.0,
            })
        );
        // Beyond it there is nothing to place the coarse pull from.
        assert_eq!(Disclosure::Coarse.whereabouts(None, &partner), None);
    }

    #[test]
    fn an_unknown_accuracy_is_shown_as_zero() {
        let me = fix(45.0, 14.0, 5.0);
        for accuracy_m in [f64::NAN, -3.0] {
            let w = Disclosure::Exact
                .whereabouts(Some(&me), &fix(45.8, 14.36, accuracy_m))
                .unwrap();
            assert_eq!(w.accuracy_m, 0.0);
        }
    }

    #[test]
    fn a_partner_on_my_spot_is_drawn_on_it() {
        let me = fix(45.8, 14.36, 30.0);
        let w = Disclosure::Coarse.whereabouts(Some(&me), &me).unwrap();
        assert_eq!((w.lat, w.lon, w.accuracy_m), (45.8, 14.36, 0.0));
    }

    #[test]
    fn the_reach_is_in_whole_metres() {
        assert_eq!(coarse_reach_m(0.0), 0.0);
        // 0.05 + 0.0437 rounds to nothing: a metre away is drawn as a point.
        assert_eq!(coarse_reach_m(1.0), 0.0);
        assert_eq!(coarse_reach_m(16_000.0), 1_499.0);
        assert_eq!(
            coarse_reach_m(17_000.0),
            (17_000.0 * 0.05 + 17_000.0 * 2.5f64.to_radians().tan()).round()
        );
    }
}
