-- 002_run_steps_detail.sql — what bandit-run needs to resume a run and name its winner: the
-- offline experiment a run draws its arms from, why it stopped (finished, budget,
-- interrupted, failed) and the arm it found best; per step the provider calls it cost, how
-- many times it was attempted and the propensity of its arm choice (for replay and IPS).
-- Columns only, with NULL or constant defaults, so rows written by 001 stay valid.

ALTER TABLE runs ADD COLUMN experiment_id INTEGER REFERENCES experiments (id);
ALTER TABLE runs ADD COLUMN stop_reason TEXT;
ALTER TABLE runs ADD COLUMN winner_arm_id INTEGER REFERENCES arms (id);

ALTER TABLE run_steps ADD COLUMN calls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_steps ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_steps ADD COLUMN propensity REAL;
ALTER TABLE run_steps ADD COLUMN emotion TEXT;
