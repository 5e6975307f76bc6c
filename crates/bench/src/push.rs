//! The push phase: how long an event takes to become a Web Push request, and what a push
//! costs the server. One citizen sends another letters, one after another; the receiver
//! has one device subscribed whose endpoint is a local push service in this process, which
//! notes when each push arrives and answers 201 as a browser vendor's service would. The
//! server encrypts (RFC 8291) and signs (RFC 8292) each push as it would for a real
//! device; only the network hop to the vendor is missing. Then the device unsubscribes
//! and the same letters go again: the server's CPU time with the push, less without, is
//! the cost of one push.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use hdrhistogram::Histogram;
use serde_json::json;
use tokio::sync::mpsc;

use crate::target::Deployment;

/// A device's keys from RFC 8291's worked example (section 5): a real P-256 point and
/// auth secret, so the server encrypts for it as for any browser. The local service
/// does not decrypt; the tests do, with another implementation.
const DEVICE_P256DH: &str =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
const DEVICE_AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

/// Letters sent before measuring: the push key made, the connection to the service open.
const WARM_UP: usize = 20;
/// The longest one push may take before the phase gives up.
const PUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// What the phase measured.
#[derive(Debug, Clone, Copy)]
pub struct PushResult {
    /// Letters, each pushed once.
    pub events: usize,
    /// From the letter's request to its push at the service: p50 and p99, ms.
    pub from_request_ms: (f64, f64),
    /// From the letter's answer (201, committed) to its push: p50 and p99, ms.
    pub from_answer_ms: (f64, f64),
    /// The server's CPU microseconds per push (with a device, less without).
    pub cpu_us_per_push: f64,
}

/// The server's environment for this phase: loopback endpoints allowed (as in the
/// tests; never in a real city) and no daily cap on letters.
pub fn server_env() -> [(&'static str, String); 2] {
    [
        ("HAURACH_PUSH_ALLOW_LOOPBACK", "true".into()),
        ("HAURACH_LETTERS_PER_DAY", "100000000".into()),
    ]
}

/// Runs the phase: `events` letters from `sender` (a token) to `receiver` (whose token
/// and name are given), against the first node of `server`.
pub async fn run(
    server: &Deployment,
    sender: &str,
    (receiver, receiver_name): (&str, &str),
    events: usize,
) -> anyhow::Result<PushResult> {
    let (service, mut arrived) = start_service().await?;
    let base = format!("http://{}", server.addrs()[0]);
    let http = reqwest::Client::new();
    let endpoint = format!("http://{service}/device");
    let subscription = json!({
        "endpoint": endpoint,
        "keys": {"p256dh": DEVICE_P256DH, "auth": DEVICE_AUTH},
    });
    let subscribed = http
        .post(format!("{base}/api/v1/push/subscriptions"))
        .bearer_auth(receiver)
        .json(&subscription)
        .send()
        .await?;
    if !subscribed.status().is_success() {
        bail!(
            "subscribing the bench's device: {}",
            subscribed.text().await?
        );
    }
    let letters = Letters {
        http: &http,
        base: &base,
        sender,
        to: receiver_name,
    };
    letters
        .send(WARM_UP, "warm", Some(&mut arrived))
        .await
        .context("warming up")?;

    let cpu0 = server.cpu_seconds();
    let (from_request, from_answer) = letters
        .send(events, "pushed", Some(&mut arrived))
        .await?
        .expect("waited for pushes");
    let with_push = server.cpu_seconds() - cpu0;

    let gone = http
        .delete(format!("{base}/api/v1/push/subscriptions"))
        .bearer_auth(receiver)
        .json(&json!({"endpoint": endpoint}))
        .send()
        .await?;
    if !gone.status().is_success() {
        bail!("unsubscribing the bench's device: {}", gone.text().await?);
    }
    let cpu0 = server.cpu_seconds();
    letters.send(events, "quiet", None).await?;
    let without = server.cpu_seconds() - cpu0;

    let quantiles = |h: &Histogram<u64>| {
        (
            h.value_at_quantile(0.5) as f64 / 1000.0,
            h.value_at_quantile(0.99) as f64 / 1000.0,
        )
    };
    Ok(PushResult {
        events,
        from_request_ms: quantiles(&from_request),
        from_answer_ms: quantiles(&from_answer),
        cpu_us_per_push: (with_push - without).max(0.0) / events.max(1) as f64 * 1e6,
    })
}

/// Letters from one citizen to another.
struct Letters<'a> {
    http: &'a reqwest::Client,
    base: &'a str,
    sender: &'a str,
    to: &'a str,
}

impl Letters<'_> {
    /// Sends `n` letters one after another. With `arrived`, waits for each one's push and
    /// returns the latencies (µs) from each request and from each answer to its push.
    async fn send(
        &self,
        n: usize,
        tag: &str,
        mut arrived: Option<&mut mpsc::UnboundedReceiver<Instant>>,
    ) -> anyhow::Result<Option<(Histogram<u64>, Histogram<u64>)>> {
        let mut from_request = Histogram::<u64>::new(3)?;
        let mut from_answer = Histogram::<u64>::new(3)?;
        for i in 0..n {
            let letter = json!({"to": self.to, "body": "x", "id": format!("{tag}-{i}")});
            let start = Instant::now();
            let answer = self
                .http
                .post(format!("{}/api/v1/letters", self.base))
                .bearer_auth(self.sender)
                .json(&letter)
                .send()
                .await?;
            let answered = Instant::now();
            if answer.status().as_u16() != 201 {
                bail!("sending letter {i}: {}", answer.text().await?);
            }
            if let Some(arrived) = arrived.as_deref_mut() {
                let at = tokio::time::timeout(PUSH_TIMEOUT, arrived.recv())
                    .await
                    .context("a letter's push did not arrive within 10 s")?
                    .context("the local push service stopped")?;
                from_request.record(at.duration_since(start).as_micros() as u64)?;
                from_answer.record(at.saturating_duration_since(answered).as_micros() as u64)?;
            }
        }
        Ok(arrived.map(|_| (from_request, from_answer)))
    }
}

/// A push service on 127.0.0.1: takes every POST with 201 and says when it came.
async fn start_service() -> anyhow::Result<(SocketAddr, mpsc::UnboundedReceiver<Instant>)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
        let tx = tx.clone();
        async move {
            let at = Instant::now();
            // A real service would store the ciphertext; an empty one is a bug upstream.
            if body.is_empty() {
                return axum::http::StatusCode::BAD_REQUEST;
            }
            let _ = tx.send(at);
            axum::http::StatusCode::CREATED
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, rx))
}
