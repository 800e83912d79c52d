-- 001_init.sql — the first schema: experiments and their arms (prompt versions), users and
-- conversations, impressions and their rewards, consented messages, offline runs and judge
-- evaluations. Times are Unix seconds (REAL). Applied by store.c inside one transaction;
-- later changes go into new numbered files, never into this one.

CREATE TABLE experiments (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    kind            TEXT NOT NULL CHECK (kind IN ('live', 'offline')),
    policy          TEXT NOT NULL,
    policy_params   TEXT,                       -- JSON object or NULL
    status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    promoted_arm_id INTEGER REFERENCES arms (id),
    created_at      REAL NOT NULL
);
-- A name belongs to one active experiment; archived ones keep their name as history.
CREATE UNIQUE INDEX experiments_active_name ON experiments (name) WHERE status = 'active';

CREATE TABLE arms (
    id            INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments (id),
    name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 32),
    version       INTEGER NOT NULL CHECK (version >= 1),
    prompt        TEXT NOT NULL,
    content_hash  TEXT NOT NULL,                -- sha256 hex of prompt
    source_path   TEXT,
    created_at    REAL NOT NULL,
    retired_at    REAL,
    UNIQUE (experiment_id, content_hash),
    UNIQUE (experiment_id, name, version)
);

CREATE TABLE users (
    id         TEXT PRIMARY KEY,               -- possibly pseudonymised
    consent    INTEGER NOT NULL DEFAULT 0 CHECK (consent IN (0, 1)),
    created_at REAL NOT NULL
);

CREATE TABLE conversations (
    id            TEXT PRIMARY KEY,
    user_id       TEXT REFERENCES users (id) ON DELETE CASCADE,
    experiment_id INTEGER NOT NULL REFERENCES experiments (id),
    arm_id        INTEGER NOT NULL REFERENCES arms (id), -- sticky arm
    segment       TEXT,
    created_at    REAL NOT NULL
);
CREATE INDEX conversations_user ON conversations (user_id);

CREATE TABLE impressions (
    id              INTEGER PRIMARY KEY,
    experiment_id   INTEGER NOT NULL REFERENCES experiments (id),
    arm_id          INTEGER NOT NULL REFERENCES arms (id),
    user_id         TEXT REFERENCES users (id) ON DELETE SET NULL,
    conversation_id TEXT REFERENCES conversations (id) ON DELETE SET NULL,
    segment         TEXT,
    context         TEXT,                       -- JSON or NULL
    propensity      REAL CHECK (propensity IS NULL OR (propensity > 0 AND propensity <= 1)),
    activated       INTEGER NOT NULL DEFAULT 1 CHECK (activated IN (0, 1)),
    created_at      REAL NOT NULL
);
CREATE INDEX impressions_experiment ON impressions (experiment_id, arm_id);
CREATE INDEX impressions_user ON impressions (user_id);
CREATE INDEX impressions_conversation ON impressions (conversation_id);

-- Each source counts once per impression; event ids make client retries idempotent.
CREATE TABLE rewards (
    id            INTEGER PRIMARY KEY,
    impression_id INTEGER NOT NULL REFERENCES impressions (id),
    source        TEXT NOT NULL CHECK (length(source) BETWEEN 1 AND 32),
    value         REAL NOT NULL CHECK (value BETWEEN -1 AND 1),
    event_id      TEXT UNIQUE,
    created_at    REAL NOT NULL,
    detail        TEXT,                         -- JSON or NULL
    UNIQUE (impression_id, source)
);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    impression_id   INTEGER REFERENCES impressions (id),
    role            TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content         TEXT NOT NULL,
    created_at      REAL NOT NULL
);
CREATE INDEX messages_conversation ON messages (conversation_id, id);
CREATE INDEX messages_created ON messages (created_at);

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    config      TEXT,                           -- JSON
    status      TEXT NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'finished', 'failed', 'interrupted')),
    created_at  REAL NOT NULL,
    finished_at REAL
);

CREATE TABLE run_steps (
    run_id     INTEGER NOT NULL REFERENCES runs (id),
    iteration  INTEGER NOT NULL CHECK (iteration >= 0),
    arm_id     INTEGER REFERENCES arms (id),
    scenario   TEXT,
    output     TEXT,
    score      REAL CHECK (score IS NULL OR score BETWEEN -1 AND 1),
    status     TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'pending')),
    error      TEXT,
    tokens     INTEGER NOT NULL DEFAULT 0,
    cost       REAL NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    PRIMARY KEY (run_id, iteration)
);

CREATE TABLE judge_evals (
    id         INTEGER PRIMARY KEY,
    created_at REAL NOT NULL,
    judge_kind TEXT NOT NULL,
    figures    TEXT NOT NULL                    -- JSON object
);
