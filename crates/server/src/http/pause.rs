//! Pausing one's sharing (`/api/v1/me/pause`): for a while or until resumed. While
//! paused, positions from every source are accepted and dropped (see
//! `runtime/pausing.rs`).

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use haurach_proto::{PauseRequest, PauseView};
use haurach_store::Store;

use super::extract::Caller;
use super::state::AppState;
use crate::bus::Bus;
use crate::clock::now_ms;
use crate::error::ApiError;

/// The longest pause with an end: a year (a longer one is "until I resume").
const LONGEST_MS: i64 = 366 * 24 * 3600 * 1000;

/// `GET /api/v1/me/pause`: whether my sharing is paused, and until when.
#[utoipa::path(
    get,
    summary = "Whether my sharing is paused.",
    path = "/api/v1/me/pause",
    tag = "accounts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "paused or not, since and until when", body = PauseView),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
    )
)]
pub async fn get_pause<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<Json<PauseView>, ApiError> {
    Ok(Json(app.hub.pause_of(caller.account).await?))
}

/// `PUT /api/v1/me/pause`: pause sharing until `until`, or until resumed. Replaces a
/// pause already set.
#[utoipa::path(
    put,
    summary = "Pause sharing my position, for a while or until I resume.",
    path = "/api/v1/me/pause",
    tag = "accounts",
    security(("bearer" = [])),
    request_body = PauseRequest,
    responses(
        (status = 200, description = "paused (committed), and both partners told", body = PauseView),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 422, description = "`invalid_pause`: `until` is not in the future, or more than a year away"),
    )
)]
pub async fn put_pause<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    body: Result<Json<PauseRequest>, JsonRejection>,
) -> Result<Json<PauseView>, ApiError> {
    let Json(request) = body?;
    let now = now_ms();
    let until_ms = match request.until {
        None => None,
        Some(until) => {
            let ms = i64::try_from(until.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
            if ms <= now {
                return Err(ApiError::invalid(
                    "invalid_pause",
                    "until must be in the future: leave it out to pause until you resume",
                ));
            }
            if ms - now > LONGEST_MS {
                return Err(ApiError::invalid(
                    "invalid_pause",
                    "until is more than a year away: leave it out to pause until you resume",
                ));
            }
            Some(ms)
        }
    };
    Ok(Json(app.hub.pause(caller.account, until_ms).await?))
}

/// `DELETE /api/v1/me/pause`: resume sharing now.
#[utoipa::path(
    delete,
    summary = "Resume sharing my position.",
    path = "/api/v1/me/pause",
    tag = "accounts",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "sharing (it was paused: both partners are told; it was not: nothing changed)"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
    )
)]
pub async fn delete_pause<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    app.hub.resume(caller.account).await?;
    Ok(StatusCode::NO_CONTENT)
}
