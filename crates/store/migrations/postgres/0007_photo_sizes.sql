-- The size of each journal photo as uploaded, so a citizen's pictures and journal photos
-- can be held to `picture_quota_bytes` (hardening finding 8). Photos stored before this
-- count as 0 bytes.
ALTER TABLE memories ADD COLUMN photo_size BIGINT NOT NULL DEFAULT 0;
