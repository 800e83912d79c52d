-- 007 placeholder (PostgreSQL) — db/007_h17_placeholder.sql: empty until the real migration lands.
SELECT 1;
