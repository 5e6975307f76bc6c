//! Storage of what the partners see of each other: the [`ImageStore`] trait (a supertrait
//! of [`Store`](super::Store)) and its SQLite implementation. Images (the pixels are files
//! kept by `crate::images`; the store keeps who sent what to whom and the highest strength
//! each image has been seen at), camera consent, and the journals of memories.

use std::future::Future;
use std::str::FromStr;

use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use super::{AccountId, BondId, Sqlite, StoreError, StoreResult};

/// An image's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageId(pub Uuid);

impl ImageId {
    /// A new, time-ordered id.
    pub fn new() -> ImageId {
        ImageId(Uuid::now_v7())
    }
}

impl Default for ImageId {
    fn default() -> Self {
        Self::new()
    }
}

/// An image as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRecord {
    /// Its id.
    pub id: ImageId,
    /// The bond it was sent in.
    pub bond: BondId,
    /// Who sent it.
    pub sender: AccountId,
    /// The sender's id for it (idempotency key).
    pub client_id: String,
    /// Media type of the original upload.
    pub original_type: String,
    /// Media type of the stripped picture.
    pub stripped_type: String,
    /// Upright width, pixels.
    pub width: u32,
    /// Upright height, pixels.
    pub height: u32,
    /// Size of the original, bytes.
    pub original_size: u64,
    /// Unix milliseconds.
    pub sent_at: i64,
    /// The highest strength of the bond since it was sent.
    pub seen_strength: f64,
}

/// A journal entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryRecord {
    /// Its id.
    pub id: Uuid,
    /// Whose journal.
    pub account: AccountId,
    /// The author's id for it (idempotency key).
    pub client_id: String,
    /// The words, or a photo's caption.
    pub body: Option<String>,
    /// The stripped photo's media type, for a photo.
    pub photo_type: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// The bond it opened to, and when.
    pub shared: Option<(BondId, i64)>,
}

/// Durable storage of images, camera consent and memories.
pub trait ImageStore {
    /// Stores a new image. `Conflict("image_id_reused")` when its sender already stored
    /// one under the same client id (look it up with [`ImageStore::image_by_client_id`]).
    fn insert_image(&self, image: &ImageRecord) -> impl Future<Output = StoreResult<()>> + Send;

    /// The image with this id.
    fn image(&self, id: ImageId) -> impl Future<Output = StoreResult<Option<ImageRecord>>> + Send;

    /// The image a sender stored under a client id.
    fn image_by_client_id(
        &self,
        sender: AccountId,
        client_id: &str,
    ) -> impl Future<Output = StoreResult<Option<ImageRecord>>> + Send;

    /// A bond's images, oldest first, at most `limit`.
    fn images_of_bond(
        &self,
        bond: BondId,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Vec<ImageRecord>>> + Send;

    /// Raises the strength an image has been seen at to `strength` if that is higher,
    /// and returns the highest. `NotFound("image")` when there is no such image.
    fn raise_seen_strength(
        &self,
        id: ImageId,
        strength: f64,
    ) -> impl Future<Output = StoreResult<f64>> + Send;

    /// Whether `account` lets their partner glimpse and see through their camera (false
    /// until they say so).
    fn camera_allowed(&self, account: AccountId) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Records whether `account` lets their partner use their camera.
    fn set_camera_allowed(
        &self,
        account: AccountId,
        allow: bool,
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Stores a journal entry. `Conflict("memory_id_reused")` when its author already
    /// stored one under the same client id.
    fn insert_memory(&self, memory: &MemoryRecord) -> impl Future<Output = StoreResult<()>> + Send;

    /// The entry an author stored under a client id.
    fn memory_by_client_id(
        &self,
        account: AccountId,
        client_id: &str,
    ) -> impl Future<Output = StoreResult<Option<MemoryRecord>>> + Send;

    /// The entry with this id.
    fn memory(&self, id: Uuid) -> impl Future<Output = StoreResult<Option<MemoryRecord>>> + Send;

    /// An author's entries, oldest first; with `shared_in`, only those opened to that
    /// bond.
    fn memories_of(
        &self,
        account: AccountId,
        shared_in: Option<BondId>,
    ) -> impl Future<Output = StoreResult<Vec<MemoryRecord>>> + Send;

    /// Opens every entry of `account` not yet opened to a bond to `bond`, now; returns
    /// how many opened.
    fn open_memories(
        &self,
        account: AccountId,
        bond: BondId,
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
}

fn memory_from_row(row: &SqliteRow) -> StoreResult<MemoryRecord> {
    let shared_bond: Option<String> = row.try_get("shared_bond")?;
    let shared_at: Option<i64> = row.try_get("shared_at")?;
    let shared = match (shared_bond, shared_at) {
        (Some(bond), Some(at)) => Some((
            BondId(
                Uuid::from_str(&bond)
                    .map_err(|e| StoreError::Corrupt(format!("shared_bond: {e}")))?,
            ),
            at,
        )),
        _ => None,
    };
    Ok(MemoryRecord {
        id: uuid(row, "id")?,
        account: AccountId(uuid(row, "account_id")?),
        client_id: row.try_get("client_id")?,
        body: row.try_get("body")?,
        photo_type: row.try_get("photo_type")?,
        created_at: row.try_get("created_at")?,
        shared,
    })
}

fn uuid(row: &SqliteRow, column: &str) -> StoreResult<Uuid> {
    let text: String = row.try_get(column)?;
    Uuid::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn image_from_row(row: &SqliteRow) -> StoreResult<ImageRecord> {
    let dimension = |column: &str| -> StoreResult<u32> {
        let v: i64 = row.try_get(column)?;
        u32::try_from(v).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
    };
    let size: i64 = row.try_get("original_size")?;
    Ok(ImageRecord {
        id: ImageId(uuid(row, "id")?),
        bond: BondId(uuid(row, "bond_id")?),
        sender: AccountId(uuid(row, "sender_id")?),
        client_id: row.try_get("client_id")?,
        original_type: row.try_get("original_type")?,
        stripped_type: row.try_get("stripped_type")?,
        width: dimension("width")?,
        height: dimension("height")?,
        original_size: u64::try_from(size)
            .map_err(|e| StoreError::Corrupt(format!("original_size: {e}")))?,
        sent_at: row.try_get("sent_at")?,
        seen_strength: row.try_get("seen_strength")?,
    })
}

impl ImageStore for Sqlite {
    async fn insert_image(&self, image: &ImageRecord) -> StoreResult<()> {
        let res = sqlx::query(
            "INSERT INTO images (id, bond_id, sender_id, client_id, original_type, \
             stripped_type, width, height, original_size, sent_at, seen_strength) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        .execute(&self.writer)
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::Conflict("image_id_reused"))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn image(&self, id: ImageId) -> StoreResult<Option<ImageRecord>> {
        let row = sqlx::query("SELECT * FROM images WHERE id = ?")
            .bind(id.0.to_string())
            .fetch_optional(&self.reader)
            .await?;
        row.map(|r| image_from_row(&r)).transpose()
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
        row.map(|r| image_from_row(&r)).transpose()
    }

    async fn images_of_bond(&self, bond: BondId, limit: u32) -> StoreResult<Vec<ImageRecord>> {
        let rows =
            sqlx::query("SELECT * FROM images WHERE bond_id = ? ORDER BY sent_at, id LIMIT ?")
                .bind(bond.0.to_string())
                .bind(i64::from(limit))
                .fetch_all(&self.reader)
                .await?;
        rows.iter().map(image_from_row).collect()
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
            .ok_or(StoreError::NotFound("image"))?;
        Ok(row.try_get("seen_strength")?)
    }

    async fn camera_allowed(&self, account: AccountId) -> StoreResult<bool> {
        let row = sqlx::query("SELECT allow FROM camera_consent WHERE account_id = ?")
            .bind(account.0.to_string())
            .fetch_optional(&self.writer)
            .await?;
        Ok(match row {
            Some(r) => r.try_get::<i64, _>("allow")? != 0,
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
        let res = sqlx::query(
            "INSERT INTO memories (id, account_id, client_id, body, photo_type, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(memory.id.to_string())
        .bind(memory.account.0.to_string())
        .bind(&memory.client_id)
        .bind(&memory.body)
        .bind(&memory.photo_type)
        .bind(memory.created_at)
        .execute(&self.writer)
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::Conflict("memory_id_reused"))
            }
            Err(e) => Err(e.into()),
        }
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
        row.map(|r| memory_from_row(&r)).transpose()
    }

    async fn memory(&self, id: Uuid) -> StoreResult<Option<MemoryRecord>> {
        let row = sqlx::query("SELECT * FROM memories WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?;
        row.map(|r| memory_from_row(&r)).transpose()
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
        rows.iter().map(memory_from_row).collect()
    }

    async fn open_memories(
        &self,
        account: AccountId,
        bond: BondId,
        now_ms: i64,
    ) -> StoreResult<u64> {
        let res = sqlx::query(
            "UPDATE memories SET shared_bond = ?, shared_at = ? \
             WHERE account_id = ? AND shared_bond IS NULL",
        )
        .bind(bond.0.to_string())
        .bind(now_ms)
        .bind(account.0.to_string())
        .execute(&self.writer)
        .await?;
        Ok(res.rows_affected())
    }
}
