//! Trace: strokes one partner draws over what they see, passed to the other while the
//! images tier is open, to land on the same picture in the same place.
//!
//! A `trace` frame names what it is drawn over ([`Over`]), and its points are fractions of
//! that picture's width and height, so they land in place whatever size each side shows
//! it at:
//!
//! - an **image** of the bond, by its id: checked against the store (it must be one of
//!   this bond's pictures);
//! - a **glimpse**, by the id the relay gave it when it passed it on ([`sight`](super::sight)): the
//!   asker draws over the glimpse they received, the one who sent it sees the stroke over
//!   the frame they sent (their client keeps it). Glimpses are not kept, so the id is not
//!   checked: a stroke over a glimpse the partner no longer shows is ignored by their
//!   client, and only the partner ever receives it;
//! - the live **sight** through someone's camera, by that person's name (either partner):
//!   drawn over the partner's sight, it appears over the partner's own camera view, the
//!   frames they send; drawn over one's own camera view, over the sight the partner
//!   receives of it. Sight frames are the whole camera frame scaled down, so the two
//!   pictures have the same proportions.
//!
//! Strokes are live, like thoughts: not stored. The images tier is what they need, for
//! every target (the glimpse and sight tiers lie inside its range).
//!
//! With several nodes the frame goes to the partner's links on every node
//! (over NATS).
//!
//! In a private bond a stroke is sealed on the drawer's device (`sealed_trace`, kind
//! `trace`): the server sees neither its points nor what it is drawn over, so it checks
//! only the sealed string's shape and the images tier, and passes it on. The partner's
//! device opens it and checks the rest.

use haurach_bond::Tier;
use haurach_proto::ServerFrame;
use haurach_proto::link::{Over, Trace};
use haurach_proto::sealed::Sealed;

use haurach_store::{AccountId, ImageId, Store};

use super::hub::{Hub, TierStanding, not_bonded};
use super::pictures::no_such_image;
use super::private::PrivateContent;
use crate::bus::Bus;
use crate::error::ApiError;

/// The most points one `trace` frame may carry.
pub const TRACE_POINTS: usize = 256;

fn invalid(detail: &str) -> ApiError {
    ApiError::invalid("invalid_trace", detail)
}

impl<S: Store, B: Bus> Hub<S, B> {
    /// A `trace` frame from `account`'s link: checked, then passed to the partner as a
    /// `trace` frame with `from`.
    pub async fn trace(&self, account: AccountId, trace: Trace) -> Result<(), ApiError> {
        self.refuse_private_content(account, PrivateContent::Trace)
            .await?;
        if trace.points.is_empty() && !trace.end {
            return Ok(());
        }
        if trace.points.len() > TRACE_POINTS
            || trace
                .points
                .iter()
                .flatten()
                .any(|v| !(v.is_finite() && (0.0..=1.0).contains(v)))
        {
            return Err(invalid(
                "a trace carries at most 256 points, each [x, y] in [0, 1]",
            ));
        }
        let standing = self
            .standing(account, Tier::Images)
            .await?
            .ok_or_else(not_bonded)?;
        images_open(&standing)?;
        match &trace.over {
            Over::Image(id) => {
                self.store
                    .image(ImageId(*id))
                    .await?
                    .filter(|image| image.bond == standing.bond.id)
                    .ok_or_else(no_such_image)?;
            }
            Over::Glimpse(_) => {}
            Over::Sight(whose) => {
                if !standing.bond.names.contains(whose) {
                    return Err(invalid(
                        "a stroke over the sight names whose camera it is: yours or your partner's name",
                    ));
                }
            }
        }
        let frame = ServerFrame::Trace {
            from: standing.bond.names[standing.idx].clone(),
            trace,
        };
        self.publish(standing.bond.members[1 - standing.idx], &frame);
        Ok(())
    }

    /// A `sealed_trace` frame from `account`'s link, in a private bond: passed to the
    /// partner while the images tier is open. Never stored.
    pub async fn sealed_trace(&self, account: AccountId, sealed: String) -> Result<(), ApiError> {
        Sealed::decode(&sealed).map_err(|e| ApiError::invalid("invalid_sealed", e.to_string()))?;
        let standing = self
            .standing(account, Tier::Images)
            .await?
            .ok_or_else(not_bonded)?;
        if !standing.private {
            return Err(ApiError::conflict(
                "unexpected_sealed",
                "your bond is not private: send strokes as trace frames, not sealed",
            ));
        }
        images_open(&standing)?;
        self.publish(
            standing.bond.members[1 - standing.idx],
            &ServerFrame::SealedTrace { sealed },
        );
        Ok(())
    }
}

/// Refuses a stroke while the images tier is closed.
fn images_open(standing: &TierStanding) -> Result<(), ApiError> {
    if standing.open {
        return Ok(());
    }
    Err(ApiError::tier_closed(
        Tier::Images,
        standing.bond.profile.range_m(Tier::Images),
        standing.distance_m,
    ))
}
