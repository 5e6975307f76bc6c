//! The NATS bus: live events between the nodes of one city, over a NATS server (core
//! publish/subscribe; no JetStream, so Debian's nats-server 2.9 is enough).
//!
//! Subjects:
//! - `haurach.acct.<account id>.f`: a frame for every link of an account. The payload is
//!   the message's sequence number, then the sequence number of the bond's message
//!   before it (8 bytes each, big-endian; `i64::MIN` for none), then the frame's JSON.
//! - `haurach.acct.<account id>.c`: a camera frame (glimpse or sight) for the account's
//!   links, as the link sends it (`0x01`/`0x02` + JPEG).
//! - `haurach.acct.<account id>.g`: a glimpse asked of the account ([`BondEvent`] JSON),
//!   for the node its client answers on.
//! - `haurach.bond.<bond id>`: a change of a bond's live state ([`BondEvent`] JSON).
//! - `haurach.city`: the rare changes any node may have cached: a bond made, a person's
//!   places, a summons ([`BondEvent`] JSON).
//!
//! A node subscribes to `haurach.acct.<id>.*` while a link of that account is connected
//! to it, and to `haurach.bond.<id>` while it holds that bond's runtime ([`Interest`]);
//! only `haurach.city` always. So each node receives the traffic of the people it
//! serves, not the whole city's: with N nodes, not N times the work (issue 21; the
//! wildcards it replaces made every node receive everything).
//!
//! Each node connects with `no_echo`, so it never hears its own events back: it delivers
//! them to its own links directly. Core NATS delivers at most once; nothing that must not
//! be lost travels only here: messages are in the store, and a link that sees a gap reads
//! them from there.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use async_nats::connection::State;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_util::{FutureExt, StreamExt};
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use super::{Applier, Audience, BondEvent, Bus, Frame, Interest, LocalBus, Subscription};
use haurach_store::AccountId;

/// Commands waiting in the NATS client for its connection (its `client_capacity`). When
/// NATS is unreachable for long enough to fill this, further live frames are dropped
/// (and counted): they are live views, and what must not be lost is in the store.
const OUTBOX: usize = 65_536;

/// Camera frames from other nodes, each for an account's links.
type CameraFrames = mpsc::Receiver<(AccountId, Bytes)>;

/// Camera frames from other nodes waiting for this node's relay; more are dropped (a
/// live view, never queued without bound).
const CAMERA_INBOX: usize = 64;

/// The subject every node always listens on.
const CITY: &str = "haurach.city";

/// The bus over NATS. Cloning shares the connection.
#[derive(Clone)]
pub struct NatsBus {
    local: LocalBus,
    client: async_nats::Client,
    interests: Arc<Interests>,
    applier: watch::Sender<Option<Applier>>,
    /// What is being gathered for the next write, when the node batches.
    batch: Option<Arc<Batch>>,
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
    /// whenever the connection drops (and subscribes again to what it had).
    ///
    /// With a `batch` longer than zero, this node writes to NATS at most once per
    /// `batch`: what it shares goes at once when nothing went for that long, else waits
    /// for the next write, gathered with whatever else it shares meanwhile (`Gate`).
    pub async fn connect(url: &str, batch: Duration) -> Result<NatsBus, NatsError> {
        let err = |why: String| NatsError {
            url: url.to_owned(),
            why,
        };
        let client = async_nats::ConnectOptions::new()
            .name("haurach")
            .no_echo()
            .client_capacity(OUTBOX)
            .event_callback(|event| async move {
                match event {
                    async_nats::Event::Connected => tracing::info!("NATS connected"),
                    other => tracing::warn!(event = %other, "NATS"),
                }
            })
            .connect(url)
            .await
            .map_err(|e| err(e.to_string()))?;
        let city = client
            .subscribe(CITY)
            .await
            .map_err(|e| err(e.to_string()))?;
        let local = LocalBus::new();
        let (applier, applier_rx) = watch::channel(None);
        let dropped = Arc::<std::sync::atomic::AtomicU64>::default();
        let batch = (!batch.is_zero()).then(|| {
            let gathering = Arc::new(Batch {
                gate: Mutex::new(Gate {
                    wait: batch,
                    ..Gate::default()
                }),
                wake: tokio::sync::Notify::new(),
            });
            tokio::spawn(flush_batches(
                client.clone(),
                gathering.clone(),
                dropped.clone(),
            ));
            gathering
        });
        let (cam_tx, cameras) = mpsc::channel(CAMERA_INBOX);
        let sink = Sink {
            local: local.clone(),
            applier: applier_rx,
            cameras: cam_tx,
        };
        tokio::spawn(sink.clone().drain(city));
        Ok(NatsBus {
            local,
            interests: Arc::new(Interests {
                client: client.clone(),
                sink,
                held: Mutex::default(),
            }),
            client,
            applier,
            batch,
            cameras: Arc::new(Mutex::new(Some(cameras))),
            dropped,
        })
    }

    /// Hands a message to the NATS client's queue, in the caller's order, without
    /// waiting: one task hop fewer per event than a queue of our own with a task
    /// draining it (issue 21); or, when the node batches, to the batch being gathered.
    /// A full queue or batch drops it.
    fn enqueue(&self, subject: String, payload: Bytes) {
        if let Some(batch) = &self.batch {
            let mut gate = batch.gate.lock().expect("batch lock");
            match gate.offer(Instant::now(), OUTBOX) {
                Offer::Send => {
                    // Under the lock: a batch being flushed cannot be overtaken.
                    self.publish_now(subject, payload);
                }
                Offer::Gather { first } => {
                    gate.pending.push((subject, payload));
                    if first {
                        batch.wake.notify_one();
                    }
                }
                Offer::Full => {
                    self.dropped
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
            return;
        }
        self.publish_now(subject, payload);
    }

    fn publish_now(&self, subject: String, payload: Bytes) {
        publish_now(&self.client, &self.dropped, subject, payload);
    }

    /// Hands a message to the NATS client now, behind whatever the batch being gathered
    /// holds (so nothing this node shares is overtaken), and counts that as a write.
    fn enqueue_at_once(&self, subject: String, payload: Bytes) {
        // The gate stays locked until this message is handed over, so nothing gathered
        // meanwhile can go ahead of it.
        let mut gate = self
            .batch
            .as_ref()
            .map(|batch| batch.gate.lock().expect("batch lock"));
        if let Some(gate) = gate.as_mut() {
            for (subject, payload) in gate.take(Instant::now()) {
                self.publish_now(subject, payload);
            }
        }
        self.publish_now(subject, payload);
    }
}

/// Hands one message to the NATS client's queue without waiting; a full queue drops it,
/// counted. Outside tokio's cooperative budget: a task that has used its budget (the
/// flusher handing over a large batch, a link task after many frames) would otherwise
/// see the queue's semaphore say "not yet" however empty the queue, and drop what it
/// shares (seen in the bench: hundreds of updates lost a run with 5 ms batches).
fn publish_now(
    client: &async_nats::Client,
    dropped: &std::sync::atomic::AtomicU64,
    subject: String,
    payload: Bytes,
) {
    match tokio::task::unconstrained(client.publish(subject, payload)).now_or_never() {
        Some(Ok(())) => {}
        Some(Err(e)) => tracing::warn!(error = %e, "NATS publish failed"),
        None => {
            dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

impl Bus for NatsBus {
    fn publish(&self, account: AccountId, frame: Frame) {
        self.local.publish(account, frame.clone());
        self.enqueue(
            format!("haurach.acct.{}.f", account.0),
            frame_payload(&frame),
        );
    }

    fn publish_local(&self, account: AccountId, frame: Frame) {
        self.local.publish(account, frame);
    }

    fn subscribe(&self, account: AccountId) -> Subscription {
        let interest = self
            .interests
            .follow(format!("haurach.acct.{}.*", account.0));
        self.local.subscribe(account).with(interest)
    }

    fn has_link(&self, account: AccountId) -> bool {
        self.local.has_link(account)
    }

    fn follow_bond(&self, bond: Uuid) -> Interest {
        self.interests.follow(format!("haurach.bond.{bond}"))
    }

    fn several_nodes(&self) -> bool {
        true
    }

    fn share(&self, event: BondEvent) {
        self.enqueue(subject_of(&event), event_payload(&event));
    }

    fn share_at_once(&self, event: BondEvent) {
        self.enqueue_at_once(subject_of(&event), event_payload(&event));
    }

    fn apply_with(&self, applier: Applier) {
        self.applier.send_replace(Some(applier));
    }

    fn publish_camera(&self, to: AccountId, frame: Bytes) {
        self.enqueue(format!("haurach.acct.{}.c", to.0), frame);
    }

    fn take_camera_frames(&self) -> Option<mpsc::Receiver<(AccountId, Bytes)>> {
        self.cameras.lock().expect("bus lock").take()
    }

    fn healthy(&self) -> bool {
        self.client.connection_state() == State::Connected
    }

    fn dropped(&self) -> u64 {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// What a node shares, gathered for one write to NATS (`nats_batch_ms`).
#[derive(Default)]
struct Batch {
    gate: Mutex<Gate>,
    /// Told when the first of a batch arrives.
    wake: tokio::sync::Notify,
}

/// Whether what a node shares goes to NATS at once or waits for the next batch: at once
/// when nothing went out for `wait` (a quiet node adds no latency), else gathered until
/// `wait` after the last write, so a busy node writes at most once per `wait`.
struct Gate {
    wait: Duration,
    /// When the last write (a lone message or a batch) was handed to the client.
    last_write: Option<Instant>,
    /// Subjects and payloads, in the order they were shared.
    pending: Vec<(String, Bytes)>,
}

impl Default for Gate {
    fn default() -> Gate {
        Gate {
            wait: Duration::ZERO,
            last_write: None,
            pending: Vec::new(),
        }
    }
}

/// What [`Gate::offer`] decides for one message.
#[derive(Debug, PartialEq, Eq)]
enum Offer {
    /// Hand it to the client now.
    Send,
    /// Add it to the batch; `first` when it starts one (the flusher is to be woken).
    Gather { first: bool },
    /// The batch is full: drop it.
    Full,
}

impl Gate {
    fn offer(&mut self, now: Instant, bound: usize) -> Offer {
        let quiet = self
            .last_write
            .is_none_or(|last| now.duration_since(last) >= self.wait);
        if self.pending.is_empty() && quiet {
            self.last_write = Some(now);
            return Offer::Send;
        }
        if self.pending.len() >= bound {
            return Offer::Full;
        }
        Offer::Gather {
            first: self.pending.is_empty(),
        }
    }

    /// When the batch gathering now may go: `wait` after the last write.
    fn due(&self) -> Instant {
        self.last_write
            .map_or_else(Instant::now, |last| last + self.wait)
    }

    /// The batch, to hand over now.
    fn take(&mut self, now: Instant) -> Vec<(String, Bytes)> {
        self.last_write = Some(now);
        std::mem::take(&mut self.pending)
    }
}

/// Hands each batch to the NATS client `wait` after the write before it, in order. The
/// client writes what it is handed together, so NATS, and the nodes it sends them on
/// to, read them in one go: at a thousand events a second and 5 ms, five events a write
/// instead of one, each write and wake-up paid once (docs/benchmarks.md).
async fn flush_batches(
    client: async_nats::Client,
    batch: Arc<Batch>,
    dropped: Arc<std::sync::atomic::AtomicU64>,
) {
    loop {
        batch.wake.notified().await;
        let due = batch.gate.lock().expect("batch lock").due();
        tokio::time::sleep_until(due.into()).await;
        let mut gate = batch.gate.lock().expect("batch lock");
        for (subject, payload) in gate.take(Instant::now()) {
            publish_now(&client, &dropped, subject, payload);
        }
    }
}

/// The subjects this node listens on for its links and runtimes, each once however many
/// hold it.
struct Interests {
    client: async_nats::Client,
    sink: Sink,
    /// By subject. An entry whose last holder is gone is replaced on the next
    /// [`Interests::follow`], or removed by the holder's drop.
    held: Mutex<HashMap<String, Weak<Subscribed>>>,
}

impl Interests {
    /// Listens on `subject` while the returned [`Interest`] (or a clone) is held.
    fn follow(self: &Arc<Self>, subject: String) -> Interest {
        let mut held = self.held.lock().expect("interests lock");
        if let Some(subscribed) = held.get(&subject).and_then(Weak::upgrade) {
            let ready = subscribed.ready.clone();
            return Interest::kept(subscribed, ready);
        }
        let (ready_tx, ready) = watch::channel(false);
        let task = tokio::spawn(listen(
            self.client.clone(),
            subject.clone(),
            ready_tx,
            self.sink.clone(),
        ));
        let subscribed = Arc::new(Subscribed {
            subject: subject.clone(),
            ready,
            task: task.abort_handle(),
            interests: Arc::downgrade(self),
        });
        held.insert(subject, Arc::downgrade(&subscribed));
        let ready = subscribed.ready.clone();
        Interest::kept(subscribed, ready)
    }
}

/// One subject this node listens on; dropping it (with the last [`Interest`]) ends the
/// listening task, whose subscription's drop unsubscribes at the NATS server.
struct Subscribed {
    subject: String,
    /// Whether the NATS server has the subscription.
    ready: watch::Receiver<bool>,
    task: tokio::task::AbortHandle,
    interests: Weak<Interests>,
}

impl Drop for Subscribed {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(interests) = self.interests.upgrade() {
            let mut held = interests.held.lock().expect("interests lock");
            // Someone may have followed the subject again meanwhile: keep theirs.
            if held
                .get(&self.subject)
                .is_some_and(|w| w.strong_count() == 0)
            {
                held.remove(&self.subject);
            }
        }
    }
}

/// Subscribes to `subject`, says when the NATS server has it (a flush is a round trip
/// the server answers after every command sent before it), and hands on what arrives.
async fn listen(
    client: async_nats::Client,
    subject: String,
    ready: watch::Sender<bool>,
    sink: Sink,
) {
    let subscriber = match client.subscribe(subject.clone()).await {
        Ok(subscriber) => subscriber,
        Err(e) => {
            tracing::warn!(error = %e, subject, "cannot subscribe on NATS");
            return;
        }
    };
    if let Err(e) = client.flush().await {
        tracing::warn!(error = %e, subject, "NATS flush failed");
    }
    let _ = ready.send(true);
    sink.drain(subscriber).await;
}

/// Where what other nodes publish goes on this node.
#[derive(Clone)]
struct Sink {
    /// This node's links.
    local: LocalBus,
    /// What applies a shared change (the hub, and for a glimpse asked the relay), once
    /// the node has set it.
    applier: watch::Receiver<Option<Applier>>,
    /// The relay.
    cameras: mpsc::Sender<(AccountId, Bytes)>,
}

impl Sink {
    /// Hands on every message of `subscriber` until it ends or the hub is gone.
    async fn drain(self, mut subscriber: async_nats::Subscriber) {
        while let Some(msg) = subscriber.next().await {
            if !self.take(msg).await {
                return;
            }
        }
    }

    /// Hands on one message by its subject; false once the hub no longer listens.
    async fn take(&self, msg: async_nats::Message) -> bool {
        let subject = msg.subject.as_str();
        if let Some(rest) = subject.strip_prefix("haurach.acct.") {
            let Some((account, kind)) = rest
                .split_once('.')
                .and_then(|(id, kind)| Some((AccountId(Uuid::parse_str(id).ok()?), kind)))
            else {
                return true;
            };
            match kind {
                "f" => {
                    if let Some(frame) = frame_from(&msg.payload) {
                        self.local.publish(account, frame);
                    }
                }
                "c" => {
                    if let Err(mpsc::error::TrySendError::Closed(_)) =
                        self.cameras.try_send((account, msg.payload))
                    {
                        return false;
                    }
                }
                _ => return self.event(subject, &msg.payload).await,
            }
            return true;
        }
        self.event(subject, &msg.payload).await
    }

    /// Applies a shared change here, in this subject's task: no hop to another task
    /// (issue 21), and a bond's changes, all on its one subject, stay in order.
    async fn event(&self, subject: &str, payload: &[u8]) -> bool {
        let event = match event_from(payload) {
            Ok(event) => event,
            Err(e) => {
                tracing::warn!(error = %e, subject, "bad bond event");
                return true;
            }
        };
        let set = self.applier.borrow().clone();
        let apply = match set {
            Some(apply) => apply,
            // Only at start, before the node has set it.
            None => match self.applier.clone().wait_for(Option::is_some).await {
                Ok(set) => set.clone().expect("waited for it"),
                // The bus is gone: the node is stopping.
                Err(_) => return false,
            },
        };
        apply(event).await;
        true
    }
}

/// The subject a bond event travels on.
fn subject_of(event: &BondEvent) -> String {
    match event.audience() {
        Audience::Bond(bond) => format!("haurach.bond.{bond}"),
        Audience::Links(account) => format!("haurach.acct.{account}.g"),
        Audience::City => CITY.to_owned(),
    }
}

/// How a [`BondEvent::Fix`] begins on NATS; every other event is JSON, which begins
/// with `{`.
const FIX: u8 = 1;

/// A fix's length on NATS: [`FIX`], the bond, the member, latitude, longitude, accuracy,
/// when taken, by hand, when heard.
const FIX_LEN: usize = 1 + 16 + 1 + 8 * 3 + 8 + 1 + 8;

/// A bond event's payload on NATS. A fix, the one sent at every move, is a fixed
/// 59-byte record (big-endian): writing and reading it cost a tenth of its JSON, whose
/// tagged form serde reads through a buffer (issue 21's profile). The rest, rare, is
/// JSON.
fn event_payload(event: &BondEvent) -> Bytes {
    match *event {
        BondEvent::Fix {
            bond,
            idx,
            lat,
            lon,
            accuracy_m,
            at_ms,
            by_hand,
            received_at,
        } => {
            let mut buf = BytesMut::with_capacity(FIX_LEN);
            buf.put_u8(FIX);
            buf.put_slice(bond.as_bytes());
            buf.put_u8(idx);
            buf.put_f64(lat);
            buf.put_f64(lon);
            buf.put_f64(accuracy_m);
            buf.put_i64(at_ms);
            buf.put_u8(u8::from(by_hand));
            buf.put_i64(received_at);
            buf.freeze()
        }
        _ => Bytes::from(serde_json::to_vec(event).expect("bond events serialise")),
    }
}

/// The bond event in a payload [`event_payload`] made.
fn event_from(payload: &[u8]) -> Result<BondEvent, String> {
    if payload.first() != Some(&FIX) {
        return serde_json::from_slice(payload).map_err(|e| e.to_string());
    }
    if payload.len() != FIX_LEN {
        return Err(format!("a fix is {FIX_LEN} bytes, not {}", payload.len()));
    }
    let mut rest = &payload[1..];
    let bond = Uuid::from_slice(&rest[..16]).expect("16 bytes");
    rest = &rest[16..];
    Ok(BondEvent::Fix {
        bond,
        idx: rest.get_u8(),
        lat: rest.get_f64(),
        lon: rest.get_f64(),
        accuracy_m: rest.get_f64(),
        at_ms: rest.get_i64(),
        by_hand: rest.get_u8() != 0,
        received_at: rest.get_i64(),
    })
}

/// A frame's payload on NATS: sequence number, the one before, JSON.
fn frame_payload(frame: &Frame) -> Bytes {
    let mut buf = BytesMut::with_capacity(16 + frame.json.len());
    buf.put_i64(frame.seq().unwrap_or(i64::MIN));
    buf.put_i64(frame.previous().unwrap_or(i64::MIN));
    buf.put_slice(frame.json.as_bytes());
    buf.freeze()
}

/// The frame in a payload [`frame_payload`] made; `None` when it is not one.
fn frame_from(payload: &[u8]) -> Option<Frame> {
    let number = |bytes: &[u8]| {
        let n = i64::from_be_bytes(bytes.try_into().expect("8 bytes"));
        (n != i64::MIN).then_some(n)
    };
    if payload.len() < 16 {
        return None;
    }
    Some(Frame::with_numbers(
        number(&payload[..8]),
        number(&payload[8..16]),
        std::str::from_utf8(&payload[16..]).ok()?.into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What one task shares in a burst, with no await between (the flusher handing
    /// over a batch, a link task after many frames), all reaches the NATS client's
    /// queue: tokio's cooperative budget, used up after 128 operations, must not make it
    /// look full. Without `unconstrained` 874 of these 1,000 were dropped.
    #[tokio::test]
    async fn a_burst_from_one_task_is_handed_over_whole() {
        let Some(nats) = haurach_testkit::or_skip(haurach_testkit::NatsServer::start()) else {
            return;
        };
        let bus = NatsBus::connect(&nats.url(), Duration::ZERO).await.unwrap();
        for _ in 0..1_000 {
            bus.share(BondEvent::PlacesChanged {
                account: Uuid::nil(),
            });
        }
        assert_eq!(bus.dropped(), 0);
    }

    /// A quiet node sends at once; a busy one gathers until `wait` after its last
    /// write, in order, up to the bound; after the batch goes, the next waits again, and
    /// after a quiet `wait` the next goes at once.
    #[test]
    fn a_node_batches_only_while_it_is_busy() {
        let wait = Duration::from_millis(5);
        let mut gate = Gate {
            wait,
            ..Gate::default()
        };
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let offer = |gate: &mut Gate, at: Instant, name: &str| {
            let offer = gate.offer(at, 3);
            if let Offer::Gather { .. } = offer {
                gate.pending.push((name.to_owned(), Bytes::new()));
            }
            offer
        };
        assert_eq!(offer(&mut gate, ms(0), "a"), Offer::Send);
        assert_eq!(offer(&mut gate, ms(1), "b"), Offer::Gather { first: true });
        assert_eq!(offer(&mut gate, ms(2), "c"), Offer::Gather { first: false });
        // Past the wait, but a batch is gathering: the next joins it, behind it.
        assert_eq!(offer(&mut gate, ms(6), "d"), Offer::Gather { first: false });
        assert_eq!(offer(&mut gate, ms(6), "e"), Offer::Full);
        assert_eq!(gate.due(), ms(5));
        let sent: Vec<String> = gate.take(ms(6)).into_iter().map(|(s, _)| s).collect();
        assert_eq!(sent, ["b", "c", "d"]);
        assert_eq!(offer(&mut gate, ms(8), "f"), Offer::Gather { first: true });
        assert_eq!(gate.due(), ms(11));
        gate.take(ms(11));
        assert_eq!(offer(&mut gate, ms(16), "g"), Offer::Send);
    }

    #[test]
    fn a_frame_crosses_nats_whole() {
        let frame = Frame::with_numbers(Some(42), Some(0), r#"{"type":"message"}"#.into());
        assert_eq!(frame_from(&frame_payload(&frame)), Some(frame));
        let plain = Frame::from(r#"{"type":"pull"}"#);
        assert_eq!(frame_from(&frame_payload(&plain)), Some(plain));
        assert_eq!(frame_from(b"short"), None);
    }

    #[test]
    fn a_fix_crosses_nats_as_a_short_record_and_other_events_as_json() {
        let fix = BondEvent::Fix {
            bond: Uuid::from_u128(7),
            idx: 1,
            lat: -33.868_820_000_000_1,
            lon: 151.209_295,
            accuracy_m: 4.5,
            at_ms: 1_764_000_000_123,
            by_hand: true,
            received_at: 1_764_000_000_456,
        };
        let payload = event_payload(&fix);
        assert_eq!(payload.len(), FIX_LEN);
        assert_eq!(event_from(&payload), Ok(fix));
        let heard = BondEvent::Heard {
            bond: Uuid::from_u128(7),
            idx: 0,
            at: 1,
        };
        let payload = event_payload(&heard);
        assert_eq!(payload[0], b'{');
        assert_eq!(event_from(&payload), Ok(heard));
        assert!(event_from(&[FIX, 0, 0]).is_err());
        assert!(event_from(b"{\"event\":\"nothing\"}").is_err());
    }

    #[test]
    fn each_event_goes_only_to_the_nodes_that_need_it() {
        let (bond, person) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let heard = BondEvent::Heard {
            bond,
            idx: 0,
            at: 1,
        };
        assert_eq!(subject_of(&heard), format!("haurach.bond.{bond}"));
        let glimpse = BondEvent::GlimpseAsked {
            asked: person,
            asker: bond,
            side: 320,
            expires_ms: 1,
            tier: haurach_bond::Tier::Glimpse,
        };
        assert_eq!(subject_of(&glimpse), format!("haurach.acct.{person}.g"));
        let places = BondEvent::PlacesChanged { account: person };
        assert_eq!(subject_of(&places), CITY);
    }
}
