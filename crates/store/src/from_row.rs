//! Records from rows, read once for both backends. Most columns sqlx decodes alike from
//! SQLite and PostgreSQL (text, integers, reals, booleans: a `BOOLEAN` column in
//! PostgreSQL is an `INTEGER` one in SQLite, and both decode to `bool`); ids do not:
//! SQLite keeps them as text, PostgreSQL as `uuid`. [`Columns`] is that one difference,
//! implemented here for both backends' rows, and the functions below read every record
//! the store returns through it.
//!
//! The `..._SELECT` texts are the joins whose columns the functions read (`sender_name`,
//! `invited_by_name`, ...); a backend adds its `WHERE`.

use haurach_bond::{Fix, Profile, TierSet};
use haurach_proto::{Decision, Feeling, GateBook, LetterState, MessageKind, Standing, SummonState};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Decode, Postgres, Row as _, Sqlite, Type};
use uuid::Uuid;

use crate::city::{
    ArrivalRecord, LetterBox, LetterId, LetterRecord, ParcelRecord, SummonsId, SummonsRecord,
};
use crate::pause::PauseRecord;
use crate::private_bond::{KEY_LEN, PrivateKeys, key_of};
use crate::{
    AccountId, AccountRecord, BondId, BondRecord, ImageId, ImageRecord, MemoryRecord,
    MessageRecord, PinRecord, PlaceRecord, PositionRecord, PushSubscriptionRecord, SessionRecord,
    StoreError, StoreResult,
};

/// A row of either backend, as the functions of this module read it.
pub(crate) trait Columns {
    /// A column both backends decode alike. Not an id: an id is [`Columns::id`] (a
    /// `Uuid` would compile here and fail in SQLite, which keeps ids as text).
    fn get<T: Plain>(&self, column: &str) -> StoreResult<T>;

    /// An id.
    fn id(&self, column: &str) -> StoreResult<Uuid>;

    /// An id that may be `NULL`.
    fn opt_id(&self, column: &str) -> StoreResult<Option<Uuid>>;
}

/// A type both backends decode from the same columns.
pub(crate) trait Plain: Sized {
    /// From a SQLite row.
    fn from_sqlite(row: &SqliteRow, column: &str) -> sqlx::Result<Self>;
    /// From a PostgreSQL row.
    fn from_postgres(row: &PgRow, column: &str) -> sqlx::Result<Self>;
}

impl<T> Plain for T
where
    T: for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>,
{
    fn from_sqlite(row: &SqliteRow, column: &str) -> sqlx::Result<T> {
        row.try_get(column)
    }

    fn from_postgres(row: &PgRow, column: &str) -> sqlx::Result<T> {
        row.try_get(column)
    }
}

impl Columns for SqliteRow {
    fn get<T: Plain>(&self, column: &str) -> StoreResult<T> {
        Ok(T::from_sqlite(self, column)?)
    }

    fn id(&self, column: &str) -> StoreResult<Uuid> {
        let text: String = self.try_get(column)?;
        parse_id(column, &text)
    }

    fn opt_id(&self, column: &str) -> StoreResult<Option<Uuid>> {
        let text: Option<String> = self.try_get(column)?;
        text.map(|text| parse_id(column, &text)).transpose()
    }
}

impl Columns for PgRow {
    fn get<T: Plain>(&self, column: &str) -> StoreResult<T> {
        Ok(T::from_postgres(self, column)?)
    }

    fn id(&self, column: &str) -> StoreResult<Uuid> {
        Ok(self.try_get(column)?)
    }

    fn opt_id(&self, column: &str) -> StoreResult<Option<Uuid>> {
        Ok(self.try_get(column)?)
    }
}

fn parse_id(column: &str, text: &str) -> StoreResult<Uuid> {
    text.parse()
        .map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

/// A key column (`standing`, `state`, ...) as its enum; `what` names it in the error.
fn key<T>(
    row: &impl Columns,
    column: &str,
    what: &str,
    from_key: fn(&str) -> Option<T>,
) -> StoreResult<T> {
    let key: String = row.get(column)?;
    from_key(&key).ok_or_else(|| StoreError::Corrupt(format!("{what} {key:?}")))
}

/// A key column that may be `NULL`.
fn opt_key<T>(
    row: &impl Columns,
    column: &str,
    what: &str,
    from_key: fn(&str) -> Option<T>,
) -> StoreResult<Option<T>> {
    let key: Option<String> = row.get(column)?;
    key.map(|key| from_key(&key).ok_or_else(|| StoreError::Corrupt(format!("{what} {key:?}"))))
        .transpose()
}

/// A column stored as the signed `S` (`INTEGER` is 32 bits in PostgreSQL) that must fit
/// the unsigned `T`.
fn unsigned<S, T>(row: &impl Columns, column: &str) -> StoreResult<T>
where
    S: Plain + Copy + std::fmt::Display,
    T: TryFrom<S>,
{
    let value: S = row.get(column)?;
    T::try_from(value).map_err(|_| StoreError::Corrupt(format!("{column}: {value}")))
}

/// `SELECT *` of `accounts`.
pub(crate) fn account(row: &impl Columns) -> StoreResult<AccountRecord> {
    Ok(AccountRecord {
        id: AccountId(row.id("id")?),
        name: row.get("name")?,
        password_hash: row.get("password_hash")?,
        created_at: row.get("created_at")?,
        delivered_seq: row.get("delivered_seq")?,
    })
}

/// The `standing` column of an account.
pub(crate) fn standing(row: &impl Columns) -> StoreResult<Standing> {
    key(row, "standing", "standing", Standing::from_key)
}

/// A bond with its members' names (`a_name`, `b_name`).
pub(crate) fn bond(row: &impl Columns) -> StoreResult<BondRecord> {
    let bits: i32 = row.get("open_tiers")?;
    Ok(BondRecord {
        id: BondId(row.id("id")?),
        members: [AccountId(row.id("a")?), AccountId(row.id("b")?)],
        names: [row.get("a_name")?, row.get("b_name")?],
        profile: key(row, "profile", "profile", Profile::from_key)?,
        open_tiers: TierSet::from_bits(
            u16::try_from(bits).map_err(|_| StoreError::Corrupt(format!("tiers {bits}")))?,
        ),
        created_at: row.get("created_at")?,
    })
}

/// A message's columns (`seq, bond_id, sender_id, client_id, kind, body, feeling,
/// sent_at, acknowledged_at`).
pub(crate) fn message(row: &impl Columns) -> StoreResult<MessageRecord> {
    Ok(MessageRecord {
        seq: row.get("seq")?,
        bond: BondId(row.id("bond_id")?),
        sender: AccountId(row.id("sender_id")?),
        client_id: row.get("client_id")?,
        kind: key(row, "kind", "message kind", MessageKind::from_key)?,
        body: row.get("body")?,
        feeling: opt_key(row, "feeling", "feeling", Feeling::from_key)?,
        sent_at: row.get("sent_at")?,
        acknowledged_at: row.get("acknowledged_at")?,
    })
}

/// `SELECT *` of `positions`.
pub(crate) fn position(row: &impl Columns) -> StoreResult<PositionRecord> {
    Ok(PositionRecord {
        fix: fix(row)?,
        received_at: row.get("received_at")?,
    })
}

/// `account`'s pause of sharing, from a row of `pauses`.
pub(crate) fn pause(account: AccountId, row: &impl Columns) -> StoreResult<PauseRecord> {
    Ok(PauseRecord {
        account,
        since_ms: row.get("since_ms")?,
        until_ms: row.get("until_ms")?,
    })
}

/// The keys and tags of a `private_bonds` row.
pub(crate) fn private_keys(row: &impl Columns) -> StoreResult<PrivateKeys> {
    let tag = |column: &str| -> StoreResult<Option<[u8; KEY_LEN]>> {
        row.get::<Option<Vec<u8>>>(column)?.map(key_of).transpose()
    };
    Ok(PrivateKeys {
        public_keys: [
            key_of(row.get("inviter_key")?)?,
            key_of(row.get("accepter_key")?)?,
        ],
        tags: [tag("inviter_tag")?, tag("accepter_tag")?],
    })
}

/// A fix (`lat, lon, accuracy_m, at`) of `positions` or `journey`.
pub(crate) fn fix(row: &impl Columns) -> StoreResult<Fix> {
    Ok(Fix {
        lat: row.get("lat")?,
        lon: row.get("lon")?,
        accuracy_m: row.get("accuracy_m")?,
        at_ms: row.get("at")?,
    })
}

/// `SELECT *` of `places`.
pub(crate) fn place(row: &impl Columns) -> StoreResult<PlaceRecord> {
    Ok(PlaceRecord {
        name: row.get("name")?,
        lat: row.get("lat")?,
        lon: row.get("lon")?,
        radius_m: row.get("radius_m")?,
        inside: row.get("inside")?,
        updated_at: row.get("updated_at")?,
    })
}

/// `SELECT *` of `meeting_pins`.
pub(crate) fn pin(row: &impl Columns) -> StoreResult<PinRecord> {
    let reached: i32 = row.get("reached")?;
    Ok(PinRecord {
        name: row.get("name")?,
        lat: row.get("lat")?,
        lon: row.get("lon")?,
        pinned_by: AccountId(row.id("pinned_by")?),
        pinned_at: row.get("pinned_at")?,
        reached: [reached & 1 != 0, reached & 2 != 0],
    })
}

/// `SELECT *` of `images`.
pub(crate) fn image(row: &impl Columns) -> StoreResult<ImageRecord> {
    Ok(ImageRecord {
        id: ImageId(row.id("id")?),
        bond: BondId(row.id("bond_id")?),
        sender: AccountId(row.id("sender_id")?),
        client_id: row.get("client_id")?,
        original_type: row.get("original_type")?,
        stripped_type: row.get("stripped_type")?,
        width: unsigned::<i32, _>(row, "width")?,
        height: unsigned::<i32, _>(row, "height")?,
        original_size: unsigned::<i64, _>(row, "original_size")?,
        sent_at: row.get("sent_at")?,
        seen_strength: row.get("seen_strength")?,
        sealed: row.get("sealed")?,
    })
}

/// `SELECT *` of `memories`.
pub(crate) fn memory(row: &impl Columns) -> StoreResult<MemoryRecord> {
    let shared_bond = row.opt_id("shared_bond")?;
    let shared_at: Option<i64> = row.get("shared_at")?;
    Ok(MemoryRecord {
        id: row.id("id")?,
        account: AccountId(row.id("account_id")?),
        client_id: row.get("client_id")?,
        body: row.get("body")?,
        photo_type: row.get("photo_type")?,
        photo_size: unsigned::<i64, _>(row, "photo_size")?,
        created_at: row.get("created_at")?,
        shared: shared_bond.zip(shared_at).map(|(b, at)| (BondId(b), at)),
        sealed_in: row.opt_id("sealed_bond")?.map(BondId),
    })
}

/// A page of the gatekeeper's book, with its account and the names it refers to.
pub(crate) const ARRIVAL_SELECT: &str = "SELECT a.*, r.way, r.given_name, r.family_name, \
     r.from_place, r.age, r.calling, r.note, r.arrived_at, r.decision, r.answer, r.decided_at, \
     inv.name AS invited_by_name, dec.name AS decided_by_name \
     FROM arrivals r JOIN accounts a ON a.id = r.account_id \
     LEFT JOIN accounts inv ON inv.id = r.invited_by \
     LEFT JOIN accounts dec ON dec.id = r.decided_by";

/// The pages of [`ARRIVAL_SELECT`] still waiting for the tower: applications not yet
/// answered.
pub(crate) const WAITING: &str = "r.decision IS NULL AND a.standing = 'applicant'";

/// A row of [`ARRIVAL_SELECT`].
pub(crate) fn arrival(row: &impl Columns) -> StoreResult<ArrivalRecord> {
    let age: Option<i32> = row.get("age")?;
    Ok(ArrivalRecord {
        account: account(row)?,
        standing: standing(row)?,
        way: row.get("way")?,
        book: GateBook {
            name: row.get("given_name")?,
            family_name: row.get("family_name")?,
            from: row.get("from_place")?,
            age: age.map(|a| a as u32),
            calling: row.get("calling")?,
            note: row.get("note")?,
        },
        invited_by: row.get("invited_by_name")?,
        arrived_at: row.get("arrived_at")?,
        decision: decision(row)?,
        answer: row.get("answer")?,
        decided_by: row.get("decided_by_name")?,
        decided_at: row.get("decided_at")?,
    })
}

/// The tower's decision on a page of the book, if it has decided.
pub(crate) fn decision(row: &impl Columns) -> StoreResult<Option<Decision>> {
    opt_key(row, "decision", "decision", Decision::from_key)
}

/// A letter with its parties' names.
pub(crate) const LETTER_SELECT: &str = "SELECT l.*, s.name AS sender_name, \
     r.name AS recipient_name FROM letters l JOIN accounts s ON s.id = l.sender_id \
     JOIN accounts r ON r.id = l.recipient_id";

/// The column of [`LETTER_SELECT`] that says whose box a letter is in: the inbox holds
/// what was sent to its owner and what came back to them, the sent box what they wrote.
pub(crate) fn box_column(which: LetterBox) -> &'static str {
    match which {
        LetterBox::Inbox => "l.holder_id",
        LetterBox::Sent => "l.sender_id",
    }
}

/// A row of [`LETTER_SELECT`], without its parcels (they are rows of their own).
pub(crate) fn letter(row: &impl Columns) -> StoreResult<LetterRecord> {
    Ok(LetterRecord {
        id: LetterId(row.id("id")?),
        sender: AccountId(row.id("sender_id")?),
        sender_name: row.get("sender_name")?,
        recipient: AccountId(row.id("recipient_id")?),
        recipient_name: row.get("recipient_name")?,
        holder: AccountId(row.id("holder_id")?),
        client_id: row.get("client_id")?,
        thread: LetterId(row.id("thread_id")?),
        in_reply_to: row.opt_id("in_reply_to")?.map(LetterId),
        body: row.get("body")?,
        state: key(row, "state", "letter state", LetterState::from_key)?,
        parcels: Vec::new(),
        sent_at: row.get("sent_at")?,
        delivered_at: row.get("delivered_at")?,
        read_at: row.get("read_at")?,
        returned_at: row.get("returned_at")?,
    })
}

/// `SELECT name, hash, size` of `letter_parcels`.
pub(crate) fn parcel(row: &impl Columns) -> StoreResult<ParcelRecord> {
    let size: i64 = row.get("size")?;
    Ok(ParcelRecord {
        name: row.get("name")?,
        hash: row.get("hash")?,
        size: size as u64,
    })
}

/// A summons with its parties' names.
pub(crate) const SUMMONS_SELECT: &str = "SELECT m.*, a.name AS summoner_name, \
     b.name AS summoned_name FROM summons m JOIN accounts a ON a.id = m.summoner_id \
     JOIN accounts b ON b.id = m.summoned_id";

/// A row of [`SUMMONS_SELECT`].
pub(crate) fn summons(row: &impl Columns) -> StoreResult<SummonsRecord> {
    Ok(SummonsRecord {
        id: SummonsId(row.id("id")?),
        summoner: AccountId(row.id("summoner_id")?),
        summoner_name: row.get("summoner_name")?,
        summoned: AccountId(row.id("summoned_id")?),
        summoned_name: row.get("summoned_name")?,
        state: key(row, "state", "summons state", SummonState::from_key)?,
        lat: row.get("lat")?,
        lon: row.get("lon")?,
        accuracy_m: row.get("accuracy_m")?,
        created_at: row.get("created_at")?,
    })
}

/// A live session (`token_hash`, `created_at`).
pub(crate) fn session(row: &impl Columns) -> StoreResult<SessionRecord> {
    Ok(SessionRecord {
        token_hash: row.get("token_hash")?,
        created_ms: row.get("created_at")?,
    })
}

/// One of `account`'s push subscriptions (`endpoint`, `p256dh`, `auth`, `created_at`).
pub(crate) fn push_subscription(
    row: &impl Columns,
    account: AccountId,
) -> StoreResult<PushSubscriptionRecord> {
    Ok(PushSubscriptionRecord {
        account,
        endpoint: row.get("endpoint")?,
        p256dh: row.get("p256dh")?,
        auth: row.get("auth")?,
        created_at: row.get("created_at")?,
    })
}

/// A device with its own password (`account_id`, `name`, `created_at`).
pub(crate) fn device(row: &impl Columns) -> StoreResult<crate::DeviceRecord> {
    Ok(crate::DeviceRecord {
        account: AccountId(row.id("account_id")?),
        name: row.get("name")?,
        created_at: row.get("created_at")?,
    })
}
