-- A change to what a live campaign spends by (budget, flight, daily cap,
-- pacing) waits here for approval while the approved values stay in their
-- columns and keep running in TTD: approval copies it over, rejection drops
-- it. Shape: {"budget_micros", "daily_cap_micros", "flight", "pacing" (each
-- only when changed), "by" (the maker), "at" (when submitted)}.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE campaigns ADD COLUMN pending jsonb;
