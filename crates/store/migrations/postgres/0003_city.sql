-- The city: the PostgreSQL twin of migrations/sqlite/0003_city.sql. Times are Unix
-- milliseconds; ids are UUIDv7.

-- Where an account stands at the gate: 'tower' (an admin), 'citizen', 'applicant'
-- (waiting for the tower) or 'declined'. Accounts made before the gate existed, and
-- those a bulk load makes, are citizens.
ALTER TABLE accounts ADD COLUMN standing TEXT NOT NULL DEFAULT 'citizen';

-- The gatekeeper's book: one page per arrival, whatever way they came in.
CREATE TABLE arrivals (
    account_id  UUID PRIMARY KEY REFERENCES accounts (id),
    way         TEXT NOT NULL,            -- first | open | application | invite | admin
    given_name  TEXT,
    family_name TEXT,
    from_place  TEXT,
    age         INTEGER,
    calling     TEXT,
    note        TEXT,
    invited_by  UUID REFERENCES accounts (id),
    arrived_at  BIGINT NOT NULL,
    decision    TEXT,                     -- approved | declined; NULL while waiting
    answer      TEXT,                     -- what the tower wrote back
    decided_by  UUID REFERENCES accounts (id),
    decided_at  BIGINT
);
CREATE INDEX arrivals_waiting ON arrivals (arrived_at) WHERE decision IS NULL;

-- Codes that let someone in through an invite-only gate; used once.
CREATE TABLE gate_invites (
    code       TEXT PRIMARY KEY,           -- normalised: 8 characters, no dash
    made_by    UUID NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_by    UUID REFERENCES accounts (id),
    used_at    BIGINT
);

-- Parcels a citizen has put into the blob store (by content hash), which only they can
-- attach to a letter. The bytes live once per hash under DATA/parcels/.
CREATE TABLE parcel_uploads (
    account_id  UUID NOT NULL REFERENCES accounts (id),
    hash        TEXT NOT NULL,             -- SHA-256, lowercase hex
    size        BIGINT NOT NULL,
    uploaded_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, hash)
);

-- A letter is in exactly one place: holder_id. state says how it got there.
CREATE TABLE letters (
    id           UUID PRIMARY KEY,
    sender_id    UUID NOT NULL REFERENCES accounts (id),
    recipient_id UUID NOT NULL REFERENCES accounts (id),
    holder_id    UUID NOT NULL REFERENCES accounts (id),
    client_id    TEXT,                     -- the sender's id for it (idempotency key)
    thread_id    UUID NOT NULL,            -- the first letter of the thread
    in_reply_to  UUID REFERENCES letters (id),
    body         TEXT NOT NULL,
    state        TEXT NOT NULL,            -- unread | read | returned
    sent_at      BIGINT NOT NULL,
    delivered_at BIGINT,                  -- the recipient's client first had it
    read_at      BIGINT,
    returned_at  BIGINT,
    UNIQUE (sender_id, client_id)
);
CREATE INDEX letters_by_holder ON letters (holder_id, sent_at);
CREATE INDEX letters_by_sender ON letters (sender_id, sent_at);
CREATE INDEX letters_by_thread ON letters (thread_id, sent_at);

CREATE TABLE letter_parcels (
    letter_id UUID NOT NULL REFERENCES letters (id),
    idx       BIGINT NOT NULL,
    name      TEXT NOT NULL,
    hash      TEXT NOT NULL,
    size      BIGINT NOT NULL,
    PRIMARY KEY (letter_id, idx)
);

-- Who may summon whom: grantor allows grantee to summon them.
CREATE TABLE summon_permissions (
    grantor_id UUID NOT NULL REFERENCES accounts (id),
    grantee_id UUID NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (grantor_id, grantee_id)
);

CREATE TABLE summons (
    id          UUID PRIMARY KEY,
    summoner_id UUID NOT NULL REFERENCES accounts (id),
    summoned_id UUID NOT NULL REFERENCES accounts (id),
    state       TEXT NOT NULL,             -- calling | accepted | declined | ended | arrived
    lat         DOUBLE PRECISION NOT NULL,             -- where the summoner called from
    lon         DOUBLE PRECISION NOT NULL,
    accuracy_m  DOUBLE PRECISION NOT NULL,
    created_at  BIGINT NOT NULL,
    answered_at BIGINT,
    ended_at    BIGINT,
    ended_by    UUID REFERENCES accounts (id)
);
CREATE INDEX summons_open ON summons (summoned_id, summoner_id) WHERE state IN ('calling', 'accepted');
