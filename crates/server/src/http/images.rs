//! Images between partners: the HTTP routes, where the pixels are kept on disk, and how
//! sharp a picture each partner gets.
//!
//! An upload (`POST /api/v1/bond/images?id=CLIENT_ID`, the picture's bytes as the body)
//! is checked and stripped of its metadata by `haurach_picture` on a blocking thread,
//! under [`Pictures::work`] (so a burst of uploads cannot decode more pictures at once
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

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use haurach_bond::Tier;
use haurach_bond::images::{LADDER, THUMBNAIL_SIDE, rendition_side};
use haurach_proto::{ImageList, ImageView, MessageKind, SendMessage};
use serde::Deserialize;
use uuid::Uuid;

use super::extract::Caller;
use super::state::AppState;
use crate::bus::Bus;
use crate::clock::{now_ms, timestamp};
use crate::error::ApiError;
use crate::runtime::hub::{TierStanding, not_bonded};
use crate::runtime::pictures::{Pictures, no_such_image};
use haurach_store::{AccountId, ImageId, ImageRecord, Store, StoreError};

/// `?id=CLIENT_ID` of an upload.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UploadQuery {
    id: String,
}

/// `?side=N` of a picture.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PictureQuery {
    side: Option<u32>,
}

async fn standing<S: Store, B: Bus>(
    app: &AppState<S, B>,
    account: AccountId,
) -> Result<TierStanding, ApiError> {
    app.hub
        .standing(account, Tier::Images)
        .await?
        .ok_or_else(not_bonded)
}

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
    }
}

pub(crate) async fn upload<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    query: Result<Query<UploadQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<ImageView>), ApiError> {
    let Query(UploadQuery { id: client_id }) = query.map_err(|_| {
        ApiError::bad_request(
            "invalid_query",
            "name the upload with ?id=CLIENT_ID (1 to 64 characters), so a retry is not stored twice",
        )
    })?;
    if client_id.is_empty() || client_id.chars().count() > 64 {
        return Err(ApiError::invalid(
            "invalid_message_id",
            "an image id must be 1 to 64 characters",
        ));
    }
    let standing = standing(&app, caller.account).await?;
    // A retry of an upload that was stored: finish it (its message may be missing after
    // a crash) and answer as the first time did.
    if let Some(existing) = app
        .hub
        .store
        .image_by_client_id(caller.account, &client_id)
        .await?
    {
        return finish(&app, &standing, caller.account, existing, false).await;
    }
    if let Some(other) = app
        .hub
        .store
        .message_by_client_id(caller.account, &client_id)
        .await?
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
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "image_too_large",
                format!(
                    "a picture is at most {} MB; this one is larger",
                    app.hub.config.max_image_bytes / (1024 * 1024)
                ),
            )
        } else {
            ApiError::bad_request("unreadable_body", rejection.body_text().to_lowercase())
        }
    })?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "image_required",
            "send the picture's bytes (JPEG, PNG or WebP) as the request body",
        ));
    }

    let pictures = &app.hub.pictures;
    let accepted = {
        let _permit = pictures.work.acquire().await.map_err(ApiError::internal)?;
        let (bytes, limits) = (bytes.clone(), pictures.limits);
        tokio::task::spawn_blocking(move || haurach_picture::accept(&bytes, limits))
            .await
            .map_err(ApiError::internal)??
    };
    let record = ImageRecord {
        id: ImageId::new(),
        bond: standing.bond.id,
        sender: caller.account,
        client_id: client_id.clone(),
        original_type: accepted.kind.mime().to_owned(),
        stripped_type: accepted.stripped_kind.mime().to_owned(),
        width: accepted.width,
        height: accepted.height,
        original_size: bytes.len() as u64,
        sent_at: now_ms(),
        // The receiver is told of it now: what they may see starts at today's strength.
        seen_strength: standing.strength,
    };
    {
        let (original, full) = (pictures.original_path(&record), pictures.full_path(&record));
        pictures
            .files
            .put(
                &pictures.data,
                vec![(original, bytes.to_vec()), (full, accepted.stripped)],
            )
            .await
            .map_err(ApiError::internal)?;
    }
    match app.hub.store.insert_image(&record).await {
        Ok(()) => {
            let answer = finish(&app, &standing, caller.account, record, true).await?;
            // "I saw you when I sent that image to you": a short look back, if the
            // receiver allows their camera.
            app.hub.return_glimpse(caller.account).await?;
            Ok(answer)
        }
        Err(StoreError::Conflict(_)) => {
            // A concurrent retry stored it first: ours is a spare copy.
            let _ = pictures
                .files
                .remove_dir(&pictures.data, &pictures.image_dir(record.id))
                .await;
            let existing = app
                .hub
                .store
                .image_by_client_id(caller.account, &client_id)
                .await?
                .ok_or_else(|| ApiError::internal("an image vanished after a conflict"))?;
            finish(&app, &standing, caller.account, existing, false).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Sends (or, on a retry, finds) the image's message and answers the sender.
async fn finish<S: Store, B: Bus>(
    app: &AppState<S, B>,
    standing: &TierStanding,
    sender: AccountId,
    image: ImageRecord,
    is_new: bool,
) -> Result<(StatusCode, Json<ImageView>), ApiError> {
    let (_message, message_new) = app
        .hub
        .deliver_message(
            sender,
            SendMessage {
                kind: MessageKind::Image,
                id: image.client_id.clone(),
                body: Some(image.id.0.to_string()),
                feeling: None,
            },
        )
        .await?;
    let status = if is_new || message_new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let side = image.width.max(image.height);
    Ok((
        status,
        Json(view(standing, &image, side, image.seen_strength)),
    ))
}

pub(crate) async fn list<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<Json<ImageList>, ApiError> {
    let standing = standing(&app, caller.account).await?;
    let records = app.hub.store.images_of_bond(standing.bond.id, 1000).await?;
    let mut images = Vec::with_capacity(records.len());
    for image in &records {
        let (side, seen) = allowed_side(&app.hub.store, &standing, caller.account, image).await?;
        images.push(view(&standing, image, side, seen));
    }
    Ok(Json(ImageList { images }))
}

async fn image_of<S: Store, B: Bus>(
    app: &AppState<S, B>,
    standing: &TierStanding,
    id: Result<UrlPath<Uuid>, PathRejection>,
) -> Result<ImageRecord, ApiError> {
    let UrlPath(id) = id.map_err(|_| no_such_image())?;
    app.hub
        .store
        .image(ImageId(id))
        .await?
        .filter(|image| image.bond == standing.bond.id)
        .ok_or_else(no_such_image)
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

pub(crate) async fn picture<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    id: Result<UrlPath<Uuid>, PathRejection>,
    query: Result<Query<PictureQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|_| {
        ApiError::bad_request("invalid_query", "side must be a whole number of pixels")
    })?;
    let standing = standing(&app, caller.account).await?;
    let image = image_of(&app, &standing, id).await?;
    let longest = image.width.max(image.height);
    let (allowed, _) = allowed_side(&app.hub.store, &standing, caller.account, &image).await?;
    let wanted = query.side.map_or(allowed, |s| allowed.min(s));
    // Full size, or a rung of the ladder (never a size between two rungs).
    let side = if wanted >= longest {
        longest
    } else {
        snap(wanted).min(longest)
    };
    let bytes = rendition(&app.hub.pictures, &image, side).await?;
    let mut res = bytes.into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&image.stripped_type).map_err(ApiError::internal)?,
    );
    headers.insert("haurach-side", HeaderValue::from(side));
    // The same URL sharpens as the partners come closer: never cache it blindly.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    Ok(res)
}

/// The picture at `side` (its longest side), cut and cached on first request.
async fn rendition(
    pictures: &Pictures,
    image: &ImageRecord,
    side: u32,
) -> Result<Vec<u8>, ApiError> {
    let longest = image.width.max(image.height);
    let full = pictures.full_path(image);
    let read_full = || async {
        pictures
            .files
            .get(&pictures.data, &full)
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::internal("a stored picture's file is missing"))
    };
    if side >= longest {
        return read_full().await;
    }
    // Renditions are a cache on this node's disk, whichever store keeps the pictures.
    let path = pictures.rendition_path(image, side);
    match tokio::fs::read(&path).await {
        Ok(bytes) => return Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(ApiError::internal(e)),
    }
    let stripped = read_full().await?;
    let _permit = pictures.work.acquire().await.map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(move || -> Result<Vec<u8>, ApiError> {
        let bytes = haurach_picture::render(&stripped, side).map_err(ApiError::internal)?;
        // A cache: it can be cut again, so it is not synced. The rename makes a
        // half-written file impossible to read.
        let tmp = path.with_extension(format!("{}.tmp", Uuid::now_v7()));
        std::fs::create_dir_all(path.parent().expect("a rendition has a directory"))
            .and_then(|()| std::fs::write(&tmp, &bytes))
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(ApiError::internal)?;
        Ok(bytes)
    })
    .await
    .map_err(ApiError::internal)?
}

pub(crate) async fn original<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    id: Result<UrlPath<Uuid>, PathRejection>,
) -> Result<Response, ApiError> {
    let standing = standing(&app, caller.account).await?;
    let image = image_of(&app, &standing, id).await?;
    if image.sender != caller.account {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_your_original",
            "only the sender can fetch the original (it may carry where it was taken); ask for the picture instead",
        ));
    }
    let bytes = app
        .hub
        .pictures
        .files
        .get(
            &app.hub.pictures.data,
            &app.hub.pictures.original_path(&image),
        )
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::internal("a stored picture's original is missing"))?;
    let mut res = bytes.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&image.original_type).map_err(ApiError::internal)?,
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_requested_side_snaps_down_to_a_rung() {
        assert_eq!(snap(1), THUMBNAIL_SIDE);
        assert_eq!(snap(64), 64);
        assert_eq!(snap(300), 256);
        assert_eq!(snap(100_000), 3072);
    }

    #[test]
    fn full_size_is_allowed_within_sight() {
        assert_eq!(
            rendition_side(haurach_bond::Profile::Story, 1.0),
            haurach_bond::images::Side::Full
        );
    }
}
