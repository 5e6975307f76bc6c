//! Serving connections: HTTP/1.1 (WebSocket upgrades included) with the limits an
//! operator sets, on hyper directly rather than `axum::serve`, which sets no timer and
//! so no timeout at all: a connection that sends its headers slowly, or nothing, is
//! closed after `header_read_timeout_s` (the same bound holds between two requests on a
//! kept-alive connection), and at most `max_connections` connections are served at once
//! besides live links (a link's connection leaves the count when it is upgraded; links
//! have their own cap). A connection past the cap is closed at once, so a flood of
//! silent connections cannot take the descriptors `/healthz` needs.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceBuilder;

use crate::metrics::Gauge;

/// What a connection may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long a request's headers may take to arrive, and how long a connection may
    /// stay silent between requests.
    pub header_read: Duration,
    /// The most connections served at once (besides upgraded links).
    pub max_connections: usize,
}

/// Serves `router` on `listener` until `shutdown` completes; then stops accepting, lets
/// each connection finish the request it is in, and returns once all have. `open`
/// counts the connections served now.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    open: Gauge,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    // Every connection's task holds a receiver: `closing` tells them to finish, and the
    // sender's `closed()` says when the last has.
    let (closing, closing_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors, or a connection reset before it was taken:
                    // wait a moment rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::debug!("connection refused: max_connections reached");
            drop(tcp);
            continue;
        };
        // Frames are small and latency matters: no Nagle delay on any connection.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        // Every request carries the address that connected, for the limits per address
        // (`http/client.rs`, which also reads what a trusted proxy forwards).
        let service = TowerToHyperService::new(
            ServiceBuilder::new()
                .map_request(move |mut req: Request<Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    req
                })
                .service(router.clone()),
        );
        let mut closing = closing_rx.clone();
        let open = open.clone();
        open.inc();
        tokio::spawn(async move {
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read)
                .keep_alive(true);
            let conn = builder
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades();
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended");
                    }
                }
                _ = closing.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(permit);
            open.dec();
        });
    }
    drop(closing_rx);
    let _ = closing.send(true);
    closing.closed().await;
    Ok(())
}
