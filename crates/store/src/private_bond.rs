//! Storage of private bonds (issue 20, `docs/privacy.md`): the [`PrivateBondStore`]
//! trait (a supertrait of [`Store`](crate::Store)) and its records. What is kept is only
//! what the server needs to make the bond and let the two devices check each other's
//! keys: an invite by the lookup hash of its secret (never the secret), each device's
//! public key, and the confirmation tags the devices relay to each other; and each
//! partner's latest position as their device sealed it, which the server cannot open.
//! Nothing positional in the clear: accepting a private invite deletes both people's
//! stored latest position, and the server stores none for them while the bond lasts. The backends are in
//! `sqlite/private_bond.rs` and `postgres/private_bond.rs`.

use std::future::Future;

use haurach_bond::{Profile, TierSet};

use crate::{AccountId, BondId, BondRecord, StoreResult};

/// The length of a lookup hash, a public key and a confirmation tag, in bytes.
pub const KEY_LEN: usize = 32;

/// A private bond's keys as the server relays them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateKeys {
    /// The devices' X25519 public keys: the inviter's, then the accepter's.
    pub public_keys: [[u8; KEY_LEN]; 2],
    /// The confirmation tags each device sent, in the same order (none until it sends).
    pub tags: [Option<[u8; KEY_LEN]>; 2],
}

/// A partner's latest sealed position, as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedFixRecord {
    /// The sealed string, as the device sent it.
    pub sealed: String,
    /// When the server received it, Unix milliseconds.
    pub received_at: i64,
}

/// Durable storage of private invites and bonds.
pub trait PrivateBondStore {
    /// Stores a private invite of `account` under `lookup` (the hash of its secret), with
    /// the inviter's device public key; `Conflict::InviteCodeTaken` when the hash is
    /// taken (two secrets of 160 random bits do not collide; a client that sends the same
    /// hash twice does).
    ///
    /// A private bond keeps no place on the server: the account's places are deleted in
    /// the same transaction when every one of them is named (any case) in `kept` (its
    /// device has them now), else `Conflict::PlacesStored` and nothing changes.
    fn create_private_invite(
        &self,
        lookup: &[u8; KEY_LEN],
        account: AccountId,
        public_key: &[u8; KEY_LEN],
        kept: &[String],
        now_ms: i64,
        expires_ms: i64,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Uses a private invite, as [`Store::accept_invite`](crate::Store::accept_invite)
    /// uses a plain one (the same errors), and in the same transaction marks the bond
    /// private with both public keys and deletes both people's stored latest position.
    /// The acceptor's places go as [`create_private_invite`](Self::create_private_invite)'s
    /// do (named in `kept`, else `Conflict::PlacesStored`); places the inviter made after
    /// the invite refuse it, `Conflict::PartnerPlacesStored`.
    #[allow(clippy::too_many_arguments)]
    fn accept_private_invite(
        &self,
        lookup: &[u8; KEY_LEN],
        acceptor: AccountId,
        public_key: &[u8; KEY_LEN],
        kept: &[String],
        profile: Profile,
        open_tiers: TierSet,
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<BondRecord>> + Send;

    /// Whether `account` has a private invite that still works at `now_ms`.
    fn private_invite_waiting(
        &self,
        account: AccountId,
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// The bond's keys and tags; `None` for a plain bond.
    fn private_keys(
        &self,
        bond: BondId,
    ) -> impl Future<Output = StoreResult<Option<PrivateKeys>>> + Send;

    /// Keeps member `idx`'s (0: the inviter) confirmation tag, replacing one sent before;
    /// false when the bond is not private.
    fn set_confirmation(
        &self,
        bond: BondId,
        idx: usize,
        tag: &[u8; KEY_LEN],
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Keeps `account`'s latest sealed position in `bond`, replacing the one before.
    /// Ending the bond deletes both partners'.
    fn save_sealed_fix(
        &self,
        bond: BondId,
        account: AccountId,
        sealed: &str,
        received_ms: i64,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// `account`'s latest sealed position in `bond`, if they sent one.
    fn sealed_fix(
        &self,
        bond: BondId,
        account: AccountId,
    ) -> impl Future<Output = StoreResult<Option<SealedFixRecord>>> + Send;
}

/// 32 bytes from a column, or the column is corrupt.
pub(crate) fn key_of(bytes: Vec<u8>) -> StoreResult<[u8; KEY_LEN]> {
    bytes
        .try_into()
        .map_err(|_| crate::StoreError::Corrupt("a private bond's key is not 32 bytes".into()))
}

/// Whether every place the server keeps for someone turning private (`stored`, their
/// names in lower case) is named in `kept` (any case): their device has them, so the
/// server may forget them. Else `Conflict::PlacesStored`.
pub(crate) fn places_kept(stored: &[String], kept: &[String]) -> StoreResult<()> {
    let kept: std::collections::HashSet<String> = kept.iter().map(|n| n.to_lowercase()).collect();
    if stored.iter().all(|name| kept.contains(name)) {
        Ok(())
    } else {
        Err(crate::Conflict::PlacesStored.into())
    }
}
