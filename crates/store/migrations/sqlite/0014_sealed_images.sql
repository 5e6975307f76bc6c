-- A private bond's pictures (issue 20): the sender's device made each rendition, sealed
-- it, and sent them together; the server keeps them as files (`DATA/images/ID/sSIDE.sealed`)
-- and never holds the picture in the clear. `width` and `height` of such an image are
-- both its longest side (its shape is inside the seal), and it has no original.
ALTER TABLE images ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;
