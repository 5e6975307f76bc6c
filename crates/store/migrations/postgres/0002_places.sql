-- Places, the meeting point and the journey: the PostgreSQL twin of
-- migrations/sqlite/0002_places.sql. Times are Unix milliseconds.

-- A person's named places. `inside` is the memory of their hysteresis.
CREATE TABLE places (
    account_id UUID NOT NULL REFERENCES accounts (id),
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL,                    -- lowercase name, for uniqueness
    lat        DOUBLE PRECISION NOT NULL,
    lon        DOUBLE PRECISION NOT NULL,
    radius_m   DOUBLE PRECISION NOT NULL,
    inside     BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, name_key)
);

-- The meeting point a partner pinned (no row: Haurach's suggestion). `reached` holds the
-- bits of the members (1: who invited, 2: who accepted) who have arrived there.
CREATE TABLE meeting_pins (
    bond_id    UUID PRIMARY KEY REFERENCES bonds (id),
    name       TEXT,
    lat        DOUBLE PRECISION NOT NULL,
    lon        DOUBLE PRECISION NOT NULL,
    pinned_by  UUID NOT NULL REFERENCES accounts (id),
    pinned_at  BIGINT NOT NULL,
    reached    INTEGER NOT NULL DEFAULT 0
);

-- Every fix a person sent, kept for the configured number of days: their journey.
CREATE TABLE journey (
    account_id UUID NOT NULL REFERENCES accounts (id),
    at         BIGINT NOT NULL,                  -- when the fix was taken
    lat        DOUBLE PRECISION NOT NULL,
    lon        DOUBLE PRECISION NOT NULL,
    accuracy_m DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (account_id, at)
);
CREATE INDEX journey_by_time ON journey (at);
