//! RFC 9457 problem details: what a client is told when a request fails.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A problem detail (`application/problem+json`). `code` is stable and meant for
/// programs; `detail` is a sentence for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem: `https://haurach.invalid/problems/CODE`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong this time, for a person.
    pub detail: String,
    /// The stable machine-readable code, e.g. `tier_closed`.
    pub code: String,
    /// For `tier_closed`: the tier that is closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// For `tier_closed`: the distance within which the tier opens, metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_m: Option<f64>,
    /// For `tier_closed`: how far the partners are now (coarsened beyond sight), metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance_m: Option<f64>,
}

/// The media type of a problem detail.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The base of every problem `type` URI.
pub const PROBLEM_BASE: &str = "https://haurach.invalid/problems/";
