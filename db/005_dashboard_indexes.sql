-- 005_dashboard_indexes.sql — what the dashboard's reads need (src/store/dashq.c): a reward's
-- stored answer is found by its impression (examples per arm, "has a stored answer" while
-- caching). Index only: no row changes.

CREATE INDEX messages_impression ON messages (impression_id);
