//! A fix arrives, and what other nodes share: the hub's methods that move a bond. A
//! position is stored (committed first when it is acknowledged), judged against its
//! owner's places and accepted summonses, then fed to the bond's rules under the bond's
//! lock: contact heard, stretch checked, tiers moved with hysteresis, the pull worked out
//! for each partner as they may see it, the meeting point moved. Another node's fix (a
//! [`BondEvent`]) moves this node's copy of the bond the same way.

use haurach_bond::Fix;
use haurach_proto::{Mover, ServerFrame};
use haurach_store::{AccountId, BondId, PositionRecord, Store};

use super::bond::{BondRuntime, noticeable};
use super::hub::Hub;
use crate::bus::{BondEvent, Bus};
use crate::clock::now_ms;
use crate::error::ApiError;

impl<S: Store, B: Bus> Hub<S, B> {
    /// Takes a new position: stores it, then moves the bond (tiers, pull, stretch, contact)
    /// and tells both partners. With `durable`, returns only once the position is
    /// committed (HTTP acknowledges it); otherwise it is committed within
    /// [`LINGER`](super::position_writer::LINGER) (the link does not acknowledge positions).
    /// `by_hand`: the person set it rather than their device measuring it (the partner is
    /// told so; it is not stored, and a client sets it again with its next fix).
    pub async fn position(
        &self,
        account: AccountId,
        fix: Fix,
        by_hand: bool,
        durable: bool,
    ) -> Result<(), ApiError> {
        let now = now_ms();
        self.refuse_private_position(account).await?;
        if self.is_paused(account, now).await? {
            // Kept private: the sender is heard (their contact stays live), and the
            // position goes nowhere, not even into their own journey.
            return self.heard(account).await;
        }
        let record = PositionRecord {
            fix,
            received_at: now,
        };
        if durable {
            self.positions.write(account, record).await?;
        } else {
            self.positions.queue(account, record);
        }
        self.metrics.positions.inc();
        self.last_heard
            .lock()
            .expect("hub lock")
            .insert(account, now);
        self.judge_places(account, &fix).await?;
        self.summons
            .moved(&self.store, &self.bus, account, fix)
            .await;
        let Some(held) = self.held(account).await? else {
            return Ok(());
        };
        let mut rt = held.lock().await?;
        let fix_event = BondEvent::Fix {
            bond: rt.record.id.0,
            idx: held.idx as u8,
            lat: fix.lat,
            lon: fix.lon,
            accuracy_m: fix.accuracy_m,
            at_ms: fix.at_ms,
            by_hand,
            received_at: now,
        };
        // An acknowledged fix goes to the other nodes now: the sender, or their partner,
        // may act on it at once through another node (a picture, a message, within the
        // range it opened). A live link's fixes, at a second or less apart, may wait for
        // the node's next batch.
        if durable {
            self.bus.share_at_once(fix_event);
        } else {
            self.bus.share(fix_event);
        }
        self.moved(&mut rt, held.idx, fix, by_hand, now, true).await
    }

    /// Member `idx` of the bond sent `fix`, heard at `now`, on this node (`here`) or on
    /// another. Updates contact, stretch, tiers, the pull and the meeting point, and tells
    /// this node's links.
    #[allow(clippy::too_many_arguments)]
    async fn moved(
        &self,
        rt: &mut BondRuntime,
        idx: usize,
        fix: Fix,
        by_hand: bool,
        now: i64,
        here: bool,
    ) -> Result<(), ApiError> {
        if let Some(event) = rt.heard(idx, now) {
            self.publish_contact(rt, idx, event);
        }
        // Both partners everywhere are told of a stretch, once, by the node that heard
        // the fix; another node's copy only keeps the fix, to judge the next one from it
        // if the mover's link comes here.
        if !here {
            rt.stretch[idx].remember(&fix);
        } else if let Some(stretch) = rt.stretch[idx].observe(&fix) {
            let frame = ServerFrame::Stretch {
                who: rt.record.names[idx].clone(),
                jump_m: stretch.jump_m,
                speed_kmh: stretch.speed_kmh,
            };
            for member in rt.record.members {
                self.publish(member, &frame);
            }
        }
        // An older fix than the one held (a delayed retry) is stored nowhere and moves
        // nothing: the store ignores it the same way.
        if rt.fixes[idx].is_some_and(|held| held.at_ms > fix.at_ms) {
            return Ok(());
        }
        rt.fixes[idx] = Some(fix);
        rt.by_hand[idx] = by_hand;
        // A fix from a member who paused ends their hiding: the pause is over.
        rt.hidden[idx] = false;
        if rt.fixes[1 - idx].is_none() {
            // The partner's fix may have been stored after this bond was loaded (on
            // another node, or a moment before the bond was made).
            let partner = rt.record.members[1 - idx];
            match self.store.position(partner).await {
                Ok(stored) => rt.fixes[1 - idx] = stored.map(|p| p.fix),
                Err(e) => tracing::warn!(error = %e, "cannot read the partner's position"),
            }
        }
        let Some(span) = rt.span() else {
            return Ok(());
        };
        let profile = rt.record.profile;
        let changes = rt.tiers.update(profile, span.apart);
        // Before the memories tier is announced, and before a fix sent over HTTP is
        // acknowledged: the partners are together, their journals open to each other.
        self.open_journals(rt).await;
        if !changes.is_empty() {
            self.positions.queue_tiers(rt.record.id, rt.tiers.open());
            self.publish_tier_changes(rt, &changes);
        }
        for i in 0..2 {
            // Worked out only for someone with a link here: with several nodes, each
            // node tells its own links, and a partner's node has no link of the mover's.
            // Nobody told, nothing to compare the next pull with.
            if !self.bus.has_link(rt.record.members[i]) {
                rt.told[i] = None;
                continue;
            }
            let Some(now_told) = rt.pull_for(i, &span) else {
                continue;
            };
            // The partner is told of every move (that is the update); the mover only when
            // their own pull changed by what they would notice: a phone at rest sending
            // its GPS noise once a second does not redraw its own compass.
            if i == idx
                && rt.told[i]
                    .as_ref()
                    .is_some_and(|old| !noticeable(old, &now_told))
            {
                continue;
            }
            let (pull, strength, next_tier) = now_told;
            super::bond::keep(&mut rt.told[i], now_told);
            let frame = ServerFrame::Pull {
                moved: if i == idx { Mover::You } else { Mover::Partner },
                pull,
                strength,
                next_tier,
            };
            self.publish_local(rt.record.members[i], &frame);
        }
        self.meeting_moved(rt, idx, &fix, now, here, span.toward)
            .await
    }

    /// Applies a change another node shared. Bonds this node has not loaded are skipped:
    /// when it loads one, it reads the state from the store.
    pub async fn apply(&self, event: BondEvent) {
        let bond = match &event {
            BondEvent::Formed { members, .. } => {
                // Whatever this node believed about the two is stale.
                let mut membership = self.membership.lock().expect("hub lock");
                for member in members {
                    membership.forget(AccountId(*member));
                }
                return;
            }
            BondEvent::PlacesChanged { account } => {
                self.places.forget(AccountId(*account));
                return;
            }
            BondEvent::PauseChanged { account } => {
                self.pause_changed(AccountId(*account)).await;
                return;
            }
            // The relay's, not the hub's (see `launch`).
            BondEvent::GlimpseAsked { .. } => return,
            BondEvent::SummonsChanged { id, party } => {
                let (id, party) = (haurach_store::city::SummonsId(*id), AccountId(*party));
                self.summons.refresh(&self.store, id, party).await;
                return;
            }
            BondEvent::Fix { bond, .. }
            | BondEvent::Heard { bond, .. }
            | BondEvent::Guard { bond, .. }
            | BondEvent::Ended { bond, .. }
            | BondEvent::PinChanged { bond, .. }
            | BondEvent::Battery { bond, .. }
            | BondEvent::Report { bond, .. } => BondId(*bond),
        };
        let Some(runtime) = self.runtime_loaded(bond) else {
            return;
        };
        let mut rt = runtime.lock().await;
        if rt.ended {
            return;
        }
        match event {
            BondEvent::Fix {
                idx,
                lat,
                lon,
                accuracy_m,
                at_ms,
                by_hand,
                received_at,
                ..
            } => {
                let idx = usize::from(idx.min(1));
                self.last_heard
                    .lock()
                    .expect("hub lock")
                    .insert(rt.record.members[idx], received_at);
                let fix = Fix {
                    lat,
                    lon,
                    accuracy_m,
                    at_ms,
                };
                if let Err(e) = self
                    .moved(&mut rt, idx, fix, by_hand, received_at, false)
                    .await
                {
                    tracing::warn!(error = ?e, "cannot apply a fix another node shared");
                }
            }
            BondEvent::Heard { idx, at, .. } => {
                let idx = usize::from(idx.min(1));
                // Word held back a moment ([`Hub::heard`]) may come after a newer fix.
                self.last_heard
                    .lock()
                    .expect("hub lock")
                    .entry(rt.record.members[idx])
                    .and_modify(|last| *last = (*last).max(at))
                    .or_insert(at);
                if let Some(event) = rt.heard(idx, at) {
                    self.publish_contact(&rt, idx, event);
                }
            }
            BondEvent::Guard { idx, on, .. } => rt.guarded[usize::from(idx.min(1))] = on,
            BondEvent::Ended { .. } => {
                rt.ended = true;
                self.forget_bond(&rt.record);
            }
            BondEvent::PinChanged { pinned, .. } => {
                if let Err(e) = self.meeting_changed(&mut rt, pinned).await {
                    tracing::warn!(error = ?e, "cannot read a pin another node changed");
                }
            }
            BondEvent::Battery { idx, percent, .. } => {
                rt.battery[usize::from(idx.min(1))] = Some(percent.min(100));
            }
            BondEvent::Report {
                idx,
                report,
                received_at,
                ..
            } => {
                let idx = usize::from(idx.min(1));
                self.last_heard
                    .lock()
                    .expect("hub lock")
                    .insert(rt.record.members[idx], received_at);
                // The node that heard it checked it; a report that does not read is
                // another version's, and moves nothing here.
                if let Some(report) = report.report() {
                    self.reported(&mut rt, idx, report, received_at, false)
                        .await;
                }
            }
            BondEvent::Formed { .. }
            | BondEvent::PlacesChanged { .. }
            | BondEvent::PauseChanged { .. }
            | BondEvent::SummonsChanged { .. }
            | BondEvent::GlimpseAsked { .. } => {}
        }
    }
}
