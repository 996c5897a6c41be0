-- Companies' IP ranges are reference data loaded from files: load them again.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- squawk-ignore ban-drop-table
DROP TABLE company_ip_ranges;
