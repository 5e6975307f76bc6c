//! Problems as responses: every error the server answers leaves as
//! `application/problem+json` (RFC 9457), an [`ApiError`] turned into a response here,
//! and the framework's own rejections turned into [`ApiError`]s first.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use haurach_proto::problem::PROBLEM_JSON;

use crate::error::ApiError;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(self.problem())).into_response();
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(seconds) = self.retry_after_s() {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        res
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        let detail = rejection.body_text().to_lowercase();
        match rejection {
            JsonRejection::JsonDataError(_) => ApiError::invalid("invalid_body", detail),
            JsonRejection::JsonSyntaxError(_) => ApiError::bad_request("malformed_json", detail),
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "json_expected",
                "send the body as JSON with content-type: application/json",
            ),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the request body is larger than this server accepts",
            ),
            other => ApiError::new(other.status(), "unreadable_body", detail),
        }
    }
}

/// The answer to a route that does not exist.
pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found(
        "no_such_route",
        "there is no such route; see /api/v1/openapi.json",
    )
}

/// A safety net under every route: an error answered by the framework itself (405 for a
/// wrong method, 413 before a body is read) still leaves as problem+json.
pub(crate) async fn problems_only(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
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

/// Whether JSON text carries U+0000 in a string (written `\u0000`; a raw NUL byte is
/// not JSON at all). An escaped backslash followed by `u0000` is not one.
pub(crate) fn has_escaped_nul(json: &[u8]) -> bool {
    let mut i = 0;
    while i < json.len() {
        if json[i] == b'\\' {
            if json[i + 1..].starts_with(b"u0000") {
                return true;
            }
            // Whatever is escaped is skipped, an escaped backslash included.
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

/// The problem for text that carries U+0000.
pub(crate) fn nul_refused() -> ApiError {
    ApiError::invalid("text_with_nul", "text may not contain the character U+0000")
}

/// Refuses, before any handler, a request whose JSON body, path or query carries U+0000:
/// no name, message or place has a use for it, and PostgreSQL stores no text with it
/// (hardening finding 3: it answered 500 on nine routes, and a message carrying it failed
/// the shared batch its neighbours' messages were committed in). A JSON body is read up
/// to `max_body_bytes` here (the extractors' limit).
pub(crate) async fn no_nul(
    State(max_body): State<usize>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let target = req.uri().path_and_query().map_or("", |p| p.as_str());
    if target.to_ascii_lowercase().contains("%00") {
        return Err(nul_refused());
    }
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("json"));
    if !is_json {
        return Ok(next.run(req).await);
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, max_body).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "the request body is larger than this server accepts",
        )
    })?;
    if has_escaped_nul(&bytes) {
        return Err(nul_refused());
    }
    Ok(next
        .run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_escaped_nul_is_found_and_an_escaped_backslash_is_not_one() {
        assert!(has_escaped_nul(br#"{"name":"spi\u0000ke"}"#));
        assert!(!has_escaped_nul(br#"{"name":"spi\\u0000ke"}"#));
        assert!(has_escaped_nul(br#"{"a":"\\\u0000"}"#));
        assert!(has_escaped_nul(br#"{"a":"\u00001"}"#));
        assert!(!has_escaped_nul(br#"{"a":"\u0001","b":"\""}"#));
        assert!(!has_escaped_nul(br#"\"#));
    }
}
