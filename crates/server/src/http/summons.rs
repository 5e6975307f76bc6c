//! Summoning's routes (`/api/v1/summons...`): who may summon you, calling someone, and
//! answering. What a summons does is in [`runtime::summons`](crate::runtime::summons).

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use haurach_proto::{SummonBody, SummonPermissions, SummonState, Summons, SummonsList};
use haurach_store::Store;
use haurach_store::city::SummonsId;
use uuid::Uuid;

use super::extract::Caller;
use super::names::check_name;
use super::state::AppState;
use crate::bus::Bus;
use crate::clock::now_ms;
use crate::error::ApiError;

fn summons_id(path: Result<Path<Uuid>, PathRejection>) -> Result<SummonsId, ApiError> {
    path.map(|Path(id)| SummonsId(id))
        .map_err(|_| ApiError::bad_request("invalid_path", "a summons' id is a UUID"))
}

fn name_path(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(name) =
        path.map_err(|_| ApiError::bad_request("invalid_path", "a citizen's name is expected"))?;
    check_name(&name)?;
    Ok(name)
}

/// `GET /api/v1/summons/allowed`: who may summon you.
#[utoipa::path(
    get,
    path = "/api/v1/summons/allowed",
    tag = "summons",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "who may summon the caller", body = SummonPermissions),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
    )
)]
pub async fn allowed<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<Json<SummonPermissions>, ApiError> {
    Ok(Json(SummonPermissions {
        allowed: app.hub.store.summon_permissions(caller.account).await?,
    }))
}

/// `PUT /api/v1/summons/allowed/{name}`: allow someone to summon you.
#[utoipa::path(
    put,
    path = "/api/v1/summons/allowed/{name}",
    tag = "summons",
    security(("bearer" = [])),
    params(("name" = inline(haurach_proto::schemas::AccountName), Path, description = "the citizen's account name")),
    responses(
        (status = 204, description = "they may summon you"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`no_such_citizen`"),
        (status = 422, description = "`invalid_name`"),
    )
)]
pub async fn allow<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    name: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let name = name_path(name)?;
    app.hub
        .store
        .set_summon_permission(caller.account, &name, true, now_ms())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/summons/allowed/{name}`: no longer allow someone to summon you.
#[utoipa::path(
    delete,
    path = "/api/v1/summons/allowed/{name}",
    tag = "summons",
    security(("bearer" = [])),
    params(("name" = inline(haurach_proto::schemas::AccountName), Path, description = "the citizen's account name")),
    responses(
        (status = 204, description = "they may no longer summon you"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`no_such_citizen`"),
        (status = 422, description = "`invalid_name`"),
    )
)]
pub async fn disallow<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    name: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let name = name_path(name)?;
    app.hub
        .store
        .set_summon_permission(caller.account, &name, false, now_ms())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/summons`: call someone who allowed it, from where you are.
#[utoipa::path(
    post,
    path = "/api/v1/summons",
    tag = "summons",
    security(("bearer" = [])),
    request_body = SummonBody,
    responses(
        (status = 201, description = "calling: the summoned is told", body = Summons),
        (status = 403, description = "`summons_not_allowed`: they have not allowed you; `awaiting_tower`, `application_declined`"),
        (status = 404, description = "`no_such_citizen`"),
        (status = 409, description = "`summons_open`: you are summoning them already"),
        (status = 422, description = "`own_summons`"),
    )
)]
pub async fn summon<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    body: Result<Json<SummonBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Summons>), ApiError> {
    let Json(body) = body?;
    let hub = &app.hub;
    let summons = hub
        .summons
        .summon(&hub.store, &hub.bus, &hub.push, caller.account, &body)
        .await?;
    Ok((StatusCode::CREATED, Json(summons)))
}

/// `GET /api/v1/summons`: the summonses still calling or accepted that you are part of.
#[utoipa::path(
    get,
    path = "/api/v1/summons",
    tag = "summons",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the summonses still calling or accepted", body = SummonsList),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
    )
)]
pub async fn list<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<Json<SummonsList>, ApiError> {
    let summonses = app.hub.summons.open(&app.hub.store, caller.account).await?;
    Ok(Json(SummonsList { summonses }))
}

/// `GET /api/v1/summons/{id}`.
#[utoipa::path(
    get,
    summary = "One summons.",
    path = "/api/v1/summons/{id}",
    tag = "summons",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the summons' id")),
    responses(
        (status = 200, description = "the summons", body = Summons),
        (status = 400, description = "`invalid_path`: the id is not a UUID"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`no_such_summons` among yours"),
    )
)]
pub async fn one<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    id: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<Summons>, ApiError> {
    let summons = app
        .hub
        .summons
        .one(&app.hub.store, summons_id(id)?, caller.account)
        .await?;
    Ok(Json(summons))
}

async fn answer<S: Store, B: Bus>(
    app: &AppState<S, B>,
    caller: &Caller,
    id: SummonsId,
    to: SummonState,
) -> Result<Json<Summons>, ApiError> {
    let hub = &app.hub;
    let summons = hub
        .summons
        .answer(&hub.store, &hub.bus, caller.account, id, to)
        .await?;
    Ok(Json(summons))
}

/// `POST /api/v1/summons/{id}/accept`: go (only the summoned). From now on both see each
/// other's exact position until arrival or either ends it.
#[utoipa::path(
    post,
    path = "/api/v1/summons/{id}/accept",
    tag = "summons",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the summons' id")),
    responses(
        (status = 200, description = "the summons, accepted", body = Summons),
        (status = 400, description = "`invalid_path`: the id is not a UUID"),
        (status = 403, description = "`not_summoned`: only the summoned accepts; `awaiting_tower`, `application_declined`"),
        (status = 404, description = "`no_such_summons` among yours"),
        (status = 409, description = "`summons_moved`: answered or ended already"),
    )
)]
pub async fn accept<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    id: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<Summons>, ApiError> {
    answer(&app, &caller, summons_id(id)?, SummonState::Accepted).await
}

/// `POST /api/v1/summons/{id}/decline`: refuse (only the summoned).
#[utoipa::path(
    post,
    path = "/api/v1/summons/{id}/decline",
    tag = "summons",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the summons' id")),
    responses(
        (status = 200, description = "the summons, declined", body = Summons),
        (status = 400, description = "`invalid_path`: the id is not a UUID"),
        (status = 403, description = "`not_summoned`: only the summoned declines; `awaiting_tower`, `application_declined`"),
        (status = 404, description = "`no_such_summons` among yours"),
        (status = 409, description = "`summons_moved`: answered or ended already"),
    )
)]
pub async fn decline<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    id: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<Summons>, ApiError> {
    answer(&app, &caller, summons_id(id)?, SummonState::Declined).await
}

/// `POST /api/v1/summons/{id}/end`: either side ends a summons still calling or accepted.
#[utoipa::path(
    post,
    path = "/api/v1/summons/{id}/end",
    tag = "summons",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the summons' id")),
    responses(
        (status = 200, description = "the summons, ended", body = Summons),
        (status = 400, description = "`invalid_path`: the id is not a UUID"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`no_such_summons` among yours"),
        (status = 409, description = "`summons_moved`: answered or ended already"),
    )
)]
pub async fn end<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    id: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<Summons>, ApiError> {
    answer(&app, &caller, summons_id(id)?, SummonState::Ended).await
}
