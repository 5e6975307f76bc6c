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
use haurach_store::{Conflict, Missing, StoreError};
pub use http::StatusCode;

/// A failed request.
#[derive(Debug)]
pub struct ApiError {
    pub(crate) status: StatusCode,
    code: &'static str,
    detail: String,
    tier: Option<(Tier, Option<f64>, Option<f64>)>,
    retry_after_s: Option<u64>,
}

impl ApiError {
    /// A problem with a status, a stable code and a sentence for people.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            detail: detail.into(),
            tier: None,
            retry_after_s: None,
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

    /// 422 `bidi_control` when `text` holds a bidirectional control (see
    /// [`haurach_proto::text::BIDI_CONTROLS`]); `what` names the field for people.
    pub fn no_bidi_control(what: &str, text: &str) -> Result<(), ApiError> {
        match haurach_proto::text::bidi_control(text) {
            None => Ok(()),
            Some(c) => Err(ApiError::invalid(
                "bidi_control",
                format!(
                    "{what} holds U+{:04X}, a control that makes text show in another order \
                     than it is written: leave it out",
                    u32::from(c)
                ),
            )),
        }
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
            retry_after_s: None,
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

    /// Says when to try again (`Retry-After`, seconds): for 429 and 503.
    pub fn retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after_s = Some(seconds);
        self
    }

    /// When to try again, seconds, if the answer says.
    pub fn retry_after_s(&self) -> Option<u64> {
        self.retry_after_s
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
        match err {
            StoreError::Conflict(reason) => reason.into(),
            StoreError::NotFound(reason) => reason.into(),
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
            StoreError::Unavailable(ref detail) => {
                tracing::warn!(error = %err, "storage unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    detail.clone(),
                )
            }
            err @ (StoreError::Database(_)
            | StoreError::Migrate(_)
            | StoreError::Corrupt(_)
            | StoreError::Unusable(_)) => ApiError::internal(err),
        }
    }
}

// What the client is told for each reason a rule of the store gives. The matches have no
// wildcard: a new reason does not compile until it has its problem here. A caller that
// knows more than the reason carries (the name that is taken, the alarm's number, the quota
// used) answers that reason itself before the rest come here.

impl From<Conflict> for ApiError {
    fn from(reason: Conflict) -> ApiError {
        match reason {
            Conflict::NameTaken => ApiError::conflict("name_taken", "that name is taken"),
            // The server makes the codes; a new one that is taken is its failure, and the
            // callers try another before they give up.
            Conflict::InviteCodeTaken => ApiError::internal("a new invite code was taken"),
            Conflict::OwnInvite => ApiError::invalid(
                "own_invite",
                "this is your own invite code: give it to your partner to accept",
            ),
            Conflict::AlreadyBonded => ApiError::conflict(
                "already_bonded",
                "you are bonded already: end the bond before accepting another",
            ),
            Conflict::PartnerBonded => ApiError::conflict(
                "partner_bonded",
                "whoever made this invite has bonded with someone else since",
            ),
            Conflict::OwnAlarm => ApiError::conflict(
                "own_alarm",
                "you raised this alarm: only your partner can acknowledge it",
            ),
            Conflict::InviteRequired => ApiError::new(
                StatusCode::FORBIDDEN,
                "invite_required",
                "this city lets people in by invitation only: ask a citizen for a code",
            ),
            Conflict::AlreadyDecided => ApiError::conflict(
                "already_decided",
                "the tower has answered this application already",
            ),
            Conflict::ParcelQuotaExceeded => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "parcel_quota_exceeded",
                "you have used up your parcel quota: this upload would pass it",
            ),
            Conflict::ParcelTooLarge => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "parcel_too_large",
                "the parcels of one letter are larger than this city carries",
            ),
            Conflict::LetterQuotaExceeded => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "letter_quota_exceeded",
                "you have sent as many letters as one citizen may in 24 hours: try again later",
            ),
            Conflict::IdReused => ApiError::conflict(
                "id_reused",
                "you sent a different letter under this id already: use a new id",
            ),
            Conflict::RecipientRequired => {
                ApiError::invalid("recipient_required", "say whom the letter is to (to)")
            }
            Conflict::OwnLetter => ApiError::invalid(
                "own_letter",
                "a letter goes to someone else, not to yourself",
            ),
            Conflict::LetterMoved => ApiError::conflict(
                "letter_moved",
                "this letter is no longer unread in your hands: it was read or returned already",
            ),
            Conflict::NotAllowed => ApiError::new(
                StatusCode::FORBIDDEN,
                "summons_not_allowed",
                "they have not allowed you to summon them",
            ),
            Conflict::OwnSummons => ApiError::invalid("own_summons", "you cannot summon yourself"),
            Conflict::SummonsOpen => ApiError::conflict(
                "summons_open",
                "you are summoning them already: end that summons first",
            ),
            Conflict::SummonsMoved => ApiError::conflict(
                "summons_moved",
                "this summons has been answered or ended already",
            ),
            Conflict::NotYours => ApiError::new(
                StatusCode::FORBIDDEN,
                "not_summoned",
                "only the one summoned can accept or decline",
            ),
            Conflict::ImageIdReused => ApiError::conflict(
                "image_id_reused",
                "a concurrent request stored an image under this id; retry to get it",
            ),
            Conflict::MemoryIdReused => ApiError::conflict(
                "memory_id_reused",
                "a concurrent request stored a memory under this id; retry to get it",
            ),
            Conflict::LastTower => ApiError::conflict(
                "last_tower",
                "this is the city's last tower: make another tower before removing it",
            ),
            Conflict::PlacesStored => ApiError::conflict(
                "places_stored",
                "the server keeps places of yours in the clear, and a private bond keeps none \
                 there: keep them on your device and name them in forget_places (haurach and \
                 the web page do this themselves), or delete them first",
            ),
            Conflict::PartnerPlacesStored => ApiError::conflict(
                "partner_places_stored",
                "whoever made this invite has made places on the server since, which a \
                 private bond would keep in the clear: they must make the invite again",
            ),
        }
    }
}

impl From<Missing> for ApiError {
    fn from(reason: Missing) -> ApiError {
        match reason {
            Missing::Invite => ApiError::not_found(
                "invite_not_found",
                "no invite has this code: check it with your partner",
            ),
            Missing::InviteExpired => ApiError::not_found(
                "invite_expired",
                "this invite code has expired: ask your partner for a new one",
            ),
            Missing::Alarm => {
                ApiError::not_found("alarm_not_found", "there is no such alarm in your bond")
            }
            Missing::GateInvite => ApiError::not_found(
                "no_such_invite",
                "no such invite code, or it was used already: ask for a new one",
            ),
            Missing::GateInviteExpired => {
                ApiError::not_found("invite_expired", "this invite code has expired")
            }
            Missing::Applicant => ApiError::not_found(
                "no_such_application",
                "nobody by that name has applied at the gate",
            ),
            Missing::Recipient => ApiError::not_found(
                "no_such_citizen",
                "there is no citizen by that name to write to",
            ),
            Missing::Letter => {
                ApiError::not_found("no_such_letter", "there is no such letter among yours")
            }
            Missing::Parcel => ApiError::invalid(
                "unknown_parcel",
                "a parcel must be uploaded first (POST /api/v1/parcels) by the sender",
            ),
            Missing::Citizen | Missing::Summoned => {
                ApiError::not_found("no_such_citizen", "there is no citizen by that name")
            }
            Missing::Summons => {
                ApiError::not_found("no_such_summons", "there is no such summons among yours")
            }
            Missing::Image => {
                ApiError::not_found("no_such_image", "there is no such image in your bond")
            }
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
            PictureError::TooCompressed { .. } => ApiError::invalid("too_compressed", detail),
            PictureError::Corrupt(_) => ApiError::invalid("corrupt_image", detail),
            PictureError::Encode(_) => ApiError::internal(detail),
        }
    }
}
