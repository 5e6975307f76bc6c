//! What one partner learns of the other's whereabouts: the exact position within sight
//! range, and beyond it only a coarsened bearing and distance.

use crate::geo::{self, Fix};

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

/// The pull from `me` toward `partner`: exact when `sight_open`, coarsened otherwise.
///
/// The distance is the plain geodesic distance between the two fixes, not the
/// pessimistic one: it is what the partner is shown, not what opens tiers.
pub fn pull(me: &Fix, partner: &Fix, sight_open: bool) -> Pull {
    pull_along(
        geo::inverse(me.lat, me.lon, partner.lat, partner.lon),
        partner,
        sight_open,
    )
}

/// The pull toward `partner` along a geodesic already computed from me to them (see
/// [`geo::inverse_both`]): exact when `sight_open`, coarsened otherwise.
pub fn pull_along(g: geo::Geodesic, partner: &Fix, sight_open: bool) -> Pull {
    if sight_open {
        Pull {
            bearing_deg: g.bearing_deg,
            distance_m: g.distance_m,
            exact: true,
            position: Some((partner.lat, partner.lon)),
        }
    } else {
        Pull {
            bearing_deg: coarsen_bearing(g.bearing_deg),
            distance_m: coarsen_distance(g.distance_m),
            exact: false,
            position: None,
        }
    }
}

/// A bearing rounded to the nearest 5 degrees, in [0, 360).
///
/// Halves round away from zero (2.5 becomes 5), and anything that rounds to 360 is 0.
pub fn coarsen_bearing(bearing_deg: f64) -> f64 {
    geo::normalize_bearing((bearing_deg / 5.0).round() * 5.0)
}

/// A distance rounded to two significant figures.
///
/// 17 234 m becomes 17 000 m, 1 549 m becomes 1 500 m, 9.96 m becomes 10 m; halves round
/// away from zero. Zero and non-finite distances are returned as they are.
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

    fn fix(lat: f64, lon: f64) -> Fix {
        Fix {
            lat,
            lon,
            accuracy_m: 0.0,
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
    fn beyond_sight_the_pull_hides_the_position() {
        let me = fix(0.0, 0.0);
        let partner = fix(0.1, 0.1);
        let coarse = pull(&me, &partner, false);
        assert!(!coarse.exact);
        assert_eq!(coarse.position, None);
        assert_eq!(coarse.bearing_deg, 45.0);
        assert_eq!(coarse.distance_m, 16_000.0);

        let exact = pull(&me, &partner, true);
        assert!(exact.exact);
        assert_eq!(exact.position, Some((0.1, 0.1)));
        assert!((exact.distance_m - 15_690.0).abs() < 10.0, "{exact:?}");
    }
}
