-- The bond, end to end. Times are Unix milliseconds; ids are UUIDv7 text.
CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    name_key      TEXT NOT NULL UNIQUE,          -- lowercase name, for uniqueness
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    delivered_seq INTEGER NOT NULL DEFAULT 0     -- the link resumes after this
);

CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,                 -- SHA-256 of the bearer token
    account_id TEXT NOT NULL REFERENCES accounts (id),
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE invites (
    code       TEXT PRIMARY KEY,                 -- normalised: 8 characters, no dash
    account_id TEXT NOT NULL REFERENCES accounts (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE bonds (
    id         TEXT PRIMARY KEY,
    a          TEXT NOT NULL REFERENCES accounts (id),  -- who invited
    b          TEXT NOT NULL REFERENCES accounts (id),  -- who accepted
    profile    TEXT NOT NULL,
    open_tiers INTEGER NOT NULL,                 -- TierSet bits, for hysteresis across restarts
    created_at INTEGER NOT NULL,
    ended_at   INTEGER
);

-- One row per bonded account: the primary key is what makes a bond one-to-one.
CREATE TABLE bond_members (
    account_id TEXT PRIMARY KEY REFERENCES accounts (id),
    bond_id    TEXT NOT NULL REFERENCES bonds (id)
);

CREATE TABLE positions (
    account_id  TEXT PRIMARY KEY REFERENCES accounts (id),
    lat         REAL NOT NULL,
    lon         REAL NOT NULL,
    accuracy_m  REAL NOT NULL,
    at          INTEGER NOT NULL,                -- when the fix was taken
    received_at INTEGER NOT NULL                 -- when the server heard it
);

CREATE TABLE messages (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused
    bond_id         TEXT NOT NULL REFERENCES bonds (id),
    sender_id       TEXT NOT NULL REFERENCES accounts (id),
    client_id       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    body            TEXT,
    feeling         TEXT,
    sent_at         INTEGER NOT NULL,
    acknowledged_at INTEGER,
    UNIQUE (sender_id, client_id)
);
CREATE INDEX messages_by_bond ON messages (bond_id, seq);
