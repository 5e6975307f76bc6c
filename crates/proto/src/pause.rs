//! Pausing one's sharing: `PUT`, `GET` and `DELETE /api/v1/me/pause`, and how a pause
//! reads in the partner's view of the bond. While paused, nothing of where the person is
//! leaves the server: see `ARCHITECTURE.md`, "Pause".

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// `PUT /api/v1/me/pause`: pause sharing until `until`, or until resumed when it is
/// absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseRequest {
    /// When the pause ends by itself (in the future, within a year); absent or `null`:
    /// until `DELETE /api/v1/me/pause`.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub until: Option<OffsetDateTime>,
}

/// Whether someone's sharing is paused, and since and until when.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PauseView {
    /// Whether sharing is paused now.
    pub paused: bool,
    /// When the pause began (absent when not paused).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub since: Option<OffsetDateTime>,
    /// When it ends by itself (absent: until resumed, or not paused).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub until: Option<OffsetDateTime>,
}
