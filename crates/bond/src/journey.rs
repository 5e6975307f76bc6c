//! The journey as a person was told it: the distance to the partner over time and the
//! moments tiers opened, worked out again from both partners' stored fixes, so every
//! device of the person draws the same chart.
//!
//! Each fix of either partner is a moment the pull changed. At each, the two latest
//! fixes are compared: the tiers move with their hysteresis ([`TierState::update`]) and
//! the distance is kept as the pull shows it ([`Disclosure`]): exact while sight is open,
//! two significant figures beyond. So the chart never says more than the live pull said.
//! When the two latest fixes are further apart in time than `stale_ms` (one of them was
//! paused, offline, or had not shared yet), the distance is unknown: nothing is kept, and
//! the tiers close as they do for an unknown distance, so a fix from before a pause is
//! never measured against where the other went since.

use crate::disclosure::Disclosure;
use crate::geo::{self, Fix};
use crate::tier::{Profile, Separation, Tier, TierState};

/// One point of the chart: the distance the person was shown at a moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Told {
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// The distance as shown: exact within sight, two significant figures beyond.
    pub distance_m: f64,
    /// Whether it was exact.
    pub exact: bool,
}

/// A tier that opened, at the distance then shown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Opened {
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// The distance shown at that moment.
    pub distance_m: f64,
    /// Which tier.
    pub tier: Tier,
}

/// The chart of a journey: its points and its openings, in time order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chart {
    /// The distances shown, one per fix of either partner while both were known.
    pub told: Vec<Told>,
    /// The tiers that opened on the way.
    pub opened: Vec<Opened>,
}

/// The chart from `from_ms` on of a bond of `profile` whose partners' fixes were `mine`
/// and `theirs` (each in time order); fixes more than `stale_ms` apart are not compared.
///
/// Fixes before `from_ms` (when the bond was made, or the chart begins) only say where
/// each partner was at that moment: the first point is at `from_ms`, from the latest fix
/// of each taken by then, as the first pull of a new bond is.
pub fn chart(profile: Profile, mine: &[Fix], theirs: &[Fix], stale_ms: i64, from_ms: i64) -> Chart {
    let mut out = Chart::default();
    let mut tiers = TierState::initial(profile);
    let (mut i, mut j) = (0, 0);
    let (mut me, mut them): (Option<&Fix>, Option<&Fix>) = (None, None);
    while i < mine.len() && mine[i].at_ms < from_ms {
        me = Some(&mine[i]);
        i += 1;
    }
    while j < theirs.len() && theirs[j].at_ms < from_ms {
        them = Some(&theirs[j]);
        j += 1;
    }
    if me.is_some() && them.is_some() {
        step(&mut out, &mut tiers, profile, me, them, stale_ms, from_ms);
    }
    while i < mine.len() || j < theirs.len() {
        // Mine first on a tie: the order does not change what two equal times show.
        let take_mine = j >= theirs.len() || (i < mine.len() && mine[i].at_ms <= theirs[j].at_ms);
        let at_ms = if take_mine {
            me = Some(&mine[i]);
            i += 1;
            mine[i - 1].at_ms
        } else {
            them = Some(&theirs[j]);
            j += 1;
            theirs[j - 1].at_ms
        };
        step(&mut out, &mut tiers, profile, me, them, stale_ms, at_ms);
    }
    out
}

/// One moment of the chart: the tiers moved by the two latest fixes, and the distance
/// kept as shown, unless either is unknown or they are too far apart in time.
fn step(
    out: &mut Chart,
    tiers: &mut TierState,
    profile: Profile,
    me: Option<&Fix>,
    them: Option<&Fix>,
    stale_ms: i64,
    at_ms: i64,
) {
    let (Some(a), Some(b)) = (me, them) else {
        return;
    };
    if (a.at_ms - b.at_ms).abs() > stale_ms {
        tiers.reset(profile, None);
        return;
    }
    let g = geo::inverse(a.lat, a.lon, b.lat, b.lon);
    let changes = tiers.update(
        profile,
        Separation::of(g.distance_m, a.accuracy_or_zero(), b.accuracy_or_zero()),
    );
    let disclosure = Disclosure::of(*tiers);
    let distance_m = disclosure.distance_m(g.distance_m);
    out.told.push(Told {
        at_ms,
        distance_m,
        exact: disclosure.is_exact(),
    });
    out.opened.extend(
        changes
            .into_iter()
            .filter(|c| c.open && profile.range_m(c.tier).is_some())
            .map(|c| Opened {
                at_ms,
                distance_m,
                tier: c.tier,
            }),
    );
}
