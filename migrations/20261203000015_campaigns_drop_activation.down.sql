-- Bring the column back, filled from activation's table, for a version
-- that still reads it.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE campaigns ADD COLUMN activation jsonb;
UPDATE campaigns c SET activation = jsonb_build_object(
    'status', a.status, 'generation', a.generation, 'ttd', a.ttd,
    'last_error', a.last_error, 'synced_at', a.synced_at, 'requested_at', a.requested_at)
FROM campaign_activations a WHERE a.campaign_id = c.id;
