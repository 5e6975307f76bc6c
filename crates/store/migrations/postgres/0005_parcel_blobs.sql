-- Parcels' bytes, for a city served by several nodes: every node must reach every parcel,
-- so with PostgreSQL they live here rather than under one node's data directory (where
-- SQLite's single node keeps them, in DATA/parcels). Stored once per content.
CREATE TABLE parcel_blobs (
    hash  TEXT PRIMARY KEY,                      -- SHA-256, lowercase hex
    size  BIGINT NOT NULL,
    bytes BYTEA NOT NULL
);
