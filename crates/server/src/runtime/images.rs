//! Pictures between partners: sending one, and how sharp a picture each partner gets
//! (the hub's methods; the routes are in `http/images.rs`, where the files are kept in
//! [`pictures`](super::pictures)).
//!
//! An upload (`POST /api/v1/bond/images?id=CLIENT_ID`, the picture's bytes as the body)
//! is checked and stripped of its metadata by `haurach_picture` on a blocking thread,
//! under the pictures' permits (so a burst of uploads cannot decode more pictures at once
//! than there are permits, whatever their size). Then, in this order:
//!
//! 1. the original and the stripped picture are written to `DATA/images/ID/` and synced
//!    (with several nodes, to PostgreSQL: see `haurach_store::files`),
//! 2. the image's row is committed,
//! 3. its `image` message (body: the image's id) is committed and published, which is
//!    when the sender is answered and the partner told.
//!
//! A crash between 2 and 3 leaves an image without its message; the sender's retry with
//! the same `id` finds the image and sends the message. Nothing reaches the partner
//! before it is committed, and the partner only ever sees the stripped picture.
//!
//! The receiver sees a rendition whose longest side follows
//! `haurach_bond::images::rendition_side` at the highest strength the bond has had since
//! the image was sent (stored per image, only ever raised): coming closer sharpens it,
//! moving apart does not take it back. The sender sees their picture at full size and
//! may fetch their original back. Renditions are cut on first request and cached beside
//! the picture.

use std::path::PathBuf;

use bytes::Bytes;
use haurach_bond::Tier;
use haurach_bond::images::{LADDER, THUMBNAIL_SIDE, rendition_side};
use haurach_proto::sealed_pictures::{MEDIA_TYPE, read_upload, sides_for};
use haurach_proto::{ImageList, ImageView, MessageKind, SendMessage};
use haurach_store::{AccountId, Conflict, ImageId, ImageRecord, Store, StoreError};
use http::StatusCode;
use uuid::Uuid;

use super::hub::{Hub, TierStanding, not_bonded};
use super::pictures::no_such_image;
use super::private::PrivateContent;
use crate::bus::Bus;
use crate::clock::{now_ms, timestamp};
use crate::error::ApiError;

/// The largest side `viewer` may see of `image` now, raising the strength it has been
/// seen at when the viewer is its receiver.
async fn allowed_side<S: Store>(
    store: &S,
    standing: &TierStanding,
    viewer: AccountId,
    image: &ImageRecord,
) -> Result<(u32, f64), ApiError> {
    let longest = image.width.max(image.height);
    if image.sender == viewer {
        return Ok((longest, image.seen_strength));
    }
    let seen = store
        .raise_seen_strength(image.id, standing.strength)
        .await?;
    Ok((
        rendition_side(standing.bond.profile, seen).of(longest),
        seen,
    ))
}

fn view(standing: &TierStanding, image: &ImageRecord, side: u32, seen: f64) -> ImageView {
    let from = standing
        .bond
        .index_of(image.sender)
        .map(|i| standing.bond.names[i].clone())
        .unwrap_or_default();
    ImageView {
        id: image.id.0,
        client_id: image.client_id.clone(),
        from,
        width: image.width,
        height: image.height,
        side,
        seen_strength: seen,
        picture: format!("/api/v1/bond/images/{}/picture?side={side}", image.id.0),
        sent_at: timestamp(image.sent_at),
        sealed: image.sealed,
    }
}

/// The rung a requested side snaps down to, so a picture has a bounded number of
/// cached renditions.
fn snap(side: u32) -> u32 {
    LADDER
        .iter()
        .rev()
        .find(|&&rung| rung <= side)
        .copied()
        .unwrap_or(THUMBNAIL_SIDE)
}

/// Where an upload stands after the checks both kinds begin with.
enum Upload {
    /// A retry of an upload that was stored: its answer, as the first time.
    Retried((bool, ImageView)),
    /// A new upload's body, and where the sender's bond stands for pictures.
    New(Bytes, TierStanding),
}

impl<S: Store, B: Bus> Hub<S, B> {
    /// Where `account`'s bond stands for pictures. In a private bond the server knows no
    /// distance, only which tiers are open: the strength is the plain bond's at the edge
    /// of the narrowest tier open (`haurach_private::matcher::strength`, as
    /// [`Hub::standing`] gives it). For the story profile a picture is then 64 px with
    /// images open, 128 px with glimpse open (10 km), full size with sight open (2 km):
    /// coarser than a plain bond's ladder.
    async fn image_standing(&self, account: AccountId) -> Result<TierStanding, ApiError> {
        self.standing(account, Tier::Images)
            .await?
            .ok_or_else(not_bonded)
    }

    /// Refuses an upload of `len` bytes that would take `account` past
    /// `picture_quota_bytes` (pictures and journal photos together, as uploaded).
    pub(crate) async fn within_picture_quota(
        &self,
        account: AccountId,
        len: usize,
    ) -> Result<(), ApiError> {
        let used = self.store.picture_bytes(account).await?;
        let quota = self.config.picture_quota_bytes;
        if used.saturating_add(len as u64) <= quota {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "picture_quota_exceeded",
            format!(
                "your pictures and journal photos take {} of your {}: this one does not fit",
                haurach_proto::human::bytes(used),
                haurach_proto::human::bytes(quota)
            ),
        ))
    }

    /// `sender` sends a picture under `client_id` (a retry with the same id answers as
    /// the first time). `bytes` is the body as read, or the problem reading it. Returns
    /// whether it was new, and the picture as the sender sees it.
    pub async fn send_image(
        &self,
        sender: AccountId,
        client_id: String,
        bytes: Result<Bytes, ApiError>,
    ) -> Result<(bool, ImageView), ApiError> {
        self.refuse_private_content(sender, PrivateContent::Picture)
            .await?;
        let (bytes, standing) = match self
            .begin_upload(
                sender,
                &client_id,
                bytes,
                "send the picture's bytes (JPEG, PNG or WebP) as the request body",
            )
            .await?
        {
            Upload::Retried(answer) => return Ok(answer),
            Upload::New(bytes, standing) => (bytes, standing),
        };

        let pictures = &self.pictures;
        let _lane = pictures.lane(sender).await;
        self.within_picture_quota(sender, bytes.len()).await?;
        let accepted = pictures.accept(sender, bytes.clone()).await?;
        let record = ImageRecord {
            id: ImageId::new(),
            bond: standing.bond.id,
            sender,
            client_id,
            original_type: accepted.kind.mime().to_owned(),
            stripped_type: accepted.stripped_kind.mime().to_owned(),
            width: accepted.width,
            height: accepted.height,
            original_size: bytes.len() as u64,
            sent_at: now_ms(),
            // The receiver is told of it now: what they may see starts at today's strength.
            seen_strength: standing.strength,
            sealed: false,
        };
        let files = vec![
            (pictures.original_path(&record), bytes.to_vec()),
            (pictures.full_path(&record), accepted.stripped),
        ];
        let (answer, stored) = self.keep_upload(&standing, record, files).await?;
        if stored {
            // "I saw you when I sent that image to you": a short look back, if the
            // receiver allows their camera.
            self.return_glimpse(sender).await?;
        }
        Ok(answer)
    }

    /// `sender`, a partner of a private bond, sends a picture their device made the
    /// renditions of and sealed (`haurach_proto::sealed_pictures`), under `client_id`.
    /// `bytes` is the upload's body as read. Kept as the plain bond keeps a picture, in
    /// the same order (files, row, message); the server checks only the renditions'
    /// shape and never holds the picture in the clear. Returns whether it was new, and
    /// the picture as the sender sees it.
    pub async fn send_sealed_image(
        &self,
        sender: AccountId,
        client_id: String,
        bytes: Result<Bytes, ApiError>,
    ) -> Result<(bool, ImageView), ApiError> {
        if !self.is_private(sender).await? {
            return Err(ApiError::conflict(
                "unexpected_sealed",
                "your bond is not private: send the picture itself, not sealed",
            ));
        }
        let (bytes, standing) = match self
            .begin_upload(
                sender,
                &client_id,
                bytes,
                "send the sealed renditions as the request body",
            )
            .await?
        {
            Upload::Retried(answer) => return Ok(answer),
            Upload::New(bytes, standing) => (bytes, standing),
        };
        let renditions = read_upload(&bytes, self.config.max_image_bytes)
            .map_err(|e| ApiError::invalid("invalid_sealed_picture", e.to_string()))?;
        let longest = renditions.last().map_or(0, |(side, _)| *side);

        let pictures = &self.pictures;
        let _lane = pictures.lane(sender).await;
        self.within_picture_quota(sender, bytes.len()).await?;
        let record = ImageRecord {
            id: ImageId::new(),
            bond: standing.bond.id,
            sender,
            client_id,
            original_type: MEDIA_TYPE.to_owned(),
            stripped_type: MEDIA_TYPE.to_owned(),
            width: longest,
            height: longest,
            original_size: bytes.len() as u64,
            sent_at: now_ms(),
            seen_strength: standing.strength,
            sealed: true,
        };
        let files = renditions
            .into_iter()
            .map(|(side, sealed)| (pictures.sealed_path(&record, side), sealed))
            .collect();
        let (answer, _stored) = self.keep_upload(&standing, record, files).await?;
        Ok(answer)
    }

    /// The checks an upload of either kind begins with, in this order: the id, an empty
    /// body (refused before anything else, a retry's included: no upload is empty;
    /// hardening finding 10 was a retry with the id of a stored picture answered 200
    /// without its bytes, `empty` says what to send), a retry of an upload that was
    /// stored (finished, since its message may be missing after a crash, and answered as
    /// the first time), an id used by another message, and the images tier.
    async fn begin_upload(
        &self,
        sender: AccountId,
        client_id: &str,
        bytes: Result<Bytes, ApiError>,
        empty: &'static str,
    ) -> Result<Upload, ApiError> {
        if client_id.is_empty() || client_id.chars().count() > 64 {
            return Err(ApiError::invalid(
                "invalid_message_id",
                "an image id must be 1 to 64 characters",
            ));
        }
        let bytes = bytes?;
        if bytes.is_empty() {
            return Err(ApiError::bad_request("image_required", empty));
        }
        let standing = self.image_standing(sender).await?;
        if let Some(existing) = self.store.image_by_client_id(sender, client_id).await? {
            let answer = self.finish(&standing, sender, existing, false).await?;
            return Ok(Upload::Retried(answer));
        }
        if let Some(other) = self.store.message_by_client_id(sender, client_id).await?
            && other.kind != MessageKind::Image
        {
            return Err(ApiError::conflict(
                "message_id_reused",
                format!("you already sent a different message with id {client_id:?}; use a new id"),
            ));
        }
        if !standing.open {
            return Err(ApiError::tier_closed(
                Tier::Images,
                standing.bond.profile.range_m(Tier::Images),
                standing.distance_m,
            ));
        }
        Ok(Upload::New(bytes, standing))
    }

    /// Keeps a new upload, under the sender's lane: its `files` written and synced, then
    /// its row, then its message. Returns the answer, and whether this call stored it (a
    /// concurrent retry may have stored it first: ours is then a spare copy, removed).
    async fn keep_upload(
        &self,
        standing: &TierStanding,
        record: ImageRecord,
        files: Vec<(PathBuf, Vec<u8>)>,
    ) -> Result<((bool, ImageView), bool), ApiError> {
        let pictures = &self.pictures;
        pictures
            .files
            .put(&pictures.data, files)
            .await
            .map_err(ApiError::internal)?;
        let sender = record.sender;
        match self.store.insert_image(&record).await {
            Ok(()) => Ok((self.finish(standing, sender, record, true).await?, true)),
            Err(StoreError::Conflict(Conflict::ImageIdReused)) => {
                let _ = pictures
                    .files
                    .remove_dir(&pictures.data, &pictures.image_dir(record.id))
                    .await;
                let existing = self
                    .store
                    .image_by_client_id(sender, &record.client_id)
                    .await?
                    .ok_or_else(|| ApiError::internal("an image vanished after a conflict"))?;
                Ok((self.finish(standing, sender, existing, false).await?, false))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Sends (or, on a retry, finds) the image's message and answers the sender.
    async fn finish(
        &self,
        standing: &TierStanding,
        sender: AccountId,
        image: ImageRecord,
        is_new: bool,
    ) -> Result<(bool, ImageView), ApiError> {
        let (_message, message_new) = self
            .deliver_message(
                sender,
                SendMessage {
                    kind: MessageKind::Image,
                    id: image.client_id.clone(),
                    body: Some(image.id.0.to_string()),
                    feeling: None,
                    sealed: None,
                },
            )
            .await?;
        let side = image.width.max(image.height);
        Ok((
            is_new || message_new,
            view(standing, &image, side, image.seen_strength),
        ))
    }

    /// The pictures of `viewer`'s bond, each as sharp as `viewer` may see it now.
    pub async fn images(&self, viewer: AccountId) -> Result<ImageList, ApiError> {
        let standing = self.image_standing(viewer).await?;
        let records = self.store.images_of_bond(standing.bond.id, 1000).await?;
        let mut images = Vec::with_capacity(records.len());
        for image in &records {
            let (side, seen) = allowed_side(&self.store, &standing, viewer, image).await?;
            images.push(view(&standing, image, side, seen));
        }
        Ok(ImageList { images })
    }

    /// Picture `id` of the bond (`None`: an id that could not be read, which names none).
    async fn image_of(
        &self,
        standing: &TierStanding,
        id: Option<Uuid>,
    ) -> Result<ImageRecord, ApiError> {
        let id = id.ok_or_else(no_such_image)?;
        self.store
            .image(ImageId(id))
            .await?
            .filter(|image| image.bond == standing.bond.id)
            .ok_or_else(no_such_image)
    }

    /// Picture `id` (`None`: unreadable) for `viewer`, at most `side` pixels on its longest side (as sharp as
    /// they may see it): its bytes, its type and the side it was cut to.
    pub async fn picture(
        &self,
        viewer: AccountId,
        id: Option<Uuid>,
        side: Option<u32>,
    ) -> Result<(Vec<u8>, String, u32), ApiError> {
        let standing = self.image_standing(viewer).await?;
        let image = self.image_of(&standing, id).await?;
        let longest = image.width.max(image.height);
        let (allowed, _) = allowed_side(&self.store, &standing, viewer, &image).await?;
        let wanted = side.map_or(allowed, |s| allowed.min(s));
        if image.sealed {
            // The largest rendition the sender's device sealed that the caller may see:
            // the same rung a plain bond's picture would be cut to.
            let side = sides_for(longest)
                .into_iter()
                .rev()
                .find(|&s| s <= wanted)
                .unwrap_or(longest.min(THUMBNAIL_SIDE));
            let pictures = &self.pictures;
            let bytes = pictures
                .files
                .get(&pictures.data, &pictures.sealed_path(&image, side))
                .await
                .map_err(ApiError::internal)?
                .ok_or_else(|| ApiError::internal("a sealed picture's rendition is missing"))?;
            return Ok((bytes, MEDIA_TYPE.to_owned(), side));
        }
        // Full size, or a rung of the ladder (never a size between two rungs).
        let side = if wanted >= longest {
            longest
        } else {
            snap(wanted).min(longest)
        };
        let bytes = self.pictures.rendition(&image, side).await?;
        Ok((bytes, image.stripped_type, side))
    }

    /// The original of picture `id` (metadata and all), only for its sender: its bytes
    /// and its type.
    pub async fn original(
        &self,
        sender: AccountId,
        id: Option<Uuid>,
    ) -> Result<(Vec<u8>, String), ApiError> {
        let standing = self.image_standing(sender).await?;
        let image = self.image_of(&standing, id).await?;
        if image.sealed {
            return Err(ApiError::conflict(
                "sealed_picture",
                "a private bond's picture has no original on the server: it stays on the \
                 device that sent it; ask for the picture (sealed) instead",
            ));
        }
        if image.sender != sender {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "not_your_original",
                "only the sender can fetch the original (it may carry where it was taken); ask for the picture instead",
            ));
        }
        let pictures = &self.pictures;
        let bytes = pictures
            .files
            .get(&pictures.data, &pictures.original_path(&image))
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::internal("a stored picture's original is missing"))?;
        Ok((bytes, image.original_type))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use haurach_bond::{Profile, TierSet};

    #[test]
    fn a_requested_side_snaps_down_to_a_rung() {
        assert_eq!(snap(1), THUMBNAIL_SIDE);
        assert_eq!(snap(64), 64);
        assert_eq!(snap(300), 256);
        assert_eq!(snap(100_000), 3072);
    }

    #[test]
    fn a_private_bonds_pictures_sharpen_with_its_open_tiers() {
        use haurach_bond::images::Side;
        let side = |tiers: &[Tier]| {
            let mut open = TierSet::EMPTY;
            for t in tiers {
                open.insert(*t);
            }
            rendition_side(
                Profile::Story,
                haurach_private::matcher::strength(Profile::Story, open),
            )
        };
        assert_eq!(side(&[]), Side::AtMost(THUMBNAIL_SIDE));
        assert_eq!(side(&[Tier::Alarm, Tier::Images]), Side::AtMost(64));
        assert_eq!(side(&[Tier::Images, Tier::Glimpse]), Side::AtMost(128));
        assert_eq!(side(&[Tier::Images, Tier::Sight]), Side::Full);
        assert_eq!(side(&[Tier::Memories]), Side::Full);
    }

    #[test]
    fn full_size_is_allowed_within_sight() {
        assert_eq!(
            rendition_side(haurach_bond::Profile::Story, 1.0),
            haurach_bond::images::Side::Full
        );
    }
}
