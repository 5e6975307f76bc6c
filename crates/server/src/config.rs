//! The server's configuration: defaults, then a TOML file, then `HAURACH_*` environment
//! variables, then command-line flags (applied by the binary). Checked once into a
//! [`Config`] that is passed down; there is no global.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Everything the server needs to know to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Where the SQLite database lives.
    pub data: PathBuf,
    /// A partner silent for longer than this many seconds has lost contact.
    pub contact_timeout_s: f64,
    /// A position jump faster than this, km/h, stretches the bond.
    pub max_speed_kmh: f64,
    /// The largest request body accepted, bytes.
    pub max_body_bytes: usize,
    /// How long an invite code works, hours.
    pub invite_ttl_h: f64,
    /// The most live links the server holds at once; more are refused with 503.
    pub max_links: usize,
    /// The most HTTP connections open at once besides live links; one more is closed
    /// the moment it is accepted.
    pub max_connections: usize,
    /// Seconds a connection may take to send a request's headers, or stay silent between
    /// requests, before it is closed.
    pub header_read_timeout_s: f64,
    /// Seconds a live link may stay silent before it is closed: after a third of it
    /// without a frame from the client the server sends a WebSocket ping, which every
    /// client answers on its own; a link that answers nothing is closed with 1001 and its
    /// slot freed.
    pub link_idle_timeout_s: f64,
    /// The largest picture accepted, bytes (a larger upload is refused with 413).
    pub max_image_bytes: usize,
    /// The most pixels a picture may have, in megapixels; checked from its header before
    /// it is decoded.
    pub max_image_megapixels: u32,
    /// PostgreSQL instead of SQLite (`postgres://user:password@host:port/database`): for a
    /// city served by several nodes, which all connect to the same database.
    pub database_url: Option<String>,
    /// NATS for live events between several nodes (`nats://host:4222`). Without it, live
    /// events stay inside this process.
    pub nats_url: Option<String>,
    /// With `nats_url`: a node writes to NATS at most once per this many milliseconds
    /// (default 10; 0: each event at once). What it shares goes at once when nothing
    /// went for that long, else waits for the next write with whatever else it shares
    /// meanwhile: a quiet node adds no latency, a busy one up to this much to what crosses
    /// to another node, for fewer writes and wake-ups on the nodes and in NATS
    /// (docs/benchmarks.md, "The cost of several nodes").
    pub nats_batch_ms: f64,
    /// How many days each fix of a person's journey is kept (for their GPX export).
    pub journey_days: f64,
    /// How newcomers get in: `open`, `application` (the tower answers) or `invite`.
    pub gate: haurach_proto::GateMode,
    /// The most parcel bytes one letter carries.
    pub max_parcel_bytes: u64,
    /// The most parcel bytes one citizen may have uploaded in all.
    pub parcel_quota_bytes: u64,
    /// The most letters one citizen sends in 24 hours.
    pub letters_per_day: u32,
    /// The most bytes of pictures and journal photos one citizen may have uploaded in
    /// all, as sent; one more is refused with 413.
    pub picture_quota_bytes: u64,
    /// The proxies in front of the server (addresses or networks, `10.0.0.0/8`): a
    /// request from one of them is taken to come from the address it names in
    /// `X-Forwarded-For`, so the login and registration limits see the real client.
    /// Empty: every request comes from the address that connected.
    pub trusted_proxies: Vec<String>,
    /// The most accounts registered from one address in an hour (an IPv6 /64 counts as
    /// one address); more are refused with 429 until the hour has room again.
    pub registrations_per_hour: u32,
    /// Lets a push subscription's endpoint be `http` on a loopback address
    /// (`http://127.0.0.1:PORT/...`), for tests that stand in for a browser vendor's push
    /// service. Off: every endpoint must be `https` on a public address.
    pub push_allow_loopback: bool,
    /// Who runs this server, told to push services in every push (VAPID's `sub`): a
    /// `mailto:` address or an `https` URL they can reach the operator at.
    pub push_subject: String,
    /// Seconds between pushes of an alarm nobody has acknowledged yet.
    pub push_alarm_repeat_s: f64,
    /// Seconds a word or a feeling may go unseen (no page or link of the receiver's
    /// acknowledged it) before it is pushed to the receiver's devices.
    pub push_message_after_s: f64,
    /// How log lines are written to stderr: `text` (for people) or `json` (one object a
    /// line, for a log collector). Which lines is `HAURACH_LOG`'s business.
    pub log_format: LogFormat,
    /// Where the web client's map takes its tiles: a URL template with `{z}`, `{x}` and
    /// `{y}` (`https://tile.openstreetmap.org/{z}/{x}/{y}.png`); empty: no map. The page
    /// may load images from this template's origin and no other (`crate::tiles`).
    pub map_tiles: String,
    /// The credit the tile source asks for, shown on the map as text.
    pub map_attribution: String,
}

/// How log lines are written ([`Config::log_format`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One line of text per event, coloured only on a terminal.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target` and `fields`.
    Json,
}

impl LogFormat {
    /// The format named `key` (`text` or `json`).
    pub fn from_key(key: &str) -> Option<LogFormat> {
        match key {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }

    /// Its name in the configuration.
    pub fn key(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 7420)),
            data: PathBuf::from("haurach-data"),
            contact_timeout_s: 60.0,
            max_speed_kmh: 300.0,
            max_body_bytes: 64 * 1024,
            invite_ttl_h: 24.0,
            max_links: 20_000,
            max_connections: 10_000,
            header_read_timeout_s: 10.0,
            link_idle_timeout_s: 90.0,
            max_image_bytes: 20 * 1024 * 1024,
            max_image_megapixels: 40,
            database_url: None,
            nats_url: None,
            nats_batch_ms: 10.0,
            journey_days: 30.0,
            gate: haurach_proto::GateMode::Application,
            max_parcel_bytes: 25 * 1024 * 1024,
            parcel_quota_bytes: 1024 * 1024 * 1024,
            letters_per_day: 1_000,
            picture_quota_bytes: 1024 * 1024 * 1024,
            trusted_proxies: Vec::new(),
            registrations_per_hour: 20,
            push_allow_loopback: false,
            push_subject: "mailto:operator@haurach.invalid".into(),
            push_alarm_repeat_s: 60.0,
            push_message_after_s: 10.0,
            log_format: LogFormat::Text,
            map_tiles: crate::tiles::OPENSTREETMAP.into(),
            map_attribution: crate::tiles::OPENSTREETMAP_ATTRIBUTION.into(),
        }
    }
}

/// Configuration that could not be read or makes no sense.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML file is not valid.
    #[error("{path}: {source}")]
    Toml {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Box<toml::de::Error>,
    },
    /// An environment variable holds something unusable. Its value is kept out of the
    /// message: it may be a secret set for another program.
    #[error("{name}: {why}")]
    Env {
        /// The variable.
        name: String,
        /// Why it is unusable.
        why: String,
    },
    /// A value is out of its range.
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Defaults, overlaid by the TOML file if one is given, then by `HAURACH_*` variables
    /// from `env` (pass `std::env::vars()`).
    pub fn load(
        file: Option<&std::path::Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                Config::from_toml(&text).map_err(|source| ConfigError::Toml {
                    path: path.to_owned(),
                    source: Box::new(source),
                })?
            }
            None => Config::default(),
        };
        for (name, value) in env {
            let Some(key) = name.strip_prefix("HAURACH_") else {
                continue;
            };
            let bad = |why: String| ConfigError::Env {
                name: name.clone(),
                why,
            };
            match key {
                "LISTEN" => config.listen = value.parse().map_err(|e| bad(format!("{e}")))?,
                "DATA" => config.data = PathBuf::from(&value),
                "CONTACT_TIMEOUT_S" => {
                    config.contact_timeout_s = value.parse().map_err(|e| bad(format!("{e}")))?
                }
                "MAX_SPEED_KMH" => {
                    config.max_speed_kmh = value.parse().map_err(|e| bad(format!("{e}")))?
                }
                "MAX_BODY_BYTES" => {
                    config.max_body_bytes = value.parse().map_err(|e| bad(format!("{e}")))?
                }
                "INVITE_TTL_H" => {
                    config.invite_ttl_h = value.parse().map_err(|e| bad(format!("{e}")))?
                }
                "MAX_LINKS" => config.max_links = value.parse().map_err(|e| bad(format!("{e}")))?,
                "MAX_CONNECTIONS" => {
                    config.max_connections = value.parse().map_err(|e| bad(format!("{e}")))?
                }
                "HEADER_READ_TIMEOUT_S" => {
                    config.header_read_timeout_s = value.parse().map_err(|e| bad(format!("{e}")))?
                }
                "LINK_IDLE_TIMEOUT_S" => {
                    config.link_idle_timeout_s = value.parse().map_err(|e| bad(format!("{e}")))?
                }
                "MAX_IMAGE_BYTES" => {
                    config.max_image_bytes = value.parse().map_err(|e| bad(format!("{e}")))?
                }
                "MAX_IMAGE_MEGAPIXELS" => {
                    config.max_image_megapixels = value.parse().map_err(|e| bad(format!("{e}")))?
                }
                "DATABASE_URL" => config.database_url = Some(value).filter(|v| !v.is_empty()),
                "NATS_URL" => config.nats_url = Some(value).filter(|v| !v.is_empty()),
                "NATS_BATCH_MS" => {
                    config.nats_batch_ms = value.parse().map_err(|e| bad(format!("{e}")))?
                }
                "JOURNEY_DAYS" => {
                    config.journey_days = value.parse().map_err(|e| bad(format!("{e}")))?
                }
                "GATE" => {
                    config.gate = haurach_proto::GateMode::from_key(&value)
                        .ok_or_else(|| bad("must be open, application or invite".into()))?
                }
                "MAX_PARCEL_BYTES" => {
                    config.max_parcel_bytes = value.parse().map_err(|e| bad(format!("{e}")))?
                }
                "PARCEL_QUOTA_BYTES" => {
                    config.parcel_quota_bytes = value.parse().map_err(|e| bad(format!("{e}")))?
                }
                "PICTURE_QUOTA_BYTES" => {
                    config.picture_quota_bytes = value.parse().map_err(|e| bad(format!("{e}")))?
                }
                "LETTERS_PER_DAY" => {
                    config.letters_per_day = value.parse().map_err(|e| bad(format!("{e}")))?
                }
                "TRUSTED_PROXIES" => {
                    config.trusted_proxies = value
                        .split(',')
                        .map(|p| p.trim().to_owned())
                        .filter(|p| !p.is_empty())
                        .collect()
                }
                "REGISTRATIONS_PER_HOUR" => {
                    config.registrations_per_hour =
                        value.parse().map_err(|e| bad(format!("{e}")))?
                }
                "PUSH_ALLOW_LOOPBACK" => {
                    config.push_allow_loopback = value
                        .parse()
                        .map_err(|_| bad("must be true or false".into()))?
                }
                "PUSH_SUBJECT" => config.push_subject = value,
                "PUSH_ALARM_REPEAT_S" => {
                    config.push_alarm_repeat_s = value.parse().map_err(|e| bad(format!("{e}")))?
                }
                "PUSH_MESSAGE_AFTER_S" => {
                    config.push_message_after_s = value.parse().map_err(|e| bad(format!("{e}")))?
                }
                "LOG_FORMAT" => {
                    config.log_format = LogFormat::from_key(&value)
                        .ok_or_else(|| bad("must be text or json".into()))?
                }
                "MAP_TILES" => config.map_tiles = value,
                "MAP_ATTRIBUTION" => config.map_attribution = value,
                // Variables the client side of the binary (or the log filter) reads.
                "SERVER" | "HOME" | "AS" | "LOG" | "PASSWORD" => {}
                _ => return Err(bad("not a Haurach setting".into())),
            }
        }
        Ok(config)
    }

    /// The settings a TOML file gives, over the defaults (not yet validated).
    pub fn from_toml(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }

    /// Checks that every value is usable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(ConfigError::Invalid(format!(
                    "{name} must be a positive number, not {v}"
                )))
            }
        };
        positive("contact_timeout_s", self.contact_timeout_s)?;
        positive("max_speed_kmh", self.max_speed_kmh)?;
        positive("invite_ttl_h", self.invite_ttl_h)?;
        positive("journey_days", self.journey_days)?;
        positive("push_alarm_repeat_s", self.push_alarm_repeat_s)?;
        positive("push_message_after_s", self.push_message_after_s)?;
        if !(self.push_subject.starts_with("mailto:") || self.push_subject.starts_with("https://"))
        {
            return Err(ConfigError::Invalid(
                "push_subject must be a mailto: address or an https:// URL".into(),
            ));
        }
        if self.max_body_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "max_body_bytes must be at least 1024".into(),
            ));
        }
        if self.max_parcel_bytes == 0 || self.parcel_quota_bytes == 0 || self.letters_per_day == 0 {
            return Err(ConfigError::Invalid(
                "max_parcel_bytes, parcel_quota_bytes and letters_per_day must be at least 1"
                    .into(),
            ));
        }
        if self.picture_quota_bytes == 0 {
            return Err(ConfigError::Invalid(
                "picture_quota_bytes must be at least 1".into(),
            ));
        }
        if self.max_image_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "max_image_bytes must be at least 1024".into(),
            ));
        }
        if !(1..=268).contains(&self.max_image_megapixels) {
            return Err(ConfigError::Invalid(
                "max_image_megapixels must be 1 to 268 (16,384 pixels a side)".into(),
            ));
        }
        if self.max_links == 0 {
            return Err(ConfigError::Invalid("max_links must be at least 1".into()));
        }
        if self.max_connections == 0 {
            return Err(ConfigError::Invalid(
                "max_connections must be at least 1".into(),
            ));
        }
        if !(self.header_read_timeout_s.is_finite()
            && (0.1..=3600.0).contains(&self.header_read_timeout_s))
        {
            return Err(ConfigError::Invalid(
                "header_read_timeout_s must be between 0.1 and 3600 seconds".into(),
            ));
        }
        if !(self.link_idle_timeout_s.is_finite()
            && (0.3..=86_400.0).contains(&self.link_idle_timeout_s))
        {
            return Err(ConfigError::Invalid(
                "link_idle_timeout_s must be between 0.3 and 86400 seconds".into(),
            ));
        }
        if self.registrations_per_hour == 0 {
            return Err(ConfigError::Invalid(
                "registrations_per_hour must be at least 1".into(),
            ));
        }
        self.proxies()?;
        crate::tiles::origin(&self.map_tiles).map_err(ConfigError::Invalid)?;
        if let Some(url) = &self.database_url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid(
                "database_url must be a PostgreSQL URL, postgres://user:password@host:port/database \
                 (leave it out to use SQLite under `data`)"
                    .into(),
            ));
        }
        if self.nats_url.is_some() && self.database_url.is_none() {
            return Err(ConfigError::Invalid(
                "nats_url is for several nodes, and several nodes must share one PostgreSQL \
                 database: set database_url too"
                    .into(),
            ));
        }
        if !(self.nats_batch_ms.is_finite() && (0.0..=50.0).contains(&self.nats_batch_ms)) {
            return Err(ConfigError::Invalid(
                "nats_batch_ms must be between 0 (each event at once) and 50 milliseconds".into(),
            ));
        }
        if let Some(url) = &self.nats_url
            && !(url.starts_with("nats://") || url.starts_with("tls://"))
        {
            return Err(ConfigError::Invalid(
                "nats_url must look like nats://host:4222 (leave it out for one node)".into(),
            ));
        }
        Ok(())
    }

    /// The trusted proxies as networks (a bare address is a network of one).
    pub fn proxies(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|p| {
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        ConfigError::Invalid(format!(
                            "trusted_proxies: {p:?} is not an address or a network \
                             (127.0.0.1, 10.0.0.0/8, ::1)"
                        ))
                    })
            })
            .collect()
    }

    /// How long a journey's fixes are kept, milliseconds.
    pub fn journey_keep_ms(&self) -> i64 {
        (self.journey_days * 86_400_000.0) as i64
    }

    /// How long a live link may stay silent, as a duration.
    pub fn link_idle_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.link_idle_timeout_s)
    }

    /// The contact timeout as a duration.
    pub fn contact_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.contact_timeout_s)
    }

    /// How often the server looks for contact lost: a quarter of the contact timeout, at
    /// most a second. With several nodes, a node shares that it heard someone at most
    /// this often (what it heard meanwhile goes at the next look).
    pub fn sweep_every(&self) -> Duration {
        Duration::from_secs_f64((self.contact_timeout_s / 4.0).clamp(0.05, 1.0))
    }

    /// The example configuration file, every setting at its default, with comments.
    pub fn example() -> String {
        let d = Config::default();
        format!(
            "# Haurach server configuration (haurach serve --config FILE).\n\
             # Every setting is optional; HAURACH_<NAME> environment variables and flags override it.\n\n\
             # Address to listen on (HAURACH_LISTEN, --listen).\n\
             listen = \"{}\"\n\
             # Directory of the SQLite database (HAURACH_DATA, --data).\n\
             data = \"{}\"\n\
             # Seconds of silence after which a partner has lost contact.\n\
             contact_timeout_s = {:.1}\n\
             # A position jump faster than this (km/h) stretches the bond.\n\
             max_speed_kmh = {:.1}\n\
             # Largest request body, bytes.\n\
             max_body_bytes = {}\n\
             # Hours an invite code works.\n\
             invite_ttl_h = {:.1}\n\
             # Most live links (WebSockets) held at once.\n\
             max_links = {}\n\
             # Most other HTTP connections open at once (HAURACH_MAX_CONNECTIONS).\n\
             max_connections = {}\n\
             # Seconds a connection may take to send its headers, or stay silent between\n\
             # requests, before it is closed (HAURACH_HEADER_READ_TIMEOUT_S).\n\
             header_read_timeout_s = {:.1}\n\
             # Seconds a live link may stay silent; after a third of it the server pings, and\n\
             # a link that answers nothing is closed (HAURACH_LINK_IDLE_TIMEOUT_S).\n\
             link_idle_timeout_s = {:.1}\n\
             # Days each fix of a person's journey is kept, then deleted (HAURACH_JOURNEY_DAYS).\n\
             journey_days = {:.1}\n\n\
             # How newcomers get in (HAURACH_GATE, --gate): \"open\" (anyone registers),\n\
             # \"application\" (they fill the gatekeeper's book and the tower answers) or\n\
             # \"invite\" (only with a code a citizen made). The first account is the tower's.\n\
             gate = \"{}\"\n\
             # Most parcel bytes in one letter.\n\
             max_parcel_bytes = {}\n\
             # Most parcel bytes one citizen may upload in all.\n\
             parcel_quota_bytes = {}\n\
             # Most letters one citizen sends in 24 hours.\n\
             letters_per_day = {}\n\n\
             # Largest picture accepted, bytes.\n\
             max_image_bytes = {}\n\
             # Most pixels a picture may have, megapixels (checked before decoding).\n\
             max_image_megapixels = {}\n\
             # Most bytes of pictures and journal photos one citizen may upload in all\n\
             # (HAURACH_PICTURE_QUOTA_BYTES).\n\
             picture_quota_bytes = {}\n\n\
             # Most accounts registered from one address in an hour (HAURACH_REGISTRATIONS_PER_HOUR).\n\
             registrations_per_hour = {}\n\
             # Proxies in front of the server, whose X-Forwarded-For names the real client\n\
             # (HAURACH_TRUSTED_PROXIES, comma-separated): set this behind nginx, or every\n\
             # client shares the proxy's address and its limits.\n\
             trusted_proxies = []\n\n\
             # Web Push: who runs this server, for the push services (HAURACH_PUSH_SUBJECT);\n\
             # seconds between pushes of an unacknowledged alarm (HAURACH_PUSH_ALARM_REPEAT_S);\n\
             # seconds a word or a feeling may go unseen before it is pushed\n\
             # (HAURACH_PUSH_MESSAGE_AFTER_S); and, for tests only, endpoints on http://127.0.0.1 (HAURACH_PUSH_ALLOW_LOOPBACK).\n\
             push_subject = \"{}\"\n\
             push_alarm_repeat_s = {:.1}\n\
             push_message_after_s = {:.1}\n\
             push_allow_loopback = {}\n\n\
             # How log lines are written to stderr (HAURACH_LOG_FORMAT, --log-format): \"text\"\n\
             # (coloured only on a terminal) or \"json\" (one object a line). Which lines are\n\
             # written is set by HAURACH_LOG (default \"info\"; see docs/deploy.md).\n\
             log_format = \"{}\"\n\n\
             # The web client's map: where its tiles come from, a URL template with {{z}}, {{x}} and\n\
             # {{y}} (HAURACH_MAP_TILES; empty: no map), and the credit the source asks for\n\
             # (HAURACH_MAP_ATTRIBUTION). The page may load images from that origin only.\n\
             map_tiles = \"{}\"\n\
             map_attribution = \"{}\"\n\n\
             # Several nodes serving one city share a PostgreSQL database and a NATS server\n\
             # (see docs/deploy.md). Without these, one node serves it from SQLite.\n\
             # database_url = \"postgres://haurach:secret@127.0.0.1:5432/haurach\"  (HAURACH_DATABASE_URL)\n\
             # nats_url = \"nats://127.0.0.1:4222\"  (HAURACH_NATS_URL)\n\
             # Milliseconds a busy node gathers what it shares before one write to NATS; 0\n\
             # sends each at once (HAURACH_NATS_BATCH_MS).\n\
             # nats_batch_ms = 10\n",
            d.listen,
            d.data.display(),
            d.contact_timeout_s,
            d.max_speed_kmh,
            d.max_body_bytes,
            d.invite_ttl_h,
            d.max_links,
            d.max_connections,
            d.header_read_timeout_s,
            d.link_idle_timeout_s,
            d.journey_days,
            d.gate.key(),
            d.max_parcel_bytes,
            d.parcel_quota_bytes,
            d.letters_per_day,
            d.max_image_bytes,
            d.max_image_megapixels,
            d.picture_quota_bytes,
            d.registrations_per_hour,
            d.push_subject,
            d.push_alarm_repeat_s,
            d.push_message_after_s,
            d.push_allow_loopback,
            d.log_format.key(),
            d.map_tiles,
            d.map_attribution
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_parses_back_to_the_defaults() {
        let parsed: Config = toml::from_str(&Config::example()).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn env_overrides_and_rejects_typos() {
        let c = Config::load(
            None,
            [("HAURACH_CONTACT_TIMEOUT_S".to_string(), "5".to_string())],
        )
        .unwrap();
        assert_eq!(c.contact_timeout_s, 5.0);
        let err = Config::load(None, [("HAURACH_LISTN".to_string(), "x".to_string())])
            .unwrap_err()
            .to_string();
        assert!(err.contains("HAURACH_LISTN"), "{err}");
        // A client's password in the environment neither stops the server nor is printed.
        let env = [("HAURACH_PASSWORD".to_string(), "my-secret".to_string())];
        assert!(Config::load(None, env).is_ok());
        let env = [("HAURACH_LISTEN".to_string(), "my-secret".to_string())];
        let err = Config::load(None, env).unwrap_err().to_string();
        assert!(!err.contains("my-secret"), "{err}");
    }
}
