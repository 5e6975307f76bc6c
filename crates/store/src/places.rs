//! Storage of places, the pinned meeting point and the journey: the [`PlaceStore`] trait
//! (a supertrait of [`Store`](crate::Store), so every backend has it) and its records.
//! Like the rest of the store, each method is one transaction. The backends are in
//! `sqlite/places.rs` and `postgres/places.rs`.

use std::future::Future;

use haurach_bond::Fix;

use crate::{AccountId, BondId, PositionRecord, StoreResult};

/// A place as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaceRecord {
    /// Its name as its owner wrote it.
    pub name: String,
    /// Latitude of the centre, degrees.
    pub lat: f64,
    /// Longitude of the centre, degrees.
    pub lon: f64,
    /// Radius, metres.
    pub radius_m: f64,
    /// Whether the owner was inside at their last fix.
    pub inside: bool,
    /// Unix milliseconds.
    pub updated_at: i64,
}

impl PlaceRecord {
    /// The place as the rules see it.
    pub fn place(&self) -> haurach_bond::place::Place {
        haurach_bond::place::Place {
            lat: self.lat,
            lon: self.lon,
            radius_m: self.radius_m,
        }
    }
}

/// A meeting point a partner pinned.
#[derive(Debug, Clone, PartialEq)]
pub struct PinRecord {
    /// The place's name or the pin's label.
    pub name: Option<String>,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Who pinned it.
    pub pinned_by: AccountId,
    /// Unix milliseconds.
    pub pinned_at: i64,
    /// Which members (by index in the bond) have reached it.
    pub reached: [bool; 2],
}

/// Whether anyone waits for a write to commit. On a CPU saturated by the live links, a
/// store that yields to them (SQLite's database threads) takes the CPU back after a
/// second for a write someone waits for, and only after
/// [`NOBODY_WAITS_FOR`](crate::sqlite::NOBODY_WAITS_FOR) for one nobody does.
/// PostgreSQL runs in processes of its own and has no such rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// Someone is answered once it commits (a fix sent over HTTP).
    Someone,
    /// Nobody is (a live link's fixes, committed in the background).
    Nobody,
}

/// Places, the pinned meeting point and the journey.
pub trait PlaceStore {
    /// Creates or replaces places of `account` by name (any case), with whether the owner
    /// is inside each. Returns, per place, whether it is new.
    fn put_places(
        &self,
        account: AccountId,
        places: &[PlaceRecord],
    ) -> impl Future<Output = StoreResult<Vec<bool>>> + Send;

    /// An account's places, by name.
    fn places(
        &self,
        account: AccountId,
    ) -> impl Future<Output = StoreResult<Vec<PlaceRecord>>> + Send;

    /// Deletes a place by name (any case); false when there was none.
    fn delete_place(
        &self,
        account: AccountId,
        name: &str,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Records whether the owner is inside each named place.
    fn set_inside(
        &self,
        account: AccountId,
        changes: &[(String, bool)],
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The bond's pinned meeting point.
    fn pin(&self, bond: BondId) -> impl Future<Output = StoreResult<Option<PinRecord>>> + Send;

    /// Pins the bond's meeting point (`None`: back to the suggestion).
    fn set_pin(
        &self,
        bond: BondId,
        pin: Option<&PinRecord>,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Stores accounts' latest positions as [`Store::save_positions`](crate::Store::save_positions)
    /// does, and in the same transaction appends to its account's journey each fix marked
    /// `true` (a retry of a fix already there is not doubled). `waiting` says whether
    /// anyone waits for the commit.
    fn save_positions_and_journey(
        &self,
        batch: &[(AccountId, PositionRecord, bool)],
        waiting: Waiting,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// An account's journey between two times (Unix milliseconds, inclusive), in order,
    /// at most `limit` fixes.
    fn journey(
        &self,
        account: AccountId,
        from_ms: i64,
        to_ms: i64,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Vec<Fix>>> + Send;

    /// Deletes every journey fix taken before `cutoff_ms`; returns how many.
    fn forget_journey_before(
        &self,
        cutoff_ms: i64,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
}
