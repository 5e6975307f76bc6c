//! The NATS bus: live events between the nodes of one city, over a NATS server (core
//! publish/subscribe; no JetStream, so Debian's nats-server 2.9 is enough).
//!
//! Subjects:
//! - `haurach.acct.<account id>`: a frame for every link of an account. The payload is
//!   the message's sequence number (8 bytes, big-endian; `i64::MIN` for none) followed by
//!   the frame's JSON.
//! - `haurach.bond.<bond id>`: a [`BondEvent`] as JSON.
//! - `haurach.cam.<account id>`: a camera frame (glimpse or sight) for the account's links,
//!   as the link sends it (`0x01`/`0x02` + JPEG).
//!
//! Each node subscribes to both wildcards, and connects with `no_echo`, so it never hears
//! its own events back: it delivers them to its own links directly. Core NATS delivers at
//! most once; nothing that must not be lost travels only here: messages are in the store,
//! and a link that sees a gap reads them from there.

use std::sync::{Arc, Mutex};

use async_nats::connection::State;
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{BondEvent, Bus, Frame, LocalBus, Subscription};
use haurach_store::AccountId;

/// Frames waiting to be handed to the NATS client. When NATS is unreachable for long
/// enough to fill this, further live frames are dropped (and counted): they are live
/// views, and what must not be lost is in the store.
const OUTBOX: usize = 65_536;

/// Shared changes waiting for the hub.
const INBOX: usize = 65_536;

/// Camera frames from other nodes, each for an account's links.
type CameraFrames = mpsc::Receiver<(AccountId, Bytes)>;

/// Camera frames from other nodes waiting for this node's relay; more are dropped (a
/// live view, never queued without bound).
const CAMERA_INBOX: usize = 64;

enum Outgoing {
    Frame(AccountId, Frame),
    Bond(BondEvent),
    Camera(AccountId, Bytes),
}

/// The bus over NATS. Cloning shares the connection.
#[derive(Clone)]
pub struct NatsBus {
    local: LocalBus,
    client: async_nats::Client,
    outbox: mpsc::Sender<Outgoing>,
    inbox: Arc<Mutex<Option<mpsc::Receiver<BondEvent>>>>,
    cameras: Arc<Mutex<Option<CameraFrames>>>,
    dropped: Arc<std::sync::atomic::AtomicU64>,
}

/// NATS could not be reached at start.
#[derive(Debug, thiserror::Error)]
#[error("cannot reach NATS at {url}: {why}")]
pub struct NatsError {
    url: String,
    why: String,
}

impl NatsBus {
    /// Connects to the NATS server at `url` and starts carrying events. Fails when the
    /// server cannot be reached now; once connected, the client reconnects by itself
    /// whenever the connection drops.
    pub async fn connect(url: &str) -> Result<NatsBus, NatsError> {
        let err = |why: String| NatsError {
            url: url.to_owned(),
            why,
        };
        let client = async_nats::ConnectOptions::new()
            .name("haurach")
            .no_echo()
            .event_callback(|event| async move {
                match event {
                    async_nats::Event::Connected => tracing::info!("NATS connected"),
                    other => tracing::warn!(event = %other, "NATS"),
                }
            })
            .connect(url)
            .await
            .map_err(|e| err(e.to_string()))?;
        let frames = client
            .subscribe("haurach.acct.*")
            .await
            .map_err(|e| err(e.to_string()))?;
        let bonds = client
            .subscribe("haurach.bond.*")
            .await
            .map_err(|e| err(e.to_string()))?;
        let camera_frames = client
            .subscribe("haurach.cam.*")
            .await
            .map_err(|e| err(e.to_string()))?;
        let local = LocalBus::new();
        let (outbox, out_rx) = mpsc::channel(OUTBOX);
        let (in_tx, inbox) = mpsc::channel(INBOX);
        let (cam_tx, cameras) = mpsc::channel(CAMERA_INBOX);
        tokio::spawn(deliver(frames, local.clone()));
        tokio::spawn(receive_bond_events(bonds, in_tx));
        tokio::spawn(receive_camera_frames(camera_frames, cam_tx));
        tokio::spawn(send(client.clone(), out_rx));
        Ok(NatsBus {
            local,
            client,
            outbox,
            inbox: Arc::new(Mutex::new(Some(inbox))),
            cameras: Arc::new(Mutex::new(Some(cameras))),
            dropped: Arc::default(),
        })
    }

    /// Live frames dropped because NATS was unreachable for too long.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn enqueue(&self, out: Outgoing) {
        if self.outbox.try_send(out).is_err() {
            self.dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

impl Bus for NatsBus {
    fn publish(&self, account: AccountId, frame: Frame) {
        self.local.publish(account, frame.clone());
        self.enqueue(Outgoing::Frame(account, frame));
    }

    fn publish_local(&self, account: AccountId, frame: Frame) {
        self.local.publish(account, frame);
    }

    fn subscribe(&self, account: AccountId) -> Subscription {
        self.local.subscribe(account)
    }

    fn several_nodes(&self) -> bool {
        true
    }

    fn share(&self, event: BondEvent) {
        self.enqueue(Outgoing::Bond(event));
    }

    fn take_bond_events(&self) -> Option<mpsc::Receiver<BondEvent>> {
        self.inbox.lock().expect("bus lock").take()
    }

    fn publish_camera(&self, to: AccountId, frame: Bytes) {
        self.enqueue(Outgoing::Camera(to, frame));
    }

    fn take_camera_frames(&self) -> Option<mpsc::Receiver<(AccountId, Bytes)>> {
        self.cameras.lock().expect("bus lock").take()
    }

    fn healthy(&self) -> bool {
        self.client.connection_state() == State::Connected
    }
}

/// Hands outgoing events to the NATS client, in order.
async fn send(client: async_nats::Client, mut out: mpsc::Receiver<Outgoing>) {
    while let Some(next) = out.recv().await {
        let (subject, payload) = match next {
            Outgoing::Frame(account, frame) => {
                let mut buf = BytesMut::with_capacity(8 + frame.json.len());
                buf.put_i64(frame.seq.unwrap_or(i64::MIN));
                buf.put_slice(frame.json.as_bytes());
                (format!("haurach.acct.{}", account.0), buf.freeze())
            }
            Outgoing::Camera(account, frame) => (format!("haurach.cam.{}", account.0), frame),
            Outgoing::Bond(event) => {
                let json = serde_json::to_vec(&event).expect("bond events serialise");
                (format!("haurach.bond.{}", event.about()), Bytes::from(json))
            }
        };
        if let Err(e) = client.publish(subject, payload).await {
            tracing::warn!(error = %e, "NATS publish failed");
        }
    }
}

/// Delivers frames other nodes published to this node's links.
async fn deliver(mut frames: async_nats::Subscriber, local: LocalBus) {
    while let Some(msg) = frames.next().await {
        let Some(account) = msg
            .subject
            .as_str()
            .strip_prefix("haurach.acct.")
            .and_then(|id| Uuid::parse_str(id).ok())
        else {
            continue;
        };
        let payload = msg.payload;
        if payload.len() < 8 {
            continue;
        }
        let seq = i64::from_be_bytes(payload[..8].try_into().expect("8 bytes"));
        let Ok(json) = std::str::from_utf8(&payload[8..]) else {
            continue;
        };
        local.publish(
            AccountId(account),
            Frame {
                seq: (seq != i64::MIN).then_some(seq),
                json: json.into(),
            },
        );
    }
}

/// Passes camera frames other nodes publish to this node's relay, dropping what finds
/// no room.
async fn receive_camera_frames(
    mut frames: async_nats::Subscriber,
    to: mpsc::Sender<(AccountId, Bytes)>,
) {
    while let Some(msg) = frames.next().await {
        let Some(account) = msg
            .subject
            .as_str()
            .strip_prefix("haurach.cam.")
            .and_then(|id| Uuid::parse_str(id).ok())
        else {
            continue;
        };
        match to.try_send((AccountId(account), msg.payload)) {
            Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
    }
}

/// Passes the bond events other nodes share to the hub.
async fn receive_bond_events(mut events: async_nats::Subscriber, to: mpsc::Sender<BondEvent>) {
    while let Some(msg) = events.next().await {
        match serde_json::from_slice::<BondEvent>(&msg.payload) {
            Ok(event) => {
                if to.send(event).await.is_err() {
                    return;
                }
            }
            Err(e) => tracing::warn!(error = %e, subject = %msg.subject, "bad bond event"),
        }
    }
}
