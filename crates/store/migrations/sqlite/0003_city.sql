-- The city: the gate and the tower, fire-mail, summoning. Times are Unix milliseconds;
-- ids are UUIDv7 text.

-- Where an account stands at the gate: 'tower' (an admin), 'citizen', 'applicant'
-- (waiting for the tower) or 'declined'. Accounts made before the gate existed, and
-- those a bulk load makes, are citizens.
ALTER TABLE accounts ADD COLUMN standing TEXT NOT NULL DEFAULT 'citizen';

-- The gatekeeper's book: one page per arrival, whatever way they came in.
CREATE TABLE arrivals (
    account_id  TEXT PRIMARY KEY REFERENCES accounts (id),
    way         TEXT NOT NULL,            -- first | open | application | invite | admin
    given_name  TEXT,
    family_name TEXT,
    from_place  TEXT,
    age         INTEGER,
    calling     TEXT,
    note        TEXT,
    invited_by  TEXT REFERENCES accounts (id),
    arrived_at  INTEGER NOT NULL,
    decision    TEXT,                     -- approved | declined; NULL while waiting
    answer      TEXT,                     -- what the tower wrote back
    decided_by  TEXT REFERENCES accounts (id),
    decided_at  INTEGER
);
CREATE INDEX arrivals_waiting ON arrivals (arrived_at) WHERE decision IS NULL;

-- Codes that let someone in through an invite-only gate; used once.
CREATE TABLE gate_invites (
    code       TEXT PRIMARY KEY,           -- normalised: 8 characters, no dash
    made_by    TEXT NOT NULL REFERENCES accounts (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_by    TEXT REFERENCES accounts (id),
    used_at    INTEGER
);

-- Parcels a citizen has put into the blob store (by content hash), which only they can
-- attach to a letter. The bytes live once per hash under DATA/parcels/.
CREATE TABLE parcel_uploads (
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    hash        TEXT NOT NULL,             -- SHA-256, lowercase hex
    size        INTEGER NOT NULL,
    uploaded_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, hash)
);

-- A letter is in exactly one place: holder_id. state says how it got there.
CREATE TABLE letters (
    id           TEXT PRIMARY KEY,
    sender_id    TEXT NOT NULL REFERENCES accounts (id),
    recipient_id TEXT NOT NULL REFERENCES accounts (id),
    holder_id    TEXT NOT NULL REFERENCES accounts (id),
    client_id    TEXT,                     -- the sender's id for it (idempotency key)
    thread_id    TEXT NOT NULL,            -- the first letter of the thread
    in_reply_to  TEXT REFERENCES letters (id),
    body         TEXT NOT NULL,
    state        TEXT NOT NULL,            -- unread | read | returned
    sent_at      INTEGER NOT NULL,
    delivered_at INTEGER,                  -- the recipient's client first had it
    read_at      INTEGER,
    returned_at  INTEGER,
    UNIQUE (sender_id, client_id)
);
CREATE INDEX letters_by_holder ON letters (holder_id, sent_at);
CREATE INDEX letters_by_sender ON letters (sender_id, sent_at);
CREATE INDEX letters_by_thread ON letters (thread_id, sent_at);

CREATE TABLE letter_parcels (
    letter_id TEXT NOT NULL REFERENCES letters (id),
    idx       INTEGER NOT NULL,
    name      TEXT NOT NULL,
    hash      TEXT NOT NULL,
    size      INTEGER NOT NULL,
    PRIMARY KEY (letter_id, idx)
);

-- Who may summon whom: grantor allows grantee to summon them.
CREATE TABLE summon_permissions (
    grantor_id TEXT NOT NULL REFERENCES accounts (id),
    grantee_id TEXT NOT NULL REFERENCES accounts (id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (grantor_id, grantee_id)
);

CREATE TABLE summons (
    id          TEXT PRIMARY KEY,
    summoner_id TEXT NOT NULL REFERENCES accounts (id),
    summoned_id TEXT NOT NULL REFERENCES accounts (id),
    state       TEXT NOT NULL,             -- calling | accepted | declined | ended | arrived
    lat         REAL NOT NULL,             -- where the summoner called from
    lon         REAL NOT NULL,
    accuracy_m  REAL NOT NULL,
    created_at  INTEGER NOT NULL,
    answered_at INTEGER,
    ended_at    INTEGER,
    ended_by    TEXT REFERENCES accounts (id)
);
CREATE INDEX summons_open ON summons (summoned_id, summoner_id) WHERE state IN ('calling', 'accepted');
