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
//!   (`crate::trace`): the asker draws over what they received, the sender's client
//!   shows the stroke over the frame it sent.
//! - `0x02` + JPEG: a frame of the live sight, within sight range, from a partner who
//!   allows their camera. The server checks the frame's size (from its header) and rate
//!   against `haurach_bond::images::sight_params` and passes it on untouched; it does not
//!   decode live frames.
//!
//! Frames are never queued without bound: each link of the receiver has a queue of
//! [`VIEW_QUEUE`] frames, and a frame that finds it full is dropped. About once a second
//! the sender is told, in a `sight_rate` frame, how many frames a second it sent, how
//! many reached its partner, and what the bond allows now. Each frame checks the sight
//! tier as it arrives, so frames stop the moment the partners leave the range.
//!
//! Ownership: the [`Relay`] (one per server, in `App`) holds a sender per live link of
//! each account; a link holds the receiving end in its [`View`], and dropping the view
//! removes the link from the relay.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::StatusCode;
use haurach_bond::Tier;
use haurach_bond::images::{rendition_side, sight_params};
use haurach_picture::Limits;
use haurach_proto::ServerFrame;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::bus::Bus;
use crate::error::ApiError;
use crate::http::AppState;
use crate::hub::now_ms;
use haurach_store::{AccountId, Store};

/// First byte of a glimpse frame.
pub const GLIMPSE: u8 = 0x01;
/// Bytes of the id between the first byte and the JPEG of a glimpse the server passes on.
pub const GLIMPSE_ID_LEN: usize = 16;
/// First byte of a sight frame.
pub const SIGHT: u8 = 0x02;
/// Frames waiting for one link's socket; more are dropped.
pub const VIEW_QUEUE: usize = 2;
/// How long an asked glimpse waits for its answer.
const GLIMPSE_TTL_MS: i64 = 30_000;
/// How often the sender hears how its sight flows.
const RATE_WINDOW: Duration = Duration::from_secs(1);
/// A frame may come this much sooner than the allowed rate says (clocks and encoders
/// jitter).
const RATE_SLACK: f64 = 0.8;
/// A frame may be this much larger than the allowed side (rounding of proportions).
const SIDE_SLACK: f64 = 1.05;

#[derive(Default)]
struct Inner {
    /// Account → (view id, the link's queue).
    viewers: HashMap<AccountId, Vec<(u64, mpsc::Sender<Bytes>)>>,
    /// Sender of a sight → how it flows.
    flows: HashMap<AccountId, Flow>,
    /// Asked account → the glimpse waiting for its answer.
    glimpses: HashMap<AccountId, Pending>,
}

struct Flow {
    window_start: Instant,
    sent: u32,
    delivered: u32,
    last_accepted: Option<Instant>,
}

struct Pending {
    asker: AccountId,
    side: u32,
    expires_ms: i64,
    /// The tier that must still be open when the answer comes: glimpse for an asked
    /// glimpse, images for the return glimpse of a picture sent.
    tier: Tier,
}

/// Camera frames between partners.
#[derive(Default)]
pub struct Relay {
    inner: Arc<Mutex<Inner>>,
    next_view: AtomicU64,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay").finish_non_exhaustive()
    }
}

/// One link's end of the relay: the frames for its socket. Dropping it deregisters the
/// link.
pub struct View {
    /// Binary frames to send to the socket.
    pub rx: mpsc::Receiver<Bytes>,
    id: u64,
    account: AccountId,
    inner: Arc<Mutex<Inner>>,
}

impl Drop for View {
    fn drop(&mut self) {
        let mut inner = self.inner.lock().expect("relay lock");
        if let Some(views) = inner.viewers.get_mut(&self.account) {
            views.retain(|(id, _)| *id != self.id);
            if views.is_empty() {
                inner.viewers.remove(&self.account);
            }
        }
    }
}

impl Relay {
    /// Registers a link of `account` to receive camera frames.
    pub fn attach(&self, account: AccountId) -> View {
        let (tx, rx) = mpsc::channel(VIEW_QUEUE);
        let id = self.next_view.fetch_add(1, Ordering::Relaxed);
        self.inner
            .lock()
            .expect("relay lock")
            .viewers
            .entry(account)
            .or_default()
            .push((id, tx));
        View {
            rx,
            id,
            account,
            inner: self.inner.clone(),
        }
    }

    /// Puts a frame in the queue of every link of `to` on this node that has room; true
    /// when at least one took it.
    pub(crate) fn deliver(&self, to: AccountId, frame: Bytes) -> bool {
        let inner = self.inner.lock().expect("relay lock");
        let Some(views) = inner.viewers.get(&to) else {
            return false;
        };
        let mut delivered = false;
        for (_, tx) in views {
            delivered |= tx.try_send(frame.clone()).is_ok();
        }
        delivered
    }

    /// Remembers a glimpse another node asked of `asked`, so an answer arriving here is
    /// taken.
    pub(crate) fn expect_glimpse(
        &self,
        asked: AccountId,
        asker: AccountId,
        side: u32,
        expires_ms: i64,
        tier: Tier,
    ) {
        self.inner.lock().expect("relay lock").glimpses.insert(
            asked,
            Pending {
                asker,
                side,
                expires_ms,
                tier,
            },
        );
    }

    /// Whether `account` allows their camera. Read from the store each time (not cached):
    /// with several nodes, a consent withdrawn on one must hold on every other at once.
    pub async fn consent<S: Store>(&self, store: &S, account: AccountId) -> Result<bool, ApiError> {
        Ok(store.camera_allowed(account).await?)
    }

    /// Records whether `account` allows their camera (committed first).
    pub async fn set_consent<S: Store>(
        &self,
        store: &S,
        account: AccountId,
        allow: bool,
    ) -> Result<(), ApiError> {
        store.set_camera_allowed(account, allow, now_ms()).await?;
        let mut inner = self.inner.lock().expect("relay lock");
        if !allow {
            inner.glimpses.remove(&account);
            inner.flows.remove(&account);
        }
        Ok(())
    }
}

fn camera_not_allowed(who: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "camera_not_allowed",
        format!("{who} has not allowed glimpses and sight through their camera"),
    )
}

/// A `glimpse_ask` from `asker`: checks the tier and the partner's consent, then asks the
/// partner's client for a frame.
pub async fn ask<S: Store, B: Bus>(app: &AppState<S, B>, asker: AccountId) -> Result<(), ApiError> {
    request(app, asker, Tier::Glimpse, false).await
}

/// The short return glimpse of sending a picture ("I saw you when I sent that image to
/// you"): the sender gets one glimpse of the receiver, within the images tier, if the
/// receiver allows their camera. Quietly nothing otherwise.
pub async fn return_glimpse<S: Store, B: Bus>(
    app: &AppState<S, B>,
    sender: AccountId,
) -> Result<(), ApiError> {
    match request(app, sender, Tier::Images, true).await {
        Err(e) if e.status() == StatusCode::FORBIDDEN => Ok(()),
        other => other,
    }
}

async fn request<S: Store, B: Bus>(
    app: &AppState<S, B>,
    asker: AccountId,
    tier: Tier,
    on_sending: bool,
) -> Result<(), ApiError> {
    let standing = app
        .hub
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
    if !app.sight.consent(&app.hub.store, partner).await? {
        return Err(camera_not_allowed(&standing.bond.names[partner_idx]));
    }
    let side = rendition_side(standing.bond.profile, standing.strength).of(u32::MAX);
    // Full size is the camera's own; a glimpse is never more than sight's largest frame.
    let side = side.min(haurach_bond::images::SIGHT_TOGETHER.side);
    let expires_ms = now_ms() + GLIMPSE_TTL_MS;
    app.sight
        .expect_glimpse(partner, asker, side, expires_ms, tier);
    // The partner's client may answer on another node.
    app.hub.bus.share(crate::bus::BondEvent::GlimpseAsked {
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
    crate::hub::publish_to(&app.hub.bus, partner, &frame);
    Ok(())
}

/// Passes a camera frame to the links of `to`: this node's through the relay, the other
/// nodes' over the bus. True when it was taken: by a link here, or (with several nodes)
/// by the bus, which cannot say whether a link there had room.
fn pass<S: Store, B: Bus>(app: &AppState<S, B>, to: AccountId, frame: Bytes) -> bool {
    let here = app.sight.deliver(to, frame.clone());
    if app.hub.bus.several_nodes() {
        app.hub.bus.publish_camera(to, frame);
        return true;
    }
    here
}

/// A binary frame from `account`'s link. Returns a frame to answer on the same link
/// (`glimpse_sent` for a glimpse, a `sight_rate` now and then), or an error for it.
pub async fn incoming<S: Store, B: Bus>(
    app: &AppState<S, B>,
    account: AccountId,
    frame: Bytes,
) -> Result<Option<ServerFrame>, ApiError> {
    match frame.first() {
        Some(&GLIMPSE) => glimpse(app, account, frame.slice(1..)).await.map(Some),
        Some(&SIGHT) => sight(app, account, frame).await,
        _ => Err(ApiError::bad_request(
            "binary_frame",
            "a binary frame is 0x01 + JPEG (a glimpse) or 0x02 + JPEG (sight)",
        )),
    }
}

/// The answer to a glimpse asked of `account`: re-encoded, given an id and passed to the
/// asker. Returns the `glimpse_sent` frame for the sender's link.
async fn glimpse<S: Store, B: Bus>(
    app: &AppState<S, B>,
    account: AccountId,
    jpeg: Bytes,
) -> Result<ServerFrame, ApiError> {
    let pending = app
        .sight
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
    let standing = app
        .hub
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
    let shown = {
        let _permit = app
            .pictures
            .work()
            .acquire()
            .await
            .map_err(ApiError::internal)?;
        tokio::task::spawn_blocking(move || -> Result<Vec<u8>, ApiError> {
            // A camera frame: a few megapixels at most.
            let limits = Limits {
                max_pixels: 8_000_000,
            };
            let accepted = haurach_picture::accept(&jpeg, limits)?;
            Ok(haurach_picture::render(&accepted.stripped, side)?)
        })
        .await
        .map_err(ApiError::internal)??
    };
    let id = Uuid::now_v7();
    let mut out = Vec::with_capacity(1 + GLIMPSE_ID_LEN + shown.len());
    out.push(GLIMPSE);
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(&shown);
    pass(app, pending.asker, Bytes::from(out));
    Ok(ServerFrame::GlimpseSent { glimpse: id })
}

async fn sight<S: Store, B: Bus>(
    app: &AppState<S, B>,
    account: AccountId,
    frame: Bytes,
) -> Result<Option<ServerFrame>, ApiError> {
    let standing = app
        .hub
        .standing(account, Tier::Sight)
        .await?
        .ok_or_else(|| ApiError::not_found("not_bonded", "you have no partner yet"))?;
    if !standing.open {
        app.sight
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
    if !app.sight.consent(&app.hub.store, account).await? {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "camera_not_allowed",
            "turn on your camera for your partner (PUT /api/v1/me/camera) before sending sight",
        ));
    }
    let params = sight_params(standing.bond.profile, standing.strength);
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
    let partner = standing.bond.members[1 - standing.idx];
    let now = Instant::now();
    let fits = f64::from(width.max(height)) <= f64::from(params.side) * SIDE_SLACK;
    let on_time = {
        let inner = app.sight.inner.lock().expect("relay lock");
        inner
            .flows
            .get(&account)
            .and_then(|f| f.last_accepted)
            .is_none_or(|last| now.duration_since(last).as_secs_f64() >= RATE_SLACK / params.fps)
    };
    let delivered = fits && on_time && pass(app, partner, frame);
    let mut inner = app.sight.inner.lock().expect("relay lock");
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
