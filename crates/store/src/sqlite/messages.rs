//! Messages in SQLite. The store assigns each message its sequence number and keeps one
//! message per (sender, client id) itself: it looks each new message up by a 64-bit key
//! of that pair ([`client_key`], indexed by `messages_by_key`) before storing it. A
//! unique index on the two texts did the same in SQLite, but its entries were about 80
//! bytes with random client ids, so every message dirtied a leaf of its own and that
//! index was the largest cost of storing one (docs/benchmarks.md).

use std::collections::HashMap;

use haurach_proto::Feeling;
use sqlx::sqlite::SqliteConnection;
use sqlx::{Arguments as _, AssertSqlSafe, Row as _};

use super::statements::{MultiRow, message_columns, runs};
use crate::from_row::{self, Columns as _};
use crate::{AccountId, Appended, MessageRecord, NewMessage, StoreResult};

/// A stable 64-bit key of (sender, client id): FNV-1a over the sender's 16 bytes, then
/// the client id's bytes. It is stored, so it must never change. Two pairs may share a
/// key; lookups compare the pair itself.
pub(super) fn client_key(sender: AccountId, client_id: &str) -> i64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for byte in sender.0.as_bytes().iter().chain(client_id.as_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(PRIME);
    }
    hash as i64
}

/// A message's (sender, client id).
pub(super) type PairKey = (AccountId, String);

fn pair(m: &NewMessage) -> PairKey {
    (m.sender, m.client_id.clone())
}

/// The stored messages under any of `batch`'s (sender, client id).
pub(super) async fn stored_under(
    conn: &mut SqliteConnection,
    batch: &[&NewMessage],
) -> StoreResult<HashMap<PairKey, MessageRecord>> {
    static BY_KEY: MultiRow = MultiRow::new(
        concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE client_key IN ("
        ),
        1,
        ")",
    );
    let mut found = HashMap::new();
    for run in runs(batch) {
        let rows = BY_KEY
            .query(run, |args, m| args.add(client_key(m.sender, &m.client_id)))?
            .fetch_all(&mut *conn)
            .await?;
        for row in rows {
            let stored = from_row::message(&row)?;
            found.insert((stored.sender, stored.client_id.clone()), stored);
        }
    }
    // Keep only exact pairs: a shared key alone says nothing.
    found.retain(|key, _| {
        batch
            .iter()
            .any(|m| m.sender == key.0 && m.client_id == key.1)
    });
    Ok(found)
}

/// Numbers `batch` from `next` on, in order, each once per (sender, client id): a
/// message whose pair is in `stored` (or earlier in the batch) is that message again
/// (`Appended::Existing`) or a reuse of its id (`Appended::Conflict`). Returns one result
/// per message and the records to store.
pub(super) fn number(
    batch: Vec<NewMessage>,
    mut stored: HashMap<PairKey, MessageRecord>,
    mut next: i64,
) -> (Vec<Appended>, Vec<MessageRecord>) {
    let mut results = Vec::with_capacity(batch.len());
    let mut new = Vec::with_capacity(batch.len());
    for m in batch {
        if let Some(earlier) = stored.get(&pair(&m)) {
            results.push(m.against(earlier.clone()));
            continue;
        }
        let record = m.stored(next);
        next += 1;
        // A later message in the batch may reuse this one's pair.
        stored.insert(pair(&m), record.clone());
        new.push(record.clone());
        results.push(Appended::New(record, None));
    }
    (results, new)
}

/// The sequence number the next message gets: one past the highest ever given (the
/// table is `AUTOINCREMENT`, so `sqlite_sequence` remembers it).
pub(super) async fn next_seq(conn: &mut SqliteConnection) -> StoreResult<i64> {
    let last: i64 = sqlx::query_scalar(
        "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0), \
         COALESCE((SELECT MAX(seq) FROM messages), 0))",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(last + 1)
}

/// Stores numbered messages; one already stored under its number is left as it is (so
/// storing a record twice is harmless).
pub(super) async fn insert(
    conn: &mut SqliteConnection,
    records: &[MessageRecord],
) -> StoreResult<()> {
    static INSERT: MultiRow = MultiRow::new(
        "INSERT INTO messages \
         (seq, bond_id, sender_id, client_id, client_key, kind, body, feeling, sent_at)",
        9,
        "ON CONFLICT (seq) DO NOTHING",
    );
    for run in runs(records) {
        INSERT
            .query(run, |args, m| {
                args.add(m.seq)?;
                args.add(m.bond.0.to_string())?;
                args.add(m.sender.0.to_string())?;
                args.add(m.client_id.as_str())?;
                args.add(client_key(m.sender, &m.client_id))?;
                args.add(m.kind.key())?;
                args.add(m.body.as_deref())?;
                args.add(m.feeling.map(Feeling::key))?;
                args.add(m.sent_at)
            })?
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Keys the messages stored before keys existed (migration 0005), a thousand per
/// transaction. Nothing to do, it costs one index lookup.
pub(super) async fn key_older_messages(pool: &sqlx::SqlitePool) -> StoreResult<u64> {
    let mut keyed = 0;
    loop {
        let mut tx = pool.begin().await?;
        let rows = sqlx::query(
            "SELECT seq, sender_id, client_id FROM messages WHERE client_key IS NULL LIMIT 1000",
        )
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(keyed);
        }
        for row in &rows {
            let seq: i64 = row.try_get("seq")?;
            let sender = AccountId(row.id("sender_id")?);
            let client_id: String = row.try_get("client_id")?;
            sqlx::query(AssertSqlSafe(
                "UPDATE messages SET client_key = ? WHERE seq = ?",
            ))
            .bind(client_key(sender, &client_id))
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        keyed += rows.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use haurach_proto::MessageKind;
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

    use super::*;
    use crate::{BondId, Sqlite, Store as _};

    #[tokio::test]
    async fn messages_stored_before_keys_existed_are_keyed_found_and_never_renumbered() {
        let dir = tempfile::tempdir().unwrap();
        let (sender, bond) = (
            AccountId(uuid::Uuid::now_v7()),
            BondId(uuid::Uuid::now_v7()),
        );
        {
            // A database as the server left it before migration 0005.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(
                    SqliteConnectOptions::new()
                        .filename(dir.path().join("haurach.db"))
                        .create_if_missing(true),
                )
                .await
                .unwrap();
            let mut old = sqlx::migrate!("./migrations/sqlite");
            old.migrations = Cow::Owned(
                old.migrations
                    .iter()
                    .filter(|m| m.version < 5)
                    .cloned()
                    .collect(),
            );
            old.run(&pool).await.unwrap();
            for sql in [
                format!(
                    "INSERT INTO accounts (id, name, name_key, password_hash, created_at) VALUES ('{}', 'spike', 'spike', 'h', 1)",
                    sender.0
                ),
                format!(
                    "INSERT INTO bonds (id, a, b, profile, open_tiers, created_at) VALUES ('{}', '{}', '{}', 'open', 0, 1)",
                    bond.0, sender.0, sender.0
                ),
                format!(
                    "INSERT INTO messages (bond_id, sender_id, client_id, kind, body, sent_at) \
                     VALUES ('{0}', '{1}', 'old-1', 'voice', 'one', 2), \
                            ('{0}', '{1}', 'old-2', 'voice', 'two', 3)",
                    bond.0, sender.0
                ),
                // The sequence may run past the last stored message.
                "UPDATE sqlite_sequence SET seq = 41 WHERE name = 'messages'".into(),
            ] {
                sqlx::query(AssertSqlSafe(sql))
                    .execute(&pool)
                    .await
                    .unwrap();
            }
            pool.close().await;
        }

        let store = Sqlite::open(dir.path()).await.unwrap();
        let unkeyed: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE client_key IS NULL")
                .fetch_one(&store.reader)
                .await
                .unwrap();
        assert_eq!(unkeyed, 0, "every older message is keyed at open");
        let found = store.message_by_client_id(sender, "old-2").await.unwrap();
        assert_eq!(
            found.map(|m| (m.seq, m.body)),
            Some((2, Some("two".into())))
        );

        let message = |id: &str, body: &str| NewMessage {
            bond,
            sender,
            client_id: id.into(),
            kind: MessageKind::Voice,
            body: Some(body.into()),
            feeling: None,
            sent_at: 9,
        };
        let results = store
            .append_messages(vec![
                message("old-1", "one"),
                message("old-2", "not two"),
                message("new", "three"),
            ])
            .await
            .unwrap();
        match &results[..] {
            [
                Appended::Existing(a),
                Appended::Conflict(b),
                Appended::New(c, _),
            ] => {
                assert_eq!((a.seq, b.seq), (1, 2), "retries find the older messages");
                assert_eq!(c.seq, 42, "numbering goes on after the sequence");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_key_is_stable_and_tells_senders_and_ids_apart() {
        let a = AccountId(uuid::Uuid::from_u128(1));
        let b = AccountId(uuid::Uuid::from_u128(2));
        // Stored keys must never change: this value is pinned (computed apart, in
        // Python, from the definition).
        assert_eq!(client_key(a, "m0"), 8_059_148_316_200_433_543);
        assert_ne!(client_key(a, "m0"), client_key(b, "m0"));
        assert_ne!(client_key(a, "m0"), client_key(a, "m1"));
    }
}
