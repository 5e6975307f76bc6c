//! Where on Earth a token's cell is: charts (small local maps that cover the Earth,
//! poles and antimeridian included), the azimuthal equidistant projection onto each, and
//! nine shifted square grids on each chart.
//!
//! # Charts
//!
//! Latitude is cut into 180 bands of 1°. Each band but the two polar ones has `n` chart
//! centres on its middle latitude, evenly spaced in longitude, with `n = ⌈360 · cos φₑ⌉`
//! for the band's equatorward edge `φₑ`; each polar band (89° to 90°) has one centre, at
//! the pole. Every point of the Earth is within [`CORE_RADIUS_M`] of some centre: from a
//! point, go along its meridian to the band's middle latitude (at most 0.5°, which is at
//! most 55.85 km, a degree of meridian being at most 111.7 km, at the poles) and then
//! along that parallel to the nearest centre (at most half a spacing, `180°/n ≤ 0.5°/cos
//! φₑ` of a parallel whose degree is at most `111.7 km · cos φ`, and `cos φ ≤ cos φₑ`:
//! again at most 55.85 km). In a polar band the pole is at most 1° of meridian away. The
//! geodesic is no longer than this path, so every point has a centre within 111.7 km.
//!
//! # Which charts a point uses
//!
//! For a tier whose grid matches every pair of points within `g` of each other (see
//! below), a point uses every chart whose centre is within `d₀ + 2g`, where `d₀` is the
//! distance to its nearest centre ([`charts_near`]). Two points `p`, `q` within `g` then
//! share a chart: `q`'s nearest centre `c` is within `d(q, c) ≤ d(q, c_p) ≤ d(p, c_p) + g`
//! of `q`, so `d(p, c) ≤ d(p, c_p) + 2g` (triangle inequalities on geodesic distances).
//! Usually that is one chart, two or three near the edge between charts.
//!
//! # The projection
//!
//! A point's place on a chart is its geodesic distance `ρ` and azimuth `α` from the
//! centre (Karney's inverse problem on WGS84), as `x = ρ sin α`, `y = ρ cos α`: the
//! azimuthal equidistant projection, which has no edge (a chart centred on a pole or near
//! the antimeridian is like any other). In these geodesic polar coordinates the scale
//! along a radius is exactly 1 and across it `ρ/m₁₂ ≥ 1` (`m₁₂` the reduced length, less
//! than `ρ` on a surface of positive curvature). So the distance between two points on a
//! chart is never less than their geodesic distance, and more only by the factor
//! `ρ/m₁₂ ≈ 1 + ρ²/6R²`: at the 136 km a chart is ever used to, 1.00008.
//!
//! # The grids
//!
//! On each chart lie nine square grids of cell side `s`, shifted by `(i·s/3, j·s/3)` for
//! `i, j ∈ {0, 1, 2}`. Two points `x₁ < x₂` on a line share a cell of the grid shifted by
//! `i·s/3` unless a boundary `i·s/3 + k·s` lies in `(x₁, x₂]`. The boundaries of the three
//! shifts together are the multiples of `s/3`, taking turns; an interval shorter than
//! `2s/3` holds at most two of them, so at least one shift has none. Doing this for `x`
//! and for `y` gives one of the nine grids where both points share a cell: **any two
//! points less than `2s/3` apart on a chart share a cell of one of its nine grids.**
//! Conversely two points in one cell are less than `s` apart in `x` and in `y`, so **two
//! points that share a cell are less than `s√2` apart**, on the chart and therefore on the
//! ground. The tiers' cell sizes ([`crate::tokens::cell_sides`]) follow from these two
//! facts.

use haurach_bond::geo;

/// The distance within which every point of the Earth has a chart centre, metres (see the
/// module's documentation for the proof).
pub const CORE_RADIUS_M: f64 = 111_700.0;

/// The number of latitude bands, each 1° high.
const BANDS: i32 = 180;

/// A chart: a centre on the Earth, and an id that names it in tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chart {
    /// Which chart: its band times 512 plus its index in the band.
    pub id: u32,
    /// The centre's latitude, degrees.
    pub lat: f64,
    /// The centre's longitude, degrees.
    pub lon: f64,
}

/// A chart a point uses, with its distance from the chart's centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NearChart {
    /// The chart.
    pub chart: Chart,
    /// The point's geodesic distance from its centre, metres.
    pub distance_m: f64,
}

/// How many centres band `band` (0 for 90°S to 89°S, up to 179) has.
fn centres_in(band: i32) -> i32 {
    if band == 0 || band == BANDS - 1 {
        return 1;
    }
    // The band runs from `band - 90` to `band - 89` degrees; its equatorward edge is the
    // one nearer 0.
    let edge = if band < 90 { band - 89 } else { band - 90 };
    (360.0 * f64::from(edge).to_radians().cos()).ceil() as i32
}

/// Centre `idx` of band `band`.
fn chart(band: i32, idx: i32) -> Chart {
    let id = (band * 512 + idx) as u32;
    if band == 0 {
        return Chart {
            id,
            lat: -90.0,
            lon: 0.0,
        };
    }
    if band == BANDS - 1 {
        return Chart {
            id,
            lat: 90.0,
            lon: 0.0,
        };
    }
    let n = centres_in(band);
    Chart {
        id,
        lat: f64::from(band) - 89.5,
        lon: -180.0 + (f64::from(idx) + 0.5) * 360.0 / f64::from(n),
    }
}

/// The band a latitude lies in (90° in the northernmost).
fn band_of(lat: f64) -> i32 {
    ((lat + 90.0).floor() as i32).clamp(0, BANDS - 1)
}

/// Every chart centre, band by band (about 41,000), for tests that check [`charts_near`]
/// against all of them.
pub fn all_charts() -> impl Iterator<Item = Chart> {
    (0..BANDS).flat_map(|band| (0..centres_in(band)).map(move |idx| chart(band, idx)))
}

/// The charts a point at (`lat`, `lon`) uses for a grid that matches every pair within
/// `g_m`: those whose centre is within `d₀ + 2·g_m`, `d₀` the distance to the nearest
/// centre; nearest first. `g_m` is at most 30 km (the largest tier's needs are 12 km).
pub fn charts_near(lat: f64, lon: f64, g_m: f64) -> Vec<NearChart> {
    let g_m = g_m.clamp(0.0, 30_000.0);
    let reach_m = CORE_RADIUS_M + 2.0 * g_m;
    let mut near = Vec::new();
    let band = band_of(lat);
    // Every centre within `reach_m` (at most 172 km, under 1.6° of latitude) is in this
    // band or the two on either side.
    for b in (band - 2).max(0)..=(band + 2).min(BANDS - 1) {
        let n = centres_in(b);
        // A candidate window in longitude, generous by a factor of two: `reach_m` along
        // the band's most poleward parallel the point or the centres can be on. Where
        // that is over a quarter of the Earth, take the whole band.
        let poleward = (lat.abs().max((f64::from(b) - 89.5).abs()) + 1.6).min(90.0);
        let parallel_deg_m = 111_000.0 * poleward.to_radians().cos();
        let window = 2.0 * reach_m / parallel_deg_m;
        let idxs: Vec<i32> = if n == 1 || window.is_nan() || window >= 90.0 {
            (0..n).collect()
        } else {
            let spacing = 360.0 / f64::from(n);
            let centre_idx = ((lon + 180.0) / spacing - 0.5).round() as i32;
            let span = (window / spacing).ceil() as i32 + 1;
            let mut idxs: Vec<i32> = (centre_idx - span..=centre_idx + span)
                .map(|k| k.rem_euclid(n))
                .collect();
            idxs.sort_unstable();
            idxs.dedup();
            idxs
        };
        for idx in idxs {
            let chart = chart(b, idx);
            let distance_m = geo::inverse(chart.lat, chart.lon, lat, lon).distance_m;
            if distance_m <= reach_m {
                near.push(NearChart { chart, distance_m });
            }
        }
    }
    near.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m));
    let nearest_m = near.first().map_or(0.0, |n| n.distance_m);
    near.retain(|n| n.distance_m <= nearest_m + 2.0 * g_m);
    near
}

/// Where (`lat`, `lon`) is on `chart`, metres east and north of its centre as the
/// azimuthal equidistant projection puts it.
pub fn project(chart: &Chart, lat: f64, lon: f64) -> (f64, f64) {
    let g = geo::inverse(chart.lat, chart.lon, lat, lon);
    let azimuth = g.bearing_deg.to_radians();
    (g.distance_m * azimuth.sin(), g.distance_m * azimuth.cos())
}

/// One of the nine grids on a chart: shifted by `(i·s/3, j·s/3)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shift {
    /// The shift east, in thirds of a cell.
    pub i: u8,
    /// The shift north, in thirds of a cell.
    pub j: u8,
}

/// The nine shifts.
pub const SHIFTS: [Shift; 9] = {
    let mut shifts = [Shift { i: 0, j: 0 }; 9];
    let mut k = 0;
    while k < 9 {
        shifts[k] = Shift {
            i: (k / 3) as u8,
            j: (k % 3) as u8,
        };
        k += 1;
    }
    shifts
};

/// The cell of the grid `shift` with cells of side `side_m` that holds (`x`, `y`).
pub fn cell(x: f64, y: f64, side_m: f64, shift: Shift) -> (i64, i64) {
    let third = side_m / 3.0;
    let cx = ((x - f64::from(shift.i) * third) / side_m).floor() as i64;
    let cy = ((y - f64::from(shift.j) * third) / side_m).floor() as i64;
    (cx, cy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bands_cover_the_earth_with_about_forty_thousand_charts() {
        assert_eq!(centres_in(0), 1);
        assert_eq!(centres_in(179), 1);
        assert_eq!(centres_in(90), 360);
        assert_eq!(centres_in(89), 360);
        assert_eq!(centres_in(178), 13);
        let total = all_charts().count();
        assert!((40_000..42_000).contains(&total), "{total}");
        // Ids are unique.
        let mut ids: Vec<u32> = all_charts().map(|c| c.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), total);
    }

    #[test]
    fn every_point_has_a_chart_within_the_core_radius() {
        // The worst places: band corners, between two centres, the poles, the
        // antimeridian.
        for lat in [
            -90.0, -89.0, -88.999, -45.0, -0.001, 0.0, 0.999, 60.0, 88.0, 89.0, 90.0,
        ] {
            for lon in [-180.0, -179.5, -0.5, 0.0, 0.4, 90.0, 179.99, 180.0] {
                let near = charts_near(lat, lon, 0.0);
                assert!(!near.is_empty(), "{lat} {lon}");
                assert!(near[0].distance_m <= CORE_RADIUS_M, "{lat} {lon} {near:?}");
            }
        }
    }

    #[test]
    fn the_grid_cells_are_shifted_by_thirds() {
        let s = 300.0;
        assert_eq!(cell(0.0, 0.0, s, SHIFTS[0]), (0, 0));
        assert_eq!(cell(99.0, 0.0, s, Shift { i: 1, j: 0 }), (-1, 0));
        assert_eq!(cell(100.0, 0.0, s, Shift { i: 1, j: 0 }), (0, 0));
        assert_eq!(cell(-1.0, 200.0, s, Shift { i: 2, j: 2 }), (-1, 0));
        assert_eq!(SHIFTS.iter().filter(|s| s.i == 2).count(), 3);
    }

    #[test]
    fn a_pole_chart_projects_points_around_it_at_their_distance() {
        let pole = chart(BANDS - 1, 0);
        let (x, y) = project(&pole, 89.0, 0.0);
        let (x2, y2) = project(&pole, 89.0, 180.0);
        let across = ((x - x2).powi(2) + (y - y2).powi(2)).sqrt();
        let ground = geo::inverse(89.0, 0.0, 89.0, 180.0).distance_m;
        assert!((across - ground).abs() < 1.0, "{across} {ground}");
    }
}
