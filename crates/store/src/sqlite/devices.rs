//! [`DeviceStore`] on SQLite.

use super::Sqlite;
use crate::devices::{DeviceRecord, DeviceStore};
use crate::from_row;
use crate::{AccountId, StoreResult};

impl DeviceStore for Sqlite {
    async fn add_device(
        &self,
        device: &DeviceRecord,
        secret_hash: &[u8],
        limit: u32,
    ) -> StoreResult<bool> {
        // One statement: the name and the count are checked where the row is written.
        let done = sqlx::query(
            "INSERT INTO devices (account_id, name, secret_hash, created_at) \
             SELECT ?1, ?2, ?3, ?4 WHERE (SELECT COUNT(*) FROM devices WHERE account_id = ?1) < ?5 \
             ON CONFLICT (account_id, name) DO NOTHING",
        )
        .bind(device.account.0.to_string())
        .bind(&device.name)
        .bind(secret_hash)
        .bind(device.created_at)
        .bind(i64::from(limit))
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn devices(&self, account: AccountId) -> StoreResult<Vec<DeviceRecord>> {
        let rows = sqlx::query(
            "SELECT account_id, name, created_at FROM devices WHERE account_id = ? \
             ORDER BY created_at, name",
        )
        .bind(account.0.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(from_row::device).collect()
    }

    async fn revoke_device(&self, account: AccountId, name: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM devices WHERE account_id = ? AND name = ?")
            .bind(account.0.to_string())
            .bind(name)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn device_by_secret(&self, secret_hash: &[u8]) -> StoreResult<Option<DeviceRecord>> {
        // From the writer: a device revoked a moment ago is refused at once.
        let row =
            sqlx::query("SELECT account_id, name, created_at FROM devices WHERE secret_hash = ?")
                .bind(secret_hash)
                .fetch_optional(&self.writer)
                .await?;
        row.as_ref().map(from_row::device).transpose()
    }
}
