//! The live state of one bond: both partners' latest fixes, the tiers with their
//! hysteresis, contact, stretch, guards and the meeting point's state, and what each
//! partner was last told of the pull. The hub keeps one per live bond behind an async
//! mutex ([`Hub`](super::hub::Hub)); everything here is worked out in memory, without
//! I/O.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use haurach_bond::contact::ContactEvent;
use haurach_bond::geo::{Geodesic, inverse_both};
use haurach_bond::{
    Contact, Disclosure, Fix, Separation, StretchDetector, Tier, TierState, shows_vitals,
};
use haurach_proto::{LatLon, NextTier, PullView};
use haurach_store::BondRecord;

use super::needle::Needle;

/// The live state of one bond.
pub(crate) struct BondRuntime {
    pub(crate) record: BondRecord,
    pub(crate) tiers: TierState,
    pub(crate) fixes: [Option<Fix>; 2],
    /// Whether each member's fix was set by hand (not stored: false after a load, until
    /// their next fix says).
    pub(crate) by_hand: [bool; 2],
    /// Each member's battery level, percent, as their device last said (not stored: a
    /// node that loads the bond knows it from the next fix that carries it).
    pub(crate) battery: [Option<u8>; 2],
    pub(crate) contact: [Contact; 2],
    pub(crate) stretch: [StretchDetector; 2],
    pub(crate) guarded: [bool; 2],
    /// Whether each member is hidden from the bond: they paused sharing, and have sent no
    /// fix since. While either is, no pull is worked out ([`BondRuntime::span`] is `None`).
    pub(crate) hidden: [bool; 2],
    /// Set when the bond ends, for tasks that looked the runtime up just before.
    pub(crate) ended: bool,
    /// The meeting point's state: recent speeds, the pin, who has reached it.
    pub(crate) needle: Needle,
    /// The pull each member was last told, so a mover is told their own pull again only
    /// when it changed by something they would notice ([`noticeable`]). Boxed, like the
    /// meeting point's last views: a bond nobody moves in since the node started holds
    /// only a pointer (issue 21, idle memory); the box is kept and refilled ([`keep`]).
    pub(crate) told: [Option<Box<PullFor>>; 2],
    /// Whether this node has opened both journals to the bond since the memories tier
    /// last opened ([`Hub::open_journals`](super::hub::Hub::open_journals)); false while it is closed.
    pub(crate) journals_opened: bool,
    /// When a live contact of the bond turns lost unless heard again, Unix ms (`i64::MAX`
    /// while neither is live), for the sweep to skip the bonds that cannot be due without
    /// locking them. It may be early, never late: hearing a live partner only moves the
    /// true moment later, and the sweep sets it right when it finds it early; a contact
    /// restored sets it at once ([`BondRuntime::heard`]).
    pub(crate) contact_due: Arc<AtomicI64>,
    /// For a private bond, the tiers decided from the partners' token reports (which
    /// it holds, in memory only); `tiers` follows its state. `None` for a plain bond.
    pub(crate) matcher: Option<haurach_private::Matcher>,
}

/// The geometry between the partners' latest fixes, computed once per move.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    /// The geodesic from each member toward the other.
    pub(crate) toward: [Geodesic; 2],
    /// How far apart, as the tiers judge it (pessimistic, and together for memories); the
    /// strength goes by the pessimistic measure.
    pub(crate) apart: Separation,
}

/// What one member is told of the pull.
pub(crate) type PullFor = (PullView, f64, Option<NextTier>);

/// Puts `value` in `slot`, reusing the box already there: what a bond remembers per move
/// is boxed so an idle bond does not hold room for it, and a moving bond allocates it once,
/// not per move.
pub(crate) fn keep<T>(slot: &mut Option<Box<T>>, value: T) {
    match slot {
        Some(held) => **held = value,
        None => *slot = Some(Box::new(value)),
    }
}

/// Whether a member told `old` would notice `new`: exactness, the partner's position or
/// the next tier changed, the bearing turned by a degree, a distance moved by a metre (or
/// 0.2 % of it, whichever is more), or the strength by half a percent. Coarse values
/// (beyond sight range) change only in steps, so any change of theirs counts.
pub(crate) fn noticeable(old: &PullFor, new: &PullFor) -> bool {
    let ((op, os, ot), (np, ns, nt)) = (old, new);
    let moved = |a: f64, b: f64| (a - b).abs() >= (0.002 * a.abs()).max(1.0);
    let turned = (op.bearing_deg - np.bearing_deg).rem_euclid(360.0);
    op.exact != np.exact
        || op.position != np.position
        || op.by_hand != np.by_hand
        || turned.min(360.0 - turned) >= 1.0
        || moved(op.distance_m, np.distance_m)
        || (os - ns).abs() >= 0.005
        || match (ot, nt) {
            (Some(a), Some(b)) => a.tier != b.tier || moved(a.opens_in_m, b.opens_in_m),
            (None, None) => false,
            _ => true,
        }
}

impl BondRuntime {
    /// Member `idx` was heard at `at`: returns `Restored` when contact was lost.
    pub(crate) fn heard(&mut self, idx: usize, at: i64) -> Option<ContactEvent> {
        let event = self.contact[idx].heard(at);
        if event.is_some() {
            self.note_contact_due();
        }
        event
    }

    /// Publishes when a live contact next turns lost ([`BondRuntime::contact_due`]).
    pub(crate) fn note_contact_due(&self) {
        let due = self
            .contact
            .iter()
            .filter_map(Contact::lost_after_ms)
            .min()
            .unwrap_or(i64::MAX);
        self.contact_due.store(due, Ordering::Relaxed);
    }

    /// The geometry between the partners, when both have a fix and neither is hidden
    /// (one geodesic inverse).
    pub(crate) fn span(&self) -> Option<Span> {
        if self.hidden.contains(&true) {
            return None;
        }
        let [Some(a), Some(b)] = self.fixes else {
            return None;
        };
        let (ab, ba) = inverse_both(a.lat, a.lon, b.lat, b.lon);
        Some(Span {
            toward: [ab, ba],
            apart: Separation::of(ab.distance_m, a.accuracy_m, b.accuracy_m),
        })
    }

    /// The pull, strength and next tier as member `idx` sees them.
    pub(crate) fn pull_for(&self, idx: usize, span: &Span) -> Option<PullFor> {
        let partner = self.fixes[1 - idx]?;
        let d = span.apart.pessimistic_m;
        let shown = Disclosure::of(self.tiers);
        let p = shown.pull(span.toward[idx], &partner);
        let profile = self.record.profile;
        let next_tier = Tier::ALL.into_iter().find_map(|tier| {
            let range = profile.range_m(tier)?;
            if self.tiers.is_open(tier) {
                return None;
            }
            let gap = (span.apart.for_tier(tier) - range).max(0.0);
            Some(NextTier {
                tier,
                opens_in_m: shown.distance_m(gap),
            })
        });
        // When the partner's fix was taken and their battery: only while feelings are open.
        let vitals = shows_vitals(self.tiers);
        let view = PullView {
            bearing_deg: p.bearing_deg,
            distance_m: p.distance_m,
            exact: p.exact,
            position: p.position.map(|(lat, lon)| LatLon { lat, lon }),
            by_hand: self.by_hand[1 - idx],
            seen_at: vitals.then(|| crate::clock::timestamp(partner.at_ms)),
            battery: self.battery[1 - idx].filter(|_| vitals),
        };
        Some((view, profile.strength(d), next_tier))
    }

    /// [`BondRuntime::pull_for`] computing the geometry itself.
    pub(crate) fn pull_now(&self, idx: usize) -> Option<PullFor> {
        self.pull_for(idx, &self.span()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn told(bearing_deg: f64, distance_m: f64, strength: f64) -> PullFor {
        let pull = PullView {
            bearing_deg,
            distance_m,
            exact: true,
            position: Some(LatLon { lat: 1.0, lon: 2.0 }),
            by_hand: false,
            seen_at: None,
            battery: None,
        };
        let next = NextTier {
            tier: Tier::Memories,
            opens_in_m: distance_m - 25.0,
        };
        (pull, strength, Some(next))
    }

    #[test]
    fn gps_noise_is_not_noticed_but_a_step_or_a_turn_is() {
        let old = told(90.0, 372.0, 0.8);
        assert!(!noticeable(&old, &told(90.2, 372.4, 0.801)));
        assert!(
            noticeable(&old, &told(90.0, 373.5, 0.8)),
            "a metre and a half closer"
        );
        assert!(noticeable(&old, &told(91.5, 372.0, 0.8)), "turned 1.5°");
        assert!(noticeable(&old, &told(90.0, 372.0, 0.81)), "stronger");
        assert!(!noticeable(
            &told(359.7, 372.0, 0.8),
            &told(0.2, 372.0, 0.8)
        ));
        let mut far = told(90.0, 372.0, 0.8);
        far.0.exact = false;
        far.0.position = None;
        assert!(noticeable(&old, &far), "sight closed");
    }

    #[test]
    fn an_idle_bonds_runtime_fits_in_640_bytes() {
        // Every bond with a link on this node holds one of these behind its lock (in an
        // `Arc`, 56 bytes more): what a bond remembers of moves is boxed, so a bond nobody
        // moves in stays in the allocator's 640-byte class, where it took 1,280 (issue 21,
        // idle memory).
        let held = std::mem::size_of::<tokio::sync::Mutex<BondRuntime>>() + 16;
        assert!(held <= 640, "{held} bytes");
    }
}
