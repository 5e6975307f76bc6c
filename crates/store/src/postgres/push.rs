//! [`PushStore`] on PostgreSQL: the same promises as `sqlite/push.rs`.

use sqlx::Row;

use super::Postgres;
use crate::from_row;
use crate::push::{PushStore, PushSubscriptionRecord};
use crate::{AccountId, StoreResult};

impl PushStore for Postgres {
    async fn push_key(&self, candidate: &str, now_ms: i64) -> StoreResult<String> {
        sqlx::query(
            "INSERT INTO push_key (id, private_key, created_at) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(candidate)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        let row = sqlx::query("SELECT private_key FROM push_key WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("private_key")?)
    }

    async fn save_push_subscription(
        &self,
        sub: &PushSubscriptionRecord,
        keep: u32,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO push_subscriptions (endpoint, account_id, p256dh, auth, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (endpoint) DO UPDATE SET \
             account_id = excluded.account_id, p256dh = excluded.p256dh, \
             auth = excluded.auth, created_at = excluded.created_at",
        )
        .bind(&sub.endpoint)
        .bind(sub.account.0)
        .bind(&sub.p256dh)
        .bind(&sub.auth)
        .bind(sub.created_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM push_subscriptions WHERE account_id = $1 AND endpoint NOT IN \
             (SELECT endpoint FROM push_subscriptions WHERE account_id = $1 \
              ORDER BY created_at DESC, endpoint LIMIT $2)",
        )
        .bind(sub.account.0)
        .bind(i64::from(keep))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_push_subscription(
        &self,
        account: AccountId,
        endpoint: &str,
    ) -> StoreResult<bool> {
        let done =
            sqlx::query("DELETE FROM push_subscriptions WHERE account_id = $1 AND endpoint = $2")
                .bind(account.0)
                .bind(endpoint)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn forget_push_endpoint(&self, endpoint: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM push_subscriptions WHERE endpoint = $1")
            .bind(endpoint)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn push_subscriptions(
        &self,
        account: AccountId,
    ) -> StoreResult<Vec<PushSubscriptionRecord>> {
        let rows = sqlx::query(
            "SELECT endpoint, p256dh, auth, created_at FROM push_subscriptions \
             WHERE account_id = $1 ORDER BY created_at, endpoint",
        )
        .bind(account.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| from_row::push_subscription(r, account))
            .collect()
    }

    async fn push_claimed(&self, key: &str) -> StoreResult<bool> {
        let row = sqlx::query("SELECT 1 AS one FROM push_claims WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    async fn claim_push(&self, key: &str, now_ms: i64, forget_before: i64) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM push_claims WHERE claimed_at < $1")
            .bind(forget_before)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query(
            "INSERT INTO push_claims (key, claimed_at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }
}
