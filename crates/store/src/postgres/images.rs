//! [`ImageStore`] on PostgreSQL: the same promises as the SQLite implementation in
//! `images.rs`, each method one statement (so one transaction).

use sqlx::Row;
use uuid::Uuid;

use super::Postgres;
use crate::error::unique_or;
use crate::from_row;
use crate::images::{ImageId, ImageRecord, ImageStore, MemoryRecord};
use crate::{AccountId, BondId, Conflict, Missing, StoreError, StoreResult};

impl ImageStore for Postgres {
    async fn insert_image(&self, image: &ImageRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO images (id, bond_id, sender_id, client_id, original_type, \
             stripped_type, width, height, original_size, sent_at, seen_strength, sealed) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(image.id.0)
        .bind(image.bond.0)
        .bind(image.sender.0)
        .bind(&image.client_id)
        .bind(&image.original_type)
        .bind(&image.stripped_type)
        .bind(i32::try_from(image.width).unwrap_or(i32::MAX))
        .bind(i32::try_from(image.height).unwrap_or(i32::MAX))
        .bind(i64::try_from(image.original_size).unwrap_or(i64::MAX))
        .bind(image.sent_at)
        .bind(image.seen_strength)
        .bind(image.sealed)
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(|e| unique_or(e, Conflict::ImageIdReused))
    }

    async fn image(&self, id: ImageId) -> StoreResult<Option<ImageRecord>> {
        let row = sqlx::query("SELECT * FROM images WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| from_row::image(&r)).transpose()
    }

    async fn image_by_client_id(
        &self,
        sender: AccountId,
        client_id: &str,
    ) -> StoreResult<Option<ImageRecord>> {
        let row = sqlx::query("SELECT * FROM images WHERE sender_id = $1 AND client_id = $2")
            .bind(sender.0)
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| from_row::image(&r)).transpose()
    }

    async fn images_of_bond(&self, bond: BondId, limit: u32) -> StoreResult<Vec<ImageRecord>> {
        let rows =
            sqlx::query("SELECT * FROM images WHERE bond_id = $1 ORDER BY sent_at, id LIMIT $2")
                .bind(bond.0)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(from_row::image).collect()
    }

    async fn raise_seen_strength(&self, id: ImageId, strength: f64) -> StoreResult<f64> {
        let strength = if strength.is_finite() { strength } else { 0.0 };
        // GREATEST in one statement: two nodes raising at once keep the higher.
        let row = sqlx::query(
            "UPDATE images SET seen_strength = GREATEST(seen_strength, $1) WHERE id = $2 \
             RETURNING seen_strength",
        )
        .bind(strength)
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound(Missing::Image))?;
        Ok(row.try_get("seen_strength")?)
    }

    async fn camera_allowed(&self, account: AccountId) -> StoreResult<bool> {
        let row = sqlx::query("SELECT allow FROM camera_consent WHERE account_id = $1")
            .bind(account.0)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get("allow")?,
            None => false,
        })
    }

    async fn set_camera_allowed(
        &self,
        account: AccountId,
        allow: bool,
        now_ms: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO camera_consent (account_id, allow, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id) DO UPDATE SET allow = EXCLUDED.allow, \
             updated_at = EXCLUDED.updated_at",
        )
        .bind(account.0)
        .bind(allow)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn insert_memory(&self, memory: &MemoryRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO memories (id, account_id, client_id, body, photo_type, photo_size, \
             created_at, sealed_bond) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(memory.id)
        .bind(memory.account.0)
        .bind(&memory.client_id)
        .bind(&memory.body)
        .bind(&memory.photo_type)
        .bind(i64::try_from(memory.photo_size).unwrap_or(i64::MAX))
        .bind(memory.created_at)
        .bind(memory.sealed_in.map(|b| b.0))
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(|e| unique_or(e, Conflict::MemoryIdReused))
    }

    async fn picture_bytes(&self, account: AccountId) -> StoreResult<u64> {
        let bytes: i64 = sqlx::query_scalar(
            "SELECT ((SELECT COALESCE(SUM(original_size), 0) FROM images WHERE sender_id = $1) \
             + (SELECT COALESCE(SUM(photo_size), 0) FROM memories WHERE account_id = $1))::BIGINT",
        )
        .bind(account.0)
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(bytes).unwrap_or(0))
    }

    async fn memory_by_client_id(
        &self,
        account: AccountId,
        client_id: &str,
    ) -> StoreResult<Option<MemoryRecord>> {
        let row = sqlx::query("SELECT * FROM memories WHERE account_id = $1 AND client_id = $2")
            .bind(account.0)
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| from_row::memory(&r)).transpose()
    }

    async fn memory(&self, id: Uuid) -> StoreResult<Option<MemoryRecord>> {
        let row = sqlx::query("SELECT * FROM memories WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| from_row::memory(&r)).transpose()
    }

    async fn memories_of(
        &self,
        account: AccountId,
        shared_in: Option<BondId>,
    ) -> StoreResult<Vec<MemoryRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM memories WHERE account_id = $1 \
             AND ($2::uuid IS NULL OR shared_bond = $2) ORDER BY created_at, id",
        )
        .bind(account.0)
        .bind(shared_in.map(|b| b.0))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row::memory).collect()
    }

    async fn open_memories(
        &self,
        account: AccountId,
        bond: BondId,
        now_ms: i64,
    ) -> StoreResult<u64> {
        let res = sqlx::query(
            "UPDATE memories SET shared_bond = $1, shared_at = $2 \
             WHERE account_id = $3 AND shared_bond IS NULL \
             AND (sealed_bond IS NULL OR sealed_bond = $1)",
        )
        .bind(bond.0)
        .bind(now_ms)
        .bind(account.0)
        .execute(&self.pool)
        .await?;
        Ok(res.rows_affected())
    }
}
