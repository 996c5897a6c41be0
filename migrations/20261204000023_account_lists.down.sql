-- Account lists are customers' uploads: dropping them loses what was
-- uploaded since; the universe's generation is rebuilt on the next import.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- squawk-ignore ban-drop-table
DROP TABLE account_list_rows;
-- squawk-ignore ban-drop-table
DROP TABLE account_lists;
-- squawk-ignore ban-drop-table
DROP TABLE company_universe;
