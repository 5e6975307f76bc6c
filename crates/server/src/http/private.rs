//! A private bond's routes (issue 20, `docs/privacy.md`): making a private invite and
//! accepting it, the keys and confirmation tags the server relays between the devices,
//! and the token report a partner sends instead of a position. The server is sent no
//! secret and no coordinate: the invite's lookup hash, public keys, tags it cannot check
//! and tokens it cannot invert. They check input and call the hub (`runtime/private.rs`).

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use haurach_proto::{
    AcceptPrivateInvite, BondView, Confirmation, NewPrivateInvite, PrivateBondView, PrivateInvite,
    SealedFixUpdate, TokenReport,
};
use haurach_store::Store;

use super::client::ClientAddr;
use super::extract::Caller;
use super::state::AppState;
use crate::bus::Bus;
use crate::clock::timestamp;
use crate::error::ApiError;

/// `POST /api/v1/bond/private-invites`: make a private invite.
#[utoipa::path(
    post,
    summary = "Make a private invite: the server keeps its secret's lookup hash and my device's public key.",
    path = "/api/v1/bond/private-invites",
    tag = "bond",
    security(("bearer" = [])),
    request_body = NewPrivateInvite,
    responses(
        (status = 201, description = "the invite is kept until it expires", body = PrivateInvite),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 409, description = "`already_bonded`: end the bond first; `invite_taken`: an invite with this lookup hash exists; `places_stored`: the server keeps places of mine not named in `forget_places`"),
        (status = 422, description = "`invalid_key`: `lookup` or `public_key` is not 64 hex digits"),
    )
)]
pub(crate) async fn create_private_invite<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    body: Result<Json<NewPrivateInvite>, JsonRejection>,
) -> Result<(StatusCode, Json<PrivateInvite>), ApiError> {
    let Json(invite) = body?;
    let expires = app
        .hub
        .create_private_invite(
            caller.account,
            &invite.lookup,
            &invite.public_key,
            &invite.forget_places,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(PrivateInvite {
            expires_at: timestamp(expires),
        }),
    ))
}

/// `POST /api/v1/bond/private`: accept a private invite.
#[utoipa::path(
    post,
    summary = "Accept a private invite by its secret's lookup hash, with my device's public key: the bond is made.",
    path = "/api/v1/bond/private",
    tag = "bond",
    security(("bearer" = [])),
    request_body = AcceptPrivateInvite,
    responses(
        (status = 201, description = "bonded privately", body = BondView),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`invite_not_found`, `invite_expired`"),
        (status = 409, description = "`already_bonded`, `partner_bonded`; `places_stored`: the server keeps places of mine not named in `forget_places`; `partner_places_stored`: whoever made the invite made places on the server since"),
        (status = 422, description = "`own_invite`: give it to your partner to accept; `invalid_key`: `lookup` or `public_key` is not 64 hex digits"),
        (status = 429, description = "`too_many_attempts`: too many invites tried lately (Retry-After says when)"),
    )
)]
pub(crate) async fn accept_private_invite<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    from: ClientAddr,
    body: Result<Json<AcceptPrivateInvite>, JsonRejection>,
) -> Result<(StatusCode, Json<BondView>), ApiError> {
    let Json(accept) = body?;
    // A lookup hash cannot be guessed as a short code can, but the same limit costs
    // nothing and keeps one rule for every invite.
    app.throttles.invite_code(from.key(), caller.account)?;
    let view = app
        .hub
        .accept_private_invite(
            caller.account,
            &accept.lookup,
            &accept.public_key,
            &accept.forget_places,
            accept.profile.unwrap_or_default(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// `GET /api/v1/bond/private`: the keys and tags of my private bond.
#[utoipa::path(
    get,
    summary = "The public keys and confirmation tags of my private bond, as the server relays them, and the city's top speed my device judges its stretch by.",
    path = "/api/v1/bond/private",
    tag = "bond",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "both devices' public keys, the tags sent so far, and `max_speed_kmh`", body = PrivateBondView),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`not_bonded`"),
        (status = 409, description = "`plain_bond`: the bond is not private"),
    )
)]
pub(crate) async fn private_bond<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<Json<PrivateBondView>, ApiError> {
    Ok(Json(app.hub.private_view(caller.account).await?))
}

/// `PUT /api/v1/bond/private/confirmation`: my device's confirmation tag.
#[utoipa::path(
    put,
    summary = "Send my device's confirmation tag, for my partner's device to check.",
    path = "/api/v1/bond/private/confirmation",
    tag = "bond",
    security(("bearer" = [])),
    request_body = Confirmation,
    responses(
        (status = 204, description = "kept (replacing one sent before)"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`not_bonded`"),
        (status = 409, description = "`plain_bond`: the bond is not private"),
        (status = 422, description = "`invalid_key`: `tag` is not 64 hex digits"),
    )
)]
pub(crate) async fn confirm<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    body: Result<Json<Confirmation>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(confirmation) = body?;
    app.hub
        .confirm_private(caller.account, &confirmation.tag)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/me/tokens`: a token report instead of a position.
#[utoipa::path(
    put,
    summary = "Report my tokens (in a private bond, instead of my position).",
    path = "/api/v1/me/tokens",
    tag = "accounts",
    security(("bearer" = [])),
    request_body = TokenReport,
    responses(
        (status = 204, description = "taken: the tiers are decided again and both partners told of a change; the report is kept in memory only"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`not_bonded`"),
        (status = 409, description = "`plain_bond`: the bond is not private (send a position)"),
        (status = 422, description = "`invalid_report`: not of the bond's shape, or not of now's epoch"),
    )
)]
pub(crate) async fn put_tokens<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    body: Result<Json<TokenReport>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(report) = body?;
    app.hub.token_report(caller.account, &report).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/me/sealed-fix`: my position as my device rounded and sealed it.
#[utoipa::path(
    put,
    summary = "Send my position sealed for my partner (in a private bond, after my token report).",
    path = "/api/v1/me/sealed-fix",
    tag = "accounts",
    security(("bearer" = [])),
    request_body = SealedFixUpdate,
    responses(
        (status = 204, description = "kept as my latest, and passed to my partner unless either of us is hidden by a pause (dropped while I pause)"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`not_bonded`"),
        (status = 409, description = "`unexpected_sealed`: the bond is not private (send a position)"),
        (status = 422, description = "`invalid_sealed`: not base64url, too short or too long"),
    )
)]
pub(crate) async fn put_sealed_fix<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    body: Result<Json<SealedFixUpdate>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(update) = body?;
    app.hub.sealed_fix(caller.account, update.sealed).await?;
    Ok(StatusCode::NO_CONTENT)
}
