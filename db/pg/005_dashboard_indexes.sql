-- 005_dashboard_indexes.sql (PostgreSQL) — db/005_dashboard_indexes.sql in PostgreSQL's
-- dialect: a reward's stored answer is found by its impression. Index only.

CREATE INDEX messages_impression ON messages (impression_id);
