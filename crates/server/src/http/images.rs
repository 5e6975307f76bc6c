//! Images between partners: the HTTP routes. What they do is the hub's
//! ([`runtime::images`](crate::runtime::images)).
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
//!
//! In a private bond the sender's device makes and seals the renditions and sends them in
//! one request (`POST /api/v1/bond/images/sealed?id=CLIENT_ID`,
//! `haurach_proto::sealed_pictures`); they are kept the same way, in the same order, and
//! the receiver is served the largest sealed one the same rule allows.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use haurach_proto::{ImageList, ImageView};
use haurach_store::Store;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::extract::Caller;
use super::state::AppState;
use crate::bus::Bus;
use crate::error::ApiError;

/// `?id=CLIENT_ID` of an upload.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct UploadQuery {
    /// The sender's id for the picture (1 to 64 characters): a retry with the same id is
    /// not stored twice.
    #[param(min_length = 1, max_length = 64)]
    id: String,
}

/// `?side=N` of a picture.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct PictureQuery {
    /// The longest side wanted, pixels (never sharper than the caller may see): a whole
    /// number of 32 bits, which OpenAPI's `int32` (signed) is not.
    #[param(value_type = Option<u64>, maximum = 4_294_967_295u64)]
    side: Option<u32>,
}

/// `POST /api/v1/bond/images?id=CLIENT_ID`: send a picture (201; 200 for a retry).
#[utoipa::path(
    post,
    path = "/api/v1/bond/images",
    tag = "pictures",
    security(("bearer" = [])),
    params(UploadQuery),
    request_body(description = "the picture's bytes: a JPEG, PNG or WebP (max_image_bytes, max_image_megapixels)", content((inline(haurach_proto::schemas::RawBytes) = "image/jpeg"), (inline(haurach_proto::schemas::RawBytes) = "image/png"), (inline(haurach_proto::schemas::RawBytes) = "image/webp"))),
    responses(
        (status = 201, description = "stored without its metadata; its message follows to both partners", body = ImageView),
        (status = 200, description = "a retry with the id of a stored picture: that picture, not stored twice", body = ImageView),
        (status = 400, description = "`invalid_query`: no ?id=; `image_required`: an empty body; `unreadable_body`"),
        (status = 403, description = "`tier_closed` (images); `awaiting_tower`, `application_declined`"),
        (status = 404, description = "`not_bonded`"),
        (status = 409, description = "`message_id_reused`; `private_bond`: the bond is private (seal the picture on your device and send it to /api/v1/bond/images/sealed)"),
        (status = 413, description = "`image_too_large`: over max_image_bytes; `picture_quota_exceeded`: over picture_quota_bytes"),
        (status = 415, description = "`unsupported_image_type`: not a JPEG, PNG or WebP"),
        (status = 422, description = "`too_many_pixels`, `too_compressed`, `corrupt_image`, `invalid_message_id`"),
        (status = 429, description = "`picture_budget_spent`: your pictures took their decoding time lately (Retry-After says when)"),
        (status = 503, description = "`pictures_busy`: too many pictures wait to be decoded (Retry-After says when)"),
    )
)]
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
    let max_mb = app.hub.config.max_image_bytes / (1024 * 1024);
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "image_too_large",
                format!("a picture is at most {max_mb} MB; this one is larger"),
            )
        } else {
            ApiError::bad_request("unreadable_body", rejection.body_text().to_lowercase())
        }
    });
    let (new, view) = app.hub.send_image(caller.account, client_id, bytes).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)))
}

/// `POST /api/v1/bond/images/sealed?id=CLIENT_ID`: send a picture in a private bond, its
/// renditions made and sealed on the sender's device (201; 200 for a retry).
#[utoipa::path(
    post,
    path = "/api/v1/bond/images/sealed",
    tag = "pictures",
    security(("bearer" = [])),
    params(UploadQuery),
    request_body(description = "a private bond's picture, sealed on the sender's device \
        (haurach_proto::sealed_pictures, docs/protocol.md): its renditions one after the other, \
        smallest first, each as its longest side (4 bytes, big-endian), its length (4 bytes, \
        big-endian) and its sealed bytes (the sender's counter, 8 bytes big-endian, then \
        nonce, ciphertext and tag of AES-256-GCM, kind picture). The sides are every rung \
        of the ladder (64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072) below \
        the picture's longest side, then that side: at most 13. The body is at most twice \
        max_image_bytes, the largest rendition at most max_image_bytes.",
        content((inline(haurach_proto::schemas::RawBytes) = "application/vnd.haurach.sealed-picture"))),
    responses(
        (status = 201, description = "stored as it came; its message follows to both partners", body = ImageView),
        (status = 200, description = "a retry with the id of a stored picture: that picture, not stored twice", body = ImageView),
        (status = 400, description = "`invalid_query`: no ?id=; `image_required`: an empty body; `unreadable_body`"),
        (status = 403, description = "`tier_closed` (images); `awaiting_tower`, `application_declined`"),
        (status = 404, description = "`not_bonded`"),
        (status = 409, description = "`message_id_reused`; `unexpected_sealed`: the bond is not private (send the picture itself)"),
        (status = 413, description = "`image_too_large`: over twice max_image_bytes; `picture_quota_exceeded`: over picture_quota_bytes"),
        (status = 422, description = "`invalid_sealed_picture`: not the renditions' shape (truncated, too many, too short, wrong sides, too large); `invalid_message_id`"),
    )
)]
pub(crate) async fn upload_sealed<S: Store, B: Bus>(
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
    let max_mb = 2 * app.hub.config.max_image_bytes / (1024 * 1024);
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "image_too_large",
                format!("a sealed picture's renditions are at most {max_mb} MB together; these are larger"),
            )
        } else {
            ApiError::bad_request("unreadable_body", rejection.body_text().to_lowercase())
        }
    });
    let (new, view) = app
        .hub
        .send_sealed_image(caller.account, client_id, bytes)
        .await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)))
}

/// `GET /api/v1/bond/images`.
#[utoipa::path(
    get,
    summary = "The bond's pictures, oldest first.",
    path = "/api/v1/bond/images",
    tag = "pictures",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the bond's pictures, oldest first", body = ImageList),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`not_bonded`"),
    )
)]
pub(crate) async fn list<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<Json<ImageList>, ApiError> {
    Ok(Json(app.hub.images(caller.account).await?))
}

/// The image's id from the path; one that cannot be read names no image.
fn image_id(id: Result<UrlPath<Uuid>, PathRejection>) -> Option<Uuid> {
    id.ok().map(|UrlPath(id)| id)
}

/// `GET /api/v1/bond/images/{id}/picture?side=N`: the picture as sharp as the caller may
/// see it now.
#[utoipa::path(
    get,
    path = "/api/v1/bond/images/{id}/picture",
    tag = "pictures",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the picture's id"), PictureQuery),
    responses(
        (status = 200, description = "the picture, as sharp as the caller may see it now; a private bond's picture is the rendition its sender's device sealed (application/vnd.haurach.sealed-picture: the counter, 8 bytes big-endian, then nonce, ciphertext and tag), the largest at most that side", content((inline(haurach_proto::schemas::RawBytes) = "image/jpeg"), (inline(haurach_proto::schemas::RawBytes) = "image/png"), (inline(haurach_proto::schemas::RawBytes) = "image/webp"), (inline(haurach_proto::schemas::RawBytes) = "application/vnd.haurach.sealed-picture")),
            headers(("haurach-side" = u32, description = "the longest side of this rendition, pixels"))),
        (status = 400, description = "`invalid_query`: side is not a whole number"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`not_bonded`, `no_such_image`"),
    )
)]
pub(crate) async fn picture<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    id: Result<UrlPath<Uuid>, PathRejection>,
    query: Result<Query<PictureQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|_| {
        ApiError::bad_request("invalid_query", "side must be a whole number of pixels")
    })?;
    let id = image_id(id);
    let (bytes, kind, side) = app.hub.picture(caller.account, id, query.side).await?;
    let mut res = bytes.into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&kind).map_err(ApiError::internal)?,
    );
    headers.insert("haurach-side", HeaderValue::from(side));
    // The same URL sharpens as the partners come closer: never cache it blindly.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    Ok(res)
}

/// `GET /api/v1/bond/images/{id}/original`: the sender's own original.
#[utoipa::path(
    get,
    path = "/api/v1/bond/images/{id}/original",
    tag = "pictures",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the picture's id")),
    responses(
        (status = 200, description = "the original, metadata and all", content((inline(haurach_proto::schemas::RawBytes) = "image/jpeg"), (inline(haurach_proto::schemas::RawBytes) = "image/png"), (inline(haurach_proto::schemas::RawBytes) = "image/webp"))),
        (status = 403, description = "`not_your_original`: only its sender; `awaiting_tower`, `application_declined`"),
        (status = 404, description = "`not_bonded`, `no_such_image`"),
        (status = 409, description = "`sealed_picture`: a private bond's picture has no original on the server"),
    )
)]
pub(crate) async fn original<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    id: Result<UrlPath<Uuid>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = image_id(id);
    let (bytes, kind) = app.hub.original(caller.account, id).await?;
    let mut res = bytes.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&kind).map_err(ApiError::internal)?,
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    Ok(res)
}
