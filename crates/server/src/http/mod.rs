//! The HTTP layer: one route table ([`api`], which builds the router and the OpenAPI
//! document alike; [`router`] adds the web client and the layers), the state handlers
//! share ([`App`]), the extractors ([`extract`]), problems as responses ([`problem`]), and
//! one file of handlers per feature, which check input and call the
//! [`Hub`](crate::runtime::Hub). The live link ([`link`]), the OpenAPI document
//! ([`openapi`]) and the web client's files ([`web`]) are here too. Every error leaves as
//! problem+json.

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use haurach_store::Store;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{Predicate as _, SizeAbove};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::bus::Bus;
use crate::error::ApiError;

pub mod access;
pub mod account;
pub mod camera;
pub mod client;
pub mod devices;
pub mod export;
pub mod extract;
pub mod gate;
pub mod images;
pub mod journey;
pub mod letters;
pub mod link;
pub mod locate;
pub mod meeting;
pub mod memories;
pub mod names;
pub mod openapi;
pub mod owntracks;
pub mod pause;
pub mod places;
pub mod private;
pub mod problem;
pub mod push;
pub mod serve;
pub mod state;
pub mod summons;
pub mod throttle;
pub mod tower;
pub mod web;

pub use state::{App, AppState};

/// What the web page may use: the camera (glimpse and sight) and the position, both only
/// for itself; nothing else a browser offers.
const PERMISSIONS_POLICY: &str =
    "camera=(self), geolocation=(self), microphone=(), payment=(), usb=()";

/// The router of the whole server: every route, in one table ([`api`]), plus the web
/// client's files and the layers every answer passes through.
pub fn router<S: Store, B: Bus>(app: AppState<S, B>) -> Router {
    let config = &app.hub.config;
    let (max_body, max_image) = (config.max_body_bytes, config.max_image_bytes);
    let (api, doc) = api::<S, B>(max_image).split_for_parts();
    let doc = serde_json::to_vec(&openapi::finish(doc)).expect("the document serialises");
    api
        // The web client: files, not part of the API, so not in the document.
        .route("/", get(web::index))
        .route("/assets/{*path}", get(web::asset))
        .fallback(problem::not_found)
        .layer(Extension(openapi::Document(doc.into())))
        .layer(Extension(web::Site::new(
            &config.map_tiles,
            &config.map_attribution,
        )))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(max_body, problem::no_nul))
        // Every answer, problems and API bodies included: not to be read as another type,
        // and the page may use the camera and the position only for itself.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static(PERMISSIONS_POLICY),
        ))
        .layer(middleware::from_fn(problem::problems_only))
        .layer(
            CompressionLayer::new()
                .gzip(true)
                .br(true)
                .compress_when(SizeAbove::new(1024).and(compressible)),
        )
        .layer(middleware::from_fn_with_state(
            app.clone(),
            access::observe::<S, B>,
        ))
        .with_state(app)
}

/// Whether a response is worth compressing: text (the web client's files, JSON, problems,
/// GPX, CSV); with `SizeAbove`, of more than a packet. Pictures, parcels and exports are compressed already,
/// or are whatever their sender made: compressing them again costs CPU for nothing.
fn compressible(
    _: StatusCode,
    _: axum::http::Version,
    headers: &axum::http::HeaderMap,
    _: &axum::http::Extensions,
) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            t.starts_with("text/")
                || t.starts_with("application/json")
                || t.starts_with("application/problem+json")
                || t.starts_with("application/manifest+json")
                || t.starts_with("application/gpx+xml")
                || t.starts_with("image/svg+xml")
        })
}

/// Every route of the API, in one table that builds both the router and the OpenAPI
/// document: `routes!` routes each handler at the path of its `#[utoipa::path]` and adds
/// that operation to the document ([`openapi`]). The handlers are generic over the
/// backends; the state's type names them.
pub fn api<S: Store, B: Bus>(max_image: usize) -> OpenApiRouter<AppState<S, B>> {
    let pictures = || DefaultBodyLimit::max(max_image);
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(healthz))
        .routes(routes!(metrics))
        .routes(routes!(openapi::document))
        // A citizen and their bond.
        .routes(routes!(gate::register))
        .routes(routes!(account::create_session))
        .routes(routes!(gate::logout))
        .routes(routes!(account::me))
        .routes(routes!(account::put_position))
        .routes(routes!(account::create_invite))
        .routes(routes!(
            account::get_bond,
            account::accept_invite,
            account::end_bond
        ))
        .routes(routes!(account::list_messages, account::send_message))
        .routes(routes!(account::acknowledge_alarm))
        .routes(routes!(locate::locate))
        .routes(routes!(link::upgrade))
        .routes(routes!(owntracks::post))
        // A private bond (http/private.rs).
        .routes(routes!(private::create_private_invite))
        .routes(routes!(
            private::private_bond,
            private::accept_private_invite
        ))
        .routes(routes!(private::confirm))
        .routes(routes!(private::put_tokens))
        .routes(routes!(private::put_sealed_fix))
        // Places, the meeting point, the journey.
        .routes(routes!(places::list_places))
        .routes(routes!(places::put_place, places::delete_place))
        .routes(routes!(
            meeting::get_meeting,
            meeting::pin_meeting,
            meeting::unpin_meeting
        ))
        .routes(routes!(journey::journey_gpx))
        .routes(routes!(journey::journey))
        .routes(routes!(export::my_export))
        // Pictures, the camera, the journals.
        .routes(routes!(images::list, images::upload).layer(pictures()))
        // A sealed picture carries its renditions too: up to twice a picture's bytes.
        .routes(routes!(images::upload_sealed).layer(DefaultBodyLimit::max(2 * max_image)))
        .routes(routes!(images::picture))
        .routes(routes!(images::original))
        .routes(routes!(camera::get_camera, camera::put_camera))
        // Pausing one's sharing.
        .routes(routes!(
            pause::get_pause,
            pause::put_pause,
            pause::delete_pause
        ))
        .routes(routes!(memories::mine, memories::write))
        .routes(routes!(memories::write_photo).layer(pictures()))
        // A sealed photo carries its caption and the sealing's few bytes besides.
        .routes(
            routes!(memories::write_sealed_photo)
                .layer(DefaultBodyLimit::max(max_image + 64 * 1024)),
        )
        .routes(routes!(memories::partners))
        .routes(routes!(memories::photo))
        // The city: the gate and the tower, fire-mail, summoning.
        .routes(routes!(gate::info))
        .routes(routes!(gate::my_arrival))
        .routes(routes!(gate::queue))
        .routes(routes!(gate::decide))
        .routes(routes!(gate::register_json))
        .routes(routes!(gate::register_csv))
        .routes(routes!(gate::create_gate_invite))
        // The tower's tools (http/tower.rs).
        .routes(routes!(tower::make_tower))
        .routes(routes!(tower::remove_person))
        .routes(routes!(export::person_export))
        .routes(routes!(tower::set_password))
        .routes(routes!(tower::sessions, tower::end_sessions))
        .routes(routes!(tower::end_session))
        // The upload streams to disk and counts its own bytes against `max_parcel_bytes`;
        // the default body limit is for JSON bodies.
        .routes(routes!(letters::upload).layer(DefaultBodyLimit::disable()))
        .routes(routes!(letters::list, letters::send))
        .routes(routes!(letters::one))
        .routes(routes!(letters::read))
        .routes(routes!(letters::return_to_sender))
        .routes(routes!(letters::parcel))
        .routes(routes!(letters::thread))
        .routes(routes!(summons::allowed))
        .routes(routes!(summons::allow, summons::disallow))
        .routes(routes!(summons::list, summons::summon))
        .routes(routes!(summons::one))
        .routes(routes!(summons::accept))
        .routes(routes!(summons::decline))
        .routes(routes!(summons::end))
        // Web Push to devices whose page is closed.
        .routes(routes!(push::key))
        .routes(routes!(push::subscribe, push::unsubscribe))
        // Device passwords, for the OwnTracks app.
        .routes(routes!(devices::list, devices::add))
        .routes(routes!(devices::revoke))
}

/// `ok` when this node can store and (with several nodes) reach the others; otherwise
/// 503 saying which is missing, so a load balancer sends people elsewhere.
#[utoipa::path(
    get,
    summary = "Health: whether this node can store and reach the other nodes.",
    path = "/healthz",
    tag = "server",
    responses(
        (status = 200, description = "this node can store and reach the other nodes", body = String, content_type = "text/plain", example = "ok\n"),
        (status = 503, description = "`unhealthy`: the database or the event bus cannot be reached"),
    )
)]
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

/// How long a scrape waits for the database to answer before it says it is down.
const DATABASE_UP_WAIT: Duration = Duration::from_secs(2);

/// Prometheus metrics. The gauges read rather than counted are refreshed here: whether
/// the database answers (`SELECT 1`, at most [`DATABASE_UP_WAIT`]), whether NATS is
/// connected, and how far SQLite's indexer is behind the journal.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "server",
    responses((status = 200, description = "the metrics, in Prometheus' text format", body = String, content_type = "text/plain"))
)]
async fn metrics<S: Store, B: Bus>(State(app): State<AppState<S, B>>) -> Response {
    let (hub, m) = (&app.hub, &app.hub.metrics);
    let database_up = tokio::time::timeout(DATABASE_UP_WAIT, hub.store.healthy()).await;
    m.database_up.set(i64::from(database_up == Ok(true)));
    m.nats_up.set(i64::from(hub.bus.healthy()));
    m.nats_dropped
        .inc_by(hub.bus.dropped().saturating_sub(m.nats_dropped.get()));
    if let Some(lag) = hub.store.indexer_lag() {
        m.indexer_lag.set(lag);
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
        )],
        m.render(),
    )
        .into_response()
}
