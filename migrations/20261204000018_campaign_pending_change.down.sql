-- Pending changes are dropped (they were never approved: nothing ran them).
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- squawk-ignore ban-drop-column
ALTER TABLE campaigns DROP COLUMN pending;
