-- 002_run_steps_detail.sql (PostgreSQL) — db/002_run_steps_detail.sql in PostgreSQL's
-- dialect: a run's offline experiment, stop reason and winner; per step its provider calls,
-- attempts, propensity and emotion. Columns only, with NULL or constant defaults.

ALTER TABLE runs ADD COLUMN experiment_id BIGINT REFERENCES experiments (id);
ALTER TABLE runs ADD COLUMN stop_reason TEXT;
ALTER TABLE runs ADD COLUMN winner_arm_id BIGINT REFERENCES arms (id);

ALTER TABLE run_steps ADD COLUMN calls BIGINT NOT NULL DEFAULT 0;
ALTER TABLE run_steps ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE run_steps ADD COLUMN propensity DOUBLE PRECISION;
ALTER TABLE run_steps ADD COLUMN emotion TEXT;
