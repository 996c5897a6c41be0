-- Pending ad group changes are dropped (never approved, never run); a
-- proposed ad group stays archived.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- squawk-ignore ban-drop-column
ALTER TABLE ad_groups DROP COLUMN pending;
