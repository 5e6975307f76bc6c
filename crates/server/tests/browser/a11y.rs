//! Accessibility: axe-core, injected into the page, checks every screen at a phone's width
//! (390 × 844) and a desktop's (1280 × 900); any violation fails the test, with the rule
//! and the elements that break it. The screens are reached the way a person reaches them:
//! the gate (log in, and register with the gatekeeper's book), the applicant's wait, the
//! tower, the bond screen, the link, letters and summons.

use haurach_proto::GateMode;

use crate::harness::{Browser, Chromedriver, PASSWORD, Server, axe_source, eventually, serial};

/// Runs axe at both widths on what `who` shows now; adds what it finds to `found`.
async fn check(who: &Browser, screen: &str, axe: &str, found: &mut Vec<String>) {
    for (width, height, mobile, label) in [(390, 844, true, "phone"), (1280, 900, false, "desktop")]
    {
        who.set_viewport(width, height, mobile).await;
        for v in who.axe_violations(axe).await {
            found.push(format!("{screen} at {label} width: {v}"));
        }
        who.shot(&format!("a11y-{screen}-{label}")).await;
    }
    who.set_viewport(390, 844, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_screen_passes_axe_at_phone_and_desktop_width() {
    let axe = tokio::task::spawn_blocking(axe_source).await.unwrap();
    let _serial = serial().await;
    let server = Server::start_gate(GateMode::Application).await;
    let cd = Chromedriver::start("a11y").await;
    let profiles = tempfile::tempdir().unwrap();
    let mut found = Vec::new();

    let celestia = Browser::open(
        &cd,
        &server,
        "Celestia",
        &profiles.path().join("c"),
        390,
        (0.0, 10.0),
    )
    .await;
    celestia.wait_shown("#screen-welcome").await;
    check(&celestia, "welcome", &axe, &mut found).await;
    celestia.register().await;
    celestia.wait_shown("#nav-tower").await;

    let twilight = Browser::open(
        &cd,
        &server,
        "Twilight",
        &profiles.path().join("t"),
        390,
        (0.0, 10.05),
    )
    .await;
    twilight.click("#tab-register").await;
    twilight.wait_shown("#book-fields").await;
    check(&twilight, "register-with-book", &axe, &mut found).await;
    twilight.fill("#auth-name", "Twilight").await;
    twilight.fill("#auth-password", PASSWORD).await;
    twilight.fill("#book-name", "Twilight").await;
    twilight.fill("#book-family", "Sparkle").await;
    twilight.fill("#book-from", "the desert").await;
    twilight.fill("#book-age", "19").await;
    twilight.fill("#book-calling", "Letter Bearer").await;
    twilight.click("#auth-submit").await;
    twilight.wait_shown("#screen-applicant").await;
    check(&twilight, "applicant", &axe, &mut found).await;

    celestia.click("#nav-tower").await;
    celestia.wait_shown("#screen-tower").await;
    celestia.wait_text("#queue-list", "Sparkle").await;
    check(&celestia, "tower", &axe, &mut found).await;
    celestia.fill("#answer-Twilight", "Welcome.").await;
    celestia.click("#queue-list .approve").await;
    celestia
        .wait_text("#banner-notice-text", "Twilight is a citizen")
        .await;
    twilight.click("#applicant-refresh").await;
    twilight.wait_shown("#screen-bond").await;
    check(&twilight, "bond", &axe, &mut found).await;

    // Bonded: the link screen, then the city's other screens.
    celestia.click("[data-go=home]").await;
    celestia.wait_shown("#screen-bond").await;
    celestia.click("#invite-make").await;
    let code = eventually("Celestia's invite code", async || {
        let code = celestia.text("#invite-code").await;
        ((code.len() == 9).then(|| code.clone()), code)
    })
    .await;
    twilight.fill("#accept-code", &code).await;
    twilight.click("input[name=profile][value=story]").await;
    twilight.click("#accept-form button[type=submit]").await;
    twilight.wait_shown("#screen-link").await;
    twilight.wait_text("#pull-text", "Celestia is west").await;
    twilight.wait_tier("thoughts", "open").await;
    check(&twilight, "link", &axe, &mut found).await;
    twilight.click("[data-go=letters]").await;
    twilight.wait_shown("#screen-letters").await;
    check(&twilight, "letters", &axe, &mut found).await;
    twilight.click("[data-go=summons]").await;
    twilight.wait_shown("#screen-summons").await;
    check(&twilight, "summons", &axe, &mut found).await;

    celestia.quit().await;
    twilight.quit().await;
    assert!(found.is_empty(), "axe-core found:\n{}", found.join("\n"));
}
