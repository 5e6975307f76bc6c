//! [`DeviceStore`] on PostgreSQL.

use super::Postgres;
use crate::devices::{DeviceRecord, DeviceStore};
use crate::from_row;
use crate::{AccountId, StoreResult};

impl DeviceStore for Postgres {
    async fn add_device(
        &self,
        device: &DeviceRecord,
        secret_hash: &[u8],
        limit: u32,
    ) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await?;
        // The account's row lock keeps two nodes from both adding the last device allowed.
        sqlx::query("SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE")
            .bind(device.account.0)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query(
            "INSERT INTO devices (account_id, name, secret_hash, created_at) \
             SELECT $1, $2, $3, $4 WHERE (SELECT COUNT(*) FROM devices WHERE account_id = $1) < $5 \
             ON CONFLICT (account_id, name) DO NOTHING",
        )
        .bind(device.account.0)
        .bind(&device.name)
        .bind(secret_hash)
        .bind(device.created_at)
        .bind(i64::from(limit))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn devices(&self, account: AccountId) -> StoreResult<Vec<DeviceRecord>> {
        let rows = sqlx::query(
            "SELECT account_id, name, created_at FROM devices WHERE account_id = $1 \
             ORDER BY created_at, name",
        )
        .bind(account.0)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row::device).collect()
    }

    async fn revoke_device(&self, account: AccountId, name: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM devices WHERE account_id = $1 AND name = $2")
            .bind(account.0)
            .bind(name)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn device_by_secret(&self, secret_hash: &[u8]) -> StoreResult<Option<DeviceRecord>> {
        let row =
            sqlx::query("SELECT account_id, name, created_at FROM devices WHERE secret_hash = $1")
                .bind(secret_hash)
                .fetch_optional(self.pool())
                .await?;
        row.as_ref().map(from_row::device).transpose()
    }
}
