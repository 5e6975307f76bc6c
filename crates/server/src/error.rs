//! [`ApiError`]: every way a request can fail, turned into an RFC 9457 problem detail.
//! What the client is told (status, code, detail) is kept apart from what is logged
//! (the cause of an internal error, which the client never sees).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use haurach_bond::Tier;
use haurach_proto::Problem;
use haurach_proto::problem::{PROBLEM_BASE, PROBLEM_JSON};

use haurach_store::StoreError;

/// A failed request.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    tier: Option<(Tier, Option<f64>, Option<f64>)>,
}

impl ApiError {
    /// A problem with a status, a stable code and a sentence for people.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            detail: detail.into(),
            tier: None,
        }
    }

    /// 400: the request could not be read.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 401: no valid session.
    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    /// 404: no such thing.
    pub fn not_found(code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, detail)
    }

    /// 409: the request conflicts with the state of things.
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, detail)
    }

    /// 422: the request was read but a value is unacceptable.
    pub fn invalid(code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    /// 403 `tier_closed`: the tier a message needs is not open at this distance.
    pub fn tier_closed(tier: Tier, range_m: Option<f64>, distance_m: Option<f64>) -> ApiError {
        let detail = match (range_m, distance_m) {
            (Some(r), Some(d)) => format!(
                "{} is closed: it opens within {} and you are about {} apart",
                tier.key(),
                haurach_proto::human::distance(r),
                haurach_proto::human::distance(d)
            ),
            (Some(r), None) => format!(
                "{} is closed: it opens within {}, and where you both are is not known yet",
                tier.key(),
                haurach_proto::human::distance(r)
            ),
            _ => format!("{} is closed", tier.key()),
        };
        ApiError {
            status: StatusCode::FORBIDDEN,
            code: "tier_closed",
            detail,
            tier: Some((tier, range_m, distance_m)),
        }
    }

    /// 500: something failed inside; the cause is logged, the client is told only that.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(%cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed to handle this request; it has been logged",
        )
    }

    /// 503: the server cannot take this now.
    pub fn unavailable(code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, detail)
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The problem detail the client is shown.
    pub fn problem(&self) -> Problem {
        let (tier, range_m, distance_m) = match self.tier {
            Some((t, r, d)) => (Some(t.key().to_owned()), r, d),
            None => (None, None, None),
        };
        Problem {
            kind: format!("{PROBLEM_BASE}{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_owned(),
            tier,
            range_m,
            distance_m,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(self.problem())).into_response();
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        res
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> ApiError {
        match &err {
            // The database is down or out of reach (PostgreSQL on another machine): nothing
            // was written, and trying again later is the right thing to do.
            StoreError::Database(
                sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_),
            ) => {
                tracing::warn!(error = %err, "storage unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "the database cannot be reached just now; nothing was stored: try again \
                     in a moment",
                )
            }
            StoreError::Unavailable(detail) => {
                tracing::warn!(error = %err, "storage unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    detail.clone(),
                )
            }
            _ => ApiError::internal(err),
        }
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
