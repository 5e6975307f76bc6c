//! The HTTP API: routes, the bearer-token extractor, and the handlers, which check input
//! and call the [`Hub`]. Every error leaves as problem+json through [`ApiError`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use haurach_bond::Fix;
use haurach_bond::geo::valid_coordinates;
use haurach_proto::{
    AcceptInvite, Account, Credentials, Invite, LatLon, Me, MessagePage, PositionUpdate,
    SendMessage, Session,
};
use serde::Deserialize;

use crate::auth;
use crate::bus::Bus;
use crate::error::ApiError;
use crate::hub::{Hub, now_ms, timestamp};
use crate::places_api;
use haurach_store::{AccountId, AccountRecord, Store};

/// The state every handler shares.
pub type AppState<S, B> = Arc<App<S, B>>;

/// The hub plus what only the HTTP layer needs.
pub struct App<S, B> {
    /// The hub.
    pub hub: Hub<S, B>,
    /// Failed logins per name, to answer 429 to password guessing.
    login_failures: Mutex<HashMap<String, (u32, Instant)>>,
    /// Caps the number of live links.
    pub links: Arc<tokio::sync::Semaphore>,
    /// Tells every link to close when the server shuts down.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// OwnTracks credentials verified lately.
    pub owntracks: crate::owntracks::BasicCache,
    /// Where parcels' bytes are kept (`DATA/parcels`, or PostgreSQL).
    pub blobs: crate::blobs::Blobs,
    /// Where pictures are kept, and the permits to decode them.
    pub pictures: crate::images::Pictures,
    /// Camera frames (glimpse and sight) between partners' links.
    pub sight: crate::sight::Relay,
}

impl<S, B> App<S, B> {
    /// The shared state of a server.
    pub fn new(
        hub: Hub<S, B>,
        blobs: crate::blobs::Blobs,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> App<S, B> {
        let max_links = hub.config.max_links;
        let pictures =
            crate::images::Pictures::new(&hub.config.data, hub.config.max_image_megapixels, {
                match &blobs {
                    crate::blobs::Blobs::Files(_) => {
                        crate::files::Files::Disk(hub.config.data.clone())
                    }
                    crate::blobs::Blobs::Postgres(pg) => crate::files::Files::Postgres(pg.pool()),
                }
            });
        App {
            blobs,
            pictures,
            sight: crate::sight::Relay::default(),
            hub,
            login_failures: Mutex::new(HashMap::new()),
            links: Arc::new(tokio::sync::Semaphore::new(max_links)),
            shutdown,
            owntracks: crate::owntracks::BasicCache::default(),
        }
    }
}

impl<S, B> App<S, B> {
    /// 429 when `name` failed to log in too often lately (the login form and OwnTracks'
    /// Basic auth count together).
    pub(crate) fn login_throttled(&self, name: &str) -> Option<ApiError> {
        let failures = self.login_failures.lock().expect("login lock");
        let (n, since) = failures.get(&name.to_lowercase())?;
        if *n < LOGIN_ATTEMPTS || since.elapsed() >= LOGIN_WINDOW {
            return None;
        }
        let wait = LOGIN_WINDOW.saturating_sub(since.elapsed()).as_secs() + 1;
        Some(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            format!("too many failed logins for this name: try again in {wait} s"),
        ))
    }

    /// Counts a failed login of `name`.
    pub(crate) fn login_failed(&self, name: &str) {
        let mut failures = self.login_failures.lock().expect("login lock");
        let entry = failures
            .entry(name.to_lowercase())
            .or_insert((0, Instant::now()));
        if entry.1.elapsed() >= LOGIN_WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    /// Forgets the failures of `name` after a good login.
    pub(crate) fn login_succeeded(&self, name: &str) {
        self.login_failures
            .lock()
            .expect("login lock")
            .remove(&name.to_lowercase());
    }
}

/// Failed logins allowed per name within [`LOGIN_WINDOW`] before 429.
const LOGIN_ATTEMPTS: u32 = 10;
const LOGIN_WINDOW: Duration = Duration::from_secs(60);

/// The router of the whole server.
pub fn router<S: Store, B: Bus>(app: AppState<S, B>) -> Router {
    let max_body = app.hub.config.max_body_bytes;
    Router::new()
        .route("/healthz", get(healthz::<S, B>))
        .route("/metrics", get(metrics::<S, B>))
        .route("/api/v1/openapi.json", get(crate::openapi::document))
        .route("/api/v1/accounts", post(crate::gate::register::<S, B>))
        .route("/api/v1/sessions", post(create_session::<S, B>))
        .route("/api/v1/me", get(me::<S, B>))
        .route("/api/v1/me/position", put(put_position::<S, B>))
        .route("/api/v1/bond/invites", post(create_invite::<S, B>))
        .route(
            "/api/v1/bond",
            get(get_bond::<S, B>)
                .post(accept_invite::<S, B>)
                .delete(end_bond::<S, B>),
        )
        .route(
            "/api/v1/bond/messages",
            get(list_messages::<S, B>).post(send_message::<S, B>),
        )
        .route(
            "/api/v1/bond/alarms/{seq}/ack",
            post(acknowledge_alarm::<S, B>),
        )
        .route("/api/v1/link", get(crate::link::upgrade::<S, B>))
        .route("/api/v1/places", get(places_api::list_places::<S, B>))
        .route(
            "/api/v1/places/{name}",
            put(places_api::put_place::<S, B>).delete(places_api::delete_place::<S, B>),
        )
        .route(
            "/api/v1/bond/meeting",
            get(places_api::get_meeting::<S, B>)
                .put(places_api::pin_meeting::<S, B>)
                .delete(places_api::unpin_meeting::<S, B>),
        )
        .route(
            "/api/v1/me/journey.gpx",
            get(places_api::journey_gpx::<S, B>),
        )
        .route("/owntracks", post(crate::owntracks::post::<S, B>))
        .merge(crate::city::routes(&app))
        .merge(crate::images::routes::<S, B>(
            app.hub.config.max_image_bytes,
        ))
        .merge(crate::memories::routes::<S, B>(
            app.hub.config.max_image_bytes,
        ))
        .merge(crate::web::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn(problems_only))
        .layer(middleware::from_fn_with_state(
            app.clone(),
            count_responses::<S, B>,
        ))
        .with_state(app)
}

async fn count_responses<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    req: Request,
    next: Next,
) -> Response {
    let res = next.run(req).await;
    let m = &app.hub.metrics;
    match res.status().as_u16() {
        200..=299 => m.http_2xx.inc(),
        400..=499 => m.http_4xx.inc(),
        500..=599 => m.http_5xx.inc(),
        _ => {}
    }
    res
}

async fn not_found() -> ApiError {
    ApiError::not_found(
        "no_such_route",
        "there is no such route; see /api/v1/openapi.json",
    )
}

/// A safety net under every route: an error answered by the framework itself (405 for a
/// wrong method, 413 before a body is read) still leaves as problem+json.
async fn problems_only(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == haurach_proto::problem::PROBLEM_JSON.as_bytes());
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return res;
    }
    let (code, detail) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this route does not take that method; see /api/v1/openapi.json",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "body_too_large",
            "the request body is larger than this server accepts",
        ),
        _ => ("http_error", "the request could not be handled"),
    };
    let mut problem = ApiError::new(status, code, detail).into_response();
    if let Some(allow) = res.headers().get(header::ALLOW) {
        problem.headers_mut().insert(header::ALLOW, allow.clone());
    }
    problem
}

/// The caller, from `Authorization: Bearer TOKEN` or `?token=TOKEN`: a citizen (or the
/// tower). An applicant the tower has not let in yet is refused here with 403, so every
/// route that takes a `Caller` is closed to them; the few they may use take a
/// [`Visitor`](crate::gate::Visitor).
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
        let visitor = crate::gate::Visitor::from_request_parts(parts, app).await?;
        crate::gate::inside(visitor.standing)?;
        // Any request from a citizen shows they are there: contact is live.
        app.hub.heard(visitor.account).await?;
        Ok(Caller {
            account: visitor.account,
            token_hash: visitor.token_hash,
            standing: visitor.standing,
        })
    }
}

pub(crate) fn account_view(a: &AccountRecord) -> Account {
    Account {
        id: a.id.0,
        name: a.name.clone(),
        created_at: timestamp(a.created_at),
    }
}

/// `ok` when this node can store and (with several nodes) reach the others; otherwise
/// 503 saying which is missing, so a load balancer sends people elsewhere.
async fn healthz<S: Store, B: Bus>(State(app): State<AppState<S, B>>) -> Response {
    let store = app.hub.store.healthy().await;
    let bus = app.hub.bus.healthy();
    if store && bus {
        return "ok\n".into_response();
    }
    let missing = match (store, bus) {
        (false, false) => "the database and the event bus (NATS) cannot be reached",
        (false, true) => "the database cannot be reached",
        _ => "the event bus (NATS) cannot be reached",
    };
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unhealthy", missing).into_response()
}

async fn metrics<S: Store, B: Bus>(State(app): State<AppState<S, B>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        app.hub.metrics.render(),
    )
        .into_response()
}

pub(crate) fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = (1..=32).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "invalid_name",
            "a name is 1 to 32 letters, digits, '-', '_' or '.'",
        ))
    }
}

pub(crate) fn name_taken(name: &str) -> ApiError {
    ApiError::conflict("name_taken", format!("the name {name:?} is taken"))
}

async fn create_session<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    body: Result<Json<Credentials>, JsonRejection>,
) -> Result<Json<Session>, ApiError> {
    let Json(creds) = body?;
    if let Some(throttled) = app.login_throttled(&creds.name) {
        return Err(throttled);
    }
    let account = app.hub.store.account_by_name(&creds.name).await?;
    let ok = match &account {
        Some(a) => {
            let (password, phc) = (creds.password.clone(), a.password_hash.clone());
            tokio::task::spawn_blocking(move || auth::verify_password(&password, &phc))
                .await
                .map_err(ApiError::internal)?
        }
        None => false,
    };
    let Some(account) = account.filter(|_| ok) else {
        app.login_failed(&creds.name);
        return Err(ApiError::unauthorized("wrong name or password"));
    };
    app.login_succeeded(&creds.name);
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

async fn me<S: Store, B: Bus>(
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

async fn put_position<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    body: Result<Json<PositionUpdate>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(update) = body?;
    let fix = fix_of(&update, now_ms())?;
    app.hub.position(caller.account, fix, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn create_invite<S: Store, B: Bus>(
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

async fn accept_invite<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    body: Result<Json<AcceptInvite>, JsonRejection>,
) -> Result<(StatusCode, Json<haurach_proto::BondView>), ApiError> {
    let Json(accept) = body?;
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

async fn get_bond<S: Store, B: Bus>(
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

async fn end_bond<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    app.hub.end_bond(caller.account).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn send_message<S: Store, B: Bus>(
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MessagesQuery {
    #[serde(default)]
    after: i64,
    #[serde(default = "default_limit")]
    limit: u32,
}

fn default_limit() -> u32 {
    100
}

async fn list_messages<S: Store, B: Bus>(
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

async fn acknowledge_alarm<S: Store, B: Bus>(
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
