//! Glimpse and sight over real links: binary camera frames, consent, the size and rate
//! the strength allows, and the stop when the partners leave the range.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use haurach_proto::ServerFrame;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::common::TestServer;

const GPS_PHOTO: &[u8] = include_bytes!("../../../picture/tests/gps-photo.jpg");

fn east(m: f64) -> f64 {
    m / 111_319.49
}

/// A link that sees binary frames too.
struct Raw {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

enum Got {
    Json(ServerFrame),
    Binary(Vec<u8>),
}

impl Raw {
    async fn open(s: &TestServer, token: &str) -> Raw {
        let url = format!("ws://{}/api/v1/link?token={token}", s.addr);
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut raw = Raw { ws };
        assert!(matches!(
            raw.next().await,
            Some(Got::Json(ServerFrame::Hello { .. }))
        ));
        raw
    }

    async fn next_within(&mut self, wait: Duration) -> Option<Got> {
        loop {
            let msg = tokio::time::timeout(wait, self.ws.next())
                .await
                .ok()??
                .unwrap();
            match msg {
                WsMessage::Text(t) => return Some(Got::Json(serde_json::from_str(&t).unwrap())),
                WsMessage::Binary(b) => return Some(Got::Binary(b.to_vec())),
                WsMessage::Close(_) => return None,
                _ => {}
            }
        }
    }

    async fn next(&mut self) -> Option<Got> {
        self.next_within(Duration::from_secs(5)).await
    }

    /// The next binary frame, skipping JSON ones (pulls, tiers).
    async fn binary(&mut self, wait: Duration) -> Option<Vec<u8>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await? {
                Got::Binary(b) => return Some(b),
                Got::Json(_) => {}
            }
        }
    }

    /// The next JSON frame matching `pred`, skipping others.
    async fn until(&mut self, pred: impl Fn(&ServerFrame) -> bool) -> ServerFrame {
        loop {
            match self.next().await.expect("a frame within 5 s") {
                Got::Json(f) if pred(&f) => return f,
                _ => {}
            }
        }
    }

    async fn send_json(&mut self, v: Value) {
        self.ws
            .send(WsMessage::Text(v.to_string().into()))
            .await
            .unwrap();
    }

    async fn send_binary(&mut self, kind: u8, jpeg: &[u8]) {
        let mut frame = vec![kind];
        frame.extend_from_slice(jpeg);
        self.ws.send(WsMessage::Binary(frame.into())).await.unwrap();
    }
}

fn camera_frame(width: u32, height: u32) -> Vec<u8> {
    let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
        width,
        height,
        image::Rgb([120, 60, 180]),
    ));
    haurach_picture::encode(&img, 70).unwrap()
}

/// A glimpse as the server passes it on: `0x01`, the glimpse's id, the JPEG.
fn glimpse_parts(frame: &[u8]) -> (uuid::Uuid, &[u8]) {
    assert_eq!(frame[0], 0x01, "not a glimpse");
    let id = uuid::Uuid::from_slice(&frame[1..17]).unwrap();
    (id, &frame[17..])
}

/// The `glimpse_sent` answer to a glimpse frame: its id.
async fn glimpse_sent(raw: &mut Raw) -> uuid::Uuid {
    match raw
        .until(|f| matches!(f, ServerFrame::GlimpseSent { .. }))
        .await
    {
        ServerFrame::GlimpseSent { glimpse } => glimpse,
        _ => unreachable!(),
    }
}

fn problem_code(f: &ServerFrame) -> Option<&str> {
    match f {
        ServerFrame::Error { problem, .. } => Some(problem.code.as_str()),
        _ => None,
    }
}

async fn allow_camera(s: &TestServer, token: &str) {
    let (status, body) = s
        .call(
            "PUT",
            "/api/v1/me/camera",
            Some(token),
            Some(&json!({"allow": true})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_glimpse_needs_consent_and_arrives_blurred_without_metadata() {
    let s = TestServer::start().await;
    let (amethyst, spike) = s.pair("amethyst", "spike", "story").await;
    s.put_position(&amethyst, 0.0, 0.0).await;
    s.put_position(&spike, 0.0, east(8_000.0)).await;
    let mut a = Raw::open(&s, &amethyst).await;
    let mut b = Raw::open(&s, &spike).await;

    // Off until turned on.
    let (_, consent) = s.call("GET", "/api/v1/me/camera", Some(&spike), None).await;
    assert_eq!(consent, json!({"allow": false}));
    a.send_json(json!({"type": "glimpse_ask"})).await;
    let refused = a.until(|f| problem_code(f).is_some()).await;
    assert_eq!(problem_code(&refused), Some("camera_not_allowed"));

    allow_camera(&s, &spike).await;
    a.send_json(json!({"type": "glimpse_ask"})).await;
    let asked = b
        .until(|f| matches!(f, ServerFrame::GlimpseAsked { .. }))
        .await;
    let ServerFrame::GlimpseAsked {
        by,
        side,
        on_sending,
    } = asked
    else {
        unreachable!()
    };
    assert_eq!(by, "amethyst");
    assert!(!on_sending);
    assert_eq!(side, 192, "8 km: a blurry look");
    // Spike's client answers with a camera frame (a real photo with GPS, here).
    b.send_binary(0x01, GPS_PHOTO).await;
    let got = a.binary(Duration::from_secs(5)).await.expect("the glimpse");
    let (id, jpeg) = glimpse_parts(&got);
    let img = image::load_from_memory(jpeg).unwrap();
    assert_eq!((img.width(), img.height()), (192, 144));
    assert!(!got.windows(4).any(|w| w == b"Exif"), "metadata passed");
    // Spike's link hears which glimpse it was, by the id Amethyst got with it.
    assert_eq!(glimpse_sent(&mut b).await, id);

    // An answer nobody asked for is refused.
    b.send_binary(0x01, GPS_PHOTO).await;
    let err = b.until(|f| problem_code(f).is_some()).await;
    assert_eq!(problem_code(&err), Some("no_glimpse_asked"));
}

#[tokio::test]
async fn sight_flows_at_the_allowed_size_and_rate_and_stops_out_of_range() {
    let s = TestServer::start().await;
    let (amethyst, spike) = s.pair("amethyst", "spike", "story").await;
    s.put_position(&amethyst, 0.0, 0.0).await;
    s.put_position(&spike, 0.0, east(1_000.0)).await;
    let mut a = Raw::open(&s, &amethyst).await;
    let mut b = Raw::open(&s, &spike).await;

    // Without consent, nothing flows.
    b.send_binary(0x02, &camera_frame(288, 216)).await;
    let err = b.until(|f| problem_code(f).is_some()).await;
    assert_eq!(problem_code(&err), Some("camera_not_allowed"));
    allow_camera(&s, &spike).await;

    // 1 km: 288 pixels at 2.75 frames a second.
    let frame = camera_frame(288, 216);
    b.send_binary(0x02, &frame).await;
    let got = a
        .binary(Duration::from_secs(5))
        .await
        .expect("a sight frame");
    assert_eq!(got[0], 0x02);
    assert_eq!(&got[1..], &frame[..], "passed on untouched");
    let img = image::load_from_memory(&got[1..]).unwrap();
    assert_eq!(img.width(), 288);

    // Too large a frame is dropped; so is one sent faster than the bond allows.
    b.send_binary(0x02, &camera_frame(640, 480)).await;
    b.send_binary(0x02, &frame).await;
    assert!(
        a.binary(Duration::from_millis(300)).await.is_none(),
        "an oversized or early frame passed"
    );

    // Frames at 10 a second for over a second: about 2.75 of them reach Amethyst, and
    // Spike is told so.
    let mut report = None;
    for _ in 0..15 {
        b.send_binary(0x02, &frame).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        while let Some(Got::Json(f)) = b.next_within(Duration::from_millis(1)).await {
            if matches!(f, ServerFrame::SightRate { .. }) {
                report = Some(f);
            }
        }
    }
    let Some(ServerFrame::SightRate {
        sent_fps,
        delivered_fps,
        allowed_fps,
        side,
    }) = report
    else {
        panic!("no sight_rate within 1.5 s of frames");
    };
    assert_eq!(side, 288);
    assert!((allowed_fps - 2.75).abs() < 0.01, "{allowed_fps}");
    assert!(sent_fps > 5.0, "sent {sent_fps}");
    // Frames sent faster than the bond allows were dropped: what passed is about the
    // allowed rate (loosely: the first window also counts the frames sent before it).
    assert!(
        delivered_fps >= 1.0
            && delivered_fps < sent_fps * 0.7
            && delivered_fps <= 2.0 * allowed_fps,
        "delivered {delivered_fps} of {sent_fps}"
    );

    // Spike walks out of sight range: the next frame is refused and none reaches her.
    while a.binary(Duration::from_millis(200)).await.is_some() {}
    s.put_position(&spike, 0.0, east(3_000.0)).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    b.send_binary(0x02, &frame).await;
    let err = b.until(|f| problem_code(f).is_some()).await;
    assert_eq!(problem_code(&err), Some("tier_closed"));
    assert!(a.binary(Duration::from_millis(500)).await.is_none());
}

#[tokio::test]
async fn sending_a_picture_opens_a_short_return_glimpse() {
    let s = TestServer::start().await;
    let (amethyst, spike) = s.pair("amethyst", "spike", "story").await;
    s.put_position(&amethyst, 0.0, 0.0).await;
    s.put_position(&spike, 0.0, east(12_000.0)).await;
    allow_camera(&s, &spike).await;
    let mut a = Raw::open(&s, &amethyst).await;
    let mut b = Raw::open(&s, &spike).await;

    // 12 km: images pass, glimpse (10 km) does not; the picture still looks back.
    let sent = upload(&s, &amethyst, GPS_PHOTO).await;
    assert_eq!(sent, 201);
    let asked = b
        .until(|f| matches!(f, ServerFrame::GlimpseAsked { .. }))
        .await;
    let ServerFrame::GlimpseAsked {
        by,
        side,
        on_sending,
    } = asked
    else {
        unreachable!()
    };
    assert_eq!((by.as_str(), side, on_sending), ("amethyst", 96, true));
    b.send_binary(0x01, &camera_frame(640, 480)).await;
    let got = a
        .binary(Duration::from_secs(5))
        .await
        .expect("the return glimpse");
    let img = image::load_from_memory(glimpse_parts(&got).1).unwrap();
    assert_eq!((img.width(), img.height()), (96, 72));
}

/// The next `trace` frame `raw` receives: who drew it and what over.
async fn next_trace(raw: &mut Raw) -> (String, haurach_proto::link::Trace) {
    match raw.until(|f| matches!(f, ServerFrame::Trace { .. })).await {
        ServerFrame::Trace { from, trace } => (from, trace),
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn a_trace_over_a_glimpse_or_the_sight_reaches_the_partner_over_the_same_picture() {
    use haurach_proto::link::Over;
    let s = TestServer::start().await;
    let (amethyst, spike) = s.pair("amethyst", "spike", "story").await;
    s.put_position(&amethyst, 0.0, 0.0).await;
    s.put_position(&spike, 0.0, east(1_000.0)).await;
    allow_camera(&s, &spike).await;
    let mut a = Raw::open(&s, &amethyst).await;
    let mut b = Raw::open(&s, &spike).await;

    // A glimpse through Spike's camera; Amethyst draws over it.
    a.send_json(json!({"type": "glimpse_ask"})).await;
    b.until(|f| matches!(f, ServerFrame::GlimpseAsked { .. }))
        .await;
    b.send_binary(0x01, &camera_frame(640, 480)).await;
    let got = a.binary(Duration::from_secs(5)).await.expect("the glimpse");
    let (glimpse, _) = glimpse_parts(&got);
    assert_eq!(glimpse_sent(&mut b).await, glimpse);
    a.send_json(json!({
        "type": "trace", "glimpse": glimpse, "stroke": 1,
        "points": [[0.25, 0.5], [0.75, 0.5]], "end": true
    }))
    .await;
    let (from, trace) = next_trace(&mut b).await;
    assert_eq!(from, "amethyst");
    assert_eq!(trace.over, Over::Glimpse(glimpse));
    assert_eq!(trace.points, vec![[0.25, 0.5], [0.75, 0.5]]);
    assert!(trace.end);

    // Over the live sight through Spike's camera: he gets it, to show over his own view.
    a.send_json(json!({
        "type": "trace", "sight": "spike", "stroke": 2, "points": [[0.5, 0.5], [0.6, 0.7]]
    }))
    .await;
    let (_, trace) = next_trace(&mut b).await;
    assert_eq!(trace.over, Over::Sight("spike".into()));
    assert_eq!((trace.stroke, trace.end), (2, false));
    // And the other way: Spike draws over his own view, Amethyst gets it for hers of it.
    b.send_json(json!({
        "type": "trace", "sight": "spike", "stroke": 1, "points": [[0.1, 0.1]], "end": true
    }))
    .await;
    let (from, trace) = next_trace(&mut a).await;
    assert_eq!(
        (from.as_str(), trace.over),
        ("spike", Over::Sight("spike".into()))
    );

    // Refused, with the reason: a point outside the picture (or beyond any number), the
    // sight of someone outside the bond, a trace over nothing.
    for (bad, code) in [
        (
            json!({"type": "trace", "sight": "spike", "stroke": 3, "points": [[0.5, 1.5]]}),
            "invalid_trace",
        ),
        (
            json!({"type": "trace", "glimpse": glimpse, "stroke": 3, "points": [[1e50, 0.5]]}),
            "invalid_trace",
        ),
        (
            json!({"type": "trace", "sight": "twilight", "stroke": 3, "points": [[0.5, 0.5]]}),
            "invalid_trace",
        ),
        (
            json!({"type": "trace", "stroke": 3, "points": [[0.5, 0.5]]}),
            "invalid_frame",
        ),
    ] {
        a.send_json(bad.clone()).await;
        let err = a.until(|f| problem_code(f).is_some()).await;
        assert_eq!(problem_code(&err), Some(code), "{bad}");
    }
    let many: Vec<[f32; 2]> = vec![[0.5, 0.5]; 257];
    a.send_json(json!({"type": "trace", "sight": "spike", "stroke": 4, "points": many}))
        .await;
    let err = a.until(|f| problem_code(f).is_some()).await;
    assert_eq!(problem_code(&err), Some("invalid_trace"));

    // Out of the images range (18 km), strokes over a glimpse or the sight stop.
    s.put_position(&spike, 0.0, east(18_000.0)).await;
    for over in [json!({"glimpse": glimpse}), json!({"sight": "spike"})] {
        let mut stroke = json!({"type": "trace", "stroke": 5, "points": [[0.5, 0.5]], "end": true});
        stroke
            .as_object_mut()
            .unwrap()
            .extend(over.as_object().unwrap().clone());
        a.send_json(stroke).await;
        let err = a.until(|f| problem_code(f).is_some()).await;
        assert_eq!(problem_code(&err), Some("tier_closed"), "{over}");
    }
    while let Some(got) = b.next_within(Duration::from_millis(300)).await {
        assert!(
            !matches!(got, Got::Json(ServerFrame::Trace { .. })),
            "a stroke passed out of range"
        );
    }
}

/// Uploads a picture; returns the status.
async fn upload(s: &TestServer, token: &str, bytes: &[u8]) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(s.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/bond/images?id=back HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\
         authorization: Bearer {token}\r\ncontent-type: image/jpeg\r\ncontent-length: {}\r\n\r\n",
        bytes.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut res = Vec::new();
    stream.read_to_end(&mut res).await.unwrap();
    String::from_utf8_lossy(&res[..12])
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

/// Two nodes of one city (PostgreSQL + NATS), a partner on each: a glimpse asked on one
/// node and answered on the other arrives, and so do sight frames.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glimpse_and_sight_cross_between_two_nodes() {
    let Some(nodes) = crate::common::two_nodes().await else {
        return;
    };
    let (one, two) = (&nodes.one, &nodes.two);
    let (amethyst, spike) = one.pair("amethyst", "spike", "story").await;
    one.put_position(&amethyst, 0.0, 0.0).await;
    two.put_position(&spike, 0.0, east(1_000.0)).await;
    allow_camera(two, &spike).await;
    let mut a = Raw::open(one, &amethyst).await;
    let mut b = Raw::open(two, &spike).await;

    // Asked on node one, answered on node two, seen on node one.
    a.send_json(json!({"type": "glimpse_ask"})).await;
    b.until(|f| matches!(f, ServerFrame::GlimpseAsked { .. }))
        .await;
    b.send_binary(0x01, GPS_PHOTO).await;
    let got = a
        .binary(Duration::from_secs(5))
        .await
        .expect("the glimpse crosses nodes");
    let (glimpse, _) = glimpse_parts(&got);
    assert!(!got.windows(4).any(|w| w == b"Exif"), "metadata passed");
    assert_eq!(glimpse_sent(&mut b).await, glimpse);

    // Strokes drawn on node one over the glimpse and over Spike's sight reach him on
    // node two.
    for over in [json!({"glimpse": glimpse}), json!({"sight": "spike"})] {
        let mut stroke = json!({"type": "trace", "stroke": 1, "points": [[0.5, 0.5]], "end": true});
        stroke
            .as_object_mut()
            .unwrap()
            .extend(over.as_object().unwrap().clone());
        a.send_json(stroke).await;
        let got = b.until(|f| matches!(f, ServerFrame::Trace { .. })).await;
        let ServerFrame::Trace { from, trace } = got else {
            unreachable!()
        };
        assert_eq!(from, "amethyst");
        assert_eq!(serde_json::to_value(&trace.over).unwrap(), over);
    }

    // Sight sent on node two reaches node one untouched.
    let frame = camera_frame(288, 216);
    b.send_binary(0x02, &frame).await;
    let got = a
        .binary(Duration::from_secs(5))
        .await
        .expect("sight crosses nodes");
    assert_eq!(got[0], 0x02);
    assert_eq!(&got[1..], &frame[..]);
}

// ------------------------------------------------------------------ a private bond

/// 500 m north of `private::HER`: sight (2 km) opens from tokens for certain within 1 km.
const WITHIN_SIGHT: (f64, f64) = (46.127955, 7.654321);

/// The next `tier` frame on `raw` that says `tier` is `open`.
async fn tier_now(raw: &mut Raw, tier: haurach_bond::Tier, open: bool) {
    raw.until(
        |f| matches!(f, ServerFrame::Tier { tier: t, open: o, .. } if *t == tier && *o == open),
    )
    .await;
}

/// The next problem on `raw`, past any other frame.
async fn next_problem(raw: &mut Raw) -> String {
    let f = raw.until(|f| problem_code(f).is_some()).await;
    problem_code(&f).unwrap().to_owned()
}

/// A private bond's glimpse and sight, sealed on the devices (the test plays both with
/// `haurach-private`): the tier, the consent, the rate and a byte bound derived from the
/// side held as in a plain bond; the glimpse given its id and passed on as it came; a
/// plain frame in a private bond refused, and a sealed one in a plain bond; a trace over
/// the glimpse refused.
async fn sealed_camera(s: &TestServer) {
    use haurach_bond::images::{jpeg_bytes_bound, rendition_side, sight_params};
    use haurach_bond::{Profile, Tier};
    use haurach_private::Role;
    use haurach_proto::sealed::{Envelope, FRAME_OVERHEAD, GLIMPSE, SIGHT};

    use crate::private::{FAR, HER, NEAR, bond_privately, now_ms, report_ok, tokens};

    let private = bond_privately(s).await;
    let (her, him, key, sealer) = (&private.her, &private.him, &private.key, private.sealer());
    let his = |kind| private.his(kind);
    let mut a = Raw::open(s, her).await;
    let mut b = Raw::open(s, him).await;
    private.stand((s, HER), (s, NEAR)).await;
    // 5 km apart: glimpse is open, sight is not.
    tier_now(&mut a, Tier::Glimpse, true).await;

    // The glimpse needs his consent, as in a plain bond.
    a.send_json(json!({"type": "glimpse_ask"})).await;
    assert_eq!(next_problem(&mut a).await, "camera_not_allowed");
    allow_camera(s, him).await;
    a.send_json(json!({"type": "glimpse_ask"})).await;
    let ServerFrame::GlimpseAsked { side, .. } = b
        .until(|f| matches!(f, ServerFrame::GlimpseAsked { .. }))
        .await
    else {
        unreachable!()
    };
    // The server knows no distance: the side is the plain bond's at glimpse's edge (10 km).
    let edge = rendition_side(Profile::Story, Profile::Story.strength(10_000.0)).of(u32::MAX);
    assert_eq!(side, edge);
    assert!(
        side < 192,
        "{side}: no sharper than a plain bond's glimpse at 8 km"
    );
    // In the clear it is refused, and the ask still waits.
    b.send_binary(0x01, GPS_PHOTO).await;
    assert_eq!(next_problem(&mut b).await, "private_bond");
    // Sealed: passed on as it came, after its id.
    let jpeg = camera_frame(side, side * 3 / 4);
    let sealed = his(GLIMPSE).seal_frame(&sealer, 1, &jpeg).unwrap();
    b.send_binary(0x03, &sealed).await;
    let got = a.binary(Duration::from_secs(5)).await.expect("the glimpse");
    assert_eq!(got[0], 0x03);
    let id = uuid::Uuid::from_slice(&got[1..17]).unwrap();
    assert_eq!(&got[17..], &sealed[..], "passed on untouched");
    assert_eq!(
        his(GLIMPSE).open_frame(&sealer, &got[17..]).unwrap(),
        (1, jpeg)
    );
    assert_eq!(glimpse_sent(&mut b).await, id);
    // One byte over the bound the side gives is refused; so is one too short to be sealed.
    a.send_json(json!({"type": "glimpse_ask"})).await;
    b.until(|f| matches!(f, ServerFrame::GlimpseAsked { .. }))
        .await;
    let most = FRAME_OVERHEAD + jpeg_bytes_bound(side);
    b.send_binary(0x03, &vec![7; most + 1]).await;
    assert_eq!(next_problem(&mut b).await, "glimpse_too_large");
    a.send_json(json!({"type": "glimpse_ask"})).await;
    b.until(|f| matches!(f, ServerFrame::GlimpseAsked { .. }))
        .await;
    b.send_binary(0x03, &[7; FRAME_OVERHEAD - 1]).await;
    assert_eq!(next_problem(&mut b).await, "sealed_frame");
    // Strokes over a glimpse would pass in the clear: refused.
    a.send_json(json!({
        "type": "trace", "glimpse": id, "stroke": 1, "points": [[0.5, 0.5]], "end": true
    }))
    .await;
    assert_eq!(next_problem(&mut a).await, "private_bond");

    // Sight is closed at 5 km.
    let frame = camera_frame(240, 180);
    let sight = |counter| his(SIGHT).seal_frame(&sealer, counter, &frame).unwrap();
    b.send_binary(0x04, &sight(2)).await;
    assert_eq!(next_problem(&mut b).await, "tier_closed");
    assert!(a.binary(Duration::from_millis(300)).await.is_none());

    // 500 m apart: sight opens, at the plain bond's edge of sight (240 pixels, 2 a second).
    report_ok(s, him, &tokens(key, WITHIN_SIGHT, now_ms())).await;
    tier_now(&mut a, Tier::Sight, true).await;
    let params = sight_params(Profile::Story, Profile::Story.strength(2_000.0));
    assert_eq!(params.side, 240);
    b.send_binary(0x02, &frame).await;
    assert_eq!(next_problem(&mut b).await, "private_bond");
    let first = sight(3);
    b.send_binary(0x04, &first).await;
    let got = a
        .binary(Duration::from_secs(5))
        .await
        .expect("a sight frame");
    assert_eq!(got[0], 0x04);
    assert_eq!(&got[1..], &first[..], "passed on untouched");
    assert_eq!(his(SIGHT).open_frame(&sealer, &got[1..]).unwrap().1, frame);
    // Her sight needs her consent.
    let hers = Envelope {
        bond: private.bond,
        from: Role::Inviter,
        kind: SIGHT,
    }
    .seal_frame(&sealer, 1, &frame)
    .unwrap();
    a.send_binary(0x04, &hers).await;
    assert_eq!(next_problem(&mut a).await, "camera_not_allowed");

    // Over the bound of 240 pixels a frame is dropped, and so is one sent too soon.
    tokio::time::sleep(Duration::from_millis(600)).await;
    b.send_binary(0x04, &vec![9; FRAME_OVERHEAD + jpeg_bytes_bound(240) + 1])
        .await;
    let on_time = sight(4);
    b.send_binary(0x04, &on_time).await;
    b.send_binary(0x04, &sight(5)).await;
    let passed = a
        .binary(Duration::from_millis(500))
        .await
        .expect("the frame that fits and is on time");
    assert_eq!(&passed[1..], &on_time[..]);
    assert!(
        a.binary(Duration::from_millis(300)).await.is_none(),
        "an oversized or early frame passed"
    );

    // At 10 a second for over a second, about 2 a second pass, and he is told so.
    let mut report = None;
    for counter in 10..25 {
        b.send_binary(0x04, &sight(counter)).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        while let Some(Got::Json(f)) = b.next_within(Duration::from_millis(1)).await {
            if matches!(f, ServerFrame::SightRate { .. }) {
                report = Some(f);
            }
        }
    }
    let Some(ServerFrame::SightRate {
        sent_fps,
        delivered_fps,
        allowed_fps,
        side,
    }) = report
    else {
        panic!("no sight_rate within 1.5 s of frames");
    };
    assert_eq!((side, allowed_fps), (240, 2.0));
    assert!(
        delivered_fps >= 1.0 && delivered_fps < sent_fps * 0.7,
        "delivered {delivered_fps} of {sent_fps}"
    );

    // 40 km apart: sight closes, and the next frame is refused and reaches nobody.
    while a.binary(Duration::from_millis(200)).await.is_some() {}
    report_ok(s, him, &tokens(key, FAR, now_ms())).await;
    tier_now(&mut b, Tier::Sight, false).await;
    b.send_binary(0x04, &sight(40)).await;
    assert_eq!(next_problem(&mut b).await, "tier_closed");
    assert!(a.binary(Duration::from_millis(500)).await.is_none());

    // A sealed frame in a plain bond is refused.
    let (plain, other) = s.pair("rarity", "pinkie", "story").await;
    s.put_position(&plain, 0.0, 0.0).await;
    s.put_position(&other, 0.0, east(1_000.0)).await;
    allow_camera(s, &plain).await;
    let mut p = Raw::open(s, &plain).await;
    p.send_binary(0x04, &sight(50)).await;
    assert_eq!(next_problem(&mut p).await, "unexpected_sealed");
}

#[tokio::test]
async fn a_private_bond_relays_sealed_glimpses_and_sight_under_the_plain_rules() {
    sealed_camera(&TestServer::start().await).await;
}

#[tokio::test]
async fn a_private_bond_relays_sealed_glimpses_and_sight_under_the_plain_rules_on_postgres() {
    let Some((_pg, s)) = TestServer::on_postgres().await else {
        return;
    };
    sealed_camera(&s).await;
}

/// Two nodes (PostgreSQL + NATS), a partner of a private bond on each: a glimpse asked on
/// one node is answered sealed on the other and arrives as it was sent, with its id, and
/// so do sealed sight frames.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_glimpses_and_sight_cross_between_two_nodes() {
    use haurach_bond::Tier;
    use haurach_proto::sealed::{GLIMPSE, SIGHT};

    use crate::private::{HER, bond_privately};

    let Some(nodes) = crate::common::two_nodes().await else {
        return;
    };
    let (one, two) = (&nodes.one, &nodes.two);
    let private = bond_privately(one).await;
    let (her, him, sealer) = (&private.her, &private.him, private.sealer());
    let his = |kind| private.his(kind);
    allow_camera(two, him).await;
    let mut a = Raw::open(one, her).await;
    let mut b = Raw::open(two, him).await;
    private.stand((one, HER), (two, WITHIN_SIGHT)).await;
    tier_now(&mut a, Tier::Sight, true).await;
    tier_now(&mut b, Tier::Sight, true).await;

    // Asked on node one, answered sealed on node two, opened by her device on node one.
    a.send_json(json!({"type": "glimpse_ask"})).await;
    b.until(|f| matches!(f, ServerFrame::GlimpseAsked { .. }))
        .await;
    let jpeg = camera_frame(128, 96);
    let sealed = his(GLIMPSE).seal_frame(&sealer, 1, &jpeg).unwrap();
    b.send_binary(0x03, &sealed).await;
    let got = a
        .binary(Duration::from_secs(5))
        .await
        .expect("the sealed glimpse crosses nodes");
    assert_eq!((got[0], &got[17..]), (0x03, &sealed[..]));
    assert_eq!(
        his(GLIMPSE).open_frame(&sealer, &got[17..]).unwrap().1,
        jpeg
    );
    assert_eq!(
        glimpse_sent(&mut b).await,
        uuid::Uuid::from_slice(&got[1..17]).unwrap()
    );

    // Sealed sight sent on node two reaches node one untouched.
    let frame = his(SIGHT)
        .seal_frame(&sealer, 2, &camera_frame(240, 180))
        .unwrap();
    b.send_binary(0x04, &frame).await;
    let got = a
        .binary(Duration::from_secs(5))
        .await
        .expect("sealed sight crosses nodes");
    assert_eq!((got[0], &got[1..]), (0x04, &frame[..]));
}
