-- Places, the meeting point and the journey. Times are Unix milliseconds.

-- A person's named places. `inside` is the memory of their hysteresis: whether the owner
-- was inside at their last fix, so a restart neither repeats nor loses an arrival.
CREATE TABLE places (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL,                    -- lowercase name, for uniqueness
    lat        REAL NOT NULL,
    lon        REAL NOT NULL,
    radius_m   REAL NOT NULL,
    inside     INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, name_key)
) WITHOUT ROWID;

-- The meeting point a partner pinned (no row: Haurach's suggestion). `reached` holds the
-- bits of the members (1: who invited, 2: who accepted) who have arrived there.
CREATE TABLE meeting_pins (
    bond_id    TEXT PRIMARY KEY REFERENCES bonds (id),
    name       TEXT,
    lat        REAL NOT NULL,
    lon        REAL NOT NULL,
    pinned_by  TEXT NOT NULL REFERENCES accounts (id),
    pinned_at  INTEGER NOT NULL,
    reached    INTEGER NOT NULL DEFAULT 0
);

-- Every fix a person sent (at most one per 250 ms, the position writer's batch),
-- kept for the configured number of days: their journey, exported as GPX.
CREATE TABLE journey (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    at         INTEGER NOT NULL,                 -- when the fix was taken
    lat        REAL NOT NULL,
    lon        REAL NOT NULL,
    accuracy_m REAL NOT NULL,
    PRIMARY KEY (account_id, at)
) WITHOUT ROWID;
CREATE INDEX journey_by_time ON journey (at);
