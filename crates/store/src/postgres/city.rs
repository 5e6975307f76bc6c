//! [`CityStore`] for PostgreSQL: the reads, and the statements the city's rules
//! (`city/rules.rs`) run on a transaction. Where SQLite's single writer serialises
//! everything, here several nodes write at once, so the rules' locks are real and held
//! until commit: arrivals take an advisory lock (one first account), per-citizen limits
//! lock the citizen's row, an application and a summons are locked before they are
//! answered, and a letter's move is one conditional `UPDATE`.

use haurach_proto::{Decision, Standing, SummonState};
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::{AssertSqlSafe, Executor, Postgres as Db, Transaction};

use super::Postgres;
use crate::city::rules::{self, Answer, Calling, CityTx, Entry, Posted, SummonsMove};
use crate::city::{
    ArrivalRecord, CityStore, LetterBox, LetterId, LetterLimits, LetterMove, LetterRecord,
    NewArrival, NewLetter, ParcelRecord, Sent, SummonsId, SummonsRecord,
};
use crate::error::unique_or;
use crate::from_row::{self, ARRIVAL_SELECT, Columns as _, LETTER_SELECT, SUMMONS_SELECT, WAITING};
use crate::{AccountId, Conflict, StoreResult};

/// The advisory lock arrivals take turns on ("gate" in ASCII).
const ARRIVALS_LOCK: i64 = 0x6761_7465;

/// A letter's parcels, in order.
async fn parcels<'e>(
    exec: impl Executor<'e, Database = Db>,
    letter: LetterId,
) -> StoreResult<Vec<ParcelRecord>> {
    let rows = sqlx::query(
        "SELECT name, hash, size FROM letter_parcels WHERE letter_id = $1 ORDER BY idx",
    )
    .bind(letter.0)
    .fetch_all(exec)
    .await?;
    rows.iter().map(from_row::parcel).collect()
}

/// Letters from their rows (of [`LETTER_SELECT`]), each with its parcels.
async fn with_parcels(conn: &mut PgConnection, rows: Vec<PgRow>) -> StoreResult<Vec<LetterRecord>> {
    let mut letters = rows
        .iter()
        .map(from_row::letter)
        .collect::<StoreResult<Vec<_>>>()?;
    for letter in &mut letters {
        letter.parcels = parcels(&mut *conn, letter.id).await?;
    }
    Ok(letters)
}

impl CityTx for Transaction<'_, Db> {
    async fn commit(self) -> StoreResult<()> {
        Ok(Transaction::commit(self).await?)
    }

    async fn lock_arrivals(&mut self) -> StoreResult<()> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(ARRIVALS_LOCK)
            .execute(&mut **self)
            .await?;
        Ok(())
    }

    async fn lock_account(&mut self, account: AccountId) -> StoreResult<()> {
        sqlx::query("SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE")
            .bind(account.0)
            .execute(&mut **self)
            .await?;
        Ok(())
    }

    async fn lock_summons(&mut self, id: SummonsId) -> StoreResult<()> {
        sqlx::query("SELECT 1 FROM summons WHERE id = $1 FOR UPDATE")
            .bind(id.0)
            .execute(&mut **self)
            .await?;
        Ok(())
    }

    async fn has_accounts(&mut self) -> StoreResult<bool> {
        let any: Option<i64> = sqlx::query_scalar("SELECT 1::BIGINT FROM accounts LIMIT 1")
            .fetch_optional(&mut **self)
            .await?;
        Ok(any.is_some())
    }

    async fn account_by_name(&mut self, name: &str) -> StoreResult<Option<(AccountId, Standing)>> {
        let row = sqlx::query("SELECT id, standing FROM accounts WHERE name_key = $1")
            .bind(name.to_lowercase())
            .fetch_optional(&mut **self)
            .await?;
        row.map(|r| Ok((AccountId(r.id("id")?), from_row::standing(&r)?)))
            .transpose()
    }

    async fn insert_entry(&mut self, e: &Entry<'_>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO accounts (id, name, name_key, password_hash, created_at, standing) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(e.id.0)
        .bind(e.name)
        .bind(e.name.to_lowercase())
        .bind(e.password_hash)
        .bind(e.now_ms)
        .bind(e.standing.key())
        .execute(&mut **self)
        .await
        .map_err(|err| unique_or(err, Conflict::NameTaken))?;
        sqlx::query(
            "INSERT INTO arrivals (account_id, way, given_name, family_name, from_place, age, \
             calling, note, invited_by, arrived_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(e.id.0)
        .bind(e.way)
        .bind(&e.book.name)
        .bind(&e.book.family_name)
        .bind(&e.book.from)
        .bind(e.book.age.map(|a| a as i32))
        .bind(&e.book.calling)
        .bind(&e.book.note)
        .bind(e.invited_by.map(|a| a.0))
        .bind(e.now_ms)
        .execute(&mut **self)
        .await?;
        Ok(())
    }

    async fn arrival(&mut self, account: AccountId) -> StoreResult<ArrivalRecord> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "{ARRIVAL_SELECT} WHERE r.account_id = $1"
        )))
        .bind(account.0)
        .fetch_one(&mut **self)
        .await?;
        from_row::arrival(&row)
    }

    async fn unused_gate_invite(&mut self, code: &str) -> StoreResult<Option<(AccountId, i64)>> {
        let row = sqlx::query(
            "SELECT made_by, expires_at FROM gate_invites WHERE code = $1 AND used_by IS NULL",
        )
        .bind(code)
        .fetch_optional(&mut **self)
        .await?;
        row.map(|r| Ok((AccountId(r.id("made_by")?), r.get("expires_at")?)))
            .transpose()
    }

    async fn use_gate_invite(&mut self, code: &str, by: AccountId, now_ms: i64) -> StoreResult<()> {
        sqlx::query("UPDATE gate_invites SET used_by = $1, used_at = $2 WHERE code = $3")
            .bind(by.0)
            .bind(now_ms)
            .bind(code)
            .execute(&mut **self)
            .await?;
        Ok(())
    }

    async fn application(
        &mut self,
        name: &str,
    ) -> StoreResult<Option<(AccountId, Option<Decision>)>> {
        let row = sqlx::query(
            "SELECT a.id, r.decision FROM accounts a JOIN arrivals r ON r.account_id = a.id \
             WHERE a.name_key = $1 AND r.way = 'application' FOR UPDATE OF r",
        )
        .bind(name.to_lowercase())
        .fetch_optional(&mut **self)
        .await?;
        row.map(|r| Ok((AccountId(r.id("id")?), from_row::decision(&r)?)))
            .transpose()
    }

    async fn record_decision(&mut self, a: &Answer<'_>) -> StoreResult<()> {
        sqlx::query(
            "UPDATE arrivals SET decision = $1, answer = $2, decided_by = $3, decided_at = $4 \
             WHERE account_id = $5",
        )
        .bind(a.decision.key())
        .bind(a.answer)
        .bind(a.by.0)
        .bind(a.now_ms)
        .bind(a.account.0)
        .execute(&mut **self)
        .await?;
        sqlx::query("UPDATE accounts SET standing = $1 WHERE id = $2")
            .bind(a.standing.key())
            .bind(a.account.0)
            .execute(&mut **self)
            .await?;
        Ok(())
    }

    async fn upload_size(&mut self, account: AccountId, hash: &str) -> StoreResult<Option<u64>> {
        let size: Option<i64> = sqlx::query_scalar(
            "SELECT size FROM parcel_uploads WHERE account_id = $1 AND hash = $2",
        )
        .bind(account.0)
        .bind(hash)
        .fetch_optional(&mut **self)
        .await?;
        Ok(size.map(|s| s as u64))
    }

    async fn uploaded_bytes(&mut self, account: AccountId) -> StoreResult<u64> {
        uploaded_bytes(&mut **self, account).await
    }

    async fn insert_upload(
        &mut self,
        account: AccountId,
        hash: &str,
        size: u64,
        now_ms: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO parcel_uploads (account_id, hash, size, uploaded_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(account.0)
        .bind(hash)
        .bind(size as i64)
        .bind(now_ms)
        .execute(&mut **self)
        .await?;
        Ok(())
    }

    async fn letter(&mut self, id: LetterId) -> StoreResult<Option<LetterRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!("{LETTER_SELECT} WHERE l.id = $1")))
            .bind(id.0)
            .fetch_optional(&mut **self)
            .await?;
        Ok(with_parcels(self, row.into_iter().collect()).await?.pop())
    }

    async fn letter_by_client_id(
        &mut self,
        sender: AccountId,
        client_id: &str,
    ) -> StoreResult<Option<LetterRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "{LETTER_SELECT} WHERE l.sender_id = $1 AND l.client_id = $2"
        )))
        .bind(sender.0)
        .bind(client_id)
        .fetch_optional(&mut **self)
        .await?;
        Ok(with_parcels(self, row.into_iter().collect()).await?.pop())
    }

    async fn letters_sent_since(&mut self, sender: AccountId, since_ms: i64) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM letters WHERE sender_id = $1 AND sent_at > $2",
        )
        .bind(sender.0)
        .bind(since_ms)
        .fetch_one(&mut **self)
        .await?;
        Ok(n as u64)
    }

    async fn insert_letter(&mut self, l: &Posted<'_>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO letters (id, sender_id, recipient_id, holder_id, client_id, thread_id, \
             in_reply_to, body, state, sent_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'unread', $9)",
        )
        .bind(l.id.0)
        .bind(l.sender.0)
        .bind(l.recipient.0)
        .bind(l.recipient.0)
        .bind(l.client_id)
        .bind(l.thread.0)
        .bind(l.in_reply_to.map(|p| p.0))
        .bind(l.body)
        .bind(l.now_ms)
        .execute(&mut **self)
        .await?;
        for (idx, p) in l.parcels.iter().enumerate() {
            sqlx::query(
                "INSERT INTO letter_parcels (letter_id, idx, name, hash, size) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(l.id.0)
            .bind(idx as i64)
            .bind(&p.name)
            .bind(&p.hash)
            .bind(p.size as i64)
            .execute(&mut **self)
            .await?;
        }
        Ok(())
    }

    async fn mark_delivered(
        &mut self,
        id: LetterId,
        recipient: AccountId,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let res = sqlx::query(
            "UPDATE letters SET delivered_at = $1 WHERE id = $2 AND recipient_id = $3 \
             AND holder_id = recipient_id AND delivered_at IS NULL",
        )
        .bind(now_ms)
        .bind(id.0)
        .bind(recipient.0)
        .execute(&mut **self)
        .await?;
        Ok(res.rows_affected() == 1)
    }

    async fn move_letter(
        &mut self,
        id: LetterId,
        recipient: AccountId,
        how: LetterMove,
        now_ms: i64,
    ) -> StoreResult<bool> {
        // Of two racing moves the second waits for the first's row lock, then reads the
        // row again, finds the state changed and updates nothing.
        let sql = match how {
            LetterMove::Read => {
                "UPDATE letters SET state = 'read', read_at = $1, \
                 delivered_at = COALESCE(delivered_at, $1) \
                 WHERE id = $2 AND holder_id = $3 AND recipient_id = $3 AND state = 'unread'"
            }
            LetterMove::Return => {
                "UPDATE letters SET state = 'returned', returned_at = $1, holder_id = sender_id \
                 WHERE id = $2 AND holder_id = $3 AND recipient_id = $3 AND state = 'unread'"
            }
        };
        let res = sqlx::query(sql)
            .bind(now_ms)
            .bind(id.0)
            .bind(recipient.0)
            .execute(&mut **self)
            .await?;
        Ok(res.rows_affected() == 1)
    }

    async fn set_summon_permission(
        &mut self,
        grantor: AccountId,
        grantee: AccountId,
        allowed: bool,
        now_ms: i64,
    ) -> StoreResult<()> {
        if allowed {
            sqlx::query(
                "INSERT INTO summon_permissions (grantor_id, grantee_id, created_at) \
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(grantor.0)
            .bind(grantee.0)
            .bind(now_ms)
            .execute(&mut **self)
            .await?;
        } else {
            sqlx::query("DELETE FROM summon_permissions WHERE grantor_id = $1 AND grantee_id = $2")
                .bind(grantor.0)
                .bind(grantee.0)
                .execute(&mut **self)
                .await?;
        }
        Ok(())
    }

    async fn may_summon(&mut self, summoner: AccountId, summoned: AccountId) -> StoreResult<bool> {
        let allowed: Option<i64> = sqlx::query_scalar(
            "SELECT 1::BIGINT FROM summon_permissions WHERE grantor_id = $1 AND grantee_id = $2",
        )
        .bind(summoned.0)
        .bind(summoner.0)
        .fetch_optional(&mut **self)
        .await?;
        Ok(allowed.is_some())
    }

    async fn summons_open(
        &mut self,
        summoner: AccountId,
        summoned: AccountId,
    ) -> StoreResult<bool> {
        let open: Option<i64> = sqlx::query_scalar(
            "SELECT 1::BIGINT FROM summons WHERE summoned_id = $1 AND summoner_id = $2 \
             AND state IN ('calling', 'accepted')",
        )
        .bind(summoned.0)
        .bind(summoner.0)
        .fetch_optional(&mut **self)
        .await?;
        Ok(open.is_some())
    }

    async fn insert_summons(&mut self, s: &Calling) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO summons (id, summoner_id, summoned_id, state, lat, lon, accuracy_m, \
             created_at) VALUES ($1, $2, $3, 'calling', $4, $5, $6, $7)",
        )
        .bind(s.id.0)
        .bind(s.summoner.0)
        .bind(s.summoned.0)
        .bind(s.lat)
        .bind(s.lon)
        .bind(s.accuracy_m)
        .bind(s.now_ms)
        .execute(&mut **self)
        .await?;
        Ok(())
    }

    async fn summons(&mut self, id: SummonsId) -> StoreResult<Option<SummonsRecord>> {
        sqlx::query(AssertSqlSafe(format!("{SUMMONS_SELECT} WHERE m.id = $1")))
            .bind(id.0)
            .fetch_optional(&mut **self)
            .await?
            .map(|r| from_row::summons(&r))
            .transpose()
    }

    async fn move_summons(&mut self, id: SummonsId, to: &SummonsMove) -> StoreResult<()> {
        sqlx::query(
            "UPDATE summons SET state = $1, answered_at = COALESCE($2, answered_at), \
             ended_at = COALESCE($3, ended_at), ended_by = COALESCE($4, ended_by) WHERE id = $5",
        )
        .bind(to.state.key())
        .bind(to.answered_at)
        .bind(to.ended_at)
        .bind(to.ended_by.map(|a| a.0))
        .bind(id.0)
        .execute(&mut **self)
        .await?;
        Ok(())
    }
}

async fn uploaded_bytes<'e>(
    exec: impl Executor<'e, Database = Db>,
    account: AccountId,
) -> StoreResult<u64> {
    let used: i64 = sqlx::query_scalar(
        "SELECT COALESCE(SUM(size), 0)::BIGINT FROM parcel_uploads WHERE account_id = $1",
    )
    .bind(account.0)
    .fetch_one(exec)
    .await?;
    Ok(used as u64)
}

impl CityStore for Postgres {
    async fn session_standing(
        &self,
        token_hash: &[u8],
    ) -> StoreResult<Option<(AccountId, Standing)>> {
        let row = sqlx::query(
            "SELECT s.account_id, a.standing FROM sessions s JOIN accounts a ON a.id = s.account_id \
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((AccountId(r.id("account_id")?), from_row::standing(&r)?)))
            .transpose()
    }

    async fn is_empty_city(&self) -> StoreResult<bool> {
        let any: Option<i64> = sqlx::query_scalar("SELECT 1::BIGINT FROM accounts LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(any.is_none())
    }

    async fn arrive(&self, arrival: NewArrival) -> StoreResult<ArrivalRecord> {
        rules::arrive(self.pool.begin().await?, arrival).await
    }

    async fn create_tower(
        &self,
        name: &str,
        password_hash: &str,
        now_ms: i64,
    ) -> StoreResult<ArrivalRecord> {
        rules::create_tower(self.pool.begin().await?, name, password_hash, now_ms).await
    }

    async fn towers(&self) -> StoreResult<Vec<AccountId>> {
        let rows = sqlx::query("SELECT id FROM accounts WHERE standing = 'tower'")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(AccountId(r.id("id")?))).collect()
    }

    async fn arrival(&self, account: AccountId) -> StoreResult<Option<ArrivalRecord>> {
        sqlx::query(AssertSqlSafe(format!(
            "{ARRIVAL_SELECT} WHERE r.account_id = $1"
        )))
        .bind(account.0)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| from_row::arrival(&r))
        .transpose()
    }

    async fn register(&self, waiting: bool) -> StoreResult<Vec<ArrivalRecord>> {
        let filter = if waiting {
            format!(" WHERE {WAITING}")
        } else {
            String::new()
        };
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{ARRIVAL_SELECT}{filter} ORDER BY r.arrived_at, a.id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row::arrival).collect()
    }

    async fn decide(
        &self,
        name: &str,
        decision: Decision,
        answer: &str,
        by: AccountId,
        now_ms: i64,
    ) -> StoreResult<ArrivalRecord> {
        rules::decide(self.pool.begin().await?, name, decision, answer, by, now_ms).await
    }

    async fn create_gate_invite(
        &self,
        code: &str,
        by: AccountId,
        now_ms: i64,
        expires_ms: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO gate_invites (code, made_by, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(code)
        .bind(by.0)
        .bind(now_ms)
        .bind(expires_ms)
        .execute(&self.pool)
        .await
        .map_err(|err| unique_or(err, Conflict::InviteCodeTaken))?;
        Ok(())
    }

    async fn record_upload(
        &self,
        account: AccountId,
        hash: &str,
        size: u64,
        quota: u64,
        now_ms: i64,
    ) -> StoreResult<u64> {
        rules::record_upload(self.pool.begin().await?, account, hash, size, quota, now_ms).await
    }

    async fn accepted_summonses(&self) -> StoreResult<Vec<SummonsRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{SUMMONS_SELECT} WHERE m.state = 'accepted' ORDER BY m.created_at"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row::summons).collect()
    }

    async fn uploaded_bytes(&self, account: AccountId) -> StoreResult<u64> {
        uploaded_bytes(&self.pool, account).await
    }

    async fn send_letter(&self, letter: NewLetter, limits: LetterLimits) -> StoreResult<Sent> {
        rules::send_letter(self.pool.begin().await?, letter, limits).await
    }

    async fn letter(&self, id: LetterId, account: AccountId) -> StoreResult<Option<LetterRecord>> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{LETTER_SELECT} WHERE l.id = $1 AND (l.sender_id = $2 OR l.recipient_id = $3)"
        )))
        .bind(id.0)
        .bind(account.0)
        .bind(account.0)
        .fetch_all(&mut *conn)
        .await?;
        Ok(with_parcels(&mut conn, rows).await?.pop())
    }

    async fn letters(
        &self,
        account: AccountId,
        which: LetterBox,
        limit: u32,
        before: Option<LetterId>,
    ) -> StoreResult<Vec<LetterRecord>> {
        let column = from_row::box_column(which);
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{LETTER_SELECT} WHERE {column} = $1 AND ($3::uuid IS NULL OR (l.sent_at, l.id) < \
             (SELECT sent_at, id FROM letters WHERE id = $3)) \
             ORDER BY l.sent_at DESC, l.id DESC LIMIT $2"
        )))
        .bind(account.0)
        .bind(i64::from(limit))
        .bind(before.map(|b| b.0))
        .fetch_all(&mut *conn)
        .await?;
        with_parcels(&mut conn, rows).await
    }

    async fn thread(&self, thread: LetterId, account: AccountId) -> StoreResult<Vec<LetterRecord>> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{LETTER_SELECT} WHERE l.thread_id = $1 AND (l.sender_id = $2 OR l.recipient_id = $3) \
             ORDER BY l.sent_at, l.id"
        )))
        .bind(thread.0)
        .bind(account.0)
        .bind(account.0)
        .fetch_all(&mut *conn)
        .await?;
        with_parcels(&mut conn, rows).await
    }

    async fn mark_delivered(
        &self,
        account: AccountId,
        ids: &[LetterId],
        now_ms: i64,
    ) -> StoreResult<Vec<LetterRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        rules::mark_delivered(self.pool.begin().await?, account, ids, now_ms).await
    }

    async fn move_letter(
        &self,
        id: LetterId,
        account: AccountId,
        how: LetterMove,
        now_ms: i64,
    ) -> StoreResult<LetterRecord> {
        rules::move_letter(self.pool.begin().await?, id, account, how, now_ms).await
    }

    async fn set_summon_permission(
        &self,
        grantor: AccountId,
        grantee: &str,
        allowed: bool,
        now_ms: i64,
    ) -> StoreResult<()> {
        rules::set_summon_permission(self.pool.begin().await?, grantor, grantee, allowed, now_ms)
            .await
    }

    async fn summon_permissions(&self, grantor: AccountId) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT a.name FROM summon_permissions p JOIN accounts a ON a.id = p.grantee_id \
             WHERE p.grantor_id = $1 ORDER BY a.name_key",
        )
        .bind(grantor.0)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn summon(
        &self,
        summoner: AccountId,
        to: &str,
        lat: f64,
        lon: f64,
        accuracy_m: f64,
        now_ms: i64,
    ) -> StoreResult<SummonsRecord> {
        let tx = self.pool.begin().await?;
        rules::summon(tx, summoner, to, lat, lon, accuracy_m, now_ms).await
    }

    async fn summons(
        &self,
        id: SummonsId,
        account: AccountId,
    ) -> StoreResult<Option<SummonsRecord>> {
        sqlx::query(AssertSqlSafe(format!(
            "{SUMMONS_SELECT} WHERE m.id = $1 AND (m.summoner_id = $2 OR m.summoned_id = $3)"
        )))
        .bind(id.0)
        .bind(account.0)
        .bind(account.0)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| from_row::summons(&r))
        .transpose()
    }

    async fn open_summonses(&self, account: AccountId) -> StoreResult<Vec<SummonsRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{SUMMONS_SELECT} WHERE (m.summoner_id = $1 OR m.summoned_id = $2) \
             AND m.state IN ('calling', 'accepted') ORDER BY m.created_at"
        )))
        .bind(account.0)
        .bind(account.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row::summons).collect()
    }

    async fn answer_summons(
        &self,
        id: SummonsId,
        account: AccountId,
        to: SummonState,
        now_ms: i64,
    ) -> StoreResult<SummonsRecord> {
        rules::answer_summons(self.pool.begin().await?, id, account, to, now_ms).await
    }
}
