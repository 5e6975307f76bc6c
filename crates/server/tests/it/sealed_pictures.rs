//! A private bond's pictures (issue 20), on SQLite and on PostgreSQL: the test plays the
//! sender's device, which strips the picture, makes its renditions and seals each
//! (`haurach_proto::sealed_pictures`), and the receiver's, which opens what it is served.
//! The server serves the largest sealed rendition the open tiers allow, never a smaller
//! one later; refuses a picture in the clear on a private bond, a sealed one on a plain
//! bond and an upload of the wrong shape; keeps a retry once and what was seen across a
//! restart; and never holds the picture in the clear.

use haurach_bond::Tier;
use haurach_private::{Role, Sealer};
use haurach_proto::sealed_pictures::{
    self, MEDIA_TYPE, MIN_SEALED, OpenError, PictureContent, sides_for, write_upload,
};
use serde_json::Value;
use uuid::Uuid;

use crate::common::TestServer;
use crate::images::{GPS_PHOTO, Reply, exchange, get, send_image};
use crate::private::{
    HER, NEAR, assert_problem, bond_privately, data_files, now_ms, open_tiers, report_ok, tokens,
};

/// What the sender's device makes of `photo` for picture `id`: each rendition, smallest
/// first, as `haurach send-image` makes them.
fn renditions(id: &str, photo: &[u8]) -> Vec<PictureContent> {
    let accepted = haurach_picture::accept(
        photo,
        haurach_picture::Limits {
            max_pixels: 40_000_000,
        },
    )
    .unwrap();
    let longest = accepted.longest_side();
    sides_for(longest)
        .into_iter()
        .map(|side| {
            let bytes = if side == longest {
                accepted.stripped.clone()
            } else {
                haurach_picture::render(&accepted.stripped, side).unwrap()
            };
            let (width, height) = haurach_picture::dimensions(&bytes).unwrap();
            PictureContent {
                id: id.into(),
                side,
                width,
                height,
                media_type: "image/jpeg".into(),
                bytes,
            }
        })
        .collect()
}

/// The upload's body: `renditions` sealed by the accepter's device as its `counter`-th
/// sealed thing.
fn sealed_upload(
    sealer: &Sealer,
    bond: Uuid,
    counter: u64,
    renditions: &[PictureContent],
) -> Vec<u8> {
    let sealed: Vec<(u32, Vec<u8>)> = renditions
        .iter()
        .map(|r| {
            let sealed = sealed_pictures::seal(sealer, bond, Role::Accepter, counter, r).unwrap();
            (r.side, sealed)
        })
        .collect();
    write_upload(&sealed)
}

async fn send_sealed(s: &TestServer, token: &str, id: &str, body: &[u8]) -> Reply {
    exchange(
        s.addr,
        "POST",
        &format!("/api/v1/bond/images/sealed?id={id}"),
        token,
        body,
        MEDIA_TYPE,
    )
    .await
}

/// The side `token` is told they may see picture `id` at, and what they are served,
/// opened: the listed side, and the opened content (or why it did not open).
async fn seen(
    s: &TestServer,
    token: &str,
    sealer: &Sealer,
    bond: Uuid,
    id: &str,
) -> (u64, Result<PictureContent, OpenError>) {
    let list = get(s, token, "/api/v1/bond/images").await;
    assert_eq!(list.status, 200);
    let image = list.json()["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .cloned()
        .expect("the image is listed");
    assert_eq!(image["sealed"], true, "{image}");
    let listed = image["side"].as_u64().unwrap();
    let pic = get(s, token, &format!("/api/v1/bond/images/{id}/picture")).await;
    assert_eq!(pic.status, 200);
    assert!(
        pic.headers.contains(&format!("content-type: {MEDIA_TYPE}")),
        "{}",
        pic.headers
    );
    assert!(
        pic.headers.contains(&format!("haurach-side: {listed}")),
        "the list and the served rendition agree: {}",
        pic.headers
    );
    let client_id = image["client_id"].as_str().unwrap();
    let opened = sealed_pictures::open(
        sealer,
        bond,
        Role::Accepter,
        client_id,
        listed as u32,
        &pic.body,
    );
    (listed, opened)
}

/// The picture opened is what the sender's device made at that side: a JPEG of that
/// longest side, without the photo's metadata.
fn assert_picture(opened: &PictureContent, side: u32) {
    assert_eq!(opened.side, side);
    let img = image::load_from_memory(&opened.bytes).unwrap();
    assert_eq!(img.width().max(img.height()), side);
    assert_eq!((opened.width, opened.height), (img.width(), img.height()));
    let has = |needle: &[u8]| opened.bytes.windows(needle.len()).any(|w| w == needle);
    assert!(!has(b"GPS") && !has(b"Exif"));
}

/// The story, on `s`; `database` is where its PostgreSQL keeps its data, if it has one
/// (pictures are then kept there, not in the server's data directory).
async fn sealed_pictures(s: &TestServer, database: Option<std::path::PathBuf>) {
    let private = bond_privately(s).await;
    let (her, him, key, bond, sealer) = (
        &private.her,
        &private.him,
        &private.key,
        private.bond,
        private.sealer(),
    );
    // 5 km apart: images and glimpse are open, sight is not.
    private.stand((s, HER), (s, NEAR)).await;
    let open = open_tiers(s, her).await;
    assert!(
        open.contains(&Tier::Glimpse) && !open.contains(&Tier::Sight),
        "{open:?}"
    );

    let made = renditions("sky", GPS_PHOTO);
    assert_eq!(
        made.iter().map(|r| r.side).collect::<Vec<_>>(),
        vec![64, 96, 128, 192, 256, 384, 512, 768, 800]
    );
    let body = sealed_upload(&sealer, bond, 1, &made);

    // Refused before anything is kept: the picture in the clear, an empty body, renditions
    // of the wrong shape.
    let plain = send_image(s, him, "sky", GPS_PHOTO).await;
    assert_problem(plain.status, &plain.json(), 409, "private_bond");
    let empty = send_sealed(s, him, "sky", b"").await;
    assert_problem(empty.status, &empty.json(), 400, "image_required");
    let cut = send_sealed(s, him, "sky", &body[..body.len() - 1]).await;
    assert_problem(cut.status, &cut.json(), 422, "invalid_sealed_picture");
    // The thumbnail left out: the server could not serve the picture small.
    let without_thumbnail = sealed_upload(&sealer, bond, 1, &made[1..]);
    let refused = send_sealed(s, him, "sky", &without_thumbnail).await;
    assert_problem(
        refused.status,
        &refused.json(),
        422,
        "invalid_sealed_picture",
    );
    let stub = write_upload(&[(40, vec![0; MIN_SEALED - 1])]);
    let refused = send_sealed(s, him, "sky", &stub).await;
    assert_problem(
        refused.status,
        &refused.json(),
        422,
        "invalid_sealed_picture",
    );
    let list = get(s, her, "/api/v1/bond/images").await;
    assert_eq!(list.json()["images"], Value::Array(vec![]));

    // Kept, and shown to the sender at full size.
    let sent = send_sealed(s, him, "sky", &body).await;
    assert_eq!(sent.status, 201, "{}", String::from_utf8_lossy(&sent.body));
    let view = sent.json();
    assert_eq!(
        (
            &view["sealed"],
            &view["width"],
            &view["height"],
            &view["side"]
        ),
        (&Value::Bool(true), &800.into(), &800.into(), &800.into()),
        "{view}"
    );
    let id = view["id"].as_str().unwrap().to_owned();
    let again = send_sealed(s, him, "sky", &body).await;
    assert_eq!(again.status, 200, "a retry is kept once");
    assert_eq!(again.json()["id"], view["id"]);
    let (_, page) = s
        .call("GET", "/api/v1/bond/messages", Some(her), None)
        .await;
    let images: Vec<_> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "image")
        .collect();
    assert_eq!(images.len(), 1, "{page}");
    assert_eq!(images[0]["body"], id.as_str(), "{page}");

    // She gets the largest rung glimpse allows (10 km: 128 px), and her device opens it.
    let (side, opened) = seen(s, her, &sealer, bond, &id).await;
    assert_eq!(side, 128);
    assert_picture(&opened.unwrap(), 128);
    // The sender gets the largest.
    let (side, opened) = seen(s, him, &sealer, bond, &id).await;
    assert_eq!(side, 800);
    assert_picture(&opened.unwrap(), 800);
    let original = get(s, him, &format!("/api/v1/bond/images/{id}/original")).await;
    assert_problem(original.status, &original.json(), 409, "sealed_picture");

    // Together: it sharpens to full size.
    let now = now_ms();
    report_ok(s, her, &tokens(key, HER, now)).await;
    report_ok(s, him, &tokens(key, HER, now)).await;
    assert!(open_tiers(s, her).await.contains(&Tier::Sight));
    let (side, opened) = seen(s, her, &sealer, bond, &id).await;
    assert_eq!(side, 800);
    assert_picture(&opened.unwrap(), 800);

    // Apart again: what was seen is not taken back.
    let now = now_ms();
    report_ok(s, her, &tokens(key, HER, now)).await;
    report_ok(s, him, &tokens(key, NEAR, now)).await;
    assert!(!open_tiers(s, her).await.contains(&Tier::Sight));
    let (side, _) = seen(s, her, &sealer, bond, &id).await;
    assert_eq!(side, 800);

    // His export lists it sealed, with its largest rendition as it came.
    let export = get(s, him, "/api/v1/me/export").await;
    assert_eq!(export.status, 200);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(export.body)).unwrap();
    let bond_json: Value = {
        let file = zip.by_name("bond.json").unwrap();
        serde_json::from_reader(file).unwrap()
    };
    let listed = &bond_json["bond"]["pictures_sent"][0];
    let file = format!("pictures/{id}.sealed");
    assert_eq!(
        (&listed["sealed"], &listed["file"], &listed["longest_side"]),
        (&Value::Bool(true), &Value::from(file.as_str()), &800.into()),
        "{bond_json}"
    );
    let mut exported = Vec::new();
    std::io::Read::read_to_end(&mut zip.by_name(&file).unwrap(), &mut exported).unwrap();
    let opened =
        sealed_pictures::open(&sealer, bond, Role::Accepter, "sky", 800, &exported).unwrap();
    assert_picture(&opened, 800);

    // The server never held the picture in the clear: no rendition the device made is in
    // its data directory or its database's, nor the photo itself.
    let mut files = data_files(s.dir.path());
    if let Some(database) = database {
        files.extend(data_files(&database));
    }
    for (path, bytes) in files {
        let held = |needle: &[u8]| {
            let probe = &needle[needle.len() / 2..needle.len() / 2 + 48];
            bytes.windows(probe.len()).any(|w| w == probe)
        };
        for r in &made {
            assert!(
                !held(&r.bytes),
                "{} holds the {} px rendition in the clear",
                path.display(),
                r.side
            );
        }
        assert!(!held(GPS_PHOTO), "{} holds the photo", path.display());
    }

    // A plain bond takes no sealed picture.
    let (plain, _) = s.pair("rarity", "pinkie", "story").await;
    let refused = send_sealed(s, &plain, "sky", &body).await;
    assert_problem(refused.status, &refused.json(), 409, "unexpected_sealed");
}

#[tokio::test]
async fn a_private_bonds_picture_travels_sealed_and_sharpens_as_they_come_closer() {
    sealed_pictures(&TestServer::start().await, None).await;
}

#[tokio::test]
async fn a_private_bonds_picture_travels_sealed_and_sharpens_as_they_come_closer_on_postgres() {
    let Some((pg, s)) = TestServer::on_postgres().await else {
        return;
    };
    sealed_pictures(&s, Some(pg.data_dir())).await;
}

/// What the receiver was shown survives a restart, which forgets the bond's token
/// reports (so no tier is known to be open): it is not taken back; a retry after it finds
/// the picture kept.
#[tokio::test]
async fn a_sealed_picture_and_what_was_seen_of_it_survive_a_restart() {
    let s = TestServer::start().await;
    let private = bond_privately(&s).await;
    let (her, him, bond, sealer) = (&private.her, &private.him, private.bond, private.sealer());
    private.stand((&s, HER), (&s, NEAR)).await;
    let body = sealed_upload(&sealer, bond, 1, &renditions("once", GPS_PHOTO));
    let sent = send_sealed(&s, him, "once", &body).await;
    assert_eq!(sent.status, 201);
    let id = sent.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(seen(&s, her, &sealer, bond, &id).await.0, 128);

    let dir = s.stop().await;
    let s = TestServer::start_in(dir, |_| {}).await;
    assert!(!open_tiers(&s, her).await.contains(&Tier::Glimpse));
    let (side, opened) = seen(&s, her, &sealer, bond, &id).await;
    assert_eq!(side, 128);
    assert_picture(&opened.unwrap(), 128);
    let again = send_sealed(&s, him, "once", &body).await;
    assert_eq!(
        (again.status, &again.json()["id"]),
        (200, &sent.json()["id"])
    );
}
