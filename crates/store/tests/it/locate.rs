//! The conformance suite of `LocateStore` ("where are you now?"): the same story on
//! SQLite and on PostgreSQL.

use haurach_store::{Postgres, Sqlite, Store};
use haurach_testkit::{PgCluster, or_skip};

#[tokio::test]
async fn sqlite_keeps_asks_once_and_limits_them() {
    let dir = tempfile::tempdir().unwrap();
    conformance(Sqlite::open(dir.path()).await.unwrap()).await;
}

#[tokio::test]
async fn postgres_keeps_asks_once_and_limits_them() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    conformance(Postgres::connect(&pg.url()).await.unwrap()).await;
}

async fn conformance<S: Store>(store: S) {
    let a = store.create_account("amethyst", "h", 1).await.unwrap().id;
    let b = store.create_account("spike", "h", 1).await.unwrap().id;
    const MINUTE: i64 = 60_000;
    // Nothing asked: nothing to take.
    assert!(!store.take_locate(b, 0).await.unwrap());
    assert_eq!(store.ask_locate(a, b, 1_000, MINUTE).await.unwrap(), None);
    // Asking again within the minute is refused, saying when it may be asked again.
    assert_eq!(
        store.ask_locate(a, b, 30_000, MINUTE).await.unwrap(),
        Some(61_000)
    );
    // The other partner's own limit is theirs.
    assert_eq!(store.ask_locate(b, a, 30_000, MINUTE).await.unwrap(), None);
    // The ask is taken once.
    assert!(store.take_locate(b, 0).await.unwrap());
    assert!(!store.take_locate(b, 0).await.unwrap());
    // A minute later, a new ask; one made before `since` is stale and not taken.
    assert_eq!(store.ask_locate(a, b, 61_000, MINUTE).await.unwrap(), None);
    assert!(!store.take_locate(b, 61_001).await.unwrap());
    assert!(store.take_locate(a, 0).await.unwrap());
}
