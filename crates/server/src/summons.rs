//! Summoning: a citizen calls another who allowed it (a per-person permission) with
//! their exact position; the summoned sees it like an alarm with the pull toward the
//! summoner and accepts or declines. While accepted, each side's exact position passes
//! to the other (the [`Tracker`] follows positions as they arrive) until the summoned
//! arrives (within [`ARRIVAL_M`]) or either ends it. Accepting a summons from someone
//! other than one's bonded partner stretches the bond: the partner is told.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use haurach_bond::Fix;
use haurach_bond::geo::{inverse, valid_coordinates};
use haurach_proto::{
    LatLon, ServerFrame, SummonBody, SummonPermissions, SummonState, Summons, SummonsList,
};
use uuid::Uuid;

use crate::bus::{BondEvent, Bus};
use crate::city::{publish, store_problem};
use crate::error::ApiError;
use crate::http::{AppState, Caller, check_name};
use crate::hub::{Hub, now_ms, timestamp};
use haurach_store::city::{SummonsId, SummonsRecord};
use haurach_store::{AccountId, Store, StoreError};

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
        publish(bus, viewer, &frame);
    }
}

/// Another node changed summons `id` (accepted, declined, ended, reached): follows it or
/// stops, as the store now says.
pub async fn refresh<S: Store, B: Bus>(hub: &Hub<S, B>, id: SummonsId, party: AccountId) {
    let tracker = &hub.summons;
    if let Err(e) = tracker.ensure_loaded(&hub.store).await {
        tracing::error!(error = %e, "cannot load accepted summonses");
        return;
    }
    tracker.remove(id);
    let record = match hub.store.summons(id, party).await {
        Ok(Some(record)) if record.state == SummonState::Accepted => record,
        Ok(_) => return,
        Err(e) => {
            tracing::error!(error = %e, "cannot read a summons another node changed");
            return;
        }
    };
    let fix_of = |who| async move { hub.store.position(who).await.ok().flatten().map(|p| p.fix) };
    let (summoner_fix, summoned_fix) =
        (fix_of(record.summoner).await, fix_of(record.summoned).await);
    tracker.insert(Active {
        record,
        summoner_fix,
        summoned_fix,
    });
}

/// Tells the other nodes that summons `record` changed.
fn share<B: Bus>(bus: &B, record: &SummonsRecord) {
    bus.share(BondEvent::SummonsChanged {
        id: record.id.0,
        party: record.summoner.0,
    });
}

/// A position arrived from `account`: every accepted summons it is part of moves, and
/// one that brought the summoned to the summoner ends as `arrived`. Called by the hub for
/// every position; costs an atomic load while no summons is accepted anywhere, and one
/// map lookup when the account is in none.
pub async fn moved<S: Store, B: Bus>(hub: &Hub<S, B>, account: AccountId, fix: Fix) {
    let tracker = &hub.summons;
    if let Err(e) = tracker.ensure_loaded(&hub.store).await {
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
            if a.record.summoner == account {
                a.summoner_fix = Some(fix);
            } else {
                a.summoned_fix = Some(fix);
            }
            a.clone()
        };
        // With several nodes the other side's fixes may arrive elsewhere: the store has
        // the latest.
        let mut updated = updated;
        if hub.bus.several_nodes() {
            let other = if updated.record.summoner == account {
                updated.record.summoned
            } else {
                updated.record.summoner
            };
            if let Ok(Some(p)) = hub.store.position(other).await {
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
            match hub
                .store
                .answer_summons(id, account, SummonState::Arrived, now_ms())
                .await
            {
                Ok(r) => {
                    record = r;
                    tracker.remove(id);
                    share(&hub.bus, &record);
                }
                Err(StoreError::Conflict(_)) => {
                    tracker.remove(id);
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot record an arrival");
                    continue;
                }
            }
        }
        publish_both(
            &hub.bus,
            &record,
            updated.summoner_fix,
            updated.summoned_fix,
        );
    }
}

fn summons_id(path: Result<Path<Uuid>, PathRejection>) -> Result<SummonsId, ApiError> {
    path.map(|Path(id)| SummonsId(id))
        .map_err(|_| ApiError::bad_request("invalid_path", "a summons' id is a UUID"))
}

fn name_path(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(name) =
        path.map_err(|_| ApiError::bad_request("invalid_path", "a citizen's name is expected"))?;
    check_name(&name)?;
    Ok(name)
}

/// `GET /api/v1/summons/allowed`: who may summon you.
pub async fn allowed<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<Json<SummonPermissions>, ApiError> {
    Ok(Json(SummonPermissions {
        allowed: app.hub.store.summon_permissions(caller.account).await?,
    }))
}

/// `PUT /api/v1/summons/allowed/{name}`: allow someone to summon you.
pub async fn allow<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    name: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let name = name_path(name)?;
    app.hub
        .store
        .set_summon_permission(caller.account, &name, true, now_ms())
        .await
        .map_err(store_problem)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/summons/allowed/{name}`: no longer allow someone to summon you.
pub async fn disallow<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    name: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let name = name_path(name)?;
    app.hub
        .store
        .set_summon_permission(caller.account, &name, false, now_ms())
        .await
        .map_err(store_problem)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/summons`: call someone who allowed it, from where you are.
pub async fn summon<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    body: Result<Json<SummonBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Summons>), ApiError> {
    let Json(body) = body?;
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
    let record = app
        .hub
        .store
        .summon(
            caller.account,
            &body.to,
            body.lat,
            body.lon,
            accuracy_m,
            now_ms(),
        )
        .await
        .map_err(store_problem)?;
    let summoned_fix = app
        .hub
        .store
        .position(record.summoned)
        .await?
        .map(|p| p.fix);
    // The summoned sees the pull from where they are; the summoner sees the call.
    publish_both(&app.hub.bus, &record, None, summoned_fix);
    Ok((
        StatusCode::CREATED,
        Json(view(&record, None, summoned_fix, caller.account)),
    ))
}

async fn current_view<S: Store, B: Bus>(
    hub: &Hub<S, B>,
    record: &SummonsRecord,
    viewer: AccountId,
) -> Result<Summons, ApiError> {
    let summoner = if record.state == SummonState::Calling {
        None
    } else {
        hub.store.position(record.summoner).await?.map(|p| p.fix)
    };
    let summoned = hub.store.position(record.summoned).await?.map(|p| p.fix);
    Ok(view(record, summoner, summoned, viewer))
}

/// `GET /api/v1/summons`: the summonses still calling or accepted that you are part of.
pub async fn list<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<Json<SummonsList>, ApiError> {
    let mut summonses = Vec::new();
    for record in app.hub.store.open_summonses(caller.account).await? {
        summonses.push(current_view(&app.hub, &record, caller.account).await?);
    }
    Ok(Json(SummonsList { summonses }))
}

/// `GET /api/v1/summons/{id}`.
pub async fn one<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    id: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<Summons>, ApiError> {
    let record = app
        .hub
        .store
        .summons(summons_id(id)?, caller.account)
        .await?
        .ok_or_else(|| store_problem(StoreError::NotFound("summons")))?;
    Ok(Json(current_view(&app.hub, &record, caller.account).await?))
}

async fn answer<S: Store, B: Bus>(
    app: &AppState<S, B>,
    caller: &Caller,
    id: SummonsId,
    to: SummonState,
) -> Result<Json<Summons>, ApiError> {
    app.hub
        .summons
        .ensure_loaded(&app.hub.store)
        .await
        .map_err(ApiError::from)?;
    let record = app
        .hub
        .store
        .answer_summons(id, caller.account, to, now_ms())
        .await
        .map_err(store_problem)?;
    let summoner_fix = app
        .hub
        .store
        .position(record.summoner)
        .await?
        .map(|p| p.fix);
    let summoned_fix = app
        .hub
        .store
        .position(record.summoned)
        .await?
        .map(|p| p.fix);
    if to == SummonState::Accepted {
        app.hub.summons.insert(Active {
            record: record.clone(),
            summoner_fix,
            summoned_fix,
        });
        // Going to someone other than one's partner stretches the bond.
        if let Some(bond) = app.hub.store.bond_of(record.summoned).await?
            && let Some(idx) = bond.index_of(record.summoned)
            && bond.members[1 - idx] != record.summoner
        {
            publish(
                &app.hub.bus,
                bond.members[1 - idx],
                &ServerFrame::PartnerSummoned {
                    partner: record.summoned_name.clone(),
                    by: record.summoner_name.clone(),
                },
            );
        }
    } else {
        app.hub.summons.remove(id);
    }
    share(&app.hub.bus, &record);
    publish_both(&app.hub.bus, &record, summoner_fix, summoned_fix);
    Ok(Json(view(
        &record,
        summoner_fix,
        summoned_fix,
        caller.account,
    )))
}

/// `POST /api/v1/summons/{id}/accept`: go (only the summoned). From now on both see each
/// other's exact position until arrival or either ends it.
pub async fn accept<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    id: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<Summons>, ApiError> {
    answer(&app, &caller, summons_id(id)?, SummonState::Accepted).await
}

/// `POST /api/v1/summons/{id}/decline`: refuse (only the summoned).
pub async fn decline<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    id: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<Summons>, ApiError> {
    answer(&app, &caller, summons_id(id)?, SummonState::Declined).await
}

/// `POST /api/v1/summons/{id}/end`: either side ends a summons still calling or accepted.
pub async fn end<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    id: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<Summons>, ApiError> {
    answer(&app, &caller, summons_id(id)?, SummonState::Ended).await
}
