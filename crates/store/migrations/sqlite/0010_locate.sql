-- "Where are you now?" (issue 17): a partner's ask for a fresh position, one row per
-- asker (the time of their last ask limits how often they may ask). `pending` stays 1
-- until the asked partner's OwnTracks app has been told once to report its location.
CREATE TABLE locate_asks (
    asker_id TEXT NOT NULL PRIMARY KEY REFERENCES accounts (id),
    asked_id TEXT NOT NULL REFERENCES accounts (id),
    asked_at INTEGER NOT NULL,
    pending  INTEGER NOT NULL
);
CREATE INDEX locate_asks_pending ON locate_asks (asked_id) WHERE pending = 1;
