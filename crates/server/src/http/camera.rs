//! Camera consent (`/api/v1/me/camera`): nobody's camera is used for a glimpse or the
//! sight unless they turned it on; off until then.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use haurach_proto::CameraConsent;
use haurach_store::Store;

use super::extract::Caller;
use super::state::AppState;
use crate::bus::Bus;
use crate::error::ApiError;

/// `GET /api/v1/me/camera`: whether you allow your partner glimpses and sight.
#[utoipa::path(
    get,
    path = "/api/v1/me/camera",
    tag = "pictures",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "whether I allow it", body = CameraConsent),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
    )
)]
pub async fn get_camera<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<Json<CameraConsent>, ApiError> {
    let allow = app
        .hub
        .relay
        .consent(&app.hub.store, caller.account)
        .await?;
    Ok(Json(CameraConsent { allow }))
}

/// `PUT /api/v1/me/camera`: allow or refuse your camera (committed first; refusing
/// drops a glimpse asked and stops the sight at once).
#[utoipa::path(
    put,
    path = "/api/v1/me/camera",
    tag = "pictures",
    security(("bearer" = [])),
    request_body = CameraConsent,
    responses(
        (status = 200, description = "stored", body = CameraConsent),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
    )
)]
pub async fn put_camera<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    body: Result<Json<CameraConsent>, JsonRejection>,
) -> Result<Json<CameraConsent>, ApiError> {
    let Json(consent) = body?;
    app.hub
        .relay
        .set_consent(&app.hub.store, caller.account, consent.allow)
        .await?;
    Ok(Json(consent))
}
