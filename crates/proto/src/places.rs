//! Places and the meeting point (the Needle): request and response bodies of
//! `/api/v1/places` and `/api/v1/bond/meeting`, and what their link frames carry; and the
//! caller's own journey with its chart (`/api/v1/me/journey`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use haurach_bond::Tier;

use crate::api::LatLon;

/// `PUT /api/v1/places/{name}`: a place's centre and radius.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceInput {
    /// Latitude of the centre, degrees in [-90, 90].
    #[schema(minimum = -90, maximum = 90)]
    pub lat: f64,
    /// Longitude of the centre, degrees in [-180, 180].
    #[schema(minimum = -180, maximum = 180)]
    pub lon: f64,
    /// Radius, metres, 10 to 50,000.
    #[schema(minimum = 10, maximum = 50_000)]
    pub radius_m: f64,
}

/// A place as `GET /api/v1/places` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlaceView {
    /// Its name (unique per person, any case).
    pub name: String,
    /// Its radius, metres.
    pub radius_m: f64,
    /// Its centre: always for your own places; for your partner's only within sight range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<LatLon>,
    /// Whether its owner is there now.
    pub inside: bool,
}

/// `GET /api/v1/places`: your places and, when bonded, your partner's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlacesView {
    /// Your places, by name.
    pub mine: Vec<PlaceView>,
    /// Your partner's places, by name (empty when unbonded).
    pub partner: Vec<PlaceView>,
    /// Where to meet, as `GET /api/v1/bond/meeting` gives it; absent when unbonded or
    /// while neither a pin nor both positions are known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting: Option<MeetingView>,
}

/// Arriving at or leaving a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PlaceEvent {
    /// Now inside.
    Arrived,
    /// Now outside.
    Left,
}

/// Whether the meeting point is Haurach's suggestion or one a partner pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MeetingKind {
    /// Fair to both: where both arrive soonest at their recent speeds (or the midpoint).
    Suggested,
    /// A partner pinned a place or a point.
    Pinned,
}

/// One partner's way to the meeting point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MeetingLeg {
    /// Distance to the meeting point, metres (two significant figures unless exact).
    pub distance_m: f64,
    /// Initial bearing toward it, degrees (only on your own leg; rounded to 5° unless
    /// exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearing_deg: Option<f64>,
    /// Estimated seconds to get there at the recent speed (a walk when unknown or at
    /// rest).
    pub eta_s: f64,
    /// Whether they are there.
    pub arrived: bool,
}

/// `GET /api/v1/bond/meeting` and the link's `meeting` frame: where to meet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MeetingView {
    /// Suggested or pinned.
    pub kind: MeetingKind,
    /// The pinned place's name or the pin's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Who pinned it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned_by: Option<String>,
    /// The point: always for a pin; for a suggestion only within sight range (beyond
    /// it the point would give the partner's position away).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<LatLon>,
    /// For a suggestion: whether the recent speeds moved it off the midpoint (false: a
    /// speed is unknown, or both are at rest).
    pub by_speed: bool,
    /// Whether distances and times are exact (false: two significant figures).
    pub exact: bool,
    /// Your way there.
    pub you: MeetingLeg,
    /// Your partner's way there; `null` until their position is known.
    pub partner: Option<MeetingLeg>,
}

/// `PUT /api/v1/bond/meeting`: pin the meeting point to one of your places or to a
/// point. Exactly one of `place` or `lat` + `lon`, so its schema is written by hand
/// (`schemas.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinMeeting {
    /// The name of one of your places.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    /// A point's latitude.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    /// A point's longitude.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    /// A label for the point ("the Needle").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A place event as the link carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlaceNews {
    /// Whose place: your partner's name or yours.
    pub who: String,
    /// The place's name.
    pub place: String,
    /// Arrived or left.
    pub event: PlaceEvent,
    /// When the fix that decided it was taken.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
}

/// `GET /api/v1/me/journey`: the caller's own track and the chart of the distance to the
/// partner over it, as the caller was shown it. Every device of the caller gets the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JourneyView {
    /// The caller's own fixes, oldest first (thinned evenly to at most 5,000).
    pub fixes: Vec<JourneyFix>,
    /// The distance to the partner at each moment it changed while the two were bonded,
    /// as the pull showed it: exact within sight, two significant figures beyond (thinned
    /// evenly to at most 2,000). Empty when unbonded.
    pub distances: Vec<JourneyDistance>,
    /// The tiers that opened on the way, at the distance then shown.
    pub openings: Vec<JourneyOpening>,
}

/// One fix of the caller's own journey.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JourneyFix {
    /// When it was taken.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// The device's accuracy, metres, when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<f64>,
}

/// The distance to the partner at a moment, as shown then.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JourneyDistance {
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    /// Metres: exact within sight, two significant figures beyond.
    pub distance_m: f64,
    /// Whether it was exact.
    pub exact: bool,
}

/// A tier that opened on the way.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JourneyOpening {
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    /// The distance shown at that moment, metres.
    pub distance_m: f64,
    /// Which tier.
    #[schema(schema_with = crate::schemas::tier)]
    pub tier: Tier,
}
