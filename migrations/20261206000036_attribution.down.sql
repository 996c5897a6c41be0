SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- squawk-ignore ban-drop-table
DROP TABLE fx_rates;
-- squawk-ignore ban-drop-table
DROP TABLE attribution_settings;
