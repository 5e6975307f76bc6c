//! The "Devices" card (issue 17, item 3): a device password made on the link screen and
//! shown once, the OwnTracks endpoint taking it, the list, and revoking it; and the page
//! sending when its device took each fix, so the freshest fix wins against the app.

use crate::harness::{Chromedriver, Pair, Server, axe_source, eventually, serial};

/// What `POST /owntracks` answers the app with these Basic credentials (asked from here:
/// a page's fetch answered 401 with a Basic challenge waits for a login prompt).
async fn owntracks_status(server: &Server, name: &str, password: &str) -> u16 {
    use base64::Engine as _;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = server
        .url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{name}:{password}"));
    let head = format!(
        "POST /owntracks HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\
         authorization: Basic {basic}\r\ncontent-length: 0\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut res = Vec::new();
    stream.read_to_end(&mut res).await.unwrap();
    String::from_utf8_lossy(&res[9..12]).parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_password_is_made_shown_once_listed_and_revoked() {
    let axe = tokio::task::spawn_blocking(axe_source).await.unwrap();
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("devices").await;
    let pair = Pair::bond(&cd, &server, "story", (0.0, 10.0), (0.0, 10.015), false).await;
    let spike = &pair.spike;
    spike.wait_text("#pull-text", "Amethyst is east").await;
    spike.record_sent_frames().await;

    spike.wait_text("#devices-empty", "No device").await;
    spike.fill("#device-name", "phone").await;
    spike.click("#device-form button[type=submit]").await;
    spike.wait_shown("#device-made").await;
    let password = spike.text("#device-password").await;
    assert!(password.starts_with("hdp_"), "{password}");
    spike.wait_text("#devices-list", "phone").await;
    assert!(!spike.shown("#devices-empty").await);
    assert_eq!(owntracks_status(&server, "Spike", &password).await, 200);

    let mut found = Vec::new();
    for (width, height, mobile, label) in [(390, 844, true, "phone"), (1280, 900, false, "desktop")]
    {
        spike.set_viewport(width, height, mobile).await;
        for v in spike.axe_violations(&axe).await {
            found.push(format!("devices at {label} width: {v}"));
        }
        spike.shot(&format!("devices-{label}")).await;
    }
    spike.set_viewport(360, 844, true).await;
    assert!(found.is_empty(), "axe-core found:\n{}", found.join("\n"));

    spike.click("#devices-list button").await;
    spike
        .wait_text("#devices-status", "phone's password is revoked")
        .await;
    spike.wait_shown("#devices-empty").await;
    assert!(
        !spike.shown("#device-made").await,
        "the password is not shown again"
    );
    assert_eq!(owntracks_status(&server, "Spike", &password).await, 401);

    // Every position the page sent carried when its device took the fix.
    spike.set_position(0.0, 10.001).await;
    let positions = eventually("a position sent", async || {
        let sent: Vec<String> = spike
            .sent_frames()
            .await
            .into_iter()
            .filter(|f| f.contains("\"type\":\"position\""))
            .collect();
        (
            (!sent.is_empty()).then(|| sent.clone()),
            format!("{sent:?}"),
        )
    })
    .await;
    for frame in &positions {
        assert!(frame.contains("\"at\":\""), "{frame}");
    }
    pair.quit().await;
}
