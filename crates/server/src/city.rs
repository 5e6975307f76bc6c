//! The city's routes in one place (the gate and the tower, fire-mail, summoning), how the
//! city's store errors read as problems, and how its live frames are published.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use haurach_proto::ServerFrame;

use crate::bus::Bus;
use crate::error::ApiError;
use crate::http::AppState;
use crate::{gate, letters, summons};
use haurach_store::{AccountId, Store, StoreError};

/// The city's routes, merged into the server's router.
pub fn routes<S: Store, B: Bus>(_app: &AppState<S, B>) -> Router<AppState<S, B>> {
    Router::new()
        .route("/api/v1/gate", get(gate::info::<S, B>))
        .route("/api/v1/gate/me", get(gate::my_arrival::<S, B>))
        .route("/api/v1/gate/queue", get(gate::queue::<S, B>))
        .route(
            "/api/v1/gate/applications/{name}/decision",
            post(gate::decide::<S, B>),
        )
        .route("/api/v1/gate/register", get(gate::register_json::<S, B>))
        .route("/api/v1/gate/register.csv", get(gate::register_csv::<S, B>))
        .route(
            "/api/v1/gate/invites",
            post(gate::create_gate_invite::<S, B>),
        )
        .route(
            "/api/v1/parcels",
            // The upload streams to disk and counts its own bytes against
            // `max_parcel_bytes`; the default body limit is for JSON bodies.
            post(letters::upload::<S, B>).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/api/v1/letters",
            get(letters::list::<S, B>).post(letters::send::<S, B>),
        )
        .route("/api/v1/letters/{id}", get(letters::one::<S, B>))
        .route("/api/v1/letters/{id}/read", post(letters::read::<S, B>))
        .route(
            "/api/v1/letters/{id}/return",
            post(letters::return_to_sender::<S, B>),
        )
        .route(
            "/api/v1/letters/{id}/parcels/{index}",
            get(letters::parcel::<S, B>),
        )
        .route("/api/v1/letters/threads/{id}", get(letters::thread::<S, B>))
        .route("/api/v1/summons/allowed", get(summons::allowed::<S, B>))
        .route(
            "/api/v1/summons/allowed/{name}",
            put(summons::allow::<S, B>).delete(summons::disallow::<S, B>),
        )
        .route(
            "/api/v1/summons",
            get(summons::list::<S, B>).post(summons::summon::<S, B>),
        )
        .route("/api/v1/summons/{id}", get(summons::one::<S, B>))
        .route("/api/v1/summons/{id}/accept", post(summons::accept::<S, B>))
        .route(
            "/api/v1/summons/{id}/decline",
            post(summons::decline::<S, B>),
        )
        .route("/api/v1/summons/{id}/end", post(summons::end::<S, B>))
        .route("/api/v1/sessions/current", delete(gate::logout::<S, B>))
}

/// A city store error as the client reads it.
pub fn store_problem(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound("gate_invite") => ApiError::not_found(
            "no_such_invite",
            "no such invite code, or it was used already: ask for a new one",
        ),
        StoreError::NotFound("gate_invite_expired") => {
            ApiError::not_found("invite_expired", "this invite code has expired")
        }
        StoreError::NotFound("applicant") => ApiError::not_found(
            "no_such_application",
            "nobody by that name has applied at the gate",
        ),
        StoreError::Conflict("already_decided") => ApiError::conflict(
            "already_decided",
            "the tower has answered this application already",
        ),
        StoreError::NotFound("recipient") => ApiError::not_found(
            "no_such_citizen",
            "there is no citizen by that name to write to",
        ),
        StoreError::NotFound("letter") => {
            ApiError::not_found("no_such_letter", "there is no such letter among yours")
        }
        StoreError::NotFound("parcel") => ApiError::invalid(
            "unknown_parcel",
            "a parcel must be uploaded first (POST /api/v1/parcels) by the sender",
        ),
        StoreError::Conflict("parcel_too_large") => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "parcel_too_large",
            "the parcels of one letter are larger than this city carries",
        ),
        StoreError::Conflict("parcel_quota_exceeded") => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "parcel_quota_exceeded",
            "you have used up your parcel quota: this upload would pass it",
        ),
        StoreError::Conflict("letter_quota_exceeded") => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "letter_quota_exceeded",
            "you have sent as many letters as one citizen may in 24 hours: try again later",
        ),
        StoreError::Conflict("id_reused") => ApiError::conflict(
            "id_reused",
            "you sent a different letter under this id already: use a new id",
        ),
        StoreError::Conflict("recipient_required") => {
            ApiError::invalid("recipient_required", "say whom the letter is to (to)")
        }
        StoreError::Conflict("own_letter") => ApiError::invalid(
            "own_letter",
            "a letter goes to someone else, not to yourself",
        ),
        StoreError::Conflict("letter_moved") => ApiError::conflict(
            "letter_moved",
            "this letter is no longer unread in your hands: it was read or returned already",
        ),
        StoreError::NotFound("citizen") | StoreError::NotFound("summoned") => {
            ApiError::not_found("no_such_citizen", "there is no citizen by that name")
        }
        StoreError::Conflict("own_summons") => {
            ApiError::invalid("own_summons", "you cannot summon yourself")
        }
        StoreError::Conflict("not_allowed") => ApiError::new(
            StatusCode::FORBIDDEN,
            "summons_not_allowed",
            "they have not allowed you to summon them",
        ),
        StoreError::Conflict("summons_open") => ApiError::conflict(
            "summons_open",
            "you are summoning them already: end that summons first",
        ),
        StoreError::NotFound("summons") => {
            ApiError::not_found("no_such_summons", "there is no such summons among yours")
        }
        StoreError::Conflict("summons_moved") => ApiError::conflict(
            "summons_moved",
            "this summons has been answered or ended already",
        ),
        StoreError::Conflict("not_yours") => ApiError::new(
            StatusCode::FORBIDDEN,
            "not_summoned",
            "only the one summoned can accept or decline",
        ),
        other => other.into(),
    }
}

/// Sends a frame to every link of `to`.
pub fn publish<B: Bus>(bus: &B, to: AccountId, frame: &ServerFrame) {
    crate::hub::publish_to(bus, to, frame);
}
