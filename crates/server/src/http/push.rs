//! Web Push (`/api/v1/push/...`): the key the server signs its pushes with, and the
//! devices that want them. An endpoint is a URL the server will call, so it is checked
//! here (`https`, a public address) and again at every push (`crate::push::endpoint`).

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use haurach_proto::{PushKey, PushSubscription, PushUnsubscribe};
use haurach_store::{PushSubscriptionRecord, Store};

use super::extract::Caller;
use super::state::AppState;
use crate::bus::Bus;
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::push::{Device, endpoint};
use crate::runtime::push::MAX_DEVICES;

/// `GET /api/v1/push/key`: the server's VAPID public key, for
/// `pushManager.subscribe({applicationServerKey})`.
#[utoipa::path(
    get,
    summary = "The key the server signs its pushes with.",
    path = "/api/v1/push/key",
    tag = "push",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the VAPID public key", body = PushKey),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
    )
)]
pub async fn key<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    _caller: Caller,
) -> Result<Json<PushKey>, ApiError> {
    let pusher = app.hub.push.pusher(&app.hub.store).await?;
    Ok(Json(PushKey {
        public_key: pusher.public_key().to_owned(),
    }))
}

/// `POST /api/v1/push/subscriptions`: this device wants pushes (a person may have
/// several; the eleventh replaces the oldest).
#[utoipa::path(
    post,
    summary = "Have this device's push service told of my news.",
    path = "/api/v1/push/subscriptions",
    tag = "push",
    security(("bearer" = [])),
    request_body = PushSubscription,
    responses(
        (status = 201, description = "subscribed"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 422, description = "`push_endpoint_refused`: the endpoint is not https, reaches an internal address or does not resolve; `invalid_push_keys`"),
    )
)]
pub async fn subscribe<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    body: Result<Json<PushSubscription>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(sub) = body?;
    let allow_loopback = app.hub.config.push_allow_loopback;
    let refused = |r: endpoint::Refused| ApiError::invalid("push_endpoint_refused", r.0);
    endpoint::check(&sub.endpoint, allow_loopback)
        .await
        .map_err(refused)?;
    Device::new(
        &sub.endpoint,
        &sub.keys.p256dh,
        &sub.keys.auth,
        allow_loopback,
    )
    .map_err(|r| ApiError::invalid("invalid_push_keys", r.0))?;
    app.hub
        .store
        .save_push_subscription(
            &PushSubscriptionRecord {
                account: caller.account,
                endpoint: sub.endpoint,
                p256dh: sub.keys.p256dh,
                auth: sub.keys.auth,
                created_at: now_ms(),
            },
            MAX_DEVICES,
        )
        .await?;
    Ok(StatusCode::CREATED)
}

/// `DELETE /api/v1/push/subscriptions`: this device wants no more pushes.
#[utoipa::path(
    delete,
    summary = "Stop pushing to this device.",
    path = "/api/v1/push/subscriptions",
    tag = "push",
    security(("bearer" = [])),
    request_body = PushUnsubscribe,
    responses(
        (status = 204, description = "unsubscribed (or it was not subscribed)"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 422, description = "`push_endpoint_refused`: an empty endpoint or one over 2,048 bytes"),
    )
)]
pub async fn unsubscribe<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    body: Result<Json<PushUnsubscribe>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(gone) = body?;
    if gone.endpoint.is_empty() || gone.endpoint.len() > 2048 {
        return Err(ApiError::invalid(
            "push_endpoint_refused",
            "the endpoint must be 1 to 2,048 bytes",
        ));
    }
    app.hub
        .store
        .delete_push_subscription(caller.account, &gone.endpoint)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
