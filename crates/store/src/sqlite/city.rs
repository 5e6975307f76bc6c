//! [`CityStore`] for SQLite: the gate, letters and summonses.

use haurach_proto::{Decision, GateBook, GateMode, Standing, SummonState};
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row, Sqlite as Db, Transaction};
use uuid::Uuid;

use super::{Sqlite, is_unique_violation};
use crate::city::{
    ArrivalRecord, CityStore, LetterBox, LetterId, LetterLimits, LetterMove, LetterRecord,
    NewArrival, NewLetter, Sent, SummonsId, SummonsRecord,
};
use crate::from_row::{self, ARRIVAL_SELECT, Columns as _, LETTER_SELECT, SUMMONS_SELECT};
use crate::{AccountId, Conflict, Missing, StoreError, StoreResult};

const DAY_MS: i64 = 24 * 3600 * 1000;

/// Letters from their rows, each with its parcels read on `exec`.
async fn load_letters<'e, E>(exec: E, rows: Vec<SqliteRow>) -> StoreResult<Vec<LetterRecord>>
where
    E: sqlx::Executor<'e, Database = Db> + Copy,
{
    let mut letters = rows
        .iter()
        .map(from_row::letter)
        .collect::<StoreResult<Vec<_>>>()?;
    for letter in &mut letters {
        let parcels = sqlx::query(
            "SELECT name, hash, size FROM letter_parcels WHERE letter_id = ? ORDER BY idx",
        )
        .bind(letter.id.0.to_string())
        .fetch_all(exec)
        .await?;
        letter.parcels = parcels
            .iter()
            .map(from_row::parcel)
            .collect::<StoreResult<_>>()?;
    }
    Ok(letters)
}

async fn letter_in(
    tx: &mut Transaction<'static, Db>,
    id: LetterId,
) -> StoreResult<Option<LetterRecord>> {
    let row = sqlx::query(AssertSqlSafe(format!("{LETTER_SELECT} WHERE l.id = ?")))
        .bind(id.0.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut letter = from_row::letter(&row)?;
    let parcels =
        sqlx::query("SELECT name, hash, size FROM letter_parcels WHERE letter_id = ? ORDER BY idx")
            .bind(id.0.to_string())
            .fetch_all(&mut **tx)
            .await?;
    letter.parcels = parcels
        .iter()
        .map(from_row::parcel)
        .collect::<StoreResult<_>>()?;
    Ok(Some(letter))
}

async fn arrival_in(
    tx: &mut Transaction<'static, Db>,
    account: AccountId,
) -> StoreResult<ArrivalRecord> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "{ARRIVAL_SELECT} WHERE r.account_id = ?"
    )))
    .bind(account.0.to_string())
    .fetch_one(&mut **tx)
    .await?;
    from_row::arrival(&row)
}

async fn summons_in(
    tx: &mut Transaction<'static, Db>,
    id: SummonsId,
) -> StoreResult<Option<SummonsRecord>> {
    sqlx::query(AssertSqlSafe(format!("{SUMMONS_SELECT} WHERE m.id = ?")))
        .bind(id.0.to_string())
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| from_row::summons(&r))
        .transpose()
}

async fn account_id_by_name(
    tx: &mut Transaction<'static, Db>,
    name: &str,
) -> StoreResult<Option<(AccountId, Standing)>> {
    let row = sqlx::query("SELECT id, standing FROM accounts WHERE name_key = ?")
        .bind(name.to_lowercase())
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| Ok((AccountId(r.id("id")?), from_row::standing(&r)?)))
        .transpose()
}

/// Inserts an account and its page of the book inside `tx`.
#[allow(clippy::too_many_arguments)]
async fn insert_arrival(
    tx: &mut Transaction<'static, Db>,
    name: &str,
    password_hash: &str,
    standing: Standing,
    way: &str,
    book: &GateBook,
    invited_by: Option<AccountId>,
    now_ms: i64,
) -> StoreResult<AccountId> {
    let id = AccountId::new();
    let res = sqlx::query(
        "INSERT INTO accounts (id, name, name_key, password_hash, created_at, standing) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(id.0.to_string())
    .bind(name)
    .bind(name.to_lowercase())
    .bind(password_hash)
    .bind(now_ms)
    .bind(standing.key())
    .execute(&mut **tx)
    .await;
    match res {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => return Err(StoreError::Conflict(Conflict::NameTaken)),
        Err(e) => return Err(e.into()),
    }
    sqlx::query(
        "INSERT INTO arrivals (account_id, way, given_name, family_name, from_place, age, \
         calling, note, invited_by, arrived_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id.0.to_string())
    .bind(way)
    .bind(&book.name)
    .bind(&book.family_name)
    .bind(&book.from)
    .bind(book.age.map(i64::from))
    .bind(&book.calling)
    .bind(&book.note)
    .bind(invited_by.map(|a| a.0.to_string()))
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

impl CityStore for Sqlite {
    async fn session_standing(
        &self,
        token_hash: &[u8],
    ) -> StoreResult<Option<(AccountId, Standing)>> {
        let row = sqlx::query(
            "SELECT s.account_id, a.standing FROM sessions s JOIN accounts a ON a.id = s.account_id \
             WHERE s.token_hash = ? AND s.revoked_at IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| Ok((AccountId(r.id("account_id")?), from_row::standing(&r)?)))
            .transpose()
    }

    async fn is_empty_city(&self) -> StoreResult<bool> {
        let any: Option<i64> = sqlx::query_scalar("SELECT 1 FROM accounts LIMIT 1")
            .fetch_optional(&self.reader)
            .await?;
        Ok(any.is_none())
    }

    async fn arrive(&self, a: NewArrival) -> StoreResult<ArrivalRecord> {
        let mut tx = self.begin().await?;
        let first: Option<i64> = sqlx::query_scalar("SELECT 1 FROM accounts LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
        let mut invited_by = None;
        let (standing, way) = if first.is_none() {
            (Standing::Tower, "first")
        } else {
            match a.mode {
                GateMode::Open => (Standing::Citizen, "open"),
                GateMode::Application => (Standing::Applicant, "application"),
                GateMode::Invite => {
                    let code = a
                        .invite
                        .as_deref()
                        .ok_or(StoreError::Conflict(Conflict::InviteRequired))?;
                    let row = sqlx::query(
                        "SELECT made_by, expires_at FROM gate_invites WHERE code = ? AND used_by IS NULL",
                    )
                    .bind(code)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::NotFound(Missing::GateInvite))?;
                    let expires_at: i64 = row.try_get("expires_at")?;
                    if expires_at <= a.now_ms {
                        return Err(StoreError::NotFound(Missing::GateInviteExpired));
                    }
                    invited_by = Some(AccountId(row.id("made_by")?));
                    (Standing::Citizen, "invite")
                }
            }
        };
        let id = insert_arrival(
            &mut tx,
            &a.name,
            &a.password_hash,
            standing,
            way,
            &a.book,
            invited_by,
            a.now_ms,
        )
        .await?;
        if invited_by.is_some() {
            sqlx::query("UPDATE gate_invites SET used_by = ?, used_at = ? WHERE code = ?")
                .bind(id.0.to_string())
                .bind(a.now_ms)
                .bind(a.invite.as_deref())
                .execute(&mut *tx)
                .await?;
        }
        let arrival = arrival_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(arrival)
    }

    async fn create_tower(
        &self,
        name: &str,
        password_hash: &str,
        now_ms: i64,
    ) -> StoreResult<ArrivalRecord> {
        let mut tx = self.begin().await?;
        let id = insert_arrival(
            &mut tx,
            name,
            password_hash,
            Standing::Tower,
            "admin",
            &GateBook::default(),
            None,
            now_ms,
        )
        .await?;
        let arrival = arrival_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(arrival)
    }

    async fn towers(&self) -> StoreResult<Vec<AccountId>> {
        let rows = sqlx::query("SELECT id FROM accounts WHERE standing = 'tower'")
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(|r| Ok(AccountId(r.id("id")?))).collect()
    }

    async fn arrival(&self, account: AccountId) -> StoreResult<Option<ArrivalRecord>> {
        sqlx::query(AssertSqlSafe(format!(
            "{ARRIVAL_SELECT} WHERE r.account_id = ?"
        )))
        .bind(account.0.to_string())
        .fetch_optional(&self.reader)
        .await?
        .map(|r| from_row::arrival(&r))
        .transpose()
    }

    async fn register(&self, waiting: bool) -> StoreResult<Vec<ArrivalRecord>> {
        let filter = if waiting {
            " WHERE r.decision IS NULL AND a.standing = 'applicant'"
        } else {
            ""
        };
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{ARRIVAL_SELECT}{filter} ORDER BY r.arrived_at, a.id"
        )))
        .fetch_all(&self.reader)
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
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "SELECT a.id, r.decision FROM accounts a JOIN arrivals r ON r.account_id = a.id \
             WHERE a.name_key = ? AND r.way = 'application'",
        )
        .bind(name.to_lowercase())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound(Missing::Applicant))?;
        let id = AccountId(row.id("id")?);
        let decided: Option<String> = row.try_get("decision")?;
        if decided.is_some() {
            return Err(StoreError::Conflict(Conflict::AlreadyDecided));
        }
        sqlx::query(
            "UPDATE arrivals SET decision = ?, answer = ?, decided_by = ?, decided_at = ? \
             WHERE account_id = ?",
        )
        .bind(decision.key())
        .bind(answer)
        .bind(by.0.to_string())
        .bind(now_ms)
        .bind(id.0.to_string())
        .execute(&mut *tx)
        .await?;
        let standing = match decision {
            Decision::Approved => Standing::Citizen,
            Decision::Declined => Standing::Declined,
        };
        sqlx::query("UPDATE accounts SET standing = ? WHERE id = ?")
            .bind(standing.key())
            .bind(id.0.to_string())
            .execute(&mut *tx)
            .await?;
        let arrival = arrival_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(arrival)
    }

    async fn create_gate_invite(
        &self,
        code: &str,
        by: AccountId,
        now_ms: i64,
        expires_ms: i64,
    ) -> StoreResult<()> {
        let res = sqlx::query(
            "INSERT INTO gate_invites (code, made_by, created_at, expires_at) VALUES (?, ?, ?, ?)",
        )
        .bind(code)
        .bind(by.0.to_string())
        .bind(now_ms)
        .bind(expires_ms)
        .execute(&self.writer)
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::Conflict(Conflict::InviteCodeTaken))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn record_upload(
        &self,
        account: AccountId,
        hash: &str,
        size: u64,
        quota: u64,
        now_ms: i64,
    ) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let had: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM parcel_uploads WHERE account_id = ? AND hash = ?")
                .bind(account.0.to_string())
                .bind(hash)
                .fetch_optional(&mut *tx)
                .await?;
        let used: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(size), 0) FROM parcel_uploads WHERE account_id = ?",
        )
        .bind(account.0.to_string())
        .fetch_one(&mut *tx)
        .await?;
        if had.is_some() {
            return Ok(used as u64);
        }
        let total = used as u64 + size;
        if total > quota {
            return Err(StoreError::Conflict(Conflict::ParcelQuotaExceeded));
        }
        sqlx::query(
            "INSERT INTO parcel_uploads (account_id, hash, size, uploaded_at) VALUES (?, ?, ?, ?)",
        )
        .bind(account.0.to_string())
        .bind(hash)
        .bind(size as i64)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(total)
    }

    async fn accepted_summonses(&self) -> StoreResult<Vec<SummonsRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{SUMMONS_SELECT} WHERE m.state = 'accepted' ORDER BY m.created_at"
        )))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(from_row::summons).collect()
    }

    async fn uploaded_bytes(&self, account: AccountId) -> StoreResult<u64> {
        let used: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(size), 0) FROM parcel_uploads WHERE account_id = ?",
        )
        .bind(account.0.to_string())
        .fetch_one(&self.reader)
        .await?;
        Ok(used as u64)
    }

    async fn send_letter(&self, l: NewLetter, limits: LetterLimits) -> StoreResult<Sent> {
        let mut tx = self.begin().await?;
        if let Some(client_id) = &l.client_id {
            let row = sqlx::query("SELECT id FROM letters WHERE sender_id = ? AND client_id = ?")
                .bind(l.sender.0.to_string())
                .bind(client_id)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(row) = row {
                let id = LetterId(row.id("id")?);
                let stored = letter_in(&mut tx, id)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt("letter vanished".into()))?;
                let same_to =
                    l.to.as_deref()
                        .is_none_or(|to| to.eq_ignore_ascii_case(&stored.recipient_name));
                let same_parcels = stored.parcels.len() == l.parcels.len()
                    && stored
                        .parcels
                        .iter()
                        .zip(&l.parcels)
                        .all(|(a, b)| a.name == b.name && a.hash == b.hash);
                if stored.body != l.body || !same_parcels || !same_to {
                    return Err(StoreError::Conflict(Conflict::IdReused));
                }
                return Ok(Sent::Existing(stored));
            }
        }
        // A reply goes in the thread of the letter it answers, which the sender must be a
        // party to; with no `to`, it goes to the other party.
        let (thread, reply_to) = match l.in_reply_to {
            Some(parent) => {
                let p = letter_in(&mut tx, parent)
                    .await?
                    .filter(|p| p.sender == l.sender || p.recipient == l.sender)
                    .ok_or(StoreError::NotFound(Missing::Letter))?;
                let other = if p.sender == l.sender {
                    p.recipient_name.clone()
                } else {
                    p.sender_name.clone()
                };
                (Some(p.thread), Some(other))
            }
            None => (None, None),
        };
        let to =
            l.to.clone()
                .or(reply_to)
                .ok_or(StoreError::Conflict(Conflict::RecipientRequired))?;
        let (recipient, standing) = account_id_by_name(&mut tx, &to)
            .await?
            .ok_or(StoreError::NotFound(Missing::Recipient))?;
        if !standing.is_inside() {
            return Err(StoreError::NotFound(Missing::Recipient));
        }
        if recipient == l.sender {
            return Err(StoreError::Conflict(Conflict::OwnLetter));
        }
        let sent_today: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM letters WHERE sender_id = ? AND sent_at > ?")
                .bind(l.sender.0.to_string())
                .bind(l.now_ms - DAY_MS)
                .fetch_one(&mut *tx)
                .await?;
        if sent_today >= i64::from(limits.letters_per_day) {
            return Err(StoreError::Conflict(Conflict::LetterQuotaExceeded));
        }
        // Each parcel must be one the sender uploaded; its size is the upload's.
        let mut parcels = l.parcels.clone();
        let mut total: u64 = 0;
        for p in &mut parcels {
            let size: Option<i64> = sqlx::query_scalar(
                "SELECT size FROM parcel_uploads WHERE account_id = ? AND hash = ?",
            )
            .bind(l.sender.0.to_string())
            .bind(&p.hash)
            .fetch_optional(&mut *tx)
            .await?;
            p.size = size.ok_or(StoreError::NotFound(Missing::Parcel))? as u64;
            total += p.size;
        }
        if total > limits.max_parcel_bytes {
            return Err(StoreError::Conflict(Conflict::ParcelTooLarge));
        }
        let id = LetterId(Uuid::now_v7());
        let thread = thread.unwrap_or(id);
        sqlx::query(
            "INSERT INTO letters (id, sender_id, recipient_id, holder_id, client_id, thread_id, \
             in_reply_to, body, state, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'unread', ?)",
        )
        .bind(id.0.to_string())
        .bind(l.sender.0.to_string())
        .bind(recipient.0.to_string())
        .bind(recipient.0.to_string())
        .bind(&l.client_id)
        .bind(thread.0.to_string())
        .bind(l.in_reply_to.map(|p| p.0.to_string()))
        .bind(&l.body)
        .bind(l.now_ms)
        .execute(&mut *tx)
        .await?;
        for (idx, p) in parcels.iter().enumerate() {
            sqlx::query(
                "INSERT INTO letter_parcels (letter_id, idx, name, hash, size) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(id.0.to_string())
            .bind(idx as i64)
            .bind(&p.name)
            .bind(&p.hash)
            .bind(p.size as i64)
            .execute(&mut *tx)
            .await?;
        }
        let letter = letter_in(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("letter vanished inside its transaction".into()))?;
        tx.commit().await?;
        Ok(Sent::New(letter))
    }

    async fn letter(&self, id: LetterId, account: AccountId) -> StoreResult<Option<LetterRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{LETTER_SELECT} WHERE l.id = ? AND (l.sender_id = ? OR l.recipient_id = ?)"
        )))
        .bind(id.0.to_string())
        .bind(account.0.to_string())
        .bind(account.0.to_string())
        .fetch_all(&self.reader)
        .await?;
        Ok(load_letters(&self.reader, rows).await?.pop())
    }

    async fn letters(
        &self,
        account: AccountId,
        which: LetterBox,
        limit: u32,
    ) -> StoreResult<Vec<LetterRecord>> {
        let column = match which {
            LetterBox::Inbox => "holder_id",
            LetterBox::Sent => "sender_id",
        };
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{LETTER_SELECT} WHERE l.{column} = ? ORDER BY l.sent_at DESC, l.id DESC LIMIT ?"
        )))
        .bind(account.0.to_string())
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        load_letters(&self.reader, rows).await
    }

    async fn thread(&self, thread: LetterId, account: AccountId) -> StoreResult<Vec<LetterRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{LETTER_SELECT} WHERE l.thread_id = ? AND (l.sender_id = ? OR l.recipient_id = ?) \
             ORDER BY l.sent_at, l.id"
        )))
        .bind(thread.0.to_string())
        .bind(account.0.to_string())
        .bind(account.0.to_string())
        .fetch_all(&self.reader)
        .await?;
        load_letters(&self.reader, rows).await
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
        let mut tx = self.begin().await?;
        let mut marked = Vec::new();
        for id in ids {
            let res = sqlx::query(
                "UPDATE letters SET delivered_at = ? WHERE id = ? AND recipient_id = ? \
                 AND holder_id = recipient_id AND delivered_at IS NULL",
            )
            .bind(now_ms)
            .bind(id.0.to_string())
            .bind(account.0.to_string())
            .execute(&mut *tx)
            .await?;
            if res.rows_affected() == 1
                && let Some(letter) = letter_in(&mut tx, *id).await?
            {
                marked.push(letter);
            }
        }
        tx.commit().await?;
        Ok(marked)
    }

    async fn move_letter(
        &self,
        id: LetterId,
        account: AccountId,
        how: LetterMove,
        now_ms: i64,
    ) -> StoreResult<LetterRecord> {
        let mut tx = self.begin().await?;
        // The move is one conditional UPDATE: only a letter still unread in the caller's
        // hands moves. Two racing moves are serialised by SQLite's single writer; the
        // second finds the state changed and updates nothing.
        let sql = match how {
            LetterMove::Read => {
                "UPDATE letters SET state = 'read', read_at = ?1, \
                 delivered_at = COALESCE(delivered_at, ?1) \
                 WHERE id = ?2 AND holder_id = ?3 AND recipient_id = ?3 AND state = 'unread'"
            }
            LetterMove::Return => {
                "UPDATE letters SET state = 'returned', returned_at = ?1, holder_id = sender_id \
                 WHERE id = ?2 AND holder_id = ?3 AND recipient_id = ?3 AND state = 'unread'"
            }
        };
        let res = sqlx::query(sql)
            .bind(now_ms)
            .bind(id.0.to_string())
            .bind(account.0.to_string())
            .execute(&mut *tx)
            .await?;
        let letter = letter_in(&mut tx, id)
            .await?
            .filter(|l| l.sender == account || l.recipient == account)
            .ok_or(StoreError::NotFound(Missing::Letter))?;
        if res.rows_affected() != 1 {
            return Err(StoreError::Conflict(Conflict::LetterMoved));
        }
        tx.commit().await?;
        Ok(letter)
    }

    async fn set_summon_permission(
        &self,
        grantor: AccountId,
        grantee: &str,
        allowed: bool,
        now_ms: i64,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let (grantee, _) = account_id_by_name(&mut tx, grantee)
            .await?
            .ok_or(StoreError::NotFound(Missing::Citizen))?;
        if allowed {
            sqlx::query(
                "INSERT INTO summon_permissions (grantor_id, grantee_id, created_at) \
                 VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            )
            .bind(grantor.0.to_string())
            .bind(grantee.0.to_string())
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        } else {
            sqlx::query("DELETE FROM summon_permissions WHERE grantor_id = ? AND grantee_id = ?")
                .bind(grantor.0.to_string())
                .bind(grantee.0.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn summon_permissions(&self, grantor: AccountId) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT a.name FROM summon_permissions p JOIN accounts a ON a.id = p.grantee_id \
             WHERE p.grantor_id = ? ORDER BY a.name_key",
        )
        .bind(grantor.0.to_string())
        .fetch_all(&self.reader)
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
        let mut tx = self.begin().await?;
        let (summoned, standing) = account_id_by_name(&mut tx, to)
            .await?
            .ok_or(StoreError::NotFound(Missing::Summoned))?;
        if !standing.is_inside() {
            return Err(StoreError::NotFound(Missing::Summoned));
        }
        if summoned == summoner {
            return Err(StoreError::Conflict(Conflict::OwnSummons));
        }
        let allowed: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM summon_permissions WHERE grantor_id = ? AND grantee_id = ?",
        )
        .bind(summoned.0.to_string())
        .bind(summoner.0.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        if allowed.is_none() {
            return Err(StoreError::Conflict(Conflict::NotAllowed));
        }
        let open: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM summons WHERE summoned_id = ? AND summoner_id = ? \
             AND state IN ('calling', 'accepted')",
        )
        .bind(summoned.0.to_string())
        .bind(summoner.0.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        if open.is_some() {
            return Err(StoreError::Conflict(Conflict::SummonsOpen));
        }
        let id = SummonsId(Uuid::now_v7());
        sqlx::query(
            "INSERT INTO summons (id, summoner_id, summoned_id, state, lat, lon, accuracy_m, \
             created_at) VALUES (?, ?, ?, 'calling', ?, ?, ?, ?)",
        )
        .bind(id.0.to_string())
        .bind(summoner.0.to_string())
        .bind(summoned.0.to_string())
        .bind(lat)
        .bind(lon)
        .bind(accuracy_m)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        let record = summons_in(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("summons vanished".into()))?;
        tx.commit().await?;
        Ok(record)
    }

    async fn summons(
        &self,
        id: SummonsId,
        account: AccountId,
    ) -> StoreResult<Option<SummonsRecord>> {
        sqlx::query(AssertSqlSafe(format!(
            "{SUMMONS_SELECT} WHERE m.id = ? AND (m.summoner_id = ? OR m.summoned_id = ?)"
        )))
        .bind(id.0.to_string())
        .bind(account.0.to_string())
        .bind(account.0.to_string())
        .fetch_optional(&self.reader)
        .await?
        .map(|r| from_row::summons(&r))
        .transpose()
    }

    async fn open_summonses(&self, account: AccountId) -> StoreResult<Vec<SummonsRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{SUMMONS_SELECT} WHERE (m.summoner_id = ? OR m.summoned_id = ?) \
             AND m.state IN ('calling', 'accepted') ORDER BY m.created_at"
        )))
        .bind(account.0.to_string())
        .bind(account.0.to_string())
        .fetch_all(&self.reader)
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
        let mut tx = self.begin().await?;
        let current = summons_in(&mut tx, id)
            .await?
            .filter(|s| s.summoner == account || s.summoned == account)
            .ok_or(StoreError::NotFound(Missing::Summons))?;
        let (from, only_summoned): (&[&str], bool) = match to {
            SummonState::Accepted | SummonState::Declined => (&["calling"], true),
            SummonState::Ended => (&["calling", "accepted"], false),
            SummonState::Arrived => (&["accepted"], false),
            SummonState::Calling => return Err(StoreError::Conflict(Conflict::SummonsMoved)),
        };
        if only_summoned && current.summoned != account {
            return Err(StoreError::Conflict(Conflict::NotYours));
        }
        if !from.contains(&current.state.key()) {
            return Err(StoreError::Conflict(Conflict::SummonsMoved));
        }
        let answered = matches!(to, SummonState::Accepted | SummonState::Declined);
        sqlx::query(
            "UPDATE summons SET state = ?, \
             answered_at = CASE WHEN ? THEN ? ELSE answered_at END, \
             ended_at = CASE WHEN ? THEN ? ELSE ended_at END, \
             ended_by = CASE WHEN ? THEN ? ELSE ended_by END WHERE id = ?",
        )
        .bind(to.key())
        .bind(answered)
        .bind(now_ms)
        .bind(!answered || to == SummonState::Declined)
        .bind(now_ms)
        .bind(to == SummonState::Ended)
        .bind(account.0.to_string())
        .bind(id.0.to_string())
        .execute(&mut *tx)
        .await?;
        let record = summons_in(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("summons vanished".into()))?;
        tx.commit().await?;
        Ok(record)
    }
}
