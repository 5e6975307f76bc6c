//! The JSON that Haurach's server and clients speak, defined once.
//!
//! - [`api`]: request and response bodies of the HTTP API (`/api/v1/...`).
//! - [`city`]: the gate and the tower, fire-mail, summoning.
//! - [`devices`]: a person's devices with passwords of their own (the OwnTracks app).
//! - [`images`]: images sent between partners.
//! - [`link`]: the frames of the live link (`/api/v1/link`, a WebSocket).
//! - [`pause`]: pausing one's sharing.
//! - [`places`]: places and the meeting point (the Needle).
//! - [`private`]: a private bond: its invite, the keys relayed, the token report.
//! - [`problem`]: RFC 9457 problem details, the shape of every HTTP error.
//! - [`push`]: Web Push: the server's key, a device's subscription, what is pushed.
//! - [`sealed`]: content sealed end to end in a private bond: its wire form, sealing and
//!   opening.
//! - [`sealed_pictures`]: pictures sealed end to end in a private bond: what a sealed
//!   rendition holds and the upload that carries them.
//! - [`schemas`]: the JSON Schemas a derive cannot say (bodies whose fields depend on each
//!   other, trimmed texts, names), for the OpenAPI document.
//!
//! Timestamps are RFC 3339 strings; distances are metres; bearings are degrees clockwise
//! from true north. Field names are snake_case.
#![deny(missing_docs)]

pub mod api;
pub mod city;
pub mod devices;
pub mod human;
pub mod images;
pub mod link;
pub mod pause;
pub mod places;
pub mod private;
pub mod problem;
pub mod push;
pub mod schemas;
pub mod sealed;
pub mod sealed_pictures;
pub mod text;

pub use api::*;
pub use city::*;
pub use devices::{DeviceCreated, DeviceView, NewDevice};
pub use images::{CameraConsent, ImageList, ImageView, MemoryList, MemoryView, NewMemory};
pub use link::{ClientFrame, Mover, ServerFrame};
pub use pause::{PauseRequest, PauseView};
pub use places::*;
pub use private::{
    AcceptPrivateInvite, Confirmation, NewPrivateInvite, PrivateBondView, PrivateInvite,
    TokenReport,
};
pub use problem::Problem;
pub use push::{PushKey, PushNote, PushSubscription, PushSubscriptionKeys, PushUnsubscribe};
