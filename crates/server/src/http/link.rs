//! The live link (`GET /api/v1/link`): one WebSocket per connected client.
//!
//! On connect the link subscribes to the bus *first*, then sends `hello` and replays the
//! stored messages after the resume point, then forwards live frames, skipping live copies
//! of messages it has already replayed. Because the subscription starts before the replay,
//! nothing falls between the two; because it skips by sequence number, nothing is doubled.
//! With several nodes, a live message names the bond's message before it: when the link
//! has sent that one, the message follows on and is passed as it is. Otherwise it overtook
//! an earlier one (the partner's, crossing from another node, is overtaken by the
//! account's own, published here) or one was lost: the link holds it for up to
//! 50 ms (`AHEAD_WAIT`) for the missing ones to arrive live, and reads the store for them only
//! if they do not. The store is read on a lost message, never per message.
//!
//! Ownership: the link task owns its socket and its bus [`Subscription`](crate::bus::Subscription);
//! dropping them (on close, error, lag or shutdown) deregisters the link. The semaphore
//! permit it holds is released at the same moment.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt as _;
use haurach_proto::{ClientFrame, ServerFrame};
use serde::Deserialize;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use utoipa::IntoParams;

use super::account::fix_of;
use super::extract::Caller;
use super::state::AppState;
use crate::bus::Bus;
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::runtime::messages::message_view;
use haurach_store::{AccountId, Store};

/// `?after=SEQ` (and, from old clients, `?token=`, read by [`Caller`]).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkQuery {
    /// Replay the stored messages after this sequence number (by default, after the last
    /// one delivered to this account).
    after: Option<i64>,
}

/// The WebSocket subprotocol of the link, chosen when a client offers it (a browser
/// offers it beside `bearer.TOKEN`, [`BEARER_PROTOCOL`](super::extract::BEARER_PROTOCOL)).
pub const LINK_PROTOCOL: &str = "haurach";

/// WebSocket buffer sizes: small, so ten thousand idle links stay cheap (tungstenite's
/// default read buffer is 128 KiB per connection, and an idle link keeps what it reserved
/// for its next read). Client frames are small (a position is about 150 bytes: it comes in
/// one read); the buffer grows for a larger one (a message, a camera frame) and keeps
/// that size, so no frame after it allocates.
const READ_BUFFER: usize = 256;
const WRITE_BUFFER: usize = 4 * 1024;
/// The largest frame a client may send: a camera frame of the live sight (720 pixels at
/// most, usually 20-80 KiB as JPEG) fits with room to spare.
const MAX_CLIENT_FRAME: usize = 256 * 1024;
/// How long a link holds messages that came ahead of one it has not seen, waiting for it
/// to arrive live, before it reads the store (several nodes). A message crossing NATS
/// arrives within a millisecond or two; one that takes longer was lost or delayed, and
/// the store has it.
const AHEAD_WAIT: Duration = Duration::from_millis(50);
/// Messages a link holds ahead of a missing one at most; one more, and it reads the store.
const AHEAD_MAX: usize = 64;
/// Stored messages replayed per store query.
const REPLAY_PAGE: u32 = 500;
/// The most live frames written with one flush.
const WRITE_BATCH: usize = 32;

/// Upgrades to the live link.
#[utoipa::path(
    get,
    path = "/api/v1/link",
    tag = "bond",
    security(("bearer" = [])),
    params(
        LinkQuery,
        ("Sec-WebSocket-Protocol" = Option<String>, Header, description = "a browser's token: offer the subprotocols `haurach` and `bearer.TOKEN`; the server answers `haurach`"),
        ("token" = Option<String>, Query, deprecated, description = "the bearer token in the URL, kept for old clients (URLs end up in proxies' logs): send `Authorization: Bearer` or the `bearer.TOKEN` subprotocol instead"),
    ),
    responses(
        (status = 101, description = "the live link: a WebSocket of JSON text frames (docs/protocol.md)"),
        (status = 400, description = "`websocket_expected`: connect with a WebSocket client; `invalid_query`"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 503, description = "`too_many_links`: max_links are open"),
    )
)]
pub async fn upgrade<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    query: Result<Query<LinkQuery>, axum::extract::rejection::QueryRejection>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let Query(query) =
        query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text().to_lowercase()))?;
    let ws = ws.map_err(|_| {
        ApiError::bad_request(
            "websocket_expected",
            "the link is a WebSocket: connect with a WebSocket client",
        )
    })?;
    let permit = app.links.clone().try_acquire_owned().map_err(|_| {
        ApiError::unavailable(
            "too_many_links",
            "the server holds as many live links as it is configured for; try again later",
        )
    })?;
    Ok(ws
        // A browser that sent its token as a subprotocol hears `haurach` back (it must
        // hear one of those it offered); the token itself is never echoed.
        .protocols([LINK_PROTOCOL])
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(MAX_CLIENT_FRAME)
        .max_frame_size(MAX_CLIENT_FRAME)
        .on_upgrade(move |socket| link(app, caller, query.after, socket, permit))
        .into_response())
}

/// Why a link ended early.
#[derive(Debug, thiserror::Error)]
enum LinkError {
    #[error("socket: {0}")]
    Socket(#[from] axum::Error),
    #[error("{0}")]
    Api(#[from] ApiError),
    /// The session the link was opened with was logged out.
    #[error("the session was logged out")]
    LoggedOut,
}

async fn send(socket: &mut WebSocket, frame: &ServerFrame) -> Result<(), LinkError> {
    reply(socket, frame).await?;
    socket.flush().await?;
    Ok(())
}

/// Queues a frame without flushing it: for replies to a client frame, flushed by the
/// caller together with whatever else is waiting for the link.
async fn reply(socket: &mut WebSocket, frame: &ServerFrame) -> Result<(), LinkError> {
    let json = serde_json::to_string(frame).expect("server frames always serialise");
    socket.feed(WsMessage::Text(json.into())).await?;
    Ok(())
}

async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let _ = socket
        .send(WsMessage::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}

/// Closes the link with the code that says what was wrong with what the client sent
/// (RFC 6455 section 7.4.1): 1009 for a frame over [`MAX_CLIENT_FRAME`], 1007 for text
/// that is not UTF-8, 1002 for a broken frame. Any other socket error ends the link as
/// it is.
async fn refuse(socket: &mut WebSocket, err: axum::Error) -> Result<(), LinkError> {
    use tungstenite::Error as Ws;
    let inner = err.into_inner();
    let (code, reason) = match inner.downcast_ref::<Ws>() {
        Some(Ws::Capacity(_)) => (1009, "a frame is at most 256 KiB"),
        Some(Ws::Utf8(_)) => (1007, "a text frame must be UTF-8"),
        Some(Ws::Protocol(_)) => (1002, "the frame breaks the WebSocket protocol"),
        _ => return Err(LinkError::Socket(axum::Error::new(inner))),
    };
    close(socket, code, reason).await;
    Ok(())
}

/// A link from its upgrade to its end: the task an idle link is, so what it holds is
/// what an idle link costs (issue 21, idle memory). The socket and the permit live here
/// only (passed on by reference: an argument moved into an inner future is stored in
/// both), the setup (subscribing, the session check, `hello` and the replay) runs boxed
/// and is freed when done, and so does everything [`forward`] does but wait.
async fn link<S: Store, B: Bus>(
    app: AppState<S, B>,
    caller: Caller,
    after: Option<i64>,
    mut socket: WebSocket,
    _permit: OwnedSemaphorePermit,
) {
    app.hub.metrics.links.inc();
    if let Err(e) = run(&app, &caller, after, &mut socket).await {
        tracing::debug!(error = %e, "link ended");
    }
    app.hub.metrics.links.dec();
}

async fn run<S: Store, B: Bus>(
    app: &AppState<S, B>,
    caller: &Caller,
    after: Option<i64>,
    socket: &mut WebSocket,
) -> Result<(), LinkError> {
    // The session's token hash, which names it in the bus's `session_ended` frames (in
    // hex there: compared as it is, not kept as a string for every link).
    let session = caller.token_hash.as_slice();
    let mut shutdown = app.shutdown.clone();
    let Some(Opened {
        mut sub,
        mut view,
        mut last_sent,
    }) = Box::pin(open(app, caller, after, socket)).await?
    else {
        return Box::pin(logged_out(socket)).await;
    };
    match forward(
        app,
        caller.account,
        session,
        socket,
        &mut sub,
        &mut view,
        &mut shutdown,
        &mut last_sent,
    )
    .await
    {
        Err(LinkError::LoggedOut) => Box::pin(logged_out(socket)).await,
        other => other,
    }
}

/// What a link holds once [`open`].
struct Opened {
    sub: crate::bus::Subscription,
    view: crate::runtime::relay::View,
    /// The sequence number of the last message sent.
    last_sent: i64,
}

/// Subscribes the link, checks its session still stands, and greets it; `None` when the
/// session was logged out meanwhile.
async fn open<S: Store, B: Bus>(
    app: &AppState<S, B>,
    caller: &Caller,
    after: Option<i64>,
    socket: &mut WebSocket,
) -> Result<Option<Opened>, LinkError> {
    let hub = &app.hub;
    let account = caller.account;
    let sub = hub.bus.subscribe(account);
    // With several nodes: what other nodes publish reaches this link from here on, so
    // the replay below, read after it, leaves no gap.
    sub.ready().await;
    let view = app.hub.relay.attach(account);
    // Logged out between the upgrade and the subscription: nobody told this link.
    let still_in = hub
        .store
        .session_standing(&caller.token_hash)
        .await
        .map_err(ApiError::from)?;
    if still_in.is_none() {
        return Ok(None);
    }
    let last_sent = greet(app, account, after, socket).await?;
    Ok(Some(Opened {
        sub,
        view,
        last_sent,
    }))
}

/// Closes a link whose session was logged out.
async fn logged_out(socket: &mut WebSocket) -> Result<(), LinkError> {
    close(socket, 1008, "this session was logged out: log in again").await;
    Ok(())
}

/// Sends `hello` and replays the stored messages after the resume point; returns the
/// sequence number of the last message sent.
async fn greet<S: Store, B: Bus>(
    app: &AppState<S, B>,
    account: AccountId,
    after: Option<i64>,
    socket: &mut WebSocket,
) -> Result<i64, LinkError> {
    let hub = &app.hub;
    hub.heard(account).await?;
    let record = hub
        .store
        .account(account)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| ApiError::unauthorized("this account no longer exists"))?;
    // Never past the newest message: a link resuming after a number that does not exist
    // yet would skip every live message up to it (hardening finding 9).
    let resume_after = after
        .unwrap_or(record.delivered_seq)
        .min(hub.newest_seq(account).await?);
    let bond = hub.bond_view(account).await?;
    send(
        socket,
        &ServerFrame::Hello {
            you: record.name.clone(),
            bond: bond.map(Box::new),
            resume_after,
        },
    )
    .await?;

    // Replay what was stored after the resume point.
    let mut last_sent = resume_after;
    let sealed = hub.is_private(account).await?;
    if let Some(bond) = hub.store.bond_of(account).await.map_err(ApiError::from)? {
        loop {
            let page = hub
                .store
                .messages_after(bond.id, last_sent, REPLAY_PAGE)
                .await
                .map_err(ApiError::from)?;
            for m in &page {
                send(
                    socket,
                    &ServerFrame::Message {
                        message: message_view(&bond, m, sealed),
                    },
                )
                .await?;
                last_sent = m.seq;
            }
            if page.len() < REPLAY_PAGE as usize {
                break;
            }
        }
    }
    Ok(last_sent)
}

/// Sends the stored messages after `last_sent` up to `upto`, in order.
async fn catch_up<S: Store, B: Bus>(
    app: &AppState<S, B>,
    account: AccountId,
    socket: &mut WebSocket,
    last_sent: &mut i64,
    upto: i64,
) -> Result<(), LinkError> {
    let store = &app.hub.store;
    app.hub.metrics.links_store_reads.inc();
    let Some(bond) = store.bond_of(account).await.map_err(ApiError::from)? else {
        return Ok(());
    };
    let sealed = app.hub.is_private(account).await?;
    while *last_sent < upto {
        let page = store
            .messages_after(bond.id, *last_sent, REPLAY_PAGE)
            .await
            .map_err(ApiError::from)?;
        for m in page.iter().take_while(|m| m.seq <= upto) {
            send(
                socket,
                &ServerFrame::Message {
                    message: message_view(&bond, m, sealed),
                },
            )
            .await?;
            *last_sent = m.seq;
        }
        if page.len() < REPLAY_PAGE as usize || page.last().is_some_and(|m| m.seq >= upto) {
            break;
        }
    }
    Ok(())
}

/// Forwards live frames and takes the client's, until either side closes.
#[allow(clippy::too_many_arguments)]
async fn forward<S: Store, B: Bus>(
    app: &AppState<S, B>,
    account: AccountId,
    session: &[u8],
    socket: &mut WebSocket,
    sub: &mut crate::bus::Subscription,
    view: &mut crate::runtime::relay::View,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
    last_sent: &mut i64,
) -> Result<(), LinkError> {
    let hub = &app.hub;
    let mut idle = Idle::new(hub.config.link_idle_timeout());
    let mut ahead: Ahead = None;
    // Made once: a new one every turn of the loop joined and left the shutdown's list of
    // waiters (under its lock) for every frame in or out.
    let shutting_down = shutdown.changed();
    tokio::pin!(shutting_down);
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let Some(incoming) = incoming else { return Ok(()) };
                let incoming = match incoming {
                    Ok(incoming) => incoming,
                    Err(e) => return Box::pin(refuse(socket, e)).await,
                };
                idle.heard();
                match incoming {
                    WsMessage::Text(text) => {
                        // Boxed: the futures of handling a frame (store calls among them)
                        // are large, and would otherwise be part of every idle link's task.
                        Box::pin(handle(app, account, socket, text.as_str(), *last_sent)).await?;
                        // The reply was queued, not flushed: what the frame caused for
                        // this link (a message's own copy after `sent`) goes in the same
                        // write.
                        Box::pin(pass_waiting(app, account, session, socket, sub, last_sent, &mut ahead, None)).await?;
                    }
                    WsMessage::Binary(bytes) => {
                        Box::pin(camera_frame(app, account, socket, bytes)).await?;
                    }
                    WsMessage::Ping(_) => Box::pin(hub.heard(account)).await?,
                    // The answer to the server's own ping (`Idle`): the connection is
                    // alive, which is not the client saying it is there.
                    WsMessage::Pong(_) => {}
                    WsMessage::Close(_) => return Ok(()),
                }
            }
            Some(camera) = view.recv() => {
                Box::pin(socket.send(WsMessage::Binary(camera))).await?;
            }
            frame = sub.recv() => match frame {
                Ok(Some(frame)) => {
                    Box::pin(pass_waiting(app, account, session, socket, sub, last_sent, &mut ahead, Some(frame)))
                        .await?;
                }
                Ok(None) => return Ok(()),
                Err(_lagged) => {
                    hub.metrics.links_lagged.inc();
                    // 1013: try again later. The client resumes with ?after=SEQ and the
                    // store gives it whatever it missed.
                    Box::pin(close(socket, 1013, "fell behind: reconnect with ?after=SEQ")).await;
                    return Ok(());
                }
            },
            () = overdue(&mut ahead), if ahead.is_some() => {
                // The messages held did not all come live in time: the store has them.
                Box::pin(read_ahead(app, account, socket, last_sent, &mut ahead)).await?;
                socket.flush().await?;
            }
            _ = idle.tick() => {
                // Every third of the timeout, never per frame: the queues give back their
                // slots if nothing waits, so a quiet link holds only what it waits in
                // (issue 21, idle memory).
                sub.shed();
                view.shed();
                match idle.due() {
                    Due::Nothing => {}
                    Due::Ping => Box::pin(socket.send(WsMessage::Ping(Default::default()))).await?,
                    Due::Close => {
                        hub.metrics.links_idle_closed.inc();
                        Box::pin(close(socket, 1001, "silent for too long: reconnect")).await;
                        return Ok(());
                    }
                }
            }
            _ = &mut shutting_down => {
                Box::pin(close(socket, 1001, "server shutting down")).await;
                return Ok(());
            }
        }
    }
}

/// A camera frame from the client (glimpse and sight, [`crate::runtime::sight`]), and
/// what the client is told of it. Its own function, boxed by the caller: a frame being
/// written is held across the write, and an idle link's task would hold room for it.
async fn camera_frame<S: Store, B: Bus>(
    app: &AppState<S, B>,
    account: AccountId,
    socket: &mut WebSocket,
    bytes: axum::body::Bytes,
) -> Result<(), LinkError> {
    match app.hub.camera_frame(account, bytes).await {
        Ok(Some(frame)) => send(socket, &frame).await,
        Ok(None) => Ok(()),
        Err(e) => {
            let problem = e.problem();
            send(socket, &ServerFrame::Error { id: None, problem }).await
        }
    }
}

/// What a silent link is owed (the setting `link_idle_timeout_s`): a ping after a third of
/// the timeout without a frame from the client, and the close when the whole timeout has
/// passed. A peer that has vanished (a phone gone out of range, a NAT that forgot the
/// connection) sends no TCP reset, so without this its link, and its slot of `max_links`,
/// would be held until the kernel gave up on the socket, hours later.
struct Idle {
    timeout: Duration,
    last_heard: Instant,
    ticks: tokio::time::Interval,
}

/// What [`Idle::due`] asks of the link at a tick.
enum Due {
    Nothing,
    Ping,
    Close,
}

impl Idle {
    fn new(timeout: Duration) -> Idle {
        let period = timeout / 3;
        let mut ticks = tokio::time::interval_at(Instant::now() + period, period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Idle {
            timeout,
            last_heard: Instant::now(),
            ticks,
        }
    }

    /// A frame (any frame, a pong included) came from the client.
    fn heard(&mut self) {
        self.last_heard = Instant::now();
    }

    async fn tick(&mut self) {
        self.ticks.tick().await;
    }

    fn due(&self) -> Due {
        let silent = self.last_heard.elapsed();
        if silent >= self.timeout {
            Due::Close
        } else if silent >= self.ticks.period() {
            Due::Ping
        } else {
            Due::Nothing
        }
    }
}

/// Writes `first` and every live frame already waiting (up to [`WRITE_BATCH`]) with one
/// flush: under load one system call carries several frames. A lag is left for the next
/// [`Subscription::recv`](crate::bus::Subscription::recv) to report.
#[allow(clippy::too_many_arguments)]
async fn pass_waiting<S: Store, B: Bus>(
    app: &AppState<S, B>,
    account: AccountId,
    session: &[u8],
    socket: &mut WebSocket,
    sub: &mut crate::bus::Subscription,
    last_sent: &mut i64,
    ahead: &mut Ahead,
    first: Option<crate::bus::Frame>,
) -> Result<(), LinkError> {
    let mut next = first;
    for _ in 0..WRITE_BATCH {
        let Some(frame) = next.take().or_else(|| sub.try_recv().ok().flatten()) else {
            break;
        };
        pass(app, account, session, socket, last_sent, ahead, frame).await?;
    }
    socket.flush().await?;
    Ok(())
}

/// Queues one live frame for the socket (the caller flushes), skipping a message already
/// sent; with several nodes, first sends any stored message the frame may have overtaken.
async fn pass<S: Store, B: Bus>(
    app: &AppState<S, B>,
    account: AccountId,
    session: &[u8],
    socket: &mut WebSocket,
    last_sent: &mut i64,
    ahead: &mut Ahead,
    frame: crate::bus::Frame,
) -> Result<(), LinkError> {
    if let Some(ended) = frame.ended_session() {
        // Another session of the account ending is not this link's business.
        return if crate::bus::is_hex_of(ended, session) {
            Err(LinkError::LoggedOut)
        } else {
            Ok(())
        };
    }
    if frame.seq().is_some_and(|seq| seq <= *last_sent) {
        return Ok(());
    }
    if let Some(seq) = frame.seq() {
        if app.hub.bus.several_nodes() {
            return pass_message(app, account, socket, last_sent, ahead, seq, frame).await;
        }
        *last_sent = seq;
    }
    socket
        .feed(WsMessage::Text(frame.json.as_ref().into()))
        .await?;
    Ok(())
}

/// Messages that came ahead of one the link has not seen (several nodes), by sequence
/// number, and when the link stops waiting for the missing ones. Boxed, and `None` while
/// nothing is held: an idle link's task holds only the pointer.
type Ahead = Option<Box<Held>>;

struct Held {
    frames: std::collections::BTreeMap<i64, crate::bus::Frame>,
    until: std::pin::Pin<Box<tokio::time::Sleep>>,
}

/// Resolves when the messages held have waited [`AHEAD_WAIT`]; never while none is.
async fn overdue(ahead: &mut Ahead) {
    match ahead {
        Some(held) => held.until.as_mut().await,
        None => std::future::pending().await,
    }
}

/// Queues a live message (several nodes publish). When it names the message before it
/// and this link has sent that one, it follows on; when it names one not sent yet, it
/// overtook it (or that one was lost) and waits in `ahead`; when it names none, the store
/// has them all, in order. Then whatever waited and now follows goes too.
async fn pass_message<S: Store, B: Bus>(
    app: &AppState<S, B>,
    account: AccountId,
    socket: &mut WebSocket,
    last_sent: &mut i64,
    ahead: &mut Ahead,
    seq: i64,
    frame: crate::bus::Frame,
) -> Result<(), LinkError> {
    match frame.previous() {
        Some(before) if before <= *last_sent => {
            send_next(socket, last_sent, seq, &frame).await?;
        }
        Some(_) => {
            let held = ahead.get_or_insert_with(|| {
                Box::new(Held {
                    frames: std::collections::BTreeMap::new(),
                    until: Box::pin(tokio::time::sleep(AHEAD_WAIT)),
                })
            });
            held.frames.insert(seq, frame);
            if held.frames.len() > AHEAD_MAX {
                return Box::pin(read_ahead(app, account, socket, last_sent, ahead)).await;
            }
            return Ok(());
        }
        None => {
            Box::pin(catch_up(app, account, socket, last_sent, seq)).await?;
            if *last_sent < seq {
                send_next(socket, last_sent, seq, &frame).await?;
            }
        }
    }
    release(socket, last_sent, ahead).await
}

/// Queues a live message frame for the socket: the link has now sent up to `seq`.
async fn send_next(
    socket: &mut WebSocket,
    last_sent: &mut i64,
    seq: i64,
    frame: &crate::bus::Frame,
) -> Result<(), LinkError> {
    *last_sent = seq;
    socket
        .feed(WsMessage::Text(frame.json.as_ref().into()))
        .await?;
    Ok(())
}

/// Queues the messages held that now follow on, in order, and forgets those already sent.
async fn release(
    socket: &mut WebSocket,
    last_sent: &mut i64,
    ahead: &mut Ahead,
) -> Result<(), LinkError> {
    let Some(held) = ahead else { return Ok(()) };
    while let Some(first) = held.frames.first_entry() {
        let seq = *first.key();
        if seq <= *last_sent {
            first.remove();
        } else if first.get().previous().is_some_and(|b| b <= *last_sent) {
            let frame = first.remove();
            send_next(socket, last_sent, seq, &frame).await?;
        } else {
            break;
        }
    }
    if held.frames.is_empty() {
        *ahead = None;
    }
    Ok(())
}

/// The messages held waited too long (or too many wait): sends what the store holds up to
/// the newest of them, then any the store did not give (none, as every message is stored
/// before it is published).
async fn read_ahead<S: Store, B: Bus>(
    app: &AppState<S, B>,
    account: AccountId,
    socket: &mut WebSocket,
    last_sent: &mut i64,
    ahead: &mut Ahead,
) -> Result<(), LinkError> {
    let Some(held) = ahead.take() else {
        return Ok(());
    };
    let Some(&newest) = held.frames.keys().next_back() else {
        return Ok(());
    };
    catch_up(app, account, socket, last_sent, newest).await?;
    for (seq, frame) in held.frames {
        if seq > *last_sent {
            send_next(socket, last_sent, seq, &frame).await?;
        }
    }
    Ok(())
}

/// Reads a client's text frame: refused when it carries U+0000, is not JSON, or is not
/// a frame a client sends. Pure, so the fuzz target `link_frame` runs exactly this.
pub fn parse_client_frame(text: &str) -> Result<ClientFrame, ApiError> {
    if super::problem::has_escaped_nul(text.as_bytes()) {
        return Err(super::problem::nul_refused());
    }
    if let Some(update) = position_first(text) {
        return Ok(ClientFrame::Position(update));
    }
    serde_json::from_str(text).map_err(|e| {
        if e.is_data() {
            ApiError::invalid("invalid_frame", format!("cannot take this frame: {e}"))
        } else {
            ApiError::bad_request("malformed_json", format!("frame is not JSON: {e}"))
        }
    })
}

/// A `position` frame read straight into its fields, when `type` comes first (as every
/// client writes it). serde reads an internally tagged enum by first copying the whole
/// frame into a tree of its own, and on a link that sends a fix a second that copy was a
/// twentieth of the node's work (issue 21). `None` for any other frame, or for anything
/// this reading does not take: [`parse_client_frame`] then reads it the general way, so
/// what a frame means, and every error, is the same either way (the fuzz target
/// `link_frame` checks it).
pub fn position_first(text: &str) -> Option<haurach_proto::PositionUpdate> {
    use serde::de::value::MapAccessDeserializer;
    use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

    struct PositionFirst;
    impl<'de> Visitor<'de> for PositionFirst {
        type Value = Option<haurach_proto::PositionUpdate>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a position frame with its type first")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            // Leaving the map half read makes the reading fail, which is what is wanted.
            if map.next_key::<&str>()? != Some("type") || map.next_value::<&str>()? != "position" {
                return Ok(None);
            }
            haurach_proto::PositionUpdate::deserialize(MapAccessDeserializer::new(map)).map(Some)
        }
    }

    let mut de = serde_json::Deserializer::from_str(text);
    let update = de.deserialize_map(PositionFirst).ok()??;
    de.end().ok()?;
    Some(update)
}

/// Takes one client frame; `last_sent` is the newest message this link has sent.
async fn handle<S: Store, B: Bus>(
    app: &AppState<S, B>,
    account: AccountId,
    socket: &mut WebSocket,
    text: &str,
    last_sent: i64,
) -> Result<(), LinkError> {
    let hub = &app.hub;
    let frame = match parse_client_frame(text) {
        Ok(frame) => frame,
        Err(e) => {
            let problem = e.problem();
            return reply(socket, &ServerFrame::Error { id: None, problem }).await;
        }
    };
    // Any frame shows the client is there; a position says so itself.
    if !matches!(frame, ClientFrame::Position(_)) {
        hub.heard(account).await?;
    }
    let result = match frame {
        ClientFrame::Position(update) => match fix_of(&at_most_now(update), now_ms()) {
            Ok(fix) => {
                if let Some(percent) = update.battery {
                    hub.note_battery(account, percent).await?;
                }
                hub.position(account, fix, update.by_hand, false).await
            }
            Err(e) => {
                hub.heard(account).await?;
                Err(e)
            }
        },
        ClientFrame::Send(message) => {
            let id = message.id.clone();
            match hub.send_message(account, message).await {
                Ok((m, _)) => {
                    return reply(socket, &ServerFrame::Sent { id, seq: m.seq }).await;
                }
                Err(e) => {
                    let problem = e.problem();
                    return reply(
                        socket,
                        &ServerFrame::Error {
                            id: Some(id),
                            problem,
                        },
                    )
                    .await;
                }
            }
        }
        // What this link sent is known to exist; anything newer is checked.
        ClientFrame::Ack { seq } if seq <= last_sent => hub.delivered_seen(account, seq).await,
        ClientFrame::Ack { seq } => hub.delivered(account, seq).await,
        ClientFrame::AckAlarm { seq } => hub.acknowledge_alarm(account, seq).await.map(|_| ()),
        ClientFrame::Thought { seq, reset, edits } => {
            hub.thought(account, seq, reset, edits).await.map(|_| ())
        }
        ClientFrame::SealedThought { sealed } => {
            hub.sealed_thought(account, sealed).await.map(|_| ())
        }
        ClientFrame::Guard { on } => hub.guard(account, on).await,
        ClientFrame::Heartbeat => Ok(()),
        ClientFrame::GlimpseAsk => app.hub.ask_glimpse(account).await,
        ClientFrame::Report(report) => hub.token_report(account, &report).await,
        ClientFrame::SealedFix { sealed } => hub.sealed_fix(account, sealed).await,
        ClientFrame::Trace(trace) => app.hub.trace(account, trace).await,
        ClientFrame::SealedTrace { sealed } => app.hub.sealed_trace(account, sealed).await,
    };
    match result {
        Ok(()) => Ok(()),
        Err(e) => {
            let problem = e.problem();
            reply(socket, &ServerFrame::Error { id: None, problem }).await
        }
    }
}

/// A link position's time, no later than the server's now. The web client sends when its
/// device took the fix, so that a fix it sends again (a page waking up) does not win over
/// a newer one from another device; a device whose clock runs fast would otherwise have
/// every fix refused, where before it sent no time at all and was taken as now.
fn at_most_now(mut update: haurach_proto::PositionUpdate) -> haurach_proto::PositionUpdate {
    let now = crate::clock::timestamp(now_ms());
    update.at = update.at.map(|at| at.min(now));
    update
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `text` the general way only, as `parse_client_frame` did before
    /// [`position_first`].
    fn general(text: &str) -> Option<ClientFrame> {
        serde_json::from_str(text).ok()
    }

    #[test]
    fn a_position_read_directly_is_the_position_the_general_reading_gives() {
        let taken = [
            r#"{"type":"position","lat":48.85,"lon":2.35}"#,
            r#"{"type":"position","lon":2.35,"lat":48,"accuracy_m":12.5,"battery":80}"#,
            r#" { "type" : "position" , "lat" : -33.9, "lon" : 151.2, "by_hand" : true,
                  "at" : "2026-12-07T08:00:00.250Z", "accuracy_m" : null } "#,
        ];
        for text in taken {
            let direct = position_first(text).expect("read directly");
            assert_eq!(general(text), Some(ClientFrame::Position(direct)), "{text}");
            assert_eq!(parse_client_frame(text).ok(), general(text), "{text}");
        }
        // Left to the general reading, which gives the frame or the error it always gave.
        let left = [
            r#"{"lat":48.85,"lon":2.35,"type":"position"}"#,
            r#"{"type":"heartbeat"}"#,
            r#"{"type":"position","lat":48.85,"lon":2.35,"type":"position"}"#,
            r#"{"type":"position","lat":48.85,"lon":2.35,"colour":"red"}"#,
            r#"{"type":"position","lat":48.85,"lon":2.35,"battery":50.5}"#,
            r#"{"type":"position","lat":48.85,"lon":2.35} trailing"#,
            r#"{"\u0074ype":"position","lat":48.85,"lon":2.35}"#,
            r#"{"type":"position","lat":48.85}"#,
        ];
        for text in left {
            assert_eq!(position_first(text), None, "{text}");
            assert_eq!(parse_client_frame(text).ok(), general(text), "{text}");
        }
        // Its type last, the same fix is still taken, the general way.
        let moved = ClientFrame::Position(position_first(taken[0]).expect("read directly"));
        assert_eq!(parse_client_frame(left[0]).ok(), Some(moved));
    }
}
