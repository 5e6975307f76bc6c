-- Pause (issue 17): a person's latest pause of sharing, from `since_ms` until `until_ms`
-- (NULL: until they resume; resuming sets it to that moment). A pause whose `until_ms`
-- has passed is over; the row stays, so a position stored before it is known as such.
CREATE TABLE pauses (
    account_id UUID PRIMARY KEY REFERENCES accounts (id),
    since_ms   BIGINT NOT NULL,
    until_ms   BIGINT
);
