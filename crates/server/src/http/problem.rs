//! Problems as responses: every error the server answers leaves as
//! `application/problem+json` (RFC 9457), an [`ApiError`] turned into a response here,
//! and the framework's own rejections turned into [`ApiError`]s first.

use axum::Json;
use axum::extract::Request;
use axum::extract::rejection::JsonRejection;
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
