-- Landings are forgotten: an announcement delivered again after this queues
-- its job again (the jobs it became are idempotent per file).
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- squawk-ignore ban-drop-table
DROP TABLE file_landings;
