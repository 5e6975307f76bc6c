//! Pausing one's sharing: the hub's methods. A person pauses for a while or until they
//! resume; meanwhile every position they send, from any source, is dropped on arrival
//! (acknowledged as usual, so no app retries it, but never stored, relayed, judged
//! against places or summonses, nor used for the partner's pull). Their bond hides them:
//! no pull moves for either partner, and the tiers that need a distance close, as they
//! would for a fix of unknown accuracy; the alarm still passes. Contact stays live while
//! the pause lasts (the server vouches for them at every sweep), and the first fix after
//! the pause starts the stretch detector afresh, so a pause is never "lost contact" or a
//! "stretch". Resuming (or the pause's `until` coming) is announced to both partners, and
//! pushed to the partner's devices.
//!
//! With several nodes, a pause is in the store and every node reads it from there: the
//! node that changes it shares [`BondEvent::PauseChanged`], and each node's sweep sees a
//! pause's `until` come by itself.

use haurach_bond::StretchDetector;
use haurach_proto::{PauseView, PushNote, ServerFrame};
use haurach_store::{AccountId, PauseRecord, Store};

use super::hub::{Held, Hub};
use crate::bus::{BondEvent, Bus};
use crate::clock::{now_ms, timestamp};
use crate::error::ApiError;

/// How a pause reads in the API (`None`: not paused at `now`).
pub fn pause_view(pause: Option<PauseRecord>, now: i64) -> PauseView {
    match pause.filter(|p| p.in_force(now)) {
        Some(p) => PauseView {
            paused: true,
            since: Some(timestamp(p.since_ms)),
            until: p.until_ms.map(timestamp),
        },
        None => PauseView::default(),
    }
}

impl<S: Store, B: Bus> Hub<S, B> {
    /// `account`'s pause as it stands now.
    pub async fn pause_of(&self, account: AccountId) -> Result<PauseView, ApiError> {
        let now = now_ms();
        let pause = self.pauses.latest(&self.store, account, now).await?;
        Ok(pause_view(pause, now))
    }

    /// Whether `account`'s sharing is paused now: their positions are to be dropped.
    ///
    /// A pause this node holds is read again from the store before a position is
    /// dropped for it (a read per fix of the paused only), so a resume through another
    /// node counts here at once, not only once its [`BondEvent::PauseChanged`] arrives.
    pub(crate) async fn is_paused(&self, account: AccountId, now: i64) -> Result<bool, ApiError> {
        if self
            .pauses
            .in_force(&self.store, account, now)
            .await?
            .is_none()
        {
            return Ok(false);
        }
        let latest = self.store.pause(account).await?;
        self.pauses.remember(account, latest, now);
        Ok(latest.is_some_and(|p| p.in_force(now)))
    }

    /// Pauses `account`'s sharing until `until_ms` (or until they resume), replacing a
    /// pause they had. Committed, then shared with the other nodes, then told to both
    /// partners.
    pub async fn pause(
        &self,
        account: AccountId,
        until_ms: Option<i64>,
    ) -> Result<PauseView, ApiError> {
        let now = now_ms();
        let pause = PauseRecord {
            account,
            since_ms: now,
            until_ms,
        };
        self.store.set_pause(&pause).await?;
        self.pauses.remember(account, Some(pause), now);
        self.bus
            .share(BondEvent::PauseChanged { account: account.0 });
        self.heard(account).await?;
        let held = self.held(account).await?;
        if let Some(held) = &held {
            self.hide(held, true).await;
        }
        let frame = ServerFrame::Paused {
            who: self.name_of(account, held.as_ref()).await?,
            until: until_ms.map(timestamp),
        };
        for member in self.told_of(account, held.as_ref()).await {
            self.publish(member, &frame);
        }
        Ok(pause_view(Some(pause), now))
    }

    /// Ends `account`'s pause now, if one is in force (otherwise nothing happens).
    pub async fn resume(&self, account: AccountId) -> Result<(), ApiError> {
        let now = now_ms();
        let ended = self.store.end_pause(account, now).await?;
        let latest = self.store.pause(account).await?;
        self.pauses.remember(account, latest, now);
        self.heard(account).await?;
        if let Some(ended) = ended {
            self.bus
                .share(BondEvent::PauseChanged { account: account.0 });
            let held = self.held(account).await?;
            self.announce_resumed(account, ended, held.as_ref(), true)
                .await?;
        }
        Ok(())
    }

    /// Another node changed `account`'s pause: read it again, and hide them from this
    /// node's copy of their bond while it is in force.
    pub(crate) async fn pause_changed(&self, account: AccountId) {
        let now = now_ms();
        match self.store.pause(account).await {
            Ok(latest) => {
                self.pauses.remember(account, latest, now);
                if latest.is_some_and(|p| p.in_force(now))
                    && let Some(held) = self.held_here(account)
                {
                    self.hide(&held, false).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read a pause another node changed"),
        }
    }

    /// At every sweep: keeps the contact of everyone paused live (a pause is not a loss),
    /// and announces the pauses whose `until` came.
    pub async fn sweep_pauses(&self) {
        let now = now_ms();
        for pause in self.pauses.paused(now) {
            let Some(held) = self.held_here(pause.account) else {
                continue;
            };
            let mut rt = held.runtime.lock().await;
            if rt.ended {
                continue;
            }
            if let Some(event) = rt.heard(held.idx, now) {
                self.publish_contact(&rt, held.idx, event);
            }
            rt.note_contact_due();
        }
        for pause in self.pauses.ended(now) {
            let held = self.held_here(pause.account);
            if let Err(e) = self
                .announce_resumed(pause.account, pause, held.as_ref(), false)
                .await
            {
                tracing::warn!(error = ?e, "cannot announce the end of a pause");
            }
        }
    }

    /// Hides member `held.idx` from their bond: no pull for either partner until they send
    /// a fix, the tiers that need a distance closed, and no stretch from the fix they
    /// had. `here`: this node made the change (and writes the closed tiers).
    async fn hide(&self, held: &Held, here: bool) {
        let mut rt = held.runtime.lock().await;
        if rt.ended {
            return;
        }
        let idx = held.idx;
        rt.hidden[idx] = true;
        rt.stretch[idx] = StretchDetector::new(self.config.max_speed_kmh, None);
        rt.told = [None, None];
        let profile = rt.record.profile;
        let changes = match rt.matcher.as_mut() {
            // A private bond forgets the paused partner's report: their distance is unknown.
            Some(matcher) => {
                let changes = matcher.forget(super::private::role_of(idx));
                rt.tiers = matcher.state();
                changes
            }
            None => rt.tiers.reset(profile, None),
        };
        self.open_journals(&mut rt).await;
        if !changes.is_empty() {
            if here {
                self.positions.queue_tiers(rt.record.id, rt.tiers.open());
            }
            self.publish_tier_changes(&rt, &changes);
        }
    }

    /// Tells both partners that `account`'s pause ended, and pushes it to the partner's
    /// devices (once, whichever node claims it). `everywhere`: to their links on every
    /// node (this node decided it); otherwise to this node's links (each node sees a
    /// pause's `until` come by itself).
    async fn announce_resumed(
        &self,
        account: AccountId,
        ended: PauseRecord,
        held: Option<&Held>,
        everywhere: bool,
    ) -> Result<(), ApiError> {
        let who = self.name_of(account, held).await?;
        let frame = ServerFrame::Resumed { who: who.clone() };
        let told = self.told_of(account, held).await;
        for member in &told {
            if everywhere {
                self.publish(*member, &frame);
            } else {
                self.publish_local(*member, &frame);
            }
        }
        if let Some(partner) = told.into_iter().find(|m| *m != account) {
            self.push.notify(
                &self.store,
                partner,
                PushNote::Resumed { who },
                format!("resumed:{}:{}", account.0, ended.since_ms),
            );
        }
        Ok(())
    }

    /// `account`'s bond if this node holds it (without loading it).
    fn held_here(&self, account: AccountId) -> Option<Held> {
        let member = self
            .membership
            .lock()
            .expect("hub lock")
            .get(account)
            .flatten();
        let (bond, idx) = member?;
        self.held_loaded(bond, idx)
    }

    /// The name of `account`, from their bond when it is at hand.
    async fn name_of(&self, account: AccountId, held: Option<&Held>) -> Result<String, ApiError> {
        if let Some(held) = held {
            return Ok(held.runtime.lock().await.record.names[held.idx].clone());
        }
        let record = self.store.account(account).await?;
        Ok(record.map(|a| a.name).unwrap_or_default())
    }

    /// Who is told of `account`'s pause: they and their partner, if any.
    async fn told_of(&self, account: AccountId, held: Option<&Held>) -> Vec<AccountId> {
        match held {
            Some(held) => held.runtime.lock().await.record.members.to_vec(),
            None => vec![account],
        }
    }
}
