//! `POST /api/v1/bond/locate`: "where are you now?", asking the partner for a fresh
//! position (`runtime/locate.rs` keeps the ask, tells the partner's links and pushes to
//! their devices).

use axum::extract::State;
use axum::http::StatusCode;

use super::extract::Caller;
use super::state::AppState;
use crate::bus::Bus;
use crate::error::ApiError;
use haurach_store::Store;

/// Ask my partner where they are now.
#[utoipa::path(
    post,
    summary = "Ask my partner where they are now.",
    path = "/api/v1/bond/locate",
    tag = "bond",
    security(("bearer" = [])),
    responses(
        (status = 202, description = "asked: the partner's open page answers with a fresh position at once, their OwnTracks app at its next post, and their devices are pushed; the answer arrives as a `pull`"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`not_bonded`"),
        (status = 429, description = "`asked_recently`: one ask a minute (Retry-After says when)"),
    )
)]
pub async fn locate<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    app.hub.ask_locate(caller.account).await?;
    Ok(StatusCode::ACCEPTED)
}
