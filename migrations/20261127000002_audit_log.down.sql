SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- squawk-ignore ban-drop-table
DROP TABLE audit_events;
-- squawk-ignore ban-drop-table
DROP TABLE audit_chains;
-- squawk-ignore ban-drop-function
DROP FUNCTION p360_audit_append_only();
