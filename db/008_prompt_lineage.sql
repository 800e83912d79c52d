-- 008_prompt_lineage.sql — issue 17: `bandit-run evolve` (src/offline/evolve.c, src/store/lineage.c):
-- each generation of an evolve run (a runs row of kind 'evolve') with the prompt it started
-- from, the offline run that screened its candidates and the provider calls its proposal
-- cost; and each prompt's lineage: the generation that made it, its parent, and the evidence
-- of the verdict (rewards, mean, the GLR statistic of the generation's leader against it and
-- the threshold it was held to). New tables only: no existing row changes.

CREATE TABLE evolve_generations (
    evolve_run_id   INTEGER NOT NULL REFERENCES runs(id),
    generation      INTEGER NOT NULL,
    incumbent       TEXT NOT NULL,
    screen_run_id   INTEGER REFERENCES runs(id),
    propose_calls   INTEGER NOT NULL DEFAULT 0,
    status          TEXT NOT NULL,  -- proposed, screening, decided
    winner          TEXT,           -- the incumbent after the verdict
    identified      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (evolve_run_id, generation)
);

CREATE TABLE prompt_lineage (
    evolve_run_id   INTEGER NOT NULL REFERENCES runs(id),
    generation      INTEGER NOT NULL,
    name            TEXT NOT NULL,
    prompt          TEXT NOT NULL,
    parent          TEXT,           -- NULL for the seed prompts
    verdict         TEXT NOT NULL,  -- pending, incumbent, admitted, kept, superseded, retired, undecided
    samples         INTEGER NOT NULL DEFAULT 0,
    mean            REAL,
    glr             REAL,
    threshold       REAL,
    PRIMARY KEY (evolve_run_id, generation, name)
);

-- The live judge (src/service/livejudge.c): a sample of live answers scored by the judge, a
-- reward source of its own kept apart from the rewards table, so it never moves the live
-- bandit unless judge.live_feeds_bandit says so (then a reward of source 'judge' is stored
-- too). One score per impression.
CREATE TABLE live_judge_scores (
    impression_id   INTEGER PRIMARY KEY,
    experiment_id   INTEGER NOT NULL,
    arm_id          INTEGER NOT NULL,
    judge           TEXT NOT NULL,
    score           REAL NOT NULL CHECK (score BETWEEN -1 AND 1),
    created_at      REAL NOT NULL
);
CREATE INDEX live_judge_scores_experiment ON live_judge_scores (experiment_id, arm_id);
