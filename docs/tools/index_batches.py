#!/usr/bin/env python3
"""CPU per stored message against the size of the transaction, for three ways of keeping
one message per (sender, client id) in the messages table.

Replays the durable-voice phase of `haurach bench` (100 bonds, 200 senders, client ids
random UUIDs as the web client makes them) into SQLite in WAL mode with
`synchronous = FULL`, after 100,000 messages of warm-up, and reports wall-clock
messages/s and the process's user and system CPU per message:

- "unique (sender, client)": the unique index on the two texts (migration 0001);
- "64-bit key": a plain index on an integer key of the pair (migration 0005);
- "no dedup index": the floor, with only the index by bond.

    taskset -c 0 python3 docs/tools/index_batches.py

The database goes to a temporary directory under the current one (same disk as a data
directory would be). The results are in docs/benchmarks.md.
"""
import os
import random
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid

BONDS, SENDERS, WARM, MEASURE = 100, 200, 100_000, 200_000
BODY = "You miss someone as well, don't you? I can hear you from here."
COLUMNS = ("seq INTEGER PRIMARY KEY AUTOINCREMENT, bond_id TEXT NOT NULL, "
           "sender_id TEXT NOT NULL, client_id TEXT NOT NULL, client_key INTEGER, "
           "kind TEXT NOT NULL, body TEXT, feeling TEXT, sent_at INTEGER NOT NULL, "
           "acknowledged_at INTEGER")
LAYOUTS = {
    "unique (sender, client)": f"CREATE TABLE messages ({COLUMNS}, UNIQUE (sender_id, client_id));",
    "64-bit key": f"CREATE TABLE messages ({COLUMNS}); "
                  "CREATE INDEX messages_by_key ON messages (client_key);",
    "no dedup index": f"CREATE TABLE messages ({COLUMNS});",
}
INSERT = ("INSERT INTO messages (seq, bond_id, sender_id, client_id, client_key, kind, body, "
          "sent_at) VALUES (?, ?, ?, ?, ?, 'voice', ?, ?)")


def run(schema, batch):
    random.seed(7)
    where = tempfile.mkdtemp(dir=".")
    try:
        db = sqlite3.connect(os.path.join(where, "t.db"), isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        db.executescript(schema + "CREATE INDEX messages_by_bond ON messages (bond_id, seq);")
        bonds = [str(uuid.uuid4()) for _ in range(BONDS)]
        senders = [(str(uuid.uuid4()), bonds[i // 2]) for i in range(SENDERS)]
        seq = 0

        def rows(n):
            nonlocal seq
            out = []
            for _ in range(n):
                seq += 1
                sender, bond = senders[seq % SENDERS]
                out.append((seq, bond, sender, str(uuid.uuid4()), random.getrandbits(63), BODY, seq))
            return out

        def write(batches):
            for b in batches:
                db.execute("BEGIN")
                db.executemany(INSERT, b)
                db.execute("COMMIT")

        write(rows(batch) for _ in range(WARM // batch))
        batches = [rows(batch) for _ in range(MEASURE // batch)]
        before, start = resource.getrusage(resource.RUSAGE_SELF), time.time()
        write(batches)
        after, wall = resource.getrusage(resource.RUSAGE_SELF), time.time() - start
        n = len(batches) * batch
        return (n / wall, (after.ru_utime - before.ru_utime) / n * 1e6,
                (after.ru_stime - before.ru_stime) / n * 1e6)
    finally:
        shutil.rmtree(where)


def main():
    print(f"SQLite {sqlite3.sqlite_version}; {MEASURE:,} messages after {WARM:,}", file=sys.stderr)
    print("| layout | messages per transaction | messages/s | user µs/msg | system µs/msg |")
    print("|---|---:|---:|---:|---:|")
    for name, schema in LAYOUTS.items():
        for batch in (100, 1000, 5000):
            rate, user, system = run(schema, batch)
            print(f"| {name} | {batch:,} | {rate:,.0f} | {user:.1f} | {system:.1f} |", flush=True)


if __name__ == "__main__":
    main()
