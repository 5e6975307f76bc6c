//! The SQLite backend: one file under the data directory, in WAL mode with
//! `synchronous = FULL`, so a committed write survives a crash of the process or the
//! machine. Writes go through a pool of one connection (SQLite has one writer at a time
//! anyway, and a single writer never meets `SQLITE_BUSY`); reads use their own pool.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use haurach_bond::{Profile, TierSet};
use sqlx::Arguments as _;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row, Sqlite as Db, Transaction};
use uuid::Uuid;

pub mod backup;
mod city;
mod devices;
mod images;
mod journal;
mod locate;
mod message_log;
mod messages;
mod pause;
mod places;
mod private_bond;
mod push;
mod scheduling;
mod statements;

use journal::Journal;
use message_log::MessageLog;
pub use scheduling::NOBODY_WAITS_FOR;
use scheduling::Scheduling;

use crate::places::Waiting;
use statements::{MESSAGE_COLUMNS, MultiRow, runs};

use crate::error::unique_or;
use crate::from_row::{self, Columns as _};
use crate::{
    AccountId, AccountRecord, Appended, BondId, BondRecord, Conflict, MessageRecord, Missing,
    NewMessage, PositionRecord, Removed, SessionRecord, Store, StoreError, StoreResult,
    acknowledge, usable_invite,
};

/// The SQLite store. Cloning shares the pools.
#[derive(Debug, Clone)]
pub struct Sqlite {
    pub(super) writer: SqlitePool,
    pub(super) reader: SqlitePool,
    /// How the connections' threads are scheduled ([`scheduling`]).
    scheduling: Arc<Scheduling>,
    /// Where messages go: the journal, then SQLite behind it ([`message_log`]); `None`
    /// when opened beside a server or for bulk loading.
    messages: Option<Arc<MessageLog>>,
}

impl Sqlite {
    /// Opens (creating if needed) `DIR/haurach.db` and applies the migrations, to serve:
    /// messages go through the journal (`DIR/journal`), which one store at a time may
    /// hold (a second waits up to 10 s, then fails).
    pub async fn open(dir: &Path) -> StoreResult<Sqlite> {
        Sqlite::open_with(dir, SqliteSynchronous::Full, true).await
    }

    /// Opens the database for loading many records fast, without waiting for the disk
    /// (`synchronous = OFF`): a crash may lose what was written. Only for filling a
    /// database before a server uses it, as `haurach bench` does; never for serving.
    /// It cannot store or read messages.
    pub async fn open_for_bulk_load(dir: &Path) -> StoreResult<Sqlite> {
        Sqlite::open_with(dir, SqliteSynchronous::Off, false).await
    }

    /// Opens the database beside a server that may be running on it, as `haurach admin`
    /// does: everything but messages, which belong to the server's journal (their
    /// methods fail with `Unavailable`).
    pub async fn open_beside_server(dir: &Path) -> StoreResult<Sqlite> {
        Sqlite::open_with(dir, SqliteSynchronous::Full, false).await
    }

    async fn open_with(
        dir: &Path,
        synchronous: SqliteSynchronous,
        messages: bool,
    ) -> StoreResult<Sqlite> {
        crate::private::create_dir_all(dir).map_err(|e| crate::private::unusable(dir, e))?;
        // The database file is made here, not by SQLite, so that it is 0600; SQLite gives
        // its WAL and shared-memory files the database's mode. Opening it for writing
        // also finds a directory or a file this process may not write, and says so.
        let db = dir.join("haurach.db");
        crate::private::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&db)
            .map_err(|e| crate::private::unusable(&db, e))?;
        // The journal first: its lock keeps a second server off this directory.
        let recovery = if messages {
            let data = dir.to_owned();
            Some(
                tokio::task::spawn_blocking(move || Journal::open(&data))
                    .await
                    .map_err(|e| {
                        StoreError::Corrupt(format!("opening the journal failed: {e}"))
                    })??,
            )
        } else {
            None
        };
        let options = SqliteConnectOptions::new()
            .filename(&db)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .foreign_keys(true)
            // Statement journals in memory: a multi-row write inside a transaction (the
            // position writer's runs) keeps a copy of every page it touches until the
            // statement ends, and with temporary files on disk those copies were a
            // `pwrite` each, two-fifths of the database thread's work at 19,800 links
            // (docs/benchmarks.md).
            .pragma("temp_store", "memory")
            .busy_timeout(Duration::from_secs(10));
        // Every connection is opened now and kept (no idle or age limit): each runs on a
        // thread of its own, and below, those threads are made to yield to the threads
        // serving the live links ([`scheduling`]). (SQLite's default WAL checkpoint, every
        // 1,000 pages, stays: checkpoints of 16,384 pages gave durable voice 20 % more but
        // put stalls of 0.2-1 s into the live links' p99 at 19,800 links, see
        // docs/benchmarks.md.)
        let before = scheduling::database_threads();
        let writer = SqlitePoolOptions::new()
            .min_connections(1)
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let keyed = messages::key_older_messages(&writer).await?;
        if keyed > 0 {
            tracing::info!(
                messages = keyed,
                "keyed the messages stored before keys existed"
            );
        }
        let reader = SqlitePoolOptions::new()
            .min_connections(READERS)
            .max_connections(READERS)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.read_only(true))
            .await?;
        let scheduling = Arc::new(Scheduling::of_threads_since(&before));
        let messages = match recovery {
            Some(recovery) => Some(Arc::new(
                Sqlite::start_messages(&writer, recovery, scheduling.clone()).await?,
            )),
            None => None,
        };
        Ok(Sqlite {
            writer,
            reader,
            scheduling,
            messages,
        })
    }

    /// Stores what the journal still held (messages acknowledged before a crash or a
    /// stop, not yet in SQLite), then starts appending to it.
    async fn start_messages(
        writer: &SqlitePool,
        recovery: journal::Recovery,
        scheduling: Arc<Scheduling>,
    ) -> StoreResult<MessageLog> {
        let mut recovery = recovery;
        if !recovery.records.is_empty() {
            // A segment is deleted only once all of it is stored, so it may still hold
            // messages of a bond removed since (`Store::remove_account`): they stay gone.
            let bonds: std::collections::HashSet<String> =
                sqlx::query_scalar("SELECT id FROM bonds")
                    .fetch_all(writer)
                    .await?
                    .into_iter()
                    .collect();
            recovery
                .records
                .retain(|r| bonds.contains(&r.bond.0.to_string()));
        }
        if !recovery.records.is_empty() {
            message_log::store(writer, &recovery.records).await?;
            tracing::info!(
                messages = recovery.records.len(),
                "stored the messages the journal held"
            );
        }
        let next = messages::next_seq(&mut *writer.acquire().await?).await?;
        let journal = tokio::task::spawn_blocking(move || recovery.begin(next))
            .await
            .map_err(|e| StoreError::Corrupt(format!("starting the journal failed: {e}")))??;
        Ok(MessageLog::start(journal, next, writer.clone(), scheduling))
    }

    /// The message path, or `Unavailable` for a store opened without it.
    fn messages(&self) -> StoreResult<&MessageLog> {
        self.messages.as_deref().ok_or_else(|| {
            StoreError::Unavailable(
                "messages are kept by the server serving this data directory".into(),
            )
        })
    }

    /// A write begins ([`Scheduling::write_started`]).
    pub(super) fn write_started(&self) -> scheduling::WriteStart {
        self.scheduling.write_started()
    }

    /// A write that began at `started` has committed ([`Scheduling::after_write`]).
    pub(super) fn after_write(&self, started: scheduling::WriteStart, waiting: Waiting) {
        self.scheduling.after_write(started, waiting);
    }

    pub(super) async fn begin(&self) -> StoreResult<Transaction<'static, Db>> {
        // IMMEDIATE takes the write lock up front, so a transaction that reads and then
        // writes cannot fail half-way on a lock upgrade.
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Makes the bond of `inviter` and `acceptor` inside `tx`, once an invite (plain or
    /// private) was found usable: neither may be bonded already. Retires every invite of
    /// both, plain and private: an account has one way in at a time.
    pub(super) async fn form_bond(
        tx: &mut Transaction<'static, Db>,
        inviter: AccountId,
        acceptor: AccountId,
        profile: Profile,
        open_tiers: TierSet,
        now_ms: i64,
    ) -> StoreResult<BondId> {
        for (who, why) in [
            (acceptor, Conflict::AlreadyBonded),
            (inviter, Conflict::PartnerBonded),
        ] {
            let bonded = sqlx::query("SELECT 1 FROM bond_members WHERE account_id = ?")
                .bind(who.0.to_string())
                .fetch_optional(&mut **tx)
                .await?;
            if bonded.is_some() {
                return Err(StoreError::Conflict(why));
            }
        }
        let id = BondId::new();
        sqlx::query(
            "INSERT INTO bonds (id, a, b, profile, open_tiers, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(id.0.to_string())
        .bind(inviter.0.to_string())
        .bind(acceptor.0.to_string())
        .bind(profile.key())
        .bind(i64::from(open_tiers.bits()))
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
        for who in [inviter, acceptor] {
            sqlx::query("INSERT INTO bond_members (account_id, bond_id) VALUES (?, ?)")
                .bind(who.0.to_string())
                .bind(id.0.to_string())
                .execute(&mut **tx)
                .await?;
        }
        // An account has one way in at a time: using the code retires every other code of
        // the inviter too, so a second person cannot bond with them later.
        sqlx::query("DELETE FROM invites WHERE account_id IN (?, ?)")
            .bind(inviter.0.to_string())
            .bind(acceptor.0.to_string())
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM private_invites WHERE account_id IN (?, ?)")
            .bind(inviter.0.to_string())
            .bind(acceptor.0.to_string())
            .execute(&mut **tx)
            .await?;
        Ok(id)
    }

    pub(super) async fn bond_by_id(
        tx: &mut Transaction<'static, Db>,
        bond: &str,
    ) -> StoreResult<Option<BondRecord>> {
        let row = sqlx::query(BOND_SELECT)
            .bind(bond)
            .fetch_optional(&mut **tx)
            .await?;
        row.map(|r| from_row::bond(&r)).transpose()
    }
}

const BOND_SELECT: &str = "SELECT b.id, b.a, b.b, b.profile, b.open_tiers, b.created_at, \
     aa.name AS a_name, ab.name AS b_name \
     FROM bonds b JOIN accounts aa ON aa.id = b.a JOIN accounts ab ON ab.id = b.b \
     WHERE b.id = ? AND b.ended_at IS NULL";

/// Connections in the read pool.
const READERS: u32 = 4;

static UPSERT_POSITIONS: MultiRow = MultiRow::new(
    "INSERT INTO positions (account_id, lat, lon, accuracy_m, at, received_at)",
    6,
    "ON CONFLICT (account_id) DO UPDATE SET lat = excluded.lat, lon = excluded.lon, \
     accuracy_m = excluded.accuracy_m, at = excluded.at, received_at = excluded.received_at \
     WHERE excluded.at >= positions.at",
);

/// Stores accounts' latest positions (one run, each account once); a fix older than the
/// one stored is ignored.
pub(super) async fn upsert_positions(
    tx: &mut Transaction<'static, Db>,
    run: &[(AccountId, PositionRecord)],
) -> StoreResult<()> {
    let query = UPSERT_POSITIONS.query(run, |args, (account, position)| {
        let fix = position.fix;
        args.add(account.0.to_string())?;
        args.add(fix.lat)?;
        args.add(fix.lon)?;
        args.add(fix.accuracy_m)?;
        args.add(fix.at_ms)?;
        args.add(position.received_at)
    })?;
    query.execute(&mut **tx).await?;
    Ok(())
}

impl Store for Sqlite {
    async fn create_account(
        &self,
        name: &str,
        password_hash: &str,
        now_ms: i64,
    ) -> StoreResult<AccountRecord> {
        let id = AccountId::new();
        sqlx::query(
            "INSERT INTO accounts (id, name, name_key, password_hash, created_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(id.0.to_string())
        .bind(name)
        .bind(name.to_lowercase())
        .bind(password_hash)
        .bind(now_ms)
        .execute(&self.writer)
        .await
        .map_err(|err| unique_or(err, Conflict::NameTaken))?;
        Ok(AccountRecord {
            id,
            name: name.to_owned(),
            password_hash: password_hash.to_owned(),
            created_at: now_ms,
            delivered_seq: 0,
        })
    }

    async fn account_by_name(&self, name: &str) -> StoreResult<Option<AccountRecord>> {
        sqlx::query("SELECT * FROM accounts WHERE name_key = ?")
            .bind(name.to_lowercase())
            .fetch_optional(&self.reader)
            .await?
            .map(|r| from_row::account(&r))
            .transpose()
    }

    async fn account(&self, id: AccountId) -> StoreResult<Option<AccountRecord>> {
        sqlx::query("SELECT * FROM accounts WHERE id = ?")
            .bind(id.0.to_string())
            .fetch_optional(&self.reader)
            .await?
            .map(|r| from_row::account(&r))
            .transpose()
    }

    async fn create_session(
        &self,
        token_hash: &[u8],
        account: AccountId,
        now_ms: i64,
    ) -> StoreResult<()> {
        sqlx::query("INSERT INTO sessions (token_hash, account_id, created_at) VALUES (?, ?, ?)")
            .bind(token_hash)
            .bind(account.0.to_string())
            .bind(now_ms)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn session_account(&self, token_hash: &[u8]) -> StoreResult<Option<AccountId>> {
        let row = sqlx::query(
            "SELECT account_id FROM sessions WHERE token_hash = ? AND revoked_at IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| r.id("account_id").map(AccountId)).transpose()
    }

    async fn revoke_session(&self, token_hash: &[u8], now_ms: i64) -> StoreResult<bool> {
        let res = sqlx::query(
            "UPDATE sessions SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
        )
        .bind(now_ms)
        .bind(token_hash)
        .execute(&self.writer)
        .await?;
        Ok(res.rows_affected() == 1)
    }

    async fn sessions_of(&self, account: AccountId) -> StoreResult<Vec<SessionRecord>> {
        let rows = sqlx::query(
            "SELECT token_hash, created_at FROM sessions \
             WHERE account_id = ? AND revoked_at IS NULL ORDER BY created_at, token_hash",
        )
        .bind(account.0.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(from_row::session).collect()
    }

    async fn revoke_sessions_of(
        &self,
        account: AccountId,
        now_ms: i64,
    ) -> StoreResult<Vec<Vec<u8>>> {
        let rows = sqlx::query(
            "UPDATE sessions SET revoked_at = ? \
             WHERE account_id = ? AND revoked_at IS NULL RETURNING token_hash",
        )
        .bind(now_ms)
        .bind(account.0.to_string())
        .fetch_all(&self.writer)
        .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get("token_hash"))
            .collect::<Result<_, _>>()?)
    }

    async fn revoke_session_of(
        &self,
        account: AccountId,
        id: &[u8],
        now_ms: i64,
    ) -> StoreResult<Vec<Vec<u8>>> {
        let rows = sqlx::query(
            "UPDATE sessions SET revoked_at = ? \
             WHERE account_id = ? AND revoked_at IS NULL AND substr(token_hash, 1, ?) = ? \
             RETURNING token_hash",
        )
        .bind(now_ms)
        .bind(account.0.to_string())
        .bind(i32::try_from(id.len()).unwrap_or(i32::MAX))
        .bind(id)
        .fetch_all(&self.writer)
        .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get("token_hash"))
            .collect::<Result<_, _>>()?)
    }

    async fn set_password(
        &self,
        account: AccountId,
        password_hash: &str,
        now_ms: i64,
    ) -> StoreResult<Vec<Vec<u8>>> {
        let mut tx = self.begin().await?;
        let res = sqlx::query("UPDATE accounts SET password_hash = ? WHERE id = ?")
            .bind(password_hash)
            .bind(account.0.to_string())
            .execute(&mut *tx)
            .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound(Missing::Citizen));
        }
        let rows = sqlx::query(
            "UPDATE sessions SET revoked_at = ? \
             WHERE account_id = ? AND revoked_at IS NULL RETURNING token_hash",
        )
        .bind(now_ms)
        .bind(account.0.to_string())
        .fetch_all(&mut *tx)
        .await?;
        let revoked = rows
            .iter()
            .map(|r| r.try_get("token_hash"))
            .collect::<Result<_, _>>()?;
        tx.commit().await?;
        Ok(revoked)
    }

    async fn remove_account(&self, account: AccountId) -> StoreResult<Removed> {
        use crate::remove;
        // Every message journalled so far is in SQLite first, so none of the bond's is
        // stored again behind the removal (the journal's recovery skips removed bonds).
        self.messages()?.caught_up().await?;
        let id = account.0.to_string();
        let mut tx = self.begin().await?;
        let standing: Option<String> = sqlx::query_scalar(remove::STANDING)
            .bind(&id)
            .fetch_optional(&mut *tx)
            .await?;
        let standing = standing.ok_or(StoreError::NotFound(Missing::Citizen))?;
        if standing == "tower" {
            let towers: i64 = sqlx::query_scalar(remove::TOWERS)
                .fetch_one(&mut *tx)
                .await?;
            if towers <= 1 {
                return Err(Conflict::LastTower.into());
            }
        }
        let sessions = sqlx::query_scalar(remove::LIVE_SESSIONS)
            .bind(&id)
            .fetch_all(&mut *tx)
            .await?;
        let ids = |rows: Vec<String>| -> StoreResult<Vec<Uuid>> {
            rows.iter()
                .map(|r| Uuid::parse_str(r).map_err(|e| StoreError::Corrupt(e.to_string())))
                .collect()
        };
        let images = ids(sqlx::query_scalar(AssertSqlSafe(remove::images()))
            .bind(&id)
            .fetch_all(&mut *tx)
            .await?)?;
        let photos = ids(sqlx::query_scalar(remove::PHOTOS)
            .bind(&id)
            .fetch_all(&mut *tx)
            .await?)?;
        let hashes: Vec<String> = sqlx::query_scalar(AssertSqlSafe(remove::parcels()))
            .bind(&id)
            .fetch_all(&mut *tx)
            .await?;
        for template in remove::REMOVE {
            sqlx::query(AssertSqlSafe(remove::statement(template)))
                .bind(&id)
                .execute(&mut *tx)
                .await?;
        }
        let mut parcels = Vec::new();
        for hash in hashes {
            let kept: bool = sqlx::query_scalar(remove::PARCEL_KEPT)
                .bind(&hash)
                .fetch_one(&mut *tx)
                .await?;
            if !kept {
                parcels.push(hash);
            }
        }
        tx.commit().await?;
        Ok(Removed {
            sessions,
            images,
            photos,
            parcels,
        })
    }

    async fn create_invite(
        &self,
        code: &str,
        account: AccountId,
        now_ms: i64,
        expires_ms: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO invites (code, account_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
        )
        .bind(code)
        .bind(account.0.to_string())
        .bind(now_ms)
        .bind(expires_ms)
        .execute(&self.writer)
        .await
        .map_err(|err| unique_or(err, Conflict::InviteCodeTaken))?;
        Ok(())
    }

    async fn accept_invite(
        &self,
        code: &str,
        acceptor: AccountId,
        profile: Profile,
        open_tiers: TierSet,
        now_ms: i64,
    ) -> StoreResult<BondRecord> {
        let mut tx = self.begin().await?;
        let invite = sqlx::query("SELECT account_id, expires_at FROM invites WHERE code = ?")
            .bind(code)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound(Missing::Invite))?;
        let inviter = AccountId(invite.id("account_id")?);
        let expires_at: i64 = invite.try_get("expires_at")?;
        usable_invite(inviter, expires_at, acceptor, now_ms)?;
        let id = Self::form_bond(&mut tx, inviter, acceptor, profile, open_tiers, now_ms).await?;
        let bond = Self::bond_by_id(&mut tx, &id.0.to_string())
            .await?
            .ok_or_else(|| StoreError::Corrupt("bond vanished inside its transaction".into()))?;
        tx.commit().await?;
        Ok(bond)
    }

    async fn bond_of(&self, account: AccountId) -> StoreResult<Option<BondRecord>> {
        let row = sqlx::query(
            "SELECT b.id, b.a, b.b, b.profile, b.open_tiers, b.created_at, \
             aa.name AS a_name, ab.name AS b_name \
             FROM bond_members m JOIN bonds b ON b.id = m.bond_id \
             JOIN accounts aa ON aa.id = b.a JOIN accounts ab ON ab.id = b.b \
             WHERE m.account_id = ?",
        )
        .bind(account.0.to_string())
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| from_row::bond(&r)).transpose()
    }

    async fn set_open_tiers(&self, open: &[(BondId, TierSet)]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        for (bond, set) in open {
            sqlx::query("UPDATE bonds SET open_tiers = ? WHERE id = ?")
                .bind(i64::from(set.bits()))
                .bind(bond.0.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn end_bond(&self, bond: BondId, now_ms: i64) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let res = sqlx::query("UPDATE bonds SET ended_at = ? WHERE id = ? AND ended_at IS NULL")
            .bind(now_ms)
            .bind(bond.0.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM bond_members WHERE bond_id = ?")
            .bind(bond.0.to_string())
            .execute(&mut *tx)
            .await?;
        // A private bond's sealed positions are of no use once it ends.
        sqlx::query("DELETE FROM sealed_fixes WHERE bond_id = ?")
            .bind(bond.0.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(res.rows_affected() == 1)
    }

    async fn save_positions(&self, batch: &[(AccountId, PositionRecord)]) -> StoreResult<()> {
        let started = self.write_started();
        let mut tx = self.begin().await?;
        for run in runs(batch) {
            upsert_positions(&mut tx, run).await?;
        }
        tx.commit().await?;
        self.after_write(started, Waiting::Someone);
        Ok(())
    }

    async fn position(&self, account: AccountId) -> StoreResult<Option<PositionRecord>> {
        let row = sqlx::query("SELECT * FROM positions WHERE account_id = ?")
            .bind(account.0.to_string())
            .fetch_optional(&self.reader)
            .await?;
        row.map(|r| from_row::position(&r)).transpose()
    }

    async fn append_messages(&self, batch: Vec<NewMessage>) -> StoreResult<Vec<Appended>> {
        // Timed as a write: an append waits for a reader thread (the lookups), and a
        // starved one must raise the database threads as a slow write does.
        let started = self.write_started();
        let appended = self.messages()?.append(&self.reader, batch).await;
        self.after_write(started, Waiting::Someone);
        appended
    }

    async fn message_by_client_id(
        &self,
        sender: AccountId,
        client_id: &str,
    ) -> StoreResult<Option<MessageRecord>> {
        self.messages()?.caught_up().await?;
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages \
             WHERE client_key = ? AND sender_id = ? AND client_id = ?"
        )))
        .bind(messages::client_key(sender, client_id))
        .bind(sender.0.to_string())
        .bind(client_id)
        .fetch_optional(&self.reader)
        .await?
        .map(|r| from_row::message(&r))
        .transpose()
    }

    async fn messages_after(
        &self,
        bond: BondId,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<MessageRecord>> {
        self.messages()?.caught_up().await?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE bond_id = ? AND seq > ? \
             ORDER BY seq LIMIT ?"
        )))
        .bind(bond.0.to_string())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(from_row::message).collect()
    }

    async fn raised_alarms(&self, bond: BondId) -> StoreResult<Vec<MessageRecord>> {
        self.messages()?.caught_up().await?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE bond_id = ? AND kind = 'alarm' \
             AND acknowledged_at IS NULL ORDER BY seq"
        )))
        .bind(bond.0.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(from_row::message).collect()
    }

    async fn last_seq(&self, bond: BondId) -> StoreResult<i64> {
        self.messages()?.caught_up().await?;
        let seq: Option<i64> =
            sqlx::query_scalar("SELECT MAX(seq) FROM messages WHERE bond_id = ?")
                .bind(bond.0.to_string())
                .fetch_one(&self.reader)
                .await?;
        Ok(seq.unwrap_or(0))
    }

    async fn acknowledge_alarm(
        &self,
        bond: BondId,
        seq: i64,
        by: AccountId,
        now_ms: i64,
    ) -> StoreResult<MessageRecord> {
        self.messages()?.caught_up().await?;
        let mut tx = self.begin().await?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE bond_id = ? AND seq = ? AND kind = 'alarm'"
        )))
        .bind(bond.0.to_string())
        .bind(seq)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound(Missing::Alarm))?;
        let mut alarm = from_row::message(&row)?;
        if acknowledge(&mut alarm, by, now_ms)? {
            sqlx::query("UPDATE messages SET acknowledged_at = ? WHERE seq = ?")
                .bind(now_ms)
                .bind(seq)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(alarm)
    }

    async fn healthy(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.reader).await.is_ok()
    }

    fn indexer_lag(&self) -> Option<i64> {
        self.messages.as_deref().map(MessageLog::lag)
    }

    async fn set_delivered(&self, account: AccountId, seq: i64) -> StoreResult<()> {
        sqlx::query("UPDATE accounts SET delivered_seq = MAX(delivered_seq, ?) WHERE id = ?")
            .bind(seq)
            .bind(account.0.to_string())
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
