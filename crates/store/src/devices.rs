//! Storage of device passwords: the [`DeviceStore`] trait (a supertrait of
//! [`Store`](crate::Store)) and its record. A device password lets one device (the
//! OwnTracks app) post positions without the account's password; the store keeps only
//! its hash, and revoking a device deletes it. The backends are in `sqlite/devices.rs`
//! and `postgres/devices.rs`.

use std::future::Future;

use crate::{AccountId, StoreResult};

/// A device with its own password, as its owner lists it (never the password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    /// Whose device.
    pub account: AccountId,
    /// The name its owner gave it, unique among their devices.
    pub name: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// Durable storage of device passwords.
pub trait DeviceStore {
    /// Keeps a device by the hash of its password; false (and nothing kept) when the
    /// account has a device of that name already, or has `limit` devices.
    fn add_device(
        &self,
        device: &DeviceRecord,
        secret_hash: &[u8],
        limit: u32,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// The account's devices, oldest first.
    fn devices(
        &self,
        account: AccountId,
    ) -> impl Future<Output = StoreResult<Vec<DeviceRecord>>> + Send;

    /// Deletes the account's device of this name (its password stops working); whether
    /// there was one.
    fn revoke_device(
        &self,
        account: AccountId,
        name: &str,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// The device whose password has this hash, if it is not revoked.
    fn device_by_secret(
        &self,
        secret_hash: &[u8],
    ) -> impl Future<Output = StoreResult<Option<DeviceRecord>>> + Send;
}
