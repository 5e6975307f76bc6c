//! The rules of the bond between two partners, as pure functions and state machines.
//!
//! Everything here is deterministic and free of I/O: time comes in as arguments
//! (Unix milliseconds), never from a clock. The server, the clients and the tests all
//! read the product's rules from this crate.
//!
//! - [`geo`]: geodesic distance and initial bearing on WGS84 (Karney, via
//!   geographiclib-rs), and the pessimistic distance of two fixes.
//! - [`tier`]: the tiers, the three profiles and their ranges, strength, and the
//!   hysteresis that keeps a tier from flapping.
//! - [`images`]: how sharp a picture the partner sees at a given strength.
//! - [`disclosure`]: what a partner may learn of a position (exact within sight range,
//!   only a coarsened pull beyond it), decided in one place for everything shown.
//! - [`pull`]: the pull toward the partner, the bearing and distance each always feels.
//! - [`contact`]: lost and restored contact, and the stretch of an implausible jump.
//! - [`thoughts`]: live typing as edits with sequence numbers (XEP-0301's model).
//! - [`place`]: named places, and arriving and leaving with accuracy and hysteresis.
//! - [`meeting`]: the fair meeting point (the Needle) and each one's recent speed.
//! - [`journey`]: the distance over time as a person was shown it, from both partners'
//!   stored fixes, for the journey's chart.
#![deny(missing_docs)]

pub mod contact;
pub mod disclosure;
pub mod geo;
pub mod images;
pub mod journey;
pub mod meeting;
pub mod place;
pub mod pull;
pub mod thoughts;
pub mod tier;

pub use contact::{Contact, ContactEvent, Stretch, StretchDetector};
pub use disclosure::{Disclosure, Whereabouts, shows_vitals};
pub use geo::{Fix, Geodesic};
pub use pull::Pull;
pub use tier::{Profile, Separation, Tier, TierChange, TierSet, TierState};
