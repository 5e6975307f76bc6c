//! The Haurach server: the HTTP API, the live link, storage and the event bus.
//!
//! [`run`] is the whole server: the binary calls it with a bound listener and a shutdown
//! future, and so do the tests (with a port-0 listener). Backends are chosen once, here:
//! SQLite for storage and the in-process bus; everything below is generic over
//! [`haurach_store::Store`] and [`bus::Bus`].
#![deny(missing_docs)]

pub mod auth;
pub mod bus;
pub mod clock;
pub mod config;
pub mod error;
pub mod gpx;
pub mod http;
pub(crate) mod mailbox;
pub mod metrics;
pub mod push;
pub mod runtime;
pub mod tiles;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use config::Config;

use bus::{Bus, LocalBus};
use haurach_store::blobs::{Blobs, FsBlobs, PgBlobs};
use haurach_store::files::Files;
use haurach_store::{Postgres, Sqlite, Store};
use runtime::Hub;

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The store could not be opened (its text says what is wrong, and what to do when
    /// the data directory cannot be used).
    #[error(transparent)]
    Store(#[from] haurach_store::StoreError),
    /// The configuration is unusable.
    #[error("configuration: {0}")]
    Config(#[from] config::ConfigError),
    /// Serving failed.
    #[error("serving: {0}")]
    Io(#[from] std::io::Error),
    /// NATS could not be reached.
    #[error("live events: {0}")]
    Nats(#[from] bus::nats::NatsError),
}

/// How often fixes older than the journey's retention are deleted.
const JOURNEY_SWEEP: Duration = Duration::from_secs(3600);

/// Runs the server on `listener` until `shutdown` completes: with SQLite under
/// `config.data`, or PostgreSQL at `config.database_url`; with the in-process bus, or NATS
/// at `config.nats_url`.
pub async fn run(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    open(config).await?.serve(listener, shutdown).await
}

/// The backends of a server, opened and ready to serve.
enum Backends {
    /// SQLite under the data directory, the in-process bus.
    Sqlite(Sqlite),
    /// PostgreSQL, the in-process bus: one node.
    Postgres(Postgres),
    /// PostgreSQL and NATS: one node of several.
    PostgresNats(Postgres, bus::nats::NatsBus),
}

/// A server whose storage (and NATS) is open, not yet serving: `haurach serve` opens it
/// before it binds its port, so a server that cannot use its data says so and exits
/// without ever taking a connection it could not answer.
pub struct Opened {
    config: Config,
    backends: Backends,
}

/// Checks `config` and opens what it names: the store (taking the data directory's lock,
/// for SQLite) and NATS.
pub async fn open(config: Config) -> Result<Opened, ServerError> {
    config.validate()?;
    let nats = match &config.nats_url {
        Some(url) => Some(
            bus::nats::NatsBus::connect(
                url,
                Duration::from_secs_f64(config.nats_batch_ms / 1000.0),
            )
            .await?,
        ),
        None => None,
    };
    let backends = match (&config.database_url, nats) {
        (None, None) => Backends::Sqlite(Sqlite::open(&config.data).await?),
        (None, Some(_)) => {
            return Err(config::ConfigError::Invalid(
                "nats_url needs database_url (checked by validate)".into(),
            )
            .into());
        }
        (Some(url), None) => Backends::Postgres(Postgres::connect(url).await?),
        (Some(url), Some(nats)) => Backends::PostgresNats(Postgres::connect(url).await?, nats),
    };
    Ok(Opened { config, backends })
}

impl Opened {
    /// Serves on `listener` until `shutdown` completes.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let Opened { config, backends } = self;
        match backends {
            Backends::Sqlite(store) => {
                let blobs = Blobs::Files(FsBlobs::new(config.data.join("parcels")));
                let files = Files::Disk(config.data.clone());
                let bus = LocalBus::new();
                launch(store, bus, (blobs, files), config, listener, shutdown).await
            }
            Backends::Postgres(store) => {
                let (blobs, files) = in_postgres(&store);
                let bus = LocalBus::new();
                launch(store, bus, (blobs, files), config, listener, shutdown).await
            }
            Backends::PostgresNats(store, nats) => {
                let (blobs, files) = in_postgres(&store);
                launch(store, nats, (blobs, files), config, listener, shutdown).await
            }
        }
    }
}

/// Parcels' bytes and pictures' files in PostgreSQL, which every node of a city reaches.
fn in_postgres(store: &Postgres) -> (Blobs, Files) {
    (
        Blobs::Postgres(PgBlobs::new(store.pool().clone())),
        Files::Postgres(store.pool().clone()),
    )
}

/// Runs the server over any store and bus, with parcels' bytes in `blobs` and pictures'
/// files in `files`.
pub async fn launch<S: Store, B: Bus>(
    store: S,
    bus: B,
    (blobs, files): (Blobs, Files),
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let sweep_every = config.sweep_every();
    let app = Arc::new(http::App::new(
        Hub::new(store, bus, blobs, files, config),
        stop_rx.clone(),
    ));

    // The sweeper declares contact lost (a paused person's is kept live, and the end of a
    // pause announced) and deletes old journeys; it owns a clone of the state and ends with the
    // shutdown signal.
    let sweeper = {
        let app = app.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(sweep_every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // Journeys older than `journey_days` are deleted at start and every hour.
            let mut journeys = tokio::time::interval(JOURNEY_SWEEP);
            journeys.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        app.hub.sweep_pauses().await;
                        app.hub.sweep().await;
                    }
                    _ = journeys.tick() => app.hub.forget_old_journeys().await,
                    _ = stop.changed() => return,
                }
            }
        })
    };

    // Changes other nodes share, each bond's in the order they arrive; a glimpse asked
    // there is the relay's to remember. Weak: the bus's tasks must not keep the state
    // (and the store) alive past the shutdown.
    let weak = Arc::downgrade(&app);
    app.hub.bus.apply_with(Arc::new(move |event| {
        let weak = weak.clone();
        Box::pin(async move {
            let Some(app) = weak.upgrade() else {
                return;
            };
            match event {
                bus::BondEvent::GlimpseAsked {
                    asked,
                    asker,
                    side,
                    expires_ms,
                    tier,
                } => app.hub.relay.expect_glimpse(
                    haurach_store::AccountId(asked),
                    haurach_store::AccountId(asker),
                    side,
                    expires_ms,
                    tier,
                ),
                other => app.hub.apply(other).await,
            }
        })
    }));
    // Camera frames other nodes pass to links here.
    let cameras = app.hub.bus.take_camera_frames().map(|mut frames| {
        let app = app.clone();
        tokio::spawn(async move {
            while let Some((to, frame)) = frames.recv().await {
                app.hub.relay.deliver(to, frame);
            }
        })
    });

    let limits = http::serve::Limits {
        header_read: Duration::from_secs_f64(app.hub.config.header_read_timeout_s),
        max_connections: app.hub.config.max_connections,
    };
    let connections = app.hub.metrics.connections.clone();
    let push = app.hub.push.clone();
    let router = http::router(app);
    let mut stop_wait = stop_rx.clone();
    let result = http::serve::serve(listener, router, limits, connections, async move {
        shutdown.await;
        // Links and the sweeper watch this; the HTTP server stops taking connections.
        let _ = stop_tx.send(true);
        let _ = stop_wait.changed().await;
    })
    .await;
    // Each task holds the state, and through it the store: awaited, not only aborted, so
    // the store (and the data directory's lock) is let go before this returns and a
    // server started next on the same directory finds it free. So do the pushes that
    // wait (an unseen message's 10 s, an alarm's repeats).
    push.close().await;
    let tasks: Vec<_> = [Some(sweeper), cameras].into_iter().flatten().collect();
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        let _ = task.await;
    }
    Ok(result?)
}
