//! Geodesy on the WGS84 ellipsoid: distance and initial bearing (Karney's algorithm via
//! geographiclib-rs), the direct problem, and the pessimistic distance of two fixes.

use std::sync::LazyLock;

use geographiclib_rs::{DirectGeodesic, Geodesic as Ellipsoid, InverseGeodesic};

/// The WGS84 ellipsoid with its series coefficients, computed once: every distance in
/// the product is measured on it.
static WGS84: LazyLock<Ellipsoid> = LazyLock::new(Ellipsoid::wgs84);

/// A position fix: where a person was, how sure the device was, and when.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fix {
    /// Latitude in degrees, [-90, 90].
    pub lat: f64,
    /// Longitude in degrees, [-180, 180].
    pub lon: f64,
    /// Radius of the device's uncertainty in metres (0 when unknown or exact).
    pub accuracy_m: f64,
    /// When the fix was taken, Unix milliseconds.
    pub at_ms: i64,
}

impl Fix {
    /// The accuracy as a usable radius: a negative or NaN accuracy (a device that does
    /// not know) counts as 0, so it neither shrinks a distance nor poisons it with NaN.
    pub fn accuracy_or_zero(&self) -> f64 {
        if self.accuracy_m > 0.0 {
            self.accuracy_m
        } else {
            0.0
        }
    }
}

/// The solution of the inverse problem between two points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geodesic {
    /// Geodesic distance in metres.
    pub distance_m: f64,
    /// Initial bearing from the first point toward the second, degrees in [0, 360).
    pub bearing_deg: f64,
}

/// Distance and initial bearing from (lat1, lon1) to (lat2, lon2) on WGS84.
///
/// The coordinates are expected to be valid (see [`valid_coordinates`]). When a point is
/// at a pole the bearing follows geographiclib's convention: the limit as the point
/// approaches the pole along its meridian. Between coincident points the distance is 0
/// and the bearing is whatever geographiclib reports (still in [0, 360)).
pub fn inverse(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> Geodesic {
    let (s12, azi1, _azi2, _a12): (f64, f64, f64, f64) = WGS84.inverse(lat1, lon1, lat2, lon2);
    Geodesic {
        distance_m: s12,
        bearing_deg: normalize_bearing(azi1),
    }
}

/// The solution of the inverse problem seen from both ends, from one computation: the
/// geodesic from the first point to the second, and from the second back to the first
/// (the same distance; the bearing is the forward azimuth at the second point, reversed).
pub fn inverse_both(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> (Geodesic, Geodesic) {
    let (s12, azi1, azi2, _a12): (f64, f64, f64, f64) = WGS84.inverse(lat1, lon1, lat2, lon2);
    (
        Geodesic {
            distance_m: s12,
            bearing_deg: normalize_bearing(azi1),
        },
        Geodesic {
            distance_m: s12,
            bearing_deg: normalize_bearing(azi2 + 180.0),
        },
    )
}

/// The point reached from (lat, lon) after `distance_m` along `bearing_deg`, as (lat, lon)
/// with the longitude normalised to [-180, 180].
pub fn destination(lat: f64, lon: f64, bearing_deg: f64, distance_m: f64) -> (f64, f64) {
    let (lat2, lon2): (f64, f64) = WGS84.direct(lat, lon, bearing_deg, distance_m);
    (lat2, normalize_longitude(lon2))
}

/// The distance a tier must fit within: the geodesic distance plus both accuracies, so a
/// blurry fix never opens more than a sharp one would.
///
/// A negative or NaN accuracy counts as 0 (see [`Fix::accuracy_or_zero`]).
pub fn pessimistic_distance(a: &Fix, b: &Fix) -> f64 {
    inverse(a.lat, a.lon, b.lat, b.lon).distance_m + a.accuracy_or_zero() + b.accuracy_or_zero()
}

/// Whether a latitude and longitude are finite and within their ranges.
pub fn valid_coordinates(lat: f64, lon: f64) -> bool {
    // The range checks are false for NaN, and infinities fall outside the ranges, so
    // they also reject every non-finite value.
    (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)
}

/// The 16 points of the compass, clockwise from north, 22.5 degrees apart.
const COMPASS_POINTS: [&str; 16] = [
    "north",
    "north-north-east",
    "north-east",
    "east-north-east",
    "east",
    "east-south-east",
    "south-east",
    "south-south-east",
    "south",
    "south-south-west",
    "south-west",
    "west-south-west",
    "west",
    "west-north-west",
    "north-west",
    "north-north-west",
];

/// The 16-point compass name of a bearing, spelled out: "north", "east-north-east", ...
///
/// Each point covers 22.5 degrees centred on its own bearing, from half a step before it
/// (inclusive) to half a step after it (exclusive): "north" is [348.75, 11.25), so 11.25
/// is already "north-north-east". Any bearing is accepted and taken modulo 360; a
/// non-finite one, which has no direction, is reported as "north".
pub fn compass_point(bearing_deg: f64) -> &'static str {
    let step = 360.0 / COMPASS_POINTS.len() as f64;
    let bearing = normalize_bearing(bearing_deg);
    if !bearing.is_finite() {
        return COMPASS_POINTS[0];
    }
    // `bearing / step + 0.5` is in [0.5, 16.5); the floor of 16.x wraps back to north.
    let idx = (bearing / step + 0.5).floor() as usize % COMPASS_POINTS.len();
    COMPASS_POINTS[idx]
}

/// A bearing in [0, 360). `rem_euclid` alone is not enough: for a tiny negative bearing
/// it rounds up to exactly 360, and for -0.0 it keeps the sign.
pub(crate) fn normalize_bearing(bearing_deg: f64) -> f64 {
    let b = bearing_deg.rem_euclid(360.0);
    if b >= 360.0 { 0.0 } else { b + 0.0 }
}

/// A longitude in [-180, 180]; geographiclib already reports them in this range without
/// its `LONG_UNROLL` flag, this only guards the contract.
fn normalize_longitude(lon: f64) -> f64 {
    if (-180.0..=180.0).contains(&lon) {
        lon
    } else {
        let l = (lon + 180.0).rem_euclid(360.0) - 180.0;
        if l < -180.0 { l + 360.0 } else { l }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_degree_of_longitude_on_the_equator() {
        // WGS84's equatorial radius is 6 378 137 m, so a degree along the equator is
        // 2π·a/360 ≈ 111 319.49 m, due east.
        let g = inverse(0.0, 0.0, 0.0, 1.0);
        assert!((g.distance_m - 111_319.490_793).abs() < 1e-3, "{g:?}");
        assert!((g.bearing_deg - 90.0).abs() < 1e-9, "{g:?}");
        let back = inverse(0.0, 1.0, 0.0, 0.0);
        assert!((back.bearing_deg - 270.0).abs() < 1e-9, "{back:?}");
    }

    #[test]
    fn due_north_is_zero_not_360() {
        let g = inverse(10.0, 20.0, 11.0, 20.0);
        assert_eq!(g.bearing_deg, 0.0);
        assert!(g.bearing_deg.is_sign_positive());
    }

    #[test]
    fn destination_inverts_inverse() {
        let g = inverse(51.4778, -0.0015, 48.8584, 2.2945);
        let (lat, lon) = destination(51.4778, -0.0015, g.bearing_deg, g.distance_m);
        assert!((lat - 48.8584).abs() < 1e-9 && (lon - 2.2945).abs() < 1e-9);
    }

    #[test]
    fn destination_across_the_antimeridian_wraps() {
        let (lat, lon) = destination(0.0, 179.9, 90.0, 22_263.898);
        assert!(lat.abs() < 1e-9);
        assert!((lon + 179.9).abs() < 1e-6, "{lon}");
    }

    #[test]
    fn pessimistic_distance_adds_both_accuracies() {
        let a = Fix {
            lat: 0.0,
            lon: 0.0,
            accuracy_m: 10.0,
            at_ms: 0,
        };
        let b = Fix {
            lat: 0.0,
            lon: 1.0,
            accuracy_m: 5.0,
            at_ms: 0,
        };
        let d = inverse(0.0, 0.0, 0.0, 1.0).distance_m;
        assert_eq!(pessimistic_distance(&a, &b), d + 15.0);
        let unknown = Fix {
            accuracy_m: f64::NAN,
            ..b
        };
        let negative = Fix {
            accuracy_m: -3.0,
            ..a
        };
        assert_eq!(pessimistic_distance(&negative, &unknown), d);
    }

    #[test]
    fn coordinates_are_checked() {
        assert!(valid_coordinates(90.0, -180.0));
        assert!(valid_coordinates(-90.0, 180.0));
        assert!(!valid_coordinates(90.000001, 0.0));
        assert!(!valid_coordinates(0.0, -180.000001));
        assert!(!valid_coordinates(f64::NAN, 0.0));
        assert!(!valid_coordinates(0.0, f64::INFINITY));
        assert!(!valid_coordinates(f64::NEG_INFINITY, 0.0));
    }

    #[test]
    fn compass_points_are_centred_on_their_bearing() {
        assert_eq!(compass_point(0.0), "north");
        assert_eq!(compass_point(359.0), "north");
        assert_eq!(compass_point(348.75), "north");
        assert_eq!(compass_point(11.249), "north");
        assert_eq!(compass_point(11.25), "north-north-east");
        assert_eq!(compass_point(22.5), "north-north-east");
        assert_eq!(compass_point(45.0), "north-east");
        assert_eq!(compass_point(67.5), "east-north-east");
        assert_eq!(compass_point(90.0), "east");
        assert_eq!(compass_point(135.0), "south-east");
        assert_eq!(compass_point(180.0), "south");
        assert_eq!(compass_point(202.5), "south-south-west");
        assert_eq!(compass_point(270.0), "west");
        assert_eq!(compass_point(337.5), "north-north-west");
        assert_eq!(compass_point(-90.0), "west");
        assert_eq!(compass_point(720.0 + 90.0), "east");
        assert_eq!(compass_point(f64::NAN), "north");
        for (i, name) in COMPASS_POINTS.iter().enumerate() {
            assert_eq!(compass_point(i as f64 * 22.5), *name);
        }
    }

    #[test]
    fn bearings_normalise_into_a_half_open_circle() {
        assert_eq!(normalize_bearing(-1e-20), 0.0);
        assert!(normalize_bearing(-0.0).is_sign_positive());
        assert_eq!(normalize_bearing(360.0), 0.0);
        assert_eq!(normalize_bearing(-90.0), 270.0);
        assert_eq!(normalize_bearing(180.0), 180.0);
    }
}
