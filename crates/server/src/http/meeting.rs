//! The meeting point's routes (`/api/v1/bond/meeting`): they call the hub
//! ([`runtime::meeting`](crate::runtime::meeting)).

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use haurach_proto::{MeetingView, PinMeeting};
use haurach_store::Store;

use super::extract::Caller;
use super::state::AppState;
use crate::bus::Bus;
use crate::error::ApiError;

/// `GET /api/v1/bond/meeting`.
pub async fn get_meeting<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<Json<MeetingView>, ApiError> {
    Ok(Json(app.hub.meeting_view(caller.account).await?))
}

/// `PUT /api/v1/bond/meeting`: pin it (committed, then both partners get a `meeting`
/// frame).
pub async fn pin_meeting<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    body: Result<Json<PinMeeting>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(pin) = body?;
    app.hub.pin_meeting(caller.account, pin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/bond/meeting`: unpin it.
pub async fn unpin_meeting<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    app.hub.unpin_meeting(caller.account).await?;
    Ok(StatusCode::NO_CONTENT)
}
