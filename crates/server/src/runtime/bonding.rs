//! Making, showing and ending a bond: invite codes, accepting one (both partners are
//! told, and positions known before count from the start), the bond as a partner sees
//! it, and ending it.

use std::collections::BTreeMap;

use haurach_bond::{Profile, Tier, TierState};
use haurach_proto::{BondView, ContactState, ServerFrame, TierView};
use haurach_store::{AccountId, Conflict, Store, StoreError};

use super::hub::{Hub, not_bonded};
use super::messages::message_view;
use crate::bus::{BondEvent, Bus};
use crate::clock::{now_ms, timestamp};
use crate::error::ApiError;

impl<S: Store, B: Bus> Hub<S, B> {
    /// The bond as `account` sees it, or `None` when unbonded.
    pub async fn bond_view(&self, account: AccountId) -> Result<Option<BondView>, ApiError> {
        let Some(held) = self.held(account).await? else {
            return Ok(None);
        };
        let (record, view, sealed, hidden, vitals) = {
            let Ok(rt) = held.lock().await else {
                return Ok(None);
            };
            let idx = held.idx;
            let partner = 1 - idx;
            let profile = rt.record.profile;
            let tiers: BTreeMap<Tier, TierView> = Tier::ALL
                .into_iter()
                .map(|t| {
                    (
                        t,
                        TierView {
                            open: rt.tiers.is_open(t),
                            range_m: profile.range_m(t),
                        },
                    )
                })
                .collect();
            let pulled = rt.pull_now(idx);
            let view = BondView {
                id: rt.record.id.0,
                partner: rt.record.names[partner].clone(),
                profile,
                strength: pulled.map_or(0.0, |p| p.1),
                tiers,
                pull: pulled.map(|p| p.0),
                next_tier: pulled.and_then(|p| p.2),
                contact: if rt.contact[partner].is_live() {
                    ContactState::Live
                } else {
                    ContactState::Lost
                },
                partner_guarded: rt.guarded[partner],
                partner_pause: Default::default(),
                partner_sealed_fix: None,
                alarms: Vec::new(),
                last_seq: 0,
                since: timestamp(rt.record.created_at),
            };
            (
                rt.record.clone(),
                view,
                rt.matcher.is_some(),
                rt.hidden.contains(&true),
                haurach_bond::shows_vitals(rt.tiers),
            )
        };
        let alarms = self.store.raised_alarms(record.id).await?;
        let last_seq = self.store.last_seq(record.id).await?;
        let partner_pause = self.pause_of(record.members[1 - held.idx]).await?;
        let partner_sealed_fix = match sealed {
            true => {
                self.partner_sealed_fix(&record, held.idx, hidden, vitals)
                    .await?
            }
            false => None,
        };
        Ok(Some(BondView {
            partner_pause,
            partner_sealed_fix,
            alarms: alarms
                .iter()
                .map(|m| message_view(&record, m, sealed))
                .collect(),
            last_seq,
            ..view
        }))
    }

    /// Makes an invite code for `account`, who must not be bonded.
    pub async fn create_invite(&self, account: AccountId) -> Result<(String, i64), ApiError> {
        if self.held(account).await?.is_some() {
            return Err(ApiError::conflict(
                "already_bonded",
                "you are bonded already: end the bond before inviting someone else",
            ));
        }
        let now = now_ms();
        let expires = now + (self.config.invite_ttl_h * 3_600_000.0) as i64;
        // A collision among 29^8 codes is unlikely but possible: try a few.
        for _ in 0..5 {
            let code = crate::auth::invite_code();
            match self.store.create_invite(&code, account, now, expires).await {
                Ok(()) => return Ok((crate::auth::display_code(&code), expires)),
                Err(StoreError::Conflict(Conflict::InviteCodeTaken)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::internal("five invite codes in a row collided"))
    }

    /// Accepts an invite and makes the bond; both partners are told.
    pub async fn accept_invite(
        &self,
        account: AccountId,
        code: &str,
        profile: Profile,
    ) -> Result<BondView, ApiError> {
        let code = crate::auth::normalise_code(code).ok_or_else(|| {
            ApiError::invalid(
                "invalid_invite_code",
                "an invite code is eight letters and digits, like K7QF-3MZP",
            )
        })?;
        let initial = TierState::initial(profile).open();
        // Each reason the store refuses it for (unknown, expired, one's own, either of
        // the two bonded already) is its own problem (`error.rs`).
        let record = self
            .store
            .accept_invite(&code, account, profile, initial, now_ms())
            .await?;
        self.forget_bond(&record);
        self.bus.share(BondEvent::Formed {
            bond: record.id.0,
            members: record.members.map(|m| m.0),
        });
        // Positions known before the bond existed count from the start.
        if let Some(held) = self.held(account).await? {
            let mut rt = held.lock().await?;
            if let Some(span) = rt.span() {
                let changes = rt.tiers.update(profile, span.apart);
                // Bonded while together: their journals open at once.
                self.open_journals(&mut rt).await;
                if !changes.is_empty() {
                    self.positions.queue_tiers(rt.record.id, rt.tiers.open());
                }
            }
        }
        for member in record.members {
            if let Some(view) = self.bond_view(member).await? {
                let frame = ServerFrame::Bonded {
                    bond: Box::new(view),
                };
                self.publish(member, &frame);
            }
        }
        self.bond_view(account)
            .await?
            .ok_or_else(|| ApiError::internal("a bond just made cannot be found"))
    }

    /// Ends the caller's bond; both partners are told.
    pub async fn end_bond(&self, account: AccountId) -> Result<(), ApiError> {
        let Some(held) = self.held(account).await? else {
            return Err(not_bonded());
        };
        let mut rt = held.lock().await?;
        self.store.end_bond(rt.record.id, now_ms()).await?;
        rt.ended = true;
        self.forget_bond(&rt.record);
        self.bus.share(BondEvent::Ended {
            bond: rt.record.id.0,
            members: rt.record.members.map(|m| m.0),
        });
        for member in rt.record.members {
            self.publish(member, &ServerFrame::BondEnded);
        }
        Ok(())
    }
}
