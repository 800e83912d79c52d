-- 003_impression_activation.sql — when an impression was activated (shown). A `choose` with
-- "activate": false stores activated = 0; POST /v1/impressions/{id}/activate sets activated
-- and activated_at. The reward wait time (rewards.wait_s) counts from activated_at, or from
-- created_at for impressions activated when stored. Column only, NULL default, so rows
-- written by 001 stay valid.

ALTER TABLE impressions ADD COLUMN activated_at REAL;
