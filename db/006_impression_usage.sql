-- 006_impression_usage.sql — what each answered chat turn cost: the upstream model it called and
-- the prompt and completion tokens the provider reported, one row per impression (choose-only
-- impressions have none). Written with the impression in the writer's savepoint
-- (src/store/usage.c); read per arm for the dashboard. Erasing an impression erases its row.

CREATE TABLE impression_usage (
    impression_id     INTEGER PRIMARY KEY REFERENCES impressions (id) ON DELETE CASCADE,
    model             TEXT,
    prompt_tokens     INTEGER NOT NULL CHECK (prompt_tokens >= 0),
    completion_tokens INTEGER NOT NULL CHECK (completion_tokens >= 0)
);
