//! Glimpse and sight: camera frames from one partner to the other over the live link, as
//! binary WebSocket frames whose first byte says what they are:
//!
//! - `0x01` + JPEG: a glimpse. Within glimpse range a partner asks (`glimpse_ask`); if
//!   the other allows their camera (`PUT /api/v1/me/camera`, off until turned on), their
//!   client is sent `glimpse_asked {by, side}` and answers with one frame. The server
//!   re-encodes it without metadata, no larger than the side the strength allows (the
//!   pictures' curve), gives it an id (a UUIDv7) and passes it to the asker as `0x01` +
//!   the id's 16 bytes + JPEG; the sender's link is answered `glimpse_sent {glimpse}`
//!   with the same id. Both sides can then name this glimpse in a `trace` frame
//!   ([`trace`](super::trace)): the asker draws over what they received, the sender's client
//!   shows the stroke over the frame it sent.
//! - `0x02` + JPEG: a frame of the live sight, within sight range, from a partner who
//!   allows their camera. The server checks the frame's size (from its header) and rate
//!   against `haurach_bond::images::sight_params` and passes it on untouched; it does not
//!   decode live frames.
//!
//! Frames are never queued without bound: each link of the receiver has a queue of
//! [`VIEW_QUEUE`](super::relay::VIEW_QUEUE) frames, and a frame that finds it full is dropped. About once a second
//! the sender is told, in a `sight_rate` frame, how many frames a second it sent, how
//! many reached its partner, and what the bond allows now. Each frame checks the sight
//! tier as it arrives, so frames stop the moment the partners leave the range.
//!
//! In a private bond (`docs/privacy.md`) the frames travel sealed under the bond's key,
//! which the server does not hold: `0x03` (a glimpse) and `0x04` (sight), then the
//! sender's counter and `nonce ‖ ciphertext ‖ tag` ([`haurach_proto::sealed`]). The server
//! holds them to the same tiers, consent and rate, and gives a glimpse its id (`0x03` +
//! id + the sealed bytes to the asker), but it cannot read a JPEG header or re-encode: it
//! bounds each frame's bytes by the side the bond allows ([`jpeg_bytes_bound`]), and the
//! sender's client makes a glimpse no larger than the side in `glimpse_asked`, encoded
//! again from a canvas (so without metadata). A plain frame in a private bond, or a
//! sealed one in a plain bond, is refused. Nothing of a frame is stored or logged,
//! sealed or not.
//!
//! The frames pass through the hub's [`Relay`](super::relay::Relay).

use std::time::Instant;

use bytes::Bytes;
use haurach_bond::Tier;
use haurach_bond::images::{jpeg_bytes_bound, rendition_side, sight_params};
use haurach_picture::Limits;
use haurach_proto::ServerFrame;
use haurach_proto::sealed::FRAME_OVERHEAD;
use haurach_store::{AccountId, Store};
use http::StatusCode;
use uuid::Uuid;

use super::hub::Hub;
use super::relay::{
    Flow, GLIMPSE, GLIMPSE_ID_LEN, GLIMPSE_TTL_MS, RATE_SLACK, RATE_WINDOW, SEALED_GLIMPSE,
    SEALED_SIGHT, SIDE_SLACK, SIGHT,
};
use crate::bus::{BondEvent, Bus};
use crate::clock::now_ms;
use crate::error::ApiError;

fn camera_not_allowed(who: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "camera_not_allowed",
        format!("{who} has not allowed glimpses and sight through their camera"),
    )
}

impl<S: Store, B: Bus> Hub<S, B> {
    /// A `glimpse_ask` from `asker`: checks the tier and the partner's consent, then asks the
    /// partner's client for a frame.
    pub async fn ask_glimpse(&self, asker: AccountId) -> Result<(), ApiError> {
        self.request_glimpse(asker, Tier::Glimpse, false).await
    }

    /// The short return glimpse of sending a picture ("I saw you when I sent that image to
    /// you"): the sender gets one glimpse of the receiver, within the images tier, if the
    /// receiver allows their camera. Quietly nothing otherwise.
    pub async fn return_glimpse(&self, sender: AccountId) -> Result<(), ApiError> {
        match self.request_glimpse(sender, Tier::Images, true).await {
            Err(e) if e.status() == StatusCode::FORBIDDEN => Ok(()),
            other => other,
        }
    }

    async fn request_glimpse(
        &self,
        asker: AccountId,
        tier: Tier,
        on_sending: bool,
    ) -> Result<(), ApiError> {
        let standing = self
            .standing(asker, tier)
            .await?
            .ok_or_else(|| ApiError::not_found("not_bonded", "you have no partner yet"))?;
        if !standing.open {
            return Err(ApiError::tier_closed(
                tier,
                standing.bond.profile.range_m(tier),
                standing.distance_m,
            ));
        }
        let partner_idx = 1 - standing.idx;
        let partner = standing.bond.members[partner_idx];
        if !self.relay.consent(&self.store, partner).await? {
            return Err(camera_not_allowed(&standing.bond.names[partner_idx]));
        }
        let side = rendition_side(standing.bond.profile, standing.strength).of(u32::MAX);
        // Full size is the camera's own; a glimpse is never more than sight's largest frame.
        let side = side.min(haurach_bond::images::SIGHT_TOGETHER.side);
        let expires_ms = now_ms() + GLIMPSE_TTL_MS;
        self.relay
            .expect_glimpse(partner, asker, side, expires_ms, tier);
        // The partner's client may answer on another node.
        self.bus.share(BondEvent::GlimpseAsked {
            asked: partner.0,
            asker: asker.0,
            side,
            expires_ms,
            tier,
        });
        let frame = ServerFrame::GlimpseAsked {
            by: standing.bond.names[standing.idx].clone(),
            side,
            on_sending,
        };
        self.publish(partner, &frame);
        Ok(())
    }

    /// Passes a camera frame to the links of `to`: this node's through the relay, the other
    /// nodes' over the bus. True when it was taken: by a link here, or (with several nodes)
    /// by the bus, which cannot say whether a link there had room.
    fn pass(&self, to: AccountId, frame: Bytes) -> bool {
        let here = self.relay.deliver(to, frame.clone());
        if self.bus.several_nodes() {
            self.bus.publish_camera(to, frame);
            return true;
        }
        here
    }

    /// A binary frame from `account`'s link. Returns a frame to answer on the same link
    /// (`glimpse_sent` for a glimpse, a `sight_rate` now and then), or an error for it.
    pub async fn camera_frame(
        &self,
        account: AccountId,
        frame: Bytes,
    ) -> Result<Option<ServerFrame>, ApiError> {
        let (glimpse, sealed) = match frame.first() {
            Some(&GLIMPSE) => (true, false),
            Some(&SIGHT) => (false, false),
            Some(&SEALED_GLIMPSE) => (true, true),
            Some(&SEALED_SIGHT) => (false, true),
            _ => {
                return Err(ApiError::bad_request(
                    "binary_frame",
                    "a binary frame is 0x01 + JPEG (a glimpse) or 0x02 + JPEG (sight), or in a \
                     private bond 0x03 or 0x04 + the sealed JPEG",
                ));
            }
        };
        if glimpse {
            // A glimpse answers one ask: the bond is looked up for it. Sight frames, many a
            // second, take whether it is private from the standing they need anyway.
            refuse_mismatch(sealed, self.is_private(account).await?)?;
            self.glimpse(account, frame.slice(1..), sealed)
                .await
                .map(Some)
        } else {
            self.sight(account, frame, sealed).await
        }
    }

    /// The answer to a glimpse asked of `account`: re-encoded (or, sealed, bounded in
    /// bytes), given an id and passed to the asker. Returns the `glimpse_sent` frame for
    /// the sender's link.
    async fn glimpse(
        &self,
        account: AccountId,
        body: Bytes,
        sealed: bool,
    ) -> Result<ServerFrame, ApiError> {
        let pending = self
            .relay
            .inner
            .lock()
            .expect("relay lock")
            .glimpses
            .remove(&account)
            .filter(|p| p.expires_ms >= now_ms())
            .ok_or_else(|| {
                ApiError::invalid(
                    "no_glimpse_asked",
                    "your partner has not asked for a glimpse (or asked more than 30 s ago)",
                )
            })?;
        let standing = self
            .standing(account, pending.tier)
            .await?
            .ok_or_else(|| ApiError::not_found("not_bonded", "you have no partner yet"))?;
        if !standing.open {
            return Err(ApiError::tier_closed(
                pending.tier,
                standing.bond.profile.range_m(pending.tier),
                standing.distance_m,
            ));
        }
        let side = pending.side;
        let (lead, shown) = if sealed {
            check_sealed_size(&body)?;
            let most = FRAME_OVERHEAD + jpeg_bytes_bound(side);
            if body.len() > most {
                return Err(ApiError::invalid(
                    "glimpse_too_large",
                    format!(
                        "a sealed glimpse at {side} pixels is at most {most} bytes: encode it \
                         again, smaller or at a lower quality"
                    ),
                ));
            }
            (SEALED_GLIMPSE, body)
        } else {
            let _permit = self
                .pictures
                .work()
                .acquire()
                .await
                .map_err(ApiError::internal)?;
            let shown = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, ApiError> {
                // A camera frame: a few megapixels at most.
                let limits = Limits {
                    max_pixels: 8_000_000,
                };
                let accepted = haurach_picture::accept(&body, limits)?;
                Ok(haurach_picture::render(&accepted.stripped, side)?)
            })
            .await
            .map_err(ApiError::internal)??;
            (GLIMPSE, Bytes::from(shown))
        };
        let id = Uuid::now_v7();
        let mut out = Vec::with_capacity(1 + GLIMPSE_ID_LEN + shown.len());
        out.push(lead);
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(&shown);
        self.pass(pending.asker, Bytes::from(out));
        Ok(ServerFrame::GlimpseSent { glimpse: id })
    }

    /// A frame of the live sight, `0x02` + JPEG or (`sealed`) `0x04` + the sealed JPEG:
    /// passed on untouched when it fits the size and the rate the bond allows, dropped
    /// when it does not.
    async fn sight(
        &self,
        account: AccountId,
        frame: Bytes,
        sealed: bool,
    ) -> Result<Option<ServerFrame>, ApiError> {
        let standing = self
            .standing(account, Tier::Sight)
            .await?
            .ok_or_else(|| ApiError::not_found("not_bonded", "you have no partner yet"))?;
        refuse_mismatch(sealed, standing.private)?;
        if !standing.open {
            self.relay
                .inner
                .lock()
                .expect("relay lock")
                .flows
                .remove(&account);
            return Err(ApiError::tier_closed(
                Tier::Sight,
                standing.bond.profile.range_m(Tier::Sight),
                standing.distance_m,
            ));
        }
        if !self.relay.consent(&self.store, account).await? {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "camera_not_allowed",
                "turn on your camera for your partner (PUT /api/v1/me/camera) before sending sight",
            ));
        }
        let params = sight_params(standing.bond.profile, standing.strength);
        let fits = if sealed {
            // The server cannot read the sealed JPEG's header: its bytes are bounded by
            // the side instead.
            check_sealed_size(&frame[1..])?;
            frame.len() - 1 <= FRAME_OVERHEAD + jpeg_bytes_bound(params.side)
        } else {
            let jpeg = &frame[1..];
            let Some((width, height)) = jpeg
                .starts_with(&[0xFF, 0xD8])
                .then(|| haurach_picture::dimensions(jpeg))
                .flatten()
            else {
                return Err(ApiError::invalid(
                    "sight_not_jpeg",
                    "a sight frame is 0x02 followed by a JPEG",
                ));
            };
            f64::from(width.max(height)) <= f64::from(params.side) * SIDE_SLACK
        };
        let partner = standing.bond.members[1 - standing.idx];
        let now = Instant::now();
        let on_time = {
            let inner = self.relay.inner.lock().expect("relay lock");
            inner
                .flows
                .get(&account)
                .and_then(|f| f.last_accepted)
                .is_none_or(|last| {
                    now.duration_since(last).as_secs_f64() >= RATE_SLACK / params.fps
                })
        };
        let delivered = fits && on_time && self.pass(partner, frame);
        let mut inner = self.relay.inner.lock().expect("relay lock");
        let flow = inner.flows.entry(account).or_insert(Flow {
            window_start: now,
            sent: 0,
            delivered: 0,
            last_accepted: None,
        });
        flow.sent += 1;
        if fits && on_time {
            flow.last_accepted = Some(now);
        }
        if delivered {
            flow.delivered += 1;
        }
        let elapsed = now.duration_since(flow.window_start);
        if elapsed < RATE_WINDOW {
            return Ok(None);
        }
        let secs = elapsed.as_secs_f64();
        let report = ServerFrame::SightRate {
            sent_fps: f64::from(flow.sent) / secs,
            delivered_fps: f64::from(flow.delivered) / secs,
            allowed_fps: params.fps,
            side: params.side,
        };
        *flow = Flow {
            window_start: now,
            sent: 0,
            delivered: 0,
            last_accepted: flow.last_accepted,
        };
        Ok(Some(report))
    }
}

/// Refuses a camera frame sealed (`sealed`) on a plain bond, or in the clear on a
/// private one.
fn refuse_mismatch(sealed: bool, private: bool) -> Result<(), ApiError> {
    match (sealed, private) {
        (true, false) => Err(ApiError::conflict(
            "unexpected_sealed",
            "your bond is not private: send camera frames as 0x01 or 0x02 + JPEG",
        )),
        (false, true) => Err(ApiError::conflict(
            "private_bond",
            "your bond is private: the server takes camera frames only sealed between \
             your devices (0x03 for a glimpse, 0x04 for sight)",
        )),
        _ => Ok(()),
    }
}

/// Refuses a sealed frame too short to hold a counter, a nonce and a tag.
fn check_sealed_size(sealed: &[u8]) -> Result<(), ApiError> {
    if sealed.len() < FRAME_OVERHEAD {
        return Err(ApiError::invalid(
            "sealed_frame",
            "a sealed camera frame is its first byte, then the sender's counter (8 bytes), \
             the nonce (12), the sealed JPEG and the tag (16)",
        ));
    }
    Ok(())
}
