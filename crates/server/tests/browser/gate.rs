//! The gate (registering and logging in) and the page's own pieces: what a person sees
//! when they get something wrong, the session kept across reloads, and the client's
//! modules checked in the browser that runs them.

use serde_json::json;

use crate::harness::{Browser, Chromedriver, PASSWORD, Server, serial};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_explains_mistakes_and_remembers_the_session() {
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("gate").await;
    let profiles = tempfile::tempdir().unwrap();
    let spike = Browser::open(
        &cd,
        &server,
        "Spike",
        &profiles.path().join("spike"),
        360,
        (0.0, 0.0),
    )
    .await;

    // Too short a password is caught before it is sent.
    spike.click("#tab-register").await;
    spike.fill("#auth-name", "Spike").await;
    spike.fill("#auth-password", "short").await;
    spike.click("#auth-submit").await;
    spike
        .wait_text("#auth-error", "at least 8 characters")
        .await;

    spike.register().await;
    spike.wait_text("#conn-text", "live").await;
    // A reload keeps the session.
    spike.driver.refresh().await.unwrap();
    spike.wait_shown("#screen-bond").await;

    spike.click("#page-foot .logout").await;
    spike.wait_shown("#screen-welcome").await;
    // The name is taken now.
    spike.register_again().await;
    spike
        .wait_text("#auth-error", "The name \"Spike\" is taken")
        .await;
    // A wrong password.
    spike.click("#tab-login").await;
    spike.fill("#auth-password", "not-the-password").await;
    spike.click("#auth-submit").await;
    spike
        .wait_text("#auth-error", "Wrong name or password")
        .await;
    spike.shot("gate-error").await;
    spike.fill("#auth-password", PASSWORD).await;
    spike.click("#auth-submit").await;
    spike.wait_shown("#screen-bond").await;

    // A wrong invite code.
    spike.fill("#accept-code", "AAAA-BBBB").await;
    spike.click("#accept-form button[type=submit]").await;
    spike
        .wait_text("#accept-error", "No invite has this code")
        .await;
    spike.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_modules_agree_with_the_server_and_assets_are_served_right() {
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("modules").await;
    let profiles = tempfile::tempdir().unwrap();
    let page = Browser::open(
        &cd,
        &server,
        "Page",
        &profiles.path().join("page"),
        390,
        (0.0, 0.0),
    )
    .await;
    let result = page
        .driver
        .execute_async(
            r#"
            const done = arguments[arguments.length - 1];
            (async () => {
              const fmt = await import("/assets/format.js");
              const th = await import("/assets/thoughts.js");
              const out = {};
              // The same cases as crates/proto/src/human.rs.
              out.distances = [7.6, 754, 996, 1234, 17000, 1234567, NaN].map(fmt.distance);
              out.durations = [12400, 185000, 3900000, 2 * 86400000].map(fmt.duration);
              out.points = [0, 22.5, 67.5, 90, 180, 247.5, 359].map(fmt.compassPoint);
              // Edits count code points: a dragon is one, not two UTF-16 units.
              const pairs = [["", "abc"], ["aa", "aaa"], ["héllo 🐉 x", "héllo 🐲🐉 y"],
                             ["🐉🐉", "🐉"], ["abc", ""]];
              out.diffs = pairs.map(([a, b]) => th.diff(a, b));
              out.roundTrips = pairs.every(([a, b]) => th.applyEdits(a, th.diff(a, b)) === b);
              const t = new th.ThoughtText();
              out.applied = [t.apply(1, true, [{op: "insert", pos: 0, text: "hi"}]),
                             t.apply(3, false, [{op: "insert", pos: 2, text: "!"}]),
                             t.apply(4, true, [{op: "insert", pos: 0, text: "hey"}])];
              out.text = t.text;
              const asset = await fetch("/assets/no-such-file.js");
              out.missing = [asset.status, asset.headers.get("content-type"), (await asset.json()).code];
              const js = await fetch("/assets/app.js");
              out.js = [js.headers.get("content-type"), js.headers.get("cache-control")];
              const index = await fetch("/");
              out.index = [index.headers.get("content-type"), index.headers.get("cache-control"),
                           Boolean(index.headers.get("content-security-policy"))];
              return out;
            })().then(done, (e) => done({error: String(e)}));
            "#,
            vec![],
        )
        .await
        .expect("the module checks run");
    let out = result.json();
    assert_eq!(
        out["distances"],
        json!([
            "8 m",
            "750 m",
            "1.0 km",
            "1.2 km",
            "17 km",
            "1,235 km",
            "an unknown distance"
        ])
    );
    assert_eq!(
        out["durations"],
        json!(["12 s", "3 min", "1 h 5 min", "2 days"])
    );
    assert_eq!(
        out["points"],
        json!([
            "north",
            "north-north-east",
            "east-north-east",
            "east",
            "south",
            "west-south-west",
            "north"
        ])
    );
    assert_eq!(
        out["diffs"],
        json!([
            [{"op": "insert", "pos": 0, "text": "abc"}],
            [{"op": "insert", "pos": 2, "text": "a"}],
            [{"op": "erase", "pos": 6, "n": 3}, {"op": "insert", "pos": 6, "text": "🐲🐉 y"}],
            [{"op": "erase", "pos": 1, "n": 1}],
            [{"op": "erase", "pos": 0, "n": 3}],
        ])
    );
    assert_eq!(out["roundTrips"], json!(true));
    // A batch out of sequence is refused until the next reset.
    assert_eq!(out["applied"], json!([true, false, true]));
    assert_eq!(out["text"], json!("hey"));
    assert_eq!(
        out["missing"],
        json!([404, "application/problem+json", "no_such_asset"])
    );
    assert_eq!(
        out["js"],
        json!(["text/javascript; charset=utf-8", "no-cache"])
    );
    assert_eq!(
        out["index"],
        json!(["text/html; charset=utf-8", "no-cache", true])
    );
    page.quit().await;
}

/// What a newcomer and a keyboard user meet at a gated city: the first visit to a fresh
/// server opens on Register (the first account is the tower's); switching tabs with the
/// arrow keys shows the gatekeeper's book; a missing name in the book is said in words,
/// not as an API field; and logging out leaves nothing of the last person in the form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_opens_on_register_works_by_keyboard_and_forgets_the_last_person() {
    let _serial = serial().await;
    let server = Server::start_gate(haurach_proto::GateMode::Application).await;
    let cd = Chromedriver::start("gate-keyboard").await;
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
    celestia
        .wait_attr("#tab-register", "aria-selected", "true")
        .await;
    celestia.wait_shown("#gate-first").await;
    celestia.fill("#auth-name", "Celestia").await;
    celestia.fill("#auth-password", PASSWORD).await;
    celestia.click("#auth-submit").await;
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
    // Not the first visit any more: the page opens on Log in.
    twilight
        .wait_attr("#tab-login", "aria-selected", "true")
        .await;
    let tab = twilight.find("#tab-login").await;
    tab.focus().await.unwrap();
    tab.send_keys(thirtyfour::Key::Right).await.unwrap();
    twilight
        .wait_attr("#tab-register", "aria-selected", "true")
        .await;
    twilight.wait_shown("#book-fields").await;
    twilight.fill("#auth-name", "Twilight").await;
    twilight.fill("#auth-password", PASSWORD).await;
    twilight.click("#auth-submit").await;
    let said = twilight
        .wait_text("#auth-error", "your name in the gatekeeper's book")
        .await;
    assert!(!said.contains("book.name"), "{said}");
    let focused = twilight
        .js("return document.activeElement.id", vec![])
        .await;
    assert_eq!(focused, json!("book-name"));
    twilight.fill("#book-name", "Twilight").await;
    twilight.click("#auth-submit").await;
    twilight.wait_shown("#screen-applicant").await;
    twilight.click("#screen-applicant .logout").await;
    twilight.wait_shown("#screen-welcome").await;
    twilight
        .wait_attr("#tab-login", "aria-selected", "true")
        .await;
    let left = twilight
        .js(
            "return [...document.querySelectorAll('#auth-form input, #auth-form textarea')]
               .map((e) => e.value).filter(Boolean)",
            vec![],
        )
        .await;
    assert_eq!(
        left,
        json!([]),
        "the last person's entries are still in the form"
    );
    celestia.quit().await;
    twilight.quit().await;
}
