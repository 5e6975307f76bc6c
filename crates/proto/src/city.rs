//! The city's bodies: the gate and the tower (registration, the gatekeeper's book, the
//! register), fire-mail (letters and parcels) and summoning.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::{Account, LatLon};

/// How newcomers get in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GateMode {
    /// Anyone who registers is a citizen at once.
    Open,
    /// A newcomer fills the gatekeeper's book and waits for the tower's answer.
    #[default]
    Application,
    /// Only someone holding an invite code gets in.
    Invite,
}

impl GateMode {
    /// The key used in the API, the config file and `--gate`.
    pub fn key(self) -> &'static str {
        match self {
            GateMode::Open => "open",
            GateMode::Application => "application",
            GateMode::Invite => "invite",
        }
    }

    /// The mode named by a key.
    pub fn from_key(key: &str) -> Option<GateMode> {
        [GateMode::Open, GateMode::Application, GateMode::Invite]
            .into_iter()
            .find(|m| m.key() == key)
    }
}

/// Where an account stands at the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Standing {
    /// The tower: an admin, who answers applications.
    Tower,
    /// A citizen.
    Citizen,
    /// Waiting for the tower's answer; can only read their application.
    Applicant,
    /// The tower declined; can only read the answer.
    Declined,
}

impl Standing {
    /// The key used in the API and the store.
    pub fn key(self) -> &'static str {
        match self {
            Standing::Tower => "tower",
            Standing::Citizen => "citizen",
            Standing::Applicant => "applicant",
            Standing::Declined => "declined",
        }
    }

    /// The standing named by a key.
    pub fn from_key(key: &str) -> Option<Standing> {
        [
            Standing::Tower,
            Standing::Citizen,
            Standing::Applicant,
            Standing::Declined,
        ]
        .into_iter()
        .find(|s| s.key() == key)
    }

    /// Whether the account is inside the city (may use every citizen's route).
    pub fn is_inside(self) -> bool {
        matches!(self, Standing::Tower | Standing::Citizen)
    }
}

/// `GET /api/v1/gate` → how this city lets people in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GateInfo {
    /// `open`, `application` or `invite`.
    pub mode: GateMode,
    /// Whether nobody has registered yet (the first account becomes the tower's).
    pub first: bool,
}

/// The gatekeeper's book: what a newcomer writes at the gate. Every field is optional
/// except `name` when applying; texts are at most 200 characters, the note 2,000, not
/// counting the spaces around them (which are trimmed; a blank text is no answer).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GateBook {
    /// What the newcomer is called (not the account name): "Twilight".
    #[serde(default)]
    #[schema(schema_with = crate::schemas::book_text)]
    pub name: Option<String>,
    /// Family name: "Sparkle...I guess".
    #[serde(default)]
    #[schema(schema_with = crate::schemas::book_text)]
    pub family_name: Option<String>,
    /// Where they come from and who kept them.
    #[serde(default)]
    #[schema(schema_with = crate::schemas::book_text)]
    pub from: Option<String>,
    /// Age, years (at most 10,000: dragons live long).
    #[serde(default)]
    #[schema(maximum = 10_000)]
    pub age: Option<u32>,
    /// Calling: "Letter Bearer, I assume?".
    #[serde(default)]
    #[schema(schema_with = crate::schemas::book_text)]
    pub calling: Option<String>,
    /// Anything else for the tower.
    #[serde(default)]
    #[schema(schema_with = crate::schemas::book_note)]
    pub note: Option<String>,
}

/// `POST /api/v1/accounts`: register (open gate), apply (application gate) or come in
/// with a code (invite-only gate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// The account name: 1 to 32 letters, digits, `-`, `_` or `.`; unique, any case.
    #[schema(min_length = 1, max_length = 32, pattern = r"^[A-Za-z0-9._-]{1,32}$")]
    pub name: String,
    /// 8 to 1,024 characters.
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
    /// The gatekeeper's book (required by an application gate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub book: Option<GateBook>,
    /// An invite code (required by an invite-only gate): eight of its letters and digits;
    /// case, dashes and spaces do not matter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^[-\t ]*(?:[2-9A-HJKMNP-TW-Za-hjkmnp-tw-z][-\t ]*){8}$")]
    pub invite: Option<String>,
}

/// The tower's answer to an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Let in.
    Approved,
    /// Turned away.
    Declined,
}

impl Decision {
    /// The key used in the API and the store.
    pub fn key(self) -> &'static str {
        match self {
            Decision::Approved => "approved",
            Decision::Declined => "declined",
        }
    }

    /// The decision named by a key.
    pub fn from_key(key: &str) -> Option<Decision> {
        [Decision::Approved, Decision::Declined]
            .into_iter()
            .find(|d| d.key() == key)
    }
}

/// `POST /api/v1/gate/applications/{name}/decision`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// `approved` or `declined`.
    pub decision: Decision,
    /// What the tower writes back in the book: 1 to 2,000 characters, not counting the
    /// spaces around it (which are trimmed).
    #[schema(schema_with = crate::schemas::answer)]
    pub answer: String,
}

/// One page of the gatekeeper's book: who arrived, how, and what the tower decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Arrival {
    /// The account.
    pub account: Account,
    /// Where the account stands now.
    pub standing: Standing,
    /// How they came in: `first` (the tower's first account), `open`, `application`,
    /// `invite` or `admin` (made with `haurach admin`).
    pub way: String,
    /// What they wrote in the book.
    pub book: GateBook,
    /// Who invited them, for `invite`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invited_by: Option<String>,
    /// When they arrived at the gate.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub arrived_at: OffsetDateTime,
    /// The tower's decision, once made (applications only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// What the tower wrote back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// Who in the tower decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// When.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub decided_at: Option<OffsetDateTime>,
}

/// `POST /api/v1/gate/invites` → 201: a code that lets one person through an
/// invite-only gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GateInvite {
    /// The code, `ABCD-EFGH`.
    pub code: String,
    /// When it stops working.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
}

/// `POST /api/v1/parcels` → 201: a file now in the blob store, ready to attach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ParcelUpload {
    /// SHA-256 of the content, lowercase hex: how a letter names it.
    pub hash: String,
    /// Bytes.
    pub size: u64,
}

/// A file attached to a letter being sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParcelRef {
    /// The file's name as the recipient sees it: 1 to 200 characters, not counting the
    /// spaces around it (which are trimmed), without `/` or `\\`.
    #[schema(schema_with = crate::schemas::parcel_name)]
    pub name: String,
    /// The hash `POST /api/v1/parcels` answered: SHA-256, lowercase hex.
    #[schema(pattern = r"^[0-9a-f]{64}$")]
    pub hash: String,
}

/// `POST /api/v1/letters`: write a letter and breathe on it. Its schema is written by
/// hand (`schemas.rs`): a letter needs `to`, `in_reply_to` or both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendLetter {
    /// The recipient's account name. For a reply, may be left out: it goes to the
    /// other party of the letter replied to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The words (1 to 20,000 characters).
    pub body: String,
    /// Files uploaded with `POST /api/v1/parcels`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parcels: Vec<ParcelRef>,
    /// The id of the letter this answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<Uuid>,
    /// The client's id for this letter (1 to 64 characters): a retry with the same id
    /// gets the stored letter back instead of sending it twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// Where a letter is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LetterState {
    /// In the recipient's hands, not opened.
    Unread,
    /// In the recipient's hands, opened.
    Read,
    /// Sent back, unopened: in the sender's hands again.
    Returned,
}

impl LetterState {
    /// The key used in the API and the store.
    pub fn key(self) -> &'static str {
        match self {
            LetterState::Unread => "unread",
            LetterState::Read => "read",
            LetterState::Returned => "returned",
        }
    }

    /// The state named by a key.
    pub fn from_key(key: &str) -> Option<LetterState> {
        [
            LetterState::Unread,
            LetterState::Read,
            LetterState::Returned,
        ]
        .into_iter()
        .find(|s| s.key() == key)
    }
}

/// A file attached to a letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Parcel {
    /// Its place in the letter (0, 1, ...): `GET /api/v1/letters/{id}/parcels/{index}`.
    pub index: u32,
    /// The file's name.
    pub name: String,
    /// SHA-256 of the content, lowercase hex.
    pub hash: String,
    /// Bytes.
    pub size: u64,
}

/// A letter as one of its two parties sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Letter {
    /// The letter's id (a UUIDv7).
    pub id: Uuid,
    /// Who wrote it.
    pub from: String,
    /// Who it was sent to.
    pub to: String,
    /// Who holds it now: it is in exactly one place.
    pub holder: String,
    /// Where it is.
    pub state: LetterState,
    /// The words; `null` for the recipient until they read it.
    pub body: Option<String>,
    /// The files.
    pub parcels: Vec<Parcel>,
    /// The first letter of its thread (its own id when it starts one).
    pub thread: Uuid,
    /// The letter it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<Uuid>,
    /// When it was sent.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub sent_at: OffsetDateTime,
    /// Delivered receipt: when the recipient's client first had it.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delivered_at: Option<OffsetDateTime>,
    /// Read receipt.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub read_at: Option<OffsetDateTime>,
    /// When it was sent back.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub returned_at: Option<OffsetDateTime>,
}

/// `GET /api/v1/letters?box=inbox|sent` and `GET /api/v1/letters/threads/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LetterList {
    /// Newest first (a thread: oldest first).
    pub letters: Vec<Letter>,
    /// When the page is full: the next page is `?before=` this id (a box's listing only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Uuid>,
}

/// `PUT /api/v1/summons/allowed/{name}`'s list: who may summon me.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SummonPermissions {
    /// Account names allowed to summon the caller.
    pub allowed: Vec<String>,
}

/// `POST /api/v1/summons`: call someone who allowed it, from where you are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SummonBody {
    /// Whom to summon (account name).
    #[schema(min_length = 1, max_length = 32, pattern = r"^[A-Za-z0-9._-]{1,32}$")]
    pub to: String,
    /// Where the summoner is (required: the summons carries the exact position), degrees
    /// in [-90, 90].
    #[schema(minimum = -90, maximum = 90)]
    pub lat: f64,
    /// Longitude, degrees in [-180, 180].
    #[schema(minimum = -180, maximum = 180)]
    pub lon: f64,
    /// Radius of uncertainty, metres, 0 to 1,000,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub accuracy_m: Option<f64>,
}

/// Where a summons is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SummonState {
    /// Ringing at the summoned.
    Calling,
    /// On the way: exact positions pass both ways.
    Accepted,
    /// Refused.
    Declined,
    /// Ended by either side before arrival.
    Ended,
    /// The summoned reached the summoner.
    Arrived,
}

impl SummonState {
    /// The key used in the API and the store.
    pub fn key(self) -> &'static str {
        match self {
            SummonState::Calling => "calling",
            SummonState::Accepted => "accepted",
            SummonState::Declined => "declined",
            SummonState::Ended => "ended",
            SummonState::Arrived => "arrived",
        }
    }

    /// The state named by a key.
    pub fn from_key(key: &str) -> Option<SummonState> {
        [
            SummonState::Calling,
            SummonState::Accepted,
            SummonState::Declined,
            SummonState::Ended,
            SummonState::Arrived,
        ]
        .into_iter()
        .find(|s| s.key() == key)
    }
}

/// A summons as either side sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Summons {
    /// Its id.
    pub id: Uuid,
    /// Who called.
    pub from: String,
    /// Who was called.
    pub to: String,
    /// Where it is.
    pub state: SummonState,
    /// The summoner's exact position (where they called from, or their latest while
    /// accepted).
    pub summoner: LatLon,
    /// The summoned's exact position, shared only once they accept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summoned: Option<LatLon>,
    /// The pull from the summoned toward the summoner, when the summoned's position is
    /// known: bearing, degrees clockwise from north.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearing_deg: Option<f64>,
    /// And distance, metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance_m: Option<f64>,
    /// When it was made.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// `PUT /api/v1/tower/people/{name}/password`: the tower sets a person's password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    /// 8 to 1,024 characters.
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
}

/// A person's live session, as the tower sees it: never its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SessionView {
    /// The first 8 bytes of its token's SHA-256, in hex: enough to tell sessions apart,
    /// no use for logging in.
    #[schema(pattern = "^[0-9a-f]{16}$")]
    pub id: String,
    /// When it began (logging in).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// `GET /api/v1/tower/people/{name}/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SessionList {
    /// Oldest first.
    pub sessions: Vec<SessionView>,
}

/// What the tower ended: `DELETE /api/v1/tower/people/{name}/sessions` and a new
/// password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SessionsEnded {
    /// How many live sessions ended (their links were closed at once).
    pub ended: u32,
}

/// `GET /api/v1/gate/queue` and `GET /api/v1/gate/register`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ArrivalList {
    /// Oldest first.
    pub arrivals: Vec<Arrival>,
}

/// `GET /api/v1/summons` → the summonses still calling or accepted that you are part of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SummonsList {
    /// Oldest first.
    pub summonses: Vec<Summons>,
}

#[cfg(test)]
mod tests {
    //! The city's JSON shapes, as clients read them (snapshots under `src/snapshots/`).

    use super::*;

    fn at(s: &str) -> OffsetDateTime {
        OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn an_answered_page_of_the_book() {
        let arrival = Arrival {
            account: Account {
                id: id(3),
                name: "twilight".into(),
                created_at: at("2026-11-23T09:00:00Z"),
            },
            standing: Standing::Citizen,
            way: "application".into(),
            book: GateBook {
                name: Some("Twilight".into()),
                family_name: Some("Sparkle...I guess".into()),
                from: Some("the desert".into()),
                age: Some(19),
                calling: Some("Letter Bearer".into()),
                note: None,
            },
            invited_by: None,
            arrived_at: at("2026-11-23T09:00:00Z"),
            decision: Some(Decision::Approved),
            answer: Some("Welcome, letter bearer.".into()),
            decided_by: Some("celestia".into()),
            decided_at: Some(at("2026-11-23T09:30:00Z")),
        };
        insta::assert_json_snapshot!(arrival);
    }

    #[test]
    fn keys_round_trip() {
        for m in [GateMode::Open, GateMode::Application, GateMode::Invite] {
            assert_eq!(GateMode::from_key(m.key()), Some(m));
        }
        for s in [
            Standing::Tower,
            Standing::Citizen,
            Standing::Applicant,
            Standing::Declined,
        ] {
            assert_eq!(Standing::from_key(s.key()), Some(s));
        }
        assert_eq!(GateMode::default(), GateMode::Application);
    }
}
