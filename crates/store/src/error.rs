//! Why a store operation failed: [`StoreError`], and the reasons a rule of the store
//! refused it, [`Conflict`] and [`Missing`]. A reason is an enum, not a string, so whoever
//! turns reasons into answers (the server's problems) can match them all and is told by
//! the compiler when one is added. Each reason's [`as_str`](Conflict::as_str) is a stable
//! code: it is what `StoreError` displays, and it never changes.

use std::fmt;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A rule was broken (a name taken, an account already bonded).
    #[error("conflict: {0}")]
    Conflict(Conflict),
    /// The thing does not exist.
    #[error("not found: {0}")]
    NotFound(Missing),
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Stored data could not be read back.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// The data directory cannot be used: another server holds it, or it cannot be
    /// written. The text says what is wrong and what to do, for the operator.
    #[error("{0}")]
    Unusable(String),
    /// The store cannot answer just now; nothing was written.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// Shorthand for store results.
pub type StoreResult<T> = Result<T, StoreError>;

/// A rule of the store that refused an operation; nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Conflict {
    /// An account has this name already, in any case.
    NameTaken,
    /// An invite code (a partner's or the gate's) exists already; make another.
    InviteCodeTaken,
    /// The partner invite is the acceptor's own.
    OwnInvite,
    /// The acceptor of a partner invite is bonded already.
    AlreadyBonded,
    /// Whoever made the partner invite is bonded already.
    PartnerBonded,
    /// Only the partner of whoever raised an alarm acknowledges it.
    OwnAlarm,
    /// The gate lets in by invite only, and none was brought.
    InviteRequired,
    /// The tower has answered this application already.
    AlreadyDecided,
    /// An upload would pass the account's parcel quota.
    ParcelQuotaExceeded,
    /// The parcels of one letter are larger than the city carries.
    ParcelTooLarge,
    /// The sender has sent as many letters as one may in 24 hours.
    LetterQuotaExceeded,
    /// The sender sent a different letter under this client id.
    IdReused,
    /// A letter that replies to nothing names no recipient.
    RecipientRequired,
    /// A letter to oneself.
    OwnLetter,
    /// The letter is no longer unread in the mover's hands.
    LetterMoved,
    /// The summoned has not allowed the summoner to summon them.
    NotAllowed,
    /// A summons of oneself.
    OwnSummons,
    /// A summons between the two is still calling or accepted.
    SummonsOpen,
    /// The summons is no longer in a state this move starts from.
    SummonsMoved,
    /// Only the summoned accepts or declines.
    NotYours,
    /// The sender stored another image under this client id.
    ImageIdReused,
    /// The author stored another memory under this client id.
    MemoryIdReused,
    /// The account is the city's last tower: removing it would leave nobody to run it.
    LastTower,
    /// The account keeps places on the server that its private invite or acceptance did
    /// not name as kept on its device: a private bond keeps no place on the server.
    PlacesStored,
    /// Whoever made the private invite keeps places on the server (made after the
    /// invite): the bond would keep them in the clear.
    PartnerPlacesStored,
}

impl Conflict {
    /// The stable code of the reason (`name_taken`, `letter_moved`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Conflict::NameTaken => "name_taken",
            Conflict::InviteCodeTaken => "invite_code_taken",
            Conflict::OwnInvite => "own_invite",
            Conflict::AlreadyBonded => "already_bonded",
            Conflict::PartnerBonded => "partner_bonded",
            Conflict::OwnAlarm => "own_alarm",
            Conflict::InviteRequired => "invite_required",
            Conflict::AlreadyDecided => "already_decided",
            Conflict::ParcelQuotaExceeded => "parcel_quota_exceeded",
            Conflict::ParcelTooLarge => "parcel_too_large",
            Conflict::LetterQuotaExceeded => "letter_quota_exceeded",
            Conflict::IdReused => "id_reused",
            Conflict::RecipientRequired => "recipient_required",
            Conflict::OwnLetter => "own_letter",
            Conflict::LetterMoved => "letter_moved",
            Conflict::NotAllowed => "not_allowed",
            Conflict::OwnSummons => "own_summons",
            Conflict::SummonsOpen => "summons_open",
            Conflict::SummonsMoved => "summons_moved",
            Conflict::NotYours => "not_yours",
            Conflict::ImageIdReused => "image_id_reused",
            Conflict::MemoryIdReused => "memory_id_reused",
            Conflict::LastTower => "last_tower",
            Conflict::PlacesStored => "places_stored",
            Conflict::PartnerPlacesStored => "partner_places_stored",
        }
    }
}

/// What an operation needed and did not find.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Missing {
    /// No partner invite has this code.
    Invite,
    /// The partner invite has expired.
    InviteExpired,
    /// No alarm of the bond has this sequence number.
    Alarm,
    /// No unused gate invite has this code.
    GateInvite,
    /// The gate invite has expired.
    GateInviteExpired,
    /// Nobody by this name applied at the gate.
    Applicant,
    /// No citizen inside the city has the letter's recipient's name.
    Recipient,
    /// No letter with this id has the caller as a party.
    Letter,
    /// The sender has uploaded no parcel with this hash.
    Parcel,
    /// No account has this name.
    Citizen,
    /// No citizen inside the city has the summoned's name.
    Summoned,
    /// No summons with this id has the caller as a party.
    Summons,
    /// No image has this id.
    Image,
}

impl Missing {
    /// The stable code of the reason (`letter`, `gate_invite_expired`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Missing::Invite => "invite",
            Missing::InviteExpired => "invite_expired",
            Missing::Alarm => "alarm",
            Missing::GateInvite => "gate_invite",
            Missing::GateInviteExpired => "gate_invite_expired",
            Missing::Applicant => "applicant",
            Missing::Recipient => "recipient",
            Missing::Letter => "letter",
            Missing::Parcel => "parcel",
            Missing::Citizen => "citizen",
            Missing::Summoned => "summoned",
            Missing::Summons => "summons",
            Missing::Image => "image",
        }
    }
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// By hand rather than thiserror's `#[from]`, which would also make the reason the error's
// `source` and so print it twice in a chain of causes.
impl From<Conflict> for StoreError {
    fn from(reason: Conflict) -> StoreError {
        StoreError::Conflict(reason)
    }
}

impl From<Missing> for StoreError {
    fn from(reason: Missing) -> StoreError {
        StoreError::NotFound(reason)
    }
}

/// `reason` when `err` is the violation of a unique constraint (what was to be inserted
/// exists), else `err` itself.
pub(crate) fn unique_or(err: sqlx::Error, reason: Conflict) -> StoreError {
    match err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(reason),
        err => err.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes as they were when reasons were strings: clients and logs read them, so
    /// they never change.
    #[test]
    fn every_reason_keeps_its_code_and_its_display() {
        let conflicts = [
            (Conflict::NameTaken, "name_taken"),
            (Conflict::InviteCodeTaken, "invite_code_taken"),
            (Conflict::OwnInvite, "own_invite"),
            (Conflict::AlreadyBonded, "already_bonded"),
            (Conflict::PartnerBonded, "partner_bonded"),
            (Conflict::OwnAlarm, "own_alarm"),
            (Conflict::InviteRequired, "invite_required"),
            (Conflict::AlreadyDecided, "already_decided"),
            (Conflict::ParcelQuotaExceeded, "parcel_quota_exceeded"),
            (Conflict::ParcelTooLarge, "parcel_too_large"),
            (Conflict::LetterQuotaExceeded, "letter_quota_exceeded"),
            (Conflict::IdReused, "id_reused"),
            (Conflict::RecipientRequired, "recipient_required"),
            (Conflict::OwnLetter, "own_letter"),
            (Conflict::LetterMoved, "letter_moved"),
            (Conflict::NotAllowed, "not_allowed"),
            (Conflict::OwnSummons, "own_summons"),
            (Conflict::SummonsOpen, "summons_open"),
            (Conflict::SummonsMoved, "summons_moved"),
            (Conflict::NotYours, "not_yours"),
            (Conflict::ImageIdReused, "image_id_reused"),
            (Conflict::MemoryIdReused, "memory_id_reused"),
            (Conflict::PlacesStored, "places_stored"),
            (Conflict::PartnerPlacesStored, "partner_places_stored"),
        ];
        let missing = [
            (Missing::Invite, "invite"),
            (Missing::InviteExpired, "invite_expired"),
            (Missing::Alarm, "alarm"),
            (Missing::GateInvite, "gate_invite"),
            (Missing::GateInviteExpired, "gate_invite_expired"),
            (Missing::Applicant, "applicant"),
            (Missing::Recipient, "recipient"),
            (Missing::Letter, "letter"),
            (Missing::Parcel, "parcel"),
            (Missing::Citizen, "citizen"),
            (Missing::Summoned, "summoned"),
            (Missing::Summons, "summons"),
            (Missing::Image, "image"),
        ];
        for (reason, code) in conflicts {
            assert_eq!(reason.as_str(), code);
            assert_eq!(
                StoreError::from(reason).to_string(),
                format!("conflict: {code}")
            );
        }
        for (reason, code) in missing {
            assert_eq!(reason.as_str(), code);
            assert_eq!(
                StoreError::from(reason).to_string(),
                format!("not found: {code}")
            );
        }
    }
}
