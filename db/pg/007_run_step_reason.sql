-- 007_run_step_reason.sql (PostgreSQL) — db/007_run_step_reason.sql in PostgreSQL's dialect:
-- why the judge gave a step its score. Column only, NULL default.

ALTER TABLE run_steps ADD COLUMN reason TEXT;
