-- A private bond (issue 20): the server keeps what it needs to make and gate the bond and
-- nothing that says where the partners are or what they say. An invite is kept by the
-- SHA-256 lookup hash of its secret (the secret itself never reaches the server), with
-- the inviter's device public key; a private bond keeps both devices' public keys and
-- the confirmation tags they relay to each other. No position of a private bond is
-- ever stored: the bond's tiers come from token reports kept in memory only.
CREATE TABLE private_invites (
    lookup     BYTEA PRIMARY KEY,                -- 32 bytes: SHA-256 of the labelled secret
    account_id UUID NOT NULL REFERENCES accounts (id),
    public_key BYTEA NOT NULL,                   -- the inviter's X25519 public key
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX private_invites_by_account ON private_invites (account_id);

CREATE TABLE private_bonds (
    bond_id      UUID PRIMARY KEY REFERENCES bonds (id),
    inviter_key  BYTEA NOT NULL,
    accepter_key BYTEA NOT NULL,
    inviter_tag  BYTEA,                          -- HMAC confirmation tags, as each device sent it
    accepter_tag BYTEA
);
