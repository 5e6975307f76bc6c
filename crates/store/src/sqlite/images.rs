//! [`ImageStore`] on SQLite.

use sqlx::Row;
use uuid::Uuid;

use super::Sqlite;
use crate::error::unique_or;
use crate::from_row;
use crate::images::{ImageId, ImageRecord, ImageStore, MemoryRecord};
use crate::{AccountId, BondId, Conflict, Missing, StoreError, StoreResult};

impl ImageStore for Sqlite {
    async fn insert_image(&self, image: &ImageRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO images (id, bond_id, sender_id, client_id, original_type, \
             stripped_type, width, height, original_size, sent_at, seen_strength, sealed) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(image.id.0.to_string())
        .bind(image.bond.0.to_string())
        .bind(image.sender.0.to_string())
        .bind(&image.client_id)
        .bind(&image.original_type)
        .bind(&image.stripped_type)
        .bind(i64::from(image.width))
        .bind(i64::from(image.height))
        .bind(i64::try_from(image.original_size).unwrap_or(i64::MAX))
        .bind(image.sent_at)
        .bind(image.seen_strength)
        .bind(image.sealed)
        .execute(&self.writer)
        .await
        .map_err(|err| unique_or(err, Conflict::ImageIdReused))?;
        Ok(())
    }

    async fn image(&self, id: ImageId) -> StoreResult<Option<ImageRecord>> {
        let row = sqlx::query("SELECT * FROM images WHERE id = ?")
            .bind(id.0.to_string())
            .fetch_optional(&self.reader)
            .await?;
        row.map(|r| from_row::image(&r)).transpose()
    }

    async fn image_by_client_id(
        &self,
        sender: AccountId,
        client_id: &str,
    ) -> StoreResult<Option<ImageRecord>> {
        // From the writer: a retry right after a crash must see what was committed.
        let row = sqlx::query("SELECT * FROM images WHERE sender_id = ? AND client_id = ?")
            .bind(sender.0.to_string())
            .bind(client_id)
            .fetch_optional(&self.writer)
            .await?;
        row.map(|r| from_row::image(&r)).transpose()
    }

    async fn images_of_bond(&self, bond: BondId, limit: u32) -> StoreResult<Vec<ImageRecord>> {
        let rows =
            sqlx::query("SELECT * FROM images WHERE bond_id = ? ORDER BY sent_at, id LIMIT ?")
                .bind(bond.0.to_string())
                .bind(i64::from(limit))
                .fetch_all(&self.reader)
                .await?;
        rows.iter().map(from_row::image).collect()
    }

    async fn raise_seen_strength(&self, id: ImageId, strength: f64) -> StoreResult<f64> {
        let strength = if strength.is_finite() { strength } else { 0.0 };
        // Only a higher strength writes; looking at an image again from as far or farther
        // costs a read.
        let raised = sqlx::query(
            "UPDATE images SET seen_strength = ? WHERE id = ? AND seen_strength < ? \
             RETURNING seen_strength",
        )
        .bind(strength)
        .bind(id.0.to_string())
        .bind(strength)
        .fetch_optional(&self.writer)
        .await?;
        if let Some(row) = raised {
            return Ok(row.try_get("seen_strength")?);
        }
        let row = sqlx::query("SELECT seen_strength FROM images WHERE id = ?")
            .bind(id.0.to_string())
            .fetch_optional(&self.writer)
            .await?
            .ok_or(StoreError::NotFound(Missing::Image))?;
        Ok(row.try_get("seen_strength")?)
    }

    async fn camera_allowed(&self, account: AccountId) -> StoreResult<bool> {
        let row = sqlx::query("SELECT allow FROM camera_consent WHERE account_id = ?")
            .bind(account.0.to_string())
            .fetch_optional(&self.writer)
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
            "INSERT INTO camera_consent (account_id, allow, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT (account_id) DO UPDATE SET allow = excluded.allow, \
             updated_at = excluded.updated_at",
        )
        .bind(account.0.to_string())
        .bind(i64::from(allow))
        .bind(now_ms)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn insert_memory(&self, memory: &MemoryRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO memories (id, account_id, client_id, body, photo_type, photo_size, \
             created_at, sealed_bond) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(memory.id.to_string())
        .bind(memory.account.0.to_string())
        .bind(&memory.client_id)
        .bind(&memory.body)
        .bind(&memory.photo_type)
        .bind(i64::try_from(memory.photo_size).unwrap_or(i64::MAX))
        .bind(memory.created_at)
        .bind(memory.sealed_in.map(|b| b.0.to_string()))
        .execute(&self.writer)
        .await
        .map_err(|err| unique_or(err, Conflict::MemoryIdReused))?;
        Ok(())
    }

    async fn picture_bytes(&self, account: AccountId) -> StoreResult<u64> {
        let account = account.0.to_string();
        let bytes: i64 = sqlx::query_scalar(
            "SELECT (SELECT COALESCE(SUM(original_size), 0) FROM images WHERE sender_id = ?1) \
             + (SELECT COALESCE(SUM(photo_size), 0) FROM memories WHERE account_id = ?1)",
        )
        .bind(account)
        .fetch_one(&self.reader)
        .await?;
        Ok(u64::try_from(bytes).unwrap_or(0))
    }

    async fn memory_by_client_id(
        &self,
        account: AccountId,
        client_id: &str,
    ) -> StoreResult<Option<MemoryRecord>> {
        let row = sqlx::query("SELECT * FROM memories WHERE account_id = ? AND client_id = ?")
            .bind(account.0.to_string())
            .bind(client_id)
            .fetch_optional(&self.writer)
            .await?;
        row.map(|r| from_row::memory(&r)).transpose()
    }

    async fn memory(&self, id: Uuid) -> StoreResult<Option<MemoryRecord>> {
        let row = sqlx::query("SELECT * FROM memories WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?;
        row.map(|r| from_row::memory(&r)).transpose()
    }

    async fn memories_of(
        &self,
        account: AccountId,
        shared_in: Option<BondId>,
    ) -> StoreResult<Vec<MemoryRecord>> {
        // From the writer: an entry opened a moment ago must be listed.
        let rows = match shared_in {
            None => {
                sqlx::query("SELECT * FROM memories WHERE account_id = ? ORDER BY created_at, id")
                    .bind(account.0.to_string())
                    .fetch_all(&self.writer)
                    .await?
            }
            Some(bond) => {
                sqlx::query(
                    "SELECT * FROM memories WHERE account_id = ? AND shared_bond = ? \
                     ORDER BY created_at, id",
                )
                .bind(account.0.to_string())
                .bind(bond.0.to_string())
                .fetch_all(&self.writer)
                .await?
            }
        };
        rows.iter().map(from_row::memory).collect()
    }

    async fn open_memories(
        &self,
        account: AccountId,
        bond: BondId,
        now_ms: i64,
    ) -> StoreResult<u64> {
        let res = sqlx::query(
            "UPDATE memories SET shared_bond = ?1, shared_at = ?2 \
             WHERE account_id = ?3 AND shared_bond IS NULL \
             AND (sealed_bond IS NULL OR sealed_bond = ?1)",
        )
        .bind(bond.0.to_string())
        .bind(now_ms)
        .bind(account.0.to_string())
        .execute(&self.writer)
        .await?;
        Ok(res.rows_affected())
    }
}
