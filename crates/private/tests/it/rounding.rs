//! The rounding of a sealed position, as property tests over the whole Earth: beyond
//! sight the cell a sender seals is never finer than the plain bond's coarse pull at the
//! true distance, whatever an honest partner and the token rule let the sender know;
//! within sight the fix goes as it is; the same place always gives the same cell; a
//! cell's reach holds every point of it; and the cells nest. Keeping the cell sent before
//! (`round_keeping`) never sends a finer cell than the fix's own, nor one whose claimed
//! reach does not hold the fix, and the grown cell's reach holds every point it keeps.

use haurach_bond::geo::{destination, inverse};
use haurach_bond::{Fix, Profile, Tier, TierSet, TierState};
use haurach_private::rounding::{
    Cell, Known, MAX_LEVEL, PartnerFix, SHARE, Shared, round, round_keeping,
};
use proptest::prelude::*;

/// Latitudes anywhere, often near or at a pole.
fn latitude() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => -90.0..=90.0f64,
        1 => 89.0..=90.0f64,
        1 => -90.0..=-89.0f64,
        1 => Just(90.0),
        1 => Just(-90.0),
    ]
}

/// Longitudes anywhere, often near the antimeridian.
fn longitude() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => -180.0..=180.0f64,
        1 => 179.9..=180.0f64,
        1 => -180.0..=-179.9f64,
    ]
}

/// Distances from a few metres to the far side of the Earth, spread over the scales.
fn distance() -> impl Strategy<Value = f64> {
    (0.0..7.3f64).prop_map(|e| 10f64.powf(e))
}

fn fix((lat, lon): (f64, f64)) -> Fix {
    Fix {
        lat,
        lon,
        accuracy_m: 0.0,
        at_ms: 0,
    }
}

/// Tiers the token rule may have open for partners `d` apart: a tier of range `R` is
/// open for certain within `R/2`, never beyond `1.5·R`, and either between (`coins`
/// decide); a tier open opens every wider one, as the matcher nests them.
fn tiers_at(profile: Profile, d: f64, coins: u16) -> TierState {
    let mut open = TierSet::always();
    for (idx, tier) in Tier::ALL.into_iter().enumerate() {
        let Some(range) = profile.range_m(tier) else {
            open.insert(tier);
            continue;
        };
        let is_open = if d <= 0.5 * range {
            true
        } else if d > 1.5 * range {
            false
        } else {
            coins & (1 << idx) != 0
        };
        if is_open {
            open.insert(tier);
        }
    }
    for tier in open.iter().collect::<Vec<_>>() {
        let Some(range) = profile.range_m(tier) else {
            continue;
        };
        for wider in Tier::ALL {
            if profile.range_m(wider).is_some_and(|r| r >= range) {
                open.insert(wider);
            }
        }
    }
    TierState::new(open)
}

/// How far apart the coarse pull can tell two places at distance `d`: across, the width
/// of its 5° wedge; along, the step of a distance's second significant figure.
fn coarse_pull_grain(d: f64) -> f64 {
    let wedge = 2.0 * d * 2.5f64.to_radians().tan();
    let step = 10f64.powi(d.log10().floor() as i32 - 1);
    wedge.max(step)
}

/// The least extent of a cell on the ground: along the meridian through `lon`, and
/// across each of its edges of latitude from corner to corner (a row all round has no
/// such edge).
fn least_extent(cell: &Cell, lon: f64) -> f64 {
    let (south, north) = cell.lat_span();
    let mut least = inverse(south, lon, north, lon).distance_m;
    if !cell.is_ring() {
        let (west, east) = cell.lon_span();
        for lat in [south, north] {
            least = least.min(inverse(lat, west, lat, east).distance_m);
        }
    }
    least
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Beyond sight range the sender seals a cell that holds its fix and is at least a
    /// tenth of the true distance on every side, so never finer than the coarse pull
    /// there: whether it knows nothing of the partner, only the tiers, or also the
    /// partner's own sealed position (made by the same rule, or exact).
    #[test]
    fn beyond_sight_the_cell_is_never_finer_than_the_coarse_pull(
        lat in latitude(),
        lon in longitude(),
        bearing in 0.0..360.0f64,
        d in distance(),
        profile in prop_oneof![Just(Profile::Story), Just(Profile::City)],
        coins in any::<u16>(),
        knows in 0..3u8,
        partner_knows_me in any::<bool>(),
    ) {
        let me = (lat, lon);
        let partner = destination(lat, lon, bearing, d);
        let d = inverse(me.0, me.1, partner.0, partner.1).distance_m;
        let tiers = tiers_at(profile, d, coins);
        prop_assume!(!tiers.is_open(Tier::Sight));
        let theirs = match knows {
            0 => None,
            1 => Some(PartnerFix { lat: partner.0, lon: partner.1, reach_m: 0.0 }),
            _ => {
                let mine = PartnerFix { lat: me.0, lon: me.1, reach_m: 0.0 };
                let known = Known { profile, tiers, partner: partner_knows_me.then_some(mine) };
                let shared = round(&fix(partner), &known);
                let (lat, lon) = shared.point();
                Some(PartnerFix { lat, lon, reach_m: shared.reach_m() })
            }
        };
        let shared = round(&fix(me), &Known { profile, tiers, partner: theirs });
        let Shared::Rounded { cell, bound_m } = shared else {
            panic!("exact beyond sight: {shared:?}");
        };
        prop_assert!(bound_m >= d * (1.0 - 1e-9), "went by {bound_m} m at {d} m");
        prop_assert!(cell.contains(me.0, me.1), "{cell:?} does not hold {me:?}");
        let least = least_extent(&cell, me.1);
        prop_assert!(least >= SHARE * d * (1.0 - 1e-9), "{cell:?} is {least} m at {d} m");
        prop_assert!(least >= coarse_pull_grain(d) * (1.0 - 1e-9), "{cell:?} at {d} m");
    }

    /// Keeping a cell sealed before, from a fix anywhere near and at any level as fine
    /// as the one now or finer: beyond sight the cell sent is as large as the fix's own
    /// (never finer than the coarse pull), it keeps the fix and its claimed reach holds
    /// the fix; it is the fix's own cell or the kept one (or its ancestor), and the kept
    /// one only when it keeps the fix.
    #[test]
    fn a_kept_cell_is_as_large_as_the_fixs_own_and_reaches_the_fix(
        lat in latitude(),
        lon in longitude(),
        bearing in 0.0..360.0f64,
        d in distance(),
        profile in prop_oneof![Just(Profile::Story), Just(Profile::City)],
        coins in any::<u16>(),
        before in (0.0..360.0f64, 0.0..3.0f64, 0..3u8),
    ) {
        let me = (lat, lon);
        let partner = destination(lat, lon, bearing, d);
        let d = inverse(me.0, me.1, partner.0, partner.1).distance_m;
        let tiers = tiers_at(profile, d, coins);
        prop_assume!(!tiers.is_open(Tier::Sight));
        let known = Known { profile, tiers, partner: None };
        let own = round(&fix(me), &known);
        let own_cell = own.cell().unwrap();
        // Where the fix was when the kept cell was sealed: up to three of its sides away.
        let (then_bearing, sides, finer) = before;
        let then = destination(lat, lon, then_bearing, sides * own_cell.side_m());
        let kept = Cell::of(then.0, then.1, (own_cell.level + finer).min(MAX_LEVEL));
        let shared = round_keeping(&fix(me), &known, Some(&kept));
        let Shared::Rounded { cell, bound_m } = shared else {
            panic!("exact beyond sight: {shared:?}");
        };
        prop_assert_eq!(cell.level, own_cell.level);
        prop_assert!(bound_m >= d * (1.0 - 1e-9));
        let least = least_extent(&cell, me.1);
        prop_assert!(least >= SHARE * d * (1.0 - 1e-9), "{cell:?} is {least} m at {d} m");
        prop_assert!(cell.keeps(me.0, me.1), "{cell:?} does not keep {me:?}");
        let (clat, clon) = cell.centre();
        let off = inverse(clat, clon, me.0, me.1).distance_m;
        let reach = shared.reach_m();
        prop_assert!(off <= reach + 1e-6 * reach.max(1.0), "{off} m beyond {reach} m");
        let ancestor = kept.ancestor(cell.level);
        prop_assert!(cell == own_cell || cell == ancestor, "{cell:?}");
        prop_assert_eq!(cell == ancestor, ancestor.keeps(me.0, me.1));
    }

    /// The reach of a grown cell holds every point it keeps.
    #[test]
    fn the_grown_reach_holds_what_the_cell_keeps(
        lat in latitude(),
        lon in longitude(),
        level in 0..MAX_LEVEL,
        at in proptest::collection::vec((-0.5..=1.5f64, -0.5..=1.5f64), 16),
    ) {
        let cell = Cell::of(lat, lon, level);
        let (south, north) = cell.lat_span();
        let (west, east) = cell.lon_span();
        let (clat, clon) = cell.centre();
        let reach = cell.kept_reach_m();
        for (a, b) in at {
            let plat = (south + a * (north - south)).clamp(-90.0, 90.0);
            let mut plon = west + b * (east - west);
            if plon > 180.0 {
                plon -= 360.0;
            } else if plon < -180.0 {
                plon += 360.0;
            }
            prop_assert!(cell.keeps(plat, plon), "{cell:?} does not keep ({plat}, {plon})");
            let far = inverse(clat, clon, plat, plon).distance_m;
            prop_assert!(far <= reach + 1e-6 * reach.max(1.0), "{far} beyond {reach} in {cell:?}");
        }
    }

    /// Within sight range the fix goes exactly, whatever else is known.
    #[test]
    fn within_sight_the_fix_is_exact(
        lat in latitude(),
        lon in longitude(),
        d in distance(),
        profile in prop_oneof![Just(Profile::Story), Just(Profile::City), Just(Profile::Open)],
        coins in any::<u16>(),
    ) {
        let mut tiers = tiers_at(profile, d, coins).open();
        tiers.insert(Tier::Sight);
        let me = Fix { lat, lon, accuracy_m: 7.0, at_ms: 1 };
        let known = Known { profile, tiers: TierState::new(tiers), partner: None };
        prop_assert_eq!(round(&me, &known), Shared::Exact(me));
    }

    /// Every place of a cell is rounded to the same centre: a still sender's repeated,
    /// jittering reports all say the same, and averaging them gains nothing.
    #[test]
    fn every_place_in_a_cell_gives_the_same_cell(
        lat in latitude(),
        lon in longitude(),
        level in 0..=MAX_LEVEL,
        at in (0.0..1.0f64, 0.0..1.0f64),
    ) {
        let cell = Cell::of(lat, lon, level);
        let (south, north) = cell.lat_span();
        let (west, east) = cell.lon_span();
        let other = (south + at.0 * (north - south), west + at.1 * (east - west));
        prop_assert_eq!(Cell::of(other.0, other.1, level), cell);
        let (clat, clon) = cell.centre();
        prop_assert_eq!(Cell::of(clat, clon, level), cell);
    }

    /// A cell's reach holds every point of it, and the cell holds its finer cells.
    #[test]
    fn the_reach_holds_the_cell_and_cells_nest(
        lat in latitude(),
        lon in longitude(),
        level in 0..MAX_LEVEL,
        at in proptest::collection::vec((0.0..=1.0f64, 0.0..=1.0f64), 16),
    ) {
        let cell = Cell::of(lat, lon, level);
        let (south, north) = cell.lat_span();
        let (west, east) = cell.lon_span();
        let (clat, clon) = cell.centre();
        let reach = cell.reach_m();
        for (a, b) in at {
            let (plat, plon) = (south + a * (north - south), west + b * (east - west));
            let far = inverse(clat, clon, plat, plon).distance_m;
            prop_assert!(far <= reach + 1e-6 * reach.max(1.0), "{far} beyond {reach} in {cell:?}");
        }
        let finer = Cell::of(lat, lon, level + 1);
        let (fs, fn_) = finer.lat_span();
        let (fw, fe) = finer.lon_span();
        prop_assert!(south <= fs && fn_ <= north, "{finer:?} in {cell:?}");
        prop_assert!(west <= fw && fe <= east, "{finer:?} in {cell:?}");
    }
}

/// How far the centre of a cell may be from the sender, against the distance the sender
/// went by: what it costs the partner in accuracy. Printed for `docs/privacy.md`, held to
/// a bound a change must not loosen unnoticed.
#[test]
fn what_rounding_costs_the_partner() {
    let (mut worst, mut worst_mid, mut kept, mut kept_mid): (f64, f64, f64, f64) =
        (0.0, 0.0, 0.0, 0.0);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    for _ in 0..20_000 {
        let lat = next() * 180.0 - 90.0;
        let lon = next() * 360.0 - 180.0;
        let bound = 10f64.powf(1.0 + next() * 6.0);
        let level = haurach_private::rounding::level_for(SHARE * bound);
        let cell = Cell::of(lat, lon, level);
        let ratio = cell.reach_m() / bound;
        let grown = cell.kept_reach_m() / bound;
        worst = worst.max(ratio);
        kept = kept.max(grown);
        if lat.abs() <= 60.0 && bound <= 200_000.0 {
            worst_mid = worst_mid.max(ratio);
            kept_mid = kept_mid.max(grown);
        }
    }
    println!(
        "reach / bound: at most {worst:.3} anywhere, {worst_mid:.3} within 60° of the equator up to 200 km; \
         grown by half a side (what is claimed): {kept:.3} and {kept_mid:.3}"
    );
    assert!(worst_mid <= 0.25 && worst <= 0.35, "{worst_mid} {worst}");
    assert!(kept_mid <= 0.46 && kept <= 0.6, "{kept_mid} {kept}");
}
