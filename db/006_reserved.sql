-- 006_reserved.sql — a placeholder: number 006 belongs to another branch (the
-- OpenAI-compatible endpoint's migration). Migrations must be numbered without gaps, so this
-- branch carries an empty 006 to apply its 007; delete this file when the real 006 is merged.
SELECT 1;
