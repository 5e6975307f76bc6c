//! The installable app: the service worker installs and keeps the page for when there is
//! no network, the page offers notifications, and a push delivered to the service worker
//! (as a push service would, through DevTools' `ServiceWorker.deliverPushMessage`) shows a
//! notification whose "I hear you" answers the alarm.

use serde_json::{Value, json};

use crate::harness::{Browser, Chromedriver, Pair, Server, axe_source, eventually, serial};

/// The service worker's registration id (Chromium numbers them from 0 in a profile).
async fn registration_id(b: &Browser) -> String {
    b.cdp("ServiceWorker.enable", json!({})).await;
    let targets = b.cdp("Target.getTargets", json!({})).await;
    assert!(
        targets["targetInfos"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["type"] == "service_worker"),
        "no service worker running: {targets}"
    );
    "0".into()
}

/// The notifications the service worker shows now: title, body, tag, actions' titles.
async fn notifications(b: &Browser) -> Value {
    b.js(
        "return navigator.serviceWorker.ready.then(r => r.getNotifications()).then(ns => \
         ns.map(n => ({title: n.title, body: n.body, tag: n.tag, \
                       actions: n.actions.map(a => a.title), data: n.data})))",
        vec![],
    )
    .await
}

/// Delivers `note` to the service worker as its push service would, until a notification
/// titled `title` shows (a push that reaches a worker while it starts or stops may be
/// lost, as a real one may be; the same tag replaces a notification, so none doubles).
async fn push_until_shown(
    b: &Browser,
    origin: &str,
    registration: &str,
    note: &Value,
    title: &str,
) -> Value {
    eventually(format!("the notification {title:?}"), async || {
        b.cdp(
            "ServiceWorker.deliverPushMessage",
            json!({"origin": origin, "registrationId": registration, "data": note.to_string()}),
        )
        .await;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let shown = notifications(b).await;
        let found = shown
            .as_array()
            .and_then(|ns| ns.iter().find(|n| n["title"] == title).cloned());
        (found, shown.to_string())
    })
    .await
}

/// Runs `expression` inside the service worker (a DevTools session of its own, whose
/// answer is not read: the test looks at what it did).
async fn in_service_worker(b: &Browser, expression: &str) {
    let targets = b.cdp("Target.getTargets", json!({})).await;
    let worker = targets["targetInfos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "service_worker")
        .expect("a service worker target")["targetId"]
        .clone();
    let session = b
        .cdp(
            "Target.attachToTarget",
            json!({"targetId": worker, "flatten": false}),
        )
        .await["sessionId"]
        .clone();
    let message = json!({"id": 1, "method": "Runtime.evaluate",
                         "params": {"expression": expression}});
    b.cdp(
        "Target.sendMessageToTarget",
        json!({"sessionId": session, "message": message.to_string()}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_installs_works_offline_and_shows_pushes_as_notifications() {
    let _serial = serial().await;
    let server = Server::start().await;
    let cd = Chromedriver::start("app").await;
    let pair = Pair::bond(&cd, &server, "story", (46.0, 7.0), (46.0, 7.001), false).await;
    let spike = &pair.spike;

    // The service worker controls the page.
    eventually("the service worker to control the page", async || {
        let on = spike
            .js("return Boolean(navigator.serviceWorker.controller)", vec![])
            .await;
        (on.as_bool().unwrap_or(false).then_some(()), on.to_string())
    })
    .await;
    // The page offers notifications on this device; once the browser allows them, the
    // offer can be taken.
    spike.wait_shown("#push-card").await;
    assert_eq!(spike.text("#push-toggle").await, "Notify me on this device");
    let origin = server.url();
    spike
        .cdp(
            "Browser.grantPermissions",
            json!({"permissions": ["notifications", "geolocation", "sensors"], "origin": origin}),
        )
        .await;
    eventually("the offer to be enabled", async || {
        let enabled = spike
            .js(
                "return !document.getElementById('push-toggle').disabled",
                vec![],
            )
            .await;
        (
            enabled.as_bool().unwrap_or(false).then_some(()),
            enabled.to_string(),
        )
    })
    .await;
    let violations = spike.axe_violations(&axe_source()).await;
    assert!(
        violations.is_empty(),
        "axe-core on the link screen: {violations:?}"
    );
    spike.set_viewport(390, 844, true).await;
    spike.shot("app-notifications-390").await;
    spike.set_viewport(1280, 900, false).await;
    spike.shot("app-notifications-desktop").await;
    spike.set_viewport(360, 844, true).await;

    // Amethyst raises the alarm; the push reaches Spike's service worker.
    let raised = pair
        .amethyst
        .js(
            "return fetch('/api/v1/bond/messages', {method: 'POST', headers: {\
               'Content-Type': 'application/json', \
               Authorization: 'Bearer ' + localStorage.getItem('haurach.token')}, \
             body: JSON.stringify({kind: 'alarm', id: 'push-alarm'})}).then(r => r.json())",
            vec![],
        )
        .await;
    let seq = raised["seq"].as_i64().expect("the alarm's seq");
    let registration = registration_id(spike).await;
    let note = json!({"kind": "alarm", "from": "amethyst", "seq": seq});
    let shown = push_until_shown(
        spike,
        &origin,
        &registration,
        &note,
        "amethyst raised the alarm",
    )
    .await;
    assert_eq!(shown["tag"], "alarm");
    assert_eq!(shown["actions"], json!(["I hear you"]));

    // "I hear you", from the notification: the alarm is answered without opening the page.
    let alarms = async |b: &Browser| -> Value {
        b.js(
            "return fetch('/api/v1/bond', {headers: {Authorization: 'Bearer ' + \
             localStorage.getItem('haurach.token')}}).then(r => r.json()).then(b => b.alarms)",
            vec![],
        )
        .await
    };
    assert_eq!(
        alarms(spike).await[0]["seq"],
        seq,
        "the alarm waits for Spike"
    );
    in_service_worker(
        spike,
        "self.registration.getNotifications({tag: 'alarm'}).then(ns => \
         self.dispatchEvent(new NotificationEvent('notificationclick', \
           {notification: ns[0], action: 'ack'})))",
    )
    .await;
    eventually("the alarm answered", async || {
        let waiting = alarms(spike).await;
        (
            waiting
                .as_array()
                .is_some_and(|a| a.is_empty())
                .then_some(()),
            waiting.to_string(),
        )
    })
    .await;

    // A letter's push: who wrote, no words.
    let note =
        json!({"kind": "letter", "from": "amethyst", "id": "0192f6a0-0000-7000-8000-000000000000"});
    let shown = push_until_shown(
        spike,
        &origin,
        &registration,
        &note,
        "A letter from amethyst",
    )
    .await;
    assert_eq!(shown["body"], "Open to read it.");

    // Without the server, the page still opens, from the kept shell, and says so.
    let _dir = server.stop().await;
    spike.driver.refresh().await.expect("reload");
    spike.wait_shown("#banner-offline").await;
    let banner = spike.text("#banner-offline").await;
    assert!(banner.contains("Offline"), "{banner}");
    spike.set_viewport(390, 844, true).await;
    spike.shot("app-offline-390").await;
    pair.quit().await;
}
