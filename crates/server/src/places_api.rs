//! The HTTP handlers of places (`/api/v1/places`), the meeting point
//! (`/api/v1/bond/meeting`) and the journey (`/api/v1/me/journey.gpx`). They check input
//! and call the hub ([`crate::places`], [`crate::meeting`]).

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use haurach_proto::{MeetingView, PinMeeting, PlaceInput, PlaceView, PlacesView};
use serde::Deserialize;

use crate::bus::Bus;
use crate::error::ApiError;
use crate::http::{AppState, Caller};
use crate::hub::now_ms;
use haurach_store::Store;

fn place_name(name: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(name) = name.map_err(|_| {
        ApiError::bad_request(
            "invalid_path",
            "the place's name could not be read from the path",
        )
    })?;
    Ok(name)
}

/// `GET /api/v1/places`.
pub async fn list_places<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<Json<PlacesView>, ApiError> {
    Ok(Json(app.hub.places_view(caller.account).await?))
}

/// `PUT /api/v1/places/{name}`: 201 when new, 200 when replaced.
pub async fn put_place<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    name: Result<Path<String>, PathRejection>,
    body: Result<Json<PlaceInput>, JsonRejection>,
) -> Result<(StatusCode, Json<PlaceView>), ApiError> {
    let name = place_name(name)?;
    let Json(input) = body?;
    let mut done = app
        .hub
        .put_places(caller.account, vec![(name, input)])
        .await?;
    let (view, created) = done.pop().expect("one place in, one out");
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)))
}

/// `DELETE /api/v1/places/{name}`.
pub async fn delete_place<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    name: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let name = place_name(name)?;
    app.hub.delete_place(caller.account, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

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

/// `?from=RFC3339&to=RFC3339` of the journey export.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JourneyQuery {
    #[serde(default, with = "time::serde::rfc3339::option")]
    from: Option<time::OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    to: Option<time::OffsetDateTime>,
}

/// The most fixes one export holds (a week of a fix every 5 s is 121,000).
pub const MAX_EXPORT: u32 = 200_000;

/// `GET /api/v1/me/journey.gpx`: the caller's own journey as GPX 1.1. Only ever the
/// caller's: there is no way to ask for anyone else's.
pub async fn journey_gpx<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    query: Result<Query<JourneyQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) =
        query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text().to_lowercase()))?;
    let ms = |t: time::OffsetDateTime| (t.unix_timestamp_nanos() / 1_000_000) as i64;
    let from = q.from.map_or(0, ms);
    let to = q.to.map_or_else(now_ms, ms);
    if from > to {
        return Err(ApiError::invalid(
            "invalid_range",
            "from must not be after to",
        ));
    }
    let name = app
        .hub
        .store
        .account(caller.account)
        .await?
        .map(|a| a.name)
        .unwrap_or_default();
    let fixes = app
        .hub
        .store
        .journey(caller.account, from, to, MAX_EXPORT)
        .await?;
    let body = crate::gpx::write(&format!("{name}'s journey"), &fixes);
    let mut res = body.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/gpx+xml"),
    );
    res.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"journey.gpx\""),
    );
    Ok(res)
}
