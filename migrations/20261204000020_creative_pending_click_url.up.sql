-- A new click URL for a creative that live campaigns run waits here, beside
-- the one TTD sends viewers to, until one of those campaigns' pending change
-- (which carries it) is approved or rejected.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE creatives ADD COLUMN pending_click_url text;
