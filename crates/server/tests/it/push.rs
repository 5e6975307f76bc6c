//! Web Push as a browser meets it: the test is the browser (its own P-256 key and auth
//! secret) and its push service (an endpoint on 127.0.0.1, standing in for the browser
//! vendor's, which the server may call only with `push_allow_loopback`). What arrives is
//! decrypted and its VAPID token verified by Python's http_ece and cryptography
//! (`push_check.py`), not by the crate that encrypted it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};
use web_push_native::p256;
use web_push_native::p256::elliptic_curve::sec1::ToEncodedPoint as _;

use haurach_proto::{ClientFrame, ServerFrame};

use crate::common::TestServer;

/// A push as the push service received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

/// The stand-in push service: answers 201, or 410 under `/gone/`, or 429 once then 201
/// under `/busy/`; keeps every request.
#[derive(Clone, Default)]
pub struct PushService {
    received: Arc<Mutex<Vec<Received>>>,
    busy_seen: Arc<Mutex<u32>>,
}

impl PushService {
    pub async fn start() -> (PushService, SocketAddr) {
        let service = PushService::default();
        let app = axum::Router::new()
            .fallback(take)
            .with_state(service.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (service, addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until a push with `topic` has arrived at `path` since `from` pushes.
    pub async fn wait_for(&self, path: &str, topic: &str, from: usize) -> Received {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(r) = self.received().into_iter().skip(from).find(|r| {
                r.path == path && r.headers.get("topic").map(String::as_str) == Some(topic)
            }) {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "no {topic} push at {path}: {:?}",
                self.received()
                    .iter()
                    .map(|r| (&r.path, r.headers.get("topic")))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn take(
    State(service): State<PushService>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, [(&'static str, &'static str); 1]) {
    let path = uri.path().to_owned();
    service.received.lock().unwrap().push(Received {
        path: path.clone(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body: body.to_vec(),
        at: Instant::now(),
    });
    if path.starts_with("/gone/") {
        return (StatusCode::GONE, [("retry-after", "0")]);
    }
    if path.starts_with("/busy/") {
        let mut seen = service.busy_seen.lock().unwrap();
        *seen += 1;
        if *seen == 1 {
            return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "0")]);
        }
    }
    (StatusCode::CREATED, [("retry-after", "0")])
}

/// A browser's push keys: a P-256 key pair and an auth secret.
pub struct BrowserKeys {
    pub private: [u8; 32],
    pub public: String,
    pub auth: String,
}

impl BrowserKeys {
    pub fn new() -> BrowserKeys {
        loop {
            let private: [u8; 32] = rand::random();
            if let Ok(secret) = p256::SecretKey::from_slice(&private) {
                let point = secret.public_key().to_encoded_point(false);
                return BrowserKeys {
                    private,
                    public: B64.encode(point.as_bytes()),
                    auth: B64.encode(rand::random::<[u8; 16]>()),
                };
            }
        }
    }

    pub fn subscription(&self, endpoint: &str) -> Value {
        json!({"endpoint": endpoint, "expirationTime": null,
               "keys": {"p256dh": self.public, "auth": self.auth}})
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Decrypts and verifies `pushes` (sent to `endpoint_base` + their path) with Python's
/// http_ece and cryptography; returns each payload and its token's claims.
pub fn decrypt_elsewhere(
    keys: &BrowserKeys,
    server_key: &str,
    endpoint_base: &str,
    pushes: &[Received],
) -> Vec<(Value, Value)> {
    let root = workspace();
    let setup = std::process::Command::new(root.join("scripts/push-venv"))
        .status()
        .expect("run scripts/push-venv");
    assert!(setup.success(), "scripts/push-venv failed");
    let job = json!({
        "private_key": B64.encode(keys.private),
        "auth": keys.auth,
        "server_key": server_key,
        "pushes": pushes.iter().map(|p| json!({
            "endpoint": format!("{endpoint_base}{}", p.path),
            "authorization": p.headers.get("authorization").cloned().unwrap_or_default(),
            "body": B64.encode(&p.body),
        })).collect::<Vec<_>>(),
    });
    let mut child = std::process::Command::new(root.join("target/push-venv/bin/python"))
        .arg(root.join("crates/server/tests/it/push_check.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start push_check.py");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(job.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "push_check.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["payload"].clone(), v["claims"].clone())
        })
        .collect()
}

async fn subscribe(s: &TestServer, token: &str, sub: &Value) -> (u16, Value) {
    s.call("POST", "/api/v1/push/subscriptions", Some(token), Some(sub))
        .await
}

/// `token`'s person raises the alarm; the message as the server stored it.
async fn raise_alarm(s: &TestServer, token: &str) -> Value {
    let alarm = json!({"kind": "alarm", "id": "a1", "body": "help"});
    let (status, raised) = s
        .call("POST", "/api/v1/bond/messages", Some(token), Some(&alarm))
        .await;
    assert_eq!(status, 201, "{raised}");
    raised
}

#[tokio::test]
async fn the_alarm_a_summons_a_letter_lost_contact_and_places_reach_a_closed_page() {
    let (service, push_addr) = PushService::start().await;
    let base = format!("http://{push_addr}");
    let s = TestServer::start_with(|c| {
        c.push_allow_loopback = true;
        c.push_alarm_repeat_s = 0.4;
        c.contact_timeout_s = 2.0;
    })
    .await;
    let (amethyst, spike) = s.pair("amethyst", "spike", "story").await;
    let twilight = s.citizen("twilight").await;
    let (status, key) = s.call("GET", "/api/v1/push/key", Some(&spike), None).await;
    assert_eq!(status, 200);
    let server_key = key["public_key"].as_str().unwrap().to_owned();
    assert_eq!(B64.decode(&server_key).unwrap().len(), 65);

    // Spike's phone, an old device whose subscription its push service has dropped, and
    // a tablet whose push service is busy at first.
    let phone = BrowserKeys::new();
    let (old, tablet) = (BrowserKeys::new(), BrowserKeys::new());
    for (keys, path) in [
        (&phone, "/dev/phone"),
        (&old, "/gone/old"),
        (&tablet, "/busy/tablet"),
    ] {
        let (status, body) =
            subscribe(&s, &spike, &keys.subscription(&format!("{base}{path}"))).await;
        assert_eq!(status, 201, "{body}");
    }

    // The alarm, at any range: pushed at once, again while nobody acknowledges it.
    let raised = raise_alarm(&s, &amethyst).await;
    let seq = raised["seq"].as_i64().unwrap();
    let first = service.wait_for("/dev/phone", "alarm", 0).await;
    assert_eq!(first.headers["urgency"], "high");
    assert_eq!(first.headers["content-encoding"], "aes128gcm");
    assert_eq!(first.headers["ttl"], "86400");
    let n = service.received().len();
    service.wait_for("/dev/phone", "alarm", n).await;
    // The busy tablet had it after a retry; the gone device was asked once and forgotten.
    service.wait_for("/busy/tablet", "alarm", 0).await;
    let ack = format!("/api/v1/bond/alarms/{seq}/ack");
    assert_eq!(s.call("POST", &ack, Some(&spike), None).await.0, 200);
    let acked = Instant::now();

    // A letter: who wrote, not what.
    let letter = json!({"to": "spike", "body": "the secret words", "id": "l1"});
    let (status, sent) = s
        .call("POST", "/api/v1/letters", Some(&amethyst), Some(&letter))
        .await;
    assert_eq!(status, 201, "{sent}");
    service.wait_for("/dev/phone", "letter", 0).await;

    // A summons from Twilight, whom Spike allows.
    let allow = "/api/v1/summons/allowed/twilight";
    assert_eq!(s.call("PUT", allow, Some(&spike), None).await.0, 204);
    let call = json!({"to": "spike", "lat": 46.05, "lon": 7.0});
    let (status, summons) = s
        .call("POST", "/api/v1/summons", Some(&twilight), Some(&call))
        .await;
    assert_eq!(status, 201, "{summons}");
    service.wait_for("/dev/phone", "summons", 0).await;

    // Amethyst falls silent: Spike hears that contact is lost, then restored.
    let n = service.received().len();
    let lost = service.wait_for("/dev/phone", "contact", n).await;
    s.put_position(&amethyst, 46.0, 7.0).await;
    let restored = service
        .wait_for(
            "/dev/phone",
            "contact",
            service
                .received()
                .iter()
                .position(|r| r.at >= lost.at)
                .unwrap()
                + 1,
        )
        .await;
    assert!(restored.at > lost.at);

    // Amethyst leaves the place where she stands, and comes back.
    let home = json!({"lat": 46.0, "lon": 7.0, "radius_m": 100.0});
    let (status, _) = s
        .call("PUT", "/api/v1/places/home", Some(&amethyst), Some(&home))
        .await;
    assert_eq!(status, 201);
    let n = service.received().len();
    s.put_position(&amethyst, 46.1, 7.0).await;
    service.wait_for("/dev/phone", "place", n).await;
    let n = service.received().len();
    s.put_position(&amethyst, 46.0, 7.0).await;
    service.wait_for("/dev/phone", "place", n).await;

    let received = service.received();
    let to = |path: &str| -> Vec<Received> {
        received
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    };
    // Decrypted and verified by another implementation.
    let phone_pushes = to("/dev/phone");
    let decrypted = decrypt_elsewhere(&phone, &server_key, &base, &phone_pushes);
    for (_, claims) in &decrypted {
        assert_eq!(claims["aud"], base.as_str());
        assert_eq!(claims["sub"], "mailto:operator@haurach.invalid");
    }
    let payloads: Vec<&Value> = decrypted.iter().map(|(p, _)| p).collect();
    let alarms: Vec<_> = phone_pushes
        .iter()
        .zip(&payloads)
        .filter(|(_, p)| p["kind"] == "alarm")
        .collect();
    assert!(
        alarms.len() >= 2,
        "the alarm was pushed {} times",
        alarms.len()
    );
    for (_, p) in &alarms {
        assert_eq!(
            ***p,
            json!({"kind": "alarm", "from": "amethyst", "seq": seq})
        );
    }
    // Acknowledged: at most one push already on its way after it.
    let late = alarms
        .iter()
        .filter(|(r, _)| r.at > acked + Duration::from_millis(100))
        .count();
    assert!(late <= 1, "{late} alarm pushes after the acknowledgement");
    let one = |kind: &str| -> Value {
        let found: Vec<_> = payloads.iter().filter(|p| p["kind"] == kind).collect();
        assert_eq!(found.len(), 1, "{kind}: {payloads:?}");
        (*found[0]).clone()
    };
    assert_eq!(
        one("letter"),
        json!({"kind": "letter", "from": "amethyst", "id": sent["id"]})
    );
    assert!(
        !phone_pushes
            .iter()
            .any(|p| String::from_utf8_lossy(&p.body).contains("secret"))
    );
    assert_eq!(
        one("summons"),
        json!({"kind": "summons", "from": "twilight", "id": summons["id"]})
    );
    assert_eq!(
        one("contact_lost"),
        json!({"kind": "contact_lost", "who": "amethyst"})
    );
    let places: Vec<&&Value> = payloads.iter().filter(|p| p["kind"] == "place").collect();
    assert_eq!(
        places,
        [
            &&json!({"kind": "place", "who": "amethyst", "place": "home", "event": "left"}),
            &&json!({"kind": "place", "who": "amethyst", "place": "home", "event": "arrived"}),
        ]
    );
    assert_eq!(
        one("contact_restored"),
        json!({"kind": "contact_restored", "who": "amethyst"})
    );

    // 410 Gone: asked once, then never again.
    assert_eq!(to("/gone/old").len(), 1);
    // 429: the same push again, after the wait the service asked for.
    let tablet_pushes = to("/busy/tablet");
    assert!(tablet_pushes.len() >= 2);
    let tablet_alarm = decrypt_elsewhere(&tablet, &server_key, &base, &tablet_pushes[..2]);
    assert_eq!(tablet_alarm[1].0["kind"], "alarm");

    // Unsubscribed: nothing more.
    let (status, _) = s
        .call(
            "DELETE",
            "/api/v1/push/subscriptions",
            Some(&spike),
            Some(&json!({"endpoint": format!("{base}/dev/phone")})),
        )
        .await;
    assert_eq!(status, 204);
    let letter = json!({"to": "spike", "body": "again", "id": "l2"});
    assert_eq!(
        s.call("POST", "/api/v1/letters", Some(&amethyst), Some(&letter))
            .await
            .0,
        201
    );
    service.wait_for("/busy/tablet", "letter", 0).await;
    assert_eq!(
        service
            .received()
            .iter()
            .filter(|r| r.path == "/dev/phone" && r.headers["topic"] == "letter")
            .count(),
        1
    );
}

/// Words and a feeling reach a closed page as news that there are some: never the words,
/// never which feeling, and a burst of words as one push. A page that takes them in time
/// is left alone.
#[tokio::test]
async fn words_and_a_feeling_reach_a_closed_page_and_an_open_one_gets_no_push() {
    let (service, push_addr) = PushService::start().await;
    let base = format!("http://{push_addr}");
    let s = TestServer::start_with(|c| {
        c.push_allow_loopback = true;
        c.push_message_after_s = 1.0;
    })
    .await;
    let (amethyst, spike) = s.pair("amethyst", "spike", "story").await;
    // Side by side: voice and feelings are open.
    s.put_position(&amethyst, 46.0, 7.0).await;
    s.put_position(&spike, 46.0, 7.0001).await;
    let (_, key) = s.call("GET", "/api/v1/push/key", Some(&spike), None).await;
    let server_key = key["public_key"].as_str().unwrap().to_owned();
    let phone = BrowserKeys::new();
    let (status, body) = subscribe(&s, &spike, &phone.subscription(&format!("{base}/phone"))).await;
    assert_eq!(status, 201, "{body}");
    let send = |message: Value| {
        let (s, amethyst) = (&s, &amethyst);
        async move {
            let (status, sent) = s
                .call(
                    "POST",
                    "/api/v1/bond/messages",
                    Some(amethyst),
                    Some(&message),
                )
                .await;
            assert_eq!(status, 201, "{sent}");
            sent["seq"].as_i64().unwrap()
        }
    };

    // Spike's page is closed: three words in a row are one push, naming the last.
    let mut last = 0;
    for (id, body) in [
        ("w1", "the secret words"),
        ("w2", "secret two"),
        ("w3", "secret three"),
    ] {
        last = send(json!({"kind": "voice", "id": id, "body": body})).await;
    }
    service.wait_for("/phone", "voice", 0).await;
    let feeling = send(json!({"kind": "feeling", "id": "f1", "feeling": "longing"})).await;
    service.wait_for("/phone", "feeling", 0).await;

    // Spike opens the page, which shows and acknowledges what comes: no push.
    let mut link = s.link(&spike, None).await;
    let seen = send(json!({"kind": "voice", "id": "w4", "body": "seen at once"})).await;
    link.until(|f| matches!(f, ServerFrame::Message { message } if message.seq == seen))
        .await;
    link.send(&ClientFrame::Ack { seq: seen }).await;
    let felt = send(json!({"kind": "feeling", "id": "f2", "feeling": "joy"})).await;
    link.until(|f| matches!(f, ServerFrame::Message { message } if message.seq == felt))
        .await;
    link.send(&ClientFrame::Ack { seq: felt }).await;
    // Three times the wait: a push would have come by now.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let pushes = service.received();
    let decrypted = decrypt_elsewhere(&phone, &server_key, &base, &pushes);
    let payloads: Vec<&Value> = decrypted.iter().map(|(p, _)| p).collect();
    assert_eq!(
        payloads,
        [
            &json!({"kind": "voice", "from": "amethyst", "seq": last}),
            &json!({"kind": "feeling", "from": "amethyst", "seq": feeling}),
        ]
    );
    assert_eq!(pushes[0].headers["ttl"], "43200");
    assert_eq!(pushes[1].headers["ttl"], "3600");
}

/// A long burst of words waits as one push, not one per word: the server holds one
/// waiting push for the whole burst (an operator sees it in `haurach_pushes_waiting`), and
/// the closed page gets one push naming the last word.
#[tokio::test]
async fn a_long_burst_of_words_waits_as_one_push() {
    let (service, push_addr) = PushService::start().await;
    let base = format!("http://{push_addr}");
    let s = TestServer::start_with(|c| {
        c.push_allow_loopback = true;
        c.push_message_after_s = 2.0;
    })
    .await;
    let (amethyst, spike) = s.pair("amethyst", "spike", "story").await;
    s.put_position(&amethyst, 46.0, 7.0).await;
    s.put_position(&spike, 46.0, 7.0001).await;
    let phone = BrowserKeys::new();
    let (status, body) = subscribe(&s, &spike, &phone.subscription(&format!("{base}/phone"))).await;
    assert_eq!(status, 201, "{body}");
    let mut last = 0;
    for n in 0..60 {
        let kind = if n % 10 == 9 { "feeling" } else { "voice" };
        let message = if kind == "voice" {
            json!({"kind": "voice", "id": format!("w{n}"), "body": format!("word {n}")})
        } else {
            json!({"kind": "feeling", "id": format!("w{n}"), "feeling": "longing"})
        };
        let (status, sent) = s
            .call(
                "POST",
                "/api/v1/bond/messages",
                Some(&amethyst),
                Some(&message),
            )
            .await;
        assert_eq!(status, 201, "{sent}");
        last = sent["seq"].as_i64().unwrap();
    }
    let waiting = crate::metrics::must(&crate::metrics::scrape(&s).await, "haurach_pushes_waiting");
    assert_eq!(
        waiting, 1.0,
        "sixty words and feelings in a row wait as one push"
    );
    service.wait_for("/phone", "feeling", 0).await;
    // Twice the wait more: a second push would have come by now.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (_, key) = s.call("GET", "/api/v1/push/key", Some(&spike), None).await;
    let server_key = key["public_key"].as_str().unwrap().to_owned();
    let pushes = service.received();
    let decrypted = decrypt_elsewhere(&phone, &server_key, &base, &pushes);
    let payloads: Vec<&Value> = decrypted.iter().map(|(p, _)| p).collect();
    assert_eq!(
        payloads,
        [&json!({"kind": "feeling", "from": "amethyst", "seq": last})]
    );
    let waiting = crate::metrics::must(&crate::metrics::scrape(&s).await, "haurach_pushes_waiting");
    assert_eq!(waiting, 0.0);
}

#[tokio::test]
async fn endpoints_that_would_reach_the_servers_own_network_are_refused() {
    let (service, push_addr) = PushService::start().await;
    let base = format!("http://{push_addr}");
    let keys = BrowserKeys::new();
    let s = TestServer::start_with(|c| c.push_allow_loopback = true).await;
    let (amethyst, spike) = s.pair("amethyst", "spike", "story").await;
    let (_, key) = s.call("GET", "/api/v1/push/key", Some(&spike), None).await;
    // Allowed while testing: the loopback endpoint.
    let local = keys.subscription(&format!("{base}/dev/phone"));
    assert_eq!(subscribe(&s, &spike, &local).await.0, 201);
    // Even then, nothing else internal, and nothing but https elsewhere.
    for endpoint in [
        "http://10.0.0.1/x",
        "http://push.example.com/x",
        "https://10.0.0.1/x",
    ] {
        let (status, problem) = subscribe(&s, &spike, &keys.subscription(endpoint)).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (422, Some("push_endpoint_refused")),
            "{endpoint}"
        );
    }
    let mut bad = keys.subscription(&format!("{base}/dev/tablet"));
    bad["keys"]["p256dh"] = json!("AAAA");
    let (status, problem) = subscribe(&s, &spike, &bad).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("invalid_push_keys"))
    );

    // Without the setting (as served): the kept loopback subscription is not pushed to,
    // and the key is the one kept.
    let dir = s.stop().await;
    let s = TestServer::start_in(dir, |_| {}).await;
    let amethyst = {
        let _ = amethyst;
        let creds = json!({"name": "amethyst", "password": "purple-dragon"});
        let (_, body) = s.call("POST", "/api/v1/sessions", None, Some(&creds)).await;
        body["token"].as_str().unwrap().to_owned()
    };
    let spike = {
        let creds = json!({"name": "spike", "password": "purple-dragon"});
        let (_, body) = s.call("POST", "/api/v1/sessions", None, Some(&creds)).await;
        body["token"].as_str().unwrap().to_owned()
    };
    let (_, again) = s.call("GET", "/api/v1/push/key", Some(&spike), None).await;
    assert_eq!(again, key, "the VAPID key is kept across restarts");
    for endpoint in [
        format!("{base}/dev/phone"),
        "https://127.0.0.1/x".into(),
        "https://localhost/x".into(),
        "https://192.168.1.1/x".into(),
        "https://172.16.0.1/x".into(),
        "https://169.254.169.254/latest/meta-data".into(),
        "https://100.64.0.1/x".into(),
        "https://0.0.0.0/x".into(),
        "https://224.0.0.1/x".into(),
        "https://192.0.2.1/x".into(),
        "https://[::1]/x".into(),
        "https://[fd00::1]/x".into(),
        "https://[fe80::1]/x".into(),
        "https://[::ffff:127.0.0.1]/x".into(),
        "ftp://push.example.com/x".into(),
        "not a url".into(),
    ] {
        let (status, problem) = subscribe(&s, &spike, &keys.subscription(&endpoint)).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (422, Some("push_endpoint_refused")),
            "{endpoint}: {problem}"
        );
    }
    raise_alarm(&s, &amethyst).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        service.received().is_empty(),
        "a push went to a loopback endpoint"
    );
}

#[tokio::test]
async fn with_two_nodes_each_event_is_pushed_once_signed_with_one_key() {
    use haurach_testkit::{NatsServer, PgCluster, or_skip};
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    let Some(nats) = or_skip(NatsServer::start()) else {
        return;
    };
    let node = || {
        let (db, bus) = (pg.url(), nats.url());
        TestServer::start_with(move |c| {
            c.database_url = Some(db);
            c.nats_url = Some(bus);
            c.push_allow_loopback = true;
            c.contact_timeout_s = 2.0;
        })
    };
    let one = node().await;
    let two = node().await;
    let (service, push_addr) = PushService::start().await;
    let (amethyst, spike) = one.pair("amethyst", "spike", "story").await;
    let (_, key_one) = one
        .call("GET", "/api/v1/push/key", Some(&spike), None)
        .await;
    let (_, key_two) = two
        .call("GET", "/api/v1/push/key", Some(&spike), None)
        .await;
    assert_eq!(key_one, key_two, "every node signs with the same key");
    let keys = BrowserKeys::new();
    let sub = keys.subscription(&format!("http://{push_addr}/dev/phone"));
    assert_eq!(subscribe(&two, &spike, &sub).await.0, 201);

    // Both nodes hold the bond: each hears one partner.
    one.put_position(&amethyst, 46.0, 7.0).await;
    two.put_position(&spike, 46.0, 7.001).await;
    raise_alarm(&two, &amethyst).await;
    let letter = json!({"to": "spike", "body": "hello", "id": "l1"});
    let (status, _) = one
        .call("POST", "/api/v1/letters", Some(&amethyst), Some(&letter))
        .await;
    assert_eq!(status, 201);
    service.wait_for("/dev/phone", "alarm", 0).await;
    service.wait_for("/dev/phone", "letter", 0).await;
    // Amethyst falls silent; both nodes' sweeps see it, one pushes it.
    service.wait_for("/dev/phone", "contact", 0).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let received = service.received();
    let topics: Vec<&str> = received
        .iter()
        .map(|r| r.headers["topic"].as_str())
        .collect();
    let count = |topic: &str| topics.iter().filter(|t| **t == topic).count();
    assert_eq!(
        (count("alarm"), count("letter"), count("contact")),
        (1, 1, 1),
        "{topics:?}"
    );
    let decrypted = decrypt_elsewhere(
        &keys,
        key_one["public_key"].as_str().unwrap(),
        &format!("http://{push_addr}"),
        &received,
    );
    assert!(
        decrypted
            .iter()
            .any(|(p, _)| *p == json!({"kind": "contact_lost", "who": "amethyst"})),
        "{decrypted:?}"
    );
}

/// A private bond's sealed place news and meeting point reach a closed page as news that
/// there is some: who and which kind, never which place or where (the server cannot
/// open them), and a newer one of a kind covers the older's push.
#[tokio::test]
async fn a_private_bonds_place_news_and_meeting_point_reach_a_closed_page_as_news_only() {
    let (service, push_addr) = PushService::start().await;
    let base = format!("http://{push_addr}");
    let s = TestServer::start_with(|c| {
        c.push_allow_loopback = true;
        c.push_message_after_s = 1.0;
    })
    .await;
    let bond = crate::private::bond_privately(&s).await;
    let (_, key) = s
        .call("GET", "/api/v1/push/key", Some(&bond.her), None)
        .await;
    let server_key = key["public_key"].as_str().unwrap().to_owned();
    let phone = BrowserKeys::new();
    let (status, body) =
        subscribe(&s, &bond.her, &phone.subscription(&format!("{base}/phone"))).await;
    assert_eq!(status, 201, "{body}");
    let sealer = bond.sealer();
    let mut seqs = Vec::new();
    for (counter, (id, kind, content)) in [
        (
            "p1",
            "place",
            r#"{"name":"the jade orchard","event":"arrived"}"#,
        ),
        (
            "p2",
            "place",
            r#"{"name":"the jade orchard","event":"left"}"#,
        ),
        ("m1", "meeting", r#"{"pinned":"the umber bridge"}"#),
    ]
    .into_iter()
    .enumerate()
    {
        let sealed = bond
            .his(kind)
            .seal(&sealer, counter as u64 + 1, content.as_bytes())
            .unwrap();
        let (status, sent) = s
            .call(
                "POST",
                "/api/v1/bond/messages",
                Some(&bond.him),
                Some(&json!({"id": id, "kind": kind, "sealed": sealed})),
            )
            .await;
        assert_eq!(status, 201, "{sent}");
        seqs.push(sent["seq"].as_i64().unwrap());
    }
    service.wait_for("/phone", "place", 0).await;
    service.wait_for("/phone", "meeting", 0).await;
    // Three times the wait: the first place news' push would have come by now.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let pushes = service.received();
    let decrypted = decrypt_elsewhere(&phone, &server_key, &base, &pushes);
    let mut payloads: Vec<String> = decrypted.iter().map(|(p, _)| p.to_string()).collect();
    payloads.sort();
    assert_eq!(
        payloads,
        [
            json!({"kind": "sealed_meeting", "from": "spike", "seq": seqs[2]}).to_string(),
            json!({"kind": "sealed_place", "from": "spike", "seq": seqs[1]}).to_string(),
        ]
    );
    for p in &payloads {
        assert!(!p.contains("jade") && !p.contains("umber"), "{p}");
    }
}
