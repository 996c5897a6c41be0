-- Surge weeks are partner data: ingest the files again after going back up.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- squawk-ignore ban-drop-table
DROP TABLE intent_topics;
-- squawk-ignore ban-drop-table
DROP TABLE surge_weeks;
-- squawk-ignore ban-drop-table
DROP TABLE surge_files;
