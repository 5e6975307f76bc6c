//! The conformance suite of `PauseStore` (a person's pause of sharing): the same story
//! on SQLite and on PostgreSQL, and a pause that outlives a reopening of the store.

use haurach_store::{PauseRecord, PauseStore, Postgres, Sqlite, Store};
use haurach_testkit::{PgCluster, or_skip};

#[tokio::test]
async fn sqlite_keeps_a_pause_until_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let store = Sqlite::open(dir.path()).await.unwrap();
    let who = conformance(store.clone()).await;
    drop(store);
    // Reopened (a restart): the pause is still there, and still ends when it said.
    let store = Sqlite::open(dir.path()).await.unwrap();
    let kept = store.pause(who).await.unwrap().unwrap();
    assert_eq!(kept.until_ms, Some(5_000));
    assert!(kept.in_force(4_999) && !kept.in_force(5_000));
}

#[tokio::test]
async fn postgres_keeps_a_pause_until_it_ends() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    conformance(Postgres::connect(&pg.url()).await.unwrap()).await;
}

/// Returns the account left paused until 5,000 ms.
async fn conformance<S: Store>(store: S) -> haurach_store::AccountId {
    let a = store.create_account("amethyst", "h", 1).await.unwrap();
    let b = store.create_account("spike", "h", 1).await.unwrap();
    assert_eq!(store.pause(a.id).await.unwrap(), None, "never paused");
    assert_eq!(store.end_pause(a.id, 10).await.unwrap(), None);

    // Until resumed: in force at any time, until ended.
    let open = PauseRecord {
        account: a.id,
        since_ms: 100,
        until_ms: None,
    };
    store.set_pause(&open).await.unwrap();
    assert_eq!(store.pause(a.id).await.unwrap(), Some(open));
    assert!(open.in_force(i64::MAX - 1));
    assert_eq!(store.pause(b.id).await.unwrap(), None, "only theirs");

    // Ending it keeps the row, ended then; ending it again finds nothing in force.
    assert_eq!(store.end_pause(a.id, 200).await.unwrap(), Some(open));
    let ended = store.pause(a.id).await.unwrap().unwrap();
    assert_eq!((ended.since_ms, ended.until_ms), (100, Some(200)));
    assert!(!ended.in_force(200));
    assert_eq!(store.end_pause(a.id, 300).await.unwrap(), None);

    // A new pause replaces the old one; a pause past its `until` cannot be ended again.
    let timed = PauseRecord {
        account: a.id,
        since_ms: 1_000,
        until_ms: Some(5_000),
    };
    store.set_pause(&timed).await.unwrap();
    assert_eq!(store.pause(a.id).await.unwrap(), Some(timed));
    assert_eq!(store.end_pause(a.id, 6_000).await.unwrap(), None);
    assert_eq!(store.pause(a.id).await.unwrap(), Some(timed));
    a.id
}
