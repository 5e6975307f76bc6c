-- Images sent between partners. The pixels live in files under DATA/images/ID/ (the
-- original as received, which only its sender can fetch back, the picture stripped of
-- its metadata, and the renditions cut from it); this table says whose they are.
CREATE TABLE images (
    id            TEXT PRIMARY KEY,                      -- UUIDv7
    bond_id       TEXT NOT NULL REFERENCES bonds (id),
    sender_id     TEXT NOT NULL REFERENCES accounts (id),
    client_id     TEXT NOT NULL,                         -- the sender's id for it
    original_type TEXT NOT NULL,                         -- media type as uploaded
    stripped_type TEXT NOT NULL,                         -- image/jpeg, or image/png with alpha
    width         INTEGER NOT NULL,                      -- upright, pixels
    height        INTEGER NOT NULL,
    original_size INTEGER NOT NULL,                      -- bytes
    sent_at       INTEGER NOT NULL,
    -- The highest strength of the bond since it was sent; it sets the receiver's
    -- rendition and is only ever raised, so moving apart never takes back what was seen.
    seen_strength REAL NOT NULL,
    UNIQUE (sender_id, client_id)
);
CREATE INDEX images_by_bond ON images (bond_id, sent_at);

-- Whether a citizen lets their partner glimpse and see through their camera. No row
-- means no: it is off until they turn it on.
CREATE TABLE camera_consent (
    account_id TEXT PRIMARY KEY REFERENCES accounts (id),
    allow      INTEGER NOT NULL,                       -- 0 or 1
    updated_at INTEGER NOT NULL
);

-- Each citizen's private journal: words, or a photo (its files under DATA/memories/ID/).
-- An entry opens to the partner of a bond when the two are together (within the
-- memories range); `shared_bond` and `shared_at` record that, and it stays shared.
CREATE TABLE memories (
    id          TEXT PRIMARY KEY,                         -- UUIDv7
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    client_id   TEXT NOT NULL,
    body        TEXT,                                     -- the words, or a photo's caption
    photo_type  TEXT,                                     -- stripped photo's media type, if a photo
    width       INTEGER,
    height      INTEGER,
    created_at  INTEGER NOT NULL,
    shared_bond TEXT REFERENCES bonds (id),
    shared_at   INTEGER,
    UNIQUE (account_id, client_id)
);
CREATE INDEX memories_by_account ON memories (account_id, created_at);
