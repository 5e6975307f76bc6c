//! The tower's tools for running a city, alike on SQLite and PostgreSQL: making another
//! tower account, setting a person's password, listing and ending their sessions (all,
//! or one), and removing a person with everything they own (`http/export.rs` exports it
//! first, if asked).
//! Ending a session closes its live links at once, on every node, as logging out does
//! (code 1008).

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use haurach_proto::{Account, Credentials, NewPassword, SessionList, SessionView, SessionsEnded};
use haurach_store::{AccountId, Conflict, Missing, Store, StoreError};

use super::access::AUDIT;
use super::account::account_view;
use super::extract::Tower;
use super::names::{check_name, name_taken};
use super::state::AppState;
use crate::auth;
use crate::bus::{Bus, Frame, hex};
use crate::clock::{now_ms, timestamp};
use crate::error::ApiError;

/// 422 unless the password is one an account may have.
fn check_password(password: &str) -> Result<(), ApiError> {
    if (8..=1024).contains(&password.chars().count()) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "invalid_password",
            "a password is 8 to 1,024 characters",
        ))
    }
}

/// The argon2id hash of `password`, on a blocking thread.
async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// The account named in the path.
pub(super) async fn person<S: Store>(
    store: &S,
    name: Result<Path<String>, PathRejection>,
) -> Result<AccountId, ApiError> {
    Ok(named(store, name).await?.0)
}

/// The account named in the path, and its name as stored (for the audit line).
async fn named<S: Store>(
    store: &S,
    name: Result<Path<String>, PathRejection>,
) -> Result<(AccountId, String), ApiError> {
    let Path(name) =
        name.map_err(|_| ApiError::bad_request("invalid_path", "a name is expected"))?;
    let account = store
        .account_by_name(&name)
        .await?
        .ok_or(StoreError::NotFound(Missing::Citizen))?;
    Ok((account.id, account.name))
}

/// Closes the links of every session in `revoked`, on every node (they are revoked in the
/// store already, so no new request or link gets through with them).
fn close_links<S: Store, B: Bus>(app: &AppState<S, B>, account: AccountId, revoked: &[Vec<u8>]) {
    for hash in revoked {
        app.hub.bus.publish(account, Frame::session_ended(hash));
    }
}

/// `POST /api/v1/tower/towers`: another tower (admin) account.
#[utoipa::path(
    post,
    path = "/api/v1/tower/towers",
    tag = "gate",
    security(("bearer" = [])),
    request_body = Credentials,
    responses(
        (status = 201, description = "the new tower account; it logs in as any citizen", body = Account),
        (status = 403, description = "`tower_only`; `awaiting_tower`, `application_declined`"),
        (status = 409, description = "`name_taken`"),
        (status = 422, description = "`invalid_name`, `invalid_password`"),
    )
)]
pub async fn make_tower<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    Tower(tower): Tower,
    body: Result<Json<Credentials>, JsonRejection>,
) -> Result<(StatusCode, Json<Account>), ApiError> {
    let Json(creds) = body?;
    check_name(&creds.name)?;
    check_password(&creds.password)?;
    let phc = hash(creds.password).await?;
    let arrival = app
        .hub
        .store
        .create_tower(&creds.name, &phc, now_ms())
        .await
        .map_err(|e| match e {
            StoreError::Conflict(Conflict::NameTaken) => name_taken(&creds.name),
            e => e.into(),
        })?;
    tracing::info!(
        target: AUDIT,
        tower = %tower.account.0,
        name = %arrival.account.name,
        account = %arrival.account.id.0,
        "the tower made another tower"
    );
    Ok((StatusCode::CREATED, Json(account_view(&arrival.account))))
}

/// `PUT /api/v1/tower/people/{name}/password`: sets a person's password (one who forgot
/// theirs); every session they had ends, and their links close.
#[utoipa::path(
    put,
    path = "/api/v1/tower/people/{name}/password",
    tag = "gate",
    security(("bearer" = [])),
    params(("name" = inline(haurach_proto::schemas::AccountName), Path, description = "the person's account name")),
    request_body = NewPassword,
    responses(
        (status = 200, description = "the password is set; how many sessions ended", body = SessionsEnded),
        (status = 403, description = "`tower_only`; `awaiting_tower`, `application_declined`"),
        (status = 404, description = "`no_such_citizen`"),
        (status = 422, description = "`invalid_password`"),
    )
)]
pub async fn set_password<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    Tower(tower): Tower,
    name: Result<Path<String>, PathRejection>,
    body: Result<Json<NewPassword>, JsonRejection>,
) -> Result<Json<SessionsEnded>, ApiError> {
    let (account, name) = named(&app.hub.store, name).await?;
    let Json(body) = body?;
    check_password(&body.password)?;
    let phc = hash(body.password).await?;
    let revoked = app.hub.store.set_password(account, &phc, now_ms()).await?;
    close_links(&app, account, &revoked);
    tracing::info!(
        target: AUDIT,
        tower = %tower.account.0,
        %name,
        account = %account.0,
        sessions_ended = revoked.len(),
        "the tower set a password"
    );
    Ok(Json(SessionsEnded {
        ended: u32::try_from(revoked.len()).unwrap_or(u32::MAX),
    }))
}

/// `GET /api/v1/tower/people/{name}/sessions`: a person's live sessions.
#[utoipa::path(
    get,
    path = "/api/v1/tower/people/{name}/sessions",
    tag = "gate",
    security(("bearer" = [])),
    params(("name" = inline(haurach_proto::schemas::AccountName), Path, description = "the person's account name")),
    responses(
        (status = 200, description = "their live sessions, oldest first", body = SessionList),
        (status = 403, description = "`tower_only`; `awaiting_tower`, `application_declined`"),
        (status = 404, description = "`no_such_citizen`"),
    )
)]
pub async fn sessions<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    _tower: Tower,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<SessionList>, ApiError> {
    let account = person(&app.hub.store, name).await?;
    let sessions = app.hub.store.sessions_of(account).await?;
    Ok(Json(SessionList {
        sessions: sessions
            .iter()
            .map(|s| SessionView {
                id: hex(&s.token_hash[..s.token_hash.len().min(8)]),
                created_at: timestamp(s.created_ms),
            })
            .collect(),
    }))
}

/// `DELETE /api/v1/tower/people/{name}/sessions`: ends every live session of a person;
/// their open links close at once.
#[utoipa::path(
    delete,
    path = "/api/v1/tower/people/{name}/sessions",
    tag = "gate",
    security(("bearer" = [])),
    params(("name" = inline(haurach_proto::schemas::AccountName), Path, description = "the person's account name")),
    responses(
        (status = 200, description = "how many sessions ended", body = SessionsEnded),
        (status = 403, description = "`tower_only`; `awaiting_tower`, `application_declined`"),
        (status = 404, description = "`no_such_citizen`"),
    )
)]
pub async fn end_sessions<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    Tower(tower): Tower,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<SessionsEnded>, ApiError> {
    let (account, name) = named(&app.hub.store, name).await?;
    let revoked = app.hub.store.revoke_sessions_of(account, now_ms()).await?;
    close_links(&app, account, &revoked);
    tracing::info!(
        target: AUDIT,
        tower = %tower.account.0,
        %name,
        account = %account.0,
        sessions_ended = revoked.len(),
        "the tower ended a person's sessions"
    );
    Ok(Json(SessionsEnded {
        ended: u32::try_from(revoked.len()).unwrap_or(u32::MAX),
    }))
}

/// `DELETE /api/v1/tower/people/{name}/sessions/{id}`: ends one of a person's sessions
/// (`id` as the list shows it); its open links close at once.
#[utoipa::path(
    delete,
    path = "/api/v1/tower/people/{name}/sessions/{id}",
    tag = "gate",
    security(("bearer" = [])),
    params(
        ("name" = inline(haurach_proto::schemas::AccountName), Path, description = "the person's account name"),
        ("id" = String, Path, pattern = "^[0-9a-f]{16}$", description = "the session's id, as `GET .../sessions` lists it"),
    ),
    responses(
        (status = 200, description = "the session ended (`ended`: 1)", body = SessionsEnded),
        (status = 400, description = "`invalid_path`: the id is not 16 hexadecimal digits"),
        (status = 403, description = "`tower_only`; `awaiting_tower`, `application_declined`"),
        (status = 404, description = "`no_such_citizen`; `no_such_session`: no live session of theirs has that id"),
    )
)]
pub async fn end_session<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    Tower(tower): Tower,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<SessionsEnded>, ApiError> {
    let Path((name, id)) = path.map_err(|_| {
        ApiError::bad_request("invalid_path", "a name and a session id are expected")
    })?;
    let id = session_id(&id).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_path",
            "a session's id is 16 hexadecimal digits, as the list of sessions shows it",
        )
    })?;
    let account = person(&app.hub.store, Ok(Path(name))).await?;
    let revoked = app
        .hub
        .store
        .revoke_session_of(account, &id, now_ms())
        .await?;
    if revoked.is_empty() {
        return Err(ApiError::not_found(
            "no_such_session",
            "no live session of theirs has that id (it may have ended already)",
        ));
    }
    close_links(&app, account, &revoked);
    tracing::info!(
        target: AUDIT,
        tower = %tower.account.0,
        account = %account.0,
        "the tower ended one of a person's sessions"
    );
    Ok(Json(SessionsEnded {
        ended: u32::try_from(revoked.len()).unwrap_or(u32::MAX),
    }))
}

/// A session's id (16 lowercase hexadecimal digits) as its 8 bytes.
fn session_id(id: &str) -> Option<[u8; 8]> {
    if id.len() != 16 || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut bytes = [0u8; 8];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&id[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(bytes)
}

/// `DELETE /api/v1/tower/people/{name}`: removes a person with everything they own, in
/// one transaction: their account and sessions (their links close at once), position,
/// journey, places, journal, pictures, their bonds with all their messages (a live bond
/// ends and the partner is told), the letters they sent, received or hold, their parcels,
/// summonses and invites, and their page in the gatekeeper's book. Their partner's own
/// data stays theirs.
#[utoipa::path(
    delete,
    path = "/api/v1/tower/people/{name}",
    tag = "gate",
    security(("bearer" = [])),
    params(("name" = inline(haurach_proto::schemas::AccountName), Path, description = "the person's account name")),
    responses(
        (status = 204, description = "the person and everything they owned are gone"),
        (status = 403, description = "`tower_only`; `awaiting_tower`, `application_declined`"),
        (status = 404, description = "`no_such_citizen`"),
        (status = 409, description = "`last_tower`: make another tower first"),
    )
)]
pub async fn remove_person<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    Tower(tower): Tower,
    name: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let (account, name) = named(&app.hub.store, name).await?;
    app.hub.remove_person(account).await?;
    tracing::info!(
        target: AUDIT,
        tower = %tower.account.0,
        %name,
        account = %account.0,
        "the tower removed a person with everything they owned"
    );
    Ok(StatusCode::NO_CONTENT)
}
