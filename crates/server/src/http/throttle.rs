//! The throttles: how the server answers 429 to guessing and to floods, with memory
//! bounded whatever arrives.
//!
//! - **Logins** (the login form and OwnTracks' Basic auth count together) count only
//!   failures, per (address, name) pair and per address. After a few free failures each
//!   next attempt waits twice as long as the one before, up to [`MAX_WAIT`], and the count
//!   drains with time. Someone guessing a citizen's password does not lock the citizen
//!   out: from any other address their pair and their address are clean, and their right
//!   password goes through. Only names an account could have are counted.
//! - **Registrations** per address, and **invite codes** per account and per address,
//!   count every attempt: governor's keyed GCRA limiters ([`Keyed`]).
//!
//! The login throttle is written here rather than taken from governor because governor
//! spends a cell on every check and cannot be asked without spending: a limiter that must
//! refuse before the password check yet count only the failures after it would either
//! count a city's correct logins (one address behind a NAT, or a test suite, logs in all
//! day) or never refuse. [`Backoff`] keeps a failure count and the time of the last
//! failure per key, and nothing else.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use axum::http::StatusCode;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use haurach_store::AccountId;
use tokio::time::Instant;

use super::names::check_name;
use crate::error::ApiError;

/// The longest a throttled key waits between two attempts.
pub const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// The most keys one table remembers. Past it, keys whose count has drained are
/// forgotten first, then the half with the fewest failures.
pub const MAX_KEYS: usize = 100_000;

/// How a [`Backoff`] counts.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Failures that cost no wait.
    pub free: u32,
    /// One failure is forgotten per this much time without failures.
    pub drain: Duration,
}

/// Failed logins per (address, name): five free, then 1 s, 2 s, 4 s... and one forgotten
/// every five minutes.
pub const PAIR: Rule = Rule {
    free: 5,
    drain: Duration::from_secs(5 * 60),
};
/// Failed logins per address, whatever the names: thirty free (a household or an office
/// behind one address mistypes too), and one forgotten every twenty seconds.
pub const ADDRESS: Rule = Rule {
    free: 30,
    drain: Duration::from_secs(20),
};

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Failures {
    /// The count once what has drained by `now` is taken off.
    fn drained(self, rule: Rule, now: Instant) -> u32 {
        let gone =
            now.saturating_duration_since(self.last).as_secs_f64() / rule.drain.as_secs_f64();
        self.count.saturating_sub(gone as u32)
    }
}

/// The wait after `count` failures: none for the free ones, then doubling from a second.
fn wait_after(rule: Rule, count: u32) -> Duration {
    if count <= rule.free {
        return Duration::ZERO;
    }
    let doublings = (count - rule.free - 1).min(20);
    Duration::from_secs(1u64 << doublings).min(MAX_WAIT)
}

/// Failures per key, each next attempt waiting longer (see the module's documentation).
#[derive(Debug)]
pub struct Backoff<K> {
    rule: Rule,
    keys: Mutex<HashMap<K, Failures>>,
}

impl<K: Hash + Eq + Clone> Backoff<K> {
    /// An empty table counting by `rule`.
    pub fn new(rule: Rule) -> Backoff<K> {
        Backoff {
            rule,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// How long `key` must still wait before its next attempt, if at all.
    pub fn wait(&self, key: &K) -> Option<Duration> {
        let keys = self.keys.lock().expect("backoff lock");
        let f = keys.get(key)?;
        let until = f.last + wait_after(self.rule, f.count);
        let now = Instant::now();
        (until > now).then(|| until - now)
    }

    /// Counts a failure of `key`.
    pub fn failed(&self, key: &K) {
        let now = Instant::now();
        let mut keys = self.keys.lock().expect("backoff lock");
        if !keys.contains_key(key) && keys.len() >= MAX_KEYS {
            self.make_room(&mut keys, now);
        }
        let count = keys
            .get(key)
            .map_or(0, |f| f.drained(self.rule, now))
            .saturating_add(1);
        keys.insert(key.clone(), Failures { count, last: now });
    }

    /// Forgets `key`'s failures (after a good login).
    pub fn forget(&self, key: &K) {
        self.keys.lock().expect("backoff lock").remove(key);
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.keys.lock().expect("backoff lock").len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn make_room(&self, keys: &mut HashMap<K, Failures>, now: Instant) {
        keys.retain(|_, f| f.drained(self.rule, now) > 0);
        if keys.len() < MAX_KEYS {
            return;
        }
        // A flood of fresh keys: keep the half that failed most.
        let mut counts: Vec<u32> = keys.values().map(|f| f.count).collect();
        let mid = counts.len() / 2;
        let (_, median, _) = counts.select_nth_unstable(mid);
        let median = *median;
        let mut over = keys.len() - mid;
        keys.retain(|_, f| {
            if over > 0 && f.count <= median {
                over -= 1;
                false
            } else {
                true
            }
        });
        tracing::warn!(
            kept = keys.len(),
            "a throttle table was full: forgot the keys with the fewest failures"
        );
    }
}

/// A governor limiter per key (every attempt counts), its keys bounded: past
/// [`MAX_KEYS`] the keys that are back to a full quota are forgotten, and if that is not
/// enough the limiter starts afresh (a warning says so).
#[derive(Debug)]
pub struct Keyed<K: Hash + Eq + Clone> {
    quota: Quota,
    limiter: RwLock<DefaultKeyedRateLimiter<K>>,
}

impl<K: Hash + Eq + Clone> Keyed<K> {
    /// A limiter allowing `quota` per key.
    pub fn new(quota: Quota) -> Keyed<K> {
        Keyed {
            quota,
            limiter: RwLock::new(RateLimiter::keyed(quota)),
        }
    }

    /// Spends one attempt of `key`: `Err(wait)` when its quota is used up.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        let (outcome, full) = {
            let limiter = self.limiter.read().expect("limiter lock");
            (limiter.check_key(key), limiter.len() > MAX_KEYS)
        };
        if full {
            let mut limiter = self.limiter.write().expect("limiter lock");
            limiter.retain_recent();
            if limiter.len() > MAX_KEYS {
                tracing::warn!("a rate limiter was full of fresh keys: it starts afresh");
                *limiter = RateLimiter::keyed(self.quota);
            }
        }
        outcome.map_err(|n| n.wait_time_from(DefaultClock::default().now()))
    }
}

/// The throttles a server keeps.
#[derive(Debug)]
pub struct Throttles {
    login_pairs: Backoff<(IpAddr, String)>,
    login_addresses: Backoff<IpAddr>,
    registrations: Keyed<IpAddr>,
    codes_by_address: Keyed<IpAddr>,
    codes_by_account: Keyed<AccountId>,
}

/// Invite codes tried per account: ten at once, then one a minute.
const CODES_PER_ACCOUNT: (u32, Duration) = (10, Duration::from_secs(60));
/// Invite codes tried per address: thirty at once, then one every ten seconds.
const CODES_PER_ADDRESS: (u32, Duration) = (30, Duration::from_secs(10));

fn quota((burst, every): (u32, Duration)) -> Quota {
    Quota::with_period(every)
        .expect("a period")
        .allow_burst(NonZeroU32::new(burst).expect("a burst"))
}

impl Throttles {
    /// The throttles, allowing `registrations_per_hour` accounts per address.
    pub fn new(registrations_per_hour: u32) -> Throttles {
        let per_hour = NonZeroU32::new(registrations_per_hour).unwrap_or(NonZeroU32::MIN);
        Throttles {
            login_pairs: Backoff::new(PAIR),
            login_addresses: Backoff::new(ADDRESS),
            registrations: Keyed::new(Quota::per_hour(per_hour)),
            codes_by_address: Keyed::new(quota(CODES_PER_ADDRESS)),
            codes_by_account: Keyed::new(quota(CODES_PER_ACCOUNT)),
        }
    }

    /// 429 when logins of `name` from `from` (an address as [`super::client::ClientAddr::key`]
    /// counts it) must wait.
    pub fn login(&self, from: IpAddr, name: &str) -> Result<(), ApiError> {
        let pair = (from, name.to_lowercase());
        let wait = [
            self.login_pairs.wait(&pair),
            self.login_addresses.wait(&from),
        ]
        .into_iter()
        .flatten()
        .max();
        match wait {
            Some(wait) => Err(too_many(
                "too_many_attempts",
                "too many failed logins from here",
                wait,
            )),
            None => Ok(()),
        }
    }

    /// Counts a failed login of `name` from `from`. A name no account can have is counted
    /// against the address only (it has no owner to protect, and would only fill the
    /// table).
    pub fn login_failed(&self, from: IpAddr, name: &str) {
        self.login_addresses.failed(&from);
        if check_name(name).is_ok() {
            self.login_pairs.failed(&(from, name.to_lowercase()));
        }
    }

    /// Forgets the failures of `name` from `from` after a good login. The address's count
    /// stays: logging into one's own account must not buy more guesses at others.
    pub fn login_succeeded(&self, from: IpAddr, name: &str) {
        self.login_pairs.forget(&(from, name.to_lowercase()));
    }

    /// Spends one registration of `from`'s hour.
    pub fn register(&self, from: IpAddr) -> Result<(), ApiError> {
        self.registrations.check(&from).map_err(|wait| {
            too_many(
                "too_many_registrations",
                "too many accounts were registered from here lately",
                wait,
            )
        })
    }

    /// Spends one invite-code attempt of `account` from `from`.
    pub fn invite_code(&self, from: IpAddr, account: AccountId) -> Result<(), ApiError> {
        self.codes_by_account
            .check(&account)
            .and(self.codes_by_address.check(&from))
            .map_err(|wait| {
                too_many(
                    "too_many_attempts",
                    "too many invite codes were tried lately",
                    wait,
                )
            })
    }

    /// How many (address, name) pairs the login throttle remembers.
    pub fn login_pairs(&self) -> usize {
        self.login_pairs.len()
    }
}

fn too_many(code: &'static str, what: &str, wait: Duration) -> ApiError {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        code,
        format!(
            "{what}: try again in {}",
            haurach_proto::human::duration_ms(secs as i64 * 1000)
        ),
    )
    .retry_after(secs.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ip: &str) -> IpAddr {
        crate::http::client::ClientAddr(ip.parse().unwrap()).key()
    }

    /// Hardening finding 1: failed logins with new, long names grew memory without limit
    /// (+251 MiB in 6 s from 4,000 attempts with 60 KB names).
    #[tokio::test(start_paused = true)]
    async fn names_no_account_can_have_are_not_remembered() {
        let throttles = Throttles::new(20);
        let long = "x".repeat(60_000);
        for i in 0..4_000 {
            throttles.login_failed(at("192.0.2.1"), &format!("{long}{i}"));
            throttles.login_failed(at("192.0.2.1"), &format!("bad name {i}"));
        }
        assert_eq!(throttles.login_pairs(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_flood_of_new_keys_is_bounded_and_the_worst_guessers_are_kept() {
        let table: Backoff<u32> = Backoff::new(PAIR);
        for _ in 0..10 {
            table.failed(&u32::MAX);
        }
        for i in 0..MAX_KEYS as u32 + 1_000 {
            table.failed(&i);
        }
        assert!(table.len() <= MAX_KEYS);
        assert!(table.wait(&u32::MAX).is_some(), "the guesser is still held");
    }

    /// Hardening finding 7: ten wrong passwords a minute locked the real owner out (429
    /// even with the right password).
    #[tokio::test(start_paused = true)]
    async fn a_guesser_waits_longer_each_time_but_the_owner_elsewhere_does_not() {
        let throttles = Throttles::new(20);
        let guesser = at("198.51.100.66");
        for _ in 0..PAIR.free {
            assert!(throttles.login(guesser, "spike").is_ok());
            throttles.login_failed(guesser, "spike");
        }
        assert!(
            throttles.login(guesser, "Spike").is_ok(),
            "the free ones cost nothing"
        );
        throttles.login_failed(guesser, "spike");
        let e = throttles.login(guesser, "spike").expect_err("must wait");
        assert_eq!(e.status(), StatusCode::TOO_MANY_REQUESTS);
        tokio::time::advance(Duration::from_millis(1_100)).await;
        assert!(throttles.login(guesser, "spike").is_ok());
        throttles.login_failed(guesser, "spike");
        tokio::time::advance(Duration::from_millis(1_100)).await;
        assert!(
            throttles.login(guesser, "spike").is_err(),
            "now two seconds"
        );
        // The owner, from their own address, is not held at all.
        assert!(throttles.login(at("203.0.113.5"), "spike").is_ok());
        // Nor is anyone else's name from the guesser's address, yet.
        assert!(throttles.login(guesser, "amethyst").is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn an_address_spraying_names_is_held_whatever_the_name() {
        let throttles = Throttles::new(20);
        let sprayer = at("2001:db8::66");
        for i in 0..=ADDRESS.free {
            throttles.login_failed(at(&format!("2001:db8::{i:x}")), &format!("n{i}"));
        }
        assert!(throttles.login(sprayer, "someone-new").is_err());
        // Drained with time.
        tokio::time::advance(ADDRESS.drain * (ADDRESS.free + 2) + MAX_WAIT).await;
        assert!(throttles.login(sprayer, "someone-new").is_ok());
    }

    #[test]
    fn waits_double_and_stop_at_the_ceiling() {
        assert_eq!(wait_after(PAIR, PAIR.free), Duration::ZERO);
        assert_eq!(wait_after(PAIR, PAIR.free + 1), Duration::from_secs(1));
        assert_eq!(wait_after(PAIR, PAIR.free + 4), Duration::from_secs(8));
        assert_eq!(wait_after(PAIR, u32::MAX), MAX_WAIT);
    }

    #[test]
    fn registrations_per_address_run_out() {
        let throttles = Throttles::new(3);
        for _ in 0..3 {
            throttles.register(at("192.0.2.9")).unwrap();
        }
        let e = throttles.register(at("192.0.2.9")).expect_err("out");
        assert_eq!(e.status(), StatusCode::TOO_MANY_REQUESTS);
        throttles.register(at("192.0.2.10")).unwrap();
    }
}
