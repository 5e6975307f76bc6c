//! A citizen's own routes: logging in, who they are, their position, and their bond
//! (invites, the bond itself, messages and the alarm). They check input and call the
//! hub.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use haurach_bond::Fix;
use haurach_bond::geo::valid_coordinates;
use haurach_proto::{
    AcceptInvite, Account, Credentials, Invite, LatLon, Me, MessagePage, PositionUpdate,
    SendMessage, Session,
};
use haurach_store::{AccountRecord, Store};
use serde::Deserialize;
use utoipa::IntoParams;

use super::access::{AUDIT, typed_name};
use super::client::ClientAddr;
use super::extract::Caller;
use super::state::AppState;
use crate::auth;
use crate::bus::Bus;
use crate::clock::{now_ms, timestamp};
use crate::error::ApiError;

/// Checks `password` against `account`'s, or against nobody's when there is no such
/// account, so that both take as long (argon2id, on a blocking thread).
pub(crate) async fn check_password<S, B>(
    app: &AppState<S, B>,
    password: String,
    account: Option<&AccountRecord>,
) -> Result<bool, ApiError> {
    app.hub.metrics.password_checks.inc();
    let phc = account.map(|a| a.password_hash.clone());
    tokio::task::spawn_blocking(move || auth::verify_or_pretend(&password, phc.as_deref()))
        .await
        .map_err(ApiError::internal)
}

pub(crate) fn account_view(a: &AccountRecord) -> Account {
    Account {
        id: a.id.0,
        name: a.name.clone(),
        created_at: timestamp(a.created_at),
    }
}

/// Log in: a bearer token.
#[utoipa::path(
    post,
    path = "/api/v1/sessions",
    tag = "accounts",
    request_body = Credentials,
    responses(
        (status = 200, description = "logged in", body = Session),
        (status = 401, description = "`unauthorized`: wrong name or password"),
        (status = 429, description = "`too_many_attempts`: too many failed logins from this address, or for this name from it (Retry-After says when)"),
    )
)]
pub(crate) async fn create_session<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    from: ClientAddr,
    body: Result<Json<Credentials>, JsonRejection>,
) -> Result<Json<Session>, ApiError> {
    let Json(creds) = body?;
    app.throttles.login(from.key(), &creds.name)?;
    let account = app.hub.store.account_by_name(&creds.name).await?;
    let ok = check_password(&app, creds.password.clone(), account.as_ref()).await?;
    let Some(account) = account.filter(|_| ok) else {
        app.throttles.login_failed(from.key(), &creds.name);
        app.hub.metrics.logins_failed.inc();
        tracing::info!(target: AUDIT, name = %typed_name(&creds.name), from = %from.0, "login failed");
        return Err(ApiError::unauthorized("wrong name or password"));
    };
    app.throttles.login_succeeded(from.key(), &creds.name);
    tracing::info!(target: AUDIT, name = %account.name, account = %account.id.0, from = %from.0, "login");
    let token = auth::new_token();
    app.hub
        .store
        .create_session(&auth::token_hash(&token), account.id, now_ms())
        .await?;
    Ok(Json(Session {
        token,
        account: account_view(&account),
    }))
}

/// Who this token belongs to.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "accounts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the caller", body = Me),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
    )
)]
pub(crate) async fn me<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<Json<Me>, ApiError> {
    let account = app
        .hub
        .store
        .account(caller.account)
        .await?
        .ok_or_else(|| ApiError::unauthorized("this account no longer exists"))?;
    let position = app.hub.store.position(caller.account).await?;
    let bonded = app.hub.store.bond_of(caller.account).await?.is_some();
    Ok(Json(Me {
        account: account_view(&account),
        position: position.map(|p| LatLon {
            lat: p.fix.lat,
            lon: p.fix.lon,
        }),
        bonded,
    }))
}

/// Checks a position update and turns it into a fix taken at `at` (or now).
pub fn fix_of(update: &PositionUpdate, now_ms: i64) -> Result<Fix, ApiError> {
    if !valid_coordinates(update.lat, update.lon) {
        return Err(ApiError::invalid(
            "invalid_position",
            format!(
                "lat must be in [-90, 90] and lon in [-180, 180]; got lat {} lon {}",
                update.lat, update.lon
            ),
        ));
    }
    let accuracy_m = update.accuracy_m.unwrap_or(0.0);
    if !(accuracy_m.is_finite() && (0.0..=1_000_000.0).contains(&accuracy_m)) {
        return Err(ApiError::invalid(
            "invalid_position",
            format!("accuracy_m must be between 0 and 1,000,000 metres; got {accuracy_m}"),
        ));
    }
    if update.battery.is_some_and(|b| b > 100) {
        return Err(ApiError::invalid(
            "invalid_position",
            "battery is a percentage, 0 to 100",
        ));
    }
    let at_ms = match update.at {
        None => now_ms,
        Some(at) => {
            let ms = (at.unix_timestamp_nanos() / 1_000_000) as i64;
            if ms > now_ms + 60_000 {
                return Err(ApiError::invalid(
                    "invalid_position",
                    "at is more than a minute in the future: check the device's clock",
                ));
            }
            ms
        }
    };
    Ok(Fix {
        lat: update.lat,
        lon: update.lon,
        accuracy_m,
        at_ms,
    })
}

/// Report where I am.
#[utoipa::path(
    put,
    path = "/api/v1/me/position",
    tag = "accounts",
    security(("bearer" = [])),
    request_body = PositionUpdate,
    responses(
        (status = 204, description = "stored, and the partner told"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 422, description = "`invalid_position`: `at` is more than a minute in the future, or `battery` over 100"),
    )
)]
pub(crate) async fn put_position<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    body: Result<Json<PositionUpdate>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(update) = body?;
    let fix = fix_of(&update, now_ms())?;
    if let Some(percent) = update.battery {
        app.hub.note_battery(caller.account, percent).await?;
    }
    app.hub
        .position(caller.account, fix, update.by_hand, true)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Make an invite code for my partner (valid 24 hours).
#[utoipa::path(
    post,
    path = "/api/v1/bond/invites",
    tag = "bond",
    security(("bearer" = [])),
    responses(
        (status = 201, description = "the code", body = Invite),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 409, description = "`already_bonded`: end the bond first"),
    )
)]
pub(crate) async fn create_invite<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<(StatusCode, Json<Invite>), ApiError> {
    let (code, expires) = app.hub.create_invite(caller.account).await?;
    Ok((
        StatusCode::CREATED,
        Json(Invite {
            code,
            expires_at: timestamp(expires),
        }),
    ))
}

/// Accept my partner's invite: the bond is made.
#[utoipa::path(
    post,
    path = "/api/v1/bond",
    tag = "bond",
    security(("bearer" = [])),
    request_body = AcceptInvite,
    responses(
        (status = 201, description = "bonded", body = haurach_proto::BondView),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`invite_not_found`, `invite_expired`"),
        (status = 409, description = "`already_bonded`, `partner_bonded`"),
        (status = 422, description = "`own_invite`: give it to your partner to accept"),
        (status = 429, description = "`too_many_attempts`: too many invite codes tried lately (Retry-After says when)"),
    )
)]
pub(crate) async fn accept_invite<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    from: ClientAddr,
    body: Result<Json<AcceptInvite>, JsonRejection>,
) -> Result<(StatusCode, Json<haurach_proto::BondView>), ApiError> {
    let Json(accept) = body?;
    app.throttles.invite_code(from.key(), caller.account)?;
    let view = app
        .hub
        .accept_invite(
            caller.account,
            &accept.code,
            accept.profile.unwrap_or_default(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// The bond as I see it: tiers, the pull, contact, raised alarms.
#[utoipa::path(
    get,
    path = "/api/v1/bond",
    tag = "bond",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the bond", body = haurach_proto::BondView),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`not_bonded`"),
    )
)]
pub(crate) async fn get_bond<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<Json<haurach_proto::BondView>, ApiError> {
    app.hub
        .bond_view(caller.account)
        .await?
        .map(Json)
        .ok_or_else(|| {
            ApiError::not_found(
                "not_bonded",
                "you have no partner yet: make an invite or accept your partner's",
            )
        })
}

/// End the bond; both partners are told.
#[utoipa::path(
    delete,
    path = "/api/v1/bond",
    tag = "bond",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "ended"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`not_bonded`"),
    )
)]
pub(crate) async fn end_bond<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    app.hub.end_bond(caller.account).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send a message (voice, feeling or alarm) through the tier it needs.
#[utoipa::path(
    post,
    path = "/api/v1/bond/messages",
    tag = "bond",
    security(("bearer" = [])),
    request_body = SendMessage,
    responses(
        (status = 201, description = "stored, and both partners told", body = haurach_proto::Message),
        (status = 200, description = "a retry with the id of a stored message: that message, not stored twice", body = haurach_proto::Message),
        (status = 403, description = "`tier_closed` (with the tier, its range and the distance); `awaiting_tower`, `application_declined`"),
        (status = 404, description = "`not_bonded`"),
        (status = 409, description = "`message_id_reused`: a different message was sent with this id; `private_bond`: words or a feeling in the clear on a private bond; `unexpected_sealed`: sealed content (a `place` or `meeting` message among it) on a plain bond"),
        (status = 422, description = "`invalid_sealed`: `sealed` is not base64url, too short or too long; `sealed_required`: a `place` or `meeting` message without `sealed`"),
    )
)]
pub(crate) async fn send_message<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    body: Result<Json<SendMessage>, JsonRejection>,
) -> Result<(StatusCode, Json<haurach_proto::Message>), ApiError> {
    let Json(send) = body?;
    let (message, is_new) = app.hub.send_message(caller.account, send).await?;
    // A retry gets the stored message back with 200, so a client can tell it was not
    // stored twice; the first time it is 201.
    let status = if is_new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(message)))
}

/// `?after=SEQ&limit=N` of `GET /api/v1/bond/messages`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct MessagesQuery {
    /// The messages after this sequence number (0, the default: from the first); a whole
    /// number of 64 bits.
    #[serde(default)]
    after: i64,
    /// At most this many, 1 to 500 (100 by default).
    #[serde(default = "default_limit")]
    #[param(minimum = 1, maximum = 500)]
    limit: u32,
}

fn default_limit() -> u32 {
    100
}

/// The bond's messages after a sequence number, in order.
#[utoipa::path(
    get,
    path = "/api/v1/bond/messages",
    tag = "bond",
    security(("bearer" = [])),
    params(MessagesQuery),
    responses(
        (status = 200, description = "a page of messages", body = MessagePage),
        (status = 400, description = "`invalid_query`: an unknown parameter, or one that is not a number"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`not_bonded`"),
        (status = 422, description = "`invalid_limit`"),
    )
)]
pub(crate) async fn list_messages<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    query: Result<Query<MessagesQuery>, QueryRejection>,
) -> Result<Json<MessagePage>, ApiError> {
    let Query(q) =
        query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text().to_lowercase()))?;
    if !(1..=500).contains(&q.limit) {
        return Err(ApiError::invalid("invalid_limit", "limit must be 1 to 500"));
    }
    let (messages, more) = app.hub.messages(caller.account, q.after, q.limit).await?;
    Ok(Json(MessagePage { messages, more }))
}

/// Acknowledge my partner's alarm: it stops ringing for both.
#[utoipa::path(
    post,
    path = "/api/v1/bond/alarms/{seq}/ack",
    tag = "bond",
    security(("bearer" = [])),
    params(("seq" = i64, Path, minimum = 1, description = "the alarm's sequence number")),
    responses(
        (status = 200, description = "the alarm, acknowledged", body = haurach_proto::Message),
        (status = 400, description = "`invalid_path`: the sequence number is not a whole number of 64 bits"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`not_bonded`, `alarm_not_found`"),
        (status = 409, description = "`own_alarm`: only the partner acknowledges an alarm"),
    )
)]
pub(crate) async fn acknowledge_alarm<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    seq: Result<Path<i64>, PathRejection>,
) -> Result<Json<haurach_proto::Message>, ApiError> {
    let Path(seq) = seq.map_err(|_| {
        ApiError::bad_request(
            "invalid_path",
            "the alarm's sequence number must be an integer",
        )
    })?;
    Ok(Json(app.hub.acknowledge_alarm(caller.account, seq).await?))
}
