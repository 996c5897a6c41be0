SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- squawk-ignore ban-drop-column
ALTER TABLE invoice_lines DROP COLUMN rate_micros;
-- squawk-ignore ban-drop-column
ALTER TABLE invoice_lines DROP COLUMN pricing_model;
