//! [`LocateStore`] on PostgreSQL.

use super::Postgres;
use crate::locate::LocateStore;
use crate::{AccountId, StoreResult};

impl LocateStore for Postgres {
    async fn ask_locate(
        &self,
        asker: AccountId,
        asked: AccountId,
        now_ms: i64,
        every_ms: i64,
    ) -> StoreResult<Option<i64>> {
        // The upsert takes the row's lock: of two nodes asking at once, one waits and then
        // finds the other's ask too recent.
        let done = sqlx::query(
            "INSERT INTO locate_asks (asker_id, asked_id, asked_at, pending) VALUES ($1, $2, $3, TRUE) \
             ON CONFLICT (asker_id) DO UPDATE SET asked_id = $2, asked_at = $3, pending = TRUE \
             WHERE locate_asks.asked_at <= $3 - $4",
        )
        .bind(asker.0)
        .bind(asked.0)
        .bind(now_ms)
        .bind(every_ms)
        .execute(self.pool())
        .await?;
        if done.rows_affected() > 0 {
            return Ok(None);
        }
        let last: i64 = sqlx::query_scalar("SELECT asked_at FROM locate_asks WHERE asker_id = $1")
            .bind(asker.0)
            .fetch_one(self.pool())
            .await?;
        Ok(Some(last + every_ms))
    }

    async fn take_locate(&self, asked: AccountId, since_ms: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE locate_asks SET pending = FALSE \
             WHERE asked_id = $1 AND pending AND asked_at >= $2",
        )
        .bind(asked.0)
        .bind(since_ms)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
