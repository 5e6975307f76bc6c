//! Places' routes (`/api/v1/places`): they check input and call the hub
//! ([`runtime::places`](crate::runtime::places)).

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use haurach_proto::{PlaceInput, PlaceView, PlacesView};

use haurach_store::Store;

use super::extract::Caller;
use super::state::AppState;
use crate::bus::Bus;
use crate::error::ApiError;

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
#[utoipa::path(
    get,
    summary = "My places and my partner's.",
    path = "/api/v1/places",
    tag = "places",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "my places and my partner's (their centres only within sight range)", body = PlacesView),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
    )
)]
pub async fn list_places<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<Json<PlacesView>, ApiError> {
    Ok(Json(app.hub.places_view(caller.account).await?))
}

/// `PUT /api/v1/places/{name}`: 201 when new, 200 when replaced.
#[utoipa::path(
    put,
    path = "/api/v1/places/{name}",
    tag = "places",
    security(("bearer" = [])),
    params(("name" = inline(haurach_proto::schemas::PlaceName), Path, description = "the place's name (any case)")),
    request_body = PlaceInput,
    responses(
        (status = 201, description = "a new place", body = PlaceView),
        (status = 200, description = "the place, replaced", body = PlaceView),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 409, description = "`too_many_places`: a person keeps at most 100; `private_bond`: a private bond keeps no place; `private_invite`: nor while a private invite waits"),
        (status = 422, description = "`invalid_place_name`, `bidi_control`, `invalid_position`, `invalid_radius`"),
    )
)]
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
#[utoipa::path(
    delete,
    summary = "Forget one of my places.",
    path = "/api/v1/places/{name}",
    tag = "places",
    security(("bearer" = [])),
    params(("name" = inline(haurach_proto::schemas::PlaceName), Path, description = "the place's name (any case)")),
    responses(
        (status = 204, description = "forgotten"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`place_not_found`"),
    )
)]
pub async fn delete_place<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    name: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let name = place_name(name)?;
    app.hub.delete_place(caller.account, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
