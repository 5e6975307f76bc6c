//! The state every handler shares: the hub, and what only the HTTP layer needs (the
//! throttles, the permits for live links, the shutdown signal, OwnTracks
//! credentials verified lately).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use haurach_store::AccountId;

use super::throttle::Throttles;
use crate::runtime::Hub;

/// The state every handler shares.
pub type AppState<S, B> = Arc<App<S, B>>;

/// The hub plus what only the HTTP layer needs.
pub struct App<S, B> {
    /// The run-time state: the bonds, the city's features, the store and the bus.
    pub hub: Hub<S, B>,
    /// 429 to password and invite-code guessing and to registration floods.
    pub throttles: Throttles,
    /// The proxies whose `X-Forwarded-For` names the client (`trusted_proxies`).
    pub proxies: Vec<ipnet::IpNet>,
    /// Caps the number of live links.
    pub links: Arc<tokio::sync::Semaphore>,
    /// Tells every link to close when the server shuts down.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// OwnTracks credentials verified lately.
    pub owntracks: BasicCache,
}

impl<S, B> App<S, B> {
    /// The shared state of a server over `hub`; links close when `shutdown` turns true.
    pub fn new(hub: Hub<S, B>, shutdown: tokio::sync::watch::Receiver<bool>) -> App<S, B> {
        let max_links = hub.config.max_links;
        let proxies = hub.config.proxies().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "trusted_proxies ignored");
            Vec::new()
        });
        App {
            throttles: Throttles::new(hub.config.registrations_per_hour),
            proxies,
            hub,
            links: Arc::new(tokio::sync::Semaphore::new(max_links)),
            shutdown,
            owntracks: BasicCache::default(),
        }
    }
}

/// How long a verified name and password are trusted without hashing them again. The app
/// posts every fix with the same credentials; argon2id on each would cost more than the
/// fix.
pub(crate) const TRUSTED_FOR: Duration = Duration::from_secs(300);

/// Verified Basic credentials, by the SHA-256 of `name:password`.
#[derive(Debug, Default)]
pub struct BasicCache {
    pub(crate) verified: Mutex<HashMap<[u8; 32], (AccountId, Instant)>>,
}
