//! Haurach's durable storage: the [`Store`] trait every backend implements, its
//! supertraits ([`PlaceStore`], [`CityStore`], [`ImageStore`], [`PushStore`], [`PauseStore`], [`LocateStore`], [`PrivateBondStore`]), the records they keep, and
//! the two backends, [`Sqlite`] and [`Postgres`].
//!
//! The store knows only the bond's rules (`haurach-bond`) and the wire types
//! (`haurach-proto`): nothing of HTTP, the live link or the bus. Every method is one transaction:
//! when it returns `Ok`, what it wrote is committed; when a rule refuses it, the error
//! names the reason ([`Conflict`], [`Missing`]), which the caller matches exhaustively.
//!
//! What the two backends share is written once: records read from rows (`from_row.rs`,
//! where the backends differ only in how they keep an id), the city's rules over the
//! statements each backend gives (`city/rules.rs`), and the small rules of invites and
//! alarms (here). The conformance stories in `tests/it` (store, places, images, city) are
//! the contract a backend must pass.

#![deny(missing_docs)]

use std::future::Future;

use haurach_bond::{Fix, Profile, TierSet};
use haurach_proto::{Feeling, MessageKind};
use uuid::Uuid;

pub mod blobs;
pub mod city;
pub mod devices;
mod error;
pub mod files;
mod from_row;
pub mod images;
pub mod locate;
pub mod pause;
pub mod places;
pub mod postgres;
pub mod private;
pub mod private_bond;
pub mod push;
pub mod remove;
pub mod sqlite;

pub use city::CityStore;
pub use devices::{DeviceRecord, DeviceStore};
pub use error::{Conflict, Missing, StoreError, StoreResult};
pub use images::{ImageId, ImageRecord, ImageStore, MemoryRecord};
pub use locate::LocateStore;
pub use pause::{PauseRecord, PauseStore};
pub use places::{PinRecord, PlaceRecord, PlaceStore, Waiting};
pub use postgres::Postgres;
pub use private_bond::{PrivateBondStore, PrivateKeys, SealedFixRecord};
pub use push::{PushStore, PushSubscriptionRecord};
pub use remove::Removed;
pub use sqlite::Sqlite;

/// An account's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub Uuid);

/// A bond's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BondId(pub Uuid);

impl AccountId {
    /// A new, time-ordered id.
    pub fn new() -> AccountId {
        AccountId(Uuid::now_v7())
    }
}

impl Default for AccountId {
    fn default() -> Self {
        Self::new()
    }
}

impl BondId {
    /// A new, time-ordered id.
    pub fn new() -> BondId {
        BondId(Uuid::now_v7())
    }
}

impl Default for BondId {
    fn default() -> Self {
        Self::new()
    }
}

/// An account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    /// Its id.
    pub id: AccountId,
    /// The name as the citizen wrote it.
    pub name: String,
    /// The argon2id PHC string.
    pub password_hash: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// The link resumes after this sequence number.
    pub delivered_seq: i64,
}

/// A live bond as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BondRecord {
    /// Its id.
    pub id: BondId,
    /// The two partners: the one who invited, then the one who accepted.
    pub members: [AccountId; 2],
    /// Their names, in the same order.
    pub names: [String; 2],
    /// The distances in use.
    pub profile: Profile,
    /// The tiers open when last stored (hysteresis survives restarts).
    pub open_tiers: TierSet,
    /// Unix milliseconds.
    pub created_at: i64,
}

impl BondRecord {
    /// 0 or 1: which member `account` is.
    pub fn index_of(&self, account: AccountId) -> Option<usize> {
        self.members.iter().position(|m| *m == account)
    }
}

/// A stored position with when the server received it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PositionRecord {
    /// The fix.
    pub fix: Fix,
    /// Unix milliseconds.
    pub received_at: i64,
}

/// A message to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The bond it belongs to.
    pub bond: BondId,
    /// Who sent it.
    pub sender: AccountId,
    /// The sender's id for it (idempotency key).
    pub client_id: String,
    /// What kind.
    pub kind: MessageKind,
    /// Words.
    pub body: Option<String>,
    /// Feeling.
    pub feeling: Option<Feeling>,
    /// Unix milliseconds.
    pub sent_at: i64,
}

impl NewMessage {
    /// The message as stored under `seq`.
    pub fn stored(&self, seq: i64) -> MessageRecord {
        MessageRecord {
            seq,
            bond: self.bond,
            sender: self.sender,
            client_id: self.client_id.clone(),
            kind: self.kind,
            body: self.body.clone(),
            feeling: self.feeling,
            sent_at: self.sent_at,
            acknowledged_at: None,
        }
    }

    /// How it compares with `stored`, the message stored earlier under its (sender,
    /// client id): the same message again (a retry), or another reusing the id.
    pub fn against(&self, stored: MessageRecord) -> Appended {
        let same = stored.bond == self.bond
            && stored.kind == self.kind
            && stored.body == self.body
            && stored.feeling == self.feeling;
        if same {
            Appended::Existing(stored)
        } else {
            Appended::Conflict(stored)
        }
    }
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    /// Its place in the sequence.
    pub seq: i64,
    /// The bond.
    pub bond: BondId,
    /// Who sent it.
    pub sender: AccountId,
    /// The sender's id for it.
    pub client_id: String,
    /// What kind.
    pub kind: MessageKind,
    /// Words.
    pub body: Option<String>,
    /// Feeling.
    pub feeling: Option<Feeling>,
    /// Unix milliseconds.
    pub sent_at: i64,
    /// For alarms: when acknowledged, Unix milliseconds.
    pub acknowledged_at: Option<i64>,
}

/// What storing a message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// It is new and now stored. With it, when the store knows it cheaply, the sequence
    /// number of the bond's message before it (0 for the bond's first): PostgreSQL says,
    /// so a node that receives the message live from another node can tell it follows on
    /// from what its link has sent, without reading the store. SQLite, which serves one
    /// node, says `None`.
    New(MessageRecord, Option<i64>),
    /// The same sender had stored the same message under this id already.
    Existing(MessageRecord),
    /// The same sender used this id for a different message.
    Conflict(MessageRecord),
}

/// Whether `acceptor` may use, at `now_ms`, an invite `inviter` made that expires at
/// `expires_at`: not once it has expired, and not their own.
pub(crate) fn usable_invite(
    inviter: AccountId,
    expires_at: i64,
    acceptor: AccountId,
    now_ms: i64,
) -> StoreResult<()> {
    if expires_at <= now_ms {
        return Err(Missing::InviteExpired.into());
    }
    if inviter == acceptor {
        return Err(Conflict::OwnInvite.into());
    }
    Ok(())
}

/// `by` acknowledges `alarm` at `now_ms`: only the partner of whoever raised it may, and
/// acknowledging twice keeps the first time. Whether it is acknowledged now (and must be
/// written).
pub(crate) fn acknowledge(
    alarm: &mut MessageRecord,
    by: AccountId,
    now_ms: i64,
) -> StoreResult<bool> {
    if alarm.sender == by {
        return Err(Conflict::OwnAlarm.into());
    }
    if alarm.acknowledged_at.is_some() {
        return Ok(false);
    }
    alarm.acknowledged_at = Some(now_ms);
    Ok(true)
}

/// A live session, as the tower sees it: when it began and the hash of its token, never
/// the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// SHA-256 of the bearer token.
    pub token_hash: Vec<u8>,
    /// When it began, Unix milliseconds.
    pub created_ms: i64,
}

/// Durable storage of accounts, sessions, bonds, positions and messages; places, the
/// meeting point and journeys through its supertrait [`PlaceStore`]; the city's records
/// through [`CityStore`]; pictures and journals through [`ImageStore`]; Web Push through
/// [`PushStore`]; device passwords through [`DeviceStore`]; partners' asks for a fresh
/// position through [`LocateStore`]; a person's pause of sharing through [`PauseStore`];
/// private bonds' invites and keys through [`PrivateBondStore`].
pub trait Store:
    PlaceStore
    + CityStore
    + ImageStore
    + PushStore
    + DeviceStore
    + LocateStore
    + PauseStore
    + PrivateBondStore
    + Clone
    + Send
    + Sync
    + 'static
{
    /// Creates an account; `Conflict::NameTaken` when the name (any case) exists.
    fn create_account(
        &self,
        name: &str,
        password_hash: &str,
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<AccountRecord>> + Send;

    /// The account with this name, any case.
    fn account_by_name(
        &self,
        name: &str,
    ) -> impl Future<Output = StoreResult<Option<AccountRecord>>> + Send;

    /// The account with this id.
    fn account(
        &self,
        id: AccountId,
    ) -> impl Future<Output = StoreResult<Option<AccountRecord>>> + Send;

    /// Records a session by the hash of its token.
    fn create_session(
        &self,
        token_hash: &[u8],
        account: AccountId,
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The account of a session that exists and is not revoked.
    fn session_account(
        &self,
        token_hash: &[u8],
    ) -> impl Future<Output = StoreResult<Option<AccountId>>> + Send;

    /// Revokes a session; false when there was no live one.
    fn revoke_session(
        &self,
        token_hash: &[u8],
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// The live sessions of `account`, oldest first (for the tower: never a token).
    fn sessions_of(
        &self,
        account: AccountId,
    ) -> impl Future<Output = StoreResult<Vec<SessionRecord>>> + Send;

    /// Revokes every live session of `account`; the hashes of the tokens it revoked, so
    /// their links can be closed.
    fn revoke_sessions_of(
        &self,
        account: AccountId,
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<Vec<Vec<u8>>>> + Send;

    /// Revokes `account`'s live session whose token hash begins with `id` (the 8 bytes a
    /// tower sees of it); the hashes it revoked (none when no such session is live), so
    /// their links can be closed.
    fn revoke_session_of(
        &self,
        account: AccountId,
        id: &[u8],
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<Vec<Vec<u8>>>> + Send;

    /// Sets `account`'s password and, in the same transaction, revokes every live session
    /// it has (whoever knew the old password is logged out); the hashes of the tokens it
    /// revoked. `Missing::Citizen` when there is no such account.
    fn set_password(
        &self,
        account: AccountId,
        password_hash: &str,
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<Vec<Vec<u8>>>> + Send;

    /// Removes `account` with everything it owns, in one transaction (what goes and what
    /// stays: the [`remove`] module). Its live bond ends with it. `Missing::Citizen`
    /// when there is no such account, `Conflict::LastTower` when it is the city's only
    /// tower.
    fn remove_account(
        &self,
        account: AccountId,
    ) -> impl Future<Output = StoreResult<Removed>> + Send;

    /// Stores an invite code (normalised) for `account`; `Conflict::InviteCodeTaken` when
    /// it exists.
    fn create_invite(
        &self,
        code: &str,
        account: AccountId,
        now_ms: i64,
        expires_ms: i64,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Uses an invite: in one transaction, checks that it exists and has not expired, that
    /// neither its maker nor `acceptor` is bonded and that they are two people, makes the
    /// bond and deletes the code. Errors: `Missing::Invite`, `Missing::InviteExpired`,
    /// `Conflict::OwnInvite`, `Conflict::AlreadyBonded`, `Conflict::PartnerBonded`.
    fn accept_invite(
        &self,
        code: &str,
        acceptor: AccountId,
        profile: Profile,
        open_tiers: TierSet,
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<BondRecord>> + Send;

    /// The live bond of an account.
    fn bond_of(
        &self,
        account: AccountId,
    ) -> impl Future<Output = StoreResult<Option<BondRecord>>> + Send;

    /// Records the tiers now open, for several bonds, in one transaction.
    fn set_open_tiers(
        &self,
        open: &[(BondId, TierSet)],
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Ends a live bond; false when it was not live.
    fn end_bond(&self, bond: BondId, now_ms: i64)
    -> impl Future<Output = StoreResult<bool>> + Send;

    /// Stores accounts' latest positions, in one transaction (a fix older than the one
    /// stored is ignored).
    fn save_positions(
        &self,
        batch: &[(AccountId, PositionRecord)],
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// An account's latest position.
    fn position(
        &self,
        account: AccountId,
    ) -> impl Future<Output = StoreResult<Option<PositionRecord>>> + Send;

    /// Stores messages durably and all at once (one transaction, or one journal append),
    /// each once per (sender, client id), in order (a retry later in the batch finds the
    /// earlier one). One result per message; once it returns, every later read sees them.
    fn append_messages(
        &self,
        batch: Vec<NewMessage>,
    ) -> impl Future<Output = StoreResult<Vec<Appended>>> + Send;

    /// Stores one message, once per (sender, client id).
    fn append_message(
        &self,
        message: NewMessage,
    ) -> impl Future<Output = StoreResult<Appended>> + Send {
        async move {
            let mut results = self.append_messages(vec![message]).await?;
            results
                .pop()
                .ok_or_else(|| StoreError::Corrupt("no result for a stored message".into()))
        }
    }

    /// The message a sender stored under a client id.
    fn message_by_client_id(
        &self,
        sender: AccountId,
        client_id: &str,
    ) -> impl Future<Output = StoreResult<Option<MessageRecord>>> + Send;

    /// A bond's messages with `seq > after`, in order, at most `limit`.
    fn messages_after(
        &self,
        bond: BondId,
        after: i64,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Vec<MessageRecord>>> + Send;

    /// A bond's alarms not yet acknowledged, in order.
    fn raised_alarms(
        &self,
        bond: BondId,
    ) -> impl Future<Output = StoreResult<Vec<MessageRecord>>> + Send;

    /// The newest sequence number of a bond (0 when it has no messages).
    fn last_seq(&self, bond: BondId) -> impl Future<Output = StoreResult<i64>> + Send;

    /// Acknowledges an alarm of `bond` sent by someone other than `by`. Returns the
    /// message; `Missing::Alarm` when there is no such alarm in the bond,
    /// `Conflict::OwnAlarm` when `by` sent it. Acknowledging twice keeps the first time.
    fn acknowledge_alarm(
        &self,
        bond: BondId,
        seq: i64,
        by: AccountId,
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<MessageRecord>> + Send;

    /// Whether the database answers now.
    fn healthy(&self) -> impl Future<Output = bool> + Send;

    /// How many acknowledged messages are in the journal but not yet in the database
    /// (SQLite's indexer stores them a moment later); `None` for a store without a
    /// journal.
    fn indexer_lag(&self) -> Option<i64> {
        None
    }

    /// Moves an account's delivery cursor forward to `seq` (never back).
    fn set_delivered(
        &self,
        account: AccountId,
        seq: i64,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}
