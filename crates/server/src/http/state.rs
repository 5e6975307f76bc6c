//! The state every handler shares: the hub, and what only the HTTP layer needs (the
//! login throttle, the permits for live links, the shutdown signal, OwnTracks
//! credentials verified lately).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use haurach_store::AccountId;

use crate::error::ApiError;
use crate::runtime::Hub;

/// The state every handler shares.
pub type AppState<S, B> = Arc<App<S, B>>;

/// The hub plus what only the HTTP layer needs.
pub struct App<S, B> {
    /// The run-time state: the bonds, the city's features, the store and the bus.
    pub hub: Hub<S, B>,
    /// Failed logins per name, to answer 429 to password guessing.
    login_failures: Mutex<HashMap<String, (u32, Instant)>>,
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
        App {
            hub,
            login_failures: Mutex::new(HashMap::new()),
            links: Arc::new(tokio::sync::Semaphore::new(max_links)),
            shutdown,
            owntracks: BasicCache::default(),
        }
    }
}

impl<S, B> App<S, B> {
    /// 429 when `name` failed to log in too often lately (the login form and OwnTracks'
    /// Basic auth count together).
    pub(crate) fn login_throttled(&self, name: &str) -> Option<ApiError> {
        let failures = self.login_failures.lock().expect("login lock");
        let (n, since) = failures.get(&name.to_lowercase())?;
        if *n < LOGIN_ATTEMPTS || since.elapsed() >= LOGIN_WINDOW {
            return None;
        }
        let wait = LOGIN_WINDOW.saturating_sub(since.elapsed()).as_secs() + 1;
        Some(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            format!("too many failed logins for this name: try again in {wait} s"),
        ))
    }

    /// Counts a failed login of `name`.
    pub(crate) fn login_failed(&self, name: &str) {
        let mut failures = self.login_failures.lock().expect("login lock");
        let entry = failures
            .entry(name.to_lowercase())
            .or_insert((0, Instant::now()));
        if entry.1.elapsed() >= LOGIN_WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    /// Forgets the failures of `name` after a good login.
    pub(crate) fn login_succeeded(&self, name: &str) {
        self.login_failures
            .lock()
            .expect("login lock")
            .remove(&name.to_lowercase());
    }
}

/// Failed logins allowed per name within [`LOGIN_WINDOW`] before 429.
const LOGIN_ATTEMPTS: u32 = 10;
const LOGIN_WINDOW: Duration = Duration::from_secs(60);

/// How long a verified name and password are trusted without hashing them again. The app
/// posts every fix with the same credentials; argon2id on each would cost more than the
/// fix.
pub(crate) const TRUSTED_FOR: Duration = Duration::from_secs(300);

/// Verified Basic credentials, by the SHA-256 of `name:password`.
#[derive(Debug, Default)]
pub struct BasicCache {
    pub(crate) verified: Mutex<HashMap<[u8; 32], (AccountId, Instant)>>,
}
