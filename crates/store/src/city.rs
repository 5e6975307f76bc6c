//! Storage of the city: standings and the gatekeeper's book, gate invites, parcels and
//! letters, summon permissions and summonses. [`CityStore`] is a supertrait of
//! [`Store`](crate::Store), so every backend keeps the whole city; each method is one
//! transaction, like the rest of the store. What its operations decide is written once,
//! in `city/rules.rs`; each backend gives the statements.

use std::future::Future;

use haurach_proto::{Decision, GateBook, GateMode, LetterState, Standing, SummonState};
use uuid::Uuid;

use super::{AccountId, AccountRecord, StoreResult};

pub(crate) mod rules;

/// A letter's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LetterId(pub Uuid);

/// A summons' id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SummonsId(pub Uuid);

/// How someone asks to come in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewArrival {
    /// The account name.
    pub name: String,
    /// The argon2id PHC string.
    pub password_hash: String,
    /// What they wrote in the book.
    pub book: GateBook,
    /// A gate invite code (normalised), if they bring one.
    pub invite: Option<String>,
    /// The gate's mode now.
    pub mode: GateMode,
    /// Unix milliseconds.
    pub now_ms: i64,
}

/// A page of the gatekeeper's book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrivalRecord {
    /// The account.
    pub account: AccountRecord,
    /// Where it stands now.
    pub standing: Standing,
    /// `first`, `open`, `application`, `invite` or `admin`.
    pub way: String,
    /// The book.
    pub book: GateBook,
    /// Who invited them (name).
    pub invited_by: Option<String>,
    /// Unix milliseconds.
    pub arrived_at: i64,
    /// The tower's decision.
    pub decision: Option<Decision>,
    /// What the tower wrote.
    pub answer: Option<String>,
    /// Who decided (name).
    pub decided_by: Option<String>,
    /// Unix milliseconds.
    pub decided_at: Option<i64>,
}

/// A parcel attached to a letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParcelRecord {
    /// The file's name.
    pub name: String,
    /// SHA-256, lowercase hex.
    pub hash: String,
    /// Bytes.
    pub size: u64,
}

/// A letter to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLetter {
    /// Who writes.
    pub sender: AccountId,
    /// To whom (account name), or `None` for a reply to the other party.
    pub to: Option<String>,
    /// The words.
    pub body: String,
    /// Files, each already uploaded by the sender (their `size` is filled in by the
    /// store, from the upload).
    pub parcels: Vec<ParcelRecord>,
    /// The letter answered.
    pub in_reply_to: Option<LetterId>,
    /// The sender's id for it.
    pub client_id: Option<String>,
    /// Unix milliseconds.
    pub now_ms: i64,
}

/// Limits a letter is checked against inside its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LetterLimits {
    /// Most parcel bytes in one letter.
    pub max_parcel_bytes: u64,
    /// Most letters one citizen sends in 24 hours.
    pub letters_per_day: u32,
}

/// A stored letter, with its parties' names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LetterRecord {
    /// Its id.
    pub id: LetterId,
    /// The writer.
    pub sender: AccountId,
    /// The writer's name.
    pub sender_name: String,
    /// The addressee.
    pub recipient: AccountId,
    /// The addressee's name.
    pub recipient_name: String,
    /// Who holds it: the recipient, or the sender once returned.
    pub holder: AccountId,
    /// The sender's id for it.
    pub client_id: Option<String>,
    /// The thread's first letter.
    pub thread: LetterId,
    /// The letter answered.
    pub in_reply_to: Option<LetterId>,
    /// The words.
    pub body: String,
    /// Where it is.
    pub state: LetterState,
    /// The files.
    pub parcels: Vec<ParcelRecord>,
    /// Unix milliseconds.
    pub sent_at: i64,
    /// Unix milliseconds.
    pub delivered_at: Option<i64>,
    /// Unix milliseconds.
    pub read_at: Option<i64>,
    /// Unix milliseconds.
    pub returned_at: Option<i64>,
}

/// What sending a letter did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// Sent now.
    New(LetterRecord),
    /// A retry: this letter had been sent under the same client id.
    Existing(LetterRecord),
}

/// Which letters to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LetterBox {
    /// Letters the account holds (sent to them, or returned to them).
    Inbox,
    /// Letters the account wrote.
    Sent,
}

/// A letter's move: read it (stays with the recipient) or send it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LetterMove {
    /// Open it.
    Read,
    /// Return it, unopened, to its sender.
    Return,
}

/// A stored summons.
#[derive(Debug, Clone, PartialEq)]
pub struct SummonsRecord {
    /// Its id.
    pub id: SummonsId,
    /// Who called.
    pub summoner: AccountId,
    /// Their name.
    pub summoner_name: String,
    /// Who was called.
    pub summoned: AccountId,
    /// Their name.
    pub summoned_name: String,
    /// Where it is.
    pub state: SummonState,
    /// Where the summoner called from.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Metres.
    pub accuracy_m: f64,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// Storage of the city. Errors name what went wrong with a reason,
/// `StoreError::NotFound(Missing::..)` or `StoreError::Conflict(Conflict::..)`, which the
/// HTTP layer maps to a problem.
pub trait CityStore: Clone + Send + Sync + 'static {
    /// An account and its standing, by the hash of a live session's token (one query:
    /// every authenticated request calls it).
    fn session_standing(
        &self,
        token_hash: &[u8],
    ) -> impl Future<Output = StoreResult<Option<(AccountId, Standing)>>> + Send;

    /// Whether nobody has an account yet.
    fn is_empty_city(&self) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Lets someone in, in one transaction: the first account of a city is the tower's;
    /// otherwise an open gate makes a citizen, an application gate an applicant, and an
    /// invite-only gate uses up the code. The arrival is written in the book either way.
    /// Errors: `Conflict::NameTaken`, `Conflict::InviteRequired`,
    /// `Missing::GateInvite`, `Missing::GateInviteExpired`.
    fn arrive(
        &self,
        arrival: NewArrival,
    ) -> impl Future<Output = StoreResult<ArrivalRecord>> + Send;

    /// Makes a tower account (`haurach admin`), written in the book as `admin`.
    fn create_tower(
        &self,
        name: &str,
        password_hash: &str,
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<ArrivalRecord>> + Send;

    /// The tower's accounts (to tell them of a new application).
    fn towers(&self) -> impl Future<Output = StoreResult<Vec<AccountId>>> + Send;

    /// The book's page of an account.
    fn arrival(
        &self,
        account: AccountId,
    ) -> impl Future<Output = StoreResult<Option<ArrivalRecord>>> + Send;

    /// The whole register, oldest first; only applications still waiting with `waiting`.
    fn register(
        &self,
        waiting: bool,
    ) -> impl Future<Output = StoreResult<Vec<ArrivalRecord>>> + Send;

    /// The tower answers an application. Errors: `Missing::Applicant` when the name
    /// has no application, `Conflict::AlreadyDecided`.
    fn decide(
        &self,
        name: &str,
        decision: Decision,
        answer: &str,
        by: AccountId,
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<ArrivalRecord>> + Send;

    /// Stores a gate invite code; `Conflict::InviteCodeTaken` when it exists.
    fn create_gate_invite(
        &self,
        code: &str,
        by: AccountId,
        now_ms: i64,
        expires_ms: i64,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Records that `account` put a blob in the store. Errors:
    /// `Conflict::ParcelQuotaExceeded` when the account's uploads would pass `quota`
    /// bytes (nothing is recorded then).
    fn record_upload(
        &self,
        account: AccountId,
        hash: &str,
        size: u64,
        quota: u64,
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Every summons now accepted (for following positions after a restart).
    fn accepted_summonses(&self) -> impl Future<Output = StoreResult<Vec<SummonsRecord>>> + Send;

    /// Bytes of parcels an account has uploaded.
    fn uploaded_bytes(&self, account: AccountId) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Sends a letter, in one transaction: the recipient exists and is inside the city,
    /// the letter replied to is one the sender is party to, every parcel was uploaded by
    /// the sender, limits hold. Errors: `Missing::Recipient`, `Missing::Letter`,
    /// `Missing::Parcel`, `Conflict::ParcelTooLarge`,
    /// `Conflict::LetterQuotaExceeded`, `Conflict::IdReused`,
    /// `Conflict::RecipientRequired`, `Conflict::OwnLetter`.
    fn send_letter(
        &self,
        letter: NewLetter,
        limits: LetterLimits,
    ) -> impl Future<Output = StoreResult<Sent>> + Send;

    /// A letter, if `account` is one of its two parties.
    fn letter(
        &self,
        id: LetterId,
        account: AccountId,
    ) -> impl Future<Output = StoreResult<Option<LetterRecord>>> + Send;

    /// An account's letters, newest first, at most `limit`; with `before`, only those
    /// older than that letter (none if there is no such letter).
    fn letters(
        &self,
        account: AccountId,
        which: LetterBox,
        limit: u32,
        before: Option<LetterId>,
    ) -> impl Future<Output = StoreResult<Vec<LetterRecord>>> + Send;

    /// A thread's letters `account` is party to, oldest first.
    fn thread(
        &self,
        thread: LetterId,
        account: AccountId,
    ) -> impl Future<Output = StoreResult<Vec<LetterRecord>>> + Send;

    /// Marks letters held by `account` as delivered (first time only); returns those
    /// that were newly marked.
    fn mark_delivered(
        &self,
        account: AccountId,
        ids: &[LetterId],
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<Vec<LetterRecord>>> + Send;

    /// Reads or returns an unread letter the account holds, as one conditional update:
    /// of two racing moves exactly one wins. Errors: `Missing::Letter` when the
    /// account is not a party, `Conflict::LetterMoved` when it is no longer unread in
    /// the account's hands.
    fn move_letter(
        &self,
        id: LetterId,
        account: AccountId,
        how: LetterMove,
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<LetterRecord>> + Send;

    /// Allows (or no longer allows) `grantee` to summon `grantor`.
    fn set_summon_permission(
        &self,
        grantor: AccountId,
        grantee: &str,
        allowed: bool,
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Names allowed to summon `grantor`.
    fn summon_permissions(
        &self,
        grantor: AccountId,
    ) -> impl Future<Output = StoreResult<Vec<String>>> + Send;

    /// Creates a summons. Errors: `Missing::Summoned`, `Conflict::NotAllowed`,
    /// `Conflict::OwnSummons`, `Conflict::SummonsOpen` when one between the two is
    /// still calling or accepted.
    #[allow(clippy::too_many_arguments)]
    fn summon(
        &self,
        summoner: AccountId,
        to: &str,
        lat: f64,
        lon: f64,
        accuracy_m: f64,
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<SummonsRecord>> + Send;

    /// A summons `account` is party to.
    fn summons(
        &self,
        id: SummonsId,
        account: AccountId,
    ) -> impl Future<Output = StoreResult<Option<SummonsRecord>>> + Send;

    /// Summonses `account` is party to that are still calling or accepted.
    fn open_summonses(
        &self,
        account: AccountId,
    ) -> impl Future<Output = StoreResult<Vec<SummonsRecord>>> + Send;

    /// Moves a summons from one of `from` states to `to`, if `account` may: only the
    /// summoned accepts or declines; either party ends; arrival is the server's.
    /// Errors: `Missing::Summons`, `Conflict::SummonsMoved`,
    /// `Conflict::NotYours`.
    fn answer_summons(
        &self,
        id: SummonsId,
        account: AccountId,
        to: SummonState,
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<SummonsRecord>> + Send;
}
