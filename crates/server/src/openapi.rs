//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of every route. The schemas are
//! derived from the wire types in `haurach-proto`, so they cannot drift from what the
//! server speaks; the routes are listed here, and a test checks the list against the
//! router.

use axum::Json;
use haurach_proto::{
    AcceptInvite, Account, BondView, ContactState, Credentials, Feeling, Invite, LatLon, Me,
    Message, MessageKind, MessagePage, NextTier, PositionUpdate, Problem, PullView, SendMessage,
    Session, TierView,
};
use serde_json::{Value, json};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Haurach",
        description = "A self-hosted, real-time link for two people who want to find each other. \
                       Errors are RFC 9457 problem+json. The live link is a WebSocket at \
                       /api/v1/link, described in docs/protocol.md."
    ),
    components(schemas(
        AcceptInvite,
        Account,
        BondView,
        ContactState,
        Credentials,
        Feeling,
        Invite,
        LatLon,
        Me,
        Message,
        MessageKind,
        MessagePage,
        NextTier,
        PositionUpdate,
        Problem,
        PullView,
        SendMessage,
        Session,
        TierView
    ))
)]
struct Schemas;

/// One documented route.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// Lowercase HTTP method.
    pub method: &'static str,
    /// The path, with `{name}` for parameters.
    pub path: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// The request body's schema, if any.
    pub request: Option<&'static str>,
    /// The success status.
    pub status: u16,
    /// The success body's schema, if any.
    pub response: Option<&'static str>,
    /// Whether it needs a bearer token.
    pub auth: bool,
    /// The problem statuses it may answer.
    pub errors: &'static [u16],
}

/// A route as written in the table below: (method, path, summary, request schema,
/// (success status, response schema), needs a token, error statuses).
type RouteRow = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    (u16, Option<&'static str>),
    bool,
    &'static [u16],
);

const fn route(
    (method, path, summary, request, (status, response), auth, errors): RouteRow,
) -> Route {
    Route {
        method,
        path,
        summary,
        request,
        status,
        response,
        auth,
        errors,
    }
}

/// Every documented route.
pub const ROUTES: &[Route] = &[
    route((
        "get",
        "/healthz",
        "Liveness: 200 when the server answers.",
        None,
        (200, None),
        false,
        &[],
    )),
    route((
        "get",
        "/metrics",
        "Prometheus metrics.",
        None,
        (200, None),
        false,
        &[],
    )),
    route((
        "get",
        "/api/v1/openapi.json",
        "This document.",
        None,
        (200, None),
        false,
        &[],
    )),
    route((
        "post",
        "/api/v1/accounts",
        "Register a citizen.",
        Some("Credentials"),
        (201, Some("Account")),
        false,
        &[400, 409, 413, 422],
    )),
    route((
        "post",
        "/api/v1/sessions",
        "Log in: a bearer token.",
        Some("Credentials"),
        (200, Some("Session")),
        false,
        &[400, 401, 422, 429],
    )),
    route((
        "delete",
        "/api/v1/sessions/current",
        "Log out: revoke this token.",
        None,
        (204, None),
        true,
        &[401],
    )),
    route((
        "get",
        "/api/v1/me",
        "Who this token belongs to.",
        None,
        (200, Some("Me")),
        true,
        &[401],
    )),
    route((
        "put",
        "/api/v1/me/position",
        "Report where I am.",
        Some("PositionUpdate"),
        (204, None),
        true,
        &[400, 401, 422],
    )),
    route((
        "post",
        "/api/v1/bond/invites",
        "Make an invite code for my partner (valid 24 h).",
        None,
        (201, Some("Invite")),
        true,
        &[401, 409],
    )),
    route((
        "post",
        "/api/v1/bond",
        "Accept my partner's invite: the bond.",
        Some("AcceptInvite"),
        (201, Some("BondView")),
        true,
        &[400, 401, 404, 409, 422],
    )),
    route((
        "get",
        "/api/v1/bond",
        "The bond: the pull, strength, tiers, contact.",
        None,
        (200, Some("BondView")),
        true,
        &[401, 404],
    )),
    route((
        "delete",
        "/api/v1/bond",
        "End the bond.",
        None,
        (204, None),
        true,
        &[401, 404],
    )),
    route((
        "post",
        "/api/v1/bond/messages",
        "Send voice, a feeling or the alarm; answered once stored (200 for a retry).",
        Some("SendMessage"),
        (201, Some("Message")),
        true,
        &[400, 401, 403, 404, 409, 413, 422],
    )),
    route((
        "get",
        "/api/v1/bond/messages",
        "The bond's messages after ?after=SEQ (at most ?limit=N, default 100).",
        None,
        (200, Some("MessagePage")),
        true,
        &[400, 401, 404, 422],
    )),
    route((
        "post",
        "/api/v1/bond/alarms/{seq}/ack",
        "Acknowledge my partner's alarm.",
        None,
        (200, Some("Message")),
        true,
        &[400, 401, 404, 409],
    )),
    route((
        "get",
        "/api/v1/link",
        "The live link (WebSocket upgrade; ?token=, ?after=SEQ). See docs/protocol.md.",
        None,
        (101, None),
        true,
        &[400, 401, 503],
    )),
];

/// The document.
pub fn build() -> Value {
    let mut doc = serde_json::to_value(Schemas::openapi()).expect("openapi serialises");
    let mut paths = serde_json::Map::new();
    for Route {
        method,
        path,
        summary,
        request,
        status,
        response,
        auth,
        errors,
    } in ROUTES
    {
        let mut responses = serde_json::Map::new();
        let ok = match response {
            Some(schema) => json!({
                "description": "success",
                "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}
            }),
            None => json!({"description": "success"}),
        };
        responses.insert(status.to_string(), ok);
        for e in *errors {
            responses.insert(
                e.to_string(),
                json!({
                    "description": "a problem",
                    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
                }),
            );
        }
        let mut op = json!({"summary": summary, "responses": responses});
        if let Some(schema) = request {
            op["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}
            });
        }
        if *auth {
            op["security"] = json!([{"bearer": []}]);
        }
        if path.contains("{seq}") {
            op["parameters"] = json!([{"name": "seq", "in": "path", "required": true, "schema": {"type": "integer"}}]);
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    doc["paths"] = Value::Object(paths);
    doc["components"]["securitySchemes"] = json!({"bearer": {"type": "http", "scheme": "bearer"}});
    doc
}

/// `GET /api/v1/openapi.json`.
pub async fn document() -> Json<Value> {
    Json(build())
}
