//! The meeting point (the Needle) at run time: each partner's recent speed, the pin if a
//! partner set one, and who has reached it. After a move each partner gets a `meeting`
//! frame with their own distance and time to it and the other's, when it changed by
//! something they would notice (5 %, not every metre: a frame per move per partner would
//! double the link's traffic); reaching it is a `meeting_reached` frame for both.
//!
//! Privacy: a suggested point lies between the partners, so beyond sight range its
//! coordinates would give the partner's position away. It is then shown only as a
//! coarsened bearing and distance (like the pull), and the partner's distance and time
//! to it are rounded the same way. A pinned point was shared on purpose: both see it.

use haurach_bond::geo::Geodesic;
use haurach_bond::meeting::{ARRIVAL_RADIUS_M, eta_s, suggest_along};
use haurach_bond::place::Place;
use haurach_bond::{Disclosure, Fix, geo};
use haurach_proto::{LatLon, MeetingKind, MeetingLeg, MeetingView, PinMeeting, ServerFrame};
use haurach_store::{AccountId, PinRecord, Store};

use super::bond::BondRuntime;
use super::hub::{Hub, not_bonded};
use super::places::check_place_name;
use crate::bus::{BondEvent, Bus};
use crate::clock::now_ms;
use crate::error::ApiError;

/// Whether `new` differs from `old` enough to send: anything but the numbers, or a
/// distance or time that moved by 5 % (and at least 10 m or 10 s).
fn worth_sending(old: Option<&MeetingView>, new: &MeetingView) -> bool {
    let Some(old) = old else {
        return true;
    };
    let moved = |a: f64, b: f64, floor: f64| (a - b).abs() >= (0.05 * a.abs()).max(floor);
    // A bearing turning within its 5° step is not worth a frame, exact or not.
    let step = |deg: f64| Disclosure::Coarse.bearing_deg(deg);
    let leg_moved = |a: &MeetingLeg, b: &MeetingLeg| {
        a.arrived != b.arrived
            || moved(a.distance_m, b.distance_m, 10.0)
            || moved(a.eta_s, b.eta_s, 10.0)
            || a.bearing_deg.map(step) != b.bearing_deg.map(step)
    };
    old.kind != new.kind
        || old.name != new.name
        || old.pinned_by != new.pinned_by
        || old.by_speed != new.by_speed
        || old.exact != new.exact
        || old.position.is_some() != new.position.is_some()
        || leg_moved(&old.you, &new.you)
        || match (&old.partner, &new.partner) {
            (Some(a), Some(b)) => leg_moved(a, b),
            (None, None) => false,
            _ => true,
        }
}

/// The meeting point itself, before it is shown to anyone.
struct Point {
    lat: f64,
    lon: f64,
    by_speed: bool,
    /// The geodesic from each member's fix to the point, for a member with a fix.
    legs: [Option<Geodesic>; 2],
}

/// Where to meet now, if it is known. `toward`: the geodesic between the partners' fixes
/// if it is solved already (each way), so a suggestion costs one direct geodesic more.
fn point(rt: &BondRuntime, now: i64, toward: Option<[Geodesic; 2]>) -> Option<Point> {
    if let Some(pin) = rt.needle.pin() {
        let legs = rt
            .fixes
            .map(|fix| fix.map(|f| geo::inverse(f.lat, f.lon, pin.lat, pin.lon)));
        return Some(Point {
            lat: pin.lat,
            lon: pin.lon,
            by_speed: false,
            legs,
        });
    }
    let [Some(a), Some(b)] = rt.fixes else {
        return None;
    };
    let [ab, ba] = toward.unwrap_or_else(|| {
        let (ab, ba) = geo::inverse_both(a.lat, a.lon, b.lat, b.lon);
        [ab, ba]
    });
    let s = suggest_along(
        &a,
        [&ab, &ba],
        rt.needle.speeds[0].speed_mps(now),
        rt.needle.speeds[1].speed_mps(now),
    );
    // The point lies on the geodesic between the partners: each one's way to it is part
    // of that geodesic, in their own direction.
    let leg = |i: usize| Geodesic {
        distance_m: s.distance_m[i],
        bearing_deg: s.bearing_deg[i],
    };
    Some(Point {
        lat: s.lat,
        lon: s.lon,
        by_speed: s.by_speed,
        legs: [Some(leg(0)), Some(leg(1))],
    })
}

/// The meeting point `p` as member `idx` sees it.
fn view_for(rt: &BondRuntime, idx: usize, now: i64, p: &Point) -> Option<MeetingView> {
    let pinned = rt.needle.pin();
    let shown = Disclosure::of(rt.tiers);
    // My own way to a pin is mine to know exactly; to a suggestion it depends on where
    // the partner is.
    let mine = if pinned.is_some() {
        Disclosure::Exact
    } else {
        shown
    };
    let reached = rt.needle.reached();
    let leg = |i: usize, shown: Disclosure, with_bearing: bool| -> Option<MeetingLeg> {
        let g = p.legs[i]?;
        let eta = eta_s(g.distance_m, rt.needle.speeds[i].speed_mps(now));
        Some(MeetingLeg {
            distance_m: shown.distance_m(g.distance_m),
            bearing_deg: with_bearing.then(|| shown.bearing_deg(g.bearing_deg)),
            eta_s: shown.duration_s(eta),
            arrived: reached[i],
        })
    };
    let you = leg(idx, mine, true)?;
    let partner = leg(1 - idx, shown, false);
    Some(MeetingView {
        kind: if pinned.is_some() {
            MeetingKind::Pinned
        } else {
            MeetingKind::Suggested
        },
        name: pinned.and_then(|p| p.name.clone()),
        pinned_by: pinned.and_then(|p| {
            rt.record
                .index_of(p.pinned_by)
                .map(|i| rt.record.names[i].clone())
        }),
        position: mine.position(LatLon {
            lat: p.lat,
            lon: p.lon,
        }),
        by_speed: p.by_speed,
        exact: shown.is_exact(),
        you,
        partner,
    })
}

impl<S: Store, B: Bus> Hub<S, B> {
    async fn load_pin(&self, rt: &mut BondRuntime) -> Result<(), ApiError> {
        if rt.needle.pin.is_none() {
            rt.needle.pin = Some(self.store.pin(rt.record.id).await?.map(Box::new));
        }
        Ok(())
    }

    /// Sends each member the meeting point if it changed for them (`always`: even if not).
    fn publish_meeting(&self, rt: &mut BondRuntime, now: i64, always: bool) {
        if let Some(p) = point(rt, now, None) {
            self.publish_meeting_at(rt, now, always, &p);
        }
    }

    /// [`Hub::publish_meeting`] for the point `p`, worked out already.
    fn publish_meeting_at(&self, rt: &mut BondRuntime, now: i64, always: bool, p: &Point) {
        for i in 0..2 {
            // As the pull: only for someone with a link here.
            if !self.bus.has_link(rt.record.members[i]) {
                rt.needle.last_sent[i] = None;
                continue;
            }
            let Some(view) = view_for(rt, i, now, p) else {
                continue;
            };
            if !always && !worth_sending(rt.needle.last_sent[i].as_deref(), &view) {
                continue;
            }
            super::bond::keep(&mut rt.needle.last_sent[i], view.clone());
            let frame = ServerFrame::Meeting {
                meeting: Box::new(view),
            };
            // Every node works the meeting point out for its own links.
            self.publish_local(rt.record.members[i], &frame);
        }
    }

    /// Another node pinned or unpinned the meeting point: reads it again and tells this
    /// node's links.
    pub(crate) async fn meeting_changed(
        &self,
        rt: &mut BondRuntime,
        pinned: bool,
    ) -> Result<(), ApiError> {
        rt.needle.pin = None;
        if !pinned {
            rt.needle.reached_suggestion = [false; 2];
        }
        self.load_pin(rt).await?;
        self.publish_meeting(rt, now_ms(), true);
        Ok(())
    }

    /// Member `idx` moved to `fix`: their speed, whether they reached the meeting point
    /// (committed first for a pin), and the new meeting point for both.
    /// On another node's fix (`here` false), the same is worked out, but only the node that
    /// heard the fix commits and announces an arrival.
    pub(crate) async fn meeting_moved(
        &self,
        rt: &mut BondRuntime,
        idx: usize,
        fix: &Fix,
        now: i64,
        here: bool,
        toward: [Geodesic; 2],
    ) -> Result<(), ApiError> {
        rt.needle.speeds[idx].observe(*fix);
        self.load_pin(rt).await?;
        let Some(p) = point(rt, now, Some(toward)) else {
            return Ok(());
        };
        let target = Place {
            lat: p.lat,
            lon: p.lon,
            radius_m: ARRIVAL_RADIUS_M,
        };
        let was = rt.needle.reached()[idx];
        let is = match p.legs[idx] {
            Some(leg) => target.judge_at(was, leg.distance_m, fix.accuracy_or_zero()),
            None => target.judge(was, fix),
        };
        if is != was {
            let bond = rt.record.id;
            match rt.needle.pin.as_mut().and_then(Option::as_mut) {
                Some(pin) => {
                    if here {
                        let mut stored = PinRecord::clone(pin);
                        stored.reached[idx] = is;
                        self.store.set_pin(bond, Some(&stored)).await?;
                    }
                    pin.reached[idx] = is;
                }
                None => rt.needle.reached_suggestion[idx] = is,
            }
            if is && here {
                let frame = ServerFrame::MeetingReached {
                    who: rt.record.names[idx].clone(),
                };
                for member in rt.record.members {
                    self.publish(member, &frame);
                }
            }
        }
        self.publish_meeting_at(rt, now, is != was, &p);
        Ok(())
    }

    /// The meeting point as the caller sees it.
    pub async fn meeting_view(&self, account: AccountId) -> Result<MeetingView, ApiError> {
        let held = self.held(account).await?.ok_or_else(not_bonded)?;
        let mut rt = held.lock().await?;
        self.load_pin(&mut rt).await?;
        let now = now_ms();
        point(&rt, now, None)
            .and_then(|p| view_for(&rt, held.idx, now, &p))
            .ok_or_else(|| {
                ApiError::not_found(
                    "meeting_unknown",
                    "where to meet is not known yet: both partners need a position (or pin a \
                 meeting point)",
                )
            })
    }

    /// Pins the meeting point to one of the caller's places or to a point; both are told.
    pub async fn pin_meeting(&self, account: AccountId, pin: PinMeeting) -> Result<(), ApiError> {
        self.refuse_private_place(account).await?;
        let (name, lat, lon) = match (&pin.place, pin.lat, pin.lon) {
            (Some(place), None, None) => {
                let p = self.own_place(account, place).await?;
                (Some(pin.name.clone().unwrap_or(p.name)), p.lat, p.lon)
            }
            (None, Some(lat), Some(lon)) => {
                if !geo::valid_coordinates(lat, lon) {
                    return Err(ApiError::invalid(
                        "invalid_position",
                        format!(
                            "lat must be in [-90, 90] and lon in [-180, 180]; got lat {lat} lon {lon}"
                        ),
                    ));
                }
                (pin.name.clone(), lat, lon)
            }
            _ => {
                return Err(ApiError::invalid(
                    "invalid_pin",
                    "pin either one of your places (place) or a point (lat and lon), not both",
                ));
            }
        };
        if let Some(n) = &name {
            check_place_name(n)?;
        }
        let held = self.held(account).await?.ok_or_else(not_bonded)?;
        let mut rt = held.lock().await?;
        let now = now_ms();
        let mut record = PinRecord {
            name,
            lat,
            lon,
            pinned_by: account,
            pinned_at: now,
            reached: [false; 2],
        };
        let target = Place {
            lat,
            lon,
            radius_m: ARRIVAL_RADIUS_M,
        };
        for i in 0..2 {
            record.reached[i] = rt.fixes[i].is_some_and(|f| target.judge(false, &f));
        }
        self.store.set_pin(rt.record.id, Some(&record)).await?;
        self.bus.share(BondEvent::PinChanged {
            bond: rt.record.id.0,
            pinned: true,
        });
        rt.needle.pin = Some(Some(Box::new(record)));
        self.publish_meeting(&mut rt, now, true);
        Ok(())
    }

    /// Unpins the meeting point: back to Haurach's suggestion; both are told.
    pub async fn unpin_meeting(&self, account: AccountId) -> Result<(), ApiError> {
        let held = self.held(account).await?.ok_or_else(not_bonded)?;
        let mut rt = held.lock().await?;
        self.store.set_pin(rt.record.id, None).await?;
        self.bus.share(BondEvent::PinChanged {
            bond: rt.record.id.0,
            pinned: false,
        });
        rt.needle.pin = Some(None);
        rt.needle.reached_suggestion = [false; 2];
        self.publish_meeting(&mut rt, now_ms(), true);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(you_m: f64, arrived: bool) -> MeetingView {
        MeetingView {
            kind: MeetingKind::Suggested,
            name: None,
            pinned_by: None,
            position: None,
            by_speed: false,
            exact: false,
            you: MeetingLeg {
                distance_m: you_m,
                bearing_deg: Some(90.0),
                eta_s: you_m,
                arrived,
            },
            partner: None,
        }
    }

    #[test]
    fn only_a_change_a_person_notices_is_sent_again() {
        assert!(worth_sending(None, &view(1_000.0, false)));
        let sent = view(1_000.0, false);
        assert!(!worth_sending(Some(&sent), &view(1_000.0, false)));
        assert!(!worth_sending(Some(&sent), &view(960.0, false)));
        assert!(worth_sending(Some(&sent), &view(940.0, false)));
        assert!(worth_sending(Some(&sent), &view(1_000.0, true)));
        let mut pinned = view(1_000.0, false);
        pinned.kind = MeetingKind::Pinned;
        assert!(worth_sending(Some(&sent), &pinned));
        // Close by, ten metres still count.
        let near = view(30.0, false);
        assert!(!worth_sending(Some(&near), &view(25.0, false)));
        assert!(worth_sending(Some(&near), &view(19.0, false)));
    }
}
