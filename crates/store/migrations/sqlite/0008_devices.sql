-- Device passwords (issue 17): a password per device (the OwnTracks app) that only posts
-- positions, so the account's own password is not sent with every fix. Kept as the
-- SHA-256 of the password, like a session token (it is 256 random bits the server
-- made, so a slow hash adds nothing); revoking deletes the row.
CREATE TABLE devices (
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    name        TEXT NOT NULL,
    secret_hash BLOB NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, name)
);
