SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- squawk-ignore ban-drop-function
DROP FUNCTION delivery_month_partitions(date);
-- squawk-ignore ban-drop-table
DROP TABLE delivery_hourly;
-- squawk-ignore ban-drop-table
DROP TABLE delivery_daily;
-- squawk-ignore ban-drop-table
DROP TABLE delivery_files;
