//! The pull toward the partner: the direction and distance each partner always feels.
//!
//! What a partner may learn of it (exact within sight range, coarsened beyond) is decided
//! in [`crate::disclosure`]; [`pull`] and [`pull_along`] are that decision for a pull,
//! given as whether sight is open.

use crate::disclosure::Disclosure;
pub use crate::disclosure::{Pull, coarsen_bearing, coarsen_distance};
use crate::geo::{self, Fix};

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
/// [`geo::inverse_both`]): exact when `sight_open`, coarsened otherwise
/// ([`Disclosure::pull`]).
pub fn pull_along(g: geo::Geodesic, partner: &Fix, sight_open: bool) -> Pull {
    Disclosure::from_sight(sight_open).pull(g, partner)
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
