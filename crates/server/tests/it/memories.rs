//! Memories: private journals that open to each other when the partners are together
//! and stay open afterwards.

use serde_json::{Value, json};

use crate::common::TestServer;

fn east(m: f64) -> f64 {
    m / 111_319.49
}

const GPS_PHOTO: &[u8] = include_bytes!("../../../picture/tests/gps-photo.jpg");

async fn post_photo(s: &TestServer, token: &str, id: &str, bytes: &[u8]) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/me/memories/photos?id={id}&caption=the%20needle HTTP/1.1\r\nhost: t\r\n\
         connection: close\r\nauthorization: Bearer {token}\r\ncontent-type: image/jpeg\r\n\
         content-length: {}\r\n\r\n",
        bytes.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut res = Vec::new();
    stream.read_to_end(&mut res).await.unwrap();
    let split = res.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status = String::from_utf8_lossy(&res[9..12]).parse().unwrap();
    (
        status,
        serde_json::from_slice(&res[split + 4..]).unwrap_or(Value::Null),
    )
}

async fn get_bytes(s: &TestServer, token: &str, path: &str) -> (u16, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nhost: t\r\nconnection: close\r\nauthorization: Bearer {token}\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut res = Vec::new();
    stream.read_to_end(&mut res).await.unwrap();
    let split = res.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status = String::from_utf8_lossy(&res[9..12]).parse().unwrap();
    (status, res[split + 4..].to_vec())
}

fn bodies(list: &Value) -> Vec<String> {
    list["memories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn journals_open_when_together_and_stay_open() {
    let s = TestServer::start().await;
    let (amethyst, spike) = s.pair("amethyst", "spike", "story").await;
    s.put_position(&amethyst, 0.0, 0.0).await;
    s.put_position(&spike, 0.0, east(3_000.0)).await;

    // Apart: written, private.
    let (status, m) = s
        .call(
            "POST",
            "/api/v1/me/memories",
            Some(&amethyst),
            Some(&json!({"id": "m1", "body": "the desert at night"})),
        )
        .await;
    assert_eq!(status, 201, "{m}");
    assert!(m.get("shared_at").is_none());
    let (status, again) = s
        .call(
            "POST",
            "/api/v1/me/memories",
            Some(&amethyst),
            Some(&json!({"id": "m1", "body": "the desert at night"})),
        )
        .await;
    assert_eq!(
        (status, &again["id"]),
        (200, &m["id"]),
        "a retry is stored once"
    );
    let (status, photo) = post_photo(&s, &amethyst, "p1", GPS_PHOTO).await;
    assert_eq!(status, 201, "{photo}");
    let photo_url = photo["photo"].as_str().unwrap().to_owned();

    let (_, theirs) = s
        .call("GET", "/api/v1/bond/memories", Some(&spike), None)
        .await;
    assert_eq!(theirs["open"], false);
    assert_eq!(theirs["memories"], json!([]));
    let (status, _) = get_bytes(&s, &spike, &photo_url).await;
    assert_eq!(status, 404, "a private photo is not there for him");

    // Together (10 m): both journals open.
    s.put_position(&spike, 0.0, east(10.0)).await;
    let (_, theirs) = s
        .call("GET", "/api/v1/bond/memories", Some(&spike), None)
        .await;
    assert_eq!(theirs["open"], true);
    assert_eq!(bodies(&theirs), ["the desert at night", "the needle"]);
    let (status, bytes) = get_bytes(&s, &spike, &photo_url).await;
    assert_eq!(status, 200);
    assert!(
        !bytes.windows(4).any(|w| w == b"Exif"),
        "the photo's EXIF passed"
    );
    assert!(image::load_from_memory(&bytes).is_ok());

    // Apart again: what was opened stays; what is written now stays private.
    s.put_position(&spike, 0.0, east(5_000.0)).await;
    s.call(
        "POST",
        "/api/v1/me/memories",
        Some(&amethyst),
        Some(&json!({"id": "m2", "body": "missing him"})),
    )
    .await;
    let (_, theirs) = s
        .call("GET", "/api/v1/bond/memories", Some(&spike), None)
        .await;
    assert_eq!(theirs["open"], false);
    assert_eq!(bodies(&theirs), ["the desert at night", "the needle"]);
    let (_, mine) = s
        .call("GET", "/api/v1/me/memories", Some(&amethyst), None)
        .await;
    assert_eq!(
        bodies(&mine),
        ["the desert at night", "the needle", "missing him"]
    );
    assert!(mine["memories"][0]["shared_at"].is_string());
    assert!(mine["memories"][2].get("shared_at").is_none());

    let (status, bad) = s
        .call(
            "POST",
            "/api/v1/me/memories",
            Some(&amethyst),
            Some(&json!({"id": "m3", "body": "  "})),
        )
        .await;
    assert_eq!(
        (status, bad["code"].as_str()),
        (422, Some("invalid_memory"))
    );
}

/// Writes an entry of words in `token`'s journal.
async fn remember(s: &TestServer, token: &str, id: &str, body: &str) {
    let (status, m) = s
        .call(
            "POST",
            "/api/v1/me/memories",
            Some(token),
            Some(&json!({"id": id, "body": body})),
        )
        .await;
    assert_eq!(status, 201, "{m}");
}

/// The partner's journal as `token` reads it.
async fn partners_journal(s: &TestServer, token: &str) -> Vec<String> {
    let (status, list) = s
        .call("GET", "/api/v1/bond/memories", Some(token), None)
        .await;
    assert_eq!(status, 200, "{list}");
    bodies(&list)
}

/// Regression: journals opened only when a partner touched them while together, so two
/// who met and parted without opening the app's journal saw nothing of each other's
/// afterwards. They open the moment the partners come together.
#[tokio::test]
async fn journals_open_the_moment_the_partners_come_together_untouched() {
    let s = TestServer::start().await;
    let (amethyst, spike) = s.pair("amethyst", "spike", "story").await;
    s.put_position(&amethyst, 0.0, 0.0).await;
    s.put_position(&spike, 0.0, east(3_000.0)).await;
    remember(&s, &amethyst, "a1", "the desert at night").await;
    remember(&s, &spike, "s1", "a pull to the east").await;

    // Together for a moment (10 m), then apart again: nobody touched a journal.
    s.put_position(&spike, 0.0, east(10.0)).await;
    s.put_position(&spike, 0.0, east(4_000.0)).await;

    assert_eq!(partners_journal(&s, &spike).await, ["the desert at night"]);
    assert_eq!(
        partners_journal(&s, &amethyst).await,
        ["a pull to the east"]
    );
    // What was written after they parted stays private.
    remember(&s, &amethyst, "a2", "missing him").await;
    assert_eq!(partners_journal(&s, &spike).await, ["the desert at night"]);
}

/// Two nodes of one city (PostgreSQL + NATS), a partner on each: they come together
/// through node two and part, touching no journal; both nodes' copies of the bond see
/// the memories tier open, and each partner reads the other's journal afterwards through
/// either node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journals_open_on_coming_together_with_two_nodes() {
    let Some(nodes) = crate::common::two_nodes().await else {
        return;
    };
    let (one, two) = (&nodes.one, &nodes.two);
    let (amethyst, spike) = one.pair("amethyst", "spike", "story").await;
    one.put_position(&amethyst, 0.0, 0.0).await;
    two.put_position(&spike, 0.0, east(3_000.0)).await;
    remember(one, &amethyst, "a1", "the desert at night").await;
    remember(two, &spike, "s1", "a pull to the east").await;
    // Both nodes hold the bond: each has a link of one partner.
    let mut a = one.link(&amethyst, None).await;
    let _b = two.link(&spike, None).await;

    two.put_position(&spike, 0.0, east(10.0)).await;
    // Node one hears of it over NATS and tells Amethyst; the journals are open by then.
    a.until(|f| {
        matches!(
            f,
            haurach_proto::ServerFrame::Tier {
                tier: haurach_bond::Tier::Memories,
                open: true,
                ..
            }
        )
    })
    .await;
    two.put_position(&spike, 0.0, east(4_000.0)).await;

    for s in [&one, &two] {
        assert_eq!(partners_journal(s, &spike).await, ["the desert at night"]);
        assert_eq!(partners_journal(s, &amethyst).await, ["a pull to the east"]);
    }
}

/// Hardening finding 8: "the journal-photo route takes them from any citizen, bonded or
/// not". A journal is for a bond: without a partner, a photo is refused before a single
/// pixel is decoded.
#[tokio::test]
async fn a_photo_waits_for_a_partner_to_open_to() {
    let s = TestServer::start().await;
    let alone = s.citizen("alone").await;
    let (status, problem) = post_photo(&s, &alone, "p1", GPS_PHOTO).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (404, Some("not_bonded"))
    );
    let (_, list) = s
        .call("GET", "/api/v1/me/memories", Some(&alone), None)
        .await;
    assert!(bodies(&list).is_empty(), "{list}");
}

/// Hardening finding 8: "pictures and journal photos have no storage quota (40 × 4.7 MB
/// in 8 s)". What one citizen uploads is counted as sent, and the photo that would pass
/// `picture_quota_bytes` is refused with 413; nothing of it is kept.
#[tokio::test]
async fn pictures_and_journal_photos_share_a_quota() {
    let quota = GPS_PHOTO.len() as u64 * 2 + 100;
    let s = TestServer::start_with(|c| c.picture_quota_bytes = quota).await;
    let (spike, _) = s.pair("spike", "amethyst", "story").await;
    for id in ["p1", "p2"] {
        let (status, body) = post_photo(&s, &spike, id, GPS_PHOTO).await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, problem) = post_photo(&s, &spike, "p3", GPS_PHOTO).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (413, Some("picture_quota_exceeded")),
        "{problem}"
    );
    let (_, list) = s
        .call("GET", "/api/v1/me/memories", Some(&spike), None)
        .await;
    assert_eq!(list["memories"].as_array().unwrap().len(), 2, "{list}");
}

/// Hardening finding 8: "a 38 KB PNG bomb costs about 1 CPU-second to refuse". One
/// colour, 36 megapixels (within the 40 allowed), a few tens of kilobytes: refused from
/// its header as no photo could be.
#[tokio::test]
async fn a_picture_bomb_is_refused_from_its_header() {
    let side = 6_000u32;
    let mut bomb = Vec::new();
    {
        use image::ImageEncoder;
        image::codecs::png::PngEncoder::new_with_quality(
            &mut bomb,
            image::codecs::png::CompressionType::Best,
            image::codecs::png::FilterType::NoFilter,
        )
        .write_image(
            &vec![0u8; (side * side) as usize],
            side,
            side,
            image::ExtendedColorType::L8,
        )
        .unwrap();
    }
    let s = TestServer::start().await;
    let (spike, _) = s.pair("spike", "amethyst", "story").await;
    let (status, problem) = post_photo(&s, &spike, "bomb", &bomb).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("too_compressed")),
        "{problem}"
    );
}

/// Two phones side by side rarely agree on where they are: 20 m apart with the ordinary
/// 10 m accuracy each, the pessimistic distance is 40 m against memories' 25 m, so two
/// people standing together never shared memories ("Memories open in 15 m"). The together
/// rule (`haurach_bond::Separation`) counts up to 15 m of each fix's accuracy towards being
/// together, and no more: two sharp fixes 50 m apart, or two blurry ones 60 m apart, are
/// not together.
#[tokio::test]
async fn phones_side_by_side_are_together_and_blurry_fixes_cannot_stretch_it() {
    let s = TestServer::start().await;
    let (amethyst, spike) = s.pair("amethyst", "spike", "story").await;
    let at = |token: &str, m: f64, accuracy: f64| {
        let body = json!({"lat": 0.0, "lon": east(m), "accuracy_m": accuracy});
        let token = token.to_owned();
        let s = &s;
        async move {
            let (status, _) = s
                .call("PUT", "/api/v1/me/position", Some(&token), Some(&body))
                .await;
            assert_eq!(status, 204);
        }
    };
    let memories = async |token: &str| {
        let (_, bond) = s.call("GET", "/api/v1/bond", Some(token), None).await;
        bond["tiers"]["memories"]["open"] == json!(true)
    };

    // Sharp fixes 50 m apart: not together.
    at(&amethyst, 0.0, 5.0).await;
    at(&spike, 50.0, 5.0).await;
    assert!(!memories(&amethyst).await);
    // Hopelessly blurry fixes 60 m apart: the allowance stops at 15 m each.
    at(&amethyst, 0.0, 200.0).await;
    at(&spike, 60.0, 200.0).await;
    assert!(!memories(&amethyst).await);
    // Side by side, as phones report it: 20 m apart, 10 m accuracy each.
    at(&amethyst, 0.0, 10.0).await;
    at(&spike, 20.0, 10.0).await;
    assert!(memories(&amethyst).await);
    assert!(memories(&spike).await);
}
