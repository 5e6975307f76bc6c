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
