//! Storage of what the partners see of each other: the [`ImageStore`] trait (a supertrait
//! of [`Store`](crate::Store)) and its records. Images (the pixels are files the server
//! keeps; the store keeps who sent what to whom and the highest strength each image has
//! been seen at), camera consent, and the journals of memories. The backends are in
//! `sqlite/images.rs` and `postgres/images.rs`.

use std::future::Future;

use uuid::Uuid;

use crate::{AccountId, BondId, StoreResult};

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
    /// A private bond's picture: its renditions were made and sealed on the sender's
    /// device, and are kept as they came; `width` and `height` are then both its longest
    /// side (its shape is sealed), and it has no original.
    pub sealed: bool,
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
    /// The photo's size as uploaded, bytes (0 for words).
    pub photo_size: u64,
    /// Unix milliseconds.
    pub created_at: i64,
    /// The bond it opened to, and when.
    pub shared: Option<(BondId, i64)>,
    /// For an entry of a private bond: the bond whose key sealed it. `body` is then the
    /// sealed string the author's device sent (`haurach_proto::sealed`), and the entry
    /// opens to that bond only.
    pub sealed_in: Option<BondId>,
}

/// Durable storage of images, camera consent and memories.
pub trait ImageStore {
    /// Stores a new image. `Conflict::ImageIdReused` when its sender already stored
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
    /// and returns the highest. `Missing::Image` when there is no such image.
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

    /// Stores a journal entry. `Conflict::MemoryIdReused` when its author already
    /// stored one under the same client id.
    fn insert_memory(&self, memory: &MemoryRecord) -> impl Future<Output = StoreResult<()>> + Send;

    /// The bytes `account` has uploaded as pictures and journal photos, as sent.
    fn picture_bytes(&self, account: AccountId) -> impl Future<Output = StoreResult<u64>> + Send;

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
    /// how many opened. An entry sealed in another bond stays closed: its partner alone
    /// holds the key.
    fn open_memories(
        &self,
        account: AccountId,
        bond: BondId,
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
}
