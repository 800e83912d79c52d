-- 007_run_step_reason.sql — why the judge gave a step its score: the LLM judge answers
-- {"score": LEVEL, "reason": "..."} (docs/JUDGE.md) and bandit-run keeps the reason with the
-- step, so the report's and the dashboard's example answers show it. NULL for steps scored
-- without one (the local and constant judges, a bare-number answer, rows written before 007).
-- Column only, NULL default, so rows written by 001-006 stay valid.

ALTER TABLE run_steps ADD COLUMN reason TEXT;
