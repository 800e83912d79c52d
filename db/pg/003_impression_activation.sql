-- 003_impression_activation.sql (PostgreSQL) — db/003_impression_activation.sql in
-- PostgreSQL's dialect: when an impression was activated (Unix seconds, NULL when it was
-- activated as it was stored).

ALTER TABLE impressions ADD COLUMN activated_at DOUBLE PRECISION;
