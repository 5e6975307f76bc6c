//! A private bond's places and meeting point in the web client (issue 20,
//! `docs/privacy.md`, "Sealed places and the meeting point"): the page keeps the
//! person's places on the device, judges arriving and leaving on its own fixes with the
//! plain bond's rules, and tells the partner sealed; it pins and unpins the meeting point
//! and tells when it reached it. The partner is a device played by the Rust library, as
//! the CLI is: it opens what the page sealed with `haurach_proto::sealed`'s own readers,
//! and the page opens what it sealed. Nothing of a place (its name, its centre) reaches
//! the server in the clear.

use haurach_bond::{Fix, geo};
use haurach_private::Role;
use haurach_proto::sealed::{Envelope, MeetingContent, PlaceContent};
use haurach_proto::{LatLon, PlaceEvent};
use serde_json::{Value, json};

use crate::harness::{Chromedriver, Server, axe_source, serial};
use crate::private::{
    FAR, HER, LibraryLink, Needle, bond_with_library, capture_log, citizen, coordinate_needles,
    everything_sent, files_under, http, open_citizen, report_as_library, seal_fix_as_library,
};

const WELL: &str = "the cobalt well";
const MILL: &str = "the ochre mill";

/// What her device opened of a `place` or `meeting` message his page sealed, as the CLI
/// reads it.
#[derive(Debug, Clone, PartialEq)]
enum Heard {
    Place(PlaceContent),
    Meeting(MeetingContent),
}

/// How many of the requests and frames `page` sent hold `what`.
async fn sent_count(page: &crate::harness::Browser, what: &str) -> usize {
    everything_sent(page)
        .await
        .iter()
        .filter(|f| f.contains(what))
        .count()
}

/// Moves the page to `to` and waits until it has sealed its position after the fix
/// (right after which it judges its places by it, in turn after every earlier fix).
async fn moved_and_sealed(page: &crate::harness::Browser, to: (f64, f64)) {
    const SEALED: &str = "\"type\":\"sealed_fix\"";
    let before = sent_count(page, SEALED).await;
    page.set_position(to.0, to.1).await;
    crate::harness::eventually("his page to seal the new fix", async || {
        let now = sent_count(page, SEALED).await;
        (
            (now > before).then_some(()),
            format!("{now} sealed positions"),
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_keeps_its_places_on_a_private_bond_and_tells_them_sealed() {
    let axe = tokio::task::spawn_blocking(axe_source).await.unwrap();
    let _serial = serial().await;
    let log = capture_log();
    let server = Server::start().await;
    let cd = Chromedriver::start("private-page-places").await;
    let dir = tempfile::tempdir().unwrap();
    // The well where he stands, the mill 500 m north of it: beyond the well's 100 m and
    // its band (125 m), and the well beyond the mill's.
    let well = HER;
    let mill = geo::destination(HER.0, HER.1, 0.0, 500.0);
    // Within sight (2 km in the story profile) of both.
    let near_her = geo::destination(HER.0, HER.1, 40.0, 800.0);

    let spike = open_citizen(&cd, &server, "Spike", dir.path(), 390, HER).await;
    let her = citizen(server.addr, "amethyst").await;
    let (_, key) = bond_with_library(&spike, &server, &her).await;
    let link = LibraryLink::open(server.addr, &her).await;
    let sealer = haurach_private::Sealer::new(&key);
    let (_, view) = http(server.addr, "GET", "/api/v1/bond", Some(&her), None).await;
    let bond: uuid::Uuid = view["id"].as_str().unwrap().parse().unwrap();
    let now_ms = || (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let far = Fix {
        lat: FAR.0,
        lon: FAR.1,
        accuracy_m: 5.0,
        at_ms: now_ms(),
    };
    // She is 40 km away: the pull is open (place news passes at any range), sight is not.
    report_as_library(server.addr, &her, &key, &far).await;
    spike.wait_tier("pull", "open").await;
    spike.wait_tier("sight", "closed").await;

    // Everything his page sealed as a place's news or a meeting point, as her device
    // opens it with the CLI's readers, in the order it came.
    let heard = |got: &[Value]| -> Vec<Heard> {
        got.iter()
            .filter(|f| f["type"] == "message" && f["message"]["from"] == "Spike")
            .filter_map(|f| {
                let m = &f["message"];
                let kind = m["kind"].as_str().unwrap();
                if kind != "place" && kind != "meeting" {
                    return None;
                }
                assert!(m.get("body").is_none(), "{m}");
                let (_, bytes) = Envelope {
                    bond,
                    from: Role::Inviter,
                    kind,
                }
                .open(&sealer, m["sealed"].as_str().unwrap())
                .expect("her device opens his page's sealed news");
                assert_eq!(
                    bytes.len(),
                    haurach_proto::sealed::PLACE_PADDED,
                    "padded as the CLI pads"
                );
                Some(if kind == "place" {
                    Heard::Place(PlaceContent::from_bytes(&bytes).expect("a place's news"))
                } else {
                    Heard::Meeting(MeetingContent::from_bytes(&bytes).expect("a meeting point"))
                })
            })
            .collect()
    };
    let heard_now = || heard(&link.got.lock().unwrap());
    let wait_heard = async |n: usize| -> Vec<Heard> {
        link.wait(&format!("{n} things his page sealed"), |_| {
            let all = heard_now();
            (all.len() >= n).then_some(all)
        })
        .await
    };
    let news = |h: &Heard| -> (String, PlaceEvent, Option<LatLon>) {
        match h {
            Heard::Place(p) => (p.place.clone(), p.event, p.position),
            Heard::Meeting(m) => panic!("a meeting point where place news was due: {m:?}"),
        }
    };

    // On a private bond with confirmed keys the places card is there, and says where the
    // places are kept.
    spike.wait_shown("#place-form").await;
    spike
        .wait_text("#places-title + p", "Kept on this device only")
        .await;
    let add = async |name: &str| {
        spike.fill("#place-name", name).await;
        spike.click("#place-form button[type=submit]").await;
        spike.wait_text("#places-mine", name).await;
    };

    // Made where he stands: he is there, and that is no news.
    add(WELL).await;
    spike.wait_text("#places-mine", "You are here").await;

    // He walks 500 m north: he left the well.
    spike.set_position(mill.0, mill.1).await;
    let got = wait_heard(1).await;
    assert_eq!(news(&got[0]), (WELL.into(), PlaceEvent::Left, None));
    add(MILL).await;
    // Back: he arrived at the well and left the mill, each told once, no centre (sight
    // is closed).
    spike.set_position(well.0, well.1).await;
    let got = wait_heard(3).await;
    assert_eq!(news(&got[1]), (WELL.into(), PlaceEvent::Arrived, None));
    assert_eq!(news(&got[2]), (MILL.into(), PlaceEvent::Left, None));
    spike.set_position(mill.0, mill.1).await;
    let got = wait_heard(5).await;
    assert_eq!(news(&got[3]), (WELL.into(), PlaceEvent::Left, None));
    assert_eq!(news(&got[4]), (MILL.into(), PlaceEvent::Arrived, None));
    spike
        .wait_text("#history", "arrived at the ochre mill")
        .await;

    // Her device seals where she is, so his page can give her way to the point.
    let her_sealed = seal_fix_as_library(server.addr, &her, &sealer, 1, &far, None).await;
    // He pins the well from the mill: her device opens the well's centre and name.
    spike
        .js(
            "document.getElementById('meeting-place').value = arguments[0];
             document.getElementById('meeting-pin').scrollIntoView({block: 'center', behavior: 'instant'})",
            vec![json!(WELL)],
        )
        .await;
    spike.click("#meeting-pin").await;
    let got = wait_heard(6).await;
    let Heard::Meeting(MeetingContent::Pinned { lat, lon, name }) = &got[5] else {
        panic!("not a pin: {:?}", got[5]);
    };
    assert_eq!(name.as_deref(), Some(WELL));
    assert!(
        (lat - well.0).abs() < 1e-9 && (lon - well.1).abs() < 1e-9,
        "{lat} {lon}"
    );
    // His page works out his exact way there (500 m south) and hers, coarse, from her
    // sealed position.
    spike
        .wait_text("#meeting-text", "Meet at the cobalt well (pinned by Spike)")
        .await;
    spike.wait_text("#meeting-legs", "You: 500 m south").await;
    // The map's links would take the point, which the server never sees, to another app
    // or site: the page says so beside them.
    spike
        .wait_text(
            "#map-meeting-open",
            "Either takes the point out of this device: the app or openstreetmap.org then knows where it is.",
        )
        .await;
    let legs = spike.wait_text("#meeting-legs", "amethyst: ").await;
    let theirs: f64 = legs
        .split("amethyst: ")
        .nth(1)
        .and_then(|rest| rest.split(" km").next())
        .and_then(|km| km.parse().ok())
        .unwrap_or_else(|| panic!("her way in km: {legs}"));
    // Beyond sight her way is worked out from the cell her device sealed, and coarse.
    let coarse = haurach_bond::disclosure::coarsen_distance(
        geo::inverse(her_sealed.lat, her_sealed.lon, well.0, well.1).distance_m,
    );
    assert!(!her_sealed.exact);
    assert!(
        (theirs - coarse / 1000.0).abs() <= 0.5,
        "{legs}: {her_sealed:?}, {coarse} m"
    );

    // He walks to it: he reached it, said and told once.
    spike.set_position(well.0, well.1).await;
    let got = wait_heard(9).await;
    assert_eq!(news(&got[6]), (WELL.into(), PlaceEvent::Arrived, None));
    assert_eq!(news(&got[7]), (MILL.into(), PlaceEvent::Left, None));
    assert_eq!(got[8], Heard::Meeting(MeetingContent::Reached));
    spike.wait_text("#meeting-legs", "You: there").await;
    // His page has read every message of the bond into its book (its own news came
    // back to it on the link).
    let (_, view) = http(server.addr, "GET", "/api/v1/bond", Some(&her), None).await;
    let last_seq = view["last_seq"].as_i64().unwrap();
    crate::harness::eventually("his book to have read the bond's messages", async || {
        let read = book_of(&spike, "spike").await["read_seq"].as_i64();
        (
            (read == Some(last_seq)).then_some(()),
            format!("read {read:?} of {last_seq}"),
        )
    })
    .await;
    const READ: &str = "GET /api/v1/bond/messages";
    let reads_before = sent_count(&spike, READ).await;
    // Standing there, his page reports again (a fix a little off, the same place): no
    // news, and not reached twice.
    let beside = geo::destination(HER.0, HER.1, 90.0, 10.0);
    moved_and_sealed(&spike, beside).await;
    // 110 m out he is beyond the well's 100 m but within its band (1.1 × 100 m, and 25 m
    // more): he has not left it; he is beyond the point's 75 m, so it is 110 m away again
    // (judged after the fix beside it, in turn).
    let band = geo::destination(HER.0, HER.1, 90.0, 110.0);
    moved_and_sealed(&spike, band).await;
    spike.wait_text("#meeting-legs", "You: 110 m west").await;
    spike.wait_text("#places-mine", "You are here").await;
    // Whatever news it would have sent goes right after it judged: a second to arrive.
    spike
        .js("return new Promise((r) => setTimeout(r, 1000))", vec![])
        .await;
    assert_eq!(heard_now().len(), 9, "{:?}", heard_now());
    // Neither report read the bond's messages: no message was new (the CLI's `move`
    // asks only when the bond's `last_seq` moved too).
    assert_eq!(
        sent_count(&spike, READ).await,
        reads_before,
        "his page read the bond's messages with none new"
    );

    // Her place's news and her reaching the point, sealed by her device as the CLI
    // does, show in his places card and meeting sentence.
    let post = async |id: &str, kind: &str, counter: u64, content: &[u8]| {
        let sealed = Envelope {
            bond,
            from: Role::Accepter,
            kind,
        }
        .seal(&sealer, counter, content)
        .unwrap();
        let message = json!({"id": id, "kind": kind, "sealed": sealed});
        let (status, body) = http(
            server.addr,
            "POST",
            "/api/v1/bond/messages",
            Some(&her),
            Some(message),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    };
    let hers = PlaceContent {
        place: "the jade orchard".into(),
        event: PlaceEvent::Arrived,
        at: time::OffsetDateTime::now_utc(),
        position: None,
    };
    post("p1", "place", 2, &hers.to_bytes()).await;
    spike.wait_text("#places-partner", "the jade orchard").await;
    spike.wait_text("#places-partner", "amethyst is here").await;
    post("m1", "meeting", 3, &MeetingContent::Reached.to_bytes()).await;
    spike.wait_text("#meeting-legs", "amethyst: there").await;
    // Read again from his book, he is still 110 m from it: leaving it was written down.
    let legs = spike.text("#meeting-legs").await;
    assert!(legs.contains("You: 110 m west"), "{legs}");

    // The list of places to pin beside "Meet there" is drawn as the text fields are (the
    // same ground, border and corners, as tall as the buttons), not as the browser's own.
    let looks = spike
        .js(
            "const [s, i] = ['meeting-place', 'place-name'].map((id) => document.getElementById(id));
             const [cs, ci] = [s, i].map((e) => getComputedStyle(e));
             return {
               appearance: cs.appearance,
               differ: ['backgroundColor', 'borderTopColor', 'borderTopLeftRadius', 'color']
                 .filter((k) => cs[k] !== ci[k]),
               height: s.getBoundingClientRect().height,
             };",
            vec![],
        )
        .await;
    assert_eq!(looks["appearance"], "none", "{looks}");
    assert_eq!(
        looks["differ"],
        json!([]),
        "differs from the text fields: {looks}"
    );
    assert!(looks["height"].as_f64().unwrap() >= 44.0, "{looks}");
    spike
        .check_at_both_widths(&axe, "private-page-places", "a private bond's places card")
        .await;

    // Within sight the news carries the place's centre, as a plain bond shows a
    // partner's place within sight.
    let near = Fix {
        lat: near_her.0,
        lon: near_her.1,
        accuracy_m: 5.0,
        at_ms: now_ms(),
    };
    report_as_library(server.addr, &her, &key, &near).await;
    spike.wait_tier("sight", "open").await;
    spike.set_position(mill.0, mill.1).await;
    let got = wait_heard(11).await;
    let (place, event, centre) = news(&got[9]);
    assert_eq!((place.as_str(), event), (WELL, PlaceEvent::Left));
    let centre = centre.expect("within sight the well's centre");
    assert!((centre.lat - well.0).abs() < 1e-9 && (centre.lon - well.1).abs() < 1e-9);
    let (place, event, centre) = news(&got[10]);
    assert_eq!((place.as_str(), event), (MILL, PlaceEvent::Arrived));
    let centre = centre.expect("within sight the mill's centre");
    assert!((centre.lat - mill.0).abs() < 1e-9 && (centre.lon - mill.1).abs() < 1e-9);

    // He unpins: her device hears it, his page has no point.
    spike
        .js(
            "document.getElementById('meeting-unpin').scrollIntoView({block: 'center', behavior: 'instant'})",
            vec![],
        )
        .await;
    spike.click("#meeting-unpin").await;
    let got = wait_heard(12).await;
    assert_eq!(got[11], Heard::Meeting(MeetingContent::Unpinned));
    spike
        .wait_text("#meeting-text", "No meeting point is pinned")
        .await;

    // Nothing of a place left his page in the clear, (the server is searched below).
    let mut needles = coordinate_needles(&[well, mill]);
    for name in [WELL, MILL, "the jade orchard"] {
        needles.push(Needle::Text(name.to_owned()));
    }
    for sent in everything_sent(&spike).await {
        for needle in &needles {
            assert!(
                !needle.found_in(sent.as_bytes()),
                "his page sent {}: {sent}",
                needle.what()
            );
        }
    }

    // A reload keeps the places: they are on this device.
    spike.driver.refresh().await.unwrap();
    spike.wait_text("#places-mine", WELL).await;
    spike.wait_text("#places-mine", MILL).await;
    spike.wait_text("#places-partner", "the jade orchard").await;

    let (status, places) = http(server.addr, "GET", "/api/v1/places", Some(&her), None).await;
    assert_eq!(status, 200, "{places}");
    assert_eq!(places["partner"], json!([]), "{places}");
    spike.quit().await;
    let data = server.stop().await;
    let files = files_under(data.path());
    assert!(
        files.iter().any(|(path, _)| path.ends_with("haurach.db")),
        "{:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for (path, bytes) in &files {
        for needle in &needles {
            assert!(
                !needle.found_in(bytes),
                "{} holds {}",
                path.display(),
                needle.what()
            );
        }
    }
    let log = log.lock().unwrap().clone();
    assert!(
        String::from_utf8_lossy(&log).contains("haurach_server"),
        "the log holds nothing of the server"
    );
    for needle in &needles {
        assert!(
            !needle.found_in(&log),
            "the server's log holds {}",
            needle.what()
        );
    }
}

/// The page's book of places in this browser (IndexedDB `haurach-places`), as kept.
async fn book_of(page: &crate::harness::Browser, who: &str) -> Value {
    page.js(
        "return new Promise((resolve, reject) => {
           const req = indexedDB.open('haurach-places', 1);
           req.onupgradeneeded = () => req.result.createObjectStore('books', { keyPath: 'who' });
           req.onerror = () => reject(req.error);
           req.onsuccess = () => {
             const get = req.result.transaction('books').objectStore('books').get(arguments[0]);
             get.onsuccess = () => { resolve(get.result ?? null); req.result.close(); };
             get.onerror = () => reject(get.error);
           };
         });",
        vec![json!(who)],
    )
    .await
}

/// A person who kept two places on the server (no bond yet) accepts a private invite in
/// the page: the page writes them into its own book first and names them for the server
/// to forget as it makes the bond, so the server keeps none and the card shows both. An
/// acceptance the server refuses leaves the book as it was (the server kept them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn places_kept_on_the_server_move_to_the_page_as_it_accepts_a_private_invite() {
    use haurach_private::{DeviceSecret, InviteSecret, invite};
    use haurach_proto::private::{key_from_hex, to_hex};

    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("private-page-moves-places").await;
    let dir = tempfile::tempdir().unwrap();
    let mill = geo::destination(HER.0, HER.1, 0.0, 500.0);
    let spike = open_citizen(&cd, &server, "Spike", dir.path(), 390, HER).await;
    // His places, kept on the server by his account before any bond.
    let creds = json!({"name": "Spike", "password": crate::harness::PASSWORD});
    let (_, session) = http(server.addr, "POST", "/api/v1/sessions", None, Some(creds)).await;
    let his = session["token"].as_str().unwrap().to_owned();
    for (name, (lat, lon)) in [(WELL, HER), (MILL, mill)] {
        let path = format!("/api/v1/places/{}", name.replace(' ', "%20"));
        let place = json!({"lat": lat, "lon": lon, "radius_m": 100.0});
        let (status, body) = http(server.addr, "PUT", &path, Some(&his), Some(place)).await;
        assert_eq!(status, 201, "{body}");
    }

    // A code the server does not know: refused, and the book holds nothing of them.
    spike
        .fill("#accept-code", &invite::code(&InviteSecret::generate()))
        .await;
    spike.click("#accept-form button[type=submit]").await;
    spike.wait_shown("#accept-error").await;
    let book = book_of(&spike, "spike").await;
    assert!(
        book.is_null() || book["mine"] == json!([]),
        "a refused acceptance left the places in the book: {book}"
    );
    let (_, kept) = http(server.addr, "GET", "/api/v1/places", Some(&his), None).await;
    assert_eq!(kept["mine"].as_array().map(Vec::len), Some(2), "{kept}");

    // Her device (the library, as the CLI) invites privately; his page accepts.
    let her = citizen(server.addr, "amethyst").await;
    let secret = InviteSecret::generate();
    let device = DeviceSecret::generate();
    let made = json!({
        "lookup": to_hex(&secret.lookup()),
        "public_key": to_hex(&device.public()),
    });
    let (status, body) = http(
        server.addr,
        "POST",
        "/api/v1/bond/private-invites",
        Some(&her),
        Some(made),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    spike.fill("#accept-code", &invite::code(&secret)).await;
    spike.click("#accept-form button[type=submit]").await;
    spike.wait_shown("#screen-link").await;
    let (_, keys) = http(server.addr, "GET", "/api/v1/bond/private", Some(&her), None).await;
    let accepter = key_from_hex(keys["accepter_key"].as_str().unwrap()).unwrap();
    let key = haurach_private::BondKey::derive(Role::Inviter, &device, &accepter, &secret).unwrap();
    let tag = json!({"tag": to_hex(&key.confirmation(Role::Inviter))});
    let (status, body) = http(
        server.addr,
        "PUT",
        "/api/v1/bond/private/confirmation",
        Some(&her),
        Some(tag),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    spike.wait_text("#private-status", "Keys confirmed").await;

    // The card shows both, from this browser; the server keeps none.
    spike.wait_text("#places-mine", WELL).await;
    spike.wait_text("#places-mine", MILL).await;
    spike
        .wait_text(
            "#places-news",
            "Your 2 places are kept on this device now; the server keeps none for a private bond.",
        )
        .await;
    let (status, kept) = http(server.addr, "GET", "/api/v1/places", Some(&his), None).await;
    assert_eq!(status, 200, "{kept}");
    assert_eq!(kept["mine"], json!([]), "{kept}");
    spike.quit().await;
    let rows = place_rows(server).await;
    assert_eq!(rows, 0, "the database still holds a place");
}

/// A place the server still keeps for a person on a private bond (an older server kept
/// them as the bond turned private; today's forgets them in that step) is brought to the
/// page's book when the places card shows, written there first and then deleted on the
/// server, and the person is told, as the CLI's `place` does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_place_the_server_still_keeps_on_a_private_bond_moves_to_the_page() {
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("private-page-brings-places").await;
    let dir = tempfile::tempdir().unwrap();
    let spike = open_citizen(&cd, &server, "Spike", dir.path(), 390, HER).await;
    let her = citizen(server.addr, "amethyst").await;
    bond_with_library(&spike, &server, &her).await;
    spike
        .wait_text("#places-title + p", "Kept on this device only")
        .await;

    // His place in the server's table as an older server left it, the bond private:
    // written while the server is stopped (a running one keeps the places it loaded),
    // then it starts again on the same address.
    let addr = server.addr;
    let data = server.stop().await;
    let db = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        data.path().join("haurach.db").display()
    ))
    .await
    .unwrap();
    let put = sqlx::query(
        "INSERT INTO places (account_id, name, name_key, lat, lon, radius_m, inside, updated_at)
         SELECT id, ?1, lower(?1), ?2, ?3, 150.0, 1, 0 FROM accounts WHERE name_key = 'spike'",
    )
    .bind(WELL)
    .bind(HER.0)
    .bind(HER.1)
    .execute(&db)
    .await
    .unwrap();
    assert_eq!(put.rows_affected(), 1);
    db.close().await;
    let server = Server::start_on(data, addr).await;
    let creds = json!({"name": "Spike", "password": crate::harness::PASSWORD});
    let (_, session) = http(server.addr, "POST", "/api/v1/sessions", None, Some(creds)).await;
    let his = session["token"].as_str().unwrap().to_owned();

    // His page connects again by itself and shows the card again: the place is in his
    // book, as the server had it, and he is told.
    spike.wait_text("#conn-text", "live").await;
    // The card shows again (the next load of the page): the place is in his book, as the
    // server had it, and he is told.
    spike.wait_text("#places-mine", WELL).await;
    spike.wait_text("#places-mine", "You are here").await;
    spike
        .wait_text(
            "#places-news",
            "Your place the cobalt well is kept on this device now; the server keeps none \
             for a private bond.",
        )
        .await;
    let book = book_of(&spike, "spike").await;
    let mine = book["mine"].as_array().cloned().unwrap_or_default();
    assert_eq!(mine.len(), 1, "{book}");
    assert_eq!(mine[0]["name"], json!(WELL), "{book}");
    assert_eq!(mine[0]["radius_m"].as_f64(), Some(150.0), "{book}");
    assert_eq!(mine[0]["inside"], json!(true), "{book}");
    assert!(
        (mine[0]["lat"].as_f64().unwrap() - HER.0).abs() < 1e-9
            && (mine[0]["lon"].as_f64().unwrap() - HER.1).abs() < 1e-9,
        "{book}"
    );

    // The server keeps none now.
    let (status, kept) = http(server.addr, "GET", "/api/v1/places", Some(&his), None).await;
    assert_eq!(status, 200, "{kept}");
    assert_eq!(kept["mine"], json!([]), "{kept}");
    spike.quit().await;
    let rows = place_rows(server).await;
    assert_eq!(rows, 0, "the database still holds his place");
}

/// Stops the server and counts the place rows its SQLite database holds.
async fn place_rows(server: Server) -> i64 {
    let data = server.stop().await;
    let db = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        data.path().join("haurach.db").display()
    ))
    .await
    .unwrap();
    let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM places")
        .fetch_one(&db)
        .await
        .unwrap();
    db.close().await;
    rows
}
