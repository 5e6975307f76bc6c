//! A private bond (issue 20, `docs/privacy.md`) in the hub: its invite by the lookup hash
//! of a secret the server never sees, the devices' public keys and confirmation tags
//! relayed, and the tiers decided from token reports by [`Matcher`] in place of the plain
//! bond's [`TierState`](haurach_bond::TierState).
//!
//! What the server holds of a private bond's partners is which tiers are open, and each
//! partner's latest report in memory (in `BondRuntime::matcher`): never stored, never
//! logged, never sent to the partner. Another node gets a report as a
//! [`BondEvent::Report`] so its copy of the bond decides the same tiers. A position from a
//! partner of a private bond, from any source (HTTP, the link, OwnTracks), is refused
//! before anything is stored (`Hub::refuse_private_position`); so no pull is ever
//! worked out for a private bond, and the pull frame is never sent for one (the partner's
//! client will get a position sealed end to end, issue 20 item 3).
//!
//! A report's tokens are void once its last epoch is past: the sweep forgets it then
//! (`Hub::expire_reports`), and the ranged tiers close as for a pause.
//!
//! Contact and the alarm are the plain bond's: a report is hearing from its sender, and
//! the alarm passes at any range. The stretch needs two positions, which the server no
//! longer has: each device judges its own fixes at the city's `max_speed_kmh` (given in
//! the private bond's view) and seals the stretch inside its position.
//!
//! Where each partner is reaches the other sealed: after its report, a device sends its
//! position rounded to what the open tiers allow and sealed under the bond's key
//! (`haurach_private::rounding`), which the server keeps (the latest of each, in the
//! store, so a partner who connects later is given it in the bond's view) and relays as
//! a `partner_sealed_fix` frame, under the plain bond's rule for the pull: nothing while
//! either partner is hidden by a pause.

use haurach_bond::{Profile, shows_vitals};
use haurach_private::tokens::{EPOCH_MS, epoch_of};
use haurach_private::{Matcher, Role};
use haurach_proto::private::{key_from_hex, to_hex};
use haurach_proto::{BondView, PartnerSealedFix, PrivateBondView, ServerFrame, TokenReport};
use haurach_store::{AccountId, BondRecord, Conflict, Store, StoreError};

use super::bond::BondRuntime;
use super::hub::{Hub, not_bonded};
use crate::bus::{BondEvent, Bus};
use crate::clock::{now_ms, timestamp};
use crate::error::ApiError;

/// The role of member `idx` (0 invited, 1 accepted).
pub(crate) fn role_of(idx: usize) -> Role {
    if idx == 0 {
        Role::Inviter
    } else {
        Role::Accepter
    }
}

/// 32 bytes from a hex field of a body, or the problem that names the field.
fn key_field(text: &str, field: &str) -> Result<[u8; 32], ApiError> {
    key_from_hex(text).ok_or_else(|| {
        ApiError::invalid(
            "invalid_key",
            format!("{field} must be 32 bytes as 64 hex digits"),
        )
    })
}

/// `forget_places` names at most as many places as a person may keep, each no longer
/// than a place's name may be.
fn kept_field(kept: &[String]) -> Result<(), ApiError> {
    if kept.len() > super::places::MAX_PLACES || kept.iter().any(|name| name.chars().count() > 64) {
        return Err(ApiError::invalid(
            "invalid_forget_places",
            format!(
                "forget_places names at most {} places of at most 64 characters",
                super::places::MAX_PLACES
            ),
        ));
    }
    Ok(())
}

/// The problem for a private bond's operation on a plain bond.
fn plain_bond() -> ApiError {
    ApiError::conflict(
        "plain_bond",
        "your bond is not private: it has no keys to relay and takes positions, not token reports",
    )
}

/// What [`Hub::refuse_private_content`] refuses.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PrivateContent {
    /// A picture.
    Picture,
    /// A trace in the clear, drawn over a picture, a glimpse or the sight (strokes travel
    /// sealed, `sealed_trace`, as glimpses and sight do).
    Trace,
    /// A journal photo in the clear (sealed ones go to `write_sealed_memory_photo`).
    Journal,
}

impl<S: Store, B: Bus> Hub<S, B> {
    /// Makes a private invite for `account`, who must not be bonded: kept under the
    /// lookup hash of its secret, with the inviter's device public key. Returns when it
    /// stops working.
    pub async fn create_private_invite(
        &self,
        account: AccountId,
        lookup: &str,
        public_key: &str,
        kept: &[String],
    ) -> Result<i64, ApiError> {
        let lookup = key_field(lookup, "lookup")?;
        let public_key = key_field(public_key, "public_key")?;
        kept_field(kept)?;
        if self.held(account).await?.is_some() {
            return Err(ApiError::conflict(
                "already_bonded",
                "you are bonded already: end the bond before inviting someone else",
            ));
        }
        let now = now_ms();
        let expires = now + (self.config.invite_ttl_h * 3_600_000.0) as i64;
        match self
            .store
            .create_private_invite(&lookup, account, &public_key, kept, now, expires)
            .await
        {
            Ok(()) => {
                self.places_forgotten(account).await?;
                Ok(expires)
            }
            // Two random 160-bit secrets do not collide: the same hash sent twice.
            Err(StoreError::Conflict(Conflict::InviteCodeTaken)) => Err(ApiError::conflict(
                "invite_taken",
                "an invite with this secret exists already: make a new secret",
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Accepts a private invite and makes the bond; both partners are told. Neither
    /// partner's position is known to it: its tiers are those open at any range until
    /// both report.
    pub async fn accept_private_invite(
        &self,
        account: AccountId,
        lookup: &str,
        public_key: &str,
        kept: &[String],
        profile: Profile,
    ) -> Result<BondView, ApiError> {
        let lookup = key_field(lookup, "lookup")?;
        let public_key = key_field(public_key, "public_key")?;
        kept_field(kept)?;
        let initial = Matcher::new(profile).state().open();
        let record = self
            .store
            .accept_private_invite(
                &lookup,
                account,
                &public_key,
                kept,
                profile,
                initial,
                now_ms(),
            )
            .await?;
        self.forget_bond(&record);
        self.places_forgotten(account).await?;
        self.bus.share(BondEvent::Formed {
            bond: record.id.0,
            members: record.members.map(|m| m.0),
        });
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

    /// The keys and tags the server relays between the devices of `account`'s private
    /// bond.
    pub async fn private_view(&self, account: AccountId) -> Result<PrivateBondView, ApiError> {
        let Some(held) = self.held(account).await? else {
            return Err(not_bonded());
        };
        let bond = held.lock().await?.record.id;
        let keys = self
            .store
            .private_keys(bond)
            .await?
            .ok_or_else(plain_bond)?;
        Ok(PrivateBondView {
            role: if held.idx == 0 { "inviter" } else { "accepter" }.into(),
            inviter_key: to_hex(&keys.public_keys[0]),
            accepter_key: to_hex(&keys.public_keys[1]),
            inviter_tag: keys.tags[0].map(|t| to_hex(&t)),
            accepter_tag: keys.tags[1].map(|t| to_hex(&t)),
            max_speed_kmh: self.config.max_speed_kmh,
        })
    }

    /// Keeps `account`'s confirmation tag for the partner's device to check. The server
    /// cannot check it: it does not hold the bond key.
    pub async fn confirm_private(&self, account: AccountId, tag: &str) -> Result<(), ApiError> {
        let tag = key_field(tag, "tag")?;
        let Some(held) = self.held(account).await? else {
            return Err(not_bonded());
        };
        let bond = held.lock().await?.record.id;
        if !self.store.set_confirmation(bond, held.idx, &tag).await? {
            return Err(plain_bond());
        }
        Ok(())
    }

    /// Whether `account`'s bond is private (false without a bond): its messages are
    /// sealed.
    pub async fn is_private(&self, account: AccountId) -> Result<bool, ApiError> {
        let Some(held) = self.held(account).await? else {
            return Ok(false);
        };
        Ok(held.lock().await?.matcher.is_some())
    }

    /// Refuses a position from `account` when their bond is private: nothing positional
    /// of a private bond is taken, stored or judged. Called before a position is stored.
    pub(crate) async fn refuse_private_position(&self, account: AccountId) -> Result<(), ApiError> {
        self.refuse_in_private_bond(
            account,
            "your bond is private: the server takes no position from you, only token \
             reports made on your device (haurach move makes them; the OwnTracks app \
             cannot take part in a private bond)",
        )
        .await
    }

    /// Refuses a place or a pinned meeting point from `account` when their bond is
    /// private: both are coordinates, which the server keeps none of for a private bond.
    /// While `account`'s private invite waits, a new place is refused too: the bond it
    /// makes would keep it in the clear.
    pub(crate) async fn refuse_private_place(&self, account: AccountId) -> Result<(), ApiError> {
        if self.store.private_invite_waiting(account, now_ms()).await? {
            return Err(ApiError::conflict(
                "private_invite",
                "your private invite is waiting: the private bond it makes keeps no place \
                 and no meeting point on the server; keep your places on your device",
            ));
        }
        self.refuse_in_private_bond(
            account,
            "your bond is private: the server keeps no place and no meeting point for it; \
             keep your places on your device and send their news and the meeting point \
             sealed, as place and meeting messages",
        )
        .await
    }

    /// Refuses content the server would see in the clear when `account`'s bond is
    /// private: a picture, a trace (over a picture, a glimpse or the sight), or a journal
    /// photo. They are to travel sealed between the devices (issue 20); until
    /// they do, they are refused before anything is read or stored, so the server never
    /// holds them. `what` says which, in the problem's words.
    pub(crate) async fn refuse_private_content(
        &self,
        account: AccountId,
        what: PrivateContent,
    ) -> Result<(), ApiError> {
        let detail = match what {
            PrivateContent::Picture => {
                "your bond is private: the server takes no picture in the clear for it; \
                 seal it on your device and send it sealed (haurach send-image does)"
            }
            PrivateContent::Trace => {
                "your bond is private: the server passes no stroke in the clear for it; seal \
                 it on your device and send it as a sealed_trace frame"
            }
            PrivateContent::Journal => {
                "your bond is private: the server keeps no journal photo in the clear for it; \
                 seal it on your device and send it to /api/v1/me/memories/photos/sealed \
                 (haurach remember --photo does)"
            }
        };
        self.refuse_in_private_bond(account, detail).await
    }

    /// `409 private_bond` saying `detail` when `account`'s bond is private.
    async fn refuse_in_private_bond(
        &self,
        account: AccountId,
        detail: &'static str,
    ) -> Result<(), ApiError> {
        let Some(held) = self.held(account).await? else {
            return Ok(());
        };
        if held.private {
            return Err(ApiError::conflict("private_bond", detail));
        }
        Ok(())
    }

    /// Takes a token report from `account`, a partner of a private bond: checked against
    /// the bond's profile and the server's clock, then given to the matcher in place of
    /// the older one. Never stored; shared with the other nodes holding the bond.
    pub async fn token_report(
        &self,
        account: AccountId,
        report: &TokenReport,
    ) -> Result<(), ApiError> {
        let now = now_ms();
        let Some(held) = self.held(account).await? else {
            return Err(not_bonded());
        };
        let profile = {
            let rt = held.lock().await?;
            if rt.matcher.is_none() {
                return Err(plain_bond());
            }
            rt.record.profile
        };
        let invalid = |detail: &str| ApiError::invalid("invalid_report", detail.to_owned());
        let decoded = report
            .report()
            .ok_or_else(|| invalid("a token list is not base64 of whole 8-byte tokens"))?;
        decoded.check(profile).map_err(|_| {
            invalid(
                "the report is not of this bond's shape: one or two consecutive epochs, each \
                 with the profile's ranged tiers in order, every list 54 sorted tokens",
            )
        })?;
        // A report holds the epoch of its fix, and the next one near its end; one made a
        // moment before an epoch ended may arrive in the next.
        let current = epoch_of(now);
        if decoded
            .epochs
            .iter()
            .any(|e| e.epoch < current - 1 || e.epoch > current + 1)
        {
            return Err(invalid(&format!(
                "the report's epoch is not now's: check the device's clock (an epoch is {} \
                 minutes)",
                EPOCH_MS / 60_000
            )));
        }
        if self.is_paused(account, now).await? {
            // As a position while paused: heard, and dropped.
            return self.heard(account).await;
        }
        self.last_heard
            .lock()
            .expect("hub lock")
            .insert(account, now);
        let mut rt = held.lock().await?;
        self.bus.share(BondEvent::Report {
            bond: rt.record.id.0,
            idx: held.idx as u8,
            report: report.clone(),
            received_at: now,
        });
        self.reported(&mut rt, held.idx, decoded, now, true).await;
        Ok(())
    }

    /// Takes `account`'s position as their device rounded and sealed it for the partner
    /// (kind `position`), in a private bond: keeps it as their latest, and passes it to
    /// the partner's links on every node unless either partner is hidden by a pause (the
    /// plain bond works out no pull then). Dropped, as a position is, while the sender
    /// pauses. The caller has been heard already (the HTTP extractor and the link say so).
    pub async fn sealed_fix(&self, account: AccountId, sealed: String) -> Result<(), ApiError> {
        haurach_proto::sealed::check_fix(&sealed)
            .map_err(|e| ApiError::invalid("invalid_sealed", e.to_string()))?;
        let now = now_ms();
        let Some(held) = self.held(account).await? else {
            return Err(not_bonded());
        };
        if held.lock().await?.matcher.is_none() {
            return Err(ApiError::conflict(
                "unexpected_sealed",
                "your bond is not private: send your position, not a sealed one",
            ));
        }
        if self.is_paused(account, now).await? {
            return Ok(());
        }
        // Under the bond's lock, so two positions of one sender are kept and relayed in
        // the order they came.
        let rt = held.lock().await?;
        self.store
            .save_sealed_fix(rt.record.id, account, &sealed, now)
            .await?;
        if !rt.hidden.contains(&true) {
            let frame = ServerFrame::PartnerSealedFix {
                sealed,
                at: shows_vitals(rt.tiers).then(|| timestamp(now)),
            };
            self.publish(rt.record.members[1 - held.idx], &frame);
        }
        Ok(())
    }

    /// The partner's latest sealed position for member `idx`'s view of a private bond,
    /// unless either partner is hidden (`hidden`); when it came, only while feelings are
    /// open (`vitals`).
    pub(crate) async fn partner_sealed_fix(
        &self,
        record: &BondRecord,
        idx: usize,
        hidden: bool,
        vitals: bool,
    ) -> Result<Option<PartnerSealedFix>, ApiError> {
        if hidden {
            return Ok(None);
        }
        let kept = self
            .store
            .sealed_fix(record.id, record.members[1 - idx])
            .await?;
        Ok(kept.map(|k| PartnerSealedFix {
            sealed: k.sealed,
            at: vitals.then(|| timestamp(k.received_at)),
        }))
    }

    /// Member `idx` of a private bond reported, heard at `now`, on this node (`here`) or
    /// another: contact heard, the matcher decides, the tiers that moved are announced to
    /// this node's links (and written by the node that heard it).
    pub(crate) async fn reported(
        &self,
        rt: &mut BondRuntime,
        idx: usize,
        report: haurach_private::Report,
        now: i64,
        here: bool,
    ) {
        if let Some(event) = rt.heard(idx, now) {
            self.publish_contact(rt, idx, event);
        }
        // A report ends a pause's hiding, as a fix does.
        rt.hidden[idx] = false;
        let Some(matcher) = rt.matcher.as_mut() else {
            return;
        };
        // Its tokens are void once its last epoch is past (`Hub::expire_reports`).
        let expires = report
            .epochs
            .iter()
            .map(|e| (e.epoch + 1) * EPOCH_MS)
            .max()
            .unwrap_or(i64::MIN);
        self.reports_expire
            .lock()
            .expect("hub lock")
            .entry(rt.record.id)
            .or_insert([i64::MAX; 2])[idx] = expires;
        let changes = matcher.report(role_of(idx), report);
        rt.tiers = matcher.state();
        self.open_journals(rt).await;
        if !changes.is_empty() {
            if here {
                self.positions.queue_tiers(rt.record.id, rt.tiers.open());
            }
            self.publish_tier_changes(rt, &changes);
        }
    }

    /// At the sweep: forgets each partner's newest report of a private bond once every
    /// epoch it holds is past by the server's clock. Their tokens are void, so their
    /// distance is unknown and the ranged tiers close, as for a pause, announced to this
    /// node's links. Contact and the alarm are untouched. Every node holding the bond
    /// does this from the same reports, and each writes the same tiers.
    pub(crate) async fn expire_reports(&self, rt: &mut BondRuntime, now: i64) {
        let expired = {
            let mut book = self.reports_expire.lock().expect("hub lock");
            let Some(at) = book.get_mut(&rt.record.id) else {
                return;
            };
            let expired = at.map(|at| at <= now);
            for (at, gone) in at.iter_mut().zip(expired) {
                if gone {
                    *at = i64::MAX;
                }
            }
            if *at == [i64::MAX; 2] {
                book.remove(&rt.record.id);
            }
            expired
        };
        if rt.ended {
            return;
        }
        let Some(matcher) = rt.matcher.as_mut() else {
            return;
        };
        let mut changes = Vec::new();
        for idx in (0..2).filter(|i| expired[*i]) {
            changes.extend(matcher.forget(role_of(idx)));
        }
        rt.tiers = matcher.state();
        self.open_journals(rt).await;
        if !changes.is_empty() {
            self.positions.queue_tiers(rt.record.id, rt.tiers.open());
            self.publish_tier_changes(rt, &changes);
        }
    }
}
