-- 006 placeholder (PostgreSQL) — db/006_h17_placeholder.sql: empty until the real migration lands.
SELECT 1;
