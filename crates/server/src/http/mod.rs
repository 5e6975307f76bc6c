//! The HTTP layer: one route table ([`router`]), the state handlers share ([`App`]), the
//! extractors ([`extract`]), problems as responses ([`problem`]), and one file of
//! handlers per feature, which check input and call the [`Hub`](crate::runtime::Hub). The live link
//! ([`link`]), the OpenAPI document ([`openapi`]) and the web client's files ([`web`])
//! are here too. Every error leaves as problem+json.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use haurach_store::Store;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::bus::Bus;
use crate::error::ApiError;

pub mod account;
pub mod camera;
pub mod client;
pub mod extract;
pub mod gate;
pub mod images;
pub mod journey;
pub mod letters;
pub mod link;
pub mod meeting;
pub mod memories;
pub mod names;
pub mod openapi;
pub mod owntracks;
pub mod places;
pub mod problem;
pub mod serve;
pub mod state;
pub mod summons;
pub mod throttle;
pub mod web;

pub use state::{App, AppState};

/// What the web page may use: the camera (glimpse and sight) and the position, both only
/// for itself; nothing else a browser offers.
const PERMISSIONS_POLICY: &str =
    "camera=(self), geolocation=(self), microphone=(), payment=(), usb=()";

/// The router of the whole server: every route, in one table.
pub fn router<S: Store, B: Bus>(app: AppState<S, B>) -> Router {
    let config = &app.hub.config;
    let (max_body, max_image) = (config.max_body_bytes, config.max_image_bytes);
    Router::new()
        .route("/healthz", get(healthz::<S, B>))
        .route("/metrics", get(metrics::<S, B>))
        .route("/api/v1/openapi.json", get(openapi::document))
        // A citizen and their bond.
        .route("/api/v1/accounts", post(gate::register::<S, B>))
        .route("/api/v1/sessions", post(account::create_session::<S, B>))
        .route("/api/v1/sessions/current", delete(gate::logout::<S, B>))
        .route("/api/v1/me", get(account::me::<S, B>))
        .route("/api/v1/me/position", put(account::put_position::<S, B>))
        .route("/api/v1/bond/invites", post(account::create_invite::<S, B>))
        .route(
            "/api/v1/bond",
            get(account::get_bond::<S, B>)
                .post(account::accept_invite::<S, B>)
                .delete(account::end_bond::<S, B>),
        )
        .route(
            "/api/v1/bond/messages",
            get(account::list_messages::<S, B>).post(account::send_message::<S, B>),
        )
        .route(
            "/api/v1/bond/alarms/{seq}/ack",
            post(account::acknowledge_alarm::<S, B>),
        )
        .route("/api/v1/link", get(link::upgrade::<S, B>))
        .route("/owntracks", post(owntracks::post::<S, B>))
        // Places, the meeting point, the journey.
        .route("/api/v1/places", get(places::list_places::<S, B>))
        .route(
            "/api/v1/places/{name}",
            put(places::put_place::<S, B>).delete(places::delete_place::<S, B>),
        )
        .route(
            "/api/v1/bond/meeting",
            get(meeting::get_meeting::<S, B>)
                .put(meeting::pin_meeting::<S, B>)
                .delete(meeting::unpin_meeting::<S, B>),
        )
        .route("/api/v1/me/journey.gpx", get(journey::journey_gpx::<S, B>))
        // Pictures, the camera, the journals.
        .route(
            "/api/v1/bond/images",
            get(images::list::<S, B>)
                .post(images::upload::<S, B>)
                .layer(DefaultBodyLimit::max(max_image)),
        )
        .route(
            "/api/v1/bond/images/{id}/picture",
            get(images::picture::<S, B>),
        )
        .route(
            "/api/v1/bond/images/{id}/original",
            get(images::original::<S, B>),
        )
        .route(
            "/api/v1/me/camera",
            get(camera::get_camera::<S, B>).put(camera::put_camera::<S, B>),
        )
        .route(
            "/api/v1/me/memories",
            get(memories::mine::<S, B>).post(memories::write::<S, B>),
        )
        .route(
            "/api/v1/me/memories/photos",
            post(memories::write_photo::<S, B>).layer(DefaultBodyLimit::max(max_image)),
        )
        .route("/api/v1/bond/memories", get(memories::partners::<S, B>))
        .route("/api/v1/memories/{id}/photo", get(memories::photo::<S, B>))
        // The city: the gate and the tower, fire-mail, summoning.
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
        // The web client.
        .route("/", get(web::index))
        .route("/assets/{*path}", get(web::asset))
        .fallback(problem::not_found)
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
