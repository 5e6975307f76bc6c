//! The conformance suite of `PrivateBondStore` (issue 20): the same story on SQLite and
//! on PostgreSQL. A private invite is found by its lookup hash and used once, the bond
//! keeps both public keys and relays the confirmation tags, nothing positional of either
//! person survives the bond's making, each partner's latest sealed position is kept
//! until the bond ends, and a plain bond has no keys.

use haurach_bond::{Fix, Profile, TierSet};
use haurach_store::{
    Conflict, Missing, PlaceRecord, PositionRecord, Postgres, Sqlite, Store, StoreError,
};
use haurach_testkit::{PgCluster, or_skip};

#[tokio::test]
async fn sqlite_makes_a_private_bond_and_relays_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    conformance(Sqlite::open(dir.path()).await.unwrap()).await;
}

#[tokio::test]
async fn postgres_makes_a_private_bond_and_relays_its_keys() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    conformance(Postgres::connect(&pg.url()).await.unwrap()).await;
}

#[tokio::test]
async fn sqlite_keeps_no_place_for_a_private_bond() {
    let dir = tempfile::tempdir().unwrap();
    places_go(Sqlite::open(dir.path()).await.unwrap()).await;
}

#[tokio::test]
async fn postgres_keeps_no_place_for_a_private_bond() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    places_go(Postgres::connect(&pg.url()).await.unwrap()).await;
}

fn place(name: &str) -> PlaceRecord {
    PlaceRecord {
        name: name.into(),
        lat: 46.2,
        lon: 7.3,
        radius_m: 100.0,
        inside: false,
        updated_at: 1,
    }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|n| (*n).to_owned()).collect()
}

/// A private bond keeps no place on the server: the places of whoever turns private go
/// in the same transaction as the invite or the bond, and only once their device says it
/// keeps every one; a refusal changes nothing.
async fn places_go<S: Store>(store: S) {
    let a = store.create_account("amethyst", "h", 1).await.unwrap();
    let b = store.create_account("spike", "h", 1).await.unwrap();
    let none: &[&str] = &[];
    let left = async |who| {
        store
            .places(who)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect::<Vec<_>>()
    };
    store
        .put_places(a.id, &[place("Home"), place("work")])
        .await
        .unwrap();

    // One of the two not named: refused, and both places and no invite remain.
    let short = store
        .create_private_invite(&[1; 32], a.id, &[2; 32], &names(&["home"]), 10, 1_000)
        .await;
    assert!(matches!(
        short,
        Err(StoreError::Conflict(Conflict::PlacesStored))
    ));
    assert_eq!(left(a.id).await, ["Home", "work"]);
    assert!(!store.private_invite_waiting(a.id, 20).await.unwrap());

    // Both named, in any case: the invite is made and the places are gone with it.
    store
        .create_private_invite(
            &[1; 32],
            a.id,
            &[2; 32],
            &names(&["HOME", "Work"]),
            10,
            1_000,
        )
        .await
        .unwrap();
    assert_eq!(left(a.id).await, none);
    assert!(store.private_invite_waiting(a.id, 20).await.unwrap());
    assert!(!store.private_invite_waiting(a.id, 1_000).await.unwrap());

    // The accepter's own places go the same way.
    store.put_places(b.id, &[place("Den")]).await.unwrap();
    let short = store
        .accept_private_invite(
            &[1; 32],
            b.id,
            &[3; 32],
            &[],
            Profile::Story,
            TierSet::always(),
            20,
        )
        .await;
    assert!(matches!(
        short,
        Err(StoreError::Conflict(Conflict::PlacesStored))
    ));
    assert_eq!(left(b.id).await, ["Den"]);
    assert_eq!(store.bond_of(b.id).await.unwrap(), None);

    // A place the inviter made after the invite refuses the bond: it would be kept in
    // the clear, and only the inviter can move it.
    store.put_places(a.id, &[place("Later")]).await.unwrap();
    let theirs = store
        .accept_private_invite(
            &[1; 32],
            b.id,
            &[3; 32],
            &names(&["den"]),
            Profile::Story,
            TierSet::always(),
            20,
        )
        .await;
    assert!(matches!(
        theirs,
        Err(StoreError::Conflict(Conflict::PartnerPlacesStored))
    ));
    assert_eq!(left(b.id).await, ["Den"]);
    assert_eq!(left(a.id).await, ["Later"]);

    store.delete_place(a.id, "later").await.unwrap();
    let bond = store
        .accept_private_invite(
            &[1; 32],
            b.id,
            &[3; 32],
            &names(&["den"]),
            Profile::Story,
            TierSet::always(),
            20,
        )
        .await
        .unwrap();
    assert_eq!(bond.members, [a.id, b.id]);
    assert_eq!(left(a.id).await, none);
    assert_eq!(left(b.id).await, none);
    assert!(!store.private_invite_waiting(a.id, 20).await.unwrap());
}

async fn conformance<S: Store>(store: S) {
    let a = store.create_account("amethyst", "h", 1).await.unwrap();
    let b = store.create_account("spike", "h", 1).await.unwrap();
    let c = store.create_account("rarity", "h", 1).await.unwrap();
    let (lookup, key_a, key_b) = ([1; 32], [2; 32], [3; 32]);
    let where_before = PositionRecord {
        fix: Fix {
            lat: 46.1,
            lon: 7.2,
            accuracy_m: 5.0,
            at_ms: 5,
        },
        received_at: 5,
    };
    store
        .save_positions(&[(a.id, where_before), (b.id, where_before)])
        .await
        .unwrap();

    store
        .create_private_invite(&lookup, a.id, &key_a, &[], 10, 1_000)
        .await
        .unwrap();
    let again = store
        .create_private_invite(&lookup, c.id, &key_a, &[], 10, 1_000)
        .await;
    assert!(matches!(
        again,
        Err(StoreError::Conflict(Conflict::InviteCodeTaken))
    ));

    // The rules of a plain invite hold: unknown, own, expired.
    let unknown = store
        .accept_private_invite(
            &[9; 32],
            b.id,
            &key_b,
            &[],
            Profile::Story,
            TierSet::always(),
            20,
        )
        .await;
    assert!(matches!(
        unknown,
        Err(StoreError::NotFound(Missing::Invite))
    ));
    let own = store
        .accept_private_invite(
            &lookup,
            a.id,
            &key_b,
            &[],
            Profile::Story,
            TierSet::always(),
            20,
        )
        .await;
    assert!(matches!(
        own,
        Err(StoreError::Conflict(Conflict::OwnInvite))
    ));
    let late = store
        .accept_private_invite(
            &lookup,
            b.id,
            &key_b,
            &[],
            Profile::Story,
            TierSet::always(),
            1_000,
        )
        .await;
    assert!(matches!(
        late,
        Err(StoreError::NotFound(Missing::InviteExpired))
    ));

    let bond = store
        .accept_private_invite(
            &lookup,
            b.id,
            &key_b,
            &[],
            Profile::Story,
            TierSet::always(),
            20,
        )
        .await
        .unwrap();
    assert_eq!(bond.members, [a.id, b.id]);
    assert_eq!(store.bond_of(b.id).await.unwrap(), Some(bond.clone()));
    let keys = store.private_keys(bond.id).await.unwrap().unwrap();
    assert_eq!(keys.public_keys, [key_a, key_b]);
    assert_eq!(keys.tags, [None, None]);
    // Where they were before is gone with the bond's making.
    assert_eq!(store.position(a.id).await.unwrap(), None);
    assert_eq!(store.position(b.id).await.unwrap(), None);
    // Used once.
    let twice = store
        .accept_private_invite(
            &lookup,
            c.id,
            &[4; 32],
            &[],
            Profile::Story,
            TierSet::always(),
            30,
        )
        .await;
    assert!(matches!(twice, Err(StoreError::NotFound(Missing::Invite))));

    assert!(store.set_confirmation(bond.id, 1, &[5; 32]).await.unwrap());
    assert!(store.set_confirmation(bond.id, 0, &[6; 32]).await.unwrap());
    assert!(store.set_confirmation(bond.id, 0, &[7; 32]).await.unwrap());
    let keys = store.private_keys(bond.id).await.unwrap().unwrap();
    assert_eq!(keys.tags, [Some([7; 32]), Some([5; 32])]);

    // Each partner's latest sealed position, the newer in place of the older.
    assert_eq!(store.sealed_fix(bond.id, a.id).await.unwrap(), None);
    store
        .save_sealed_fix(bond.id, a.id, "AAAA-first", 40)
        .await
        .unwrap();
    store
        .save_sealed_fix(bond.id, b.id, "BBBB", 41)
        .await
        .unwrap();
    store
        .save_sealed_fix(bond.id, a.id, "AAAA-second", 42)
        .await
        .unwrap();
    let kept = store.sealed_fix(bond.id, a.id).await.unwrap().unwrap();
    assert_eq!(
        (kept.sealed.as_str(), kept.received_at),
        ("AAAA-second", 42)
    );
    let kept = store.sealed_fix(bond.id, b.id).await.unwrap().unwrap();
    assert_eq!((kept.sealed.as_str(), kept.received_at), ("BBBB", 41));

    // A plain bond has no keys, and takes no tag.
    let d = store.create_account("fluttershy", "h", 1).await.unwrap();
    store
        .create_invite("ABCDEFGH", c.id, 1, 1_000)
        .await
        .unwrap();
    let plain = store
        .accept_invite("ABCDEFGH", d.id, Profile::City, TierSet::always(), 2)
        .await
        .unwrap();
    assert_eq!(store.private_keys(plain.id).await.unwrap(), None);
    assert!(!store.set_confirmation(plain.id, 0, &[1; 32]).await.unwrap());

    // A person removed takes their private invites and bonds' keys along.
    let e = store.create_account("pinkie", "h", 1).await.unwrap();
    store
        .create_private_invite(&[8; 32], e.id, &key_a, &[], 10, 1_000)
        .await
        .unwrap();
    store.remove_account(e.id).await.unwrap();
    store.remove_account(a.id).await.unwrap();
    assert_eq!(store.private_keys(bond.id).await.unwrap(), None);
    assert_eq!(store.sealed_fix(bond.id, b.id).await.unwrap(), None);
}

#[tokio::test]
async fn sqlite_forgets_sealed_positions_when_the_bond_ends() {
    let dir = tempfile::tempdir().unwrap();
    ending(Sqlite::open(dir.path()).await.unwrap()).await;
}

#[tokio::test]
async fn postgres_forgets_sealed_positions_when_the_bond_ends() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    ending(Postgres::connect(&pg.url()).await.unwrap()).await;
}

/// Ending a private bond deletes both partners' sealed positions: they were sealed under
/// its key, for it.
async fn ending<S: Store>(store: S) {
    let a = store.create_account("amethyst", "h", 1).await.unwrap();
    let b = store.create_account("spike", "h", 1).await.unwrap();
    store
        .create_private_invite(&[1; 32], a.id, &[2; 32], &[], 10, 1_000)
        .await
        .unwrap();
    let bond = store
        .accept_private_invite(
            &[1; 32],
            b.id,
            &[3; 32],
            &[],
            Profile::Story,
            TierSet::always(),
            20,
        )
        .await
        .unwrap();
    store
        .save_sealed_fix(bond.id, a.id, "AAAA", 30)
        .await
        .unwrap();
    store
        .save_sealed_fix(bond.id, b.id, "BBBB", 31)
        .await
        .unwrap();
    assert!(store.end_bond(bond.id, 40).await.unwrap());
    assert_eq!(store.sealed_fix(bond.id, a.id).await.unwrap(), None);
    assert_eq!(store.sealed_fix(bond.id, b.id).await.unwrap(), None);
}
