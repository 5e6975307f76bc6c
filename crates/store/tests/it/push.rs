//! The conformance suite of `PushStore` (the VAPID key, devices' subscriptions, the
//! claims of one push per event): the same story on SQLite and on PostgreSQL.

use haurach_store::{Postgres, PushSubscriptionRecord, Sqlite, Store};
use haurach_testkit::{PgCluster, or_skip};

#[tokio::test]
async fn sqlite_keeps_the_push_key_and_subscriptions() {
    let dir = tempfile::tempdir().unwrap();
    conformance(Sqlite::open(dir.path()).await.unwrap()).await;
}

#[tokio::test]
async fn postgres_keeps_the_push_key_and_subscriptions() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    conformance(Postgres::connect(&pg.url()).await.unwrap()).await;
}

fn device(account: haurach_store::AccountId, n: i64) -> PushSubscriptionRecord {
    PushSubscriptionRecord {
        account,
        endpoint: format!("https://push.example/{n}"),
        p256dh: format!("key{n}"),
        auth: format!("auth{n}"),
        created_at: n,
    }
}

async fn conformance<S: Store>(store: S) {
    // The first key offered is kept; a later candidate (another node, a restart) gets it.
    assert_eq!(store.push_key("first", 1).await.unwrap(), "first");
    assert_eq!(store.push_key("second", 2).await.unwrap(), "first");

    let a = store.create_account("amethyst", "h", 1).await.unwrap();
    let b = store.create_account("spike", "h", 1).await.unwrap();
    assert!(store.push_subscriptions(a.id).await.unwrap().is_empty());
    for n in 1..=3 {
        store
            .save_push_subscription(&device(a.id, n), 10)
            .await
            .unwrap();
    }
    let subs = store.push_subscriptions(a.id).await.unwrap();
    assert_eq!(
        subs,
        vec![device(a.id, 1), device(a.id, 2), device(a.id, 3)]
    );

    // Subscribing a device again replaces its keys.
    let renewed = PushSubscriptionRecord {
        p256dh: "new".into(),
        ..device(a.id, 2)
    };
    store.save_push_subscription(&renewed, 10).await.unwrap();
    assert_eq!(store.push_subscriptions(a.id).await.unwrap()[1], renewed);

    // A device subscribed by someone else now belongs to them.
    store
        .save_push_subscription(&device(b.id, 3), 10)
        .await
        .unwrap();
    assert_eq!(store.push_subscriptions(a.id).await.unwrap().len(), 2);
    assert_eq!(
        store.push_subscriptions(b.id).await.unwrap(),
        vec![device(b.id, 3)]
    );

    // Only the newest `keep` are kept.
    for n in 10..15 {
        store
            .save_push_subscription(&device(a.id, n), 3)
            .await
            .unwrap();
    }
    let kept: Vec<_> = store
        .push_subscriptions(a.id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.created_at)
        .collect();
    assert_eq!(kept, vec![12, 13, 14]);

    // Unsubscribing deletes only one's own.
    assert!(
        !store
            .delete_push_subscription(a.id, "https://push.example/3")
            .await
            .unwrap()
    );
    assert!(
        store
            .delete_push_subscription(a.id, "https://push.example/13")
            .await
            .unwrap()
    );
    store
        .forget_push_endpoint("https://push.example/3")
        .await
        .unwrap();
    assert!(store.push_subscriptions(b.id).await.unwrap().is_empty());
    assert_eq!(store.push_subscriptions(a.id).await.unwrap().len(), 2);

    // One claim per event; old claims are forgotten.
    assert!(!store.push_claimed("alarm:1").await.unwrap());
    assert!(store.claim_push("alarm:1", 100, 0).await.unwrap());
    assert!(store.push_claimed("alarm:1").await.unwrap());
    assert!(!store.claim_push("alarm:1", 101, 0).await.unwrap());
    assert!(store.claim_push("alarm:2", 102, 0).await.unwrap());
    assert!(store.claim_push("alarm:1", 200, 150).await.unwrap());
}
