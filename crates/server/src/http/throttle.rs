//! The login throttle: failed logins per name (the login form and OwnTracks' Basic auth
//! count together), to answer 429 to someone guessing a password.
//!
//! Its memory is bounded whatever arrives: only a name that could exist is counted (a
//! name no account can have has nothing to protect), and at most [`MAX_NAMES`] names
//! are remembered; a flood of new names first forgets those whose window has passed,
//! then the oldest.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use super::names::check_name;
use crate::error::ApiError;

/// Failed logins allowed per name within [`WINDOW`] before 429.
pub const ATTEMPTS: u32 = 10;
/// How long failures are counted.
pub const WINDOW: Duration = Duration::from_secs(60);
/// The most names remembered at once (about 100 bytes each).
pub const MAX_NAMES: usize = 50_000;

/// Failed logins per name: how many, since when.
#[derive(Debug, Default)]
pub struct LoginFailures {
    by_name: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginFailures {
    /// 429 when `name` failed to log in too often lately.
    pub fn throttled(&self, name: &str) -> Option<ApiError> {
        let failures = self.by_name.lock().expect("login lock");
        let (n, since) = failures.get(&name.to_lowercase())?;
        if *n < ATTEMPTS || since.elapsed() >= WINDOW {
            return None;
        }
        let wait = WINDOW.saturating_sub(since.elapsed()).as_secs() + 1;
        Some(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            format!("too many failed logins for this name: try again in {wait} s"),
        ))
    }

    /// Counts a failed login of `name`, if it is a name an account could have.
    pub fn failed(&self, name: &str) {
        if check_name(name).is_err() {
            return;
        }
        let key = name.to_lowercase();
        let mut failures = self.by_name.lock().expect("login lock");
        if !failures.contains_key(&key) && failures.len() >= MAX_NAMES {
            failures.retain(|_, (_, since)| since.elapsed() < WINDOW);
            if failures.len() >= MAX_NAMES
                && let Some(oldest) = failures
                    .iter()
                    .min_by_key(|(_, (_, since))| *since)
                    .map(|(k, _)| k.clone())
            {
                failures.remove(&oldest);
            }
        }
        let entry = failures.entry(key).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    /// Forgets the failures of `name` after a good login.
    pub fn succeeded(&self, name: &str) {
        self.by_name
            .lock()
            .expect("login lock")
            .remove(&name.to_lowercase());
    }

    /// How many names are remembered.
    pub fn len(&self) -> usize {
        self.by_name.lock().expect("login lock").len()
    }

    /// Whether no name is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hardening finding 1: failed logins with new, long names grew memory without limit
    /// (+251 MiB in 6 s from 4,000 attempts with 60 KB names).
    #[test]
    fn names_no_account_can_have_are_not_remembered() {
        let failures = LoginFailures::default();
        let long = "x".repeat(60_000);
        for i in 0..4_000 {
            failures.failed(&format!("{long}{i}"));
            failures.failed(&format!("bad name {i}"));
        }
        assert!(failures.is_empty());
    }

    #[test]
    fn a_flood_of_new_names_is_bounded() {
        let failures = LoginFailures::default();
        for i in 0..MAX_NAMES + 1_000 {
            failures.failed(&format!("n{i}"));
        }
        assert_eq!(failures.len(), MAX_NAMES);
        // The newest guesses are still counted.
        let last = format!("n{}", MAX_NAMES + 999);
        for _ in 1..ATTEMPTS {
            failures.failed(&last);
        }
        assert!(failures.throttled(&last).is_some());
    }

    #[test]
    fn ten_failures_throttle_a_name_until_a_good_login() {
        let failures = LoginFailures::default();
        for _ in 0..ATTEMPTS - 1 {
            failures.failed("Spike");
        }
        assert!(failures.throttled("spike").is_none());
        failures.failed("SPIKE");
        let e = failures.throttled("spike").expect("throttled");
        assert_eq!(e.status(), StatusCode::TOO_MANY_REQUESTS);
        failures.succeeded("spike");
        assert!(failures.throttled("spike").is_none());
    }
}
