//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of every route. The schemas are
//! derived from the wire types in `haurach-proto`, so they cannot drift from what the
//! server speaks; the routes are listed here, and a test checks the list against the
//! router.

use axum::Json;
use haurach_proto::{
    AcceptInvite, Account, BondView, CameraConsent, ContactState, Credentials, Feeling, ImageList,
    ImageView, Invite, LatLon, Me, MeetingKind, MeetingLeg, MeetingView, MemoryList, MemoryView,
    Message, MessageKind, MessagePage, NewMemory, NextTier, PinMeeting, PlaceEvent, PlaceInput,
    PlaceNews, PlaceView, PlacesView, PositionUpdate, Problem, PullView, SendMessage, Session,
    TierView,
};
use haurach_proto::{
    Arrival, ArrivalList, Decision, DecisionBody, GateBook, GateInfo, GateInvite, GateMode, Letter,
    LetterList, LetterState, Parcel, ParcelRef, ParcelUpload, Registration, SendLetter, Standing,
    SummonBody, SummonPermissions, SummonState, Summons, SummonsList,
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
        CameraConsent,
        ContactState,
        Credentials,
        Feeling,
        ImageList,
        ImageView,
        Invite,
        LatLon,
        Me,
        MeetingKind,
        MeetingLeg,
        MeetingView,
        MemoryList,
        MemoryView,
        Message,
        MessageKind,
        MessagePage,
        NewMemory,
        NextTier,
        PinMeeting,
        PlaceEvent,
        PlaceInput,
        PlaceNews,
        PlaceView,
        PlacesView,
        PositionUpdate,
        Problem,
        PullView,
        SendMessage,
        Session,
        TierView,
        Arrival,
        ArrivalList,
        Decision,
        DecisionBody,
        GateBook,
        GateInfo,
        GateInvite,
        GateMode,
        Letter,
        LetterList,
        LetterState,
        Parcel,
        ParcelRef,
        ParcelUpload,
        Registration,
        SendLetter,
        Standing,
        SummonBody,
        SummonPermissions,
        SummonState,
        Summons,
        SummonsList
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
    /// The problem statuses it may answer (every route with a bearer token may answer
    /// 403 to an applicant the tower has not let in yet).
    pub errors: &'static [u16],
}

/// Every documented route.
pub const ROUTES: &[Route] = &[
    Route {
        method: "get",
        path: "/healthz",
        summary: "Health: 200 when this node can store and reach the other nodes; 503 \
                  saying which is missing otherwise.",
        request: None,
        status: 200,
        response: None,
        auth: false,
        errors: &[503],
    },
    Route {
        method: "get",
        path: "/metrics",
        summary: "Prometheus metrics.",
        request: None,
        status: 200,
        response: None,
        auth: false,
        errors: &[],
    },
    Route {
        method: "get",
        path: "/api/v1/openapi.json",
        summary: "This document.",
        request: None,
        status: 200,
        response: None,
        auth: false,
        errors: &[],
    },
    Route {
        method: "post",
        path: "/api/v1/accounts",
        summary: "Come in through the gate: 201 with the account (open gate, an invite code, or the first account, which is the tower's); 202 with your page of the book (Arrival) when the application goes to the tower.",
        request: Some("Registration"),
        status: 201,
        response: Some("Account"),
        auth: false,
        errors: &[400, 403, 404, 409, 413, 422],
    },
    Route {
        method: "post",
        path: "/api/v1/sessions",
        summary: "Log in: a bearer token.",
        request: Some("Credentials"),
        status: 200,
        response: Some("Session"),
        auth: false,
        errors: &[400, 401, 422, 429],
    },
    Route {
        method: "delete",
        path: "/api/v1/sessions/current",
        summary: "Log out: revoke this token.",
        request: None,
        status: 204,
        response: None,
        auth: true,
        errors: &[401, 403],
    },
    Route {
        method: "get",
        path: "/api/v1/me",
        summary: "Who this token belongs to.",
        request: None,
        status: 200,
        response: Some("Me"),
        auth: true,
        errors: &[401, 403],
    },
    Route {
        method: "put",
        path: "/api/v1/me/position",
        summary: "Report where I am.",
        request: Some("PositionUpdate"),
        status: 204,
        response: None,
        auth: true,
        errors: &[400, 401, 403, 422],
    },
    Route {
        method: "post",
        path: "/api/v1/bond/invites",
        summary: "Make an invite code for my partner (valid 24 h).",
        request: None,
        status: 201,
        response: Some("Invite"),
        auth: true,
        errors: &[401, 403, 409],
    },
    Route {
        method: "post",
        path: "/api/v1/bond",
        summary: "Accept my partner's invite: the bond.",
        request: Some("AcceptInvite"),
        status: 201,
        response: Some("BondView"),
        auth: true,
        errors: &[400, 401, 403, 404, 409, 422],
    },
    Route {
        method: "get",
        path: "/api/v1/bond",
        summary: "The bond: the pull, strength, tiers, contact.",
        request: None,
        status: 200,
        response: Some("BondView"),
        auth: true,
        errors: &[401, 403, 404],
    },
    Route {
        method: "delete",
        path: "/api/v1/bond",
        summary: "End the bond.",
        request: None,
        status: 204,
        response: None,
        auth: true,
        errors: &[401, 403, 404],
    },
    Route {
        method: "post",
        path: "/api/v1/bond/messages",
        summary: "Send voice, a feeling or the alarm; answered once stored (200 for a retry).",
        request: Some("SendMessage"),
        status: 201,
        response: Some("Message"),
        auth: true,
        errors: &[400, 401, 403, 404, 409, 413, 422],
    },
    Route {
        method: "get",
        path: "/api/v1/bond/messages",
        summary: "The bond's messages after ?after=SEQ (at most ?limit=N, default 100).",
        request: None,
        status: 200,
        response: Some("MessagePage"),
        auth: true,
        errors: &[400, 401, 403, 404, 422],
    },
    Route {
        method: "post",
        path: "/api/v1/bond/alarms/{seq}/ack",
        summary: "Acknowledge my partner's alarm.",
        request: None,
        status: 200,
        response: Some("Message"),
        auth: true,
        errors: &[400, 401, 403, 404, 409],
    },
    Route {
        method: "post",
        path: "/api/v1/bond/images",
        summary: "Send a picture: the raw bytes of a JPEG, PNG or WebP as the body, ?id=CLIENT_ID \
                  for retries. Stored without its metadata; needs the images tier. 201 once \
                  stored, 200 for a retry.",
        request: None,
        status: 201,
        response: Some("ImageView"),
        auth: true,
        errors: &[400, 401, 403, 404, 409, 413, 415, 422],
    },
    Route {
        method: "get",
        path: "/api/v1/bond/images",
        summary: "The bond's images, each with the side I may see now.",
        request: None,
        status: 200,
        response: Some("ImageList"),
        auth: true,
        errors: &[401, 404],
    },
    Route {
        method: "get",
        path: "/api/v1/bond/images/{id}/picture",
        summary: "The picture (image/jpeg or image/png) at the size the bond's strength allows \
                  (?side=N for a smaller one); the header haurach-side gives its longest side.",
        request: None,
        status: 200,
        response: None,
        auth: true,
        errors: &[400, 401, 404],
    },
    Route {
        method: "get",
        path: "/api/v1/bond/images/{id}/original",
        summary: "The picture exactly as I uploaded it, metadata included; only for its sender.",
        request: None,
        status: 200,
        response: None,
        auth: true,
        errors: &[401, 403, 404],
    },
    Route {
        method: "get",
        path: "/api/v1/me/camera",
        summary: "Whether my partner may glimpse and see through my camera (off until turned on).",
        request: None,
        status: 200,
        response: Some("CameraConsent"),
        auth: true,
        errors: &[401],
    },
    Route {
        method: "put",
        path: "/api/v1/me/camera",
        summary: "Allow (or stop allowing) my partner to glimpse and see through my camera.",
        request: Some("CameraConsent"),
        status: 200,
        response: Some("CameraConsent"),
        auth: true,
        errors: &[400, 401, 415, 422],
    },
    Route {
        method: "get",
        path: "/api/v1/me/memories",
        summary: "My journal, oldest first (opening both journals first when we are together).",
        request: None,
        status: 200,
        response: Some("MemoryList"),
        auth: true,
        errors: &[401],
    },
    Route {
        method: "post",
        path: "/api/v1/me/memories",
        summary: "Write words in my journal. 201 once stored, 200 for a retry with the same id.",
        request: Some("NewMemory"),
        status: 201,
        response: Some("MemoryView"),
        auth: true,
        errors: &[400, 401, 409, 415, 422],
    },
    Route {
        method: "post",
        path: "/api/v1/me/memories/photos",
        summary: "Put a photo in my journal: the raw bytes of a JPEG, PNG or WebP as the body, \
                  ?id=CLIENT_ID and an optional ?caption=. Stored without its metadata.",
        request: None,
        status: 201,
        response: Some("MemoryView"),
        auth: true,
        errors: &[400, 401, 409, 413, 415, 422],
    },
    Route {
        method: "get",
        path: "/api/v1/bond/memories",
        summary: "My partner's journal as far as it opened to me (when we were together).",
        request: None,
        status: 200,
        response: Some("MemoryList"),
        auth: true,
        errors: &[401, 404],
    },
    Route {
        method: "get",
        path: "/api/v1/memories/{id}/photo",
        summary: "A journal photo: mine, or my partner's once it opened to me.",
        request: None,
        status: 200,
        response: None,
        auth: true,
        errors: &[401, 404],
    },
    Route {
        method: "get",
        path: "/api/v1/link",
        summary: "The live link (WebSocket upgrade; ?token=, ?after=SEQ). See docs/protocol.md.",
        request: None,
        status: 101,
        response: None,
        auth: true,
        errors: &[400, 401, 403, 503],
    },
    // The city (gate.rs, letters.rs, summons.rs).
    Route {
        method: "get",
        path: "/api/v1/gate",
        summary: "The gate: its mode (open, application, invite) and whether the city is empty (the first account is the tower's).",
        request: None,
        status: 200,
        response: Some("GateInfo"),
        auth: false,
        errors: &[],
    },
    Route {
        method: "get",
        path: "/api/v1/gate/me",
        summary: "Your page of the gatekeeper's book, with the tower's answer once given. Open to applicants.",
        request: None,
        status: 200,
        response: Some("Arrival"),
        auth: true,
        errors: &[401, 403, 404],
    },
    Route {
        method: "get",
        path: "/api/v1/gate/queue",
        summary: "Tower: applications waiting for an answer, oldest first.",
        request: None,
        status: 200,
        response: Some("ArrivalList"),
        auth: true,
        errors: &[401, 403],
    },
    Route {
        method: "post",
        path: "/api/v1/gate/applications/{name}/decision",
        summary: "Tower: approve or decline an application with a written answer.",
        request: Some("DecisionBody"),
        status: 200,
        response: Some("Arrival"),
        auth: true,
        errors: &[400, 401, 403, 404, 409, 422],
    },
    Route {
        method: "get",
        path: "/api/v1/gate/register",
        summary: "Tower: the register of everyone who arrived, how, and what the tower decided.",
        request: None,
        status: 200,
        response: Some("ArrivalList"),
        auth: true,
        errors: &[401, 403],
    },
    Route {
        method: "get",
        path: "/api/v1/gate/register.csv",
        summary: "Tower: the register as CSV (text/csv).",
        request: None,
        status: 200,
        response: None,
        auth: true,
        errors: &[401, 403],
    },
    Route {
        method: "post",
        path: "/api/v1/gate/invites",
        summary: "A code that lets one person through an invite-only gate.",
        request: None,
        status: 201,
        response: Some("GateInvite"),
        auth: true,
        errors: &[401, 403],
    },
    Route {
        method: "post",
        path: "/api/v1/parcels",
        summary: "Upload a file (the raw request body) into the blob store; attach it to a letter by its hash. Durable before 201.",
        request: None,
        status: 201,
        response: Some("ParcelUpload"),
        auth: true,
        errors: &[400, 401, 403, 413],
    },
    Route {
        method: "get",
        path: "/api/v1/letters",
        summary: "Your letters: ?box=inbox (in your hands; listing them delivers them) or ?box=sent, newest first.",
        request: None,
        status: 200,
        response: Some("LetterList"),
        auth: true,
        errors: &[400, 401, 403, 422],
    },
    Route {
        method: "post",
        path: "/api/v1/letters",
        summary: "Send (breathe on) a letter by name, with parcels; a reply with in_reply_to. 201 once committed, 200 for a retry with the same id.",
        request: Some("SendLetter"),
        status: 201,
        response: Some("Letter"),
        auth: true,
        errors: &[400, 401, 403, 404, 409, 413, 422, 429],
    },
    Route {
        method: "get",
        path: "/api/v1/letters/{id}",
        summary: "One of your letters (sealed until read, for its recipient).",
        request: None,
        status: 200,
        response: Some("Letter"),
        auth: true,
        errors: &[400, 401, 403, 404],
    },
    Route {
        method: "post",
        path: "/api/v1/letters/{id}/read",
        summary: "Open an unread letter in your hands; the sender gets a read receipt.",
        request: None,
        status: 200,
        response: Some("Letter"),
        auth: true,
        errors: &[400, 401, 403, 404, 409],
    },
    Route {
        method: "post",
        path: "/api/v1/letters/{id}/return",
        summary: "Return an unread letter (and its parcels) to its sender.",
        request: None,
        status: 200,
        response: Some("Letter"),
        auth: true,
        errors: &[400, 401, 403, 404, 409],
    },
    Route {
        method: "get",
        path: "/api/v1/letters/{id}/parcels/{index}",
        summary: "A parcel's bytes (its sender, or the recipient once read).",
        request: None,
        status: 200,
        response: None,
        auth: true,
        errors: &[400, 401, 403, 404],
    },
    Route {
        method: "get",
        path: "/api/v1/letters/threads/{id}",
        summary: "The letters of a thread, oldest first.",
        request: None,
        status: 200,
        response: Some("LetterList"),
        auth: true,
        errors: &[400, 401, 403, 404],
    },
    Route {
        method: "get",
        path: "/api/v1/summons/allowed",
        summary: "Who may summon you.",
        request: None,
        status: 200,
        response: Some("SummonPermissions"),
        auth: true,
        errors: &[401, 403],
    },
    Route {
        method: "put",
        path: "/api/v1/summons/allowed/{name}",
        summary: "Allow someone to summon you.",
        request: None,
        status: 204,
        response: None,
        auth: true,
        errors: &[401, 403, 404, 422],
    },
    Route {
        method: "delete",
        path: "/api/v1/summons/allowed/{name}",
        summary: "No longer allow someone to summon you.",
        request: None,
        status: 204,
        response: None,
        auth: true,
        errors: &[401, 403, 404, 422],
    },
    Route {
        method: "get",
        path: "/api/v1/summons",
        summary: "Summonses still calling or accepted that you are part of.",
        request: None,
        status: 200,
        response: Some("SummonsList"),
        auth: true,
        errors: &[401, 403],
    },
    Route {
        method: "post",
        path: "/api/v1/summons",
        summary: "Summon someone who allowed it, with your exact position.",
        request: Some("SummonBody"),
        status: 201,
        response: Some("Summons"),
        auth: true,
        errors: &[400, 401, 403, 404, 409, 422],
    },
    Route {
        method: "get",
        path: "/api/v1/summons/{id}",
        summary: "One summons.",
        request: None,
        status: 200,
        response: Some("Summons"),
        auth: true,
        errors: &[400, 401, 403, 404],
    },
    Route {
        method: "post",
        path: "/api/v1/summons/{id}/accept",
        summary: "Accept a summons (the summoned): exact positions pass both ways until arrival.",
        request: None,
        status: 200,
        response: Some("Summons"),
        auth: true,
        errors: &[400, 401, 403, 404, 409],
    },
    Route {
        method: "post",
        path: "/api/v1/summons/{id}/decline",
        summary: "Decline a summons (the summoned).",
        request: None,
        status: 200,
        response: Some("Summons"),
        auth: true,
        errors: &[400, 401, 403, 404, 409],
    },
    Route {
        method: "post",
        path: "/api/v1/summons/{id}/end",
        summary: "End a summons still calling or accepted (either side).",
        request: None,
        status: 200,
        response: Some("Summons"),
        auth: true,
        errors: &[400, 401, 403, 404, 409],
    },
    // Places, the meeting point, the journey and OwnTracks (issue 6).
    Route {
        method: "get",
        path: "/api/v1/places",
        summary: "My places and my partner's (their centres only within sight range).",
        request: None,
        status: 200,
        response: Some("PlacesView"),
        auth: true,
        errors: &[401],
    },
    Route {
        method: "put",
        path: "/api/v1/places/{name}",
        summary: "Name a place: centre and radius (201 when new, 200 when replaced).",
        request: Some("PlaceInput"),
        status: 201,
        response: Some("PlaceView"),
        auth: true,
        errors: &[400, 401, 409, 413, 422],
    },
    Route {
        method: "delete",
        path: "/api/v1/places/{name}",
        summary: "Forget one of my places.",
        request: None,
        status: 204,
        response: None,
        auth: true,
        errors: &[401, 404],
    },
    Route {
        method: "get",
        path: "/api/v1/bond/meeting",
        summary: "Where to meet: suggested (fair to both) or pinned, with each one's distance and ETA.",
        request: None,
        status: 200,
        response: Some("MeetingView"),
        auth: true,
        errors: &[401, 404],
    },
    Route {
        method: "put",
        path: "/api/v1/bond/meeting",
        summary: "Pin the meeting point to one of my places or to a point; both are told.",
        request: Some("PinMeeting"),
        status: 204,
        response: None,
        auth: true,
        errors: &[400, 401, 404, 422],
    },
    Route {
        method: "delete",
        path: "/api/v1/bond/meeting",
        summary: "Unpin the meeting point: back to the suggestion.",
        request: None,
        status: 204,
        response: None,
        auth: true,
        errors: &[401, 404],
    },
    Route {
        method: "get",
        path: "/api/v1/me/journey.gpx",
        summary: "My own journey as GPX 1.1 (?from=, ?to= RFC 3339); never a partner's.",
        request: None,
        status: 200,
        response: None,
        auth: true,
        errors: &[400, 401, 422],
    },
    Route {
        method: "post",
        path: "/owntracks",
        summary: "The OwnTracks app's HTTP mode (Basic auth): its JSON in, the partner as a friend out.",
        request: None,
        status: 200,
        response: None,
        auth: false,
        errors: &[400, 401, 413, 422],
    },
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
        let parameters: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| {
                let kind = if matches!(name, "seq" | "index") {
                    "integer"
                } else {
                    "string"
                };
                json!({"name": name, "in": "path", "required": true, "schema": {"type": kind}})
            })
            .collect();
        if !parameters.is_empty() {
            op["parameters"] = Value::Array(parameters);
        }
        if path.contains("{name}") {
            op["parameters"] = json!([{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}]);
        }
        if *path == "/owntracks" {
            op["security"] = json!([{"basic": []}]);
        }
        if path.contains("{id}") {
            op["parameters"] = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}]);
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    doc["paths"] = Value::Object(paths);
    doc["components"]["securitySchemes"] = json!({
        "bearer": {"type": "http", "scheme": "bearer"},
        "basic": {"type": "http", "scheme": "basic"},
    });
    doc
}

/// `GET /api/v1/openapi.json`.
pub async fn document() -> Json<Value> {
    Json(build())
}
