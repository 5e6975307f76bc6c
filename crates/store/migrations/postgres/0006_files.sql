-- Pictures' and journals' files for a city served by several nodes, named by their path
-- under a node's data directory (`images/ID/full.jpg`, `memories/ID/photo.jpg`): every
-- node must reach every picture. One node on SQLite keeps them as files instead.
CREATE TABLE files (
    name  TEXT PRIMARY KEY,
    bytes BYTEA NOT NULL
);
