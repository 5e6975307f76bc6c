//! Rounding a position before it is sealed: the sender's device decides how much of its
//! fix the partner may learn, so that a private bond gives the partner no more than the
//! plain bond's pull would (`docs/privacy.md`, "Sealed positions").
//!
//! Within sight range the fix goes as it is, as the plain bond shows it exactly. Beyond
//! sight the plain bond tells the partner only a coarse pull: the bearing to 5° (a wedge
//! `2·d·tan 2.5° = 0.087·d` wide at the distance `d`) and the distance to two significant
//! figures (a ring between `0.01·d` and `0.1·d` deep). A private bond cannot send a pull,
//! which depends on where the partner is; it sends a place, so the sender rounds its fix
//! to a cell of a fixed grid at least [`SHARE`] of the distance on every side, as wide
//! as the wedge and as deep as the deepest ring.
//!
//! # The distance the sender may go by
//!
//! The sender does not know the distance; the cell must be large enough for the distance
//! the partner really is at, so the rule needs a distance the partner is surely not
//! beyond ([`Known::bound_m`]): the least of
//!
//! - the distance to the partner's own latest sealed position plus how far that position
//!   may be from where the partner really was (its reach: the cell's, or the accuracy of
//!   an exact fix), by the triangle inequality;
//! - 1.5 times the range of the narrowest tier open, as the token rule never keeps a
//!   tier open beyond 1.5 times its range;
//! - half the Earth's meridian, [`FARTHEST_M`], when neither is known.
//!
//! That bound is then raised to half the range of the widest tier closed, if it is
//! less: the token rule opens a tier for certain within half its range, so a closed tier
//! says the partner is farther. A partner who says they are closer than the tokens allow
//! (a sealed position made up to draw a finer cell out of the sender) does not get a cell
//! finer than the tokens' distance: to get one they must also make tokens that meet the
//! sender's, which needs the sender's cells at that tier's size. The plain bond has no
//! such floor: a partner who fakes their position there is told the pull from it.
//!
//! # The grid, and why snapping
//!
//! Cells are quarters of quarters of the Earth in latitude and longitude, so a cell of
//! one size lies inside exactly one cell of the next size up ([`Cell::of`]). The level's
//! rows are `180°/2^k` of latitude, at least [`Cell::side_m`] on the ground; each row's
//! columns are the fewest `360°/2^j` of longitude that keep its poleward edge at least
//! as wide (a row at a pole is one cell all round). A fix is snapped to the centre of
//! its cell: the same place always gives the same cell, so reports repeated while still
//! cannot be averaged into a finer one, as random noise could. The cells nest, so a
//! partner who has seen a larger and a smaller cell of the same place knows only the
//! smaller: nothing is gained by comparing the two.
//!
//! What a partner can still learn: the moment the sealed position moves to another cell
//! is the moment the sender crossed the line between the two, as the plain bond's coarse
//! pull changes when its partner crosses a 5° ray or a distance step.
//!
//! # Keeping the cell
//!
//! A still sender whose fix jitters across a line between two cells would show the
//! partner, by the cell flipping back and forth, that it stands within the jitter of that
//! line. So the device keeps the cell it last sealed and sends it again while the fix
//! stays within that cell grown by [`KEEP_MARGIN`] of its height and width on every side
//! ([`round_keeping`], [`Cell::keeps`]); once the fix is beyond, the fix's own cell is
//! taken. At a coarser level (the tiers or the partner's position allow less) the kept
//! cell's ancestor is kept the same way, so a partner who saw both learns nothing finer;
//! at a finer level a new cell is taken, and with a margin of half a side the grown
//! cell's edges of latitude are lines of every finer level, so comparing the two gains
//! nothing there either. Every rounded position claims the grown cell's reach
//! ([`Cell::kept_reach_m`]), kept or not, so the reach never says which it is. Pure
//! functions, no I/O.

use haurach_bond::geo::{self, Fix};
use haurach_bond::{Profile, Tier, TierState};

/// The least a cell's side is, as a fraction of the distance the sender goes by: a
/// tenth, at least as wide as the coarse pull's 5° wedge (`0.087·d`) and as deep as its
/// deepest distance step (`0.1·d`, just past a power of ten).
pub const SHARE: f64 = 0.1;

/// The longest geodesic on WGS84, metres: the distance the sender goes by when it knows
/// nothing of the partner.
pub const FARTHEST_M: f64 = 20_003_931.5;

/// How far beyond a tier's range the token rule may keep it open, as a multiple of the
/// range (`tokens`: never beyond 1.322 times it; the rule states 1.5).
pub const OPEN_WITHIN: f64 = 1.5;

/// How near within a tier's range the token rule opens it for certain, as a fraction of
/// the range (`tokens`: within 0.567 times it; the rule states a half).
pub const CLOSED_BEYOND: f64 = 0.5;

/// How far beyond its edges the cell a device last sealed is still sent, as a fraction of
/// its height (and of its width): a still sender's fix jittering across a line by less
/// than half a cell's side changes the cell at most once (`docs/privacy.md`, "Keeping the
/// cell"). Half, so that a grown cell's edges of latitude are lines of every finer level.
pub const KEEP_MARGIN: f64 = 0.5;

/// The finest level of the grid: rows of `180°/2^32`, 2.6 mm.
pub const MAX_LEVEL: u8 = 32;

/// The shortest degree of a meridian on WGS84, at the equator, metres (110,574.27),
/// rounded down: a row of `Δφ` degrees is at least `Δφ` times this on the ground.
const METRES_PER_DEGREE: f64 = 110_574.0;

/// The most columns a row is cut into: `2^MAX_COLUMNS_LOG2`.
const MAX_COLUMNS_LOG2: u8 = 40;

/// The partner's latest sealed position as the sender opened it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PartnerFix {
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// How far from it the partner may have been, metres.
    pub reach_m: f64,
}

/// What the sender knows when it rounds a fix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Known {
    /// The bond's profile.
    pub profile: Profile,
    /// The tiers open now, as the server decides them.
    pub tiers: TierState,
    /// The partner's latest sealed position, if it opened one.
    pub partner: Option<PartnerFix>,
}

impl Known {
    /// The distance the partner is surely not beyond, metres (see the module's doc): the
    /// least of the bounds known, raised to what the closed tiers prove. A partner
    /// position that is not a place (NaN, out of range, a negative reach) is ignored.
    pub fn bound_m(&self, lat: f64, lon: f64) -> f64 {
        let mut upper = FARTHEST_M;
        if let Some(p) = self.partner.filter(|p| {
            geo::valid_coordinates(p.lat, p.lon) && p.reach_m.is_finite() && p.reach_m >= 0.0
        }) {
            upper = upper.min(geo::inverse(lat, lon, p.lat, p.lon).distance_m + p.reach_m);
        }
        let mut lower: f64 = 0.0;
        for tier in Tier::ALL {
            let Some(range) = self.profile.range_m(tier) else {
                continue;
            };
            if self.tiers.is_open(tier) {
                upper = upper.min(OPEN_WITHIN * range);
            } else {
                lower = lower.max(CLOSED_BEYOND * range);
            }
        }
        upper.max(lower)
    }
}

/// What the sender seals of a fix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shared {
    /// Within sight range: the fix as it is.
    Exact(Fix),
    /// Beyond it: the cell the fix is in, and the distance its size was chosen for.
    Rounded {
        /// The cell.
        cell: Cell,
        /// The distance the sender went by ([`Known::bound_m`]), metres.
        bound_m: f64,
    },
}

impl Shared {
    /// The point the partner is given: the fix, or the cell's centre.
    pub fn point(&self) -> (f64, f64) {
        match self {
            Shared::Exact(fix) => (fix.lat, fix.lon),
            Shared::Rounded { cell, .. } => cell.centre(),
        }
    }

    /// How far from [`Shared::point`] the sender may be, metres: the fix's accuracy, or
    /// the reach of the cell grown by [`KEEP_MARGIN`] (a kept cell is sent while the fix
    /// is anywhere in it, and a fresh one claims the same, so the reach does not tell).
    pub fn reach_m(&self) -> f64 {
        match self {
            Shared::Exact(fix) => fix.accuracy_or_zero(),
            Shared::Rounded { cell, .. } => cell.kept_reach_m(),
        }
    }

    /// The cell sent, to keep for the next fix ([`round_keeping`]); `None` when exact.
    pub fn cell(&self) -> Option<Cell> {
        match self {
            Shared::Exact(_) => None,
            Shared::Rounded { cell, .. } => Some(*cell),
        }
    }

    /// Whether it is the exact fix.
    pub fn is_exact(&self) -> bool {
        matches!(self, Shared::Exact(_))
    }
}

/// Rounds `fix` to what the partner may learn, given what the sender knows: the fix
/// while sight is open, otherwise its cell at the level for the distance the sender may
/// go by ([`Known::bound_m`], [`level_for`]).
pub fn round(fix: &Fix, known: &Known) -> Shared {
    round_keeping(fix, known, None)
}

/// Rounds `fix` as [`round`] does, keeping `kept`, the cell this device last sealed:
/// beyond sight, when the level for the bound is the kept cell's or coarser, the kept
/// cell (or its ancestor at that level) is sent again while it [keeps](Cell::keeps) the
/// fix. Otherwise (the fix beyond the margin, a finer level, nothing kept, or within
/// sight) it is what [`round`] would be without it. The caller keeps [`Shared::cell`] of
/// what it sent for the next fix.
pub fn round_keeping(fix: &Fix, known: &Known, kept: Option<&Cell>) -> Shared {
    if known.tiers.is_open(Tier::Sight) {
        return Shared::Exact(*fix);
    }
    let bound_m = known.bound_m(fix.lat, fix.lon);
    let level = level_for(SHARE * bound_m);
    let cell = kept
        .filter(|k| k.level >= level)
        .map(|k| k.ancestor(level))
        .filter(|c| c.keeps(fix.lat, fix.lon))
        .unwrap_or_else(|| Cell::of(fix.lat, fix.lon, level));
    Shared::Rounded { cell, bound_m }
}

/// The finest level whose rows are at least `side_m` on the ground ([`Cell::side_m`]);
/// level 0 (the whole Earth) for anything larger, [`MAX_LEVEL`] for anything smaller.
pub fn level_for(side_m: f64) -> u8 {
    if side_m.is_nan() {
        return 0;
    }
    let mut level = 0;
    while level < MAX_LEVEL && Cell::side_at(level + 1) >= side_m {
        level += 1;
    }
    level
}

/// One cell of the grid: a row of latitude at a level, cut into columns of longitude.
/// Serialised as its four numbers, for a device that keeps the cell it last sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Cell {
    /// The level: rows of `180°/2^level`.
    pub level: u8,
    /// The row, from the south pole: `0..2^level`.
    pub row: u64,
    /// How many columns the row has: `2^columns_log2` (0: the row is one cell all round).
    pub columns_log2: u8,
    /// The column, from the antimeridian eastward: `0..2^columns_log2`.
    pub column: u64,
}

impl Cell {
    /// The least height of a row at `level` on the ground, metres.
    fn side_at(level: u8) -> f64 {
        Cell::lat_step(level) * METRES_PER_DEGREE
    }

    fn lat_step(level: u8) -> f64 {
        180.0 / 2f64.powi(i32::from(level))
    }

    /// The cell of `level` that holds (lat, lon). A point on a line between cells is in
    /// the cell north or east of it; the north pole is in the top row, and longitude 180
    /// is -180.
    pub fn of(lat: f64, lon: f64, level: u8) -> Cell {
        let level = level.min(MAX_LEVEL);
        let rows = 1u64 << level;
        let step = Cell::lat_step(level);
        let row = (((lat.clamp(-90.0, 90.0) + 90.0) / step).floor() as u64).min(rows - 1);
        let south = -90.0 + row as f64 * step;
        let poleward = if south + step <= 0.0 {
            south
        } else {
            south + step
        };
        let columns_log2 = columns_log2(poleward, Cell::side_at(level));
        let columns = 1u64 << columns_log2;
        let lon_step = 360.0 / columns as f64;
        let column = (((lon.clamp(-180.0, 180.0) + 180.0) / lon_step).floor() as u64) % columns;
        Cell {
            level,
            row,
            columns_log2,
            column,
        }
    }

    /// The least height and width of a cell at this level on the ground, metres: every
    /// meridian crosses it over at least this, and each of its edges of latitude is at
    /// least this long from corner to corner (unless the row is one cell all round).
    pub fn side_m(&self) -> f64 {
        Cell::side_at(self.level)
    }

    /// The southern and northern edges, degrees.
    pub fn lat_span(&self) -> (f64, f64) {
        let step = Cell::lat_step(self.level);
        let south = -90.0 + self.row as f64 * step;
        (south, south + step)
    }

    /// The western and eastern edges, degrees (from -180 to 180).
    pub fn lon_span(&self) -> (f64, f64) {
        let step = 360.0 / (1u64 << self.columns_log2) as f64;
        let west = -180.0 + self.column as f64 * step;
        (west, west + step)
    }

    /// Whether the row is one cell all round the Earth.
    pub fn is_ring(&self) -> bool {
        self.columns_log2 == 0
    }

    /// The centre, (lat, lon) in degrees: the point a partner is given.
    pub fn centre(&self) -> (f64, f64) {
        let (south, north) = self.lat_span();
        let (west, east) = self.lon_span();
        ((south + north) / 2.0, (west + east) / 2.0)
    }

    /// How far from the centre a point of the cell may be, metres: the farthest corner
    /// (the farthest point of a region that does not hold the centre's antipode is on
    /// its edge, and along an edge of latitude or longitude the distance grows toward its
    /// ends); for a row all round, the farthest point across the pole or the antipode.
    pub fn reach_m(&self) -> f64 {
        let lon_span = (!self.is_ring()).then(|| self.lon_span());
        self.reach_over(self.lat_span(), lon_span)
    }

    /// How far from the centre a point of the box `lat_span` by `lon_span` (all round
    /// when `None`) may be, metres ([`Cell::reach_m`] says why the corners suffice).
    fn reach_over(&self, (south, north): (f64, f64), lon_span: Option<(f64, f64)>) -> f64 {
        let (lat, lon) = self.centre();
        let distance = |to_lat: f64, to_lon: f64| geo::inverse(lat, lon, to_lat, to_lon).distance_m;
        let Some((west, east)) = lon_span else {
            let far = lon + 180.0;
            let mut reach = distance(south, far).max(distance(north, far));
            if (south..=north).contains(&-lat) {
                reach = reach.max(distance(-lat, far));
            }
            return reach;
        };
        [(south, west), (south, east), (north, west), (north, east)]
            .into_iter()
            .map(|(a, b)| distance(a, b))
            .fold(0.0, f64::max)
    }

    /// The southern and northern edges of the cell grown by [`KEEP_MARGIN`] of its height
    /// on each side, degrees, within the poles.
    pub fn kept_lat_span(&self) -> (f64, f64) {
        let (south, north) = self.lat_span();
        let margin = KEEP_MARGIN * (north - south);
        ((south - margin).max(-90.0), (north + margin).min(90.0))
    }

    /// The western and eastern edges of the cell grown by [`KEEP_MARGIN`] of its width on
    /// each side, degrees (they may pass ±180); `None` when the grown cell goes all round.
    pub fn kept_lon_span(&self) -> Option<(f64, f64)> {
        if self.is_ring() {
            return None;
        }
        let (west, east) = self.lon_span();
        let margin = KEEP_MARGIN * (east - west);
        (east - west + 2.0 * margin < 360.0).then_some((west - margin, east + margin))
    }

    /// Whether a device that sealed this cell may send it again for a fix at (lat, lon):
    /// the fix is within the cell grown by [`KEEP_MARGIN`] of its height and width on every
    /// side (edges included).
    pub fn keeps(&self, lat: f64, lon: f64) -> bool {
        let (south, north) = self.kept_lat_span();
        if !(south <= lat && lat <= north) {
            return false;
        }
        match self.kept_lon_span() {
            None => true,
            Some((west, east)) => [lon, lon - 360.0, lon + 360.0]
                .into_iter()
                .any(|l| west <= l && l <= east),
        }
    }

    /// How far from the centre a point the cell [keeps](Cell::keeps) may be, metres: the
    /// reach every rounded position claims ([`Shared::reach_m`]).
    pub fn kept_reach_m(&self) -> f64 {
        self.reach_over(self.kept_lat_span(), self.kept_lon_span())
    }

    /// The cell of `level` (at most this one's) that holds this one; itself at its own
    /// level. The cells nest, so it is the cell of that level holding the centre.
    pub fn ancestor(&self, level: u8) -> Cell {
        let (lat, lon) = self.centre();
        Cell::of(lat, lon, level.min(self.level))
    }

    /// Whether (lat, lon) is in the cell ([`Cell::of`] at this level gives this cell).
    pub fn contains(&self, lat: f64, lon: f64) -> bool {
        Cell::of(lat, lon, self.level) == *self
    }
}

/// The fewest columns (as a power of two) that keep an edge of latitude `poleward` at
/// least `side_m` long from corner to corner. The geodesic across a parallel shortens as
/// the parallel nears a pole and lengthens with its span, so a row nearer the equator, or
/// a smaller side, never has fewer columns: the cells nest.
fn columns_log2(poleward: f64, side_m: f64) -> u8 {
    let width = |log2: u8| {
        let span = 360.0 / (1u64 << log2) as f64;
        geo::inverse(poleward, 0.0, poleward, span).distance_m
    };
    let mut log2 = 0;
    while log2 < MAX_COLUMNS_LOG2 && width(log2 + 1) >= side_m {
        log2 += 1;
    }
    log2
}

#[cfg(test)]
mod tests {
    use super::*;
    use haurach_bond::TierSet;

    fn fix(lat: f64, lon: f64) -> Fix {
        Fix {
            lat,
            lon,
            accuracy_m: 5.0,
            at_ms: 0,
        }
    }

    fn open(tiers: &[Tier]) -> TierState {
        let mut set = TierSet::always();
        for tier in tiers {
            set.insert(*tier);
        }
        TierState::new(set)
    }

    #[test]
    fn within_sight_the_fix_goes_as_it_is() {
        let known = Known {
            profile: Profile::Story,
            tiers: open(&[Tier::Feelings, Tier::Sight]),
            partner: None,
        };
        let shared = round(&fix(46.1, 7.6), &known);
        assert_eq!(shared, Shared::Exact(fix(46.1, 7.6)));
        assert_eq!(shared.reach_m(), 5.0);
        // "Open" shows everything at any range, as the plain bond does.
        let open_profile = Known {
            profile: Profile::Open,
            tiers: TierState::initial(Profile::Open),
            partner: None,
        };
        assert!(round(&fix(46.1, 7.6), &open_profile).is_exact());
    }

    #[test]
    fn the_bound_is_the_least_known_raised_to_what_closed_tiers_prove() {
        let me = (46.0, 7.0);
        // Nothing known: half the meridian.
        let nothing = Known {
            profile: Profile::Story,
            tiers: TierState::initial(Profile::Story),
            partner: None,
        };
        assert_eq!(nothing.bound_m(me.0, me.1), FARTHEST_M);
        // Glimpse (10 km) open: within 15 km.
        let glimpse = Known {
            tiers: open(&[
                Tier::Feelings,
                Tier::Voice,
                Tier::Thoughts,
                Tier::Images,
                Tier::Glimpse,
            ]),
            ..nothing
        };
        assert_eq!(glimpse.bound_m(me.0, me.1), 15_000.0);
        // The partner's position 3 km away, 500 m sure: 3.5 km.
        let (lat, lon) = geo::destination(me.0, me.1, 90.0, 3_000.0);
        let near = Known {
            partner: Some(PartnerFix {
                lat,
                lon,
                reach_m: 500.0,
            }),
            ..glimpse
        };
        assert!((near.bound_m(me.0, me.1) - 3_500.0).abs() < 1e-6);
        // A partner who says they are 100 m away while sight (2 km) is closed is not
        // believed below 1 km.
        let (lat, lon) = geo::destination(me.0, me.1, 90.0, 100.0);
        let liar = Known {
            partner: Some(PartnerFix {
                lat,
                lon,
                reach_m: 0.0,
            }),
            ..glimpse
        };
        assert_eq!(liar.bound_m(me.0, me.1), 1_000.0);
        // A partner position that is not one is ignored.
        let garbled = Known {
            partner: Some(PartnerFix {
                lat: f64::NAN,
                lon: 0.0,
                reach_m: 0.0,
            }),
            ..glimpse
        };
        assert_eq!(garbled.bound_m(me.0, me.1), 15_000.0);
    }

    #[test]
    fn levels_halve_and_are_at_least_the_side_asked() {
        assert_eq!(level_for(f64::INFINITY), 0);
        assert_eq!(level_for(f64::NAN), 0);
        assert_eq!(level_for(0.0), MAX_LEVEL);
        for side in [1.0, 7.3, 1_500.0, 2_000_000.0, 19_000_000.0] {
            let level = level_for(side);
            assert!(Cell::side_at(level) >= side, "{side}");
            assert!(Cell::side_at(level + 1) < side, "{side}");
        }
        // Nothing known: rows of 22.5°, about 2,500 km.
        let far = level_for(SHARE * FARTHEST_M);
        assert_eq!(Cell::lat_step(far), 22.5);
    }

    #[test]
    fn the_same_place_gives_the_same_cell_and_nearby_places_too() {
        let a = Cell::of(46.123457, 7.654321, 14);
        assert_eq!(a, Cell::of(46.123457, 7.654321, 14));
        let (lat, lon) = a.centre();
        assert!(a.contains(lat, lon));
        assert_eq!(Cell::of(lat, lon, 14), a);
        // Its parent holds it.
        let parent = Cell::of(46.123457, 7.654321, 13);
        assert!(parent.contains(lat, lon));
        let (s, n) = a.lat_span();
        let (ps, pn) = parent.lat_span();
        assert!(ps <= s && n <= pn);
        let (w, e) = a.lon_span();
        let (pw, pe) = parent.lon_span();
        assert!(pw <= w && e <= pe);
    }

    /// Tiers open from feelings to glimpse in the story profile: a bound of 15 km, rows
    /// of 180°/2^13 (2.43 km).
    fn at_glimpse() -> Known {
        Known {
            profile: Profile::Story,
            tiers: open(&[
                Tier::Feelings,
                Tier::Voice,
                Tier::Thoughts,
                Tier::Images,
                Tier::Glimpse,
            ]),
            partner: None,
        }
    }

    /// Rounds each fix in turn, keeping what was sent, as a device does.
    fn walk(fixes: &[(f64, f64)], known: &Known, mut kept: Option<Cell>) -> Vec<Shared> {
        fixes
            .iter()
            .map(|(lat, lon)| {
                let shared = round_keeping(&fix(*lat, *lon), known, kept.as_ref());
                kept = shared.cell();
                shared
            })
            .collect()
    }

    /// A latitude `m` metres north of a row's line at 46°N (negative: south of it).
    fn off_the_line(m: f64) -> f64 {
        let line = Cell::of(46.0, 7.0, 13).lat_span().1;
        line + m / 111_000.0
    }

    #[test]
    fn a_still_fix_jittering_across_a_line_keeps_one_cell() {
        let known = at_glimpse();
        let jitter = [-3.0, 4.0, -2.0, 5.0, -1.0, 3.0, -4.0, 2.0];
        let fixes: Vec<_> = jitter.iter().map(|m| (off_the_line(*m), 7.0)).collect();
        let sent = walk(&fixes, &known, None);
        assert!(sent.iter().all(|s| *s == sent[0]), "{sent:?}");
        // Without the kept cell it flips with every step across the line.
        let flips = fixes
            .windows(2)
            .filter(|w| round(&fix(w[0].0, w[0].1), &known) != round(&fix(w[1].0, w[1].1), &known))
            .count();
        assert_eq!(flips, jitter.len() - 1);
        // Started on the other side, it keeps that side's cell.
        let sent = walk(&fixes[1..], &known, None);
        assert!(sent.iter().all(|s| *s == sent[0]), "{sent:?}");
        assert_ne!(sent[0], walk(&fixes[..1], &known, None)[0]);
    }

    #[test]
    fn walking_on_past_the_margin_changes_the_cell() {
        let known = at_glimpse();
        let south = Cell::of(off_the_line(-3.0), 7.0, 13);
        let side = 111_000.0 * (south.lat_span().1 - south.lat_span().0);
        // Up to half a row north of the line it is kept; beyond, the fix's own cell.
        let near = walk(
            &[(off_the_line(-3.0), 7.0), (off_the_line(0.49 * side), 7.0)],
            &known,
            None,
        );
        assert_eq!(near[1].cell(), Some(south));
        let on = walk(
            &[(off_the_line(-3.0), 7.0), (off_the_line(0.51 * side), 7.0)],
            &known,
            None,
        );
        let north = Cell::of(off_the_line(0.51 * side), 7.0, 13);
        assert_ne!(north, south);
        assert_eq!(on[1].cell(), Some(north));
        // The same eastward, across a column's line.
        let (_, east) = south.lon_span();
        let width = south.lon_span().1 - south.lon_span().0;
        let lat = off_the_line(-3.0);
        let kept = walk(
            &[(lat, 7.0), (lat, east + 0.49 * width)],
            &known,
            Some(south),
        );
        assert_eq!(kept[1].cell(), Some(south));
        let gone = walk(
            &[(lat, 7.0), (lat, east + 0.51 * width)],
            &known,
            Some(south),
        );
        assert_eq!(gone[1].cell(), Some(Cell::of(lat, east + 0.51 * width, 13)));
        // Every rounded position claims the grown cell's reach, kept or not, and it holds
        // the fix.
        for shared in near.iter().chain(&on) {
            let cell = shared.cell().unwrap();
            assert_eq!(shared.reach_m(), cell.kept_reach_m());
            assert!(cell.kept_reach_m() > 1.9 * cell.reach_m());
        }
        let (clat, clon) = south.centre();
        let far = geo::inverse(clat, clon, off_the_line(0.49 * side), 7.0).distance_m;
        assert!(far <= near[1].reach_m());
    }

    #[test]
    fn a_tier_change_changes_the_size_at_once() {
        let glimpse = at_glimpse();
        let first = walk(&[(off_the_line(-3.0), 7.0)], &glimpse, None)[0];
        let kept = first.cell().unwrap();
        assert_eq!(kept.level, 13);
        // Glimpse and images close (the bound is 1.5 times thoughts' 16 km, rows of
        // 180°/2^12): the kept cell's parent, though the fix is north of its line.
        let thoughts = Known {
            tiers: open(&[Tier::Feelings, Tier::Voice]),
            ..glimpse
        };
        let coarser = round_keeping(&fix(off_the_line(3.0), 7.0), &thoughts, Some(&kept));
        let parent = coarser.cell().unwrap();
        assert_eq!(parent.level, 12);
        assert_eq!(parent, kept.ancestor(12));
        assert!(parent.contains(kept.centre().0, kept.centre().1));
        // Glimpse opens again: a cell of 13 at once, the fix's own.
        let finer = round_keeping(&fix(off_the_line(3.0), 7.0), &glimpse, Some(&parent));
        assert_eq!(finer.cell(), Some(Cell::of(off_the_line(3.0), 7.0, 13)));
        // Sight opens: the exact fix, nothing kept.
        let sight = Known {
            tiers: open(&[Tier::Feelings, Tier::Glimpse, Tier::Sight]),
            ..glimpse
        };
        let exact = round_keeping(&fix(off_the_line(3.0), 7.0), &sight, Some(&kept));
        assert!(exact.is_exact());
        assert_eq!(exact.cell(), None);
    }

    #[test]
    fn the_grown_cell_wraps_the_antimeridian_and_stops_at_the_poles() {
        let west_edge = Cell::of(10.0, -179.999, 13);
        assert_eq!(west_edge.lon_span().0, -180.0);
        assert!(west_edge.keeps(10.0, 179.999));
        assert!(!west_edge.keeps(10.0, 170.0));
        let pole = Cell::of(89.99, 0.0, 13);
        assert_eq!(pole.kept_lat_span().1, 90.0);
        assert!(pole.keeps(90.0, 0.0));
        // Two columns grown by half of each go all round.
        let half = Cell {
            level: 1,
            row: 1,
            columns_log2: 1,
            column: 0,
        };
        assert_eq!(half.kept_lon_span(), None);
        assert!(half.keeps(10.0, 179.0));
    }

    #[test]
    fn poles_and_the_antimeridian_are_cells_like_any_other() {
        for level in [0, 1, 5, 20, MAX_LEVEL] {
            let north = Cell::of(90.0, 0.0, level);
            assert!(north.is_ring(), "{north:?}");
            assert_eq!(north, Cell::of(90.0, 123.0, level));
            assert_eq!(north.lat_span().1, 90.0);
            let south = Cell::of(-90.0, -45.0, level);
            assert!(south.is_ring());
            assert_eq!(south.lat_span().0, -90.0);
            assert_eq!(Cell::of(10.0, 180.0, level), Cell::of(10.0, -180.0, level));
        }
        // The whole Earth reaches to the antipode.
        let earth = Cell::of(0.0, 0.0, 0);
        assert!((earth.reach_m() - FARTHEST_M).abs() < 1_000.0, "{earth:?}");
    }
}
