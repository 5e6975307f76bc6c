//! The partner as an OwnTracks friend: where the app may draw them (exact within sight
//! range; beyond it a point on the coarse pull from the caller's own position, with an
//! accuracy as wide as the rounding, never the real one), how fresh and how charged
//! only while the feelings tier is open, and the meeting point when it can be shown. The OwnTracks route itself is in `http/owntracks.rs`.

use haurach_bond::{Disclosure, shows_vitals};
use haurach_proto::PauseView;
use haurach_store::{AccountId, Store};

use super::hub::Hub;
use crate::bus::Bus;
use crate::clock::now_ms;
use crate::error::ApiError;

/// What the partner looks like to an OwnTracks app.
pub struct FriendView {
    /// The partner's name.
    pub name: String,
    /// (lat, lon, acc, tst seconds) of the partner, as the caller may see it: `tst` is
    /// when their fix was taken only while the feelings tier is open, and the time of
    /// the answer otherwise ([`shows_vitals`]).
    pub location: Option<(f64, f64, f64, i64)>,
    /// The partner's battery level, percent: only while the feelings tier is open.
    pub batt: Option<u8>,
    /// The meeting point, when it can be shown.
    pub needle: Option<(f64, f64, String)>,
}

impl<S: Store, B: Bus> Hub<S, B> {
    /// The partner (and the meeting point) as `account`'s OwnTracks app may see them;
    /// `None` when unbonded.
    pub async fn friend_view(&self, account: AccountId) -> Result<Option<FriendView>, ApiError> {
        let Some(held) = self.held(account).await? else {
            return Ok(None);
        };
        let (name, me, partner, shown, partner_id, vitals, batt) = {
            let rt = held.lock().await?;
            let vitals = shows_vitals(rt.tiers);
            // A partner hidden by a pause has no location to show.
            let hidden = rt.hidden[1 - held.idx];
            let partner = rt.fixes[1 - held.idx].filter(|_| !hidden);
            (
                rt.record.names[1 - held.idx].clone(),
                rt.fixes[held.idx],
                partner,
                Disclosure::of(rt.tiers),
                rt.record.members[1 - held.idx],
                vitals,
                rt.battery[1 - held.idx].filter(|_| vitals && !hidden),
            )
        };
        // The app shows a friend's card name: a paused partner reads as such.
        let name = match self.pause_of(partner_id).await? {
            PauseView { paused: true, .. } => format!("{name} (paused)"),
            PauseView { .. } => name,
        };
        let location = partner.and_then(|p| {
            let seen = shown.whereabouts(me.as_ref(), &p)?;
            // The app shows how old a friend's fix is: while feelings are closed it is
            // given now, so the answer says nothing of when the partner was last heard.
            let tst = if vitals { p.at_ms } else { now_ms() };
            Some((seen.lat, seen.lon, seen.accuracy_m, tst / 1000))
        });
        let needle = match self.meeting_view(account).await {
            Ok(view) => view.position.map(|p| {
                (
                    p.lat,
                    p.lon,
                    view.name.unwrap_or_else(|| "the Needle".to_owned()),
                )
            }),
            Err(_) => None,
        };
        Ok(Some(FriendView {
            name,
            location,
            batt,
            needle,
        }))
    }
}
