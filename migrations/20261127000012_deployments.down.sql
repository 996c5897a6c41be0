SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- squawk-ignore ban-drop-table
DROP TABLE deployment_events;
-- squawk-ignore ban-drop-table
DROP TABLE deployments;
