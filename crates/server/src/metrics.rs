//! What the server counts, for `GET /metrics` in Prometheus' text format: one
//! [`Metrics`] per server, with its own registry (`prometheus-client`; no global
//! recorder, so the tests can run many servers in one process and read each one's
//! figures apart). The handlers and the hub count into its fields; the route refreshes
//! the gauges that are read rather than counted (the database and NATS up, the
//! indexer's lag) and encodes it. The process's own figures (CPU, memory, descriptors)
//! are read from `/proc` at each scrape, on Linux.
//!
//! No label holds anything a client chose but the method, folded to a known few: a
//! route is its template (`/api/v1/letters/{id}`), never the path asked for, so no id or
//! token can reach a label and the number of series stays bounded.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
pub use prometheus_client::metrics::counter::Counter;
pub use prometheus_client::metrics::gauge::Gauge;

use crate::config::Config;

/// The upper bounds of the request-duration buckets, seconds: from half a millisecond
/// (a health check on loopback) to ten seconds (a large picture decoded).
const DURATION_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A request's labels: its method, the template of the route it matched, and its
/// status class.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RequestLabels {
    /// `GET`, `POST`, `PUT`, `DELETE`, `PATCH`, `HEAD`, `OPTIONS`, or `other`.
    pub method: &'static str,
    /// The route's template, `/api/v1/tower/people/{name}`; `unmatched` for a path no
    /// route serves.
    pub route: String,
    /// `1xx` (a link's upgrade), `2xx`, `3xx`, `4xx` or `5xx`.
    pub class: &'static str,
}

/// A status class alone, for `haurach_http_responses_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ClassLabel {
    /// `2xx`, `4xx`, ...
    pub class: &'static str,
}

/// How a push ended, for `haurach_pushes_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// `accepted` (the push service took it), `gone` (the subscription is gone and was
    /// forgotten), `failed` (not delivered, after retries) or `refused` (a kept
    /// subscription this server no longer calls).
    pub outcome: &'static str,
}

/// The pushes' figures, shared with the hub's [`Notifier`](crate::runtime::push::Notifier)
/// (cloning shares them).
#[derive(Debug, Clone, Default)]
pub struct PushMetrics {
    /// Pushes ended, by outcome.
    pub sent: Family<OutcomeLabel, Counter>,
    /// Pushes being sent now. There is no queue: each push runs on a task of its own, so
    /// this is what would be its depth.
    pub in_flight: Gauge,
    /// Unseen messages waiting `push_message_after_s` before their push, one per bond,
    /// sender and kind of news (a burst is one).
    pub waiting: Gauge,
}

impl PushMetrics {
    /// Counts a push that ended with `outcome`.
    pub fn ended(&self, outcome: &'static str) {
        self.sent.get_or_create(&OutcomeLabel { outcome }).inc();
    }
}

/// Everything the server counts, and the registry that shows it. (The registry ends
/// each help text with a full stop itself.)
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Live links open now.
    pub links: Gauge,
    /// HTTP connections open now, besides live links.
    pub connections: Gauge,
    /// Positions taken (HTTP and link).
    pub positions: Counter,
    /// Messages stored.
    pub messages: Counter,
    /// Thought batches passed to a partner.
    pub thoughts: Counter,
    /// Links closed because they fell behind.
    pub links_lagged: Counter,
    /// Times a link (several nodes) read the store for messages a live one had overtaken
    /// and that did not come live in time.
    pub links_store_reads: Counter,
    /// Links closed because they stayed silent, pings unanswered, past
    /// `link_idle_timeout_s`.
    pub links_idle_closed: Counter,
    /// Passwords checked (argon2id), for known and unknown names alike.
    pub password_checks: Counter,
    /// Logins refused for a wrong name or password.
    pub logins_failed: Counter,
    /// HTTP responses by status class.
    pub responses: Family<ClassLabel, Counter>,
    /// How long each request took, by method, route and status class.
    pub requests: Family<RequestLabels, Histogram, fn() -> Histogram>,
    /// 1 when the database answered at the last scrape, else 0.
    pub database_up: Gauge,
    /// 1 when this node was connected to NATS at the last scrape, else 0 (registered
    /// only with `nats_url`).
    pub nats_up: Gauge,
    /// Live events this node could not hand to NATS (its queue full), brought up to the
    /// bus's count at each scrape (registered only with `nats_url`).
    pub nats_dropped: Counter,
    /// Messages acknowledged (in the journal) that the indexer has not yet stored in
    /// SQLite, at the last scrape (registered only on SQLite).
    pub indexer_lag: Gauge,
    /// Web Push.
    pub push: PushMetrics,
}

fn request_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

impl Metrics {
    /// The metrics of a server started with `config`; `build_info` names its version and
    /// its backends.
    pub fn new(config: &Config) -> Metrics {
        let mut m = Metrics {
            registry: Registry::default(),
            links: Gauge::default(),
            connections: Gauge::default(),
            positions: Counter::default(),
            messages: Counter::default(),
            thoughts: Counter::default(),
            links_lagged: Counter::default(),
            links_store_reads: Counter::default(),
            links_idle_closed: Counter::default(),
            password_checks: Counter::default(),
            logins_failed: Counter::default(),
            responses: Family::default(),
            requests: Family::new_with_constructor(request_histogram),
            database_up: Gauge::default(),
            nats_up: Gauge::default(),
            nats_dropped: Counter::default(),
            indexer_lag: Gauge::default(),
            push: PushMetrics::default(),
        };
        // Each class and outcome is shown from the start, at 0, so a rate over it exists
        // before the first error.
        for class in ["2xx", "4xx", "5xx"] {
            let _ = m.responses.get_or_create(&ClassLabel { class });
        }
        for outcome in ["accepted", "gone", "failed", "refused"] {
            let _ = m.push.sent.get_or_create(&OutcomeLabel { outcome });
        }
        let store = if config.database_url.is_some() {
            "postgres"
        } else {
            "sqlite"
        };
        let bus = if config.nats_url.is_some() {
            "nats"
        } else {
            "local"
        };
        let mut registry = Registry::default();
        #[cfg(target_os = "linux")]
        registry.register_collector(Box::new(process::Process));
        let r = registry.sub_registry_with_prefix("haurach");
        r.register(
            "build",
            "The version of the server and the backends it runs on (always 1)",
            Info::new(vec![
                ("version", env!("CARGO_PKG_VERSION").to_owned()),
                ("store", store.to_owned()),
                ("bus", bus.to_owned()),
            ]),
        );
        r.register("links_open", "Live links open now", m.links.clone());
        r.register(
            "http_connections_open",
            "HTTP connections open now, besides live links",
            m.connections.clone(),
        );
        r.register("positions", "Positions taken", m.positions.clone());
        r.register("messages", "Messages stored", m.messages.clone());
        r.register(
            "thoughts",
            "Thought batches passed to a partner",
            m.thoughts.clone(),
        );
        r.register(
            "links_lagged",
            "Links closed because they fell behind",
            m.links_lagged.clone(),
        );
        r.register(
            "links_store_reads",
            "Times a link read the store for messages a live one overtook (several nodes)",
            m.links_store_reads.clone(),
        );
        r.register(
            "links_idle_closed",
            "Links closed because they answered nothing, pings included, for link_idle_timeout_s",
            m.links_idle_closed.clone(),
        );
        r.register(
            "password_checks",
            "Passwords checked, for known and unknown names alike",
            m.password_checks.clone(),
        );
        r.register(
            "logins_failed",
            "Logins refused for a wrong name or password",
            m.logins_failed.clone(),
        );
        r.register(
            "http_responses",
            "HTTP responses by status class",
            m.responses.clone(),
        );
        r.register(
            "http_request_duration_seconds",
            "Time from a request's headers to its response's, by method, route template and status class",
            m.requests.clone(),
        );
        r.register(
            "database_up",
            "1 when the database answered at this scrape, else 0",
            m.database_up.clone(),
        );
        if config.nats_url.is_some() {
            r.register(
                "nats_up",
                "1 when this node is connected to NATS, else 0",
                m.nats_up.clone(),
            );
            r.register(
                "nats_dropped",
                "Live events this node could not hand to NATS because its queue was full",
                m.nats_dropped.clone(),
            );
        }
        if config.database_url.is_none() {
            r.register(
                "indexer_lag_messages",
                "Messages acknowledged and in the journal that SQLite does not hold yet",
                m.indexer_lag.clone(),
            );
        }
        r.register(
            "pushes",
            "Web Pushes ended, by outcome (accepted, gone, failed, refused)",
            m.push.sent.clone(),
        );
        r.register(
            "pushes_in_flight",
            "Web Pushes being sent now",
            m.push.in_flight.clone(),
        );
        r.register(
            "pushes_waiting",
            "Unseen messages waiting before their push, one per bond, sender and kind of news",
            m.push.waiting.clone(),
        );
        m.registry = registry;
        m
    }

    /// Counts a response of `status` to a request of `method` on `route`, which took
    /// `seconds`.
    pub fn request(&self, method: &http::Method, route: &str, status: u16, seconds: f64) {
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        if matches!(class, "2xx" | "4xx" | "5xx") {
            self.responses.get_or_create(&ClassLabel { class }).inc();
        }
        let method = match *method {
            http::Method::GET => "GET",
            http::Method::POST => "POST",
            http::Method::PUT => "PUT",
            http::Method::DELETE => "DELETE",
            http::Method::PATCH => "PATCH",
            http::Method::HEAD => "HEAD",
            http::Method::OPTIONS => "OPTIONS",
            _ => "other",
        };
        let labels = RequestLabels {
            method,
            route: route.to_owned(),
            class,
        };
        self.requests.get_or_create(&labels).observe(seconds);
    }

    /// The Prometheus exposition text (version 0.0.4, [`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// The process's own figures, under the names Prometheus' client libraries give them
/// (`process_*`), so dashboards made for any process work. Read from `/proc/self` with
/// the `procfs` crate, which parses its formats (a command name may hold spaces and
/// parentheses) and is kept up to date with the kernel's; a figure that cannot be read
/// is left out of that scrape.
#[cfg(target_os = "linux")]
mod process {
    use procfs::process::LimitValue;
    use prometheus_client::collector::Collector;
    use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
    use prometheus_client::metrics::counter::ConstCounter;
    use prometheus_client::metrics::gauge::ConstGauge;

    #[derive(Debug)]
    pub(super) struct Process;

    fn gauge(
        encoder: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        value: f64,
    ) -> std::fmt::Result {
        let gauge = ConstGauge::new(value);
        gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)
    }

    impl Collector for Process {
        fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
            let Ok(me) = procfs::process::Process::myself() else {
                return Ok(());
            };
            if let Ok(stat) = me.stat() {
                let ticks = procfs::ticks_per_second() as f64;
                let cpu = ConstCounter::new((stat.utime + stat.stime) as f64 / ticks);
                cpu.encode(encoder.encode_descriptor(
                    "process_cpu_seconds",
                    "CPU time the process has used, user and system, in seconds.",
                    None,
                    cpu.metric_type(),
                )?)?;
                gauge(
                    &mut encoder,
                    "process_resident_memory_bytes",
                    "Resident memory, in bytes.",
                    (stat.rss * procfs::page_size()) as f64,
                )?;
                gauge(
                    &mut encoder,
                    "process_virtual_memory_bytes",
                    "Virtual memory, in bytes.",
                    stat.vsize as f64,
                )?;
                gauge(
                    &mut encoder,
                    "process_threads",
                    "Threads of the process.",
                    stat.num_threads as f64,
                )?;
                if let Ok(boot) = procfs::boot_time_secs() {
                    gauge(
                        &mut encoder,
                        "process_start_time_seconds",
                        "When the process started, in seconds since the Unix epoch.",
                        boot as f64 + stat.starttime as f64 / ticks,
                    )?;
                }
            }
            if let Ok(open) = me.fd_count() {
                gauge(
                    &mut encoder,
                    "process_open_fds",
                    "Open file descriptors (sockets included).",
                    open as f64,
                )?;
            }
            if let Ok(limits) = me.limits()
                && let LimitValue::Value(max) = limits.max_open_files.soft_limit
            {
                gauge(
                    &mut encoder,
                    "process_max_fds",
                    "The most file descriptors the process may open.",
                    max as f64,
                )?;
            }
            Ok(())
        }
    }
}
