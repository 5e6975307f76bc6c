//! The city over HTTP and the link, a file per feature: the gate's modes and the tower
//! (`gate`), fire-mail (`letters`: parcels, receipts, threads, return to sender, the
//! exactly-once move under a race, bad input) and summoning (`summons`). What the stories
//! share is here: the database they run on, the server, and how a newcomer registers,
//! logs in and moves parcels.

mod gate;
mod letters;
mod summons;

use serde_json::{Value, json};

use haurach_server::Config;
use haurach_testkit::PgCluster;

use crate::common::TestServer;

/// Where a test's city keeps its records: SQLite in a temporary directory, or a
/// throwaway PostgreSQL cluster. Each story runs on both.
pub enum Db {
    Sqlite,
    Postgres(PgCluster),
}

async fn city_server(db: &Db, tweak: impl FnOnce(&mut Config)) -> TestServer {
    let url = match db {
        Db::Sqlite => None,
        Db::Postgres(pg) => Some(pg.url()),
    };
    TestServer::start_with(move |c| {
        c.database_url = url;
        tweak(c);
    })
    .await
}

async fn register(s: &TestServer, body: Value) -> (u16, Value) {
    s.call("POST", "/api/v1/accounts", None, Some(&body)).await
}

async fn login(s: &TestServer, name: &str) -> String {
    let creds = json!({"name": name, "password": "purple-dragon"});
    let (status, body) = s.call("POST", "/api/v1/sessions", None, Some(&creds)).await;
    assert_eq!(status, 200, "login {name}: {body}");
    body["token"].as_str().unwrap().to_owned()
}

fn book(name: &str) -> Value {
    json!({"name": name, "family_name": "Sparkle...I guess", "from": "the desert, kept by the Dark Earth",
           "age": 19, "calling": "Letter Bearer, I assume?", "note": "a pull brought me here"})
}

/// Uploads `bytes` as a parcel; returns the status and body.
async fn upload(s: &TestServer, token: &str, bytes: &[u8]) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/parcels HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\
         authorization: Bearer {token}\r\ncontent-type: application/octet-stream\r\n\
         content-length: {}\r\n\r\n",
        bytes.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (413) before reading the whole body.
    let _ = stream.write_all(bytes).await;
    let mut res = Vec::new();
    let _ = stream.read_to_end(&mut res).await;
    let res = String::from_utf8_lossy(&res).into_owned();
    let (head, body) = res.split_once("\r\n\r\n").expect("a full response");
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    if status >= 400 {
        assert!(
            head.to_lowercase().contains("application/problem+json"),
            "{head}"
        );
    }
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Downloads a parcel: status and bytes.
async fn download(s: &TestServer, token: &str, path: &str) -> (u16, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\nauthorization: Bearer {token}\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut res = Vec::new();
    stream.read_to_end(&mut res).await.unwrap();
    let split = res.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&res[..split]).to_lowercase();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = res[split + 4..].to_vec();
    assert!(
        !head.contains("transfer-encoding: chunked"),
        "parcels are sent with their length"
    );
    (status, body)
}
