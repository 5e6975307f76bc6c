//! The meeting point's state that a bond's runtime keeps: each partner's recent speed,
//! the pin (loaded from the store on first use), who has reached the point, and what
//! each partner was last sent. What is done with it is in [`meeting`](super::meeting).

use haurach_bond::meeting::RecentSpeed;
use haurach_proto::MeetingView;
use haurach_store::PinRecord;

/// The meeting point's state in a bond's runtime.
#[derive(Debug, Default)]
pub(crate) struct Needle {
    pub(crate) speeds: [RecentSpeed; 2],
    /// The pin: `None` until loaded from the store. Boxed: most bonds have none.
    pub(crate) pin: Option<Option<Box<PinRecord>>>,
    /// Who has reached the suggested point (a pin keeps its own, stored).
    pub(crate) reached_suggestion: [bool; 2],
    /// What each member was last sent, so a move that changes nothing they would notice
    /// sends nothing. Boxed: a bond nobody moves in holds only a pointer.
    pub(crate) last_sent: [Option<Box<MeetingView>>; 2],
}

impl Needle {
    /// The pin, once loaded, if a partner set one.
    pub(crate) fn pin(&self) -> Option<&PinRecord> {
        self.pin.as_ref().and_then(Option::as_deref)
    }

    /// Who has reached the meeting point now shown.
    pub(crate) fn reached(&self) -> [bool; 2] {
        self.pin().map_or(self.reached_suggestion, |p| p.reached)
    }
}
