//! Memories: each citizen's private journal of words and photos. When the partners are
//! together (the memories tier, 25 m in every profile) their journals open to each
//! other, and what was opened stays shared afterwards, whatever the distance.
//!
//! Opening marks every entry of both journals not yet opened to this bond as opened, in
//! one statement per partner (idempotent: an entry is opened once, to the first bond that
//! opens it). It happens:
//!
//! - the moment the partners come together: when the hub sees the memories tier open
//!   (`Hub::open_journals`, under the bond's lock, committed before the `tier` frame goes
//!   out and before the fix that brought them together is acknowledged), also when a
//!   bond is made between partners already together and when a node loads a bond whose
//!   partners are together. So a partner who never touches the journal while together
//!   still reads the other's entries afterwards. With several nodes every node holding
//!   the bond does it for its own copy; the second time changes nothing;
//! - whenever either partner touches the journals while together (writes an entry or
//!   reads either journal), before the answer: so an entry written while together is
//!   open at once.
//!
//! An entry written while apart stays private until the next time they are together.
//!
//! Photos are accepted like pictures (`haurach_picture::accept`: type, size and bombs
//! checked, every piece of metadata stripped) and kept under `DATA/memories/ID/`. The
//! original is not kept: a journal photo is shown, never handed back with its location.

use std::path::PathBuf;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use haurach_bond::Tier;
use haurach_picture::Kind;
use haurach_proto::{MemoryList, MemoryView, NewMemory};
use serde::Deserialize;
use uuid::Uuid;

use super::extract::Caller;
use super::state::AppState;
use crate::bus::Bus;
use crate::clock::{now_ms, timestamp};
use crate::error::ApiError;
use crate::runtime::hub::TierStanding;
use haurach_store::{AccountId, MemoryRecord, Store, StoreError};

fn dir(app_data: &std::path::Path, id: Uuid) -> PathBuf {
    app_data.join("memories").join(id.to_string())
}

fn photo_path(app_data: &std::path::Path, m: &MemoryRecord) -> Option<PathBuf> {
    let kind = Kind::from_mime(m.photo_type.as_deref()?)?;
    Some(dir(app_data, m.id).join(format!("photo.{}", kind.extension())))
}

/// The bond as it stands for memories; when the partners are together, opens both
/// journals to it first.
async fn together<S: Store, B: Bus>(
    app: &AppState<S, B>,
    account: AccountId,
) -> Result<Option<TierStanding>, ApiError> {
    let Some(standing) = app.hub.standing(account, Tier::Memories).await? else {
        return Ok(None);
    };
    if standing.open {
        let now = now_ms();
        for member in standing.bond.members {
            app.hub
                .store
                .open_memories(member, standing.bond.id, now)
                .await?;
        }
    }
    Ok(Some(standing))
}

fn view(author: &str, m: &MemoryRecord) -> MemoryView {
    MemoryView {
        id: m.id,
        author: author.to_owned(),
        body: m.body.clone(),
        photo: m
            .photo_type
            .as_ref()
            .map(|_| format!("/api/v1/memories/{}/photo", m.id)),
        created_at: timestamp(m.created_at),
        shared_at: m.shared.map(|(_, at)| timestamp(at)),
    }
}

async fn my_name<S: Store, B: Bus>(
    app: &AppState<S, B>,
    account: AccountId,
) -> Result<String, ApiError> {
    Ok(app
        .hub
        .store
        .account(account)
        .await?
        .ok_or_else(|| ApiError::unauthorized("this account no longer exists"))?
        .name)
}

fn check_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.chars().count() > 64 {
        return Err(ApiError::invalid(
            "invalid_memory_id",
            "a memory's id must be 1 to 64 characters",
        ));
    }
    Ok(())
}

/// Stores an entry, or finds the one a retry already stored.
async fn store<S: Store, B: Bus>(
    app: &AppState<S, B>,
    caller: AccountId,
    record: MemoryRecord,
    files: Option<Vec<u8>>,
) -> Result<(StatusCode, Json<MemoryView>), ApiError> {
    if let Some(existing) = app
        .hub
        .store
        .memory_by_client_id(caller, &record.client_id)
        .await?
    {
        together(app, caller).await?;
        let existing = app.hub.store.memory(existing.id).await?.unwrap_or(existing);
        return Ok((
            StatusCode::OK,
            Json(view(&my_name(app, caller).await?, &existing)),
        ));
    }
    if let (Some(bytes), Some(path)) = (files, photo_path(&app.hub.config.data, &record)) {
        app.hub
            .pictures
            .files
            .put(app.hub.pictures.data(), vec![(path, bytes)])
            .await
            .map_err(ApiError::internal)?;
    }
    match app.hub.store.insert_memory(&record).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::conflict(
                "memory_id_reused",
                "a concurrent request stored a memory under this id; retry to get it",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    together(app, caller).await?;
    let stored = app.hub.store.memory(record.id).await?.unwrap_or(record);
    Ok((
        StatusCode::CREATED,
        Json(view(&my_name(app, caller).await?, &stored)),
    ))
}

pub(crate) async fn write<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    body: Result<Json<NewMemory>, JsonRejection>,
) -> Result<(StatusCode, Json<MemoryView>), ApiError> {
    let Json(new) = body?;
    check_id(&new.id)?;
    let n = new.body.chars().count();
    if new.body.trim().is_empty() || n > 10_000 {
        return Err(ApiError::invalid(
            "invalid_memory",
            "a memory is 1 to 10,000 characters",
        ));
    }
    let record = MemoryRecord {
        id: Uuid::now_v7(),
        account: caller.account,
        client_id: new.id,
        body: Some(new.body),
        photo_type: None,
        created_at: now_ms(),
        shared: None,
    };
    store(&app, caller.account, record, None).await
}

/// `?id=CLIENT_ID&caption=...` of a photo.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PhotoQuery {
    id: String,
    caption: Option<String>,
}

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
    check_id(&q.id)?;
    let bytes = body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "image_too_large",
                "this photo is larger than the server accepts",
            )
        } else {
            ApiError::bad_request("unreadable_body", r.body_text().to_lowercase())
        }
    })?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "image_required",
            "send the photo's bytes (JPEG, PNG or WebP) as the request body",
        ));
    }
    let accepted = {
        let _permit = app
            .hub
            .pictures
            .work()
            .acquire()
            .await
            .map_err(ApiError::internal)?;
        let limits = haurach_picture::Limits {
            max_pixels: u64::from(app.hub.config.max_image_megapixels) * 1_000_000,
        };
        tokio::task::spawn_blocking(move || haurach_picture::accept(&bytes, limits))
            .await
            .map_err(ApiError::internal)??
    };
    let record = MemoryRecord {
        id: Uuid::now_v7(),
        account: caller.account,
        client_id: q.id,
        body: q.caption.filter(|c| !c.trim().is_empty()),
        photo_type: Some(accepted.stripped_kind.mime().to_owned()),
        created_at: now_ms(),
        shared: None,
    };
    store(&app, caller.account, record, Some(accepted.stripped)).await
}

pub(crate) async fn mine<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<Json<MemoryList>, ApiError> {
    let standing = together(&app, caller.account).await?;
    let name = my_name(&app, caller.account).await?;
    let memories = app.hub.store.memories_of(caller.account, None).await?;
    Ok(Json(MemoryList {
        open: standing.is_some_and(|s| s.open),
        memories: memories.iter().map(|m| view(&name, m)).collect(),
    }))
}

pub(crate) async fn partners<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<Json<MemoryList>, ApiError> {
    let standing = together(&app, caller.account).await?.ok_or_else(|| {
        ApiError::not_found(
            "not_bonded",
            "you have no partner yet: make an invite or accept your partner's",
        )
    })?;
    let partner_idx = 1 - standing.idx;
    let memories = app
        .hub
        .store
        .memories_of(standing.bond.members[partner_idx], Some(standing.bond.id))
        .await?;
    let name = &standing.bond.names[partner_idx];
    Ok(Json(MemoryList {
        open: standing.open,
        memories: memories.iter().map(|m| view(name, m)).collect(),
    }))
}

pub(crate) async fn photo<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    id: Result<UrlPath<Uuid>, PathRejection>,
) -> Result<Response, ApiError> {
    let missing = || ApiError::not_found("no_such_memory", "there is no such memory you may see");
    let UrlPath(id) = id.map_err(|_| missing())?;
    let standing = together(&app, caller.account).await?;
    let memory = app.hub.store.memory(id).await?.ok_or_else(missing)?;
    let may_see = memory.account == caller.account
        || standing.is_some_and(|s| {
            memory.account == s.bond.members[1 - s.idx]
                && memory.shared.is_some_and(|(bond, _)| bond == s.bond.id)
        });
    if !may_see {
        return Err(missing());
    }
    let path = photo_path(&app.hub.config.data, &memory).ok_or_else(missing)?;
    let bytes = app
        .hub
        .pictures
        .files
        .get(app.hub.pictures.data(), &path)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(missing)?;
    let mut res = bytes.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(memory.photo_type.as_deref().unwrap_or("image/jpeg"))
            .map_err(ApiError::internal)?,
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    Ok(res)
}
