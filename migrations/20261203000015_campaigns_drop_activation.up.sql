-- Contract: campaigns.activation moved to activation's own table
-- (campaign_activations, migration 14). Runs once the version that still
-- wrote it is gone.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- squawk-ignore ban-drop-column
ALTER TABLE campaigns DROP COLUMN activation;
