//! [`PauseStore`] on SQLite.

use sqlx::Row;

use super::Sqlite;
use crate::pause::{PauseRecord, PauseStore};
use crate::{AccountId, StoreResult, from_row};

impl PauseStore for Sqlite {
    async fn pause(&self, account: AccountId) -> StoreResult<Option<PauseRecord>> {
        let row = sqlx::query("SELECT since_ms, until_ms FROM pauses WHERE account_id = ?")
            .bind(account.0.to_string())
            .fetch_optional(&self.writer)
            .await?;
        row.map(|r| from_row::pause(account, &r)).transpose()
    }

    async fn set_pause(&self, pause: &PauseRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO pauses (account_id, since_ms, until_ms) VALUES (?, ?, ?) \
             ON CONFLICT (account_id) DO UPDATE SET since_ms = excluded.since_ms, \
             until_ms = excluded.until_ms",
        )
        .bind(pause.account.0.to_string())
        .bind(pause.since_ms)
        .bind(pause.until_ms)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn end_pause(&self, account: AccountId, now_ms: i64) -> StoreResult<Option<PauseRecord>> {
        // The row stays, ended now: it still says that the person paused, so a server that
        // loads the bond later knows their stored position is from before the pause.
        let row = sqlx::query(
            "UPDATE pauses SET until_ms = ?2 \
             WHERE account_id = ?1 AND (until_ms IS NULL OR until_ms > ?2) \
             RETURNING since_ms",
        )
        .bind(account.0.to_string())
        .bind(now_ms)
        .fetch_optional(&self.writer)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(PauseRecord {
            account,
            since_ms: row.try_get("since_ms")?,
            until_ms: None,
        }))
    }
}
