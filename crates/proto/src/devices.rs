//! A person's devices with passwords of their own (`/api/v1/me/devices`): a device
//! password lets one device (the OwnTracks app) post positions to `POST /owntracks`
//! without the account's password, and nothing else.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// `POST /api/v1/me/devices`: a device to make a password for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    /// The device's name: 1 to 32 letters, digits, `-`, `_` or `.`; unique among the
    /// person's devices.
    #[schema(min_length = 1, max_length = 32, pattern = r"^[A-Za-z0-9._-]{1,32}$")]
    pub name: String,
}

/// A device as its owner lists it (never its password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeviceView {
    /// The device's name.
    pub name: String,
    /// When its password was made.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// The answer to `POST /api/v1/me/devices`: the device and its password, shown this
/// once (the server keeps only its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeviceCreated {
    /// The device's name.
    pub name: String,
    /// When its password was made.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// The device's password: the app sends it with the account's name in HTTP Basic.
    pub password: String,
}
