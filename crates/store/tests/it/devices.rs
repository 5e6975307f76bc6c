//! The conformance suite of `DeviceStore` (device passwords): the same story on SQLite
//! and on PostgreSQL.

use haurach_store::{DeviceRecord, Postgres, Sqlite, Store};
use haurach_testkit::{PgCluster, or_skip};

#[tokio::test]
async fn sqlite_keeps_and_revokes_device_passwords() {
    let dir = tempfile::tempdir().unwrap();
    conformance(Sqlite::open(dir.path()).await.unwrap()).await;
}

#[tokio::test]
async fn postgres_keeps_and_revokes_device_passwords() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    conformance(Postgres::connect(&pg.url()).await.unwrap()).await;
}

async fn conformance<S: Store>(store: S) {
    let a = store.create_account("amethyst", "h", 1).await.unwrap().id;
    let b = store.create_account("spike", "h", 1).await.unwrap().id;
    let device = |account, name: &str, at| DeviceRecord {
        account,
        name: name.to_owned(),
        created_at: at,
    };
    assert!(store.devices(a).await.unwrap().is_empty());
    assert!(
        store
            .add_device(&device(a, "phone", 2), b"s1", 3)
            .await
            .unwrap()
    );
    assert!(
        store
            .add_device(&device(a, "tablet", 3), b"s2", 3)
            .await
            .unwrap()
    );
    // Another person may name a device the same.
    assert!(
        store
            .add_device(&device(b, "phone", 4), b"s3", 3)
            .await
            .unwrap()
    );
    // One name per person's devices.
    assert!(
        !store
            .add_device(&device(a, "phone", 5), b"s4", 3)
            .await
            .unwrap()
    );
    assert_eq!(
        store.devices(a).await.unwrap(),
        vec![device(a, "phone", 2), device(a, "tablet", 3)]
    );
    // The password's hash finds its device.
    assert_eq!(
        store.device_by_secret(b"s2").await.unwrap(),
        Some(device(a, "tablet", 3))
    );
    assert_eq!(store.device_by_secret(b"s4").await.unwrap(), None);
    // No more than the limit.
    assert!(
        store
            .add_device(&device(a, "watch", 6), b"s5", 3)
            .await
            .unwrap()
    );
    assert!(
        !store
            .add_device(&device(a, "car", 7), b"s6", 3)
            .await
            .unwrap()
    );
    // Revoked: its password finds nothing, and only the owner's device of that name goes.
    assert!(store.revoke_device(a, "phone").await.unwrap());
    assert!(!store.revoke_device(a, "phone").await.unwrap());
    assert_eq!(store.device_by_secret(b"s1").await.unwrap(), None);
    assert_eq!(
        store.device_by_secret(b"s3").await.unwrap(),
        Some(device(b, "phone", 4))
    );
    // Removing a person removes their devices.
    store.remove_account(a).await.unwrap();
    assert_eq!(store.device_by_secret(b"s2").await.unwrap(), None);
}
