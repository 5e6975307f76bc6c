//! A person's data as one zip (`runtime/export.rs` says what is in it): their own, at
//! `GET /api/v1/me/export`, and anyone's for the tower, at
//! `GET /api/v1/tower/people/{name}/export` (a request the tower makes for someone who
//! asked for their data, or before removing them).

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use haurach_store::{AccountId, Store};
use time::macros::format_description;

use super::access::AUDIT;
use super::extract::{Caller, Tower};
use super::letters::content_disposition;
use super::state::AppState;
use super::tower::person;
use crate::bus::Bus;
use crate::clock::{now_ms, timestamp};
use crate::error::ApiError;

/// `GET /api/v1/me/export`: everything the city keeps of the caller, as a zip.
#[utoipa::path(
    get,
    path = "/api/v1/me/export",
    tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "my data as a zip (JSON, GPX, and my pictures, journal photos and parcels), an attachment", body = inline(haurach_proto::schemas::RawBytes), content_type = "application/zip"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
    )
)]
pub async fn my_export<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    zip_response(&app, caller.account).await
}

/// `GET /api/v1/tower/people/{name}/export`: everything the city keeps of a person, as a
/// zip, for the tower.
#[utoipa::path(
    get,
    path = "/api/v1/tower/people/{name}/export",
    tag = "gate",
    security(("bearer" = [])),
    params(("name" = inline(haurach_proto::schemas::AccountName), Path, description = "the person's account name")),
    responses(
        (status = 200, description = "their data as a zip (JSON, GPX, and their pictures, journal photos and parcels), an attachment", body = inline(haurach_proto::schemas::RawBytes), content_type = "application/zip"),
        (status = 400, description = "`invalid_path`"),
        (status = 403, description = "`tower_only`; `awaiting_tower`, `application_declined`"),
        (status = 404, description = "`no_such_citizen`"),
    )
)]
pub async fn person_export<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    tower: Tower,
    name: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let account = person(&app.hub.store, name).await?;
    tracing::info!(
        target: AUDIT,
        tower = %tower.0.account.0,
        person = %account.0,
        "the tower exported a person's data"
    );
    zip_response(&app, account).await
}

/// The zip of `account`'s data, as an attachment named after them and the day.
async fn zip_response<S: Store, B: Bus>(
    app: &AppState<S, B>,
    account: AccountId,
) -> Result<Response, ApiError> {
    let name = app
        .hub
        .store
        .account(account)
        .await?
        .map(|a| a.name)
        .unwrap_or_default();
    let zip = app.hub.export(account).await?;
    let day = timestamp(now_ms())
        .format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default();
    let mut res = zip.into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    // Positions and letters: no cache along the way may keep a copy.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&content_disposition(&format!("haurach-{name}-{day}.zip")))
    {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}
