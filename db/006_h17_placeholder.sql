-- 006_h17_placeholder.sql — a placeholder so that migration 008 (prompt lineage) applies in
-- branch h17, whose migrations must run 1, 2, 3...: 006 belongs to another branch. DELETE THIS
-- FILE AT MERGE (the real 006 takes its place). No statement.
SELECT 1;
