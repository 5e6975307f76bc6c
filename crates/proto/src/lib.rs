//! The JSON that Haurach's server and clients speak, defined once.
//!
//! - [`api`]: request and response bodies of the HTTP API (`/api/v1/...`).
//! - [`images`]: images sent between partners.
//! - [`link`]: the frames of the live link (`/api/v1/link`, a WebSocket).
//! - [`problem`]: RFC 9457 problem details, the shape of every HTTP error.
//!
//! Timestamps are RFC 3339 strings; distances are metres; bearings are degrees clockwise
//! from true north. Field names are snake_case.
#![deny(missing_docs)]

pub mod api;
pub mod human;
pub mod images;
pub mod link;
pub mod problem;

pub use api::*;
pub use images::{CameraConsent, ImageList, ImageView, MemoryList, MemoryView, NewMemory};
pub use link::{ClientFrame, Mover, ServerFrame};
pub use problem::Problem;
