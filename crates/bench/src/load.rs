//! The load: connected clients in pairs, each sending positions at a rate, each receiving
//! its partner's updates; latency is measured from the send to the partner's receipt, in
//! this one process, on one clock.
//!
//! Every send of member `i` pushes its send time on `fifo[i]` of the pair; every update
//! member `1 - i` receives that follows its partner's move pops the oldest. Updates on one
//! connection arrive in the order the partner sent, so the match is exact; what is still
//! queued after a drain was lost.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::wire;

/// Which server the clients speak to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// Haurach's live link.
    Haurach,
    /// MQTT 3.1.1, OwnTracks topics.
    Mqtt,
}

/// How many latency histograms the readers spread over, to keep lock contention away.
const SHARDS: usize = 16;

/// What the readers record into; reset between steps.
pub struct Recorder {
    shards: Vec<Mutex<Histogram<u64>>>,
    received: AtomicU64,
    /// Only updates sent at or after this are recorded (warm-up frames are not).
    recording: AtomicBool,
    /// The updates slower than [`SLOW`]: when each arrived, and its latency.
    slow: Mutex<Vec<(Instant, u64)>>,
}

/// An update slower than this is listed (`--stalls`), so that when stalls happen can be
/// read against the server's timers.
const SLOW: Duration = Duration::from_millis(4);

impl Recorder {
    fn new() -> Recorder {
        Recorder {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3).expect("bounds")))
                .collect(),
            received: AtomicU64::new(0),
            recording: AtomicBool::new(false),
            slow: Mutex::new(Vec::new()),
        }
    }

    fn record(&self, shard: usize, at: Instant, micros: u64) {
        self.received.fetch_add(1, Ordering::Relaxed);
        if micros >= SLOW.as_micros() as u64 {
            self.slow.lock().expect("slow lock").push((at, micros));
        }
        let mut h = self.shards[shard % SHARDS].lock().expect("histogram lock");
        let _ = h.record(micros.max(1));
    }

    fn take(&self) -> (Histogram<u64>, u64) {
        let mut all = Histogram::new_with_bounds(1, 60_000_000, 3).expect("bounds");
        for shard in &self.shards {
            let mut h = shard.lock().expect("histogram lock");
            all.add(&*h).expect("same bounds");
            h.reset();
        }
        (all, self.received.swap(0, Ordering::Relaxed))
    }
}

/// One pair's queues of send times awaiting delivery, by sender.
#[derive(Default)]
struct PairState {
    fifo: [Mutex<VecDeque<Instant>>; 2],
}

/// Connected clients, ready to send.
pub struct Load {
    proto: Proto,
    writers: Vec<OwnedWriteHalf>,
    pairs: Vec<Arc<PairState>>,
    recorder: Arc<Recorder>,
    readers: JoinSet<()>,
    /// Responses to `send` frames (voice phase): one channel per client.
    acks: Vec<Arc<tokio::sync::Notify>>,
    ack_errors: Arc<AtomicU64>,
    /// Partner updates that matched no tracked send (the warm-up's).
    untracked: Arc<AtomicU64>,
}

/// The outcome of one timed step.
pub struct Step {
    /// Updates sent in the window.
    pub sent: u64,
    /// Updates received of those.
    pub received: u64,
    /// Seconds the window lasted.
    pub seconds: f64,
    /// Latency, microseconds.
    pub latency: Histogram<u64>,
    /// The updates slower than 4 ms: when each arrived (milliseconds from the window's
    /// start) and its latency (microseconds).
    pub slow: Vec<(f64, u64)>,
    /// When the window started, as `Instant`'s debug form shows it (on Linux the
    /// monotonic clock's seconds and nanoseconds, which `perf record -k CLOCK_MONOTONIC`
    /// stamps its samples with).
    pub started: String,
}

impl Step {
    /// Delivered updates per second.
    pub fn rate(&self) -> f64 {
        self.received as f64 / self.seconds
    }

    /// Updates sent but never received.
    pub fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.received)
    }

    /// A latency quantile, milliseconds.
    pub fn ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }
}

fn base(pair: usize, member: usize) -> (f64, f64) {
    let lat = 48.80 + (pair % 100) as f64 * 0.002;
    let lon = 2.30 + (pair / 100) as f64 * 0.002 + member as f64 * 0.005;
    (lat, lon)
}

/// The position payload a client sends: an OwnTracks-like location for MQTT, a link
/// `position` frame for Haurach; both about 150 bytes.
fn payload(proto: Proto, pair: usize, member: usize, n: u64, at: &str, out: &mut Vec<u8>) {
    let (lat, lon) = base(pair, member);
    // A metre of jitter: the walker moves but no tier changes and nothing stretches.
    let jitter = (n % 7) as f64 * 0.000_001;
    out.clear();
    match proto {
        Proto::Haurach => {
            let json = format!(
                r#"{{"type":"position","lat":{:.7},"lon":{:.7},"accuracy_m":5.0,"at":"{at}"}}"#,
                lat + jitter,
                lon
            );
            wire::ws_text(out, json.as_bytes());
        }
        Proto::Mqtt => {
            let json = format!(
                r#"{{"_type":"location","lat":{:.7},"lon":{:.7},"acc":5,"alt":120,"batt":80,"conn":"w","tid":"{}","tst":1732394400,"vel":4,"created_at":"{at}"}}"#,
                lat + jitter,
                lon,
                if member == 0 { "a" } else { "b" }
            );
            let topic = format!(
                "owntracks/{}{pair}/phone",
                if member == 0 { "a" } else { "b" }
            );
            wire::mqtt_publish(out, topic.as_bytes(), json.as_bytes());
        }
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl Load {
    /// Connects `tokens.len()` pairs (Haurach: the members' tokens; MQTT: only the count
    /// matters), at most 128 handshakes at a time, and starts every reader. The servers
    /// in `addrs` take the connections in turn: pair `p`'s members go to `addrs[2p % n]`
    /// and `addrs[(2p + 1) % n]`, so with two or four nodes every pair's members are on
    /// different nodes and every node holds as many connections as the others.
    pub async fn connect(
        proto: Proto,
        addrs: &[SocketAddr],
        tokens: &[[String; 2]],
        progress: &indicatif::ProgressBar,
    ) -> anyhow::Result<Load> {
        let n_pairs = tokens.len();
        let gate = Arc::new(Semaphore::new(128));
        let mut connecting = JoinSet::new();
        for (pair, pair_tokens) in tokens.iter().enumerate() {
            for (member, token) in pair_tokens.iter().enumerate() {
                let gate = gate.clone();
                let token = token.clone();
                let addr = addrs[(pair * 2 + member) % addrs.len()];
                connecting.spawn(async move {
                    let _permit = gate.acquire().await.expect("open");
                    let name = format!("{}{pair}", if member == 0 { "a" } else { "b" });
                    let partner = format!("{}{pair}", if member == 0 { "b" } else { "a" });
                    let stream = match proto {
                        Proto::Haurach => wire::ws_connect(addr, &token).await?,
                        Proto::Mqtt => {
                            wire::mqtt_connect(addr, &name, &format!("owntracks/{partner}/phone"))
                                .await?
                        }
                    };
                    anyhow::Ok((pair * 2 + member, stream))
                });
            }
        }
        let mut streams: Vec<Option<tokio::net::TcpStream>> =
            (0..n_pairs * 2).map(|_| None).collect();
        while let Some(res) = connecting.join_next().await {
            let (idx, stream) = res??;
            streams[idx] = Some(stream);
            progress.inc(1);
        }
        let recorder = Arc::new(Recorder::new());
        let pairs: Vec<Arc<PairState>> = (0..n_pairs)
            .map(|_| Arc::new(PairState::default()))
            .collect();
        let acks: Vec<_> = (0..n_pairs * 2)
            .map(|_| Arc::new(tokio::sync::Notify::new()))
            .collect();
        let ack_errors = Arc::new(AtomicU64::new(0));
        let untracked = Arc::new(AtomicU64::new(0));
        let mut readers = JoinSet::new();
        let mut writers = Vec::with_capacity(n_pairs * 2);
        for (idx, stream) in streams.into_iter().enumerate() {
            let (mut read, write) = stream.expect("every client connected").into_split();
            writers.push(write);
            let (pair, member) = (idx / 2, idx % 2);
            let state = pairs[pair].clone();
            let recorder = recorder.clone();
            let ack = acks[idx].clone();
            let ack_errors = ack_errors.clone();
            let untracked = untracked.clone();
            readers.spawn(async move {
                let mut buf = Vec::with_capacity(4096);
                let mut chunk = [0u8; 4096];
                loop {
                    let n = match read.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    buf.extend_from_slice(&chunk[..n]);
                    let now = Instant::now();
                    let on_update = || {
                        let sent = state.fifo[1 - member]
                            .lock()
                            .expect("fifo lock")
                            .pop_front();
                        match sent {
                            Some(sent) if recorder.recording.load(Ordering::Relaxed) => {
                                recorder.record(
                                    idx,
                                    now,
                                    now.duration_since(sent).as_micros() as u64,
                                );
                            }
                            Some(_) => {}
                            None => {
                                untracked.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    };
                    match proto {
                        Proto::Haurach => {
                            let open = wire::ws_frames(&mut buf, |text| {
                                if contains(text, br#""moved":"partner""#) {
                                    on_update();
                                } else if text.starts_with(br#"{"type":"sent""#) {
                                    ack.notify_one();
                                } else if text.starts_with(br#"{"type":"error""#) {
                                    ack_errors.fetch_add(1, Ordering::Relaxed);
                                    ack.notify_one();
                                }
                            });
                            if !open {
                                return;
                            }
                        }
                        Proto::Mqtt => wire::mqtt_packets(&mut buf, |_| on_update()),
                    }
                }
            });
        }
        Ok(Load {
            proto,
            writers,
            pairs,
            recorder,
            readers,
            acks,
            ack_errors,
            untracked,
        })
    }

    /// Haurach: every client sends one position, untracked, so both partners have a fix
    /// before the measured sends; then waits until the update each pair's second fix
    /// causes has arrived (at most a minute), and 3 s longer for the server to settle.
    pub async fn warm_up(&mut self) -> anyhow::Result<()> {
        if self.proto == Proto::Haurach {
            let at = now_rfc3339();
            let mut out = Vec::new();
            let before = self.untracked.load(Ordering::Relaxed);
            for (idx, w) in self.writers.iter_mut().enumerate() {
                payload(self.proto, idx / 2, idx % 2, 0, &at, &mut out);
                w.write_all(&out).await?;
            }
            let want = before + self.pairs.len() as u64;
            let deadline = Instant::now() + Duration::from_secs(60);
            while self.untracked.load(Ordering::Relaxed) < want && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        // Then the server settles. 19,800 connections arriving together keep its core busy
        // for seconds, and Haurach's database threads, kept from the CPU meanwhile, are
        // raised for 2 s after (`haurach_store`'s scheduling); a window that began within
        // that time measured the start-up, not the steady state.
        tokio::time::sleep(Duration::from_millis(3000)).await;
        Ok(())
    }

    /// Every client sends positions at `hz` for `seconds`, phase-spread over the period;
    /// then the readers get `drain` to catch up.
    pub async fn step(&mut self, hz: f64, seconds: f64, drain: Duration) -> anyhow::Result<Step> {
        self.recorder.take();
        self.recorder.slow.lock().expect("slow lock").clear();
        self.recorder.recording.store(true, Ordering::Relaxed);
        let period = Duration::from_secs_f64(1.0 / hz);
        let window = Duration::from_secs_f64(seconds);
        let n_clients = self.writers.len();
        // The window starts once every sender is spawned. Spawning 19,800 of them takes
        // the generator's core for tens of milliseconds; with a start fixed before that,
        // the sends due meanwhile went out together when it ended, and both servers met
        // a burst no steady load has (at 9,900 pairs it was most of the slow updates, and
        // more than 1 % of Haurach's: its p99).
        let (starting, start_rx) = tokio::sync::watch::channel(None::<Instant>);
        let mut tasks = JoinSet::new();
        for (idx, mut w) in std::mem::take(&mut self.writers).into_iter().enumerate() {
            let (proto, pair, member) = (self.proto, idx / 2, idx % 2);
            let state = self.pairs[pair].clone();
            let offset = period.mul_f64(idx as f64 / n_clients as f64);
            let mut start_rx = start_rx.clone();
            tasks.spawn(async move {
                let start = *start_rx
                    .wait_for(Option::is_some)
                    .await
                    .expect("the step sends the start")
                    .as_ref()
                    .expect("waited for it");
                let first = start + offset;
                let end = start + window;
                let (mut n, mut out, mut at, mut at_made) =
                    (0u64, Vec::with_capacity(256), now_rfc3339(), Instant::now());
                let mut batch = Vec::with_capacity(1024);
                loop {
                    let next = first + period.mul_f64(n as f64);
                    if next >= end {
                        break;
                    }
                    tokio::time::sleep_until(next.into()).await;
                    // Send every send now due (a timer may wake late at high rates).
                    let now = Instant::now();
                    if now.duration_since(at_made) > Duration::from_millis(100) {
                        at = now_rfc3339();
                        at_made = now;
                    }
                    batch.clear();
                    let mut due = 0;
                    while first + period.mul_f64(n as f64) <= now
                        && first + period.mul_f64(n as f64) < end
                    {
                        payload(proto, pair, member, n, &at, &mut out);
                        batch.extend_from_slice(&out);
                        n += 1;
                        due += 1;
                    }
                    {
                        let mut fifo = state.fifo[member].lock().expect("fifo lock");
                        for _ in 0..due {
                            fifo.push_back(now);
                        }
                    }
                    if w.write_all(&batch).await.is_err() {
                        break;
                    }
                }
                (idx, w, n)
            });
        }
        // Far enough ahead for every sender to wake, read it and go to sleep first.
        let start = Instant::now() + Duration::from_millis(200);
        starting.send_replace(Some(start));
        let mut writers: Vec<Option<OwnedWriteHalf>> = (0..n_clients).map(|_| None).collect();
        let mut sent = 0;
        while let Some(res) = tasks.join_next().await {
            let (idx, w, n) = res?;
            writers[idx] = Some(w);
            sent += n;
        }
        let elapsed = start.elapsed().as_secs_f64().max(seconds);
        // Let the last updates arrive, then count what never did.
        let drain_end = Instant::now() + drain;
        while Instant::now() < drain_end && self.pending() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.recorder.recording.store(false, Ordering::Relaxed);
        for pair in &self.pairs {
            for fifo in &pair.fifo {
                fifo.lock().expect("fifo lock").clear();
            }
        }
        self.writers = writers
            .into_iter()
            .map(|w| w.expect("writer returned"))
            .collect();
        let (latency, received) = self.recorder.take();
        let slow = std::mem::take(&mut *self.recorder.slow.lock().expect("slow lock"))
            .into_iter()
            .map(|(at, micros)| {
                (
                    at.saturating_duration_since(start).as_secs_f64() * 1e3,
                    micros,
                )
            })
            .collect();
        Ok(Step {
            sent,
            received,
            seconds: elapsed,
            latency,
            slow,
            started: format!("{start:?}"),
        })
    }

    fn pending(&self) -> usize {
        self.pairs
            .iter()
            .flat_map(|p| p.fifo.iter())
            .map(|f| f.lock().expect("fifo lock").len())
            .sum()
    }

    /// Voice over the link, closed loop: every client sends a voice message, waits for the
    /// server's `sent` (given only after commit), and sends the next, for `seconds`.
    /// Returns (acknowledged messages, errors, ack latency histogram in µs, seconds).
    pub async fn voice(&mut self, seconds: f64) -> anyhow::Result<(u64, u64, Histogram<u64>, f64)> {
        let end = Instant::now() + Duration::from_secs_f64(seconds);
        let start = Instant::now();
        let mut tasks = JoinSet::new();
        for (idx, mut w) in std::mem::take(&mut self.writers).into_iter().enumerate() {
            let ack = self.acks[idx].clone();
            tasks.spawn(async move {
                let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
                let mut out = Vec::with_capacity(256);
                let mut n = 0u64;
                while Instant::now() < end {
                    let json = format!(
                        r#"{{"type":"send","kind":"voice","id":"bench-{idx}-{n}-{}","body":"You miss someone as well, don't you? I can hear you from here."}}"#,
                        start.elapsed().as_nanos()
                    );
                    out.clear();
                    wire::ws_text(&mut out, json.as_bytes());
                    let sent = Instant::now();
                    if w.write_all(&out).await.is_err() {
                        break;
                    }
                    if tokio::time::timeout(Duration::from_secs(10), ack.notified()).await.is_err() {
                        break;
                    }
                    let _ = h.record(sent.elapsed().as_micros() as u64);
                    n += 1;
                }
                (idx, w, h)
            });
        }
        let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
        let mut writers: Vec<Option<OwnedWriteHalf>> = (0..self.acks.len()).map(|_| None).collect();
        while let Some(res) = tasks.join_next().await {
            let (idx, w, h) = res?;
            all.add(&h).expect("same bounds");
            writers[idx] = Some(w);
        }
        self.writers = writers
            .into_iter()
            .map(|w| w.expect("writer returned"))
            .collect();
        let errors = self.ack_errors.swap(0, Ordering::Relaxed);
        Ok((all.len(), errors, all, start.elapsed().as_secs_f64()))
    }

    /// Closes every connection.
    pub async fn close(mut self) {
        for mut w in self.writers.drain(..) {
            let _ = w.shutdown().await;
        }
        self.readers.abort_all();
        while self.readers.join_next().await.is_some() {}
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
