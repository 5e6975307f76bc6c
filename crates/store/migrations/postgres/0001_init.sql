-- The bond, end to end: the PostgreSQL twin of migrations/sqlite/0001_init.sql.
-- Times are Unix milliseconds; ids are UUIDv7.
CREATE TABLE accounts (
    id            UUID PRIMARY KEY,
    name          TEXT NOT NULL,
    name_key      TEXT NOT NULL UNIQUE,          -- lowercase name, for uniqueness
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    delivered_seq BIGINT NOT NULL DEFAULT 0      -- the link resumes after this
);

CREATE TABLE sessions (
    token_hash BYTEA PRIMARY KEY,                -- SHA-256 of the bearer token
    account_id UUID NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE invites (
    code       TEXT PRIMARY KEY,                 -- normalised: 8 characters, no dash
    account_id UUID NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX invites_by_account ON invites (account_id);

CREATE TABLE bonds (
    id         UUID PRIMARY KEY,
    a          UUID NOT NULL REFERENCES accounts (id),  -- who invited
    b          UUID NOT NULL REFERENCES accounts (id),  -- who accepted
    profile    TEXT NOT NULL,
    open_tiers INTEGER NOT NULL,                 -- TierSet bits, for hysteresis across restarts
    created_at BIGINT NOT NULL,
    ended_at   BIGINT
);

-- One row per bonded account: the primary key is what makes a bond one-to-one.
CREATE TABLE bond_members (
    account_id UUID PRIMARY KEY REFERENCES accounts (id),
    bond_id    UUID NOT NULL REFERENCES bonds (id)
);
CREATE INDEX bond_members_by_bond ON bond_members (bond_id);

CREATE TABLE positions (
    account_id  UUID PRIMARY KEY REFERENCES accounts (id),
    lat         DOUBLE PRECISION NOT NULL,
    lon         DOUBLE PRECISION NOT NULL,
    accuracy_m  DOUBLE PRECISION NOT NULL,
    at          BIGINT NOT NULL,                 -- when the fix was taken
    received_at BIGINT NOT NULL                  -- when the server heard it
);

-- seq comes from one sequence for the whole city. Appends to a bond hold that bond's row
-- lock until they commit, so within a bond seq order is commit order: a reader resuming
-- "after seq N" never misses a message committed later with a smaller seq.
CREATE TABLE messages (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bond_id         UUID NOT NULL REFERENCES bonds (id),
    sender_id       UUID NOT NULL REFERENCES accounts (id),
    client_id       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    body            TEXT,
    feeling         TEXT,
    sent_at         BIGINT NOT NULL,
    acknowledged_at BIGINT,
    UNIQUE (sender_id, client_id)
);
CREATE INDEX messages_by_bond ON messages (bond_id, seq);
