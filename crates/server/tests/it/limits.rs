//! Connections an attacker holds open: hardening finding 2 ("no header-read, idle or
//! connection timeouts: 800 slow-header and 50 silent connections were still open after
//! 75 s, and 1,100 silent TCP connections exhausted the descriptors so `/healthz` timed
//! out for 30 s").

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::TestServer;

/// Whether the server closes `stream` within `wait` (reads to end of file).
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn slow_headers_and_silence_are_cut_off() {
    let s = TestServer::start_with(|c| c.header_read_timeout_s = 0.5).await;
    let mut silent = TcpStream::connect(s.addr).await.unwrap();
    let mut slow = TcpStream::connect(s.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nhost: t")
        .await
        .unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(5)).await);
    assert!(closed_within(&mut slow, Duration::from_secs(5)).await);

    // A kept-alive connection may not idle for ever between requests either.
    let mut idle = TcpStream::connect(s.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 256];
    let n = idle.read(&mut answer).await.unwrap();
    assert!(String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 200"));
    assert!(closed_within(&mut idle, Duration::from_secs(5)).await);
}

#[tokio::test]
async fn a_flood_of_silent_connections_leaves_room_once_they_are_cut_off() {
    let s = TestServer::start_with(|c| {
        c.max_connections = 20;
        c.header_read_timeout_s = 1.0;
    })
    .await;
    let mut flood = Vec::new();
    for _ in 0..20 {
        flood.push(TcpStream::connect(s.addr).await.unwrap());
    }
    // One more than the cap is closed at once, not left hanging.
    let mut extra = TcpStream::connect(s.addr).await.unwrap();
    assert!(closed_within(&mut extra, Duration::from_millis(500)).await);
    // The silent ones are cut off, and the server answers again.
    for stream in &mut flood {
        assert!(closed_within(stream, Duration::from_secs(5)).await);
    }
    let (status, _) = s.call("GET", "/healthz", None, None).await;
    assert_eq!(status, 200);
}
