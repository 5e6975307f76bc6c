//! The caller's own journey as GPX 1.1 (`GET /api/v1/me/journey.gpx`), written by
//! [`crate::gpx`].

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use haurach_store::Store;
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::Caller;
use super::state::AppState;
use crate::bus::Bus;
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::gpx::write;

/// `?from=RFC3339&to=RFC3339` of the journey export.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JourneyQuery {
    /// From this time (RFC 3339; the first fix kept when absent). Not after `to`.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<time::OffsetDateTime>,
    /// Up to this time (RFC 3339; now when absent).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<time::OffsetDateTime>,
}

/// The most fixes one export holds (a week of a fix every 5 s is 121,000).
pub const MAX_EXPORT: u32 = 200_000;

/// `GET /api/v1/me/journey.gpx`: the caller's own journey as GPX 1.1. Only ever the
/// caller's: there is no way to ask for anyone else's.
#[utoipa::path(
    get,
    path = "/api/v1/me/journey.gpx",
    tag = "places",
    security(("bearer" = [])),
    params(JourneyQuery),
    responses(
        (status = 200, description = "my journey as GPX 1.1, an attachment", body = String, content_type = "application/gpx+xml"),
        (status = 400, description = "`invalid_query`: an unknown parameter, or a time that is not RFC 3339"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 422, description = "`invalid_range`: from is after to"),
    )
)]
pub async fn journey_gpx<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    query: Result<Query<JourneyQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) =
        query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text().to_lowercase()))?;
    let ms = |t: time::OffsetDateTime| (t.unix_timestamp_nanos() / 1_000_000) as i64;
    // Without `from`, from the first fix, whenever that was (hardening finding 10: a `to`
    // before 1970 alone was refused as a range from 1970 back to it).
    let from = q.from.map_or(i64::MIN, ms);
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
    let body = write(&format!("{name}'s journey"), &fixes);
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
