//! A server started in-process on a port-0 listener, and small clients for it.

use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use haurach_proto::{ClientFrame, ServerFrame};
use haurach_server::Config;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Two nodes of one city, on a throwaway PostgreSQL cluster and NATS server that live as
/// long as they do (the nodes are dropped first).
pub struct TwoNodes {
    pub one: TestServer,
    pub two: TestServer,
    _pg: haurach_testkit::PgCluster,
    pub nats: haurach_testkit::NatsServer,
}

/// Starts [`TwoNodes`]; `None` (the test skips, unless servers are required) where
/// PostgreSQL or NATS cannot start.
pub async fn two_nodes() -> Option<TwoNodes> {
    two_nodes_with(|_| {}).await
}

/// [`two_nodes`], with `tweak` applied to each node's configuration too.
pub async fn two_nodes_with(tweak: impl Fn(&mut Config)) -> Option<TwoNodes> {
    use haurach_testkit::{NatsServer, PgCluster, or_skip};
    let pg = or_skip(PgCluster::start())?;
    let nats = or_skip(NatsServer::start())?;
    let node = || {
        let (db, bus) = (pg.url(), nats.url());
        TestServer::start_with(|c| {
            c.database_url = Some(db);
            c.nats_url = Some(bus);
            tweak(c);
        })
    };
    let one = node().await;
    let two = node().await;
    Some(TwoNodes {
        one,
        two,
        _pg: pg,
        nats,
    })
}

/// A running server; stopped when dropped or by [`TestServer::stop`].
pub struct TestServer {
    pub addr: SocketAddr,
    pub dir: TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    /// A server on a throwaway PostgreSQL cluster, which it must not outlive (keep both,
    /// the cluster first, so the server is dropped first), or `None` where PostgreSQL is
    /// missing and the test may be skipped (`haurach_testkit::or_skip`).
    pub async fn on_postgres() -> Option<(haurach_testkit::PgCluster, TestServer)> {
        let pg = haurach_testkit::or_skip(haurach_testkit::PgCluster::start())?;
        let url = pg.url();
        let s = TestServer::start_with(move |c| c.database_url = Some(url)).await;
        Some((pg, s))
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        TestServer::start_in(dir, tweak).await
    }

    /// Starts a server on an existing data directory (for restarts).
    pub async fn start_in(dir: TempDir, tweak: impl FnOnce(&mut Config)) -> TestServer {
        // The gate is open: these tests register citizens freely; the gate's other
        // modes have their own tests (tests/it/gate.rs).
        let mut config = Config {
            data: dir.path().to_owned(),
            gate: haurach_proto::GateMode::Open,
            ..Config::default()
        };
        tweak(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            haurach_server::run(config, listener, async {
                let _ = stopped.await;
            })
            .await
            .expect("server runs");
        });
        TestServer {
            addr,
            dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server and waits for it; returns the data directory.
    pub async fn stop(mut self) -> TempDir {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }

    /// Registers and logs in `name`; returns the token.
    pub async fn citizen(&self, name: &str) -> String {
        let creds = json!({"name": name, "password": "purple-dragon"});
        let (status, _) = self
            .call("POST", "/api/v1/accounts", None, Some(&creds))
            .await;
        assert_eq!(status, 201, "register {name}");
        let (status, body) = self
            .call("POST", "/api/v1/sessions", None, Some(&creds))
            .await;
        assert_eq!(status, 200, "login {name}");
        body["token"].as_str().unwrap().to_owned()
    }

    /// Two citizens bonded in `profile`; returns their tokens (inviter first).
    pub async fn pair(&self, a: &str, b: &str, profile: &str) -> (String, String) {
        let (ta, tb) = (self.citizen(a).await, self.citizen(b).await);
        let (status, invite) = self
            .call("POST", "/api/v1/bond/invites", Some(&ta), None)
            .await;
        assert_eq!(status, 201);
        let accept = json!({"code": invite["code"], "profile": profile});
        let (status, bond) = self
            .call("POST", "/api/v1/bond", Some(&tb), Some(&accept))
            .await;
        assert_eq!(status, 201, "{bond}");
        (ta, tb)
    }

    pub async fn put_position(&self, token: &str, lat: f64, lon: f64) {
        let (status, body) = self
            .call(
                "PUT",
                "/api/v1/me/position",
                Some(token),
                Some(&json!({"lat": lat, "lon": lon})),
            )
            .await;
        assert_eq!(status, 204, "{body}");
    }

    /// One HTTP request; returns the status and the JSON body (Null when empty).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        http(
            self.addr,
            method,
            path,
            token,
            body.map(|b| b.to_string()).as_deref(),
        )
        .await
    }

    pub async fn link(&self, token: &str, after: Option<i64>) -> Link {
        let mut url = format!("ws://{}/api/v1/link?token={token}", self.addr);
        if let Some(after) = after {
            url.push_str(&format!("&after={after}"));
        }
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("link connects");
        Link { ws }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A minimal HTTP/1.1 client over a plain socket, so tests see exactly what the server
/// sends (status, content type, body).
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, Value) {
    let (status, headers, body) = raw(addr, method, path, token, body, "application/json").await;
    if status >= 400 {
        assert!(
            headers.contains("content-type: application/problem+json"),
            "{method} {path} → {status} without problem+json: {headers}\n{body}"
        );
    }
    let json = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&body).unwrap_or(Value::String(body))
    };
    (status, json)
}

/// A raw HTTP exchange: status, lowercase headers, body.
pub async fn raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
    content_type: &str,
) -> (u16, String, String) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| ("authorization", a))
        .into_iter()
        .collect();
    raw_with(addr, method, path, &headers, body, content_type).await
}

/// A raw HTTP exchange with the headers given: status, lowercase headers, body.
pub async fn raw_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
    content_type: &str,
) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n");
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() || matches!(method, "POST" | "PUT") {
        req.push_str(&format!(
            "content-type: {content_type}\r\ncontent-length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut res = Vec::new();
    stream.read_to_end(&mut res).await.unwrap();
    let split = res
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a full response");
    let (head, rest) = (String::from_utf8_lossy(&res[..split]), &res[split + 4..]);
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let head = head.to_lowercase();
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    // A compressed body is not text: lossy, as the tests read only text bodies.
    (status, head, String::from_utf8_lossy(&body).into_owned())
}

/// A chunked body's bytes.
fn dechunk(mut s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = s.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&s[..end]);
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        let rest = &s[end + 2..];
        if n == 0 || rest.len() < n {
            break;
        }
        out.extend_from_slice(&rest[..n]);
        s = rest.get(n + 2..).unwrap_or_default();
    }
    out
}

/// A live link.
pub struct Link {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Link {
    pub async fn send(&mut self, frame: &ClientFrame) {
        let json = serde_json::to_string(frame).unwrap();
        self.ws.send(WsMessage::Text(json.into())).await.unwrap();
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(WsMessage::Text(text.into())).await.unwrap();
    }

    /// The next frame, failing after five seconds.
    pub async fn next(&mut self) -> ServerFrame {
        self.try_next(std::time::Duration::from_secs(5))
            .await
            .expect("a frame within 5 s")
    }

    /// The next frame within `wait`, or `None`.
    pub async fn try_next(&mut self, wait: std::time::Duration) -> Option<ServerFrame> {
        loop {
            let msg = tokio::time::timeout(wait, self.ws.next()).await.ok()??;
            match msg.expect("link stays healthy") {
                WsMessage::Text(text) => {
                    return Some(serde_json::from_str(&text).expect("frames parse"));
                }
                WsMessage::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// Frames until one matches, failing after five seconds.
    pub async fn until(&mut self, mut pred: impl FnMut(&ServerFrame) -> bool) -> ServerFrame {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let frame = self
                .try_next(left)
                .await
                .expect("the awaited frame within 5 s");
            if pred(&frame) {
                return frame;
            }
        }
    }

    /// Reads until the server closes the link; its close code and reason, or `None` if
    /// it stays open for `wait`.
    pub async fn closed(&mut self, wait: std::time::Duration) -> Option<(u16, String)> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()??;
            if let Ok(WsMessage::Close(frame)) = msg {
                return Some(frame.map_or((1005, String::new()), |f| {
                    (f.code.into(), f.reason.to_string())
                }));
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }

    /// Sends a raw WebSocket message (a broken frame, too large a one).
    pub async fn send_raw(&mut self, msg: WsMessage) {
        let _ = self.ws.send(msg).await;
    }
}
