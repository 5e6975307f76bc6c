//! The store's conformance suite: one scripted story every backend must pass. A new
//! backend adds one `#[tokio::test]` that opens it and calls [`conformance`].

use haurach_bond::{Fix, Profile, Tier, TierSet};
use haurach_proto::{Feeling, MessageKind};
use haurach_store::{
    AccountId, Appended, Conflict, Missing, NewMessage, PositionRecord, Postgres, Sqlite, Store,
    StoreError,
};
use haurach_testkit::{PgCluster, or_skip};

#[tokio::test]
async fn sqlite_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Sqlite::open(dir.path()).await.unwrap();
    conformance(store).await;
}

#[tokio::test]
async fn postgres_passes_the_conformance_suite() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    let store = Postgres::connect(&pg.url()).await.unwrap();
    conformance(store).await;
}

/// Two nodes (two pools) appending to one bond at once: every message is stored once, and
/// the sequence a reader resumes from has no holes and no repeats.
#[tokio::test]
async fn postgres_keeps_one_bonds_messages_in_order_across_nodes() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    let node1 = Postgres::connect(&pg.url()).await.unwrap();
    let node2 = Postgres::connect(&pg.url()).await.unwrap();
    let a = node1.create_account("spike", "h", 1).await.unwrap();
    let b = node1.create_account("amethyst", "h", 1).await.unwrap();
    node1
        .create_invite("ABCDEFGH", a.id, 1, 1_000)
        .await
        .unwrap();
    let bond = node2
        .accept_invite("ABCDEFGH", b.id, Profile::City, TierSet::always(), 2)
        .await
        .unwrap();
    let send = |store: Postgres, who: AccountId, tag: &'static str| async move {
        let mut links = Vec::new();
        for i in 0..100 {
            let batch = (0..3)
                .map(|j| NewMessage {
                    bond: bond.id,
                    sender: who,
                    client_id: format!("{tag}-{i}-{j}"),
                    kind: MessageKind::Voice,
                    body: Some(format!("{tag} {i} {j}")),
                    feeling: None,
                    sent_at: 10,
                })
                .collect();
            for appended in store.append_messages(batch).await.unwrap() {
                match appended {
                    Appended::New(m, before) => links.push((before, m.seq)),
                    other => panic!("{other:?}"),
                }
            }
        }
        links
    };
    let (from_a, from_b) = tokio::join!(
        send(node1.clone(), a.id, "a"),
        send(node2.clone(), b.id, "b")
    );
    let stored = node1.messages_after(bond.id, 0, 1_000).await.unwrap();
    assert_eq!(stored.len(), 600, "every message stored exactly once");
    assert!(stored.windows(2).all(|w| w[0].seq < w[1].seq));
    // Each new message named the one stored before it in the bond, whichever node stored
    // that: a node receiving them live can tell an unbroken run from a gap.
    let mut links: Vec<_> = from_a.into_iter().chain(from_b).collect();
    links.sort_by_key(|l| l.1);
    let expected: Vec<_> = std::iter::once(Some(0))
        .chain(stored.iter().map(|m| Some(m.seq)))
        .zip(stored.iter().map(|m| m.seq))
        .collect();
    assert_eq!(links, expected);
    // Resuming from any point gives exactly the rest.
    let middle = stored[299].seq;
    let rest = node2.messages_after(bond.id, middle, 1_000).await.unwrap();
    assert_eq!(rest.len(), 300);
}

/// Two nodes accepting two different codes of one inviter at the same moment: exactly one
/// bond is made.
#[tokio::test]
async fn postgres_makes_one_bond_when_two_nodes_race_for_one_person() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    let node1 = Postgres::connect(&pg.url()).await.unwrap();
    let node2 = Postgres::connect(&pg.url()).await.unwrap();
    let a = node1.create_account("spike", "h", 1).await.unwrap();
    let b = node1.create_account("amethyst", "h", 1).await.unwrap();
    let c = node1.create_account("garnet", "h", 1).await.unwrap();
    node1
        .create_invite("AAAAAAAA", a.id, 1, 1_000)
        .await
        .unwrap();
    node1
        .create_invite("BBBBBBBB", a.id, 1, 1_000)
        .await
        .unwrap();
    let (r1, r2) = tokio::join!(
        node1.accept_invite("AAAAAAAA", b.id, Profile::City, TierSet::always(), 2),
        node2.accept_invite("BBBBBBBB", c.id, Profile::City, TierSet::always(), 2),
    );
    assert_eq!(
        r1.is_ok() as u8 + r2.is_ok() as u8,
        1,
        "exactly one acceptance wins: {r1:?} {r2:?}"
    );
    let loser = if r1.is_ok() { r2 } else { r1 };
    assert!(
        matches!(
            loser,
            Err(StoreError::Conflict(Conflict::PartnerBonded))
                | Err(StoreError::NotFound(Missing::Invite))
        ),
        "{loser:?}"
    );
    let bond = node2.bond_of(a.id).await.unwrap().unwrap();
    let partner = bond.members[1];
    assert!(partner == b.id || partner == c.id);
    let other = if partner == b.id { c.id } else { b.id };
    assert!(node1.bond_of(other).await.unwrap().is_none());
}

#[tokio::test]
async fn sqlite_reopens_with_everything_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let (a, bond_id) = {
        let store = Sqlite::open(dir.path()).await.unwrap();
        let (a, bond) = spike_bonds_amethyst(&store).await;
        store
            .save_positions(&[(a.id, position(30.0, 31.0, 5))])
            .await
            .unwrap();
        append(&store, bond.id, a.id, "m1", "hello").await;
        (a.id, bond.id)
    };
    let store = Sqlite::open(dir.path()).await.unwrap();
    let bond = store.bond_of(a).await.unwrap().expect("the bond survives");
    assert_eq!(bond.id, bond_id);
    assert_eq!(bond.profile, Profile::City);
    assert_eq!(store.position(a).await.unwrap().unwrap().fix.lat, 30.0);
    let messages = store.messages_after(bond.id, 0, 10).await.unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body.as_deref(), Some("hello"));
}

#[tokio::test]
async fn sqlite_keeps_acknowledged_messages_its_database_had_not_stored_yet_across_a_crash() {
    // Messages are acknowledged once in the journal; SQLite gets them a moment later. A
    // crash in that moment leaves the database without them: this builds that state on
    // disk (the database as it was before the messages, the journal as it is after) and
    // starts from it.
    let dir = tempfile::tempdir().unwrap();
    let crashed = tempfile::tempdir().unwrap();
    let store = Sqlite::open(dir.path()).await.unwrap();
    let (a, bond) = spike_bonds_amethyst(&store).await;
    for file in ["haurach.db", "haurach.db-wal"] {
        std::fs::copy(dir.path().join(file), crashed.path().join(file)).unwrap();
    }
    let message = |id: &str, body: &str| NewMessage {
        bond: bond.id,
        sender: a.id,
        client_id: id.into(),
        kind: MessageKind::Voice,
        body: Some(body.into()),
        feeling: None,
        sent_at: 10,
    };
    let acknowledged = store
        .append_messages(vec![
            message("m1", "one"),
            message("m2", "two"),
            message("m3", "three"),
        ])
        .await
        .unwrap();
    std::fs::create_dir(crashed.path().join("journal")).unwrap();
    for entry in std::fs::read_dir(dir.path().join("journal")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "log") {
            std::fs::copy(
                &path,
                crashed
                    .path()
                    .join("journal")
                    .join(path.file_name().unwrap()),
            )
            .unwrap();
        }
    }
    drop(store);

    let store = Sqlite::open(crashed.path()).await.unwrap();
    let stored = store.messages_after(bond.id, 0, 10).await.unwrap();
    let bodies: Vec<&str> = stored.iter().filter_map(|m| m.body.as_deref()).collect();
    assert_eq!(
        bodies,
        ["one", "two", "three"],
        "every acknowledged message is back"
    );
    let seqs: Vec<i64> = acknowledged.iter().map(c_seq).collect();
    assert_eq!(
        stored.iter().map(|m| m.seq).collect::<Vec<_>>(),
        seqs,
        "under its number"
    );
    // A retry still finds its message, and numbering goes on after them.
    match append(&store, bond.id, a.id, "m2", "two").await {
        Appended::Existing(m) => assert_eq!(m.seq, seqs[1]),
        other => panic!("{other:?}"),
    }
    match append(&store, bond.id, a.id, "m4", "four").await {
        Appended::New(m, _) => assert_eq!(m.seq, seqs[2] + 1),
        other => panic!("{other:?}"),
    }
    // Started again, nothing is doubled.
    drop(store);
    let store = Sqlite::open(crashed.path()).await.unwrap();
    assert_eq!(store.messages_after(bond.id, 0, 10).await.unwrap().len(), 4);
}

/// Spike invites Amethyst and she accepts (the city profile); Spike and the bond.
async fn spike_bonds_amethyst<S: Store>(
    store: &S,
) -> (haurach_store::AccountRecord, haurach_store::BondRecord) {
    let a = store.create_account("spike", "h", 1).await.unwrap();
    let b = store.create_account("amethyst", "h", 1).await.unwrap();
    store
        .create_invite("ABCDEFGH", a.id, 1, 1_000)
        .await
        .unwrap();
    let bond = store
        .accept_invite("ABCDEFGH", b.id, Profile::City, TierSet::always(), 2)
        .await
        .unwrap();
    (a, bond)
}

fn position(lat: f64, lon: f64, at_ms: i64) -> PositionRecord {
    PositionRecord {
        fix: Fix {
            lat,
            lon,
            accuracy_m: 3.0,
            at_ms,
        },
        received_at: at_ms,
    }
}

async fn append<S: Store>(
    store: &S,
    bond: haurach_store::BondId,
    sender: AccountId,
    id: &str,
    body: &str,
) -> Appended {
    store
        .append_message(NewMessage {
            bond,
            sender,
            client_id: id.into(),
            kind: MessageKind::Voice,
            body: Some(body.into()),
            feeling: None,
            sent_at: 10,
        })
        .await
        .unwrap()
}

/// The story every store must tell the same way.
pub async fn conformance<S: Store>(store: S) {
    // Accounts: names are unique whatever their case, and found whatever the case.
    let spike = store.create_account("Spike", "hash-s", 1).await.unwrap();
    let amethyst = store.create_account("amethyst", "hash-a", 2).await.unwrap();
    let twilight = store.create_account("twilight", "hash-t", 3).await.unwrap();
    assert!(matches!(
        store.create_account("SPIKE", "x", 4).await,
        Err(StoreError::Conflict(Conflict::NameTaken))
    ));
    let found = store.account_by_name("spike").await.unwrap().unwrap();
    assert_eq!((found.id, found.name.as_str()), (spike.id, "Spike"));
    assert_eq!(
        store.account(amethyst.id).await.unwrap().unwrap().name,
        "amethyst"
    );
    assert!(store.account_by_name("nobody").await.unwrap().is_none());

    // Sessions: found by hash until revoked, revoked once.
    store.create_session(b"hash-1", spike.id, 5).await.unwrap();
    assert_eq!(
        store.session_account(b"hash-1").await.unwrap(),
        Some(spike.id)
    );
    assert!(store.revoke_session(b"hash-1", 6).await.unwrap());
    assert!(!store.revoke_session(b"hash-1", 7).await.unwrap());
    assert_eq!(store.session_account(b"hash-1").await.unwrap(), None);

    // The tower's view of someone's sessions: the live ones, oldest first; revoking them
    // all ends exactly those, and nobody else's.
    store.create_session(b"hash-3", spike.id, 9).await.unwrap();
    store.create_session(b"hash-2", spike.id, 8).await.unwrap();
    store
        .create_session(b"theirs", amethyst.id, 8)
        .await
        .unwrap();
    let live = store.sessions_of(spike.id).await.unwrap();
    let hashes: Vec<&[u8]> = live.iter().map(|s| s.token_hash.as_slice()).collect();
    assert_eq!(hashes, [b"hash-2".as_slice(), b"hash-3"]);
    assert_eq!(live[0].created_ms, 8);
    let mut revoked = store.revoke_sessions_of(spike.id, 10).await.unwrap();
    revoked.sort();
    assert_eq!(revoked, [b"hash-2".to_vec(), b"hash-3".to_vec()]);
    assert!(store.sessions_of(spike.id).await.unwrap().is_empty());
    assert!(
        store
            .revoke_sessions_of(spike.id, 11)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.session_account(b"theirs").await.unwrap(),
        Some(amethyst.id)
    );

    // A new password ends every session of its account, in the same transaction.
    store.create_session(b"hash-4", spike.id, 12).await.unwrap();
    let revoked = store.set_password(spike.id, "new-hash", 13).await.unwrap();
    assert_eq!(revoked, [b"hash-4".to_vec()]);
    assert_eq!(
        store
            .account(spike.id)
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        "new-hash"
    );
    assert_eq!(store.session_account(b"hash-4").await.unwrap(), None);
    assert!(matches!(
        store
            .set_password(AccountId(uuid::Uuid::now_v7()), "h", 14)
            .await,
        Err(StoreError::NotFound(Missing::Citizen))
    ));

    // Invites: expired, own, unknown, then a bond; one partner each.
    store
        .create_invite("EXPIRED1", spike.id, 10, 20)
        .await
        .unwrap();
    assert!(matches!(
        store
            .accept_invite(
                "EXPIRED1",
                amethyst.id,
                Profile::Story,
                TierSet::always(),
                20
            )
            .await,
        Err(StoreError::NotFound(Missing::InviteExpired))
    ));
    store
        .create_invite("SPIKE123", spike.id, 10, 1_000)
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_invite("SPIKE123", twilight.id, 10, 1_000)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .accept_invite("SPIKE123", spike.id, Profile::Story, TierSet::always(), 30)
            .await,
        Err(StoreError::Conflict(Conflict::OwnInvite))
    ));
    assert!(matches!(
        store
            .accept_invite(
                "NOSUCH12",
                amethyst.id,
                Profile::Story,
                TierSet::always(),
                30
            )
            .await,
        Err(StoreError::NotFound(Missing::Invite))
    ));
    store
        .create_invite("SPIKE456", spike.id, 10, 1_000)
        .await
        .unwrap();
    let bond = store
        .accept_invite(
            "SPIKE123",
            amethyst.id,
            Profile::Story,
            TierSet::always(),
            40,
        )
        .await
        .unwrap();
    assert_eq!(bond.members, [spike.id, amethyst.id]);
    assert_eq!(bond.names, ["Spike".to_string(), "amethyst".to_string()]);
    assert_eq!(bond.open_tiers, TierSet::always());
    assert_eq!(
        store.bond_of(amethyst.id).await.unwrap().unwrap().id,
        bond.id
    );
    // The inviter's other codes are retired with the bond: nobody else can use them.
    assert!(matches!(
        store
            .accept_invite(
                "SPIKE456",
                twilight.id,
                Profile::Story,
                TierSet::always(),
                41
            )
            .await,
        Err(StoreError::NotFound(Missing::Invite))
    ));
    store
        .create_invite("TWILIGHT", twilight.id, 42, 1_000)
        .await
        .unwrap();
    assert!(matches!(
        store
            .accept_invite("TWILIGHT", spike.id, Profile::Story, TierSet::always(), 43)
            .await,
        Err(StoreError::Conflict(Conflict::AlreadyBonded))
    ));
    assert!(store.bond_of(twilight.id).await.unwrap().is_none());

    // Tiers are stored as bits.
    let mut open = TierSet::always();
    open.insert(Tier::Feelings);
    store.set_open_tiers(&[(bond.id, open)]).await.unwrap();
    assert_eq!(
        store.bond_of(spike.id).await.unwrap().unwrap().open_tiers,
        open
    );

    // Positions: the newest fix wins, an older one is ignored.
    store
        .save_positions(&[(spike.id, position(30.0, 31.0, 100))])
        .await
        .unwrap();
    store
        .save_positions(&[(spike.id, position(30.5, 31.5, 50))])
        .await
        .unwrap();
    assert_eq!(
        store.position(spike.id).await.unwrap().unwrap().fix.lat,
        30.0
    );
    store
        .save_positions(&[(spike.id, position(30.1, 31.1, 200))])
        .await
        .unwrap();
    let p = store.position(spike.id).await.unwrap().unwrap();
    assert_eq!(
        (p.fix.lat, p.fix.lon, p.fix.accuracy_m, p.fix.at_ms),
        (30.1, 31.1, 3.0, 200)
    );
    assert!(store.position(twilight.id).await.unwrap().is_none());

    // Messages: in order, once per (sender, id); a different message under a used id is a
    // conflict; another sender may use the same id.
    let first = match append(&store, bond.id, spike.id, "m1", "hello").await {
        Appended::New(m, _) => m,
        other => panic!("{other:?}"),
    };
    assert!(matches!(
        append(&store, bond.id, spike.id, "m1", "hello").await,
        Appended::Existing(m) if m.seq == first.seq
    ));
    assert!(matches!(
        append(&store, bond.id, spike.id, "m1", "goodbye").await,
        Appended::Conflict(_)
    ));
    let second = match append(&store, bond.id, amethyst.id, "m1", "hi back").await {
        Appended::New(m, _) => m,
        other => panic!("{other:?}"),
    };
    assert!(second.seq > first.seq);
    let alarm = match store
        .append_message(NewMessage {
            bond: bond.id,
            sender: amethyst.id,
            client_id: "a1".into(),
            kind: MessageKind::Alarm,
            body: None,
            feeling: None,
            sent_at: 11,
        })
        .await
        .unwrap()
    {
        Appended::New(m, _) => m,
        other => panic!("{other:?}"),
    };
    let feeling = match store
        .append_message(NewMessage {
            bond: bond.id,
            sender: spike.id,
            client_id: "f1".into(),
            kind: MessageKind::Feeling,
            body: None,
            feeling: Some(Feeling::Calm),
            sent_at: 12,
        })
        .await
        .unwrap()
    {
        Appended::New(m, _) => m,
        other => panic!("{other:?}"),
    };
    let all = store.messages_after(bond.id, 0, 100).await.unwrap();
    let seqs: Vec<i64> = all.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, vec![first.seq, second.seq, alarm.seq, feeling.seq]);
    assert_eq!(all[3].feeling, Some(Feeling::Calm));
    let page = store.messages_after(bond.id, first.seq, 2).await.unwrap();
    assert_eq!(
        page.iter().map(|m| m.seq).collect::<Vec<_>>(),
        vec![second.seq, alarm.seq]
    );
    assert_eq!(store.last_seq(bond.id).await.unwrap(), feeling.seq);
    let found = store
        .message_by_client_id(amethyst.id, "m1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.seq, second.seq);
    assert!(
        store
            .message_by_client_id(twilight.id, "m1")
            .await
            .unwrap()
            .is_none()
    );

    // Alarms: raised until the receiver acknowledges; the sender cannot.
    assert_eq!(store.raised_alarms(bond.id).await.unwrap().len(), 1);
    assert!(matches!(
        store
            .acknowledge_alarm(bond.id, alarm.seq, amethyst.id, 20)
            .await,
        Err(StoreError::Conflict(Conflict::OwnAlarm))
    ));
    assert!(matches!(
        store
            .acknowledge_alarm(bond.id, first.seq, spike.id, 20)
            .await,
        Err(StoreError::NotFound(Missing::Alarm))
    ));
    let acked = store
        .acknowledge_alarm(bond.id, alarm.seq, spike.id, 21)
        .await
        .unwrap();
    assert_eq!(acked.acknowledged_at, Some(21));
    let again = store
        .acknowledge_alarm(bond.id, alarm.seq, spike.id, 99)
        .await
        .unwrap();
    assert_eq!(
        again.acknowledged_at,
        Some(21),
        "the first acknowledgement stands"
    );
    assert!(store.raised_alarms(bond.id).await.unwrap().is_empty());

    // The delivery cursor only moves forward.
    store.set_delivered(spike.id, second.seq).await.unwrap();
    store.set_delivered(spike.id, first.seq).await.unwrap();
    assert_eq!(
        store
            .account(spike.id)
            .await
            .unwrap()
            .unwrap()
            .delivered_seq,
        second.seq
    );

    // Ending the bond frees both partners; it ends once.
    assert!(store.end_bond(bond.id, 50).await.unwrap());
    assert!(!store.end_bond(bond.id, 51).await.unwrap());
    assert!(store.bond_of(spike.id).await.unwrap().is_none());
    assert!(store.bond_of(amethyst.id).await.unwrap().is_none());
    // And they can bond again, with new sequence numbers after the old ones.
    store
        .create_invite("AGAIN123", amethyst.id, 60, 1_000)
        .await
        .unwrap();
    let bond2 = store
        .accept_invite("AGAIN123", spike.id, Profile::Open, TierSet::always(), 61)
        .await
        .unwrap();
    assert_ne!(bond2.id, bond.id);
    assert_eq!(bond2.members, [amethyst.id, spike.id]);
    let next = match append(&store, bond2.id, spike.id, "m9", "again").await {
        Appended::New(m, _) => m,
        other => panic!("{other:?}"),
    };
    assert!(next.seq > feeling.seq, "sequence numbers are never reused");
    assert_eq!(
        store.messages_after(bond2.id, 0, 10).await.unwrap().len(),
        1
    );

    // Racing acceptances of two invites by one person: exactly one bond.
    let x = store.create_account("x", "h", 70).await.unwrap();
    let y = store.create_account("y", "h", 70).await.unwrap();
    let z = store.create_account("z", "h", 70).await.unwrap();
    store
        .create_invite("XXXXXXXX", x.id, 70, 1_000)
        .await
        .unwrap();
    store
        .create_invite("YYYYYYYY", y.id, 70, 1_000)
        .await
        .unwrap();
    let (r1, r2) = tokio::join!(
        store.accept_invite("XXXXXXXX", z.id, Profile::Story, TierSet::always(), 71),
        store.accept_invite("YYYYYYYY", z.id, Profile::Story, TierSet::always(), 71),
    );
    assert_eq!(
        [r1.is_ok(), r2.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "one person, one partner"
    );

    // A batch holding a message and its retry stores it once, in order.
    let twice = |id: &str| NewMessage {
        bond: bond2.id,
        sender: spike.id,
        client_id: id.into(),
        kind: MessageKind::Voice,
        body: Some("batched".into()),
        feeling: None,
        sent_at: 80,
    };
    let results = store
        .append_messages(vec![twice("b1"), twice("b2"), twice("b1")])
        .await
        .unwrap();
    match &results[..] {
        [
            Appended::New(a, _),
            Appended::New(b, _),
            Appended::Existing(c),
        ] => {
            assert!(a.seq < b.seq);
            assert_eq!(a.seq, c.seq);
        }
        other => panic!("{other:?}"),
    }

    // A big batch (stored in runs of many rows per statement) keeps its order, and its
    // retries and reused ids are told apart wherever they fall.
    let mut big: Vec<NewMessage> = (0..300).map(|i| twice(&format!("big-{i}"))).collect();
    big[200] = twice("big-7");
    big[250].client_id = "b2".into();
    big[250].body = Some("not what b2 said".into());
    let results = store.append_messages(big).await.unwrap();
    assert_eq!(results.len(), 300);
    let mut last = c_seq(&results[0]);
    for (i, r) in results.iter().enumerate() {
        match (i, r) {
            (200, Appended::Existing(m)) => assert_eq!(m.client_id, "big-7"),
            (250, Appended::Conflict(m)) => assert_eq!(m.body.as_deref(), Some("batched")),
            (200 | 250, other) => panic!("{i}: {other:?}"),
            (_, Appended::New(m, _)) => {
                assert_eq!(m.client_id, format!("big-{i}"));
                assert!(i == 0 || m.seq > last, "{i}: seq {} after {last}", m.seq);
                last = m.seq;
            }
            (_, other) => panic!("{i}: {other:?}"),
        }
    }
    let stored = store
        .messages_after(bond2.id, c_seq(&results[0]) - 1, 1_000)
        .await
        .unwrap();
    let ids: Vec<&str> = stored.iter().map(|m| m.client_id.as_str()).collect();
    let expected: Vec<String> = (0..300)
        .filter(|i| *i != 200 && *i != 250)
        .map(|i| format!("big-{i}"))
        .collect();
    assert_eq!(ids, expected, "stored once each, in the batch's order");

    // Racing retries of one message: stored once.
    let (m1, m2) = tokio::join!(
        append(&store, bond2.id, amethyst.id, "race", "once"),
        append(&store, bond2.id, amethyst.id, "race", "once"),
    );
    let news = [&m1, &m2]
        .iter()
        .filter(|a| matches!(a, Appended::New(_, _)))
        .count();
    assert_eq!(news, 1, "{m1:?} {m2:?}");
}

fn c_seq(appended: &Appended) -> i64 {
    match appended {
        Appended::New(m, _) | Appended::Existing(m) | Appended::Conflict(m) => m.seq,
    }
}

/// Each node's connections carry its name in `pg_stat_activity` (`haurach-HOSTNAME`), so
/// an operator can tell the nodes' sessions apart; a name the operator puts in the URL
/// wins.
#[tokio::test]
async fn postgres_connections_name_their_node_unless_the_url_names_them() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let ours = format!("haurach-{}", host.trim());
    let node = Postgres::connect(&pg.url()).await.unwrap();
    let named = Postgres::connect(&format!("{}?application_name=node-two", pg.url()))
        .await
        .unwrap();
    let names = |store: Postgres| async move {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT application_name FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() \
             UNION SELECT current_setting('application_name') ORDER BY 1",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        rows.into_iter().map(|(name,)| name).collect::<Vec<_>>()
    };
    let mut want = vec![ours.clone(), "node-two".to_owned()];
    want.sort();
    assert_eq!(names(named.clone()).await, want);
    assert_eq!(names(node.clone()).await, want);
}
