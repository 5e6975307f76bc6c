//! The caller's own journey: as GPX 1.1 (`GET /api/v1/me/journey.gpx`, written by
//! [`crate::gpx`]), and as JSON with the chart of the distance to the partner over it
//! (`GET /api/v1/me/journey`, worked out by [`haurach_bond::journey::chart`]), which the
//! web client draws on every device alike.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use haurach_bond::journey::chart;
use haurach_proto::{JourneyDistance, JourneyFix, JourneyOpening, JourneyView};
use haurach_store::Store;
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::Caller;
use super::state::AppState;
use crate::bus::Bus;
use crate::clock::{now_ms, timestamp};
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

impl JourneyQuery {
    /// The range asked for, Unix milliseconds; `from` is `default_from` and `to`
    /// `default_to` when absent.
    fn range(&self, default_from: i64, default_to: i64) -> Result<(i64, i64), ApiError> {
        let ms = |t: time::OffsetDateTime| (t.unix_timestamp_nanos() / 1_000_000) as i64;
        let to = self.to.map_or(default_to, ms);
        let from = self.from.map_or(default_from.min(to), ms);
        if from > to {
            return Err(ApiError::invalid(
                "invalid_range",
                "from must not be after to",
            ));
        }
        Ok((from, to))
    }
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
    // Without `from`, from the first fix, whenever that was (hardening finding 10: a `to`
    // before 1970 alone was refused as a range from 1970 back to it).
    let (from, to) = q.range(i64::MIN, now_ms())?;
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

/// How far back `GET /api/v1/me/journey` reads without `from`: a day.
const JOURNEY_DEFAULT_MS: i64 = 86_400_000;
/// The most fixes of each partner read for the chart (a day of a fix every 5 s is 17,280).
const JOURNEY_READ: u32 = 20_000;
/// The most fixes of the track, and points of the chart, one answer holds; more are
/// thinned evenly (the last kept).
const TRACK_SHOWN: usize = 5_000;
const CHART_SHOWN: usize = 2_000;
/// Fixes of the two partners further apart in time than this are not compared: one of
/// them was paused, offline or silent, and the older says nothing of now.
const CHART_STALE_MS: i64 = 10 * 60_000;

/// `GET /api/v1/me/journey`: the caller's own track and the chart of the distance to the
/// partner over it, as the caller was shown it (exact within sight, coarse beyond:
/// never finer than the pull). Only ever the caller's track; the partner's fixes only
/// ever leave as the distances the pull showed.
#[utoipa::path(
    get,
    path = "/api/v1/me/journey",
    tag = "places",
    security(("bearer" = [])),
    params(JourneyQuery),
    responses(
        (status = 200, description = "my track and the chart of the distance to my partner (the last day when `from` is absent)", body = JourneyView),
        (status = 400, description = "`invalid_query`: an unknown parameter, or a time that is not RFC 3339"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 422, description = "`invalid_range`: from is after to"),
    )
)]
pub async fn journey<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    query: Result<Query<JourneyQuery>, QueryRejection>,
) -> Result<Json<JourneyView>, ApiError> {
    let Query(q) =
        query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text().to_lowercase()))?;
    // Up to the newest fix without `to`: a device's clock may run up to a minute ahead.
    let (from, to) = q.range(now_ms().saturating_sub(JOURNEY_DEFAULT_MS), i64::MAX)?;
    let store = &app.hub.store;
    let bond = store.bond_of(caller.account).await?;
    // Only while bonded to this partner; the fixes just before say where each was when
    // the chart begins (as the first pull of a new bond is worked out from them).
    let since = from.max(bond.as_ref().map_or(i64::MIN, |b| b.created_at));
    let read_from = since.saturating_sub(CHART_STALE_MS).min(from);
    let mine = store
        .journey(caller.account, read_from, to, JOURNEY_READ)
        .await?;
    let track: Vec<_> = mine.iter().filter(|f| f.at_ms >= from).copied().collect();
    let mut view = JourneyView {
        fixes: thin(&track, TRACK_SHOWN)
            .map(|f| JourneyFix {
                at: timestamp(f.at_ms),
                lat: f.lat,
                lon: f.lon,
                accuracy_m: (f.accuracy_m > 0.0).then_some(f.accuracy_m),
            })
            .collect(),
        distances: Vec::new(),
        openings: Vec::new(),
    };
    let Some((bond, me)) = bond.and_then(|b| b.index_of(caller.account).map(|me| (b, me))) else {
        return Ok(Json(view));
    };
    let theirs = store
        .journey(
            bond.members[1 - me],
            since.saturating_sub(CHART_STALE_MS),
            to,
            JOURNEY_READ,
        )
        .await?;
    let c = chart(bond.profile, &mine, &theirs, CHART_STALE_MS, since);
    view.distances = thin(&c.told, CHART_SHOWN)
        .map(|t| JourneyDistance {
            at: timestamp(t.at_ms),
            distance_m: t.distance_m,
            exact: t.exact,
        })
        .collect();
    view.openings = c
        .opened
        .iter()
        .map(|o| JourneyOpening {
            at: timestamp(o.at_ms),
            distance_m: o.distance_m,
            tier: o.tier,
        })
        .collect();
    Ok(Json(view))
}

/// At most `n` of `items`, evenly spaced, the last always among them.
fn thin<T>(items: &[T], n: usize) -> impl Iterator<Item = &T> {
    let step = items.len().div_ceil(n.max(1)).max(1);
    let last = items.len().saturating_sub(1);
    items
        .iter()
        .enumerate()
        .filter(move |(i, _)| (last - i).is_multiple_of(step))
        .map(|(_, item)| item)
}
