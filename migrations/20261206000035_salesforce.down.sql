SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- squawk-ignore ban-drop-table
DROP TABLE crm_opportunity_history;
-- squawk-ignore ban-drop-table
DROP TABLE crm_opportunities;
-- squawk-ignore ban-drop-table
DROP TABLE crm_accounts;
-- squawk-ignore ban-drop-table
DROP TABLE salesforce_watermarks;
-- squawk-ignore ban-drop-table
DROP TABLE salesforce_connections;
-- squawk-ignore ban-drop-table
DROP TABLE tenant_data_keys;
