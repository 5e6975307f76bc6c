//! Contact between the partners (lost after a silence, restored with its duration) and
//! the stretch of an implausible jump, as state machines driven by timestamps.

use crate::geo::{self, Fix};

/// Something that happened to the contact with a partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactEvent {
    /// Nothing has been heard since `since_ms` for longer than the timeout.
    Lost {
        /// When the partner was last heard, Unix milliseconds.
        since_ms: i64,
    },
    /// The partner was heard again after being lost.
    Restored {
        /// How long the silence lasted: from the last time heard before the loss to now.
        lost_for_ms: i64,
    },
}

/// Whether a partner's link is live, from when they were last heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contact {
    timeout_ms: i64,
    last_heard_ms: Option<i64>,
    lost: bool,
}

impl Contact {
    /// A contact last heard at `last_heard_ms` (or never), judged at `now_ms`: it starts
    /// lost, without an event, when never heard or silent for longer than the timeout.
    pub fn new(timeout_ms: i64, last_heard_ms: Option<i64>, now_ms: i64) -> Contact {
        let lost = match last_heard_ms {
            None => true,
            Some(at) => now_ms.saturating_sub(at) > timeout_ms,
        };
        Contact {
            timeout_ms,
            last_heard_ms,
            lost,
        }
    }

    /// The partner was heard at `now_ms`; returns `Restored` when contact was lost.
    ///
    /// The silence is measured from the last time heard (0 when never heard before, and
    /// never negative). A timestamp older than the last one heard does not move it back.
    pub fn heard(&mut self, now_ms: i64) -> Option<ContactEvent> {
        let event = self.lost.then(|| ContactEvent::Restored {
            lost_for_ms: self
                .last_heard_ms
                .map_or(0, |at| now_ms.saturating_sub(at).max(0)),
        });
        self.lost = false;
        self.last_heard_ms = Some(self.last_heard_ms.map_or(now_ms, |at| at.max(now_ms)));
        event
    }

    /// Time passes; returns `Lost` once when the silence grows longer than the timeout.
    ///
    /// A contact that is already lost stays lost without another event until it is
    /// heard again.
    pub fn tick(&mut self, now_ms: i64) -> Option<ContactEvent> {
        if self.lost {
            return None;
        }
        // A live contact has always been heard (`new` starts the never-heard as lost).
        let since_ms = self.last_heard_ms?;
        if now_ms.saturating_sub(since_ms) > self.timeout_ms {
            self.lost = true;
            Some(ContactEvent::Lost { since_ms })
        } else {
            None
        }
    }

    /// Whether contact is live.
    pub fn is_live(&self) -> bool {
        !self.lost
    }

    /// When the partner was last heard, Unix milliseconds.
    pub fn last_heard_ms(&self) -> Option<i64> {
        self.last_heard_ms
    }

    /// The moment after which a live contact turns lost unless heard again: [`tick`]
    /// at any later time returns `Lost`. `None` while contact is lost.
    ///
    /// [`tick`]: Contact::tick
    pub fn lost_after_ms(&self) -> Option<i64> {
        if self.lost {
            return None;
        }
        self.last_heard_ms
            .map(|at| at.saturating_add(self.timeout_ms))
    }
}

/// A jump faster than plausible travel: the bond stretches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stretch {
    /// How far the position jumped beyond both fixes' accuracies, metres.
    pub jump_m: f64,
    /// Over how long, milliseconds.
    pub over_ms: i64,
    /// The implied speed, km/h.
    pub speed_kmh: f64,
}

/// Watches one person's successive fixes for implausible jumps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StretchDetector {
    max_speed_kmh: f64,
    last: Option<Fix>,
}

impl StretchDetector {
    /// Jumps shorter than this (beyond accuracy) are GPS noise, never a stretch.
    pub const MIN_JUMP_M: f64 = 100.0;

    /// A detector for a plausible top speed, starting from `last` (or nothing).
    pub fn new(max_speed_kmh: f64, last: Option<Fix>) -> StretchDetector {
        StretchDetector {
            max_speed_kmh,
            last,
        }
    }

    /// Takes the next fix; returns the stretch when the jump from the previous one is
    /// implausibly fast. A fix older than the previous one is ignored.
    ///
    /// The jump is the geodesic distance less both fixes' accuracies (never below 0), so a
    /// blurry fix does not stretch the bond by itself; a jump shorter than
    /// [`StretchDetector::MIN_JUMP_M`] never stretches it either. Two fixes taken at the
    /// same millisecond count as 1 ms apart. The new fix becomes the previous one whether
    /// or not it stretched the bond, so a single bad fix raises one event, not one per
    /// later fix.
    pub fn observe(&mut self, fix: &Fix) -> Option<Stretch> {
        let last = self.remember(fix)?;
        let distance_m = geo::inverse(last.lat, last.lon, fix.lat, fix.lon).distance_m;
        let jump_m = (distance_m - last.accuracy_or_zero() - fix.accuracy_or_zero()).max(0.0);
        let over_ms = fix.at_ms.saturating_sub(last.at_ms).max(1);
        let speed_kmh = jump_m / over_ms as f64 * MS_PER_HOUR / M_PER_KM;
        (jump_m >= Self::MIN_JUMP_M && speed_kmh > self.max_speed_kmh).then_some(Stretch {
            jump_m,
            over_ms,
            speed_kmh,
        })
    }

    /// Takes the next fix as the previous one for the next [`StretchDetector::observe`],
    /// without judging the jump to it (no geodesic inverse): for a copy of the detector
    /// whose fixes another one judges. Returns the fix it replaced, if `fix` is not older.
    pub fn remember(&mut self, fix: &Fix) -> Option<Fix> {
        let Some(last) = self.last else {
            self.last = Some(*fix);
            return None;
        };
        if fix.at_ms < last.at_ms {
            return None;
        }
        self.last = Some(*fix);
        Some(last)
    }
}

const MS_PER_HOUR: f64 = 3_600_000.0;
const M_PER_KM: f64 = 1_000.0;

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;

    #[test]
    fn a_contact_is_lost_once_and_restored_with_the_silence() {
        let mut contact = Contact::new(MINUTE, Some(0), 0);
        assert!(contact.is_live());
        assert_eq!(
            contact.tick(MINUTE),
            None,
            "exactly the timeout is not yet lost"
        );
        assert_eq!(
            contact.tick(MINUTE + 1),
            Some(ContactEvent::Lost { since_ms: 0 })
        );
        assert!(!contact.is_live());
        assert_eq!(contact.tick(5 * MINUTE), None);
        assert_eq!(
            contact.heard(5 * MINUTE),
            Some(ContactEvent::Restored {
                lost_for_ms: 5 * MINUTE
            })
        );
        assert!(contact.is_live());
        assert_eq!(contact.last_heard_ms(), Some(5 * MINUTE));
        assert_eq!(contact.heard(5 * MINUTE + 10), None);
    }

    #[test]
    fn a_live_contact_says_when_it_will_be_lost_and_a_lost_one_does_not() {
        let mut contact = Contact::new(MINUTE, Some(0), 0);
        assert_eq!(contact.lost_after_ms(), Some(MINUTE));
        contact.heard(30_000);
        assert_eq!(contact.lost_after_ms(), Some(30_000 + MINUTE));
        assert_eq!(contact.tick(30_000 + MINUTE), None);
        assert!(contact.tick(30_001 + MINUTE).is_some());
        assert_eq!(contact.lost_after_ms(), None);
        assert_eq!(Contact::new(MINUTE, None, 0).lost_after_ms(), None);
    }

    #[test]
    fn a_contact_starts_lost_without_an_event() {
        let never = Contact::new(MINUTE, None, 0);
        assert!(!never.is_live());
        let mut stale = Contact::new(MINUTE, Some(0), 2 * MINUTE);
        assert!(!stale.is_live());
        assert_eq!(stale.tick(3 * MINUTE), None);
        assert_eq!(
            stale.heard(3 * MINUTE),
            Some(ContactEvent::Restored {
                lost_for_ms: 3 * MINUTE
            })
        );
        let mut never = never;
        assert_eq!(
            never.heard(7),
            Some(ContactEvent::Restored { lost_for_ms: 0 })
        );
        assert_eq!(never.last_heard_ms(), Some(7));
    }

    #[test]
    fn a_late_timestamp_does_not_move_last_heard_back() {
        let mut contact = Contact::new(MINUTE, Some(10_000), 10_000);
        assert_eq!(contact.heard(5_000), None);
        assert_eq!(contact.last_heard_ms(), Some(10_000));
    }

    fn fix(lat: f64, lon: f64, accuracy_m: f64, at_ms: i64) -> Fix {
        Fix {
            lat,
            lon,
            accuracy_m,
            at_ms,
        }
    }

    #[test]
    fn a_fifty_kilometre_jump_in_a_minute_stretches() {
        let mut detector = StretchDetector::new(300.0, None);
        assert_eq!(detector.observe(&fix(0.0, 0.0, 0.0, 0)), None);
        let (lat, lon) = geo::destination(0.0, 0.0, 30.0, 50_000.0);
        let stretch = detector
            .observe(&fix(lat, lon, 0.0, MINUTE))
            .expect("a stretch");
        assert!((stretch.jump_m - 50_000.0).abs() < 1e-6);
        assert_eq!(stretch.over_ms, MINUTE);
        assert!((stretch.speed_kmh - 3_000.0).abs() < 1e-6);
        // The jumped-to fix is the new reference: staying there is no stretch.
        assert_eq!(detector.observe(&fix(lat, lon, 0.0, 2 * MINUTE)), None);
    }

    #[test]
    fn blur_and_short_jumps_do_not_stretch() {
        let mut detector = StretchDetector::new(300.0, Some(fix(0.0, 0.0, 0.0, 0)));
        // 99 m in a millisecond: fast, but within GPS noise.
        let (lat, lon) = geo::destination(0.0, 0.0, 0.0, 99.0);
        assert_eq!(detector.observe(&fix(lat, lon, 0.0, 1)), None);
        // 2 km in a second, but each fix is only good to 1 km.
        let mut detector = StretchDetector::new(300.0, Some(fix(0.0, 0.0, 1_000.0, 0)));
        let (lat, lon) = geo::destination(0.0, 0.0, 0.0, 2_000.0);
        assert_eq!(detector.observe(&fix(lat, lon, 1_000.0, 1_000)), None);
    }

    #[test]
    fn a_remembered_fix_is_where_the_next_jump_is_judged_from() {
        let mut detector = StretchDetector::new(300.0, Some(fix(0.0, 0.0, 0.0, 0)));
        // Another node judged this jump; this copy only keeps where it ended.
        let (lat, lon) = geo::destination(0.0, 0.0, 30.0, 50_000.0);
        assert_eq!(
            detector.remember(&fix(lat, lon, 0.0, MINUTE)),
            Some(fix(0.0, 0.0, 0.0, 0))
        );
        // Staying there is no stretch; jumping back is one.
        assert_eq!(detector.observe(&fix(lat, lon, 0.0, 2 * MINUTE)), None);
        assert!(detector.observe(&fix(0.0, 0.0, 0.0, 3 * MINUTE)).is_some());
        // An older fix is not remembered.
        assert_eq!(detector.remember(&fix(lat, lon, 0.0, MINUTE)), None);
        assert_eq!(detector.observe(&fix(0.0, 0.0, 0.0, 4 * MINUTE)), None);
    }

    #[test]
    fn an_older_fix_is_ignored() {
        let mut detector = StretchDetector::new(300.0, Some(fix(0.0, 0.0, 0.0, MINUTE)));
        assert_eq!(detector.observe(&fix(1.0, 0.0, 0.0, 0)), None);
        // Measured from the kept fix at 0,0: 1° of latitude in a millisecond.
        assert!(detector.observe(&fix(1.0, 0.0, 0.0, MINUTE)).is_some());
    }
}
