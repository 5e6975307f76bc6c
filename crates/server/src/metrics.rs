//! Counters for `GET /metrics`, in Prometheus' text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// A counter that only goes up.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    /// Adds `n` (may be negative).
    pub fn add(&self, n: i64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Everything the server counts.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Live links open now.
    pub links: Gauge,
    /// Positions taken (HTTP and link).
    pub positions: Counter,
    /// Messages stored.
    pub messages: Counter,
    /// Thought batches passed to a partner.
    pub thoughts: Counter,
    /// HTTP requests answered, by class.
    pub http_2xx: Counter,
    /// HTTP requests answered with a 4xx status.
    pub http_4xx: Counter,
    /// HTTP requests answered with a 5xx status.
    pub http_5xx: Counter,
    /// Links closed because they fell behind.
    pub links_lagged: Counter,
    /// Links closed because they stayed silent, pings unanswered, past
    /// `link_idle_timeout_s`.
    pub links_idle_closed: Counter,
    /// Passwords checked (argon2id), for known and unknown names alike.
    pub password_checks: Counter,
    /// Logins refused for a wrong name or password.
    pub logins_failed: Counter,
}

impl Metrics {
    /// The Prometheus exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut one = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        one(
            "haurach_links_open",
            "gauge",
            "Live links open now.",
            self.links.get().to_string(),
        );
        one(
            "haurach_positions_total",
            "counter",
            "Positions taken.",
            self.positions.get().to_string(),
        );
        one(
            "haurach_messages_total",
            "counter",
            "Messages stored.",
            self.messages.get().to_string(),
        );
        one(
            "haurach_thoughts_total",
            "counter",
            "Thought batches passed to a partner.",
            self.thoughts.get().to_string(),
        );
        one(
            "haurach_links_lagged_total",
            "counter",
            "Links closed because they fell behind.",
            self.links_lagged.get().to_string(),
        );
        one(
            "haurach_links_idle_closed_total",
            "counter",
            "Links closed because they answered nothing, pings included, for link_idle_timeout_s.",
            self.links_idle_closed.get().to_string(),
        );
        one(
            "haurach_password_checks_total",
            "counter",
            "Passwords checked, for known and unknown names alike.",
            self.password_checks.get().to_string(),
        );
        one(
            "haurach_logins_failed_total",
            "counter",
            "Logins refused for a wrong name or password.",
            self.logins_failed.get().to_string(),
        );
        let _ = writeln!(
            out,
            "# HELP haurach_http_responses_total HTTP responses by status class.\n\
             # TYPE haurach_http_responses_total counter\n\
             haurach_http_responses_total{{class=\"2xx\"}} {}\n\
             haurach_http_responses_total{{class=\"4xx\"}} {}\n\
             haurach_http_responses_total{{class=\"5xx\"}} {}",
            self.http_2xx.get(),
            self.http_4xx.get(),
            self.http_5xx.get()
        );
        out
    }
}
