//! Places at run time: each person's places with whether they are inside, judged on every
//! fix by the rules of [`haurach_bond::place`], and the news of arriving and leaving, which
//! both partners receive at any range. A place's coordinates reach the partner only within
//! sight range, like the pull.
//!
//! Whether someone is inside is the memory of the hysteresis: it is committed before the
//! news goes out, so a restart neither repeats an arrival nor forgets one.

use haurach_bond::place::{Transition, valid_radius};
use haurach_bond::{Disclosure, Fix};
use haurach_proto::{
    LatLon, PlaceEvent, PlaceInput, PlaceNews, PlaceView, PlacesView, PushNote, ServerFrame,
};

use haurach_store::{AccountId, PlaceRecord, Store};

use super::hub::Hub;
use super::place_cache::Judged;
use crate::bus::{BondEvent, Bus};
use crate::clock::{now_ms, timestamp};
use crate::error::{ApiError, StatusCode};

/// The most places one person may keep.
pub const MAX_PLACES: usize = 100;

/// Checks a place's name: what a person can type, and short.
pub fn check_place_name(name: &str) -> Result<(), ApiError> {
    ApiError::no_bidi_control("a place's name", name)?;
    let n = name.chars().count();
    if (1..=64).contains(&n) && !name.chars().any(char::is_control) && name.trim() == name {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "invalid_place_name",
            "a place's name is 1 to 64 characters, without control characters or \
             surrounding spaces",
        ))
    }
}

/// Checks a place's centre and radius.
pub fn check_place(input: &PlaceInput) -> Result<(), ApiError> {
    if !haurach_bond::geo::valid_coordinates(input.lat, input.lon) {
        return Err(ApiError::invalid(
            "invalid_position",
            format!(
                "lat must be in [-90, 90] and lon in [-180, 180]; got lat {} lon {}",
                input.lat, input.lon
            ),
        ));
    }
    if !valid_radius(input.radius_m) {
        return Err(ApiError::invalid(
            "invalid_radius",
            format!(
                "radius_m must be between {} and {} metres; got {}",
                haurach_bond::place::MIN_RADIUS_M,
                haurach_bond::place::MAX_RADIUS_M,
                input.radius_m
            ),
        ));
    }
    Ok(())
}

fn view(p: &PlaceRecord, shown: Disclosure) -> PlaceView {
    PlaceView {
        name: p.name.clone(),
        radius_m: p.radius_m,
        position: shown.position(LatLon {
            lat: p.lat,
            lon: p.lon,
        }),
        inside: p.inside,
    }
}

impl<S: Store, B: Bus> Hub<S, B> {
    /// Loads `account`'s places into a held entry if they are not there yet.
    async fn loaded<'a>(
        &self,
        account: AccountId,
        judged: &'a mut Judged,
    ) -> Result<&'a mut Vec<PlaceRecord>, ApiError> {
        if judged.places.is_none() {
            judged.places = Some(self.store.places(account).await?);
        }
        Ok(judged.places.as_mut().expect("just loaded"))
    }

    /// Judges `account`'s places by a new fix; commits and announces every arrival and
    /// departure (to the person and, when bonded, to their partner).
    pub(crate) async fn judge_places(&self, account: AccountId, fix: &Fix) -> Result<(), ApiError> {
        let entry = self.places.entry(account);
        let mut judged = entry.lock().await;
        if fix.at_ms < judged.last_at_ms {
            return Ok(());
        }
        judged.last_at_ms = fix.at_ms;
        judged.last_fix = Some(*fix);
        let places = self.loaded(account, &mut judged).await?;
        let changes: Vec<(usize, Transition)> = places
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.place().transition(p.inside, fix).map(|t| (i, t)))
            .collect();
        if changes.is_empty() {
            return Ok(());
        }
        let updates: Vec<(String, bool)> = changes
            .iter()
            .map(|(i, t)| (places[*i].name.clone(), *t == Transition::Arrived))
            .collect();
        self.store.set_inside(account, &updates).await?;
        self.bus
            .share(BondEvent::PlacesChanged { account: account.0 });
        for (i, t) in &changes {
            places[*i].inside = *t == Transition::Arrived;
        }
        let news: Vec<PlaceNews> = changes
            .iter()
            .map(|(i, t)| PlaceNews {
                who: String::new(),
                place: places[*i].name.clone(),
                event: match t {
                    Transition::Arrived => PlaceEvent::Arrived,
                    Transition::Left => PlaceEvent::Left,
                },
                at: timestamp(fix.at_ms),
            })
            .collect();
        drop(judged);
        self.announce_places(account, news).await
    }

    /// The account's name, and who hears of its places: both partners, or the account
    /// alone when unbonded.
    async fn audience(&self, account: AccountId) -> Result<(String, Vec<AccountId>), ApiError> {
        Ok(match self.held(account).await? {
            Some(held) => {
                let rt = held.lock().await?;
                (
                    rt.record.names[held.idx].clone(),
                    rt.record.members.to_vec(),
                )
            }
            None => {
                let name = self.store.account(account).await?.map(|a| a.name);
                (name.unwrap_or_default(), vec![account])
            }
        })
    }

    async fn announce_places(
        &self,
        account: AccountId,
        news: Vec<PlaceNews>,
    ) -> Result<(), ApiError> {
        let (who, to) = self.audience(account).await?;
        for mut n in news {
            n.who = who.clone();
            for member in to.iter().filter(|m| **m != account) {
                self.places.owntracks_news.offer(*member, &n);
                // The node that heard the fix announces it; the claim keeps it one push.
                self.push.notify(
                    &self.store,
                    *member,
                    PushNote::Place {
                        who: who.clone(),
                        place: n.place.clone(),
                        event: n.event,
                    },
                    format!(
                        "place:{}:{}:{:?}:{}",
                        account.0,
                        n.place,
                        n.event,
                        n.at.unix_timestamp_nanos()
                    ),
                );
            }
            let frame = ServerFrame::Place(n);
            for member in &to {
                self.publish(*member, &frame);
            }
        }
        Ok(())
    }

    /// The caller's places and their partner's (with coordinates only within sight).
    pub async fn places_view(&self, account: AccountId) -> Result<PlacesView, ApiError> {
        let partner = match self.held(account).await? {
            Some(held) => {
                let rt = held.lock().await?;
                Some((rt.record.members[1 - held.idx], Disclosure::of(rt.tiers)))
            }
            None => None,
        };
        let mine = {
            let entry = self.places.entry(account);
            let mut judged = entry.lock().await;
            self.loaded(account, &mut judged)
                .await?
                .iter()
                .map(|p| view(p, Disclosure::Exact))
                .collect()
        };
        let partner = match partner {
            Some((other, shown)) => {
                let entry = self.places.entry(other);
                let mut judged = entry.lock().await;
                self.loaded(other, &mut judged)
                    .await?
                    .iter()
                    .map(|p| view(p, shown))
                    .collect()
            }
            None => Vec::new(),
        };
        let meeting = match self.meeting_view(account).await {
            Ok(meeting) => Some(meeting),
            // Unbonded, or no pin and not both positions: nothing to show yet.
            Err(e) if e.status() == StatusCode::NOT_FOUND => None,
            Err(e) => return Err(e),
        };
        Ok(PlacesView {
            mine,
            partner,
            meeting,
        })
    }

    /// After the store forgot `account`'s places as it turned private (their device
    /// keeps them now): this node and the others forget what they had loaded, and the
    /// account's other devices read them again.
    pub(crate) async fn places_forgotten(&self, account: AccountId) -> Result<(), ApiError> {
        self.places.forget(account);
        self.bus
            .share(BondEvent::PlacesChanged { account: account.0 });
        self.announce_places_changed(account).await
    }

    /// Tells the account's partner (and the account's other devices) that its places
    /// changed, so their pages read them again.
    async fn announce_places_changed(&self, account: AccountId) -> Result<(), ApiError> {
        let (who, to) = self.audience(account).await?;
        let frame = ServerFrame::PlacesChanged { who };
        for member in to {
            self.publish(member, &frame);
        }
        Ok(())
    }

    /// Creates or replaces the caller's places by name; whether each is new. Whether the
    /// owner is inside is judged at once from their latest fix, without news: making a
    /// place where one stands is not arriving there.
    pub async fn put_places(
        &self,
        account: AccountId,
        places: Vec<(String, PlaceInput)>,
    ) -> Result<Vec<(PlaceView, bool)>, ApiError> {
        self.refuse_private_place(account).await?;
        for (name, input) in &places {
            check_place_name(name)?;
            check_place(input)?;
        }
        let entry = self.places.entry(account);
        let mut judged = entry.lock().await;
        // The fix judged last if this server has seen one (a link's position may not be
        // committed yet), else the stored one.
        let latest = match judged.last_fix {
            Some(fix) => Some(fix),
            None => self.store.position(account).await?.map(|p| p.fix),
        };
        let held = self.loaded(account, &mut judged).await?;
        let n_new = places
            .iter()
            .filter(|(name, _)| {
                !held
                    .iter()
                    .any(|p| p.name.to_lowercase() == name.to_lowercase())
            })
            .count();
        if held.len() + n_new > MAX_PLACES {
            return Err(ApiError::conflict(
                "too_many_places",
                format!("a person keeps at most {MAX_PLACES} places: delete one first"),
            ));
        }
        let now = now_ms();
        let records: Vec<PlaceRecord> = places
            .into_iter()
            .map(|(name, input)| {
                let mut record = PlaceRecord {
                    name,
                    lat: input.lat,
                    lon: input.lon,
                    radius_m: input.radius_m,
                    inside: false,
                    updated_at: now,
                };
                record.inside = latest.is_some_and(|fix| record.place().judge(false, &fix));
                record
            })
            .collect();
        let created = self.store.put_places(account, &records).await?;
        self.bus
            .share(BondEvent::PlacesChanged { account: account.0 });
        // Reload: the store resolved names that differ only in case.
        judged.places = Some(self.store.places(account).await?);
        drop(judged);
        self.announce_places_changed(account).await?;
        Ok(records
            .iter()
            .zip(created)
            .map(|(r, c)| (view(r, Disclosure::Exact), c))
            .collect())
    }

    /// Deletes one of the caller's places.
    pub async fn delete_place(&self, account: AccountId, name: &str) -> Result<(), ApiError> {
        let entry = self.places.entry(account);
        let mut judged = entry.lock().await;
        if !self.store.delete_place(account, name).await? {
            return Err(ApiError::not_found(
                "place_not_found",
                format!("you have no place named {name:?}"),
            ));
        }
        self.bus
            .share(BondEvent::PlacesChanged { account: account.0 });
        judged.places = Some(self.store.places(account).await?);
        drop(judged);
        self.announce_places_changed(account).await
    }

    /// One of the caller's places, by name (any case).
    pub async fn own_place(&self, account: AccountId, name: &str) -> Result<PlaceRecord, ApiError> {
        let entry = self.places.entry(account);
        let mut judged = entry.lock().await;
        self.loaded(account, &mut judged)
            .await?
            .iter()
            .find(|p| p.name.to_lowercase() == name.to_lowercase())
            .cloned()
            .ok_or_else(|| {
                ApiError::not_found(
                    "place_not_found",
                    format!("you have no place named {name:?}"),
                )
            })
    }
}

impl<S: Store, B: Bus> Hub<S, B> {
    /// Deletes every journey fix older than the configured retention (`journey_days`).
    pub async fn forget_old_journeys(&self) {
        let cutoff = now_ms() - self.config.journey_keep_ms();
        match self.store.forget_journey_before(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(n, "deleted journey fixes past their retention"),
            Err(e) => tracing::error!(error = %e, "deleting old journey fixes failed"),
        }
    }
}
