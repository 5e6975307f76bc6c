//! The PostgreSQL backend, for a city served by several nodes: every node connects to the
//! same database. It keeps the same promises as [`Sqlite`](crate::Sqlite) (every method is
//! one committed transaction) and passes the same conformance suite.
//!
//! Where SQLite has one writer and so never races, PostgreSQL has many; the races are
//! closed in the database, not in a node's memory:
//! - a bond is one-to-one by the `bond_members` primary key, whichever node accepts;
//! - messages of one bond are appended under that bond's row lock, so their sequence
//!   numbers are in commit order and a reader resuming "after seq N" misses nothing;
//! - rows touched by a batch are locked in id order, so two nodes never deadlock.

use std::collections::HashMap;
use std::time::Duration;

use haurach_bond::{Fix, Profile, TierSet};
use haurach_proto::Feeling;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Postgres as Db, Row, Transaction};
use uuid::Uuid;

mod city;
mod devices;
mod images;
mod locate;
mod pause;
mod places;
mod private_bond;
mod push;

use crate::error::unique_or;
use crate::from_row;
use crate::{
    AccountId, AccountRecord, Appended, BondId, BondRecord, Conflict, MessageRecord, Missing,
    NewMessage, PositionRecord, Removed, SessionRecord, Store, StoreError, StoreResult,
    acknowledge, usable_invite,
};

/// The PostgreSQL store. Cloning shares the pool.
#[derive(Debug, Clone)]
pub struct Postgres {
    pub(super) pool: PgPool,
}

impl Postgres {
    /// Connects to `url` (`postgres://user:password@host:port/database`) and applies the
    /// migrations. Several nodes may do this at once: sqlx takes an advisory lock while
    /// migrating.
    pub async fn connect(url: &str) -> StoreResult<Postgres> {
        Postgres::connect_with(url.parse()?).await
    }

    /// Connects for loading many records fast, without waiting for the disk at each
    /// commit (`synchronous_commit = off`): a crash may lose the last moment's writes.
    /// Only for filling a database before a server uses it, as `haurach bench` does.
    pub async fn connect_for_bulk_load(url: &str) -> StoreResult<Postgres> {
        let options: PgConnectOptions = url.parse()?;
        Postgres::connect_with(options.options([("synchronous_commit", "off")])).await
    }

    async fn connect_with(options: PgConnectOptions) -> StoreResult<Postgres> {
        // Where, for the operator: never the URL, which may hold a password.
        let at = format!("{}:{}", options.get_host(), options.get_port());
        // Which node each connection is, in `pg_stat_activity`; the operator's own name
        // (the URL's `application_name`, or PGAPPNAME) wins.
        let options = match options.get_application_name() {
            Some(_) => options,
            None => options.application_name(&application_name()),
        };
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(|e| {
                StoreError::Unusable(format!(
                    "cannot use PostgreSQL at {at}: {e}: check that it runs and that \
                     database_url (--database-url) names it, with the right user and password"
                ))
            })?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Postgres { pool })
    }

    /// The pool, for tests and tools that inspect the database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Makes the bond of `inviter` and `acceptor` inside `tx`, once an invite (plain or
    /// private) was found usable and both people's rows are locked: neither may be
    /// bonded already. Retires every invite of both, plain and private: an account has
    /// one way in at a time.
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
            let bonded = sqlx::query("SELECT 1 FROM bond_members WHERE account_id = $1")
                .bind(who.0)
                .fetch_optional(&mut **tx)
                .await?;
            if bonded.is_some() {
                return Err(StoreError::Conflict(why));
            }
        }
        let id = BondId::new();
        sqlx::query(
            "INSERT INTO bonds (id, a, b, profile, open_tiers, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.0)
        .bind(inviter.0)
        .bind(acceptor.0)
        .bind(profile.key())
        .bind(i32::from(open_tiers.bits()))
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
        // The checks above read without locks; two bonds racing for one person (through two
        // different codes, on two nodes) meet here, at the primary key, and one loses.
        for (who, why) in [
            (inviter, Conflict::PartnerBonded),
            (acceptor, Conflict::AlreadyBonded),
        ] {
            let res = sqlx::query("INSERT INTO bond_members (account_id, bond_id) VALUES ($1, $2)")
                .bind(who.0)
                .bind(id.0)
                .execute(&mut **tx)
                .await;
            res.map_err(|err| unique_or(err, why))?;
        }
        // An account has one way in at a time: using the code retires every other code of
        // both partners.
        sqlx::query("DELETE FROM invites WHERE account_id IN ($1, $2)")
            .bind(inviter.0)
            .bind(acceptor.0)
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM private_invites WHERE account_id IN ($1, $2)")
            .bind(inviter.0)
            .bind(acceptor.0)
            .execute(&mut **tx)
            .await?;
        Ok(id)
    }

    pub(super) async fn bond_by_id(
        tx: &mut Transaction<'static, Db>,
        bond: Uuid,
    ) -> StoreResult<Option<BondRecord>> {
        let row = sqlx::query(BOND_SELECT)
            .bind(bond)
            .fetch_optional(&mut **tx)
            .await?;
        row.map(|r| from_row::bond(&r)).transpose()
    }
}

/// The name a node's connections carry unless the operator names them:
/// `haurach-HOSTNAME` (`haurach` when the host has no name to read).
pub fn application_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    match host.trim() {
        "" => "haurach".to_owned(),
        host => format!("haurach-{host}"),
    }
}

const BOND_SELECT: &str = "SELECT b.id, b.a, b.b, b.profile, b.open_tiers, b.created_at, \
     aa.name AS a_name, ab.name AS b_name \
     FROM bonds b JOIN accounts aa ON aa.id = b.a JOIN accounts ab ON ab.id = b.b \
     WHERE b.id = $1 AND b.ended_at IS NULL";

const MESSAGE_COLUMNS: &str =
    "seq, bond_id, sender_id, client_id, kind, body, feeling, sent_at, acknowledged_at";

/// Stores one message inside a transaction that holds its bond's row lock, once per
/// (sender, client id).
async fn append_in(tx: &mut Transaction<'static, Db>, m: &NewMessage) -> StoreResult<Appended> {
    let seq: Option<i64> = sqlx::query_scalar(
        "INSERT INTO messages (bond_id, sender_id, client_id, kind, body, feeling, sent_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (sender_id, client_id) DO NOTHING \
         RETURNING seq",
    )
    .bind(m.bond.0)
    .bind(m.sender.0)
    .bind(&m.client_id)
    .bind(m.kind.key())
    .bind(&m.body)
    .bind(m.feeling.map(Feeling::key))
    .bind(m.sent_at)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(seq) = seq {
        return Ok(Appended::New(m.stored(seq), None));
    }
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE sender_id = $1 AND client_id = $2"
    )))
    .bind(m.sender.0)
    .bind(&m.client_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(m.against(from_row::message(&row)?))
}

/// Upserts accounts' latest positions (a fix older than the one stored is ignored) and
/// appends `journey` fixes (a retry is not doubled), inside `tx`, rows in id order.
pub(super) async fn save_positions_in(
    tx: &mut Transaction<'static, Db>,
    batch: &[(AccountId, PositionRecord)],
    journey: &[(AccountId, Fix)],
) -> StoreResult<()> {
    if !batch.is_empty() {
        // The newest fix per account (a batch may hold several), in id order.
        let mut latest: Vec<(AccountId, PositionRecord)> = Vec::with_capacity(batch.len());
        let mut sorted = batch.to_vec();
        sorted.sort_by_key(|(account, p)| (*account, p.fix.at_ms));
        for (account, p) in sorted {
            match latest.last_mut() {
                Some((last, kept)) if *last == account => *kept = p,
                _ => latest.push((account, p)),
            }
        }
        // Column arrays for one UNNEST insert.
        let ids: Vec<Uuid> = latest.iter().map(|(a, _)| a.0).collect();
        let lats: Vec<f64> = latest.iter().map(|(_, p)| p.fix.lat).collect();
        let lons: Vec<f64> = latest.iter().map(|(_, p)| p.fix.lon).collect();
        let accuracies: Vec<f64> = latest.iter().map(|(_, p)| p.fix.accuracy_m).collect();
        let taken: Vec<i64> = latest.iter().map(|(_, p)| p.fix.at_ms).collect();
        let received: Vec<i64> = latest.iter().map(|(_, p)| p.received_at).collect();
        sqlx::query(
            "INSERT INTO positions (account_id, lat, lon, accuracy_m, at, received_at) \
             SELECT * FROM UNNEST($1::uuid[], $2::float8[], $3::float8[], $4::float8[], \
                                  $5::int8[], $6::int8[]) \
             ON CONFLICT (account_id) DO UPDATE SET lat = excluded.lat, lon = excluded.lon, \
             accuracy_m = excluded.accuracy_m, at = excluded.at, \
             received_at = excluded.received_at \
             WHERE excluded.at >= positions.at",
        )
        .bind(&ids)
        .bind(&lats)
        .bind(&lons)
        .bind(&accuracies)
        .bind(&taken)
        .bind(&received)
        .execute(&mut **tx)
        .await?;
    }
    if !journey.is_empty() {
        let ids: Vec<Uuid> = journey.iter().map(|(a, _)| a.0).collect();
        let taken: Vec<i64> = journey.iter().map(|(_, f)| f.at_ms).collect();
        let lats: Vec<f64> = journey.iter().map(|(_, f)| f.lat).collect();
        let lons: Vec<f64> = journey.iter().map(|(_, f)| f.lon).collect();
        let accuracies: Vec<f64> = journey.iter().map(|(_, f)| f.accuracy_m).collect();
        sqlx::query(
            "INSERT INTO journey (account_id, at, lat, lon, accuracy_m) \
             SELECT * FROM UNNEST($1::uuid[], $2::int8[], $3::float8[], $4::float8[], \
                                  $5::float8[]) \
             ON CONFLICT (account_id, at) DO NOTHING",
        )
        .bind(&ids)
        .bind(&taken)
        .bind(&lats)
        .bind(&lons)
        .bind(&accuracies)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl Store for Postgres {
    async fn create_account(
        &self,
        name: &str,
        password_hash: &str,
        now_ms: i64,
    ) -> StoreResult<AccountRecord> {
        let id = AccountId::new();
        sqlx::query(
            "INSERT INTO accounts (id, name, name_key, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id.0)
        .bind(name)
        .bind(name.to_lowercase())
        .bind(password_hash)
        .bind(now_ms)
        .execute(&self.pool)
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
        sqlx::query("SELECT * FROM accounts WHERE name_key = $1")
            .bind(name.to_lowercase())
            .fetch_optional(&self.pool)
            .await?
            .map(|r| from_row::account(&r))
            .transpose()
    }

    async fn account(&self, id: AccountId) -> StoreResult<Option<AccountRecord>> {
        sqlx::query("SELECT * FROM accounts WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
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
        sqlx::query(
            "INSERT INTO sessions (token_hash, account_id, created_at) VALUES ($1, $2, $3)",
        )
        .bind(token_hash)
        .bind(account.0)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session_account(&self, token_hash: &[u8]) -> StoreResult<Option<AccountId>> {
        let id: Option<Uuid> = sqlx::query_scalar(
            "SELECT account_id FROM sessions WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(id.map(AccountId))
    }

    async fn revoke_session(&self, token_hash: &[u8], now_ms: i64) -> StoreResult<bool> {
        let res = sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
        )
        .bind(now_ms)
        .bind(token_hash)
        .execute(&self.pool)
        .await?;
        Ok(res.rows_affected() == 1)
    }

    async fn sessions_of(&self, account: AccountId) -> StoreResult<Vec<SessionRecord>> {
        let rows = sqlx::query(
            "SELECT token_hash, created_at FROM sessions \
             WHERE account_id = $1 AND revoked_at IS NULL ORDER BY created_at, token_hash",
        )
        .bind(account.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row::session).collect()
    }

    async fn revoke_sessions_of(
        &self,
        account: AccountId,
        now_ms: i64,
    ) -> StoreResult<Vec<Vec<u8>>> {
        let rows = sqlx::query(
            "UPDATE sessions SET revoked_at = $1 \
             WHERE account_id = $2 AND revoked_at IS NULL RETURNING token_hash",
        )
        .bind(now_ms)
        .bind(account.0)
        .fetch_all(&self.pool)
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
            "UPDATE sessions SET revoked_at = $1 \
             WHERE account_id = $2 AND revoked_at IS NULL \
             AND substring(token_hash from 1 for $3) = $4 RETURNING token_hash",
        )
        .bind(now_ms)
        .bind(account.0)
        .bind(i32::try_from(id.len()).unwrap_or(i32::MAX))
        .bind(id)
        .fetch_all(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        let res = sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(account.0)
            .execute(&mut *tx)
            .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound(Missing::Citizen));
        }
        let rows = sqlx::query(
            "UPDATE sessions SET revoked_at = $1 \
             WHERE account_id = $2 AND revoked_at IS NULL RETURNING token_hash",
        )
        .bind(now_ms)
        .bind(account.0)
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
        let mut tx = self.pool.begin().await?;
        // The towers' rows are locked (in id order) before they are counted, so two
        // towers removing each other at once cannot leave the city with none.
        let towers: Vec<Uuid> = sqlx::query_scalar(
            "SELECT id FROM accounts WHERE standing = 'tower' ORDER BY id FOR UPDATE",
        )
        .fetch_all(&mut *tx)
        .await?;
        let standing: Option<String> =
            sqlx::query_scalar(AssertSqlSafe(format!("{} FOR UPDATE", remove::STANDING)))
                .bind(account.0)
                .fetch_optional(&mut *tx)
                .await?;
        let standing = standing.ok_or(StoreError::NotFound(Missing::Citizen))?;
        if standing == "tower" && towers.len() <= 1 {
            return Err(Conflict::LastTower.into());
        }
        let sessions = sqlx::query_scalar(remove::LIVE_SESSIONS)
            .bind(account.0)
            .fetch_all(&mut *tx)
            .await?;
        let images: Vec<Uuid> = sqlx::query_scalar(AssertSqlSafe(remove::images()))
            .bind(account.0)
            .fetch_all(&mut *tx)
            .await?;
        let photos: Vec<Uuid> = sqlx::query_scalar(remove::PHOTOS)
            .bind(account.0)
            .fetch_all(&mut *tx)
            .await?;
        let hashes: Vec<String> = sqlx::query_scalar(AssertSqlSafe(remove::parcels()))
            .bind(account.0)
            .fetch_all(&mut *tx)
            .await?;
        for template in remove::REMOVE {
            sqlx::query(AssertSqlSafe(remove::statement(template)))
                .bind(account.0)
                .execute(&mut *tx)
                .await?;
        }
        // The files of pictures and journal photos, and parcels no one names any more,
        // are rows here: they go in the same transaction.
        for (dir, id) in images
            .iter()
            .map(|id| ("images", id))
            .chain(photos.iter().map(|id| ("memories", id)))
        {
            sqlx::query("DELETE FROM files WHERE starts_with(name, $1)")
                .bind(format!("{dir}/{id}/"))
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
                sqlx::query("DELETE FROM parcel_blobs WHERE hash = $1")
                    .bind(&hash)
                    .execute(&mut *tx)
                    .await?;
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
            "INSERT INTO invites (code, account_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(code)
        .bind(account.0)
        .bind(now_ms)
        .bind(expires_ms)
        .execute(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        let maker: Uuid = sqlx::query_scalar("SELECT account_id FROM invites WHERE code = $1")
            .bind(code)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound(Missing::Invite))?;
        // Lock both people first, in id order, then the code: two acceptances that involve
        // one person (two codes of one inviter, on two nodes) take turns instead of
        // deadlocking, and the second finds the first's work committed.
        let mut people = [maker, acceptor.0];
        people.sort();
        sqlx::query("SELECT 1 FROM accounts WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE")
            .bind(&people[..])
            .fetch_all(&mut *tx)
            .await?;
        let invite =
            sqlx::query("SELECT account_id, expires_at FROM invites WHERE code = $1 FOR UPDATE")
                .bind(code)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound(Missing::Invite))?;
        let inviter = AccountId(invite.try_get("account_id")?);
        let expires_at: i64 = invite.try_get("expires_at")?;
        usable_invite(inviter, expires_at, acceptor, now_ms)?;
        let id = Self::form_bond(&mut tx, inviter, acceptor, profile, open_tiers, now_ms).await?;
        let bond = Self::bond_by_id(&mut tx, id.0)
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
             WHERE m.account_id = $1",
        )
        .bind(account.0)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| from_row::bond(&r)).transpose()
    }

    async fn set_open_tiers(&self, open: &[(BondId, TierSet)]) -> StoreResult<()> {
        if open.is_empty() {
            return Ok(());
        }
        let mut sorted = open.to_vec();
        sorted.sort_by_key(|(bond, _)| *bond);
        let (ids, bits): (Vec<Uuid>, Vec<i32>) = sorted
            .iter()
            .map(|(bond, set)| (bond.0, i32::from(set.bits())))
            .unzip();
        // One statement for the whole batch; rows are visited in id order.
        sqlx::query(
            "UPDATE bonds SET open_tiers = v.bits \
             FROM UNNEST($1::uuid[], $2::int[]) AS v(id, bits) WHERE bonds.id = v.id",
        )
        .bind(&ids)
        .bind(&bits)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn end_bond(&self, bond: BondId, now_ms: i64) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let res = sqlx::query("UPDATE bonds SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL")
            .bind(now_ms)
            .bind(bond.0)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM bond_members WHERE bond_id = $1")
            .bind(bond.0)
            .execute(&mut *tx)
            .await?;
        // A private bond's sealed positions are of no use once it ends.
        sqlx::query("DELETE FROM sealed_fixes WHERE bond_id = $1")
            .bind(bond.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(res.rows_affected() == 1)
    }

    async fn save_positions(&self, batch: &[(AccountId, PositionRecord)]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        save_positions_in(&mut tx, batch, &[]).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn position(&self, account: AccountId) -> StoreResult<Option<PositionRecord>> {
        let row = sqlx::query("SELECT * FROM positions WHERE account_id = $1")
            .bind(account.0)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| from_row::position(&r)).transpose()
    }

    async fn append_messages(&self, batch: Vec<NewMessage>) -> StoreResult<Vec<Appended>> {
        let mut tx = self.pool.begin().await?;
        let mut bonds: Vec<Uuid> = batch.iter().map(|m| m.bond.0).collect();
        bonds.sort();
        bonds.dedup();
        // Hold every bond of the batch, in id order, until commit: seq order is then commit
        // order within each bond, whichever node appends.
        sqlx::query("SELECT 1 FROM bonds WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE")
            .bind(&bonds)
            .fetch_all(&mut *tx)
            .await?;
        // Under the locks, each bond's newest message: every new one names the one before
        // it (one index probe per bond, `messages_by_bond`).
        let mut newest: HashMap<Uuid, i64> = sqlx::query_as(
            "SELECT b, COALESCE((SELECT MAX(seq) FROM messages WHERE bond_id = b), 0) \
             FROM unnest($1::uuid[]) AS b",
        )
        .bind(&bonds)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        let mut results = Vec::with_capacity(batch.len());
        for m in batch {
            let appended = match append_in(&mut tx, &m).await? {
                Appended::New(record, _) => {
                    let before = newest.insert(record.bond.0, record.seq);
                    Appended::New(record, before)
                }
                other => other,
            };
            results.push(appended);
        }
        tx.commit().await?;
        Ok(results)
    }

    async fn message_by_client_id(
        &self,
        sender: AccountId,
        client_id: &str,
    ) -> StoreResult<Option<MessageRecord>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE sender_id = $1 AND client_id = $2"
        )))
        .bind(sender.0)
        .bind(client_id)
        .fetch_optional(&self.pool)
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
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE bond_id = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3"
        )))
        .bind(bond.0)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row::message).collect()
    }

    async fn raised_alarms(&self, bond: BondId) -> StoreResult<Vec<MessageRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE bond_id = $1 AND kind = 'alarm' \
             AND acknowledged_at IS NULL ORDER BY seq"
        )))
        .bind(bond.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row::message).collect()
    }

    async fn last_seq(&self, bond: BondId) -> StoreResult<i64> {
        let seq: Option<i64> =
            sqlx::query_scalar("SELECT MAX(seq) FROM messages WHERE bond_id = $1")
                .bind(bond.0)
                .fetch_one(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages \
             WHERE bond_id = $1 AND seq = $2 AND kind = 'alarm' FOR UPDATE"
        )))
        .bind(bond.0)
        .bind(seq)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound(Missing::Alarm))?;
        let mut alarm = from_row::message(&row)?;
        if acknowledge(&mut alarm, by, now_ms)? {
            sqlx::query("UPDATE messages SET acknowledged_at = $1 WHERE seq = $2")
                .bind(now_ms)
                .bind(seq)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(alarm)
    }

    async fn healthy(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    async fn set_delivered(&self, account: AccountId, seq: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE accounts SET delivered_seq = GREATEST(delivered_seq, $1) WHERE id = $2",
        )
        .bind(seq)
        .bind(account.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
