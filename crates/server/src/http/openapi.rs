//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of every route, built from the
//! same table as the router.
//!
//! Each handler carries its own `#[utoipa::path(...)]`: method, path, parameters, body and
//! every answer it gives. The route table ([`super::router`]) registers each handler with
//! utoipa-axum's `routes!`, which routes it at the path its attribute names and adds its
//! operation to the document in the same step: a route cannot be served undocumented, or
//! documented at a path it is not served at. The schemas are derived from the wire types
//! in `haurach-proto`, so they cannot drift from what the server speaks.
//!
//! What every route shares is said once, here, by [`finish`]: every error is a
//! [`Problem`] as `application/problem+json`; every route may answer 413 and 422 from the
//! door (`problem.rs`, `no_nul`); a JSON body may be malformed (400), not JSON (415) or of
//! the wrong shape (422); a route behind a bearer token answers 401 without one; and no
//! text the server reads may carry U+0000.

use axum::Extension;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use haurach_proto::problem::PROBLEM_JSON;
use haurach_proto::{PlaceEvent, PlaceNews, Problem};
use serde_json::{Map, Value, json};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Haurach",
        description = "A self-hosted, real-time link for two people who want to find each other, \
                       and their city. Errors are RFC 9457 problem+json. Text carrying U+0000 is \
                       refused anywhere (422 `text_with_nul`). The live link is a WebSocket at \
                       /api/v1/link, described in docs/protocol.md."
    ),
    components(schemas(Problem, PlaceNews, PlaceEvent))
)]
struct Base;

/// The document before any route is added: its info, and the schemas no route names
/// (the link's place news, described in docs/protocol.md).
pub fn base() -> utoipa::openapi::OpenApi {
    Base::openapi()
}

/// The document, as served.
#[derive(Debug, Clone)]
pub struct Document(pub Bytes);

/// This document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "server",
    responses((status = 200, description = "this document (OpenAPI 3.1)", content_type = "application/json"))
)]
pub(crate) async fn document(Extension(doc): Extension<Document>) -> Response {
    let mut res = doc.0.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// The pattern of a text the server accepts as far as U+0000 goes: anything without it.
const NO_NUL: &str = r"^[^\u0000]*$";

/// Says what every route shares (see the module's documentation) and returns the
/// document as JSON.
pub fn finish(doc: utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(doc).expect("the document serialises");
    if let Some(paths) = doc["paths"].as_object_mut() {
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for op in item.values_mut() {
                shared_answers(op);
                plain_summary(op);
            }
        }
    }
    refuse_nul(&mut doc["paths"]);
    refuse_nul(&mut doc["components"]["schemas"]);
    doc["components"]["schemas"]["JsonWithoutNul"] = json!({
        "description": "any JSON value with no U+0000 in a string or a key",
        "anyOf": [
            {"type": "null"},
            {"type": "boolean"},
            {"type": "number"},
            {"type": "string", "pattern": NO_NUL},
            {"type": "array", "items": {"$ref": ANY_JSON}},
            {"type": "object", "propertyNames": {"pattern": NO_NUL},
             "additionalProperties": {"$ref": ANY_JSON}},
        ],
    });
    doc["components"]["securitySchemes"] = json!({
        "bearer": {"type": "http", "scheme": "bearer",
                   "description": "the token of POST /api/v1/sessions"},
        "basic": {"type": "http", "scheme": "basic",
                  "description": "a citizen's name and password (OwnTracks)"},
    });
    doc
}

/// A summary without the route the handler's documentation starts with (the document
/// says the route already), on one line.
fn plain_summary(op: &mut Value) {
    let Some(summary) = op["summary"].as_str() else {
        return;
    };
    let rest = match summary.split_once("`: ") {
        Some((route, rest)) if route.starts_with('`') && !route.contains('\n') => rest,
        _ => summary,
    };
    let mut chars = rest.chars();
    let first = chars.next().map(|c| c.to_uppercase().collect::<String>());
    let plain = first.unwrap_or_default() + chars.as_str();
    op["summary"] = Value::String(plain.replace('\n', " "));
}

/// Adds to an operation the answers it shares with others, and makes every error answer
/// a problem.
fn shared_answers(op: &mut Value) {
    // A body named by a wire type is read by axum's `Json`, whose rejections become
    // these problems (`problem.rs`); a body read as bytes (a picture, a parcel, what
    // OwnTracks posts) answers for itself.
    let takes_json = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].is_string();
    let bearer = op["security"]
        .as_array()
        .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
    let Some(responses) = op["responses"].as_object_mut() else {
        return;
    };
    let mut answer = |status: &str, code: &str| {
        let res = responses
            .entry(status)
            .or_insert_with(|| json!({"description": ""}));
        let description = res["description"].as_str().unwrap_or_default();
        if !description.contains(code) {
            let joined = if description.is_empty() {
                code.to_owned()
            } else {
                format!("{description}; {code}")
            };
            res["description"] = Value::String(joined);
        }
    };
    // The door (`problem.rs`, `no_nul`): text with U+0000 in the path, the query or a
    // JSON body, and a JSON body larger than `max_body_bytes`, whatever the route.
    answer("422", "`text_with_nul`: text may not contain U+0000");
    answer(
        "413",
        "`body_too_large`: the body is larger than this server accepts",
    );
    if takes_json {
        answer("400", "`malformed_json`: the body is not JSON");
        answer(
            "415",
            "`json_expected`: send the body with content-type: application/json",
        );
        answer(
            "422",
            "`invalid_body`: the JSON is not of the documented shape",
        );
    }
    if bearer {
        answer(
            "401",
            "`unauthorized`: no token, or one unknown or logged out",
        );
    }
    for (status, res) in responses.iter_mut() {
        let is_error = status.starts_with('4') || status.starts_with('5');
        if is_error && res.get("content").is_none() {
            res["content"] = json!({
                PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}
            });
        }
        if status == "429" {
            res["headers"] = json!({"Retry-After": {
                "description": "seconds to wait before trying again",
                "schema": {"type": "integer", "minimum": 1},
            }});
        }
    }
}

/// The schema of free-form JSON as the server takes it: without U+0000.
const ANY_JSON: &str = "#/components/schemas/JsonWithoutNul";

/// Gives every free text in `schema` (a string without a pattern, a format or a list of
/// values) a pattern that refuses U+0000, as the server does; and so every name of an
/// object's extra properties, whose values become free-form JSON without it.
fn refuse_nul(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if is_free_text(map) {
                map.insert("pattern".into(), Value::String(NO_NUL.into()));
            }
            match map.get("additionalProperties") {
                Some(Value::Bool(false)) | None => {}
                Some(extra) => {
                    if extra == &Value::Bool(true) {
                        map.insert("additionalProperties".into(), json!({"$ref": ANY_JSON}));
                    }
                    map.insert("propertyNames".into(), json!({"pattern": NO_NUL}));
                }
            }
            for value in map.values_mut() {
                refuse_nul(value);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(refuse_nul),
        _ => {}
    }
}

fn is_free_text(schema: &Map<String, Value>) -> bool {
    let is_string = match schema.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(types)) => types.iter().any(|t| t == "string"),
        _ => false,
    };
    is_string
        && !["pattern", "format", "enum", "const", "contentMediaType"]
            .iter()
            .any(|k| schema.contains_key(*k))
}
