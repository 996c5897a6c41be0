-- Pending click URLs are dropped (never approved, never shown).
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- squawk-ignore ban-drop-column
ALTER TABLE creatives DROP COLUMN pending_click_url;
