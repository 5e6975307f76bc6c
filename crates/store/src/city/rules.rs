//! The city's rules, written once for both backends: who comes in through the gate and
//! how, who may receive a letter and what a reply is, when a letter sent again is the
//! same letter, the quotas, who may summon whom and how a summons moves.
//!
//! Each operation of [`CityStore`](super::CityStore) that reads, decides and writes is an
//! algorithm here, over [`CityTx`]: the statements it needs, which each backend writes in
//! its own SQL on its own transaction, and the locks it takes. The locks are where the
//! backends really differ: PostgreSQL is written by several nodes at once and holds each
//! lock until commit; SQLite has one writer and begins every transaction `IMMEDIATE`, so
//! its transactions already take turns and its locks do nothing. The decisions the
//! algorithms make from rows already read are plain functions at the end, tested without
//! a database.

use haurach_proto::{Decision, GateBook, GateMode, Standing, SummonState};
use uuid::Uuid;

use super::{
    ArrivalRecord, LetterId, LetterLimits, LetterMove, LetterRecord, NewArrival, NewLetter,
    ParcelRecord, Sent, SummonsId, SummonsRecord,
};
use crate::{AccountId, Conflict, Missing, StoreError, StoreResult};

/// The window of the daily letter quota.
const DAY_MS: i64 = 24 * 3600 * 1000;

/// The statements of the city's operations, on one open transaction of a backend.
/// Dropping it without [`CityTx::commit`] rolls back.
pub(crate) trait CityTx: Send + Sized {
    /// Commits everything done in the transaction.
    async fn commit(self) -> StoreResult<()>;

    /// Waits for every other arrival's transaction, so exactly one is a city's first.
    async fn lock_arrivals(&mut self) -> StoreResult<()>;

    /// Waits for every other transaction that locked `account`, so one citizen's limits
    /// are counted and used by one transaction at a time.
    async fn lock_account(&mut self, account: AccountId) -> StoreResult<()>;

    /// Waits for every other transaction that locked the summons, so it moves once at a
    /// time.
    async fn lock_summons(&mut self, id: SummonsId) -> StoreResult<()>;

    /// Whether any account exists.
    async fn has_accounts(&mut self) -> StoreResult<bool>;

    /// The account with this name, in any case, and where it stands.
    async fn account_by_name(&mut self, name: &str) -> StoreResult<Option<(AccountId, Standing)>>;

    /// Inserts an account and its page of the book; `Conflict::NameTaken` when the name
    /// exists in any case.
    async fn insert_entry(&mut self, entry: &Entry<'_>) -> StoreResult<()>;

    /// An account's page of the book.
    async fn arrival(&mut self, account: AccountId) -> StoreResult<ArrivalRecord>;

    /// The maker and expiry (Unix milliseconds) of a gate invite nobody has used.
    async fn unused_gate_invite(&mut self, code: &str) -> StoreResult<Option<(AccountId, i64)>>;

    /// Marks a gate invite used by `by`.
    async fn use_gate_invite(&mut self, code: &str, by: AccountId, now_ms: i64) -> StoreResult<()>;

    /// The account that applied under this name (any case) and the tower's decision so
    /// far, the page locked for the rest of the transaction.
    async fn application(
        &mut self,
        name: &str,
    ) -> StoreResult<Option<(AccountId, Option<Decision>)>>;

    /// Writes the tower's answer in the book and moves the account to `standing`.
    async fn record_decision(&mut self, answer: &Answer<'_>) -> StoreResult<()>;

    /// The size of the parcel `account` uploaded with this hash.
    async fn upload_size(&mut self, account: AccountId, hash: &str) -> StoreResult<Option<u64>>;

    /// Bytes of parcels `account` has uploaded.
    async fn uploaded_bytes(&mut self, account: AccountId) -> StoreResult<u64>;

    /// Records an upload.
    async fn insert_upload(
        &mut self,
        account: AccountId,
        hash: &str,
        size: u64,
        now_ms: i64,
    ) -> StoreResult<()>;

    /// A letter with its parcels.
    async fn letter(&mut self, id: LetterId) -> StoreResult<Option<LetterRecord>>;

    /// The letter `sender` sent under a client id, with its parcels.
    async fn letter_by_client_id(
        &mut self,
        sender: AccountId,
        client_id: &str,
    ) -> StoreResult<Option<LetterRecord>>;

    /// How many letters `sender` sent after `since_ms`.
    async fn letters_sent_since(&mut self, sender: AccountId, since_ms: i64) -> StoreResult<u64>;

    /// Inserts an unread letter in its recipient's hands, and its parcels in order.
    async fn insert_letter(&mut self, letter: &Posted<'_>) -> StoreResult<()>;

    /// Marks a letter delivered if `recipient` holds it and it was not yet; whether it
    /// was marked now.
    async fn mark_delivered(
        &mut self,
        id: LetterId,
        recipient: AccountId,
        now_ms: i64,
    ) -> StoreResult<bool>;

    /// Reads or returns a letter in one conditional `UPDATE`: only if it is unread in the
    /// hands of `recipient`. Whether it moved; of two racing moves exactly one does.
    async fn move_letter(
        &mut self,
        id: LetterId,
        recipient: AccountId,
        how: LetterMove,
        now_ms: i64,
    ) -> StoreResult<bool>;

    /// Allows (or no longer allows) `grantee` to summon `grantor`.
    async fn set_summon_permission(
        &mut self,
        grantor: AccountId,
        grantee: AccountId,
        allowed: bool,
        now_ms: i64,
    ) -> StoreResult<()>;

    /// Whether `summoned` allows `summoner` to summon them.
    async fn may_summon(&mut self, summoner: AccountId, summoned: AccountId) -> StoreResult<bool>;

    /// Whether a summons of `summoned` by `summoner` is still calling or accepted.
    async fn summons_open(&mut self, summoner: AccountId, summoned: AccountId)
    -> StoreResult<bool>;

    /// Inserts a calling summons.
    async fn insert_summons(&mut self, summons: &Calling) -> StoreResult<()>;

    /// A summons.
    async fn summons(&mut self, id: SummonsId) -> StoreResult<Option<SummonsRecord>>;

    /// Moves a summons: its new state, and the times and person it records (a `None`
    /// keeps what is stored).
    async fn move_summons(&mut self, id: SummonsId, to: &SummonsMove) -> StoreResult<()>;
}

/// An account and its page of the book, to insert.
pub(crate) struct Entry<'a> {
    pub id: AccountId,
    pub name: &'a str,
    pub password_hash: &'a str,
    pub standing: Standing,
    /// `first`, `open`, `application`, `invite` or `admin`.
    pub way: &'static str,
    pub book: &'a GateBook,
    pub invited_by: Option<AccountId>,
    pub now_ms: i64,
}

/// The tower's answer to an application, to record.
pub(crate) struct Answer<'a> {
    pub account: AccountId,
    pub decision: Decision,
    pub answer: &'a str,
    pub by: AccountId,
    /// Where the applicant stands after it.
    pub standing: Standing,
    pub now_ms: i64,
}

/// A letter to insert, checked.
pub(crate) struct Posted<'a> {
    pub id: LetterId,
    pub sender: AccountId,
    pub recipient: AccountId,
    pub client_id: Option<&'a str>,
    pub thread: LetterId,
    pub in_reply_to: Option<LetterId>,
    pub body: &'a str,
    /// With the sizes of their uploads.
    pub parcels: &'a [ParcelRecord],
    pub now_ms: i64,
}

/// A summons to insert, calling.
pub(crate) struct Calling {
    pub id: SummonsId,
    pub summoner: AccountId,
    pub summoned: AccountId,
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
    pub now_ms: i64,
}

/// How a summons moves: its new state and what the move records.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SummonsMove {
    pub state: SummonState,
    /// When the summoned accepted or declined.
    pub answered_at: Option<i64>,
    /// When it was over (declined, ended or arrived).
    pub ended_at: Option<i64>,
    /// Who ended it.
    pub ended_by: Option<AccountId>,
}

/// [`CityStore::arrive`](super::CityStore::arrive).
pub(crate) async fn arrive(mut tx: impl CityTx, a: NewArrival) -> StoreResult<ArrivalRecord> {
    tx.lock_arrivals().await?;
    let (standing, way, invited_by) = if !tx.has_accounts().await? {
        (Standing::Tower, "first", None)
    } else {
        match a.mode {
            GateMode::Open => (Standing::Citizen, "open", None),
            GateMode::Application => (Standing::Applicant, "application", None),
            GateMode::Invite => {
                let code = a.invite.as_deref().ok_or(Conflict::InviteRequired)?;
                let (maker, expires_at) = tx
                    .unused_gate_invite(code)
                    .await?
                    .ok_or(Missing::GateInvite)?;
                if expires_at <= a.now_ms {
                    return Err(Missing::GateInviteExpired.into());
                }
                (Standing::Citizen, "invite", Some(maker))
            }
        }
    };
    let entry = Entry {
        id: AccountId::new(),
        name: &a.name,
        password_hash: &a.password_hash,
        standing,
        way,
        book: &a.book,
        invited_by,
        now_ms: a.now_ms,
    };
    tx.insert_entry(&entry).await?;
    if let (Some(_), Some(code)) = (invited_by, &a.invite) {
        tx.use_gate_invite(code, entry.id, a.now_ms).await?;
    }
    let arrival = tx.arrival(entry.id).await?;
    tx.commit().await?;
    Ok(arrival)
}

/// [`CityStore::create_tower`](super::CityStore::create_tower).
pub(crate) async fn create_tower(
    mut tx: impl CityTx,
    name: &str,
    password_hash: &str,
    now_ms: i64,
) -> StoreResult<ArrivalRecord> {
    let entry = Entry {
        id: AccountId::new(),
        name,
        password_hash,
        standing: Standing::Tower,
        way: "admin",
        book: &GateBook::default(),
        invited_by: None,
        now_ms,
    };
    tx.insert_entry(&entry).await?;
    let arrival = tx.arrival(entry.id).await?;
    tx.commit().await?;
    Ok(arrival)
}

/// [`CityStore::decide`](super::CityStore::decide).
pub(crate) async fn decide(
    mut tx: impl CityTx,
    name: &str,
    decision: Decision,
    answer: &str,
    by: AccountId,
    now_ms: i64,
) -> StoreResult<ArrivalRecord> {
    let (account, decided) = tx.application(name).await?.ok_or(Missing::Applicant)?;
    if decided.is_some() {
        return Err(Conflict::AlreadyDecided.into());
    }
    let standing = match decision {
        Decision::Approved => Standing::Citizen,
        Decision::Declined => Standing::Declined,
    };
    tx.record_decision(&Answer {
        account,
        decision,
        answer,
        by,
        standing,
        now_ms,
    })
    .await?;
    let arrival = tx.arrival(account).await?;
    tx.commit().await?;
    Ok(arrival)
}

/// [`CityStore::record_upload`](super::CityStore::record_upload).
pub(crate) async fn record_upload(
    mut tx: impl CityTx,
    account: AccountId,
    hash: &str,
    size: u64,
    quota: u64,
    now_ms: i64,
) -> StoreResult<u64> {
    tx.lock_account(account).await?;
    let had = tx.upload_size(account, hash).await?.is_some();
    let used = tx.uploaded_bytes(account).await?;
    if had {
        // The same parcel again is stored once and counted once.
        return Ok(used);
    }
    let total = used + size;
    if total > quota {
        return Err(Conflict::ParcelQuotaExceeded.into());
    }
    tx.insert_upload(account, hash, size, now_ms).await?;
    tx.commit().await?;
    Ok(total)
}

/// [`CityStore::send_letter`](super::CityStore::send_letter).
pub(crate) async fn send_letter(
    mut tx: impl CityTx,
    l: NewLetter,
    limits: LetterLimits,
) -> StoreResult<Sent> {
    tx.lock_account(l.sender).await?;
    // A retry is answered before any limit is counted: it sends nothing.
    if let Some(client_id) = &l.client_id
        && let Some(stored) = tx.letter_by_client_id(l.sender, client_id).await?
    {
        return resent(stored, &l);
    }
    let (thread, reply_to) = match l.in_reply_to {
        Some(parent) => {
            let parent = tx.letter(parent).await?;
            let (thread, other) = reply(parent, l.sender)?;
            (Some(thread), Some(other))
        }
        None => (None, None),
    };
    let to =
        l.to.clone()
            .or(reply_to)
            .ok_or(Conflict::RecipientRequired)?;
    let recipient = inside(tx.account_by_name(&to).await?, Missing::Recipient)?;
    if recipient == l.sender {
        return Err(Conflict::OwnLetter.into());
    }
    let sent_today = tx.letters_sent_since(l.sender, l.now_ms - DAY_MS).await?;
    if sent_today >= u64::from(limits.letters_per_day) {
        return Err(Conflict::LetterQuotaExceeded.into());
    }
    // Each parcel must be one the sender uploaded; its size is the upload's.
    let mut parcels = l.parcels.clone();
    let mut total: u64 = 0;
    for parcel in &mut parcels {
        parcel.size = tx
            .upload_size(l.sender, &parcel.hash)
            .await?
            .ok_or(Missing::Parcel)?;
        total += parcel.size;
    }
    if total > limits.max_parcel_bytes {
        return Err(Conflict::ParcelTooLarge.into());
    }
    let id = LetterId(Uuid::now_v7());
    tx.insert_letter(&Posted {
        id,
        sender: l.sender,
        recipient,
        client_id: l.client_id.as_deref(),
        thread: thread.unwrap_or(id),
        in_reply_to: l.in_reply_to,
        body: &l.body,
        parcels: &parcels,
        now_ms: l.now_ms,
    })
    .await?;
    let letter = tx
        .letter(id)
        .await?
        .ok_or_else(|| StoreError::Corrupt("letter vanished inside its transaction".into()))?;
    tx.commit().await?;
    Ok(Sent::New(letter))
}

/// [`CityStore::mark_delivered`](super::CityStore::mark_delivered).
pub(crate) async fn mark_delivered(
    mut tx: impl CityTx,
    account: AccountId,
    ids: &[LetterId],
    now_ms: i64,
) -> StoreResult<Vec<LetterRecord>> {
    let mut marked = Vec::new();
    for id in ids {
        if tx.mark_delivered(*id, account, now_ms).await?
            && let Some(letter) = tx.letter(*id).await?
        {
            marked.push(letter);
        }
    }
    tx.commit().await?;
    Ok(marked)
}

/// [`CityStore::move_letter`](super::CityStore::move_letter).
pub(crate) async fn move_letter(
    mut tx: impl CityTx,
    id: LetterId,
    account: AccountId,
    how: LetterMove,
    now_ms: i64,
) -> StoreResult<LetterRecord> {
    let moved = tx.move_letter(id, account, how, now_ms).await?;
    let letter = tx
        .letter(id)
        .await?
        .filter(|l| is_party(l, account))
        .ok_or(Missing::Letter)?;
    if !moved {
        return Err(Conflict::LetterMoved.into());
    }
    tx.commit().await?;
    Ok(letter)
}

/// [`CityStore::set_summon_permission`](super::CityStore::set_summon_permission).
pub(crate) async fn set_summon_permission(
    mut tx: impl CityTx,
    grantor: AccountId,
    grantee: &str,
    allowed: bool,
    now_ms: i64,
) -> StoreResult<()> {
    let (grantee, _) = tx.account_by_name(grantee).await?.ok_or(Missing::Citizen)?;
    tx.set_summon_permission(grantor, grantee, allowed, now_ms)
        .await?;
    tx.commit().await
}

/// [`CityStore::summon`](super::CityStore::summon).
pub(crate) async fn summon(
    mut tx: impl CityTx,
    summoner: AccountId,
    to: &str,
    lat: f64,
    lon: f64,
    accuracy_m: f64,
    now_ms: i64,
) -> StoreResult<SummonsRecord> {
    tx.lock_account(summoner).await?;
    let summoned = inside(tx.account_by_name(to).await?, Missing::Summoned)?;
    if summoned == summoner {
        return Err(Conflict::OwnSummons.into());
    }
    if !tx.may_summon(summoner, summoned).await? {
        return Err(Conflict::NotAllowed.into());
    }
    if tx.summons_open(summoner, summoned).await? {
        return Err(Conflict::SummonsOpen.into());
    }
    let id = SummonsId(Uuid::now_v7());
    tx.insert_summons(&Calling {
        id,
        summoner,
        summoned,
        lat,
        lon,
        accuracy_m,
        now_ms,
    })
    .await?;
    let record = tx
        .summons(id)
        .await?
        .ok_or_else(|| StoreError::Corrupt("summons vanished".into()))?;
    tx.commit().await?;
    Ok(record)
}

/// [`CityStore::answer_summons`](super::CityStore::answer_summons).
pub(crate) async fn answer_summons(
    mut tx: impl CityTx,
    id: SummonsId,
    account: AccountId,
    to: SummonState,
    now_ms: i64,
) -> StoreResult<SummonsRecord> {
    tx.lock_summons(id).await?;
    let current = tx
        .summons(id)
        .await?
        .filter(|s| s.summoner == account || s.summoned == account)
        .ok_or(Missing::Summons)?;
    let step = summons_move(&current, account, to, now_ms)?;
    tx.move_summons(id, &step).await?;
    let record = tx
        .summons(id)
        .await?
        .ok_or_else(|| StoreError::Corrupt("summons vanished".into()))?;
    tx.commit().await?;
    Ok(record)
}

/// Whether `account` wrote or was sent the letter.
fn is_party(letter: &LetterRecord, account: AccountId) -> bool {
    letter.sender == account || letter.recipient == account
}

/// A letter sent again under a client id already used: the same letter (the same words
/// and parcels, and no other recipient) is the one sent before; anything else reuses the
/// id.
fn resent(stored: LetterRecord, again: &NewLetter) -> StoreResult<Sent> {
    let same_to = again
        .to
        .as_deref()
        .is_none_or(|to| to.eq_ignore_ascii_case(&stored.recipient_name));
    let same_parcels = stored.parcels.len() == again.parcels.len()
        && stored
            .parcels
            .iter()
            .zip(&again.parcels)
            .all(|(a, b)| a.name == b.name && a.hash == b.hash);
    if stored.body != again.body || !same_parcels || !same_to {
        return Err(Conflict::IdReused.into());
    }
    Ok(Sent::Existing(stored))
}

/// A reply goes in the thread of the letter it answers, which `sender` must be a party
/// to; with no recipient named, to the other party. The thread and that party's name.
fn reply(parent: Option<LetterRecord>, sender: AccountId) -> StoreResult<(LetterId, String)> {
    let parent = parent
        .filter(|p| is_party(p, sender))
        .ok_or(Missing::Letter)?;
    let other = if parent.sender == sender {
        parent.recipient_name
    } else {
        parent.sender_name
    };
    Ok((parent.thread, other))
}

/// Someone inside the city (a citizen or a tower), found by name: an applicant, or
/// someone the tower declined, is as good as `missing`.
fn inside(found: Option<(AccountId, Standing)>, missing: Missing) -> StoreResult<AccountId> {
    match found {
        Some((account, standing)) if standing.is_inside() => Ok(account),
        _ => Err(missing.into()),
    }
}

/// Whether `by` may move `current` to `to`, and what the move records: only the summoned
/// accepts or declines a calling summons; either party ends one calling or accepted; an
/// accepted one is arrived at (the server's move); nothing goes back to calling.
fn summons_move(
    current: &SummonsRecord,
    by: AccountId,
    to: SummonState,
    now_ms: i64,
) -> Result<SummonsMove, Conflict> {
    let (from, only_summoned): (&[SummonState], bool) = match to {
        SummonState::Accepted | SummonState::Declined => (&[SummonState::Calling], true),
        SummonState::Ended => (&[SummonState::Calling, SummonState::Accepted], false),
        SummonState::Arrived => (&[SummonState::Accepted], false),
        SummonState::Calling => return Err(Conflict::SummonsMoved),
    };
    if only_summoned && current.summoned != by {
        return Err(Conflict::NotYours);
    }
    if !from.contains(&current.state) {
        return Err(Conflict::SummonsMoved);
    }
    let answered = matches!(to, SummonState::Accepted | SummonState::Declined);
    Ok(SummonsMove {
        state: to,
        answered_at: answered.then_some(now_ms),
        ended_at: (to != SummonState::Accepted).then_some(now_ms),
        ended_by: (to == SummonState::Ended).then_some(by),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored_letter(sender: AccountId, recipient: AccountId) -> LetterRecord {
        let id = LetterId(Uuid::now_v7());
        LetterRecord {
            id,
            sender,
            sender_name: "Spike".into(),
            recipient,
            recipient_name: "twilight".into(),
            holder: recipient,
            client_id: Some("c-1".into()),
            thread: id,
            in_reply_to: None,
            body: "dear princess".into(),
            state: haurach_proto::LetterState::Unread,
            parcels: vec![parcel("map", "h1", 600), parcel("key", "h2", 300)],
            sent_at: 1,
            delivered_at: None,
            read_at: None,
            returned_at: None,
        }
    }

    fn parcel(name: &str, hash: &str, size: u64) -> ParcelRecord {
        ParcelRecord {
            name: name.into(),
            hash: hash.into(),
            size,
        }
    }

    fn again(stored: &LetterRecord) -> NewLetter {
        NewLetter {
            sender: stored.sender,
            to: Some("TWILIGHT".into()),
            body: stored.body.clone(),
            // As the client sends them: sizes are the store's to fill in.
            parcels: vec![parcel("map", "h1", 0), parcel("key", "h2", 0)],
            in_reply_to: None,
            client_id: stored.client_id.clone(),
            now_ms: 99,
        }
    }

    #[test]
    fn a_letter_sent_again_is_the_same_letter_only_if_nothing_but_the_moment_differs() {
        let stored = stored_letter(AccountId::new(), AccountId::new());
        let same = [
            again(&stored),
            NewLetter {
                to: None,
                ..again(&stored)
            },
        ];
        for letter in same {
            assert_eq!(
                resent(stored.clone(), &letter).unwrap(),
                Sent::Existing(stored.clone())
            );
        }
        let reused = [
            NewLetter {
                body: "dear Celestia".into(),
                ..again(&stored)
            },
            NewLetter {
                to: Some("amethyst".into()),
                ..again(&stored)
            },
            NewLetter {
                parcels: vec![parcel("map", "h1", 0)],
                ..again(&stored)
            },
            NewLetter {
                parcels: vec![parcel("key", "h2", 0), parcel("map", "h1", 0)],
                ..again(&stored)
            },
            NewLetter {
                parcels: vec![parcel("atlas", "h1", 0), parcel("key", "h2", 0)],
                ..again(&stored)
            },
        ];
        for letter in reused {
            assert!(matches!(
                resent(stored.clone(), &letter),
                Err(StoreError::Conflict(Conflict::IdReused))
            ));
        }
    }

    #[test]
    fn a_reply_goes_to_the_other_party_in_the_first_letters_thread() {
        let (spike, twilight) = (AccountId::new(), AccountId::new());
        let mut parent = stored_letter(spike, twilight);
        parent.thread = LetterId(Uuid::now_v7());
        assert_eq!(
            reply(Some(parent.clone()), twilight).unwrap(),
            (parent.thread, "Spike".to_owned())
        );
        assert_eq!(
            reply(Some(parent.clone()), spike).unwrap(),
            (parent.thread, "twilight".to_owned())
        );
        for (letter, who) in [(Some(parent), AccountId::new()), (None, spike)] {
            assert!(matches!(
                reply(letter, who),
                Err(StoreError::NotFound(Missing::Letter))
            ));
        }
    }

    #[test]
    fn only_someone_inside_the_city_is_found() {
        let someone = AccountId::new();
        for standing in [Standing::Tower, Standing::Citizen] {
            assert_eq!(
                inside(Some((someone, standing)), Missing::Recipient).unwrap(),
                someone
            );
        }
        for found in [
            Some((someone, Standing::Applicant)),
            Some((someone, Standing::Declined)),
            None,
        ] {
            assert!(matches!(
                inside(found, Missing::Summoned),
                Err(StoreError::NotFound(Missing::Summoned))
            ));
        }
    }

    #[test]
    fn a_summons_moves_only_forward_and_only_by_whom_it_may() {
        use SummonState::*;
        let (summoner, summoned) = (AccountId::new(), AccountId::new());
        let at = |state| SummonsRecord {
            id: SummonsId(Uuid::now_v7()),
            summoner,
            summoner_name: "spike".into(),
            summoned,
            summoned_name: "twilight".into(),
            state,
            lat: 0.0,
            lon: 0.0,
            accuracy_m: 1.0,
            created_at: 0,
        };
        let moved = |state, by, to| summons_move(&at(state), by, to, 7).map(|m| m.state);
        // Every move from every state, by either party: what is allowed, and why not.
        let table = [
            (Calling, summoned, Accepted, Ok(Accepted)),
            (Calling, summoner, Accepted, Err(Conflict::NotYours)),
            (Calling, summoned, Declined, Ok(Declined)),
            (Calling, summoner, Declined, Err(Conflict::NotYours)),
            (Calling, summoner, Ended, Ok(Ended)),
            (Calling, summoned, Ended, Ok(Ended)),
            (Calling, summoner, Arrived, Err(Conflict::SummonsMoved)),
            (Accepted, summoned, Accepted, Err(Conflict::SummonsMoved)),
            (Accepted, summoned, Declined, Err(Conflict::SummonsMoved)),
            (Accepted, summoned, Ended, Ok(Ended)),
            (Accepted, summoner, Arrived, Ok(Arrived)),
            (Accepted, summoner, Calling, Err(Conflict::SummonsMoved)),
        ];
        for (from, by, to, expected) in table {
            assert_eq!(moved(from, by, to), expected, "{from:?} to {to:?}");
        }
        for over in [Declined, Ended, Arrived] {
            for to in [Calling, Accepted, Declined, Ended, Arrived] {
                assert!(moved(over, summoned, to).is_err(), "{over:?} is over");
            }
        }
        // What each move records.
        let step = |from, by, to| summons_move(&at(from), by, to, 7).unwrap();
        assert_eq!(
            step(Calling, summoned, Accepted),
            SummonsMove {
                state: Accepted,
                answered_at: Some(7),
                ended_at: None,
                ended_by: None,
            }
        );
        assert_eq!(
            step(Calling, summoned, Declined),
            SummonsMove {
                state: Declined,
                answered_at: Some(7),
                ended_at: Some(7),
                ended_by: None,
            }
        );
        assert_eq!(
            step(Accepted, summoner, Ended),
            SummonsMove {
                state: Ended,
                answered_at: None,
                ended_at: Some(7),
                ended_by: Some(summoner),
            }
        );
        assert_eq!(
            step(Accepted, summoned, Arrived),
            SummonsMove {
                state: Arrived,
                answered_at: None,
                ended_at: Some(7),
                ended_by: None,
            }
        );
    }
}
