-- Messages are found by a 64-bit key of (sender, client id), computed by the server
-- (`store::sqlite::messages::client_key`), instead of a unique index on the two texts.
-- Entries of that index were about 80 bytes with random client ids (UUIDs), so each
-- stored message dirtied a leaf of its own: the largest cost of storing one. An entry of
-- `messages_by_key` is about 10 bytes. The server keeps one message per (sender, client
-- id) itself: it is the only writer, and it looks the key up before storing.
--
-- `client_key` is NULL only for messages stored before this migration; the server keys
-- them when it starts (`messages::key_older_messages`), before it serves.

CREATE TABLE messages_keyed (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused
    bond_id         TEXT NOT NULL REFERENCES bonds (id),
    sender_id       TEXT NOT NULL REFERENCES accounts (id),
    client_id       TEXT NOT NULL,
    client_key      INTEGER,
    kind            TEXT NOT NULL,
    body            TEXT,
    feeling         TEXT,
    sent_at         INTEGER NOT NULL,
    acknowledged_at INTEGER
);

INSERT INTO messages_keyed
    (seq, bond_id, sender_id, client_id, kind, body, feeling, sent_at, acknowledged_at)
SELECT seq, bond_id, sender_id, client_id, kind, body, feeling, sent_at, acknowledged_at
FROM messages ORDER BY seq;

-- Keep the sequence where it was (it may be past the last stored message).
INSERT INTO sqlite_sequence (name, seq)
SELECT 'messages_keyed', seq FROM sqlite_sequence WHERE name = 'messages'
    AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'messages_keyed');
UPDATE sqlite_sequence
SET seq = MAX(seq, (SELECT s.seq FROM sqlite_sequence s WHERE s.name = 'messages'))
WHERE name = 'messages_keyed' AND EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'messages');

DROP TABLE messages;
ALTER TABLE messages_keyed RENAME TO messages;
CREATE INDEX messages_by_bond ON messages (bond_id, seq);
CREATE INDEX messages_by_key ON messages (client_key);
