-- Images, camera consent and memories: the PostgreSQL twin of
-- migrations/sqlite/0004_images.sql. The pixels live in files under each node's data
-- directory (see ARCHITECTURE.md: several nodes need that directory shared).
CREATE TABLE images (
    id            UUID PRIMARY KEY,
    bond_id       UUID NOT NULL REFERENCES bonds (id),
    sender_id     UUID NOT NULL REFERENCES accounts (id),
    client_id     TEXT NOT NULL,
    original_type TEXT NOT NULL,
    stripped_type TEXT NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    original_size BIGINT NOT NULL,
    sent_at       BIGINT NOT NULL,
    -- The highest strength of the bond since it was sent; only ever raised.
    seen_strength DOUBLE PRECISION NOT NULL,
    UNIQUE (sender_id, client_id)
);
CREATE INDEX images_by_bond ON images (bond_id, sent_at);

CREATE TABLE camera_consent (
    account_id UUID PRIMARY KEY REFERENCES accounts (id),
    allow      BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE memories (
    id          UUID PRIMARY KEY,
    account_id  UUID NOT NULL REFERENCES accounts (id),
    client_id   TEXT NOT NULL,
    body        TEXT,
    photo_type  TEXT,
    width       INTEGER,
    height      INTEGER,
    created_at  BIGINT NOT NULL,
    shared_bond UUID REFERENCES bonds (id),
    shared_at   BIGINT,
    UNIQUE (account_id, client_id)
);
CREATE INDEX memories_by_account ON memories (account_id, created_at);
