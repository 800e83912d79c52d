-- 004_id_blocks.sql — ids handed out before their row is written. The group-commit writer
-- tells a client an impression's id before the impression is committed (write-behind), so an
-- id must never be handed out twice: not after a crash lost the uncommitted rows, not by two
-- processes on one database. Each writer reserves a block of ids here (committed before it
-- hands any of them out); `next` is the first id nobody has reserved. See docs/STORE.md
-- "Impression ids". New table only: rows written by 001-003 stay valid.

CREATE TABLE id_blocks (
    name TEXT PRIMARY KEY,
    next INTEGER NOT NULL CHECK (next >= 1)
) WITHOUT ROWID;
