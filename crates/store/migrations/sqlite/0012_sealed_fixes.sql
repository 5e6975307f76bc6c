-- A private bond's sealed positions (issue 20): each partner's latest position as their
-- device rounded and sealed it for the other, kept so a partner who connects later (or
-- after a restart, or on another node) is given it, as a plain bond keeps the latest
-- position to work out the pull. The server cannot open it: it holds no key.
CREATE TABLE sealed_fixes (
    bond_id     TEXT NOT NULL REFERENCES bonds (id),
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    sealed      TEXT NOT NULL,                   -- base64url, as the device sent it
    received_at INTEGER NOT NULL,
    PRIMARY KEY (bond_id, account_id)
);
