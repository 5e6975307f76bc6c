//! Images sent between partners, camera consent and the journals of memories: what the
//! API says about them.
//!
//! A picture is uploaded as raw bytes (`POST /api/v1/bond/images?id=CLIENT_ID`), stored
//! without its metadata, and announced to both partners as a `message` of kind `image`
//! whose `body` is the image's id. The pixels are fetched from
//! `GET /api/v1/bond/images/{id}/picture`, at the size the bond's strength allows.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// An image as one partner sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ImageView {
    /// The image's id (a UUIDv7); also the `body` of its `image` message.
    pub id: Uuid,
    /// The sender's id for it (the `?id=` of the upload).
    pub client_id: String,
    /// The sender's name.
    pub from: String,
    /// Width of the picture as sent (upright), pixels.
    pub width: u32,
    /// Height of the picture as sent (upright), pixels.
    pub height: u32,
    /// The longest side the caller may see now, pixels: the full size for the sender;
    /// for the receiver, what the highest strength reached since it was sent allows
    /// (it never shrinks).
    pub side: u32,
    /// The highest strength of the bond since the image was sent; it sets `side` for
    /// the receiver.
    pub seen_strength: f64,
    /// Where to fetch the picture at `side` (append `?side=N` for a smaller one).
    pub picture: String,
    /// When it was stored.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub sent_at: OffsetDateTime,
    /// A private bond's picture: `picture` serves a rendition sealed on the sender's
    /// device (`crate::sealed_pictures`), for the bond's devices to open; `width` and
    /// `height` are then both its longest side (its shape is sealed). Absent when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sealed: bool,
}

/// `GET /api/v1/bond/images` → the bond's images, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ImageList {
    /// The images.
    pub images: Vec<ImageView>,
}

/// `GET` and `PUT /api/v1/me/camera`: whether my partner may glimpse and see through my
/// camera. Off until turned on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CameraConsent {
    /// Whether it is allowed.
    pub allow: bool,
}

/// `POST /api/v1/me/memories`: words for my journal, in the clear (a plain bond) or
/// sealed (a private bond): exactly one of `body` and `sealed`. Its schema is written by
/// hand (`crate::schemas`) to say so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMemory {
    /// My id for it, so a retry is stored once (1 to 64 characters).
    pub id: String,
    /// The words: 1 to 10,000 characters, not all of them spaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// In a private bond: the words sealed on my device (`crate::sealed`, kind
    /// [`crate::sealed::MEMORY`]), which only my partner's device can open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
}

/// An entry of a journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MemoryView {
    /// The entry's id (a UUIDv7).
    pub id: Uuid,
    /// Whose journal it is in.
    pub author: String,
    /// The id its author's device gave it (`id` of the upload); a sealed photo carries
    /// the same id inside, so it cannot be passed off as another entry's.
    #[serde(default)]
    pub client_id: String,
    /// The words, or the photo's caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// In a private bond: the words as the author's device sealed them (kind
    /// [`crate::sealed::MEMORY`]), for the devices of the bond to open; `body` is then
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
    /// Where to fetch its photo, if it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo: Option<String>,
    /// In a private bond: the photo is sealed on its author's device (kind
    /// [`crate::sealed::MEMORY_PHOTO`], a [`crate::sealed::PhotoContent`] with its caption
    /// inside), served as `application/vnd.haurach.sealed-photo` for the devices of the
    /// bond to open.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub photo_sealed: bool,
    /// When it was written.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// When it opened to the partner (the two were together), if it has.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub shared_at: Option<OffsetDateTime>,
}

/// A list of journal entries, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MemoryList {
    /// Whether the journals are open to each other right now (the partners are within
    /// the memories range).
    pub open: bool,
    /// The entries.
    pub memories: Vec<MemoryView>,
}
