//! The server's side of a private bond's tiers: it keeps each partner's latest token
//! [`Report`] and opens a tier when their tokens meet, with the plain bond's hysteresis.
//!
//! The rule, tier by tier, for a tier the profile gives a range:
//!
//! - The two latest reports are compared in the newest epoch both hold; when they share
//!   none (one partner silent since an earlier epoch), the distance is unknown and the
//!   tier closes, as the plain bond closes it for a paused partner.
//! - A closed tier opens when an `open` token of one partner equals one of the other's.
//! - An open tier stays open while an `open` or a `keep` token meets; the keep grid's
//!   cells are 1.1 times larger, as the plain bond keeps a tier open to 1.1 times its
//!   range. It closes when none meets.
//!
//! - A tier open opens every tier of a longer range, so the tiers nest as in the plain
//!   bond (thoughts never without voice).
//!
//! Tiers open at any range (the pull, the alarm, everything in the "open" profile but
//! memories) are always open, as in [`haurach_bond::TierState`]. Contact (lost after a
//! silence, restored) is about when a partner was heard, not where, so the server runs
//! [`haurach_bond::Contact`] on reports as it does on fixes. The stretch of an implausible
//! jump needs two positions, which the server no longer has; a client sees its partner's
//! position only as the open tiers allow, so judging it falls to the mover's own client
//! (see `docs/privacy.md`).

use haurach_bond::{Profile, Tier, TierChange, TierSet, TierState};

use crate::keys::Role;
use crate::tokens::{Report, Token};

/// The tiers of one private bond as the server decides them.
#[derive(Debug, Clone)]
pub struct Matcher {
    profile: Profile,
    state: TierState,
    /// The latest report of the inviter and of the accepter.
    reports: [Option<Report>; 2],
}

impl Matcher {
    /// A bond with no reports yet: only the tiers open at any range.
    pub fn new(profile: Profile) -> Matcher {
        Matcher {
            profile,
            state: TierState::initial(profile),
            reports: [None, None],
        }
    }

    /// The open tiers.
    pub fn state(&self) -> TierState {
        self.state
    }

    /// The bond's profile.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// A partner's new report (checked with [`Report::check`] first); returns what opened
    /// and closed, in [`Tier::ALL`] order.
    pub fn report(&mut self, from: Role, report: Report) -> Vec<TierChange> {
        self.reports[slot(from)] = Some(report);
        self.decide()
    }

    /// A partner's position is no longer known (they paused sharing, or their reports
    /// are void): every tier that needs a distance closes until they report again.
    pub fn forget(&mut self, who: Role) -> Vec<TierChange> {
        self.reports[slot(who)] = None;
        self.decide()
    }

    /// The bond changes profile. The ranges change and with them the cells, so the
    /// reports held are of no use: every tier that needs a distance closes until both
    /// report again under the new profile. (The plain bond re-judges the last distance
    /// at once; a private bond waits for each partner's next report, which is seconds.)
    pub fn set_profile(&mut self, profile: Profile) -> Vec<TierChange> {
        self.profile = profile;
        self.reports = [None, None];
        self.decide()
    }

    /// Re-decides every tier from the reports held.
    fn decide(&mut self) -> Vec<TierChange> {
        let mut open = TierSet::EMPTY;
        for tier in Tier::ALL {
            let is_open = match self.profile.range_m(tier) {
                None => true,
                Some(_) => self.meet(tier, self.state.is_open(tier)),
            };
            if is_open {
                open.insert(tier);
            }
        }
        // Each tier's grids fall differently, so a tier could meet where one of a longer
        // range does not. The plain bond never has thoughts without voice; neither does
        // this: a tier open opens every tier of a range at least as long. That keeps the
        // rule, since a tier of range `R` is only ever open within 1.322·R, which is
        // within 1.5 times every longer range.
        for tier in open.iter().collect::<Vec<_>>() {
            let Some(range) = self.profile.range_m(tier) else {
                continue;
            };
            for wider in Tier::ALL {
                if self.profile.range_m(wider).is_some_and(|r| r >= range) {
                    open.insert(wider);
                }
            }
        }
        let before = self.state;
        self.state = TierState::new(open);
        Tier::ALL
            .into_iter()
            .filter(|t| before.is_open(*t) != self.state.is_open(*t))
            .map(|tier| TierChange {
                tier,
                open: self.state.is_open(tier),
            })
            .collect()
    }

    /// Whether the partners' tokens for `tier` meet: the open grids' always, the keep
    /// grids' too when the tier is open already.
    fn meet(&self, tier: Tier, was_open: bool) -> bool {
        let [Some(a), Some(b)] = &self.reports else {
            return false;
        };
        let Some(epoch) = a
            .epochs
            .iter()
            .rev()
            .map(|e| e.epoch)
            .find(|epoch| b.epochs.iter().any(|e| e.epoch == *epoch))
        else {
            return false;
        };
        let (Some(ta), Some(tb)) = (a.tier(epoch, tier), b.tier(epoch, tier)) else {
            return false;
        };
        any_common(&ta.open, &tb.open) || (was_open && any_common(&ta.keep, &tb.keep))
    }
}

/// The index of a role's report.
fn slot(role: Role) -> usize {
    match role {
        Role::Inviter => 0,
        Role::Accepter => 1,
    }
}

/// Whether two sorted lists share a token: one merge pass, linear in their lengths.
fn any_common(a: &[Token], b: &[Token]) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

/// The strength the server goes by in a private bond, which knows which tiers are open
/// and no distance: the plain bond's strength at the range of the narrowest tier open
/// (the edge of that tier), 1 with memories open, 0 with no ranged tier open. What it
/// sizes (a glimpse's side, the sight's frames and rate) is then what the plain bond
/// gives at that tier's edge: never more than the tiers prove, since the token rule keeps
/// a tier open only within 1.5 times its range, and the sizes below the edge are the
/// edge's. The "open" profile is 1, as its strength is at any distance.
pub fn strength(profile: Profile, open: TierSet) -> f64 {
    let narrowest = open
        .iter()
        .filter_map(|tier| profile.range_m(tier))
        .min_by(f64::total_cmp);
    match narrowest {
        Some(range) => profile.strength(range),
        None => profile.strength(f64::NAN),
    }
}

#[cfg(test)]
mod tests {
    use haurach_bond::Fix;
    use haurach_bond::geo::destination;

    use super::*;
    use crate::keys::BondKey;
    use crate::tokens::{EPOCH_MS, report};

    const AT: i64 = 2_000 * EPOCH_MS;

    fn fix(lat: f64, lon: f64, at_ms: i64) -> Fix {
        Fix {
            lat,
            lon,
            accuracy_m: 5.0,
            at_ms,
        }
    }

    /// Both partners report: the inviter at (`lat`, `lon`), the accepter `d_m` east.
    fn apart(m: &mut Matcher, d_m: f64, at_ms: i64) -> Vec<TierChange> {
        let key = BondKey::from_bytes([5; 32]);
        let (lat, lon) = (23.13, 53.77);
        let (lat2, lon2) = destination(lat, lon, 90.0, d_m);
        m.report(
            Role::Inviter,
            report(&key, m.profile(), &fix(lat, lon, at_ms)),
        );
        m.report(
            Role::Accepter,
            report(&key, m.profile(), &fix(lat2, lon2, at_ms)),
        )
    }

    fn keys(state: TierState) -> Vec<&'static str> {
        state.open().iter().map(Tier::key).collect()
    }

    #[test]
    fn the_strength_is_the_narrowest_open_tiers_edge() {
        let open = |tiers: &[Tier]| {
            let mut set = TierSet::always();
            for t in tiers {
                set.insert(*t);
            }
            set
        };
        let story = Profile::Story;
        assert_eq!(strength(story, open(&[])), 0.0);
        let glimpse = open(&[Tier::Feelings, Tier::Voice, Tier::Images, Tier::Glimpse]);
        assert_eq!(strength(story, glimpse), story.strength(10_000.0));
        let sight = open(&[Tier::Glimpse, Tier::Sight]);
        assert_eq!(strength(story, sight), story.strength(2_000.0));
        assert_eq!(strength(story, open(&[Tier::Sight, Tier::Memories])), 1.0);
        assert_eq!(strength(Profile::Open, open(&[])), 1.0);
    }

    #[test]
    fn one_partner_alone_opens_nothing() {
        let key = BondKey::from_bytes([5; 32]);
        let mut m = Matcher::new(Profile::City);
        let changes = m.report(
            Role::Inviter,
            report(&key, Profile::City, &fix(0.0, 0.0, AT)),
        );
        assert!(changes.is_empty());
        assert_eq!(keys(m.state()), ["pull", "alarm"]);
    }

    #[test]
    fn tiers_open_within_half_their_range_and_close_beyond_one_and_a_half() {
        let mut m = Matcher::new(Profile::City);
        // 10 m: within half of every city range, memories (25 m) included.
        apart(&mut m, 10.0, AT);
        assert_eq!(m.state().open().iter().count(), 9);
        // 1,600 m: beyond 1.5 × every range.
        let changes = apart(&mut m, 1_600.0, AT);
        assert_eq!(changes.len(), 7);
        assert!(changes.iter().all(|c| !c.open));
        assert_eq!(keys(m.state()), ["pull", "alarm"]);
    }

    #[test]
    fn partners_in_different_epochs_share_nothing_and_the_tiers_close() {
        let key = BondKey::from_bytes([5; 32]);
        let mut m = Matcher::new(Profile::City);
        apart(&mut m, 10.0, AT);
        assert!(m.state().is_open(Tier::Memories));
        // The accepter's next report is an epoch later; the inviter has been silent.
        let changes = m.report(
            Role::Accepter,
            report(&key, Profile::City, &fix(23.13, 53.77, AT + EPOCH_MS + 1)),
        );
        assert_eq!(changes.len(), 7);
        // Had the inviter reported in the last two minutes of the epoch, its report would
        // hold the next epoch too, and the tiers would have stayed open.
        let mut m = Matcher::new(Profile::City);
        apart(&mut m, 10.0, AT + EPOCH_MS - 60_000);
        let changes = m.report(
            Role::Accepter,
            report(&key, Profile::City, &fix(23.13, 53.77, AT + EPOCH_MS + 1)),
        );
        assert!(changes.is_empty(), "{changes:?}");
        assert_eq!(m.state().open().iter().count(), 9);
    }

    #[test]
    fn forgetting_a_partner_closes_the_ranged_tiers_and_a_profile_change_waits_for_reports() {
        let mut m = Matcher::new(Profile::Story);
        apart(&mut m, 10.0, AT);
        assert_eq!(m.forget(Role::Accepter).len(), 7);
        apart(&mut m, 10.0, AT);
        // To open: everything but memories opens at once; memories waits for reports.
        let changes = m.set_profile(Profile::Open);
        assert_eq!(
            changes,
            [TierChange {
                tier: Tier::Memories,
                open: false
            }]
        );
        apart(&mut m, 10.0, AT);
        assert!(m.state().is_open(Tier::Memories));
    }

    #[test]
    fn a_tier_open_opens_every_tier_of_a_longer_range() {
        // In the desert scenario thoughts' grids (16 km) meet at 10.66 km where voice's
        // (17 km) do not; voice opens with thoughts, as in the plain bond. So the open
        // ranged tiers are always the first few of the order, never with a gap.
        let mut m = Matcher::new(Profile::Story);
        for d in (0..400).map(|k| 16_000.0 - f64::from(k) * 40.0) {
            apart(&mut m, d, AT);
            let open = m.state().open();
            let ranged_open = open
                .iter()
                .filter(|t| Profile::Story.range_m(*t).is_some())
                .count();
            let expected: Vec<Tier> = Tier::ALL[2..2 + ranged_open].to_vec();
            let got: Vec<Tier> = open.iter().skip(2).collect();
            assert_eq!(got, expected, "at {d} m");
        }
    }

    #[test]
    fn common_tokens_are_found_in_sorted_lists() {
        let t = |b: u8| Token([b; 8]);
        assert!(any_common(&[t(1), t(3), t(9)], &[t(2), t(9)]));
        assert!(!any_common(&[t(1), t(3)], &[t(2), t(4)]));
        assert!(!any_common(&[], &[t(2)]));
    }
}
