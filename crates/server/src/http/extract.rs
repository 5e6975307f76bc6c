//! Who is asking: the extractors every handler takes. [`Visitor`] is anyone with a live
//! session; [`Caller`] a citizen (or the tower), refusing applicants with 403, so every
//! route a citizen uses is closed to them by construction; [`Tower`] the tower only.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use haurach_proto::Standing;
use haurach_store::{AccountId, Store};

use super::state::AppState;
use crate::auth;
use crate::bus::Bus;
use crate::error::ApiError;

/// The prefix of the WebSocket subprotocol that carries a browser's token on the link:
/// it offers `["haurach", "bearer.TOKEN"]` and the server answers `haurach`.
pub const BEARER_PROTOCOL: &str = "bearer.";

/// The caller, from `Authorization: Bearer TOKEN`, a `bearer.TOKEN` WebSocket subprotocol
/// (the link from a browser) or, for old clients, `?token=TOKEN`: a citizen (or the
/// tower). An applicant the tower has not let in yet is refused here with 403, so every
/// route that takes a `Caller` is closed to them; the few they may use take a
/// [`Visitor`].
pub struct Caller {
    /// Their account.
    pub account: AccountId,
    /// The hash of the token they used.
    pub token_hash: Vec<u8>,
    /// Where they stand (tower or citizen).
    pub standing: haurach_proto::Standing,
}

impl<S: Store, B: Bus> FromRequestParts<AppState<S, B>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState<S, B>,
    ) -> Result<Caller, ApiError> {
        let visitor = Visitor::from_request_parts(parts, app).await?;
        inside(visitor.standing)?;
        // Any request from a citizen shows they are there: contact is live.
        app.hub.heard(visitor.account).await?;
        Ok(Caller {
            account: visitor.account,
            token_hash: visitor.token_hash,
            standing: visitor.standing,
        })
    }
}

/// Anyone with a live session, whatever their standing: an applicant may use only the
/// routes that take a `Visitor` (their own page of the book, logging out).
pub struct Visitor {
    /// Their account.
    pub account: AccountId,
    /// The hash of the token they used.
    pub token_hash: Vec<u8>,
    /// Where they stand.
    pub standing: Standing,
}

impl<S: Store, B: Bus> FromRequestParts<AppState<S, B>> for Visitor {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState<S, B>,
    ) -> Result<Visitor, ApiError> {
        let from_header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        // A browser's WebSocket can set no header but the subprotocols it offers.
        let from_protocol = || {
            parts
                .headers
                .get_all(header::SEC_WEBSOCKET_PROTOCOL)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .find_map(|p| p.trim().strip_prefix(BEARER_PROTOCOL))
                .map(str::to_owned)
        };
        // Kept for old clients only: a URL ends up in proxies' logs (ours redacts it,
        // `http/access.rs`).
        let from_query = || {
            parts.uri.query().and_then(|q| {
                q.split('&')
                    .find_map(|kv| kv.strip_prefix("token="))
                    .map(str::to_owned)
            })
        };
        let token = from_header
            .or_else(from_protocol)
            .or_else(from_query)
            .ok_or_else(|| {
                ApiError::unauthorized("log in first: send Authorization: Bearer TOKEN")
            })?;
        let token_hash = auth::token_hash(token.trim());
        let (account, standing) = app
            .hub
            .store
            .session_standing(&token_hash)
            .await?
            .ok_or_else(|| {
                ApiError::unauthorized("this session is unknown or was logged out: log in again")
            })?;
        Ok(Visitor {
            account,
            token_hash,
            standing,
        })
    }
}

/// 403 unless the standing is inside the city.
pub fn inside(standing: Standing) -> Result<(), ApiError> {
    match standing {
        Standing::Tower | Standing::Citizen => Ok(()),
        Standing::Applicant => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "awaiting_tower",
            "your application is with the tower: until it is approved you can only read it \
             (GET /api/v1/gate/me)",
        )),
        Standing::Declined => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "application_declined",
            "the tower declined your application: its answer is in your book \
             (GET /api/v1/gate/me)",
        )),
    }
}

/// A caller from the tower (an admin).
pub struct Tower(pub Caller);

impl<S: Store, B: Bus> FromRequestParts<AppState<S, B>> for Tower {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState<S, B>,
    ) -> Result<Tower, ApiError> {
        let caller = Caller::from_request_parts(parts, app).await?;
        if caller.standing != Standing::Tower {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "tower_only",
                "only the tower (an admin) may do this",
            ));
        }
        Ok(Tower(caller))
    }
}
