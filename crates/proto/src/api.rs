//! Request and response bodies of the HTTP API.

use std::collections::BTreeMap;

use haurach_bond::{Profile, Tier};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// `POST /api/v1/accounts` and `POST /api/v1/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// The citizen's name: 1 to 32 letters, digits, `-`, `_` or `.`; unique, case-insensitive.
    #[schema(min_length = 1, max_length = 32, pattern = r"^[A-Za-z0-9._-]{1,32}$")]
    pub name: String,
    /// 8 to 1,024 characters.
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
}

/// A citizen as others see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Account {
    /// The account's id (a UUIDv7).
    pub id: Uuid,
    /// The citizen's name.
    pub name: String,
    /// When the account was created.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// `POST /api/v1/sessions` → 200.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Session {
    /// The bearer token: send it as `Authorization: Bearer TOKEN`.
    pub token: String,
    /// Who it belongs to.
    pub account: Account,
}

/// `POST /api/v1/bond/invites` → 201.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Invite {
    /// A short code the partner types: eight letters and digits in two groups, `ABCD-EFGH`.
    pub code: String,
    /// When the code stops working (24 hours after it was made).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
}

/// `POST /api/v1/bond`: accept a partner's invite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvite {
    /// The partner's invite code: eight of its letters and digits; case, dashes and
    /// spaces do not matter.
    #[schema(pattern = r"^[-\t ]*(?:[2-9A-HJKMNP-TW-Za-hjkmnp-tw-z][-\t ]*){8}$")]
    pub code: String,
    /// The distances of the bond; `story` when absent.
    #[serde(default)]
    #[schema(schema_with = crate::schemas::optional_profile)]
    pub profile: Option<Profile>,
}

/// `PUT /api/v1/me/position` (and the link's `position` frame).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PositionUpdate {
    /// Latitude, degrees in [-90, 90].
    #[schema(minimum = -90, maximum = 90)]
    pub lat: f64,
    /// Longitude, degrees in [-180, 180].
    #[schema(minimum = -180, maximum = 180)]
    pub lon: f64,
    /// Radius of uncertainty, metres, 0 to 1,000,000; 0 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub accuracy_m: Option<f64>,
    /// When the fix was taken; now when absent. At most a minute in the future.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub at: Option<OffsetDateTime>,
    /// Set by hand (typed, or picked on a map) rather than measured by the device: the
    /// partner is told so beside the pull.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_hand: bool,
    /// The device's battery level, percent (0 to 100), when it knows it: shown to the
    /// partner only while the feelings tier is open.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole_percent"
    )]
    #[schema(value_type = Option<u8>, minimum = 0, maximum = 100)]
    pub battery: Option<u8>,
}

/// A battery level as JSON says a whole number: `46` or `46.0` (JSON Schema's `integer`
/// takes both, and so do some clients' encoders); anything else is refused by name.
fn whole_percent<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    let Some(level) = Option::<f64>::deserialize(d)? else {
        return Ok(None);
    };
    if level.fract() == 0.0 && (0.0..=f64::from(u8::MAX)).contains(&level) {
        Ok(Some(level as u8))
    } else {
        Err(serde::de::Error::custom(format!(
            "battery must be a whole percent from 0 to 100, not {level}"
        )))
    }
}

/// `PUT /api/v1/me/sealed-fix` (and the link's `sealed_fix` frame): in a private bond, my
/// position as my device rounded and sealed it for my partner (`crate::sealed`, kind
/// `position`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SealedFixUpdate {
    /// The sealed position: base64url without padding, at most 390 characters.
    #[schema(
        min_length = 48,
        max_length = 390,
        pattern = "^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$"
    )]
    pub sealed: String,
}

/// In a private bond, the partner's latest position as their device sealed it: the
/// server cannot open it, and relays and keeps it as it came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PartnerSealedFix {
    /// The sealed position (`crate::sealed`, kind `position`).
    pub sealed: String,
    /// When the server received it: only while the feelings tier is open (like the
    /// pull's `seen_at`), absent otherwise.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub at: Option<OffsetDateTime>,
}

/// One tier of the bond as `GET /api/v1/bond` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TierView {
    /// Whether it is open now.
    pub open: bool,
    /// The distance within which it opens, metres; `null` when open at any range.
    pub range_m: Option<f64>,
}

/// The pull toward the partner.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PullView {
    /// Bearing toward the partner, degrees clockwise from north; rounded to 5° unless exact.
    pub bearing_deg: f64,
    /// Distance to the partner, metres; two significant figures unless exact.
    pub distance_m: f64,
    /// Whether the pull is exact (within sight range).
    pub exact: bool,
    /// The partner's position, only when exact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<LatLon>,
    /// The partner set their latest position by hand rather than their device measuring
    /// it (absent when false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_hand: bool,
    /// When the partner's device took their latest fix ("last seen"): only while the
    /// feelings tier is open, absent otherwise.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub seen_at: Option<OffsetDateTime>,
    /// The partner's battery level, percent, as their device last said: only while the
    /// feelings tier is open (and their device says), absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub battery: Option<u8>,
}

/// A point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LatLon {
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
}

/// The next tier to open as the partners come closer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NextTier {
    /// Which tier.
    #[schema(schema_with = crate::schemas::tier)]
    pub tier: Tier,
    /// How much closer the partners must come, metres (two significant figures).
    pub opens_in_m: f64,
}

/// Whether the partner's link is live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ContactState {
    /// Heard from within the contact timeout.
    Live,
    /// Silent for longer than the contact timeout.
    Lost,
}

/// `GET /api/v1/bond` → the bond as one partner sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BondView {
    /// The bond's id.
    pub id: Uuid,
    /// The partner's name.
    pub partner: String,
    /// The distances in use.
    #[schema(schema_with = crate::schemas::profile)]
    pub profile: Profile,
    /// The strength of the bond in [0, 1].
    pub strength: f64,
    /// Every tier by key, open or not.
    #[schema(value_type = BTreeMap<String, TierView>)]
    pub tiers: BTreeMap<Tier, TierView>,
    /// The pull; `null` until both partners have a position. Always `null` in a private
    /// bond, whose server knows no position: the partner's device works it out from
    /// `partner_sealed_fix`.
    pub pull: Option<PullView>,
    /// In a private bond, the partner's latest sealed position, while neither partner
    /// is hidden by a pause (absent otherwise, and always in a plain bond).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_sealed_fix: Option<PartnerSealedFix>,
    /// The next tier to open, if any and if the pull is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_tier: Option<NextTier>,
    /// Whether the partner's link is live.
    pub contact: ContactState,
    /// Whether the partner is guarding their thoughts.
    pub partner_guarded: bool,
    /// Whether the partner has paused sharing, and until when.
    #[serde(default)]
    pub partner_pause: crate::pause::PauseView,
    /// Alarms raised and not yet acknowledged by their receiver, in order.
    pub alarms: Vec<Message>,
    /// The sequence number of the newest message of the bond (0 when none).
    pub last_seq: i64,
    /// When the bond was made.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub since: OffsetDateTime,
}

/// The kind of a stored message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    /// Words; needs the voice tier.
    Voice,
    /// One of [`Feeling`]; needs the feelings tier.
    Feeling,
    /// Terror; passes at any range and stays raised until the partner acknowledges it.
    Alarm,
    /// A picture; needs the images tier. Its `body` is the image's id. Sent only through
    /// `POST /api/v1/bond/images`.
    Image,
    /// A private bond's news of arriving at or leaving a place, judged on the owner's
    /// device and sealed there (`crate::sealed::PlaceContent`); passes at any range, like
    /// the pull. Only sealed, only in a private bond (a plain bond's server tells it).
    Place,
    /// A private bond's meeting point pinned, unpinned or reached, sealed on the device of
    /// the partner who did it (`crate::sealed::MeetingContent`); passes at any range. Only
    /// sealed, only in a private bond (a plain bond pins through `/api/v1/bond/meeting`).
    Meeting,
}

impl MessageKind {
    /// The tier a message of this kind needs.
    pub fn tier(self) -> Tier {
        match self {
            MessageKind::Voice => Tier::Voice,
            MessageKind::Feeling => Tier::Feelings,
            MessageKind::Alarm => Tier::Alarm,
            MessageKind::Image => Tier::Images,
            MessageKind::Place | MessageKind::Meeting => Tier::Pull,
        }
    }

    /// Whether only a private bond's devices send it, always sealed: a place's news and
    /// the meeting point, which a plain bond's server works out itself.
    pub fn sealed_only(self) -> bool {
        matches!(self, MessageKind::Place | MessageKind::Meeting)
    }

    /// Whether a message of this kind is pushed to a receiver who has not seen it (words,
    /// feelings, and a private bond's sealed place news and meeting point, as news that
    /// there is some; the alarm is pushed at once, a picture not at all).
    pub fn pushed_unseen(self) -> bool {
        matches!(
            self,
            MessageKind::Voice | MessageKind::Feeling | MessageKind::Place | MessageKind::Meeting
        )
    }

    /// Whether a newer unseen message of this kind makes the push of an older one of
    /// `older`'s kind needless, as one push tells of both: words and feelings cover
    /// each other, place news and the meeting point only their own kind.
    pub fn covers_push_of(self, older: MessageKind) -> bool {
        let talk = |k| matches!(k, MessageKind::Voice | MessageKind::Feeling);
        self.pushed_unseen() && (self == older || (talk(self) && talk(older)))
    }

    /// The API's key.
    pub fn key(self) -> &'static str {
        match self {
            MessageKind::Voice => "voice",
            MessageKind::Feeling => "feeling",
            MessageKind::Alarm => "alarm",
            MessageKind::Image => "image",
            MessageKind::Place => "place",
            MessageKind::Meeting => "meeting",
        }
    }

    /// The kind named by an API key.
    pub fn from_key(key: &str) -> Option<MessageKind> {
        [
            MessageKind::Voice,
            MessageKind::Feeling,
            MessageKind::Alarm,
            MessageKind::Image,
            MessageKind::Place,
            MessageKind::Meeting,
        ]
        .into_iter()
        .find(|k| k.key() == key)
    }
}

/// What a partner can feel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Feeling {
    /// Calm.
    Calm,
    /// Joy.
    Joy,
    /// Pleasure.
    Pleasure,
    /// Victory.
    Victory,
    /// Love.
    Love,
    /// Longing.
    Longing,
    /// Sadness.
    Sadness,
    /// Fear.
    Fear,
}

impl Feeling {
    /// Every feeling, in the order a client shows them.
    pub const ALL: [Feeling; 8] = [
        Feeling::Calm,
        Feeling::Joy,
        Feeling::Pleasure,
        Feeling::Victory,
        Feeling::Love,
        Feeling::Longing,
        Feeling::Sadness,
        Feeling::Fear,
    ];

    /// The API's key.
    pub fn key(self) -> &'static str {
        match self {
            Feeling::Calm => "calm",
            Feeling::Joy => "joy",
            Feeling::Pleasure => "pleasure",
            Feeling::Victory => "victory",
            Feeling::Love => "love",
            Feeling::Longing => "longing",
            Feeling::Sadness => "sadness",
            Feeling::Fear => "fear",
        }
    }

    /// The feeling named by an API key.
    pub fn from_key(key: &str) -> Option<Feeling> {
        Feeling::ALL.into_iter().find(|f| f.key() == key)
    }
}

/// `POST /api/v1/bond/messages` (and the link's `send` frame). Its schema is written by
/// hand (`schemas.rs`): which fields a message needs depends on its kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// `voice`, `feeling` or `alarm`; in the clear in a private bond too, since the
    /// server gates each kind by its tier.
    pub kind: MessageKind,
    /// The client's id for this message (1 to 64 characters, e.g. a UUID): a retry with
    /// the same id is answered with the stored message instead of storing it twice.
    pub id: String,
    /// The words (voice: required, 1 to 4,000 characters; alarm: optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The feeling (feeling: required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feeling: Option<Feeling>,
    /// In a private bond, instead of `body` and `feeling`: the words or the feeling sealed
    /// on the sender's device ([`crate::sealed`]; voice and feeling: required; alarm:
    /// optional). Refused in a plain bond.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
}

/// A stored message of the bond.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    /// Its place in the bond's sequence (increasing, never reused).
    pub seq: i64,
    /// The sender's id for it.
    pub id: String,
    /// The sender's name.
    pub from: String,
    /// What kind of message.
    pub kind: MessageKind,
    /// The words, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The feeling, for `feeling`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feeling: Option<Feeling>,
    /// In a private bond, the words or the feeling as the sender sealed them (never
    /// `body` or `feeling` there): the receiver's device opens it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
    /// When it was stored.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub sent_at: OffsetDateTime,
    /// For an alarm: when its receiver acknowledged it.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub acknowledged_at: Option<OffsetDateTime>,
}

/// `GET /api/v1/bond/messages?after=SEQ` → the messages after a sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MessagePage {
    /// In sequence order, at most `limit`.
    pub messages: Vec<Message>,
    /// Whether more messages follow the last one.
    pub more: bool,
}

/// `GET /api/v1/me` → who the token belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Me {
    /// The account.
    pub account: Account,
    /// The last position the server holds, if any.
    pub position: Option<LatLon>,
    /// Whether the account is bonded.
    pub bonded: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_battery_level_is_any_whole_number_json_can_write() {
        let battery = |json: &str| {
            serde_json::from_str::<PositionUpdate>(&format!(r#"{{"lat":1,"lon":2{json}}}"#))
                .map(|p| p.battery)
                .map_err(|e| e.to_string())
        };
        assert_eq!(battery(""), Ok(None));
        assert_eq!(battery(r#","battery":null"#), Ok(None));
        assert_eq!(battery(r#","battery":46"#), Ok(Some(46)));
        assert_eq!(battery(r#","battery":46.0"#), Ok(Some(46)));
        assert!(
            battery(r#","battery":46.5"#)
                .unwrap_err()
                .contains("whole percent")
        );
        assert!(battery(r#","battery":-1"#).is_err());
    }
}
