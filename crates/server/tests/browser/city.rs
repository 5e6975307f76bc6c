//! The city in the browser: a letter with a parcel between two citizens, a return to
//! sender, an application the tower approves, and a summons accepted.

use haurach_proto::GateMode;
use serde_json::json;

use crate::harness::{Browser, Chromedriver, Server, axe_source, serial};

/// Opens the letters view.
async fn letters(b: &Browser) {
    b.click("#city-nav [data-go=letters]").await;
    b.wait_shown("#screen-letters").await;
}

/// Writes a letter from the letters view.
async fn write(b: &Browser, to: &str, body: &str) {
    b.fill("#compose-to", to).await;
    b.fill("#compose-body", body).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_citizens_exchange_a_letter_with_a_parcel_and_one_goes_back() {
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("letters").await;
    let profiles = tempfile::tempdir().unwrap();
    let spike = Browser::open(
        &cd,
        &server,
        "Spike",
        &profiles.path().join("s"),
        390,
        (0.0, 0.0),
    )
    .await;
    let twilight = Browser::open(
        &cd,
        &server,
        "Twilight",
        &profiles.path().join("t"),
        390,
        (0.0, 0.0),
    )
    .await;
    spike.register().await;
    twilight.register().await;
    letters(&spike).await;
    letters(&twilight).await;

    // A letter with a parcel: the file input takes a real file.
    let files = tempfile::tempdir().unwrap();
    let parcel = files.path().join("box.txt");
    std::fs::write(&parcel, "a box, breathed on").unwrap();
    write(&spike, "Twilight", "A box for you.").await;
    spike
        .find("#compose-files")
        .await
        .send_keys(parcel.to_str().unwrap())
        .await
        .unwrap();
    spike.click("#compose-send").await;
    spike
        .wait_text("#compose-status", "in Twilight's hands now")
        .await;

    // It appears in her hands without a reload, sealed, with the parcel announced.
    twilight
        .wait_text(
            "#banner-notice-text",
            "A letter from Spike is in your hands, with a parcel",
        )
        .await;
    twilight.click("#city-nav [data-go=letters]").await;
    twilight.wait_text("#letters-list", "From Spike").await;
    twilight.wait_text("#letters-list", "sealed").await;
    twilight
        .wait_text("#letters-list", "With a parcel: box.txt (18 bytes)")
        .await;
    twilight.shot("letters-inbox").await;
    twilight.click("#letters-list .letter-read").await;
    twilight.wait_text("#letters-list", "A box for you.").await;
    twilight
        .wait_text("#letters-list", "Save the parcel box.txt")
        .await;
    // The parcel's bytes, fetched the way the page fetches them.
    let bytes = twilight
        .driver
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const id = document.querySelector('#letters-list .letter').dataset.letter;
             fetch(`/api/v1/letters/${id}/parcels/0`, {headers: {Authorization: `Bearer ${localStorage.getItem('haurach.token')}`}})
               .then((r) => r.text()).then(done);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(bytes.json(), &json!("a box, breathed on"));

    // Spike sees the receipts in his sent letters.
    spike.click("#tab-sent").await;
    spike.wait_text("#letters-list", "To Twilight").await;
    spike.wait_text("#letters-list", "read").await;
    spike.shot("letters-sent").await;

    // Twilight replies; the reply is threaded.
    twilight.click("#letters-list .letter-reply").await;
    twilight.fill("#compose-body", "Thank you, Spike!").await;
    twilight.click("#compose-send").await;
    twilight
        .wait_text("#compose-status", "in Spike's hands now")
        .await;
    spike
        .wait_text("#banner-notice-text", "A letter from Twilight")
        .await;
    spike.click("#tab-inbox").await;
    spike.wait_text("#letters-list", "A reply.").await;
    spike.click("#letters-list .letter-thread").await;
    spike.wait_shown("#thread-card").await;
    spike.wait_text("#thread-list", "A box for you.").await;

    // Return to sender: Spike sends her reply back unopened.
    spike.click("#letters-list .letter-return").await;
    spike
        .wait_text("#banner-notice-text", "went back to its sender")
        .await;
    twilight
        .wait_text(
            "#banner-notice-text",
            "Your letter to Spike came back unopened",
        )
        .await;
    twilight.click("#tab-inbox").await;
    twilight
        .wait_text("#letters-list", "returned to you, unopened")
        .await;
    twilight.shot("letters-returned").await;
    spike.quit().await;
    twilight.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_at_the_gate_is_approved_by_the_tower() {
    let _serial = serial().await;
    let server = Server::start_gate(GateMode::Application).await;
    let cd = Chromedriver::start("tower").await;
    let profiles = tempfile::tempdir().unwrap();
    let celestia = Browser::open(
        &cd,
        &server,
        "Celestia",
        &profiles.path().join("c"),
        390,
        (0.0, 0.0),
    )
    .await;
    // The first account is the tower's: the page says so.
    celestia.click("#tab-register").await;
    celestia.wait_shown("#gate-first").await;
    celestia.register().await;
    celestia.wait_shown("#nav-tower").await;

    let twilight = Browser::open(
        &cd,
        &server,
        "Twilight",
        &profiles.path().join("t"),
        390,
        (0.0, 0.0),
    )
    .await;
    twilight.click("#tab-register").await;
    twilight.wait_shown("#book-fields").await;
    twilight.fill_book("Sparkle...I guess").await;
    twilight.shot("gate-book").await;
    twilight.click("#auth-submit").await;
    twilight.wait_shown("#screen-applicant").await;
    twilight
        .wait_text("#applicant-status", "sent to the tower")
        .await;
    twilight.wait_text("#applicant-book", "Letter Bearer").await;
    // The tower hears of it at once.
    celestia
        .wait_text("#banner-notice-text", "Twilight applied at the gate")
        .await;

    celestia.click("#nav-tower").await;
    celestia.wait_shown("#screen-tower").await;
    celestia.wait_text("#queue-list", "Sparkle...I guess").await;
    celestia.shot("tower-queue").await;
    celestia
        .fill("#answer-Twilight", "Welcome to the city, letter bearer.")
        .await;
    celestia.click("#queue-list .approve").await;
    celestia
        .wait_text("#banner-notice-text", "Twilight is a citizen")
        .await;
    celestia
        .wait_text("#register-table", "Welcome to the city, letter bearer.")
        .await;
    celestia.shot("tower-register").await;

    // The book comes back with the answer, and the city opens.
    twilight.click("#applicant-refresh").await;
    twilight.wait_shown("#screen-bond").await;
    twilight.wait_shown("#city-nav").await;
    celestia.quit().await;
    twilight.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_summons_is_felt_like_an_alarm_and_accepted() {
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("summons").await;
    let profiles = tempfile::tempdir().unwrap();
    let spike = Browser::open(
        &cd,
        &server,
        "Spike",
        &profiles.path().join("s"),
        390,
        (46.0, 7.0),
    )
    .await;
    let twilight = Browser::open(
        &cd,
        &server,
        "Twilight",
        &profiles.path().join("t"),
        390,
        (46.05, 7.0),
    )
    .await;
    spike.register().await;
    twilight.register().await;

    // Spike allows Twilight to summon him, and says where he is.
    spike.click("#city-nav [data-go=summons]").await;
    spike.fill("#allow-name", "Twilight").await;
    spike.click("#allow-form button[type=submit]").await;
    spike.wait_text("#allowed-list", "Twilight").await;
    spike.click("#city-nav [data-go=home]").await;
    let token = spike
        .js("return localStorage.getItem('haurach.token')", vec![])
        .await;
    let (status, _) = put_position(&server, token.as_str().unwrap(), 46.0, 7.0).await;
    assert_eq!(status, 204);

    twilight.click("#city-nav [data-go=summons]").await;
    twilight.fill("#summon-to", "Spike").await;
    twilight.fill("#summon-lat", "46.05").await;
    twilight.fill("#summon-lon", "7.0").await;
    twilight.click("#summon-form button[type=submit]").await;
    twilight
        .wait_text("#banner-summons-title", "You are summoning Spike")
        .await;

    // Like an alarm: a banner with the pull toward her.
    spike
        .wait_text("#banner-summons-title", "Twilight summons you")
        .await;
    spike
        .wait_text("#banner-summons-detail", "north, 5.6 km away")
        .await;
    spike.shot("summons-call").await;
    // The summons banner, amber with its two buttons, as axe-core reads it.
    let violations = spike.axe_violations(&axe_source()).await;
    assert!(
        violations.is_empty(),
        "axe-core on a summons: {violations:?}"
    );
    spike.click("#summons-accept").await;
    spike
        .wait_text("#banner-summons-title", "On your way to Twilight")
        .await;
    twilight
        .wait_text("#banner-summons-title", "Spike is coming")
        .await;
    // He moves; she sees him approach, exactly.
    put_position(&server, token.as_str().unwrap(), 46.03, 7.0).await;
    twilight
        .wait_text("#banner-summons-detail", "46.03000, 7.00000")
        .await;
    twilight.shot("summons-coming").await;
    spike.quit().await;
    twilight.quit().await;
}

/// `PUT /api/v1/me/position` from outside the page (the test's hand on the GPS).
async fn put_position(server: &Server, token: &str, lat: f64, lon: f64) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = json!({"lat": lat, "lon": lon}).to_string();
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let req = format!(
        "PUT /api/v1/me/position HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\
         authorization: Bearer {token}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut res = String::new();
    stream.read_to_string(&mut res).await.unwrap();
    let status = res.split(' ').nth(1).unwrap().parse().unwrap();
    (status, res)
}
