SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- squawk-ignore ban-drop-table
DROP TABLE campaign_activations;
-- squawk-ignore ban-drop-table
DROP TABLE event_consumers;
-- squawk-ignore require-concurrent-index-deletion
DROP INDEX domain_events_relay_idx;
-- squawk-ignore ban-drop-column
ALTER TABLE domain_events DROP COLUMN tx_id;
-- squawk-ignore ban-drop-column
ALTER TABLE campaigns DROP COLUMN first_approved_at;
