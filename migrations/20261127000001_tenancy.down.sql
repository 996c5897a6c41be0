SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- squawk-ignore ban-drop-table
DROP TABLE api_keys;
-- squawk-ignore ban-drop-table
DROP TABLE staff_assignments;
-- squawk-ignore ban-drop-table
DROP TABLE users;
-- squawk-ignore ban-drop-table
DROP TABLE tenants;
-- squawk-ignore ban-drop-function
DROP FUNCTION p360_tenant_visible(uuid);
