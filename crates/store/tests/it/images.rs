//! The conformance suite of `ImageStore` (images, camera consent, memories): the same
//! story on SQLite and on PostgreSQL.

use haurach_bond::{Profile, TierSet};
use haurach_store::{
    BondId, Conflict, ImageId, ImageRecord, MemoryRecord, Missing, Postgres, Sqlite, Store,
    StoreError,
};
use haurach_testkit::{PgCluster, or_skip};
use uuid::Uuid;

#[tokio::test]
async fn sqlite_keeps_images_consent_and_memories() {
    let dir = tempfile::tempdir().unwrap();
    conformance(Sqlite::open(dir.path()).await.unwrap()).await;
}

#[tokio::test]
async fn postgres_keeps_images_consent_and_memories() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    conformance(Postgres::connect(&pg.url()).await.unwrap()).await;
}

async fn conformance<S: Store>(store: S) {
    let a = store.create_account("amethyst", "h", 1).await.unwrap();
    let b = store.create_account("spike", "h", 1).await.unwrap();
    store
        .create_invite("ABCDEFGH", a.id, 1, 1_000)
        .await
        .unwrap();
    let bond = store
        .accept_invite("ABCDEFGH", b.id, Profile::Story, TierSet::always(), 2)
        .await
        .unwrap();

    let image = ImageRecord {
        id: ImageId::new(),
        bond: bond.id,
        sender: a.id,
        client_id: "sky".into(),
        original_type: "image/jpeg".into(),
        stripped_type: "image/jpeg".into(),
        width: 4032,
        height: 3024,
        original_size: 4_167_727,
        sent_at: 10,
        seen_strength: 0.1,
        sealed: false,
    };
    store.insert_image(&image).await.unwrap();
    let again = ImageRecord {
        id: ImageId::new(),
        ..image.clone()
    };
    assert!(matches!(
        store.insert_image(&again).await,
        Err(StoreError::Conflict(Conflict::ImageIdReused))
    ));
    assert_eq!(store.image(image.id).await.unwrap(), Some(image.clone()));
    assert_eq!(
        store.image_by_client_id(a.id, "sky").await.unwrap(),
        Some(image.clone())
    );
    assert_eq!(store.image_by_client_id(b.id, "sky").await.unwrap(), None);
    assert_eq!(
        store.images_of_bond(bond.id, 10).await.unwrap(),
        vec![image.clone()]
    );
    // A private bond's picture reads back sealed (without it, the server would serve
    // its sealed files as a picture's bytes, or cut renditions of them).
    let sealed = ImageRecord {
        id: ImageId::new(),
        client_id: "sealed sky".into(),
        width: 4032,
        height: 4032,
        sealed: true,
        // Not counted in the quota sums checked below.
        original_size: 0,
        ..image.clone()
    };
    store.insert_image(&sealed).await.unwrap();
    assert_eq!(store.image(sealed.id).await.unwrap(), Some(sealed.clone()));
    // Only ever raised.
    assert_eq!(store.raise_seen_strength(image.id, 0.3).await.unwrap(), 0.3);
    assert_eq!(store.raise_seen_strength(image.id, 0.2).await.unwrap(), 0.3);
    assert!(matches!(
        store.raise_seen_strength(ImageId::new(), 0.5).await,
        Err(StoreError::NotFound(Missing::Image))
    ));

    // Camera consent: off until turned on.
    assert!(!store.camera_allowed(b.id).await.unwrap());
    store.set_camera_allowed(b.id, true, 5).await.unwrap();
    assert!(store.camera_allowed(b.id).await.unwrap());
    store.set_camera_allowed(b.id, false, 6).await.unwrap();
    assert!(!store.camera_allowed(b.id).await.unwrap());

    // Memories: private, then opened to the bond, and what opened stays.
    let memory = |client_id: &str, at: i64| MemoryRecord {
        id: Uuid::now_v7(),
        account: a.id,
        client_id: client_id.into(),
        body: Some(client_id.into()),
        photo_type: None,
        photo_size: 0,
        created_at: at,
        shared: None,
        sealed_in: None,
    };
    let first = memory("first", 20);
    store.insert_memory(&first).await.unwrap();
    assert!(matches!(
        store.insert_memory(&memory("first", 21)).await,
        Err(StoreError::Conflict(Conflict::MemoryIdReused))
    ));
    assert!(
        store
            .memories_of(a.id, Some(bond.id))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.open_memories(a.id, bond.id, 30).await.unwrap(), 1);
    store.insert_memory(&memory("second", 40)).await.unwrap();
    let shared = store.memories_of(a.id, Some(bond.id)).await.unwrap();
    assert_eq!(shared.len(), 1);
    assert_eq!(shared[0].shared, Some((bond.id, 30)));
    let all = store.memories_of(a.id, None).await.unwrap();
    assert_eq!(
        all.iter().map(|m| m.client_id.as_str()).collect::<Vec<_>>(),
        ["first", "second"]
    );
    assert_eq!(
        store
            .memory_by_client_id(a.id, "second")
            .await
            .unwrap()
            .map(|m| m.shared),
        Some(None)
    );
    assert_eq!(
        store.memory(first.id).await.unwrap().unwrap().client_id,
        "first"
    );

    // What each has uploaded, for the picture quota: the image as sent, and a journal
    // photo's upload; words cost nothing.
    let photo = MemoryRecord {
        photo_type: Some("image/jpeg".into()),
        photo_size: 123_456,
        ..memory("photo", 50)
    };
    store.insert_memory(&photo).await.unwrap();
    assert_eq!(
        store.memory(photo.id).await.unwrap().unwrap().photo_size,
        123_456
    );
    assert_eq!(
        store.picture_bytes(a.id).await.unwrap(),
        4_167_727 + 123_456
    );
    assert_eq!(store.picture_bytes(b.id).await.unwrap(), 0);

    // An entry sealed in a private bond opens to that bond only: another bond's partner
    // could not open it.
    let here = MemoryRecord {
        sealed_in: Some(bond.id),
        ..memory("sealed here", 60)
    };
    let elsewhere = MemoryRecord {
        sealed_in: Some(BondId(Uuid::now_v7())),
        ..memory("sealed elsewhere", 61)
    };
    store.insert_memory(&here).await.unwrap();
    store.insert_memory(&elsewhere).await.unwrap();
    assert_eq!(store.open_memories(a.id, bond.id, 70).await.unwrap(), 3);
    let kept = store.memory(here.id).await.unwrap().unwrap();
    assert_eq!(
        (kept.sealed_in, kept.shared),
        (Some(bond.id), Some((bond.id, 70)))
    );
    let kept = store.memory(elsewhere.id).await.unwrap().unwrap();
    assert_eq!((kept.sealed_in, kept.shared), (elsewhere.sealed_in, None));
}
