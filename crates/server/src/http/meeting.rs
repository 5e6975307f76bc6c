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
#[utoipa::path(
    get,
    summary = "Where to meet: suggested (fair to both) or pinned.",
    path = "/api/v1/bond/meeting",
    tag = "places",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "where to meet: suggested (fair to both) or pinned, with each one's distance and ETA", body = MeetingView),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`not_bonded`; `meeting_unknown`: both partners need a position, or a pin"),
    )
)]
pub async fn get_meeting<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<Json<MeetingView>, ApiError> {
    Ok(Json(app.hub.meeting_view(caller.account).await?))
}

/// `PUT /api/v1/bond/meeting`: pin it (committed, then both partners get a `meeting`
/// frame).
#[utoipa::path(
    put,
    path = "/api/v1/bond/meeting",
    tag = "places",
    security(("bearer" = [])),
    request_body = PinMeeting,
    responses(
        (status = 204, description = "pinned; both partners are told"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`not_bonded`, `place_not_found`"),
        (status = 409, description = "`private_bond`: a private bond keeps no meeting point"),
        (status = 422, description = "`invalid_pin`, `invalid_position`, `invalid_place_name`"),
    )
)]
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
#[utoipa::path(
    delete,
    summary = "Unpin the meeting point: back to the suggestion.",
    path = "/api/v1/bond/meeting",
    tag = "places",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "unpinned: back to the suggestion"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`not_bonded`"),
    )
)]
pub async fn unpin_meeting<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    app.hub.unpin_meeting(caller.account).await?;
    Ok(StatusCode::NO_CONTENT)
}
