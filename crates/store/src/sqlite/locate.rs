//! [`LocateStore`] on SQLite.

use super::Sqlite;
use crate::locate::LocateStore;
use crate::{AccountId, StoreResult};

impl LocateStore for Sqlite {
    async fn ask_locate(
        &self,
        asker: AccountId,
        asked: AccountId,
        now_ms: i64,
        every_ms: i64,
    ) -> StoreResult<Option<i64>> {
        let done = sqlx::query(
            "INSERT INTO locate_asks (asker_id, asked_id, asked_at, pending) VALUES (?1, ?2, ?3, 1) \
             ON CONFLICT (asker_id) DO UPDATE SET asked_id = ?2, asked_at = ?3, pending = 1 \
             WHERE locate_asks.asked_at <= ?3 - ?4",
        )
        .bind(asker.0.to_string())
        .bind(asked.0.to_string())
        .bind(now_ms)
        .bind(every_ms)
        .execute(&self.writer)
        .await?;
        if done.rows_affected() > 0 {
            return Ok(None);
        }
        let last: i64 = sqlx::query_scalar("SELECT asked_at FROM locate_asks WHERE asker_id = ?")
            .bind(asker.0.to_string())
            .fetch_one(&self.writer)
            .await?;
        Ok(Some(last + every_ms))
    }

    async fn take_locate(&self, asked: AccountId, since_ms: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE locate_asks SET pending = 0 \
             WHERE asked_id = ? AND pending = 1 AND asked_at >= ?",
        )
        .bind(asked.0.to_string())
        .bind(since_ms)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
