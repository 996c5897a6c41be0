-- A change to an ad group of a live campaign waits here, beside the values
-- TTD runs, until the campaign's change is approved or rejected:
-- {"op": "update", "values": {...}} (the proposed money, cap, targeting and
-- creatives), {"op": "archive"}, or {"op": "create"} for an ad group proposed
-- for a live campaign, which is stored archived (so nothing takes it for a
-- running one: the sync, budget sums, an older version) until approved.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE ad_groups ADD COLUMN pending jsonb;
