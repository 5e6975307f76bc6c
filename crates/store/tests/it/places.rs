//! The conformance suite of `PlaceStore` (a supertrait of `Store`): places, the pinned meeting point and the
//! journey, as every backend must keep them.

use haurach_bond::{Fix, Profile, TierSet};
use haurach_store::{PinRecord, PlaceRecord, PositionRecord, Postgres, Sqlite, Store, Waiting};
use haurach_testkit::{PgCluster, or_skip};

#[tokio::test]
async fn sqlite_passes_the_places_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Sqlite::open(dir.path()).await.unwrap();
    places_conformance(store).await;
}

#[tokio::test]
async fn postgres_passes_the_places_conformance_suite() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    let store = Postgres::connect(&pg.url()).await.unwrap();
    places_conformance(store).await;
}

fn place(name: &str, lat: f64, inside: bool) -> PlaceRecord {
    PlaceRecord {
        name: name.into(),
        lat,
        lon: 14.0,
        radius_m: 100.0,
        inside,
        updated_at: 1,
    }
}

fn fix(lat: f64, at_ms: i64) -> PositionRecord {
    PositionRecord {
        fix: Fix {
            lat,
            lon: 1.0,
            accuracy_m: 4.0,
            at_ms,
        },
        received_at: at_ms,
    }
}

pub async fn places_conformance<S: Store>(store: S) {
    let a = store.create_account("spike", "h", 1).await.unwrap().id;
    let b = store.create_account("amethyst", "h", 1).await.unwrap().id;

    // Places: by name, any case; a second put replaces (and keeps the new spelling).
    let created = store
        .put_places(a, &[place("Home", 1.0, false), place("work", 2.0, true)])
        .await
        .unwrap();
    assert_eq!(created, [true, true]);
    let created = store
        .put_places(a, &[place("HOME", 3.0, true)])
        .await
        .unwrap();
    assert_eq!(created, [false]);
    let mine = store.places(a).await.unwrap();
    assert_eq!(mine.len(), 2);
    assert_eq!(
        (mine[0].name.as_str(), mine[0].lat, mine[0].inside),
        ("HOME", 3.0, true)
    );
    assert_eq!(mine[1].name, "work");
    // Someone else's places are their own.
    assert!(store.places(b).await.unwrap().is_empty());
    store
        .put_places(b, &[place("home", 9.0, false)])
        .await
        .unwrap();
    assert_eq!(store.places(a).await.unwrap()[0].lat, 3.0);

    // Being inside is stored; deleting is by name, any case, once.
    store
        .set_inside(a, &[("home".into(), false), ("Work".into(), false)])
        .await
        .unwrap();
    assert!(store.places(a).await.unwrap().iter().all(|p| !p.inside));
    assert!(store.delete_place(a, "WORK").await.unwrap());
    assert!(!store.delete_place(a, "work").await.unwrap());
    assert_eq!(store.places(a).await.unwrap().len(), 1);

    // The pin of a bond: set, replaced, reached, removed.
    store.create_invite("ABCDEFGH", a, 1, 10_000).await.unwrap();
    let bond = store
        .accept_invite("ABCDEFGH", b, Profile::Story, TierSet::always(), 2)
        .await
        .unwrap();
    assert_eq!(store.pin(bond.id).await.unwrap(), None);
    let mut pin = PinRecord {
        name: Some("the Needle".into()),
        lat: 23.2,
        lon: 53.7,
        pinned_by: a,
        pinned_at: 5,
        reached: [false, false],
    };
    store.set_pin(bond.id, Some(&pin)).await.unwrap();
    assert_eq!(store.pin(bond.id).await.unwrap().as_ref(), Some(&pin));
    pin.reached = [false, true];
    pin.pinned_by = b;
    store.set_pin(bond.id, Some(&pin)).await.unwrap();
    assert_eq!(store.pin(bond.id).await.unwrap().as_ref(), Some(&pin));
    store.set_pin(bond.id, None).await.unwrap();
    assert_eq!(store.pin(bond.id).await.unwrap(), None);

    // The journey: the fixes marked for it, saved with the positions, in order, a retry
    // kept once; the latest position still ignores an older fix, the journey keeps it.
    store
        .save_positions_and_journey(&[(a, fix(1.0, 1_000), true)], Waiting::Nobody)
        .await
        .unwrap();
    store
        .save_positions_and_journey(
            &[(a, fix(2.0, 2_000), true), (b, fix(7.0, 2_000), true)],
            Waiting::Nobody,
        )
        .await
        .unwrap();
    store
        .save_positions_and_journey(&[(a, fix(2.0, 2_000), true)], Waiting::Nobody)
        .await
        .unwrap();
    store
        .save_positions_and_journey(&[(a, fix(1.5, 1_500), true)], Waiting::Nobody)
        .await
        .unwrap();
    // Not marked: the position moves, the journey does not.
    store
        .save_positions_and_journey(&[(b, fix(8.0, 3_000), false)], Waiting::Nobody)
        .await
        .unwrap();
    assert_eq!(store.position(b).await.unwrap().unwrap().fix.lat, 8.0);
    // The bond's own save_positions keeps no journey.
    store.save_positions(&[(b, fix(9.0, 4_000))]).await.unwrap();
    assert_eq!(store.position(b).await.unwrap().unwrap().fix.lat, 9.0);
    assert_eq!(store.position(a).await.unwrap().unwrap().fix.lat, 2.0);
    let journey = store.journey(a, 0, i64::MAX, 100).await.unwrap();
    let lats: Vec<f64> = journey.iter().map(|f| f.lat).collect();
    assert_eq!(lats, [1.0, 1.5, 2.0]);
    assert_eq!(journey[0].accuracy_m, 4.0);
    assert_eq!(store.journey(a, 1_200, 1_800, 100).await.unwrap().len(), 1);
    assert_eq!(store.journey(a, 0, i64::MAX, 2).await.unwrap().len(), 2);
    assert_eq!(store.journey(b, 0, i64::MAX, 100).await.unwrap().len(), 1);
    // Retention: everything before the cutoff goes, of everyone.
    assert_eq!(store.forget_journey_before(1_600).await.unwrap(), 2);
    let lats: Vec<f64> = store
        .journey(a, 0, i64::MAX, 100)
        .await
        .unwrap()
        .iter()
        .map(|f| f.lat)
        .collect();
    assert_eq!(lats, [2.0]);
}
