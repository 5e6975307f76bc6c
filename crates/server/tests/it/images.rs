//! Images between partners over real HTTP: stripping, sharpening on approach, never
//! taking back, refusing bad and hostile pictures, retries and restarts.

use std::net::SocketAddr;

use haurach_proto::{MessageKind, ServerFrame};
use serde_json::Value;

use crate::common::TestServer;

/// A real photo (Samsung Galaxy S7 Edge, 800 × 600) with the camera's EXIF, GPS
/// included; see `crates/picture/tests/picture.rs` for its source.
pub(crate) const GPS_PHOTO: &[u8] = include_bytes!("../../../picture/tests/gps-photo.jpg");

/// Metres east of (0, 0) on the equator, as a longitude.
fn east(m: f64) -> f64 {
    m / 111_319.49
}

pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: String,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub(crate) fn problem_code(&self) -> String {
        assert!(
            self.headers
                .contains("content-type: application/problem+json"),
            "{} without problem+json: {}",
            self.status,
            self.headers
        );
        self.json()["code"].as_str().unwrap_or_default().to_owned()
    }
}

/// One HTTP exchange with a binary body.
pub(crate) async fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    body: &[u8],
    content_type: &str,
) -> Reply {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\nauthorization: Bearer {token}\r\n"
    );
    if method == "POST" {
        req.push_str(&format!(
            "content-type: {content_type}\r\ncontent-length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    // A refused body may be cut off by the server's answer: that is fine.
    let _ = stream.write_all(body).await;
    let mut res = Vec::new();
    let _ = stream.read_to_end(&mut res).await;
    let split = res
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a full response");
    let head = String::from_utf8_lossy(&res[..split]).to_lowercase();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Reply {
        status,
        headers: head,
        body: res[split + 4..].to_vec(),
    }
}

pub(crate) async fn send_image(s: &TestServer, token: &str, id: &str, bytes: &[u8]) -> Reply {
    exchange(
        s.addr,
        "POST",
        &format!("/api/v1/bond/images?id={id}"),
        token,
        bytes,
        "image/jpeg",
    )
    .await
}

pub(crate) async fn get(s: &TestServer, token: &str, path: &str) -> Reply {
    exchange(s.addr, "GET", path, token, b"", "").await
}

/// The longest side of the picture the caller gets now, from the list and from the
/// pixels themselves.
async fn seen_side(s: &TestServer, token: &str, id: &str) -> u32 {
    let list = get(s, token, "/api/v1/bond/images").await;
    assert_eq!(list.status, 200);
    let listed = list.json()["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .expect("the image is listed")["side"]
        .as_u64()
        .unwrap() as u32;
    let pic = get(s, token, &format!("/api/v1/bond/images/{id}/picture")).await;
    assert_eq!(pic.status, 200);
    assert!(pic.headers.contains("content-type: image/jpeg"));
    let img = image::load_from_memory(&pic.body).unwrap();
    let side = img.width().max(img.height());
    assert_eq!(side, listed, "the list and the pixels agree");
    side
}

fn has(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn a_photo_reaches_the_partner_without_its_position() {
    let s = TestServer::start().await;
    let (amethyst, spike) = s.pair("amethyst", "spike", "story").await;
    s.put_position(&amethyst, 0.0, 0.0).await;
    s.put_position(&spike, 0.0, east(5_000.0)).await;
    let mut link = s.link(&spike, None).await;

    let sent = send_image(&s, &amethyst, "photo-1", GPS_PHOTO).await;
    assert_eq!(sent.status, 201, "{}", String::from_utf8_lossy(&sent.body));
    let view = sent.json();
    let id = view["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (view["width"].as_u64(), view["height"].as_u64()),
        (Some(800), Some(600))
    );
    assert_eq!(view["side"], 800, "the sender sees it whole");

    // The partner is told, with the image's id.
    let frame = link
        .until(
            |f| matches!(f, ServerFrame::Message { message } if message.kind == MessageKind::Image),
        )
        .await;
    let ServerFrame::Message { message } = frame else {
        unreachable!()
    };
    assert_eq!(message.body.as_deref(), Some(id.as_str()));
    assert_eq!(message.from, "amethyst");

    // 5 km apart: a 512-pixel rendition, with nothing of the camera's metadata.
    let pic = get(&s, &spike, &format!("/api/v1/bond/images/{id}/picture")).await;
    assert_eq!(pic.status, 200);
    assert!(pic.headers.contains("haurach-side: 512"), "{}", pic.headers);
    let img = image::load_from_memory(&pic.body).unwrap();
    assert_eq!((img.width(), img.height()), (512, 384));
    for needle in [&b"Exif"[..], b"GPS", b"samsung", b"SM-G935L"] {
        assert!(!has(&pic.body, needle), "{needle:?} reached the partner");
    }
    // The original is the sender's alone; it still carries its EXIF.
    let original = get(&s, &amethyst, &format!("/api/v1/bond/images/{id}/original")).await;
    assert_eq!(original.status, 200);
    assert_eq!(original.body, GPS_PHOTO);
    let refused = get(&s, &spike, &format!("/api/v1/bond/images/{id}/original")).await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.problem_code(), "not_your_original");
    // Even the sender's full-size picture is the stripped one.
    let full = get(&s, &amethyst, &format!("/api/v1/bond/images/{id}/picture")).await;
    assert!(!has(&full.body, b"GPS") && !has(&full.body, b"Exif"));
    link.close().await;
}

#[tokio::test]
async fn pictures_sharpen_on_approach_and_are_never_taken_back() {
    let s = TestServer::start().await;
    let (amethyst, spike) = s.pair("amethyst", "spike", "story").await;
    s.put_position(&amethyst, 0.0, 0.0).await;
    s.put_position(&spike, 0.0, east(10_000.0)).await;
    let sent = send_image(&s, &amethyst, "sky", GPS_PHOTO).await;
    assert_eq!(sent.status, 201);
    let id = sent.json()["id"].as_str().unwrap().to_owned();

    assert_eq!(seen_side(&s, &spike, &id).await, 128, "10 km: blurry");
    s.put_position(&spike, 0.0, east(5_000.0)).await;
    assert_eq!(seen_side(&s, &spike, &id).await, 512, "5 km: sharper");
    s.put_position(&spike, 0.0, east(12_000.0)).await;
    assert_eq!(
        seen_side(&s, &spike, &id).await,
        512,
        "12 km again: what was seen is kept"
    );
    s.put_position(&spike, 0.0, east(1_500.0)).await;
    assert_eq!(seen_side(&s, &spike, &id).await, 800, "within sight: whole");
    // A smaller one on request, snapped to a rung; never a larger one than allowed.
    let small = get(
        &s,
        &spike,
        &format!("/api/v1/bond/images/{id}/picture?side=300"),
    )
    .await;
    assert!(
        small.headers.contains("haurach-side: 256"),
        "{}",
        small.headers
    );
}

#[tokio::test]
async fn an_image_needs_the_images_tier() {
    let s = TestServer::start().await;
    let (amethyst, spike) = s.pair("amethyst", "spike", "story").await;
    s.put_position(&amethyst, 0.0, 0.0).await;
    s.put_position(&spike, 0.0, east(18_000.0)).await;
    let refused = send_image(&s, &amethyst, "too-far", GPS_PHOTO).await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.problem_code(), "tier_closed");
    assert_eq!(refused.json()["tier"], "images");
    assert_eq!(refused.json()["range_m"], 15_000.0);
    let list = get(&s, &spike, "/api/v1/bond/images").await;
    assert_eq!(list.json()["images"], Value::Array(vec![]));
    // And no image message can be forged through the messages route.
    let (status, body) = s
        .call(
            "POST",
            "/api/v1/bond/messages",
            Some(&amethyst),
            Some(&serde_json::json!({"kind": "image", "id": "x", "body": "0198"})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "use_images_route");
}

#[tokio::test]
async fn bad_and_hostile_pictures_are_refused_with_a_clear_problem() {
    let s = TestServer::start_with(|c| c.max_image_bytes = 200_000).await;
    let (amethyst, spike) = s.pair("amethyst", "spike", "story").await;
    s.put_position(&amethyst, 0.0, 0.0).await;
    s.put_position(&spike, 0.0, east(1_000.0)).await;

    let text = send_image(&s, &amethyst, "a", b"%PDF-1.7 this is not a picture").await;
    assert_eq!(
        (text.status, text.problem_code().as_str()),
        (415, "unsupported_image_type")
    );

    let cut = send_image(&s, &amethyst, "b", &GPS_PHOTO[..GPS_PHOTO.len() / 2]).await;
    assert_eq!(
        (cut.status, cut.problem_code().as_str()),
        (422, "corrupt_image")
    );
    assert!(cut.json()["detail"].as_str().unwrap().contains("cut short"));

    // A frame header claiming 65,000 × 65,000 pixels: refused from the header.
    let mut huge = GPS_PHOTO.to_vec();
    let sof = huge.windows(2).rposition(|w| w == [0xFF, 0xC0]).unwrap();
    huge[sof + 5..sof + 9].copy_from_slice(&[0xFD, 0xE8, 0xFD, 0xE8]);
    let huge = send_image(&s, &amethyst, "c", &huge).await;
    assert_eq!(
        (huge.status, huge.problem_code().as_str()),
        (422, "too_many_pixels")
    );

    let big = vec![0xFFu8; 300_000];
    let big = send_image(&s, &amethyst, "d", &big).await;
    assert_eq!(
        (big.status, big.problem_code().as_str()),
        (413, "image_too_large")
    );

    let empty = send_image(&s, &amethyst, "e", b"").await;
    assert_eq!(
        (empty.status, empty.problem_code().as_str()),
        (400, "image_required")
    );

    let no_id = exchange(
        s.addr,
        "POST",
        "/api/v1/bond/images",
        &amethyst,
        GPS_PHOTO,
        "image/jpeg",
    )
    .await;
    assert_eq!(
        (no_id.status, no_id.problem_code().as_str()),
        (400, "invalid_query")
    );

    // Nothing was stored, and the server still works.
    let list = get(&s, &spike, "/api/v1/bond/images").await;
    assert_eq!(list.json()["images"], Value::Array(vec![]));
    let ok = send_image(&s, &amethyst, "f", GPS_PHOTO).await;
    assert_eq!(ok.status, 201);
    let missing = get(
        &s,
        &spike,
        "/api/v1/bond/images/0198a0a0-0000-7000-8000-000000000000/picture",
    )
    .await;
    assert_eq!(
        (missing.status, missing.problem_code().as_str()),
        (404, "no_such_image")
    );
}

#[tokio::test]
async fn a_retried_upload_is_stored_once_and_survives_a_restart() {
    let s = TestServer::start().await;
    let (amethyst, spike) = s.pair("amethyst", "spike", "story").await;
    s.put_position(&amethyst, 0.0, 0.0).await;
    s.put_position(&spike, 0.0, east(5_000.0)).await;
    let first = send_image(&s, &amethyst, "once", GPS_PHOTO).await;
    assert_eq!(first.status, 201);
    let again = send_image(&s, &amethyst, "once", GPS_PHOTO).await;
    assert_eq!(again.status, 200);
    assert_eq!(first.json()["id"], again.json()["id"]);
    let (_, page) = s
        .call("GET", "/api/v1/bond/messages", Some(&spike), None)
        .await;
    let images: Vec<_> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "image")
        .collect();
    assert_eq!(images.len(), 1, "{page}");
    let id = first.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(seen_side(&s, &spike, &id).await, 512);

    let dir = s.stop().await;
    let s = TestServer::start_in(dir, |_| {}).await;
    let tokens = (amethyst, spike);
    // After the restart the partners are farther apart; what was seen stays.
    s.put_position(&tokens.1, 0.0, east(14_000.0)).await;
    assert_eq!(seen_side(&s, &tokens.1, &id).await, 512);
}

#[tokio::test]
async fn a_trace_over_a_picture_reaches_the_partner_in_place_while_images_are_open() {
    let s = TestServer::start().await;
    let (amethyst, spike) = s.pair("amethyst", "spike", "story").await;
    s.put_position(&amethyst, 0.0, 0.0).await;
    s.put_position(&spike, 0.0, east(5_000.0)).await;
    let sent = send_image(&s, &amethyst, "sky", GPS_PHOTO).await;
    let id = sent.json()["id"].as_str().unwrap().to_owned();
    let mut a = s.link(&amethyst, None).await;
    let mut b = s.link(&spike, None).await;

    let stroke = serde_json::json!({
        "type": "trace", "image": id, "stroke": 1,
        "points": [[0.1, 0.2], [0.5, 0.25], [0.9, 0.3]], "end": true
    });
    a.send_text(&stroke.to_string()).await;
    let got = b.until(|f| matches!(f, ServerFrame::Trace { .. })).await;
    let ServerFrame::Trace { from, trace } = got else {
        unreachable!()
    };
    assert_eq!(from, "amethyst");
    assert_eq!(
        trace.over,
        haurach_proto::link::Over::Image(id.parse().unwrap())
    );
    assert_eq!(trace.points, vec![[0.1, 0.2], [0.5, 0.25], [0.9, 0.3]]);
    assert!(trace.end);

    let outside = serde_json::json!({
        "type": "trace", "image": id, "stroke": 2, "points": [[1.5, 0.2]]
    });
    a.send_text(&outside.to_string()).await;
    let err = a.until(|f| matches!(f, ServerFrame::Error { .. })).await;
    let ServerFrame::Error { problem, .. } = err else {
        unreachable!()
    };
    assert_eq!(problem.code, "invalid_trace");

    // Out of the images range, strokes stop.
    s.put_position(&spike, 0.0, east(18_000.0)).await;
    a.send_text(&stroke.to_string()).await;
    let err = a
        .until(|f| matches!(f, ServerFrame::Error { problem, .. } if problem.code == "tier_closed"))
        .await;
    assert!(matches!(err, ServerFrame::Error { .. }));
    while let Some(f) = b.try_next(std::time::Duration::from_millis(300)).await {
        assert!(
            !matches!(f, ServerFrame::Trace { .. }),
            "a stroke passed out of range"
        );
    }
}

/// Two nodes of one city (PostgreSQL + NATS): a picture sent through one node is seen,
/// sharpened to the strength, through the other, and its original through either; nothing
/// of it is on the sending node's disk. It is sent right after the partner's fix was
/// acknowledged through the other node: an acknowledged fix crosses at once, even from a
/// node that gathers what it shares for 50 ms (it would otherwise wait behind the node
/// having just shared that the partner was heard, and the picture be refused as sent
/// before anyone knew where both are).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_picture_sent_through_one_node_is_seen_through_the_other() {
    let Some(nodes) = crate::common::two_nodes_with(|c| c.nats_batch_ms = 50.0).await else {
        return;
    };
    let (one, two) = (&nodes.one, &nodes.two);
    let (amethyst, spike) = one.pair("amethyst", "spike", "story").await;
    one.put_position(&amethyst, 0.0, 0.0).await;
    two.put_position(&spike, 0.0, east(5_000.0)).await;

    let sent = send_image(one, &amethyst, "photo-1", GPS_PHOTO).await;
    assert_eq!(sent.status, 201, "{}", String::from_utf8_lossy(&sent.body));
    let id = sent.json()["id"].as_str().unwrap().to_owned();
    assert!(
        !one.dir.path().join("images").join(&id).exists(),
        "a picture kept on one node's disk"
    );
    assert_eq!(seen_side(two, &spike, &id).await, 512, "5 km apart");
    let original = get(
        two,
        &amethyst,
        &format!("/api/v1/bond/images/{id}/original"),
    )
    .await;
    assert_eq!(original.status, 200);
    assert_eq!(original.body, GPS_PHOTO);
}
