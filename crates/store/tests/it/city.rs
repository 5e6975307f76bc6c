//! The conformance story of `CityStore` (a supertrait of `Store`): the gate and the
//! tower's book, parcels, letters and summonses, told the same way by every backend. The
//! races (two moves of one letter, two letters against a quota of one, two first
//! arrivals) run on both backends too: SQLite's single writer and PostgreSQL's locks
//! must give the same answers.

use haurach_proto::{Decision, GateBook, GateMode, LetterState, Standing, SummonState};
use haurach_store::city::{
    ArrivalRecord, LetterBox, LetterId, LetterLimits, LetterMove, LetterRecord, NewArrival,
    NewLetter, ParcelRecord, Sent, SummonsId,
};
use haurach_store::{
    AccountId, Conflict, Missing, Postgres, Sqlite, Store, StoreError, StoreResult,
};
use haurach_testkit::{PgCluster, or_skip};

#[tokio::test]
async fn sqlite_passes_the_city_conformance_story() {
    let dir = tempfile::tempdir().unwrap();
    city_conformance(Sqlite::open(dir.path()).await.unwrap()).await;
}

#[tokio::test]
async fn postgres_passes_the_city_conformance_story() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    city_conformance(Postgres::connect(&pg.url()).await.unwrap()).await;
}

#[tokio::test]
async fn sqlite_settles_the_citys_races_one_way() {
    let dir = tempfile::tempdir().unwrap();
    let store = Sqlite::open(dir.path()).await.unwrap();
    races(store.clone(), store).await;
}

/// Two nodes (two pools) on one database: what SQLite's single writer serialises, the
/// PostgreSQL store must serialise with its locks and conditional updates.
#[tokio::test]
async fn postgres_settles_the_citys_races_one_way_across_nodes() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    let node1 = Postgres::connect(&pg.url()).await.unwrap();
    let node2 = Postgres::connect(&pg.url()).await.unwrap();
    races(node1, node2).await;
}

const DAY_MS: i64 = 24 * 3600 * 1000;

const LIMITS: LetterLimits = LetterLimits {
    max_parcel_bytes: 1_000,
    letters_per_day: 5,
};

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

fn letter(sender: AccountId, to: Option<&str>, body: &str, now_ms: i64) -> NewLetter {
    NewLetter {
        sender,
        to: to.map(str::to_owned),
        body: body.into(),
        parcels: Vec::new(),
        in_reply_to: None,
        client_id: None,
        now_ms,
    }
}

fn parcel(name: &str, hash: &str) -> ParcelRecord {
    ParcelRecord {
        name: name.into(),
        hash: hash.into(),
        // Filled in by the store from the upload.
        size: 0,
    }
}

fn new(sent: StoreResult<Sent>) -> LetterRecord {
    match sent {
        Ok(Sent::New(letter)) => letter,
        other => panic!("expected a new letter, got {other:?}"),
    }
}

fn conflict<T: std::fmt::Debug>(res: StoreResult<T>) -> Conflict {
    match res {
        Err(StoreError::Conflict(reason)) => reason,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

fn missing<T: std::fmt::Debug>(res: StoreResult<T>) -> Missing {
    match res {
        Err(StoreError::NotFound(reason)) => reason,
        other => panic!("expected something missing, got {other:?}"),
    }
}

fn ids(letters: &[LetterRecord]) -> Vec<LetterId> {
    letters.iter().map(|l| l.id).collect()
}

/// The letters `who` holds, newest first.
async fn inbox<S: Store>(store: &S, who: AccountId) -> Vec<LetterId> {
    ids(&store
        .letters(who, LetterBox::Inbox, 10, None)
        .await
        .unwrap())
}

/// The letters `who` wrote, newest first.
async fn sent_box<S: Store>(store: &S, who: AccountId) -> Vec<LetterId> {
    ids(&store.letters(who, LetterBox::Sent, 10, None).await.unwrap())
}

/// The people of the story, once the gate has let them in (or not).
struct People {
    celestia: AccountId,
    spike: AccountId,
    twilight: AccountId,
    amethyst: AccountId,
}

/// The story every city store must tell the same way.
pub async fn city_conformance<S: Store>(store: S) {
    let people = gate(&store).await;
    parcels(&store, &people).await;
    letters(&store, &people).await;
    summonses(&store, &people).await;
}

async fn gate<S: Store>(store: &S) -> People {
    assert!(store.is_empty_city().await.unwrap());

    // The first to arrive is the tower, whatever the gate's mode.
    let first = store
        .arrive(arrival("celestia", GateMode::Invite, None, 10))
        .await
        .unwrap();
    assert_eq!(
        (first.standing, first.way.as_str()),
        (Standing::Tower, "first")
    );
    assert!(!store.is_empty_city().await.unwrap());
    let celestia = first.account.id;

    // An open gate makes citizens; a name is taken whatever its case, and a refused
    // arrival writes nothing in the book.
    let spike = store
        .arrive(arrival("Spike", GateMode::Open, None, 20))
        .await
        .unwrap();
    assert_eq!(
        (spike.standing, spike.way.as_str()),
        (Standing::Citizen, "open")
    );
    assert_eq!(spike.account.name, "Spike");
    assert_eq!(
        conflict(
            store
                .arrive(arrival("SPIKE", GateMode::Open, None, 21))
                .await
        ),
        Conflict::NameTaken
    );
    assert_eq!(store.register(false).await.unwrap().len(), 2);
    let spike = spike.account.id;

    // An application gate makes applicants, with their page of the book as written.
    let book = GateBook {
        name: Some("Twilight".into()),
        family_name: Some("Sparkle".into()),
        from: Some("Canterlot".into()),
        age: Some(19),
        calling: Some("Letter Bearer, I assume?".into()),
        note: None,
    };
    let twilight = store
        .arrive(NewArrival {
            book: book.clone(),
            ..arrival("twilight", GateMode::Application, None, 30)
        })
        .await
        .unwrap();
    assert_eq!(
        (twilight.standing, twilight.way.as_str()),
        (Standing::Applicant, "application")
    );
    assert_eq!(twilight.book, book);
    assert_eq!(twilight.arrived_at, 30);
    assert_eq!(twilight.decision, None);
    for (name, at) in [("trixie", 31), ("discord", 32)] {
        store
            .arrive(arrival(name, GateMode::Application, None, at))
            .await
            .unwrap();
    }
    let twilight = twilight.account.id;

    // A session says where its account stands, on every request.
    store
        .create_session(b"twilight-1", twilight, 33)
        .await
        .unwrap();
    assert_eq!(
        store.session_standing(b"twilight-1").await.unwrap(),
        Some((twilight, Standing::Applicant))
    );

    // Gate invites: each code once; an invite-only gate wants one that exists, is unused
    // and has not expired, and records who invited.
    store
        .create_gate_invite("GATECODE", celestia, 40, 40 + DAY_MS)
        .await
        .unwrap();
    assert_eq!(
        conflict(
            store
                .create_gate_invite("GATECODE", spike, 41, 41 + DAY_MS)
                .await
        ),
        Conflict::InviteCodeTaken
    );
    store
        .create_gate_invite("OLDCODE1", celestia, 40, 50)
        .await
        .unwrap();
    assert_eq!(
        conflict(
            store
                .arrive(arrival("amethyst", GateMode::Invite, None, 60))
                .await
        ),
        Conflict::InviteRequired
    );
    assert_eq!(
        missing(
            store
                .arrive(arrival("amethyst", GateMode::Invite, Some("NOSUCHCD"), 60))
                .await
        ),
        Missing::GateInvite
    );
    assert_eq!(
        missing(
            store
                .arrive(arrival("amethyst", GateMode::Invite, Some("OLDCODE1"), 60))
                .await
        ),
        Missing::GateInviteExpired
    );
    let amethyst = store
        .arrive(arrival("amethyst", GateMode::Invite, Some("GATECODE"), 60))
        .await
        .unwrap();
    assert_eq!(
        (amethyst.standing, amethyst.way.as_str()),
        (Standing::Citizen, "invite")
    );
    assert_eq!(amethyst.invited_by.as_deref(), Some("celestia"));
    assert_eq!(
        missing(
            store
                .arrive(arrival("rarity", GateMode::Invite, Some("GATECODE"), 61))
                .await
        ),
        Missing::GateInvite,
        "a gate invite lets one person in"
    );
    let amethyst = amethyst.account.id;

    // `haurach admin` makes a second tower; the towers are told of applications.
    let luna = store.create_tower("luna", "hash-luna", 70).await.unwrap();
    assert_eq!(
        (luna.standing, luna.way.as_str()),
        (Standing::Tower, "admin")
    );
    let mut towers = store.towers().await.unwrap();
    towers.sort();
    let mut expected = vec![celestia, luna.account.id];
    expected.sort();
    assert_eq!(towers, expected);
    assert_eq!(
        conflict(store.create_tower("Luna", "h", 71).await),
        Conflict::NameTaken
    );

    // The register, oldest first; the queue is the applications still waiting.
    let names = |pages: Vec<ArrivalRecord>| -> Vec<String> {
        pages.into_iter().map(|p| p.account.name).collect()
    };
    assert_eq!(
        names(store.register(false).await.unwrap()),
        [
            "celestia", "Spike", "twilight", "trixie", "discord", "amethyst", "luna"
        ]
    );
    assert_eq!(
        names(store.register(true).await.unwrap()),
        ["twilight", "trixie", "discord"]
    );

    // The tower answers an application once; only applications can be answered.
    assert_eq!(
        missing(
            store
                .decide("nobody", Decision::Approved, "", celestia, 80)
                .await
        ),
        Missing::Applicant
    );
    assert_eq!(
        missing(
            store
                .decide("spike", Decision::Approved, "", celestia, 80)
                .await
        ),
        Missing::Applicant,
        "spike came through an open gate"
    );
    let approved = store
        .decide("TWILIGHT", Decision::Approved, "welcome", celestia, 81)
        .await
        .unwrap();
    assert_eq!(approved.standing, Standing::Citizen);
    assert_eq!(approved.decision, Some(Decision::Approved));
    assert_eq!(approved.answer.as_deref(), Some("welcome"));
    assert_eq!(approved.decided_by.as_deref(), Some("celestia"));
    assert_eq!(approved.decided_at, Some(81));
    assert_eq!(
        conflict(
            store
                .decide("twilight", Decision::Declined, "no", celestia, 82)
                .await
        ),
        Conflict::AlreadyDecided
    );
    assert_eq!(
        store.arrival(twilight).await.unwrap().unwrap().standing,
        Standing::Citizen,
        "a second answer changes nothing"
    );
    let declined = store
        .decide("trixie", Decision::Declined, "not now", celestia, 83)
        .await
        .unwrap();
    assert_eq!(declined.standing, Standing::Declined);
    assert_eq!(
        store.session_standing(b"twilight-1").await.unwrap(),
        Some((twilight, Standing::Citizen)),
        "the approved applicant's session is let in at once"
    );
    assert_eq!(names(store.register(true).await.unwrap()), ["discord"]);
    assert!(store.revoke_session(b"twilight-1", 84).await.unwrap());
    assert_eq!(store.session_standing(b"twilight-1").await.unwrap(), None);

    People {
        celestia,
        spike,
        twilight,
        amethyst,
    }
}

async fn parcels<S: Store>(store: &S, p: &People) {
    // Uploads count against a quota; uploading the same parcel again costs nothing.
    assert_eq!(store.uploaded_bytes(p.spike).await.unwrap(), 0);
    assert_eq!(
        store
            .record_upload(p.spike, "hash-map", 600, 1_500, 100)
            .await
            .unwrap(),
        600
    );
    assert_eq!(
        store
            .record_upload(p.spike, "hash-map", 600, 1_500, 101)
            .await
            .unwrap(),
        600
    );
    assert_eq!(
        store
            .record_upload(p.spike, "hash-key", 300, 1_500, 102)
            .await
            .unwrap(),
        900
    );
    assert_eq!(
        conflict(
            store
                .record_upload(p.spike, "hash-big", 700, 1_500, 103)
                .await
        ),
        Conflict::ParcelQuotaExceeded
    );
    assert_eq!(
        store.uploaded_bytes(p.spike).await.unwrap(),
        900,
        "a refused upload is not counted"
    );
    store
        .record_upload(p.spike, "hash-big", 700, 10_000, 104)
        .await
        .unwrap();
    store
        .record_upload(p.twilight, "hash-twilight", 10, 10_000, 105)
        .await
        .unwrap();
}

async fn letters<S: Store>(store: &S, p: &People) {
    let t0 = 1_000;

    // Who may receive: a citizen or a tower, by name in any case, not oneself.
    let nobody = letter(p.spike, Some("nobody"), "hello?", t0);
    assert_eq!(
        missing(store.send_letter(nobody, LIMITS).await),
        Missing::Recipient
    );
    for outside in ["discord", "trixie"] {
        let to_outside = letter(p.spike, Some(outside), "hello?", t0);
        assert_eq!(
            missing(store.send_letter(to_outside, LIMITS).await),
            Missing::Recipient,
            "{outside} is not inside the city"
        );
    }
    let to_self = letter(p.spike, Some("spike"), "hello, me", t0);
    assert_eq!(
        conflict(store.send_letter(to_self, LIMITS).await),
        Conflict::OwnLetter
    );
    let to_nobody = letter(p.spike, None, "to whom it may concern", t0);
    assert_eq!(
        conflict(store.send_letter(to_nobody, LIMITS).await),
        Conflict::RecipientRequired
    );

    // Parcels: only the sender's own uploads, sized from the upload, within the limit.
    let stolen = NewLetter {
        parcels: vec![parcel("notes", "hash-twilight")],
        ..letter(p.spike, Some("twilight"), "look", t0)
    };
    assert_eq!(
        missing(store.send_letter(stolen, LIMITS).await),
        Missing::Parcel,
        "knowing a hash is not enough"
    );
    let heavy = NewLetter {
        parcels: vec![parcel("map", "hash-map"), parcel("big", "hash-big")],
        ..letter(p.spike, Some("twilight"), "look", t0)
    };
    assert_eq!(
        conflict(store.send_letter(heavy, LIMITS).await),
        Conflict::ParcelTooLarge
    );
    assert!(
        sent_box(store, p.spike).await.is_empty(),
        "nothing refused was sent"
    );

    // A letter, to a name in any case, with parcels in order.
    let first = NewLetter {
        parcels: vec![parcel("map", "hash-map"), parcel("key", "hash-key")],
        client_id: Some("c-1".into()),
        ..letter(p.spike, Some("TWILIGHT"), "dear princess", t0)
    };
    let sent = new(store.send_letter(first.clone(), LIMITS).await);
    assert_eq!((sent.sender, sent.recipient), (p.spike, p.twilight));
    assert_eq!(
        (sent.sender_name.as_str(), sent.recipient_name.as_str()),
        ("Spike", "twilight")
    );
    assert_eq!(sent.holder, p.twilight);
    assert_eq!(sent.state, LetterState::Unread);
    assert_eq!((sent.thread, sent.in_reply_to), (sent.id, None));
    assert_eq!(sent.sent_at, t0);
    assert_eq!(
        sent.parcels
            .iter()
            .map(|p| (p.name.as_str(), p.hash.as_str(), p.size))
            .collect::<Vec<_>>(),
        [("map", "hash-map", 600), ("key", "hash-key", 300)]
    );

    // Resending under the same client id is the same letter, not a second one: the
    // recipient may be named in another case, or not at all.
    for again in [
        first.clone(),
        NewLetter {
            to: Some("twilight".into()),
            now_ms: t0 + 5,
            ..first.clone()
        },
        NewLetter {
            to: None,
            ..first.clone()
        },
    ] {
        match store.send_letter(again, LIMITS).await.unwrap() {
            Sent::Existing(letter) => assert_eq!(letter, sent),
            other => panic!("a retry sent a second letter: {other:?}"),
        }
    }
    for other in [
        NewLetter {
            body: "dear Celestia".into(),
            ..first.clone()
        },
        NewLetter {
            to: Some("amethyst".into()),
            ..first.clone()
        },
        NewLetter {
            parcels: vec![parcel("map", "hash-map")],
            ..first.clone()
        },
        NewLetter {
            parcels: vec![parcel("key", "hash-key"), parcel("map", "hash-map")],
            ..first.clone()
        },
    ] {
        assert_eq!(
            conflict(store.send_letter(other, LIMITS).await),
            Conflict::IdReused
        );
    }
    assert_eq!(inbox(store, p.twilight).await, [sent.id]);

    // Only its two parties see a letter.
    assert_eq!(
        store.letter(sent.id, p.spike).await.unwrap().as_ref(),
        Some(&sent)
    );
    assert_eq!(
        store.letter(sent.id, p.twilight).await.unwrap().as_ref(),
        Some(&sent)
    );
    assert_eq!(store.letter(sent.id, p.amethyst).await.unwrap(), None);

    // A reply goes back to the other party, in the first letter's thread; only a party
    // can reply.
    let reply = NewLetter {
        in_reply_to: Some(sent.id),
        ..letter(p.twilight, None, "dear Spike", t0 + 10)
    };
    let reply = new(store.send_letter(reply, LIMITS).await);
    assert_eq!((reply.sender, reply.recipient), (p.twilight, p.spike));
    assert_eq!((reply.thread, reply.in_reply_to), (sent.id, Some(sent.id)));
    let again = NewLetter {
        in_reply_to: Some(reply.id),
        ..letter(p.spike, None, "dear Twilight", t0 + 20)
    };
    let again = new(store.send_letter(again, LIMITS).await);
    assert_eq!((again.recipient, again.thread), (p.twilight, sent.id));
    let meddling = NewLetter {
        in_reply_to: Some(sent.id),
        ..letter(p.amethyst, None, "what's this?", t0 + 30)
    };
    assert_eq!(
        missing(store.send_letter(meddling, LIMITS).await),
        Missing::Letter
    );
    let unknown = NewLetter {
        in_reply_to: Some(LetterId(uuid::Uuid::now_v7())),
        ..letter(p.spike, None, "?", t0 + 30)
    };
    assert_eq!(
        missing(store.send_letter(unknown, LIMITS).await),
        Missing::Letter
    );
    // A reply may name someone else; it stays in the thread.
    let aside = NewLetter {
        in_reply_to: Some(sent.id),
        ..letter(
            p.twilight,
            Some("celestia"),
            "about spike's letter",
            t0 + 40,
        )
    };
    let aside = new(store.send_letter(aside, LIMITS).await);
    assert_eq!((aside.recipient, aside.thread), (p.celestia, sent.id));

    // A thread, oldest first, as far as the reader is a party to it.
    assert_eq!(
        ids(&store.thread(sent.id, p.twilight).await.unwrap()),
        [sent.id, reply.id, again.id, aside.id]
    );
    assert_eq!(
        ids(&store.thread(sent.id, p.spike).await.unwrap()),
        [sent.id, reply.id, again.id]
    );
    assert_eq!(
        ids(&store.thread(sent.id, p.celestia).await.unwrap()),
        [aside.id]
    );
    assert!(store.thread(sent.id, p.amethyst).await.unwrap().is_empty());

    // Boxes, newest first, at most `limit`.
    assert_eq!(sent_box(store, p.spike).await, [again.id, sent.id]);
    assert_eq!(inbox(store, p.twilight).await, [again.id, sent.id]);
    assert_eq!(
        ids(&store
            .letters(p.twilight, LetterBox::Inbox, 1, None)
            .await
            .unwrap()),
        [again.id]
    );

    // Delivery is marked once, and only by the recipient holding the letter.
    let marked = store
        .mark_delivered(p.twilight, &[sent.id, reply.id, again.id], t0 + 50)
        .await
        .unwrap();
    assert_eq!(ids(&marked), [sent.id, again.id], "not her own reply");
    assert!(marked.iter().all(|l| l.delivered_at == Some(t0 + 50)));
    assert!(
        store
            .mark_delivered(p.twilight, &[sent.id], t0 + 60)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .mark_delivered(p.spike, &[again.id], t0 + 60)
            .await
            .unwrap()
            .is_empty(),
        "the sender does not deliver his own letter"
    );
    assert!(
        store
            .mark_delivered(p.spike, &[], t0 + 60)
            .await
            .unwrap()
            .is_empty()
    );

    // Reading: once, by the recipient; it stays in her hands.
    assert_eq!(
        conflict(
            store
                .move_letter(sent.id, p.spike, LetterMove::Read, t0 + 70)
                .await
        ),
        Conflict::LetterMoved,
        "the sender does not hold it"
    );
    assert_eq!(
        missing(
            store
                .move_letter(sent.id, p.amethyst, LetterMove::Read, t0 + 70)
                .await
        ),
        Missing::Letter
    );
    let read = store
        .move_letter(sent.id, p.twilight, LetterMove::Read, t0 + 70)
        .await
        .unwrap();
    assert_eq!(read.state, LetterState::Read);
    assert_eq!(read.read_at, Some(t0 + 70));
    assert_eq!(read.holder, p.twilight);
    assert_eq!(
        read.delivered_at,
        Some(t0 + 50),
        "delivered before it was read"
    );
    for how in [LetterMove::Read, LetterMove::Return] {
        assert_eq!(
            conflict(store.move_letter(sent.id, p.twilight, how, t0 + 80).await),
            Conflict::LetterMoved
        );
    }

    // Returning: unread, back to the sender's inbox, out of the recipient's. Reading a
    // letter never delivered marks it delivered too.
    let returned = store
        .move_letter(again.id, p.twilight, LetterMove::Return, t0 + 90)
        .await
        .unwrap();
    assert_eq!(returned.state, LetterState::Returned);
    assert_eq!(returned.returned_at, Some(t0 + 90));
    assert_eq!((returned.holder, returned.read_at), (p.spike, None));
    assert_eq!(inbox(store, p.twilight).await, [sent.id]);
    assert_eq!(inbox(store, p.spike).await, [again.id, reply.id]);
    assert_eq!(
        conflict(
            store
                .move_letter(again.id, p.spike, LetterMove::Read, t0 + 95)
                .await
        ),
        Conflict::LetterMoved,
        "a returned letter is not read by its sender"
    );
    let read = store
        .move_letter(reply.id, p.spike, LetterMove::Read, t0 + 100)
        .await
        .unwrap();
    assert_eq!(read.delivered_at, Some(t0 + 100));

    // The daily quota: five letters in 24 hours (Spike has sent two); a retry is still
    // answered at the limit.
    for i in 0..3 {
        let note = NewLetter {
            client_id: Some(format!("note-{i}")),
            ..letter(p.spike, Some("amethyst"), "note", t0 + 200 + i)
        };
        new(store.send_letter(note, LIMITS).await);
    }
    let sixth = letter(p.spike, Some("amethyst"), "one more", t0 + 300);
    assert_eq!(
        conflict(store.send_letter(sixth.clone(), LIMITS).await),
        Conflict::LetterQuotaExceeded
    );
    let retry = NewLetter {
        client_id: Some("note-0".into()),
        ..letter(p.spike, Some("amethyst"), "note", t0 + 310)
    };
    assert!(matches!(
        store.send_letter(retry, LIMITS).await,
        Ok(Sent::Existing(_))
    ));
    // The window rolls: a day after his first letter, that one no longer counts.
    let day_later = NewLetter {
        now_ms: t0 + DAY_MS + 1,
        ..sixth
    };
    new(store.send_letter(day_later, LIMITS).await);
    // Spike's quota is his own: Twilight still writes.
    new(store
        .send_letter(letter(p.twilight, Some("spike"), "hi", t0 + 400), LIMITS)
        .await);
}

async fn summonses<S: Store>(store: &S, p: &People) {
    let t0 = 10 * DAY_MS;
    let summon =
        |who: AccountId, to: &'static str, at: i64| store.summon(who, to, 52.5, 13.4, 8.0, at);

    // Permissions: by name, any case; granted once however often; taken back.
    assert_eq!(
        missing(
            store
                .set_summon_permission(p.twilight, "nobody", true, t0)
                .await
        ),
        Missing::Citizen
    );
    store
        .set_summon_permission(p.twilight, "SPIKE", true, t0)
        .await
        .unwrap();
    store
        .set_summon_permission(p.twilight, "spike", true, t0 + 1)
        .await
        .unwrap();
    store
        .set_summon_permission(p.twilight, "amethyst", true, t0 + 2)
        .await
        .unwrap();
    assert_eq!(
        store.summon_permissions(p.twilight).await.unwrap(),
        ["amethyst", "Spike"]
    );
    store
        .set_summon_permission(p.twilight, "amethyst", false, t0 + 3)
        .await
        .unwrap();
    assert_eq!(
        store.summon_permissions(p.twilight).await.unwrap(),
        ["Spike"]
    );

    // Who may be summoned: a citizen inside the city who allowed the summoner.
    assert_eq!(
        missing(summon(p.spike, "nobody", t0).await),
        Missing::Summoned
    );
    assert_eq!(
        missing(summon(p.spike, "discord", t0).await),
        Missing::Summoned,
        "an applicant is not inside"
    );
    assert_eq!(
        conflict(summon(p.spike, "spike", t0).await),
        Conflict::OwnSummons
    );
    assert_eq!(
        conflict(summon(p.amethyst, "twilight", t0).await),
        Conflict::NotAllowed,
        "her permission was taken back"
    );
    assert_eq!(
        conflict(summon(p.twilight, "spike", t0).await),
        Conflict::NotAllowed,
        "permission goes one way"
    );
    let calling = summon(p.spike, "Twilight", t0 + 10).await.unwrap();
    assert_eq!((calling.summoner, calling.summoned), (p.spike, p.twilight));
    assert_eq!(
        (
            calling.summoner_name.as_str(),
            calling.summoned_name.as_str()
        ),
        ("Spike", "twilight")
    );
    assert_eq!(calling.state, SummonState::Calling);
    assert_eq!(
        (
            calling.lat,
            calling.lon,
            calling.accuracy_m,
            calling.created_at
        ),
        (52.5, 13.4, 8.0, t0 + 10)
    );
    assert_eq!(
        conflict(summon(p.spike, "twilight", t0 + 11).await),
        Conflict::SummonsOpen,
        "one open summons between two"
    );

    // Only its parties see a summons; both have it open.
    assert_eq!(
        store
            .summons(calling.id, p.twilight)
            .await
            .unwrap()
            .as_ref(),
        Some(&calling)
    );
    assert_eq!(store.summons(calling.id, p.amethyst).await.unwrap(), None);
    for who in [p.spike, p.twilight] {
        let open = store.open_summonses(who).await.unwrap();
        assert_eq!(open.iter().map(|s| s.id).collect::<Vec<_>>(), [calling.id]);
    }
    assert!(store.open_summonses(p.amethyst).await.unwrap().is_empty());
    assert!(store.accepted_summonses().await.unwrap().is_empty());

    // Only the summoned accepts; the server records the arrival; then it is over.
    let answer = |id: SummonsId, who: AccountId, to: SummonState, at: i64| {
        store.answer_summons(id, who, to, at)
    };
    assert_eq!(
        missing(answer(calling.id, p.amethyst, SummonState::Ended, t0 + 20).await),
        Missing::Summons
    );
    assert_eq!(
        conflict(answer(calling.id, p.spike, SummonState::Accepted, t0 + 20).await),
        Conflict::NotYours
    );
    for early in [SummonState::Arrived, SummonState::Calling] {
        assert_eq!(
            conflict(answer(calling.id, p.twilight, early, t0 + 20).await),
            Conflict::SummonsMoved
        );
    }
    let accepted = answer(calling.id, p.twilight, SummonState::Accepted, t0 + 30)
        .await
        .unwrap();
    assert_eq!(accepted.state, SummonState::Accepted);
    assert_eq!(
        store
            .accepted_summonses()
            .await
            .unwrap()
            .iter()
            .map(|s| s.id)
            .collect::<Vec<_>>(),
        [calling.id]
    );
    for late in [SummonState::Accepted, SummonState::Declined] {
        assert_eq!(
            conflict(answer(calling.id, p.twilight, late, t0 + 40).await),
            Conflict::SummonsMoved
        );
    }
    let arrived = answer(calling.id, p.spike, SummonState::Arrived, t0 + 50)
        .await
        .unwrap();
    assert_eq!(arrived.state, SummonState::Arrived);
    assert!(store.open_summonses(p.spike).await.unwrap().is_empty());
    assert!(store.accepted_summonses().await.unwrap().is_empty());
    assert_eq!(
        conflict(answer(calling.id, p.spike, SummonState::Ended, t0 + 60).await),
        Conflict::SummonsMoved
    );

    // Once it is over he may call again; she may decline, and either may end one.
    let second = summon(p.spike, "twilight", t0 + 70).await.unwrap();
    assert_ne!(second.id, calling.id);
    let declined = answer(second.id, p.twilight, SummonState::Declined, t0 + 80)
        .await
        .unwrap();
    assert_eq!(declined.state, SummonState::Declined);
    let third = summon(p.spike, "twilight", t0 + 90).await.unwrap();
    let ended = answer(third.id, p.spike, SummonState::Ended, t0 + 100)
        .await
        .unwrap();
    assert_eq!(ended.state, SummonState::Ended);
    let fourth = summon(p.spike, "twilight", t0 + 110).await.unwrap();
    answer(fourth.id, p.twilight, SummonState::Accepted, t0 + 120)
        .await
        .unwrap();
    let ended = answer(fourth.id, p.twilight, SummonState::Ended, t0 + 130)
        .await
        .unwrap();
    assert_eq!(ended.state, SummonState::Ended);
    assert!(store.open_summonses(p.twilight).await.unwrap().is_empty());
}

/// Races both backends must settle the same way: four first arrivals make one tower; of
/// a read and a return racing for one letter exactly one wins; two letters racing for
/// a sender's last one of the day, exactly one is sent. `one` and `two` are the same
/// store, or two nodes on one database.
async fn races<S: Store>(one: S, two: S) {
    let (a, b, c, d) = tokio::join!(
        one.arrive(arrival("celestia", GateMode::Application, None, 1)),
        two.arrive(arrival("luna", GateMode::Application, None, 1)),
        one.arrive(arrival("cadance", GateMode::Application, None, 1)),
        two.arrive(arrival("flurry", GateMode::Application, None, 1)),
    );
    let towers = [a, b, c, d]
        .into_iter()
        .filter(|arrival| arrival.as_ref().unwrap().standing == Standing::Tower)
        .count();
    assert_eq!(towers, 1, "exactly one first arrival");

    let mut senders = Vec::new();
    for i in 0..8 {
        let name = format!("sender{i}");
        senders.push(
            one.arrive(arrival(&name, GateMode::Open, None, 2))
                .await
                .unwrap()
                .account
                .id,
        );
    }
    let reader = one
        .arrive(arrival("reader", GateMode::Open, None, 2))
        .await
        .unwrap()
        .account
        .id;
    let limits = LetterLimits {
        letters_per_day: 1,
        ..LIMITS
    };

    for (i, sender) in senders.iter().enumerate() {
        let (x, y) = tokio::join!(
            one.send_letter(letter(*sender, Some("reader"), "first", 10), limits),
            two.send_letter(letter(*sender, Some("reader"), "second", 10), limits),
        );
        let sent: Vec<_> = [x, y]
            .into_iter()
            .filter_map(|res| match res {
                Ok(Sent::New(letter)) => Some(letter),
                Err(StoreError::Conflict(Conflict::LetterQuotaExceeded)) => None,
                other => panic!("sender{i}: {other:?}"),
            })
            .collect();
        assert_eq!(sent.len(), 1, "sender{i}: one letter a day, however sent");

        let id = sent[0].id;
        let (read, returned) = tokio::join!(
            one.move_letter(id, reader, LetterMove::Read, 20),
            two.move_letter(id, reader, LetterMove::Return, 20),
        );
        let won = match (read, returned) {
            (Ok(l), Err(StoreError::Conflict(Conflict::LetterMoved))) => l,
            (Err(StoreError::Conflict(Conflict::LetterMoved)), Ok(l)) => l,
            other => panic!("sender{i}: exactly one move wins: {other:?}"),
        };
        let stored = one.letter(id, reader).await.unwrap().unwrap();
        assert_eq!(stored.state, won.state, "the winner's move is the one kept");
        assert_eq!(stored.holder, won.holder);
    }
}
