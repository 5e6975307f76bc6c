-- Web Push (issue 17): the server's VAPID key pair, made once and kept so every node
-- signs with the same key, and the subscriptions of each person's devices.
-- `push_claims` lets exactly one node push a given event when several nodes see it
-- (the first to claim its key sends).
CREATE TABLE push_key (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    private_key TEXT NOT NULL,                       -- base64url of the P-256 scalar
    created_at  BIGINT NOT NULL
);

CREATE TABLE push_subscriptions (
    endpoint   TEXT PRIMARY KEY,
    account_id UUID NOT NULL REFERENCES accounts (id),
    p256dh     TEXT NOT NULL,                        -- base64url, as the browser gave it
    auth       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX push_subscriptions_by_account ON push_subscriptions (account_id, created_at);

CREATE TABLE push_claims (
    key        TEXT PRIMARY KEY,
    claimed_at BIGINT NOT NULL
);
CREATE INDEX push_claims_by_time ON push_claims (claimed_at);
