//! Web Push out of the node (RFC 8030 delivery, RFC 8291 `aes128gcm`, RFC 8292 VAPID):
//! the [`Pusher`] encrypts a payload for one device with `web-push-native`, signs it with
//! the server's VAPID key, and posts it to the device's push service with hyper-util's
//! client over rustls,
//! retrying 429 and 5xx with backoff. Which endpoints it will call is
//! [`endpoint`]'s to say. Like the bus, a way out of the node: it knows no store and no
//! bond, only a subscription and bytes.

pub mod endpoint;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use web_push_native::jwt_simple::algorithms::{ECDSAP256KeyPairLike as _, ES256KeyPair};
use web_push_native::jwt_simple::claims::Claims;
use web_push_native::{Auth, WebPushBuilder, p256};

use crate::config::Config;

/// How long a VAPID token is valid (RFC 8292 allows at most 24 hours).
const TOKEN_VALID: Duration = Duration::from_secs(12 * 3600);
/// Attempts at one push (the first and the retries) when the service answers 429 or 5xx
/// or cannot be reached.
const ATTEMPTS: u32 = 4;
/// The first retry's wait; each next one doubles it. A `Retry-After` from the service is
/// followed instead, up to [`MAX_WAIT`].
const FIRST_WAIT: Duration = Duration::from_millis(500);
const MAX_WAIT: Duration = Duration::from_secs(60);

/// A device to push to, decoded.
#[derive(Clone, Debug)]
pub struct Device {
    endpoint: url::Url,
    key: p256::PublicKey,
    auth: Auth,
}

impl Device {
    /// A device from a subscription's endpoint and keys (base64url, padded or not);
    /// why not, as a problem's detail.
    pub fn new(
        endpoint: &str,
        p256dh: &str,
        auth: &str,
        allow_loopback: bool,
    ) -> Result<Device, endpoint::Refused> {
        let endpoint = endpoint::parse(endpoint, allow_loopback)?;
        let key = decode(p256dh)
            .filter(|k| k.len() == 65)
            .and_then(|k| p256::PublicKey::from_sec1_bytes(&k).ok())
            .ok_or_else(|| {
                endpoint::Refused(
                    "keys.p256dh must be an uncompressed P-256 point (65 bytes), base64url".into(),
                )
            })?;
        let auth = decode(auth)
            .and_then(|a| <[u8; 16]>::try_from(a.as_slice()).ok())
            .map(Auth::from)
            .ok_or_else(|| endpoint::Refused("keys.auth must be 16 bytes, base64url".into()))?;
        Ok(Device {
            endpoint,
            key,
            auth,
        })
    }
}

fn decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

/// How a push should be treated by the push service.
#[derive(Clone, Copy, Debug)]
pub struct Delivery {
    /// RFC 8030 `Urgency`: `very-low`, `low`, `normal` or `high`.
    pub urgency: &'static str,
    /// RFC 8030 `Topic`: a newer push with the same topic replaces one still waiting.
    pub topic: &'static str,
    /// Seconds the push service keeps it for a device that is offline.
    pub ttl_s: u64,
}

/// What became of a push.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The push service took it (2xx).
    Accepted,
    /// The subscription is gone (404 or 410): forget it.
    Gone,
    /// It could not be delivered, after retries where retrying made sense.
    Failed(String),
}

/// The sender of pushes: the VAPID key and one HTTP client (its connections are reused
/// between pushes to the same push service).
pub struct Pusher {
    key: ES256KeyPair,
    public_key: String,
    subject: String,
    allow_loopback: bool,
    client: Client,
}

/// The HTTP client: hyper-util's, HTTP/1.1, over rustls (on ring) with the system's
/// roots, resolving names through [`endpoint::CheckedResolver`]. It follows no redirect
/// and uses no proxy: either would reach a URL or an address nobody checked.
type Client = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<HttpConnector<endpoint::CheckedResolver>>,
    Full<Bytes>,
>;

/// How long one attempt may take, connecting included.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// The most of an answer's body read (push services answer with a few bytes).
const MAX_ANSWER: usize = 64 * 1024;

impl Pusher {
    /// A new VAPID private key, base64url, for the store to keep if it has none.
    pub fn new_private_key() -> String {
        URL_SAFE_NO_PAD.encode(ES256KeyPair::generate().to_bytes())
    }

    /// The sender with the kept private key.
    pub fn new(private_key: &str, config: &Config) -> Result<Pusher, String> {
        let key = decode(private_key)
            .and_then(|k| ES256KeyPair::from_bytes(&k).ok())
            .ok_or("the kept VAPID key cannot be read")?;
        let public_key =
            URL_SAFE_NO_PAD.encode(key.key_pair().public_key().to_bytes_uncompressed());
        let mut http = HttpConnector::new_with_resolver(endpoint::CheckedResolver {
            allow_loopback: config.push_allow_loopback,
        });
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(Arc::new(rustls::crypto::ring::default_provider()))
            .map_err(|e| format!("cannot read the system's TLS roots: {e}"))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(https);
        Ok(Pusher {
            key,
            public_key,
            subject: config.push_subject.clone(),
            allow_loopback: config.push_allow_loopback,
            client,
        })
    }

    /// The public key, uncompressed P-256 point, base64url.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// Whether loopback endpoints are allowed (tests).
    pub fn allow_loopback(&self) -> bool {
        self.allow_loopback
    }

    /// The VAPID `Authorization` for a push to `endpoint` (RFC 8292): a JWT signed with
    /// ES256 whose audience is the endpoint's origin, port included (web-push-native's
    /// own leaves a port out), and the public key.
    fn vapid(&self, endpoint: &url::Url) -> Result<http::HeaderValue, String> {
        let claims = Claims::create(TOKEN_VALID.into())
            .with_audience(endpoint.origin().ascii_serialization())
            .with_subject(&self.subject);
        let token = self.key.sign(claims).map_err(|e| e.to_string())?;
        http::HeaderValue::try_from(format!("vapid t={token}, k={}", self.public_key))
            .map_err(|e| e.to_string())
    }

    /// Encrypts `payload` for `device` and posts it, retrying 429, 5xx and failures to
    /// connect with backoff.
    pub async fn send(&self, device: &Device, payload: &[u8], delivery: Delivery) -> Outcome {
        // The address is checked again at every push: a literal here, a name in the
        // client's resolver.
        if let Err(refused) = endpoint::parse(device.endpoint.as_str(), self.allow_loopback) {
            return Outcome::Failed(refused.0);
        }
        let uri = match device.endpoint.as_str().parse() {
            Ok(uri) => uri,
            Err(e) => return Outcome::Failed(format!("endpoint: {e}")),
        };
        let builder = WebPushBuilder::new(uri, device.key, device.auth);
        let vapid = match self.vapid(&device.endpoint) {
            Ok(vapid) => vapid,
            Err(e) => return Outcome::Failed(format!("signing: {e}")),
        };
        let mut wait = FIRST_WAIT;
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            // Each attempt is encrypted anew: web-push-native takes the body by value.
            let request = match builder.build(payload.to_vec()) {
                Ok(mut request) => {
                    let headers = request.headers_mut();
                    headers.insert("TTL", delivery.ttl_s.into());
                    headers.insert("Urgency", http::HeaderValue::from_static(delivery.urgency));
                    headers.insert("Topic", http::HeaderValue::from_static(delivery.topic));
                    headers.insert(http::header::AUTHORIZATION, vapid.clone());
                    request
                }
                Err(e) => return Outcome::Failed(format!("encrypting: {e}")),
            };
            let request = request.map(|body| Full::new(Bytes::from(body)));
            let answer = tokio::time::timeout(ATTEMPT_TIMEOUT, self.client.request(request)).await;
            let retry_after = match answer {
                Err(_) => {
                    last = "the push service did not answer in time".into();
                    None
                }
                Ok(Err(e)) => {
                    last = format!("cannot reach the push service: {e}");
                    None
                }
                Ok(Ok(answer)) => {
                    let status = answer.status();
                    let retry_after = answer
                        .headers()
                        .get(http::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    // Read the (short) answer so the connection can be used again.
                    let _ = Limited::new(answer.into_body(), MAX_ANSWER).collect().await;
                    if status.is_success() {
                        return Outcome::Accepted;
                    }
                    if status == http::StatusCode::NOT_FOUND || status == http::StatusCode::GONE {
                        return Outcome::Gone;
                    }
                    last = format!("the push service answered {status}");
                    if !(status == http::StatusCode::TOO_MANY_REQUESTS || status.is_server_error())
                    {
                        return Outcome::Failed(last);
                    }
                    retry_after
                }
            };
            if attempt < ATTEMPTS {
                tokio::time::sleep(retry_after.unwrap_or(wait).min(MAX_WAIT)).await;
                wait *= 2;
            }
        }
        Outcome::Failed(last)
    }
}
