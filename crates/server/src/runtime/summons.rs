//! Summoning: a citizen calls another who allowed it (a per-person permission) with
//! their exact position; the summoned sees it like an alarm with the pull toward the
//! summoner and accepts or declines. While accepted, each side's exact position passes
//! to the other (the [`Tracker`] follows positions as they arrive) until the summoned
//! arrives (within [`ARRIVAL_M`]) or either ends it. Accepting a summons from someone
//! other than one's bonded partner stretches the bond: the partner is told.

use std::collections::HashMap;
use std::sync::Mutex;

use haurach_bond::Fix;
use haurach_bond::geo::{inverse, valid_coordinates};
use haurach_proto::{LatLon, PushNote, ServerFrame, SummonBody, SummonState, Summons};

use super::push::Notifier;
use haurach_store::city::{SummonsId, SummonsRecord};
use haurach_store::{AccountId, Conflict, Missing, Store, StoreError};

use crate::bus::{BondEvent, Bus};
use crate::clock::{now_ms, timestamp};
use crate::error::ApiError;

/// The summoned has arrived when this close to the summoner, metres (the memories range:
/// the same room).
pub const ARRIVAL_M: f64 = 25.0;

/// An accepted summons being followed.
#[derive(Debug, Clone)]
struct Active {
    record: SummonsRecord,
    summoner_fix: Option<Fix>,
    summoned_fix: Option<Fix>,
}

/// The accepted summonses, in memory, so a position update finds in one map lookup
/// whether anyone is waiting for it. Loaded from the store on first use (so a restart
/// keeps following them); changed only after the store has committed.
#[derive(Debug, Default)]
pub struct Tracker {
    loaded: tokio::sync::OnceCell<()>,
    /// How many summonses are followed: while none is, a position takes no lock here.
    n_active: std::sync::atomic::AtomicUsize,
    active: Mutex<HashMap<SummonsId, Active>>,
    by_account: Mutex<HashMap<AccountId, Vec<SummonsId>>>,
}

impl Tracker {
    async fn ensure_loaded<S: Store>(&self, store: &S) -> Result<(), StoreError> {
        self.loaded
            .get_or_try_init(|| async {
                for record in store.accepted_summonses().await? {
                    let summoner_fix = store.position(record.summoner).await?.map(|p| p.fix);
                    let summoned_fix = store.position(record.summoned).await?.map(|p| p.fix);
                    self.insert(Active {
                        record,
                        summoner_fix,
                        summoned_fix,
                    });
                }
                Ok::<(), StoreError>(())
            })
            .await
            .map(|_| ())
    }

    fn insert(&self, active: Active) {
        let id = active.record.id;
        let members = [active.record.summoner, active.record.summoned];
        if self
            .active
            .lock()
            .expect("tracker lock")
            .insert(id, active)
            .is_none()
        {
            self.n_active
                .fetch_add(1, std::sync::atomic::Ordering::Release);
        }
        let mut by_account = self.by_account.lock().expect("tracker lock");
        for m in members {
            by_account.entry(m).or_default().push(id);
        }
    }

    /// Stops following every summons `account` is a party to (removed from the city).
    pub(crate) fn forget(&self, account: AccountId) {
        let ids = self
            .by_account
            .lock()
            .expect("tracker lock")
            .get(&account)
            .cloned()
            .unwrap_or_default();
        for id in ids {
            self.remove(id);
        }
    }

    fn remove(&self, id: SummonsId) {
        let Some(active) = self.active.lock().expect("tracker lock").remove(&id) else {
            return;
        };
        self.n_active
            .fetch_sub(1, std::sync::atomic::Ordering::Release);
        let mut by_account = self.by_account.lock().expect("tracker lock");
        for m in [active.record.summoner, active.record.summoned] {
            if let Some(ids) = by_account.get_mut(&m) {
                ids.retain(|i| *i != id);
                if ids.is_empty() {
                    by_account.remove(&m);
                }
            }
        }
    }
}

/// The summons as `viewer` (either side) sees it. The summoner's exact position is
/// always in it (it is what a summons carries). The summoned's position, and the pull
/// from it toward the summoner, reach the summoner only once the summoned accepted: the
/// pull and the summoner's position together would give the summoned away.
fn view(
    record: &SummonsRecord,
    summoner: Option<Fix>,
    summoned: Option<Fix>,
    viewer: AccountId,
) -> Summons {
    let summoner = summoner.map_or(
        LatLon {
            lat: record.lat,
            lon: record.lon,
        },
        |f| LatLon {
            lat: f.lat,
            lon: f.lon,
        },
    );
    let shares = matches!(record.state, SummonState::Accepted | SummonState::Arrived);
    let summoned = summoned.filter(|_| shares || viewer == record.summoned);
    let pull = summoned.map(|f| inverse(f.lat, f.lon, summoner.lat, summoner.lon));
    Summons {
        id: record.id.0,
        from: record.summoner_name.clone(),
        to: record.summoned_name.clone(),
        state: record.state,
        summoner,
        summoned: summoned.filter(|_| shares).map(|f| LatLon {
            lat: f.lat,
            lon: f.lon,
        }),
        bearing_deg: pull.map(|g| g.bearing_deg),
        distance_m: pull.map(|g| g.distance_m),
        created_at: timestamp(record.created_at),
    }
}

/// Tells both sides, each with their own view.
fn publish_both<B: Bus>(
    bus: &B,
    record: &SummonsRecord,
    summoner: Option<Fix>,
    summoned: Option<Fix>,
) {
    for viewer in [record.summoner, record.summoned] {
        let frame = ServerFrame::Summons {
            summons: Box::new(view(record, summoner, summoned, viewer)),
        };
        bus.tell(viewer, &frame);
    }
}

/// Tells the other nodes that summons `record` changed.
fn share<B: Bus>(bus: &B, record: &SummonsRecord) {
    bus.share(BondEvent::SummonsChanged {
        id: record.id.0,
        party: record.summoner.0,
    });
}

impl Tracker {
    /// Another node changed summons `id` (accepted, declined, ended, reached): follows it or
    /// stops, as the store now says.
    pub async fn refresh<S: Store>(&self, store: &S, id: SummonsId, party: AccountId) {
        let tracker = self;
        if let Err(e) = tracker.ensure_loaded(store).await {
            tracing::error!(error = %e, "cannot load accepted summonses");
            return;
        }
        tracker.remove(id);
        let record = match store.summons(id, party).await {
            Ok(Some(record)) if record.state == SummonState::Accepted => record,
            Ok(_) => return,
            Err(e) => {
                tracing::error!(error = %e, "cannot read a summons another node changed");
                return;
            }
        };
        let fix_of = |who| async move { store.position(who).await.ok().flatten().map(|p| p.fix) };
        let (summoner_fix, summoned_fix) =
            (fix_of(record.summoner).await, fix_of(record.summoned).await);
        tracker.insert(Active {
            record,
            summoner_fix,
            summoned_fix,
        });
    }

    /// A position arrived from `account`: every accepted summons it is part of moves, and
    /// one that brought the summoned to the summoner ends as `arrived`. Called by the hub for
    /// every position; costs an atomic load while no summons is accepted anywhere, and one
    /// map lookup when the account is in none.
    pub async fn moved<S: Store, B: Bus>(&self, store: &S, bus: &B, account: AccountId, fix: Fix) {
        let tracker = self;
        if let Err(e) = tracker.ensure_loaded(store).await {
            tracing::error!(error = %e, "cannot load accepted summonses");
            return;
        }
        let ids = match tracker
            .by_account
            .lock()
            .expect("tracker lock")
            .get(&account)
        {
            Some(ids) => ids.clone(),
            None => return,
        };
        for id in ids {
            let updated = {
                let mut active = tracker.active.lock().expect("tracker lock");
                let Some(a) = active.get_mut(&id) else {
                    continue;
                };
                let held = if a.record.summoner == account {
                    &mut a.summoner_fix
                } else {
                    &mut a.summoned_fix
                };
                // A fix older than the one held (the OwnTracks app's queue, a page
                // sending again) neither moves the summons nor says it arrived.
                if !keep_freshest(held, fix) {
                    continue;
                }
                a.clone()
            };
            // With several nodes the other side's fixes may arrive elsewhere: the store has
            // the latest.
            let mut updated = updated;
            if bus.several_nodes() {
                let other = if updated.record.summoner == account {
                    updated.record.summoned
                } else {
                    updated.record.summoner
                };
                if let Ok(Some(p)) = store.position(other).await {
                    if other == updated.record.summoner {
                        updated.summoner_fix = Some(p.fix);
                    } else {
                        updated.summoned_fix = Some(p.fix);
                    }
                }
            }
            // Where the summoner is: their latest fix, else where they called from.
            let (to_lat, to_lon) = updated
                .summoner_fix
                .map_or((updated.record.lat, updated.record.lon), |f| (f.lat, f.lon));
            let arrived = updated
                .summoned_fix
                .is_some_and(|b| inverse(b.lat, b.lon, to_lat, to_lon).distance_m <= ARRIVAL_M);
            let mut record = updated.record.clone();
            if arrived {
                match store
                    .answer_summons(id, account, SummonState::Arrived, now_ms())
                    .await
                {
                    Ok(r) => {
                        record = r;
                        tracker.remove(id);
                        share(bus, &record);
                    }
                    Err(StoreError::Conflict(Conflict::SummonsMoved)) => {
                        tracker.remove(id);
                        continue;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot record an arrival");
                        continue;
                    }
                }
            }
            publish_both(bus, &record, updated.summoner_fix, updated.summoned_fix);
        }
    }

    /// Calls `body.to` from `caller`'s position in `body`; the summoned sees the pull
    /// from where they are, the summoner sees the call.
    pub async fn summon<S: Store, B: Bus>(
        &self,
        store: &S,
        bus: &B,
        push: &Notifier,
        caller: AccountId,
        body: &SummonBody,
    ) -> Result<Summons, ApiError> {
        if !valid_coordinates(body.lat, body.lon) {
            return Err(ApiError::invalid(
                "invalid_position",
                "lat must be in [-90, 90] and lon in [-180, 180]",
            ));
        }
        let accuracy_m = body.accuracy_m.unwrap_or(0.0);
        if !(accuracy_m.is_finite() && (0.0..=1_000_000.0).contains(&accuracy_m)) {
            return Err(ApiError::invalid(
                "invalid_position",
                "accuracy_m must be between 0 and 1,000,000 metres",
            ));
        }
        let record = store
            .summon(caller, &body.to, body.lat, body.lon, accuracy_m, now_ms())
            .await?;
        let summoned_fix = store.position(record.summoned).await?.map(|p| p.fix);
        publish_both(bus, &record, None, summoned_fix);
        push.notify(
            store,
            record.summoned,
            PushNote::Summons {
                from: record.summoner_name.clone(),
                id: record.id.0,
            },
            format!("summons:{}", record.id.0),
        );
        Ok(view(&record, None, summoned_fix, caller))
    }

    /// The summonses still calling or accepted that `viewer` is part of.
    pub async fn open<S: Store>(
        &self,
        store: &S,
        viewer: AccountId,
    ) -> Result<Vec<Summons>, ApiError> {
        let mut summonses = Vec::new();
        for record in store.open_summonses(viewer).await? {
            summonses.push(current_view(store, &record, viewer).await?);
        }
        Ok(summonses)
    }

    /// Summons `id` as `viewer` sees it, if they are part of it.
    pub async fn one<S: Store>(
        &self,
        store: &S,
        id: SummonsId,
        viewer: AccountId,
    ) -> Result<Summons, ApiError> {
        let record = store.summons(id, viewer).await?.ok_or(Missing::Summons)?;
        current_view(store, &record, viewer).await
    }

    /// `caller` accepts, declines or ends summons `id`. Accepted, it is followed until
    /// arrival; going to someone other than one's partner stretches the bond, and the
    /// partner is told.
    pub async fn answer<S: Store, B: Bus>(
        &self,
        store: &S,
        bus: &B,
        caller: AccountId,
        id: SummonsId,
        to: SummonState,
    ) -> Result<Summons, ApiError> {
        self.ensure_loaded(store).await?;
        let record = store.answer_summons(id, caller, to, now_ms()).await?;
        let summoner_fix = store.position(record.summoner).await?.map(|p| p.fix);
        let summoned_fix = store.position(record.summoned).await?.map(|p| p.fix);
        if to == SummonState::Accepted {
            self.insert(Active {
                record: record.clone(),
                summoner_fix,
                summoned_fix,
            });
            if let Some(bond) = store.bond_of(record.summoned).await?
                && let Some(idx) = bond.index_of(record.summoned)
                && bond.members[1 - idx] != record.summoner
            {
                bus.tell(
                    bond.members[1 - idx],
                    &ServerFrame::PartnerSummoned {
                        partner: record.summoned_name.clone(),
                        by: record.summoner_name.clone(),
                    },
                );
            }
        } else {
            self.remove(id);
        }
        share(bus, &record);
        publish_both(bus, &record, summoner_fix, summoned_fix);
        Ok(view(&record, summoner_fix, summoned_fix, caller))
    }
}

/// Keeps `fix` in `held` unless `held` is newer (by when each was taken), as the store
/// and the bond keep a person's latest fix; whether `fix` was kept.
fn keep_freshest(held: &mut Option<Fix>, fix: Fix) -> bool {
    if held.is_some_and(|h| h.at_ms > fix.at_ms) {
        return false;
    }
    *held = Some(fix);
    true
}

/// A summons as `viewer` sees it now: the summoner's latest position once the call was
/// answered, the summoned's latest.
async fn current_view<S: Store>(
    store: &S,
    record: &SummonsRecord,
    viewer: AccountId,
) -> Result<Summons, ApiError> {
    let summoner = if record.state == SummonState::Calling {
        None
    } else {
        store.position(record.summoner).await?.map(|p| p.fix)
    };
    let summoned = store.position(record.summoned).await?.map(|p| p.fix);
    Ok(view(record, summoner, summoned, viewer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix(lat: f64, at_ms: i64) -> Fix {
        Fix {
            lat,
            lon: 7.0,
            accuracy_m: 5.0,
            at_ms,
        }
    }

    // Regression: the tracker took whichever fix came last, so a delayed older fix from
    // one device moved the summons back to where the person had been.
    #[test]
    fn the_freshest_fix_is_kept_whichever_arrives_last() {
        let mut held = None;
        assert!(keep_freshest(&mut held, fix(46.0, 2_000)));
        assert!(!keep_freshest(&mut held, fix(45.0, 1_000)), "older");
        assert_eq!(held.map(|f| f.lat), Some(46.0));
        assert!(keep_freshest(&mut held, fix(46.1, 2_000)), "same time");
        assert!(keep_freshest(&mut held, fix(46.2, 3_000)));
        assert_eq!(held.map(|f| f.lat), Some(46.2));
    }
}
