//! The Haurach server: the HTTP API, the live link, storage and the event bus.
//!
//! [`run`] is the whole server: the binary calls it with a bound listener and a shutdown
//! future, and so do the tests (with a port-0 listener). Backends are chosen once, here:
//! SQLite for storage and the in-process bus; everything below is generic over
//! [`store::Store`] and [`bus::Bus`].
#![deny(missing_docs)]

pub mod auth;
pub mod bus;
pub mod config;
pub mod error;
pub mod http;
pub mod hub;
pub mod images;
pub mod link;
pub mod memories;
pub mod messages;
pub mod metrics;
pub mod openapi;
pub mod positions;
pub mod sight;
pub mod store;
pub mod web;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;

pub use config::Config;

use bus::{Bus, LocalBus};
use hub::Hub;
use store::{Sqlite, Store};

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The store could not be opened.
    #[error("storage: {0}")]
    Store(#[from] store::StoreError),
    /// The configuration is unusable.
    #[error("configuration: {0}")]
    Config(#[from] config::ConfigError),
    /// Serving failed.
    #[error("serving: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs the server on `listener` with SQLite under `config.data` and the in-process bus
/// until `shutdown` completes.
pub async fn run(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    config.validate()?;
    let store = Sqlite::open(&config.data).await?;
    launch(store, LocalBus::new(), config, listener, shutdown).await
}

/// Runs the server over any store and bus.
pub async fn launch<S: Store, B: Bus>(
    store: S,
    bus: B,
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let sweep_every = Duration::from_secs_f64((config.contact_timeout_s / 4.0).clamp(0.05, 1.0));
    let app = Arc::new(http::App::new(
        Hub::new(store, bus, config),
        stop_rx.clone(),
    ));

    // The sweeper declares contact lost; it owns a clone of the state and ends with the
    // shutdown signal.
    let sweeper = {
        let app = app.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(sweep_every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => app.hub.sweep().await,
                    _ = stop.changed() => return,
                }
            }
        })
    };

    let router = http::router(app);
    let mut stop_wait = stop_rx.clone();
    // Frames are small and latency matters: no Nagle delay on any connection.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let result = axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Links and the sweeper watch this; the HTTP server stops taking connections.
            let _ = stop_tx.send(true);
            let _ = stop_wait.changed().await;
        })
        .await;
    sweeper.abort();
    Ok(result?)
}
