-- 009_replicas.sql — issue 19, several `serve` processes (replicas) on one database. Each
-- replica polls what the others wrote (docs/SERVICE.md "Replicas"):
--   rewards.origin  the replica id of the process that wrote the reward (NULL: written before
--                   this migration, by the CLI, or by a background job); diagnostics only —
--                   replicas deduplicate rewards by id, not by origin.
--   replica_events  what a replica changed that others must apply to their memory: 'erase'
--                   (a user was erased: subject is the SHA-256 of the stored user key, never
--                   the key; rows are purged after replica.event_keep_s) and 'reload' (an
--                   admin change to an experiment: subject is its name).
--   user_arms       assign.mode user: the arm a user keeps in an experiment until expires_at,
--                   shared by every replica (it was in one process's memory before); erased
--                   with the user.
--   job_runs        when each background job (retention, reward wait sweep) last ran, so that
--                   it runs once per interval whichever replica's timer fires first.
-- New column (nullable) and new tables only: existing rows stay valid.

ALTER TABLE rewards ADD COLUMN origin TEXT;

CREATE TABLE replica_events (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('erase', 'reload')),
    subject    TEXT NOT NULL,
    origin     TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX replica_events_created ON replica_events (created_at);

CREATE TABLE user_arms (
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    experiment_id INTEGER NOT NULL,
    arm_id        INTEGER NOT NULL,
    expires_at    REAL NOT NULL,
    PRIMARY KEY (user_id, experiment_id)
);

CREATE TABLE job_runs (
    name        TEXT PRIMARY KEY,
    last_run_at REAL NOT NULL,
    origin      TEXT NOT NULL
);
