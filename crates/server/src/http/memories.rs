//! The journals' routes (`/api/v1/me/memories`, `/api/v1/bond/memories`,
//! `/api/v1/memories/{id}/photo`). What a journal is and when it opens is the hub's
//! ([`runtime::memories`](crate::runtime::memories)).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use haurach_proto::{MemoryList, MemoryView, NewMemory};
use haurach_store::Store;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::extract::Caller;
use super::state::AppState;
use crate::bus::Bus;
use crate::error::ApiError;

fn created_or_found(new: bool) -> StatusCode {
    if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// `POST /api/v1/me/memories`: words in your journal (sealed in a private bond).
#[utoipa::path(
    post,
    path = "/api/v1/me/memories",
    tag = "journals",
    security(("bearer" = [])),
    request_body = NewMemory,
    responses(
        (status = 201, description = "written", body = MemoryView),
        (status = 200, description = "a retry with the id of a stored entry: that entry, not stored twice", body = MemoryView),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 409, description = "`memory_id_reused`; `private_bond`: words in the clear on a private bond (seal them); `unexpected_sealed`: sealed words on a plain bond"),
        (status = 422, description = "`invalid_memory_id`, `invalid_memory`; `invalid_sealed`: not base64url, too short or too long"),
    )
)]
pub(crate) async fn write<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    body: Result<Json<NewMemory>, JsonRejection>,
) -> Result<(StatusCode, Json<MemoryView>), ApiError> {
    let Json(new) = body?;
    let (new, view) = app.hub.write_memory(caller.account, new).await?;
    Ok((created_or_found(new), Json(view)))
}

/// The problem for a photo's body that could not be read: `what` is larger than the
/// server accepts (413), or unreadable.
fn photo_body(rejection: &BytesRejection, what: &str) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "image_too_large",
            format!("{what} is larger than the server accepts"),
        )
    } else {
        ApiError::bad_request("unreadable_body", rejection.body_text().to_lowercase())
    }
}

/// `?id=CLIENT_ID&caption=...` of a photo.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct PhotoQuery {
    /// My id for the photo (1 to 64 characters): a retry with the same id is not stored
    /// twice.
    #[param(min_length = 1, max_length = 64)]
    id: String,
    /// Words to go with it.
    caption: Option<String>,
}

/// `POST /api/v1/me/memories/photos?id=CLIENT_ID`: a photo in your journal.
#[utoipa::path(
    post,
    path = "/api/v1/me/memories/photos",
    tag = "journals",
    security(("bearer" = [])),
    params(PhotoQuery),
    request_body(description = "the photo's bytes: a JPEG, PNG or WebP, stored without its metadata", content((inline(haurach_proto::schemas::RawBytes) = "image/jpeg"), (inline(haurach_proto::schemas::RawBytes) = "image/png"), (inline(haurach_proto::schemas::RawBytes) = "image/webp"))),
    responses(
        (status = 201, description = "written", body = MemoryView),
        (status = 200, description = "a retry with the id of a stored entry: that entry, not stored twice", body = MemoryView),
        (status = 400, description = "`invalid_query`: no ?id=; `image_required`: an empty body; `unreadable_body`"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`not_bonded`: a journal photo waits for a partner"),
        (status = 409, description = "`memory_id_reused`; `private_bond`: the bond is private (seal the photo on your device and send it to /api/v1/me/memories/photos/sealed)"),
        (status = 413, description = "`image_too_large`; `picture_quota_exceeded`: over picture_quota_bytes"),
        (status = 415, description = "`unsupported_image_type`: not a JPEG, PNG or WebP"),
        (status = 422, description = "`too_many_pixels`, `too_compressed`, `corrupt_image`, `invalid_memory_id`"),
        (status = 429, description = "`picture_budget_spent`: your pictures took their decoding time lately (Retry-After says when)"),
        (status = 503, description = "`pictures_busy`: too many pictures wait to be decoded (Retry-After says when)"),
    )
)]
pub(crate) async fn write_photo<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    query: Result<Query<PhotoQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<MemoryView>), ApiError> {
    let Query(q) = query.map_err(|_| {
        ApiError::bad_request(
            "invalid_query",
            "name the photo with ?id=CLIENT_ID (and a ?caption= if you like)",
        )
    })?;
    let bytes = body.map_err(|r| photo_body(&r, "this photo"));
    let (new, view) = app
        .hub
        .write_memory_photo(caller.account, q.id, q.caption, bytes)
        .await?;
    Ok((created_or_found(new), Json(view)))
}

/// `?id=CLIENT_ID` of a sealed photo (its caption is sealed inside it).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SealedPhotoQuery {
    /// My id for the photo (1 to 64 characters): a retry with the same id is not stored
    /// twice. The same id is sealed inside the photo.
    #[param(min_length = 1, max_length = 64)]
    id: String,
}

/// `POST /api/v1/me/memories/photos/sealed?id=CLIENT_ID`: a photo in your journal, in a
/// private bond, stripped and sealed on your device with its caption.
#[utoipa::path(
    post,
    path = "/api/v1/me/memories/photos/sealed",
    tag = "journals",
    security(("bearer" = [])),
    params(SealedPhotoQuery),
    request_body(description = "a private bond's journal photo, sealed on the author's device \
        (docs/protocol.md, \"Sealed journal photos\"): the author's counter (8 bytes, \
        big-endian), then nonce, ciphertext and tag of AES-256-GCM (kind memory-photo) of the \
        header's length (4 bytes, big-endian), the header as JSON ({\"id\", \"caption\"}) \
        and the photo without its metadata. At most max_image_bytes and 64 KiB.",
        content((inline(haurach_proto::schemas::RawBytes) = "application/octet-stream"))),
    responses(
        (status = 201, description = "kept as it came", body = MemoryView),
        (status = 200, description = "a retry with the id of a stored entry: that entry, not stored twice", body = MemoryView),
        (status = 400, description = "`invalid_query`: no ?id=; `image_required`: an empty body; `unreadable_body`"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`not_bonded`: a journal photo waits for a partner"),
        (status = 409, description = "`memory_id_reused`; `unexpected_sealed`: the bond is not private (send the photo itself)"),
        (status = 413, description = "`image_too_large`; `picture_quota_exceeded`: over picture_quota_bytes"),
        (status = 422, description = "`invalid_memory_id`; `invalid_sealed`: shorter than a counter, a nonce and a tag"),
    )
)]
pub(crate) async fn write_sealed_photo<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    query: Result<Query<SealedPhotoQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<MemoryView>), ApiError> {
    let Query(q) = query.map_err(|_| {
        ApiError::bad_request(
            "invalid_query",
            "name the photo with ?id=CLIENT_ID (its caption travels sealed inside it)",
        )
    })?;
    let bytes = body.map_err(|r| photo_body(&r, "this sealed photo"));
    let (new, view) = app
        .hub
        .write_sealed_memory_photo(caller.account, q.id, bytes)
        .await?;
    Ok((created_or_found(new), Json(view)))
}

/// `GET /api/v1/me/memories`: your journal.
#[utoipa::path(
    get,
    path = "/api/v1/me/memories",
    tag = "journals",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "my journal, oldest first (opening both journals first when we are together)", body = MemoryList),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
    )
)]
pub(crate) async fn mine<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<Json<MemoryList>, ApiError> {
    Ok(Json(app.hub.my_memories(caller.account).await?))
}

/// `GET /api/v1/bond/memories`: what your partner's journal has opened to you.
#[utoipa::path(
    get,
    path = "/api/v1/bond/memories",
    tag = "journals",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "my partner's journal as far as it opened to me", body = MemoryList),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`not_bonded`"),
    )
)]
pub(crate) async fn partners<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<Json<MemoryList>, ApiError> {
    Ok(Json(app.hub.partners_memories(caller.account).await?))
}

/// `GET /api/v1/memories/{id}/photo`.
#[utoipa::path(
    get,
    summary = "A journal photo: mine, or my partner's once it opened to me.",
    path = "/api/v1/memories/{id}/photo",
    tag = "journals",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the journal entry's id")),
    responses(
        (status = 200, description = "the photo: mine, or my partner's once it opened to me; in a private bond sealed, as its author's device uploaded it", content((inline(haurach_proto::schemas::RawBytes) = "image/jpeg"), (inline(haurach_proto::schemas::RawBytes) = "image/png"), (inline(haurach_proto::schemas::RawBytes) = "image/webp"), (inline(haurach_proto::schemas::RawBytes) = "application/vnd.haurach.sealed-photo"))),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`no_such_memory` I may see"),
    )
)]
pub(crate) async fn photo<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    id: Result<UrlPath<Uuid>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = id.ok().map(|UrlPath(id)| id);
    let (bytes, kind) = app.hub.memory_photo(caller.account, id).await?;
    let mut res = bytes.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&kind).map_err(ApiError::internal)?,
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    Ok(res)
}
