//! A private bond: the partners' devices hold the keys, what they send is sealed, and the
//! server opens the tiers from keyed tokens of grid cells without learning where either
//! partner is. Pure, no I/O: the server and the clients call it.
//!
//! - [`keys`]: each device's X25519 key pair, the invite's secret and its lookup hash,
//!   and the bond key both devices derive (HKDF-SHA256) and confirm.
//! - [`invite`]: the invite's secret as a code to type and a QR code to scan.
//! - [`seal`]: content sealed with AES-256-GCM under a key from the bond key.
//! - [`seen`]: which of the partner's counters a device opened, and where, to refuse
//!   what the server sends again.
//! - [`geometry`]: charts that cover the Earth, the projection onto them and the nine
//!   shifted grids, with the proofs of what a shared cell says about a distance.
//! - [`tokens`]: what a client sends instead of a position: keyed cells per tier and
//!   epoch, padded to one size.
//! - [`matcher`]: the server's decision of each tier from the two partners' tokens, with
//!   the plain bond's hysteresis.
//! - [`rounding`]: how much of its fix a sender seals for the partner: exact within
//!   sight, a cell of a fixed grid sized to the distance beyond it.
//!
//! `docs/privacy.md` states the threat model these are held to.
#![deny(missing_docs)]

pub mod geometry;
pub mod invite;
pub mod keys;
pub mod matcher;
pub mod rounding;
pub mod seal;
pub mod seen;
pub mod tokens;

pub use keys::{BondKey, DeviceSecret, InviteSecret, Role};
pub use matcher::Matcher;
pub use seal::{Context, Sealer};
pub use seen::{Place, Seen, Verdict};
pub use tokens::{Report, Token};

/// What can go wrong in a private bond. The messages say what happened without saying
/// anything secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The partner's public key is a low-order point: the shared secret would be a
    /// constant.
    #[error("the partner's public key is not usable")]
    WeakPublicKey,
    /// The partner's confirmation tag is not this key's: the two devices hold different
    /// keys (a public key was swapped on the way, or the invite secret differs).
    #[error("the partner's key does not match: the bond's keys were tampered with")]
    KeyMismatch,
    /// A sealed message that does not open: changed, under another key or context.
    #[error("the message cannot be opened")]
    Unopenable,
    /// Content too long to seal (more than AES-GCM's 64 GiB).
    #[error("the content is too long to seal")]
    TooLong,
    /// A message kind longer than 255 bytes.
    #[error("the message kind is longer than 255 bytes")]
    KindTooLong,
    /// An invite code that is not 32 base32 characters.
    #[error("the invite code is not one: it is 32 letters and digits, in groups of four")]
    BadInviteCode,
    /// A token report of the wrong shape.
    #[error("the token report is malformed")]
    MalformedReport,
}
