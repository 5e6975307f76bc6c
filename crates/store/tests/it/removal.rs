//! Removing a person with everything they own (`Store::remove_account`), on SQLite and on
//! PostgreSQL: a person with a row in every table is removed, and then no column of any
//! table (found from the database's own catalogue, so a table added later is checked too)
//! holds their id, while their partner's and others' own data stays.

use haurach_bond::{Fix, Profile, TierSet};
use haurach_proto::{Decision, GateBook, GateMode, MessageKind};
use haurach_store::city::{LetterLimits, NewArrival, NewLetter, ParcelRecord, Sent};
use haurach_store::{
    AccountId, Conflict, ImageId, ImageRecord, MemoryRecord, Missing, NewMessage, PinRecord,
    PlaceRecord, PositionRecord, Postgres, PushSubscriptionRecord, Sqlite, Store, StoreError,
    Waiting,
};
use haurach_testkit::{PgCluster, or_skip};
use uuid::Uuid;

#[tokio::test]
async fn sqlite_leaves_nothing_of_a_removed_person() {
    let dir = tempfile::tempdir().unwrap();
    let store = Sqlite::open(dir.path()).await.unwrap();
    let url = format!("sqlite://{}", dir.path().join("haurach.db").display());
    let db = sqlx::SqlitePool::connect(&url).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    let mut columns = Vec::new();
    for table in tables {
        let names: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info(?)")
            .bind(&table)
            .fetch_all(&db)
            .await
            .unwrap();
        columns.extend(names.into_iter().map(|c| (table.clone(), c)));
    }
    story(store, |id| {
        let db = db.clone();
        let columns = columns.clone();
        holding(columns, id, move |sql| {
            let db = db.clone();
            async move {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(&db)
                    .await
                    .unwrap()
            }
        })
    })
    .await;
}

#[tokio::test]
async fn postgres_leaves_nothing_of_a_removed_person() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    let store = Postgres::connect(&pg.url()).await.unwrap();
    let db = sqlx::PgPool::connect(&pg.url()).await.unwrap();
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%'",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    story(store, |id| {
        let db = db.clone();
        let columns = columns.clone();
        holding(columns, id, move |sql| {
            let db = db.clone();
            async move {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(&db)
                    .await
                    .unwrap()
            }
        })
    })
    .await;
}

/// `table.column` for each of `columns` that holds `id` anywhere, `count` running each
/// `SELECT COUNT(*)` (the text is the same on SQLite and PostgreSQL).
async fn holding<F, Fut>(columns: Vec<(String, String)>, id: AccountId, count: F) -> Vec<String>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = i64>,
{
    let mut found = Vec::new();
    for (table, column) in columns {
        let sql = format!(
            "SELECT COUNT(*) FROM {table} WHERE CAST({column} AS TEXT) = '{id}'",
            id = id.0
        );
        if count(sql).await > 0 {
            found.push(format!("{table}.{column}"));
        }
    }
    found
}

fn arrival(name: &str, mode: GateMode, invite: Option<&str>, now_ms: i64) -> NewArrival {
    NewArrival {
        name: name.into(),
        password_hash: format!("hash-{name}"),
        book: GateBook::default(),
        invite: invite.map(str::to_owned),
        mode,
        now_ms,
    }
}

fn letter(sender: AccountId, to: &str, hash: Option<&str>, now_ms: i64) -> NewLetter {
    NewLetter {
        sender,
        to: Some(to.into()),
        body: format!("from {to}'s friend"),
        parcels: hash
            .map(|h| ParcelRecord {
                name: "map.gpx".into(),
                hash: h.into(),
                size: 0,
            })
            .into_iter()
            .collect(),
        in_reply_to: None,
        client_id: None,
        now_ms,
    }
}

fn message(bond: haurach_store::BondId, sender: AccountId, tag: &str) -> NewMessage {
    NewMessage {
        bond,
        sender,
        client_id: tag.into(),
        kind: MessageKind::Voice,
        body: Some(tag.into()),
        feeling: None,
        sent_at: 10,
    }
}

fn at(lat: f64, at_ms: i64) -> PositionRecord {
    PositionRecord {
        fix: Fix {
            lat,
            lon: 13.0,
            accuracy_m: 5.0,
            at_ms,
        },
        received_at: at_ms,
    }
}

const LIMITS: LetterLimits = LetterLimits {
    max_parcel_bytes: 1_000,
    letters_per_day: 50,
};

/// The story: `holding(id)` lists the `table.column`s that still hold `id`.
async fn story<S, F, Fut>(store: S, holding: F)
where
    S: Store,
    F: Fn(AccountId) -> Fut,
    Fut: std::future::Future<Output = Vec<String>>,
{
    let tower = store.create_tower("luna", "h", 1).await.unwrap().account.id;
    // Amethyst is a tower too, so she has made gate invites and decided applications.
    let amethyst = store
        .create_tower("amethyst", "h", 2)
        .await
        .unwrap()
        .account
        .id;
    let spike = store
        .arrive(arrival("spike", GateMode::Open, None, 3))
        .await
        .unwrap()
        .account
        .id;
    store
        .create_gate_invite("GATECODE", amethyst, 4, 1_000_000)
        .await
        .unwrap();
    let celestia = store
        .arrive(arrival("celestia", GateMode::Invite, Some("GATECODE"), 5))
        .await
        .unwrap()
        .account
        .id;
    store
        .create_gate_invite("SPARECOD", amethyst, 4, 1_000_000)
        .await
        .unwrap();
    let dawn = store
        .arrive(arrival("dawn", GateMode::Application, None, 6))
        .await
        .unwrap()
        .account
        .id;
    store
        .decide("dawn", Decision::Approved, "welcome", amethyst, 7)
        .await
        .unwrap();
    store
        .create_session(b"amethyst-1", amethyst, 8)
        .await
        .unwrap();
    store
        .create_session(b"amethyst-2", amethyst, 8)
        .await
        .unwrap();
    store.revoke_session(b"amethyst-2", 9).await.unwrap();
    store.create_session(b"spike-1", spike, 8).await.unwrap();

    // An ended bond with dawn, then the live one with spike; and an invite left over.
    store
        .create_invite("DAWNDAWN", dawn, 10, 1_000_000)
        .await
        .unwrap();
    let old = store
        .accept_invite("DAWNDAWN", amethyst, Profile::Story, TierSet::always(), 11)
        .await
        .unwrap();
    store
        .append_message(message(old.id, dawn, "dawn-hello"))
        .await
        .unwrap();
    store.end_bond(old.id, 12).await.unwrap();
    store
        .create_invite("SPIKESPI", spike, 13, 1_000_000)
        .await
        .unwrap();
    let bond = store
        .accept_invite("SPIKESPI", amethyst, Profile::Story, TierSet::always(), 14)
        .await
        .unwrap();
    store
        .create_invite("LEFTOVER", amethyst, 15, 1_000_000)
        .await
        .unwrap();
    store
        .append_message(message(bond.id, amethyst, "amethyst-hello"))
        .await
        .unwrap();
    store
        .append_message(message(bond.id, spike, "spike-hello"))
        .await
        .unwrap();

    store
        .save_positions_and_journey(
            &[(amethyst, at(52.0, 20), true), (spike, at(52.1, 20), true)],
            Waiting::Nobody,
        )
        .await
        .unwrap();
    let place = |name: &str| PlaceRecord {
        name: name.into(),
        lat: 52.0,
        lon: 13.0,
        radius_m: 50.0,
        inside: false,
        updated_at: 21,
    };
    store.put_places(amethyst, &[place("home")]).await.unwrap();
    store.put_places(spike, &[place("library")]).await.unwrap();
    store
        .set_pin(
            bond.id,
            Some(&PinRecord {
                name: Some("fountain".into()),
                lat: 52.05,
                lon: 13.0,
                pinned_by: amethyst,
                pinned_at: 22,
                reached: [false, false],
            }),
        )
        .await
        .unwrap();

    let image = |sender: AccountId, tag: &str| ImageRecord {
        id: ImageId::new(),
        bond: bond.id,
        sender,
        client_id: tag.into(),
        original_type: "image/jpeg".into(),
        stripped_type: "image/jpeg".into(),
        width: 10,
        height: 10,
        original_size: 100,
        sent_at: 23,
        seen_strength: 0.1,
        sealed: false,
    };
    let hers = image(amethyst, "sky");
    let his = image(spike, "sea");
    store.insert_image(&hers).await.unwrap();
    store.insert_image(&his).await.unwrap();
    store.set_camera_allowed(amethyst, true, 24).await.unwrap();
    let pause = haurach_store::PauseRecord {
        account: amethyst,
        since_ms: 24,
        until_ms: None,
    };
    store.set_pause(&pause).await.unwrap();
    for (account, device) in [(amethyst, "amethyst-phone"), (spike, "spike-phone")] {
        let sub = PushSubscriptionRecord {
            account,
            endpoint: format!("https://push.example/{device}"),
            p256dh: "key".into(),
            auth: "secret".into(),
            created_at: 5,
        };
        store.save_push_subscription(&sub, 10).await.unwrap();
    }
    let memory = |account: AccountId, photo: bool| MemoryRecord {
        id: Uuid::now_v7(),
        account,
        client_id: "m".into(),
        body: Some("a day".into()),
        photo_type: photo.then(|| "image/jpeg".into()),
        photo_size: if photo { 100 } else { 0 },
        created_at: 25,
        shared: None,
        sealed_in: None,
    };
    let photo = memory(amethyst, true);
    let spikes_entry = memory(spike, false);
    store.insert_memory(&photo).await.unwrap();
    store.insert_memory(&spikes_entry).await.unwrap();
    store.open_memories(spike, bond.id, 26).await.unwrap();
    store.open_memories(amethyst, bond.id, 26).await.unwrap();

    let (only_hers, shared) = ("a".repeat(64), "b".repeat(64));
    store
        .record_upload(amethyst, &only_hers, 10, 1_000, 27)
        .await
        .unwrap();
    store
        .record_upload(amethyst, &shared, 10, 1_000, 27)
        .await
        .unwrap();
    store
        .record_upload(celestia, &shared, 10, 1_000, 27)
        .await
        .unwrap();
    let to_spike = store
        .send_letter(letter(amethyst, "spike", Some(&only_hers), 28), LIMITS)
        .await
        .unwrap();
    let Sent::New(to_spike) = to_spike else {
        panic!("a new letter")
    };
    store
        .mark_delivered(spike, &[to_spike.id], 29)
        .await
        .unwrap();
    store
        .send_letter(letter(celestia, "amethyst", Some(&shared), 30), LIMITS)
        .await
        .unwrap();
    let between_others = store
        .send_letter(letter(celestia, "spike", None, 31), LIMITS)
        .await
        .unwrap();
    let Sent::New(between_others) = between_others else {
        panic!("a new letter")
    };

    store
        .set_summon_permission(spike, "amethyst", true, 32)
        .await
        .unwrap();
    store
        .set_summon_permission(amethyst, "spike", true, 32)
        .await
        .unwrap();
    store
        .summon(amethyst, "spike", 52.0, 13.0, 5.0, 33)
        .await
        .unwrap();

    assert!(
        !holding(amethyst).await.is_empty(),
        "the story gave amethyst rows"
    );

    let removed = store.remove_account(amethyst).await.unwrap();

    assert_eq!(
        holding(amethyst).await,
        Vec::<String>::new(),
        "columns still holding the removed person's id"
    );
    assert_eq!(store.account_by_name("amethyst").await.unwrap(), None);
    assert_eq!(removed.sessions, vec![b"amethyst-1".to_vec()]);
    let mut images = removed.images.clone();
    images.sort();
    let mut expected = vec![hers.id.0, his.id.0];
    expected.sort();
    assert_eq!(images, expected, "every picture of her bonds goes");
    assert_eq!(removed.photos, vec![photo.id]);
    assert_eq!(
        removed.parcels,
        vec![only_hers],
        "a parcel someone else uploaded stays"
    );

    // The partner: unbonded, with their own session, places, position, journey and
    // journal entry (no longer shared with a bond that is gone).
    assert_eq!(store.bond_of(spike).await.unwrap(), None);
    assert_eq!(
        store.session_account(b"spike-1").await.unwrap(),
        Some(spike)
    );
    assert_eq!(store.places(spike).await.unwrap().len(), 1);
    assert!(store.position(spike).await.unwrap().is_some());
    assert_eq!(store.journey(spike, 0, 100, 10).await.unwrap().len(), 1);
    let entry = store.memory(spikes_entry.id).await.unwrap().unwrap();
    assert_eq!(entry.shared, None);
    // Letters between others stay; hers (delivered or not) are gone.
    assert!(
        store
            .letter(between_others.id, spike)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.letter(to_spike.id, spike).await.unwrap(), None);
    // Celestia and dawn keep their pages of the book, without naming her.
    let page = store.arrival(celestia).await.unwrap().unwrap();
    assert_eq!(page.invited_by, None);
    let page = store.arrival(dawn).await.unwrap().unwrap();
    assert_eq!(page.decision, Some(Decision::Approved));
    assert_eq!(page.decided_by, None);
    // Spike can bond again.
    store
        .create_invite("CELESTIA", celestia, 40, 1_000_000)
        .await
        .unwrap();
    store
        .accept_invite("CELESTIA", spike, Profile::Story, TierSet::always(), 41)
        .await
        .unwrap();

    // Once more: nobody. And the last tower stays.
    assert!(matches!(
        store.remove_account(amethyst).await,
        Err(StoreError::NotFound(Missing::Citizen))
    ));
    assert!(matches!(
        store.remove_account(tower).await,
        Err(StoreError::Conflict(Conflict::LastTower))
    ));
    assert!(store.account(tower).await.unwrap().is_some());
}

/// The message journal keeps a segment until all of it is stored, so after a removal it
/// may still hold the removed bond's messages: reopening must neither bring them back
/// nor fail on a bond that is gone.
#[tokio::test]
async fn sqlite_reopens_without_the_journalled_messages_of_a_removed_bond() {
    let dir = tempfile::tempdir().unwrap();
    let spike = {
        let store = Sqlite::open(dir.path()).await.unwrap();
        let amethyst = store.create_account("amethyst", "h", 1).await.unwrap().id;
        let spike = store.create_account("spike", "h", 1).await.unwrap().id;
        store
            .create_invite("SPIKESPI", spike, 2, 1_000_000)
            .await
            .unwrap();
        let bond = store
            .accept_invite("SPIKESPI", amethyst, Profile::Story, TierSet::always(), 3)
            .await
            .unwrap();
        store
            .append_message(message(bond.id, amethyst, "hello"))
            .await
            .unwrap();
        store
            .append_message(message(bond.id, spike, "hello back"))
            .await
            .unwrap();
        store.remove_account(amethyst).await.unwrap();
        spike
    };
    let store = Sqlite::open(dir.path()).await.unwrap();
    assert_eq!(store.bond_of(spike).await.unwrap(), None);
    assert_eq!(
        store
            .message_by_client_id(spike, "hello back")
            .await
            .unwrap(),
        None
    );
}
