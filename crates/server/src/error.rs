//! [`ApiError`]: every way a request can fail, turned into an RFC 9457 problem detail.
//! What the client is told (status, code, detail) is kept apart from what is logged
//! (the cause of an internal error, which the client never sees).
//!
//! A leaf: the run-time layer returns these without knowing HTTP's framework; the HTTP
//! layer turns them into responses (`http/problem.rs`).

use haurach_bond::Tier;
use haurach_picture::PictureError;
use haurach_proto::Problem;
use haurach_proto::problem::PROBLEM_BASE;
use haurach_store::StoreError;
pub use http::StatusCode;

/// A failed request.
#[derive(Debug)]
pub struct ApiError {
    pub(crate) status: StatusCode,
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

impl From<PictureError> for ApiError {
    fn from(err: PictureError) -> ApiError {
        let detail = err.to_string();
        match err {
            PictureError::Unsupported(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_image_type",
                detail,
            ),
            PictureError::TooLarge { .. } => ApiError::invalid("too_many_pixels", detail),
            PictureError::Corrupt(_) => ApiError::invalid("corrupt_image", detail),
            PictureError::Encode(_) => ApiError::internal(detail),
        }
    }
}

/// A city store error as the client reads it.
pub fn store_problem(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound("gate_invite") => ApiError::not_found(
            "no_such_invite",
            "no such invite code, or it was used already: ask for a new one",
        ),
        StoreError::NotFound("gate_invite_expired") => {
            ApiError::not_found("invite_expired", "this invite code has expired")
        }
        StoreError::NotFound("applicant") => ApiError::not_found(
            "no_such_application",
            "nobody by that name has applied at the gate",
        ),
        StoreError::Conflict("already_decided") => ApiError::conflict(
            "already_decided",
            "the tower has answered this application already",
        ),
        StoreError::NotFound("recipient") => ApiError::not_found(
            "no_such_citizen",
            "there is no citizen by that name to write to",
        ),
        StoreError::NotFound("letter") => {
            ApiError::not_found("no_such_letter", "there is no such letter among yours")
        }
        StoreError::NotFound("parcel") => ApiError::invalid(
            "unknown_parcel",
            "a parcel must be uploaded first (POST /api/v1/parcels) by the sender",
        ),
        StoreError::Conflict("parcel_too_large") => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "parcel_too_large",
            "the parcels of one letter are larger than this city carries",
        ),
        StoreError::Conflict("parcel_quota_exceeded") => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "parcel_quota_exceeded",
            "you have used up your parcel quota: this upload would pass it",
        ),
        StoreError::Conflict("letter_quota_exceeded") => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "letter_quota_exceeded",
            "you have sent as many letters as one citizen may in 24 hours: try again later",
        ),
        StoreError::Conflict("id_reused") => ApiError::conflict(
            "id_reused",
            "you sent a different letter under this id already: use a new id",
        ),
        StoreError::Conflict("recipient_required") => {
            ApiError::invalid("recipient_required", "say whom the letter is to (to)")
        }
        StoreError::Conflict("own_letter") => ApiError::invalid(
            "own_letter",
            "a letter goes to someone else, not to yourself",
        ),
        StoreError::Conflict("letter_moved") => ApiError::conflict(
            "letter_moved",
            "this letter is no longer unread in your hands: it was read or returned already",
        ),
        StoreError::NotFound("citizen") | StoreError::NotFound("summoned") => {
            ApiError::not_found("no_such_citizen", "there is no citizen by that name")
        }
        StoreError::Conflict("own_summons") => {
            ApiError::invalid("own_summons", "you cannot summon yourself")
        }
        StoreError::Conflict("not_allowed") => ApiError::new(
            StatusCode::FORBIDDEN,
            "summons_not_allowed",
            "they have not allowed you to summon them",
        ),
        StoreError::Conflict("summons_open") => ApiError::conflict(
            "summons_open",
            "you are summoning them already: end that summons first",
        ),
        StoreError::NotFound("summons") => {
            ApiError::not_found("no_such_summons", "there is no such summons among yours")
        }
        StoreError::Conflict("summons_moved") => ApiError::conflict(
            "summons_moved",
            "this summons has been answered or ended already",
        ),
        StoreError::Conflict("not_yours") => ApiError::new(
            StatusCode::FORBIDDEN,
            "not_summoned",
            "only the one summoned can accept or decline",
        ),
        other => other.into(),
    }
}
