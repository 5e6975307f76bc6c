//! The partner as an OwnTracks friend: where the app may draw them (exact within sight
//! range; beyond it a point on the coarse pull from the caller's own position, with an
//! accuracy as wide as the rounding, never the real one) and the meeting point when it
//! can be shown. The OwnTracks route itself is in `http/owntracks.rs`.

use haurach_bond::Disclosure;
use haurach_proto::PauseView;
use haurach_store::{AccountId, Store};

use super::hub::Hub;
use crate::bus::Bus;
use crate::error::ApiError;

/// What the partner looks like to an OwnTracks app.
pub struct FriendView {
    /// The partner's name.
    pub name: String,
    /// (lat, lon, acc, tst seconds) of the partner, as the caller may see it.
    pub location: Option<(f64, f64, f64, i64)>,
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
        let (name, me, partner, shown, partner_id) = {
            let rt = held.lock().await?;
            // A partner hidden by a pause has no location to show.
            let partner = rt.fixes[1 - held.idx].filter(|_| !rt.hidden[1 - held.idx]);
            (
                rt.record.names[1 - held.idx].clone(),
                rt.fixes[held.idx],
                partner,
                Disclosure::of(rt.tiers),
                rt.record.members[1 - held.idx],
            )
        };
        // The app shows a friend's card name: a paused partner reads as such.
        let name = match self.pause_of(partner_id).await? {
            PauseView { paused: true, .. } => format!("{name} (paused)"),
            PauseView { .. } => name,
        };
        let location = partner.and_then(|p| {
            let seen = shown.whereabouts(me.as_ref(), &p)?;
            Some((seen.lat, seen.lon, seen.accuracy_m, p.at_ms / 1000))
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
            needle,
        }))
    }
}
