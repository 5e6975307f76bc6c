//! Tokens: what a client sends the server instead of its position, so the server can
//! open the tiers without learning where anyone is.
//!
//! For each tier that needs a distance, a client names the cells it stands in on the
//! nine shifted grids of every chart it uses ([`crate::geometry`]), each cell as an
//! HMAC-SHA256 (cut to [`TOKEN_LEN`] bytes) under a key only the two partners hold, which
//! is expanded from the bond key for that tier, its range and the time epoch. The server
//! sees opaque tokens; two partners' tokens are equal exactly when they stand in the same
//! cell (a false equality of 64-bit tokens has a chance of about 2⁻⁴⁸ per report).
//!
//! # The cell sizes, and what they guarantee
//!
//! A tier of range `R` has two grids: cells of side `0.85·R` to open it, and of side
//! `1.1 × 0.85·R` (the plain bond's hysteresis) to keep it open ([`cell_sides`]). From
//! the two facts of [`crate::geometry`] (points less than `2s/3` apart share a cell of
//! one of the nine grids; points sharing a cell are less than `s√2` apart), and a chart's
//! scale of at most 1.00008:
//!
//! | | cells | certainly met within | never met beyond |
//! |---|---|---|---|
//! | open | `0.85·R` | `0.567·R` (≥ `R/2`) | `1.202·R` |
//! | keep | `0.935·R` | `0.623·R` | `1.322·R` (≤ `1.5·R`) |
//!
//! So a tier opens for certain when the partners are `R/2` apart or closer, and is never
//! open (opened or kept) beyond `1.5·R`. Between, whether it opens depends on where the
//! grids' lines fall. Every tier but memories goes by the fixes' points alone; a fix
//! blurrier than half the tier's range sends no real tokens for it (its list is all
//! padding), so a phone that cannot tell where it is within `R/2` opens nothing that
//! needs `R`, as the plain bond's pessimistic distance would close it.
//!
//! # What the server can tell from the tokens
//!
//! Each tier's list holds [`PER_LIST`] tokens whatever the place: the real ones, then
//! random ones up to the count, sorted, so neither the number of charts a point uses nor
//! its accuracy shows. Keys differ per tier and per epoch ([`EPOCH_MS`], 10 minutes), so
//! the same cell under two tiers, or in two epochs, gives unrelated tokens: the server
//! can tell that someone stayed in a cell within an epoch, not that they are back in
//! yesterday's. A report made in the last [`LOOKAHEAD_MS`] of an epoch also holds the
//! next epoch's tokens, so partners who cross an epoch's end seconds apart still share an
//! epoch to compare.

use haurach_bond::{Fix, Profile, Tier};
use hmac::{Hmac, Mac};
use rand_core::{CryptoRng, RngCore};
use sha2::Sha256;

use crate::Error;
use crate::geometry::{self, SHIFTS};
use crate::keys::BondKey;

/// How long one set of token keys lasts: 10 minutes.
pub const EPOCH_MS: i64 = 600_000;

/// How long before an epoch's end a report also holds the next epoch's tokens: 2 minutes.
pub const LOOKAHEAD_MS: i64 = 120_000;

/// A token's length in bytes.
pub const TOKEN_LEN: usize = 8;

/// The most charts a point uses for one tier (see [`crate::geometry::charts_near`]). The
/// most found anywhere is four (where four centres are about equally near, as at the
/// corners between bands); a point that found more would use its six nearest, and a test
/// scans the densest places (the poles, the bands' corners) for the most.
pub const MAX_CHARTS: usize = 6;

/// How many tokens each list of a tier holds: one per grid per chart, padded.
pub const PER_LIST: usize = MAX_CHARTS * SHIFTS.len();

/// The open grid's cell side as a fraction of the tier's range.
pub const OPEN_CELL: f64 = 0.85;

/// A keyed cell: equal for two partners exactly when they stand in the same cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Token(pub [u8; TOKEN_LEN]);

/// One tier's tokens in one epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierTokens {
    /// The tier.
    pub tier: Tier,
    /// The cells of the grids that open the tier: [`PER_LIST`] tokens, sorted.
    pub open: Vec<Token>,
    /// The cells of the larger grids that keep it open: [`PER_LIST`] tokens, sorted.
    pub keep: Vec<Token>,
}

/// Every ranged tier's tokens in one epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochTokens {
    /// The epoch: Unix milliseconds divided by [`EPOCH_MS`].
    pub epoch: i64,
    /// One entry per tier the profile gives a range, in [`Tier::ALL`] order.
    pub tiers: Vec<TierTokens>,
}

/// What a client sends for one fix: one epoch's tokens, or two near an epoch's end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// One or two consecutive epochs, oldest first.
    pub epochs: Vec<EpochTokens>,
}

/// The epoch a moment falls in.
pub fn epoch_of(at_ms: i64) -> i64 {
    at_ms.div_euclid(EPOCH_MS)
}

/// The cell sides of a tier of range `range_m`: (to open, to keep open), metres.
pub fn cell_sides(range_m: f64) -> (f64, f64) {
    let open = OPEN_CELL * range_m;
    (open, open * haurach_bond::TierState::HYSTERESIS)
}

/// The token key of one tier in one epoch: `HKDF-Expand(bond key, "haurach tokens v1" ‖
/// tier ‖ range in millimetres ‖ epoch)`. The range is in it so a profile change, which
/// changes the cells, never makes old tokens meet new ones.
fn tier_key(key: &BondKey, tier: Tier, range_m: f64, epoch: i64) -> [u8; 32] {
    let mut context = Vec::with_capacity(32);
    context.extend_from_slice(tier.key().as_bytes());
    context.push(0);
    context.extend_from_slice(&((range_m * 1000.0).round() as u64).to_be_bytes());
    context.extend_from_slice(&epoch.to_be_bytes());
    key.expand(b"haurach tokens v1", &context)
}

/// Where a fix lies on every chart it may use, worked out once per fix and shared by
/// every tier and grid size.
struct Placed {
    /// The charts within reach of the largest grid, nearest first, with the fix's
    /// distance from each centre and its place on it.
    charts: Vec<(geometry::NearChart, (f64, f64))>,
}

impl Placed {
    fn new(lat: f64, lon: f64, largest_side_m: f64) -> Placed {
        let charts = geometry::charts_near(lat, lon, 2.0 * largest_side_m / 3.0)
            .into_iter()
            .map(|near| (near, geometry::project(&near.chart, lat, lon)))
            .collect();
        Placed { charts }
    }

    /// The real tokens of one grid size: one per shift on every chart within `d₀ + 2g`
    /// ([`geometry::charts_near`]'s rule), `g` the distance within which the grid surely
    /// matches.
    fn tokens(&self, mac: &Hmac<Sha256>, kind: u8, side_m: f64) -> Vec<Token> {
        let nearest_m = self.charts.first().map_or(0.0, |(n, _)| n.distance_m);
        let reach_m = nearest_m + 2.0 * (2.0 * side_m / 3.0);
        let mut tokens = Vec::with_capacity(SHIFTS.len() * 2);
        let charts = self.charts.iter().filter(|(n, _)| n.distance_m <= reach_m);
        for (near, (x, y)) in charts.take(MAX_CHARTS) {
            for shift in SHIFTS {
                let (cx, cy) = geometry::cell(*x, *y, side_m, shift);
                let mut mac = mac.clone();
                mac.update(&[kind]);
                mac.update(&near.chart.id.to_be_bytes());
                mac.update(&[shift.i, shift.j]);
                mac.update(&cx.to_be_bytes());
                mac.update(&cy.to_be_bytes());
                let full = mac.finalize().into_bytes();
                let mut token = [0; TOKEN_LEN];
                token.copy_from_slice(&full[..TOKEN_LEN]);
                tokens.push(Token(token));
            }
        }
        tokens
    }
}

/// `tokens` padded with random ones to [`PER_LIST`], sorted.
fn padded(mut tokens: Vec<Token>, rng: &mut (impl RngCore + CryptoRng)) -> Vec<Token> {
    // One draw for the whole padding: from the operating system, a draw is a system call.
    let mut random = vec![0; PER_LIST.saturating_sub(tokens.len()) * TOKEN_LEN];
    rng.fill_bytes(&mut random);
    for chunk in random.chunks_exact(TOKEN_LEN) {
        tokens.push(Token(chunk.try_into().expect("chunks of a token's length")));
    }
    tokens.sort_unstable();
    tokens
}

/// The tokens a client sends for `fix` in a bond with `profile`, random padding from the
/// operating system.
pub fn report(key: &BondKey, profile: Profile, fix: &Fix) -> Report {
    report_with(&mut rand_core::OsRng, key, profile, fix)
}

/// The tokens a client sends for `fix`, with padding drawn from `rng`. The epoch is the
/// fix's (`fix.at_ms`), and the next one too in the last [`LOOKAHEAD_MS`] of it.
pub fn report_with(
    rng: &mut (impl RngCore + CryptoRng),
    key: &BondKey,
    profile: Profile,
    fix: &Fix,
) -> Report {
    let epoch = epoch_of(fix.at_ms);
    let mut epochs = vec![epoch];
    if fix.at_ms >= (epoch + 1) * EPOCH_MS - LOOKAHEAD_MS {
        epochs.push(epoch + 1);
    }
    let largest_side_m = Tier::ALL
        .into_iter()
        .filter_map(|tier| profile.range_m(tier))
        .map(|range_m| cell_sides(range_m).1)
        .fold(0.0, f64::max);
    let placed = Placed::new(fix.lat, fix.lon, largest_side_m);
    let epochs = epochs
        .into_iter()
        .map(|epoch| EpochTokens {
            epoch,
            tiers: Tier::ALL
                .into_iter()
                .filter_map(|tier| {
                    let range_m = profile.range_m(tier)?;
                    let (open_side, keep_side) = cell_sides(range_m);
                    let usable = tier == Tier::Memories || fix.accuracy_or_zero() <= range_m / 2.0;
                    let mac = Hmac::<Sha256>::new_from_slice(&tier_key(key, tier, range_m, epoch))
                        .expect("HMAC takes any key length");
                    let (open, keep) = if usable {
                        (
                            placed.tokens(&mac, 0, open_side),
                            placed.tokens(&mac, 1, keep_side),
                        )
                    } else {
                        (Vec::new(), Vec::new())
                    };
                    Some(TierTokens {
                        tier,
                        open: padded(open, rng),
                        keep: padded(keep, rng),
                    })
                })
                .collect(),
        })
        .collect();
    Report { epochs }
}

impl Report {
    /// Checks the report's shape for a bond with `profile`, as the server should before
    /// keeping it: one or two consecutive epochs; in each, exactly the profile's ranged
    /// tiers in order, each list [`PER_LIST`] sorted tokens. A report of another shape
    /// would tell the server something (a list's length) or is not from a client.
    pub fn check(&self, profile: Profile) -> Result<(), Error> {
        let ranged: Vec<Tier> = Tier::ALL
            .into_iter()
            .filter(|t| profile.range_m(*t).is_some())
            .collect();
        let consecutive = match self.epochs.as_slice() {
            [_] => true,
            [a, b] => a.epoch.checked_add(1) == Some(b.epoch),
            _ => false,
        };
        if !consecutive {
            return Err(Error::MalformedReport);
        }
        for epoch in &self.epochs {
            let tiers: Vec<Tier> = epoch.tiers.iter().map(|t| t.tier).collect();
            if tiers != ranged {
                return Err(Error::MalformedReport);
            }
            for list in epoch.tiers.iter().flat_map(|t| [&t.open, &t.keep]) {
                if list.len() != PER_LIST || !list.is_sorted() {
                    return Err(Error::MalformedReport);
                }
            }
        }
        Ok(())
    }

    /// The tokens of `tier` in `epoch`, if the report has them.
    pub fn tier(&self, epoch: i64, tier: Tier) -> Option<&TierTokens> {
        self.epochs
            .iter()
            .find(|e| e.epoch == epoch)?
            .tiers
            .iter()
            .find(|t| t.tier == tier)
    }

    /// How many bytes the tokens take, as a measure of a report's cost on the wire.
    pub fn token_bytes(&self) -> usize {
        self.epochs
            .iter()
            .flat_map(|e| &e.tiers)
            .map(|t| (t.open.len() + t.keep.len()) * TOKEN_LEN)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> BondKey {
        BondKey::from_bytes([3; 32])
    }

    fn fix(lat: f64, lon: f64, at_ms: i64) -> Fix {
        Fix {
            lat,
            lon,
            accuracy_m: 5.0,
            at_ms,
        }
    }

    #[test]
    fn a_report_has_the_same_shape_everywhere() {
        let at = 1_000 * EPOCH_MS;
        let places = [(0.0, 0.0), (89.99, 10.0), (-90.0, 0.0), (23.1, 179.999)];
        for (lat, lon) in places {
            let report = report(&key(), Profile::Story, &fix(lat, lon, at));
            report.check(Profile::Story).unwrap();
            assert_eq!(report.epochs.len(), 1);
            assert_eq!(report.epochs[0].tiers.len(), 7);
            assert_eq!(report.token_bytes(), 7 * 2 * PER_LIST * TOKEN_LEN);
        }
        // The open profile ranges only memories.
        let open = report(&key(), Profile::Open, &fix(0.0, 0.0, at));
        open.check(Profile::Open).unwrap();
        assert_eq!(open.epochs[0].tiers.len(), 1);
        assert_eq!(open.check(Profile::Story), Err(Error::MalformedReport));
    }

    #[test]
    fn the_last_two_minutes_of_an_epoch_also_carry_the_next() {
        let start = 1_000 * EPOCH_MS;
        let early = report(
            &key(),
            Profile::City,
            &fix(1.0, 1.0, start + EPOCH_MS - LOOKAHEAD_MS - 1),
        );
        assert_eq!(early.epochs.len(), 1);
        let late = report(
            &key(),
            Profile::City,
            &fix(1.0, 1.0, start + EPOCH_MS - LOOKAHEAD_MS),
        );
        assert_eq!(
            late.epochs.iter().map(|e| e.epoch).collect::<Vec<_>>(),
            [1_000, 1_001]
        );
        late.check(Profile::City).unwrap();
    }

    #[test]
    fn the_same_cell_gives_unrelated_tokens_in_another_epoch_or_tier() {
        let at = 1_000 * EPOCH_MS;
        let now = report(&key(), Profile::Story, &fix(23.1, 53.7, at));
        let later = report(&key(), Profile::Story, &fix(23.1, 53.7, at + EPOCH_MS));
        let again = report(&key(), Profile::Story, &fix(23.1, 53.7, at + 1_000));
        let real = |r: &Report, tier| {
            let t = r.epochs[0].tiers.iter().find(|t| t.tier == tier).unwrap();
            t.open.clone()
        };
        let meets = |a: &[Token], b: &[Token]| a.iter().any(|t| b.contains(t));
        // The same place in the same epoch meets; in the next epoch, or as another tier,
        // nothing is shared.
        assert!(meets(&real(&now, Tier::Sight), &real(&again, Tier::Sight)));
        assert!(!meets(&real(&now, Tier::Sight), &real(&later, Tier::Sight)));
        assert!(!meets(&real(&now, Tier::Sight), &real(&now, Tier::Glimpse)));
    }

    #[test]
    fn a_blurry_fix_sends_only_padding_for_tiers_it_cannot_resolve() {
        let at = 1_000 * EPOCH_MS;
        let mut blurry = fix(23.1, 53.7, at);
        blurry.accuracy_m = 60.0;
        let sharp = report(&key(), Profile::City, &fix(23.1, 53.7, at));
        let vague = report(&key(), Profile::City, &blurry);
        vague.check(Profile::City).unwrap();
        let meets = |tier| {
            let (a, b) = (
                sharp.tier(1_000, tier).unwrap(),
                vague.tier(1_000, tier).unwrap(),
            );
            a.open.iter().any(|t| b.open.contains(t))
        };
        // City sight is 100 m: a 60 m fix cannot place itself within 50 m.
        assert!(!meets(Tier::Sight));
        assert!(meets(Tier::Glimpse));
        // Memories go by the together rule's spirit: accuracy does not take them away.
        assert!(meets(Tier::Memories));
    }

    #[test]
    fn malformed_reports_are_refused() {
        let at = 1_000 * EPOCH_MS;
        let good = report(&key(), Profile::City, &fix(0.0, 0.0, at));
        let mut short = good.clone();
        short.epochs[0].tiers[0].open.pop();
        let mut unsorted = good.clone();
        unsorted.epochs[0].tiers[2].keep.reverse();
        let mut gap = good.clone();
        let mut next = good.epochs[0].clone();
        next.epoch += 2;
        gap.epochs.push(next);
        let empty = Report { epochs: Vec::new() };
        for bad in [short, unsorted, gap, empty] {
            assert_eq!(bad.check(Profile::City), Err(Error::MalformedReport));
        }
    }
}
