#!/usr/bin/env python3
"""WAL frames per message for candidate layouts of the messages table.

Replays the durable-voice phase of `haurach bench` (100 bonds, 200 senders, each commit
holding one message from each of 100 senders, the two halves of the closed loop taking
turns) against SQLite in WAL mode, and counts the WAL frames each commit appends. Every
frame costs the writer two `pwrite`s, and a checkpoint later copies the page back.

    python3 docs/tools/message_layouts.py

No fsync (synchronous = OFF), so its messages/s only compare layouts with each other.
The results are in docs/benchmarks.md ("What still limits it").
"""
import os
import random
import sqlite3
import tempfile
import time
import uuid

BONDS, SENDERS, WARM, MEASURE, BATCH = 100, 200, 300, 300, 100
COLUMNS = ("kind TEXT NOT NULL, body TEXT, feeling TEXT, sent_at INTEGER NOT NULL, "
           "acknowledged_at INTEGER")


def rowid_table(id_type, unique):
    return (f"CREATE TABLE m (seq INTEGER PRIMARY KEY AUTOINCREMENT, bond_id {id_type} NOT NULL, "
            f"sender_id {id_type} NOT NULL, client_id TEXT NOT NULL, {COLUMNS}, UNIQUE ({unique}));"
            "CREATE INDEX m_by_bond ON m (bond_id, seq);")


def by_bond_table(id_type, unique):
    return (f"CREATE TABLE m (bond_id {id_type} NOT NULL, seq INTEGER NOT NULL, "
            f"sender_id {id_type} NOT NULL, client_id TEXT NOT NULL, {COLUMNS}, "
            f"PRIMARY KEY (bond_id, seq), UNIQUE ({unique})) WITHOUT ROWID;")


# name: (schema, binary ids, the writer assigns seq)
LAYOUTS = {
    "today's (text ids)": (rowid_table("TEXT", "sender_id, client_id"), False, False),
    "today's, 16-byte ids": (rowid_table("BLOB", "sender_id, client_id"), True, False),
    "unique (bond, sender, client)": (rowid_table("TEXT", "bond_id, sender_id, client_id"), False, False),
    "unique (bond, sender, client), 16-byte ids": (rowid_table("BLOB", "bond_id, sender_id, client_id"), True, False),
    "clustered by bond, unique (sender, client)": (by_bond_table("TEXT", "sender_id, client_id"), False, True),
    "clustered by bond, unique (bond, sender, client)": (by_bond_table("TEXT", "bond_id, sender_id, client_id"), False, True),
    "clustered by bond, unique (bond, sender, client), 16-byte ids": (by_bond_table("BLOB", "bond_id, sender_id, client_id"), True, True),
}

BODY = "You miss someone as well, don't you? I can hear you from here."


def replay(path, schema, binary, own_seq):
    random.seed(7)
    bonds = [uuid.uuid4() for _ in range(BONDS)]
    senders = [(uuid.uuid4(), bonds[i // 2]) for i in range(SENDERS)]
    as_id = (lambda u: u.bytes) if binary else str
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA wal_autocheckpoint = 0")
    db.executescript(schema)
    sent, seq, frames, started = [0] * SENDERS, 0, 0, 0.0
    order = list(range(SENDERS))
    for commit in range(WARM + MEASURE):
        if commit == WARM:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            started = time.perf_counter()
        half = order[:BATCH] if commit % 2 == 0 else order[BATCH:]
        if commit % 2 == 1:
            random.shuffle(order)
        wal = path + "-wal"
        before = os.path.getsize(wal) if os.path.exists(wal) else 0
        rows = []
        for s in half:
            sender, bond = senders[s]
            sent[s] += 1
            seq += 1
            client_id = f"bench-{s}-{sent[s]}-{time.perf_counter_ns()}"
            head = (as_id(bond), seq) if own_seq else (as_id(bond),)
            rows.append(head + (as_id(sender), client_id, "voice", BODY, None, seq))
        columns = "bond_id, seq, " if own_seq else "bond_id, "
        marks = ", ".join("?" * len(rows[0]))
        db.execute("BEGIN IMMEDIATE")
        db.executemany(f"INSERT INTO m ({columns}sender_id, client_id, kind, body, feeling, sent_at) "
                       f"VALUES ({marks})", rows)
        db.execute("COMMIT")
        if commit >= WARM:
            grown = os.path.getsize(wal) - before - (32 if before == 0 else 0)
            frames += grown // (4096 + 24)
    elapsed = time.perf_counter() - started
    db.close()
    return frames / (MEASURE * BATCH), MEASURE * BATCH / elapsed


def main():
    for name, (schema, binary, own_seq) in LAYOUTS.items():
        with tempfile.TemporaryDirectory() as tmp:
            per_message, rate = replay(os.path.join(tmp, "m.db"), schema, binary, own_seq)
        print(f"{per_message:5.2f} WAL frames/message  {rate:7.0f} msg/s  {name}")


if __name__ == "__main__":
    main()
