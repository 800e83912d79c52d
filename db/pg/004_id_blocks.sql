-- 004_id_blocks.sql (PostgreSQL) — db/004_id_blocks.sql in PostgreSQL's dialect: blocks of
-- ids a writer reserves (and commits) before it hands any of them out; `next` is the first id
-- nobody has reserved. SQLite's WITHOUT ROWID has no counterpart and needs none: the table is
-- found by its primary key in both.

CREATE TABLE id_blocks (
    name TEXT PRIMARY KEY,
    next BIGINT NOT NULL CHECK (next >= 1)
);
