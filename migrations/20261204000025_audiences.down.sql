-- Audiences are rebuilt from their definitions; the definitions themselves
-- are customers' data: dropping them loses what was defined since.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- squawk-ignore ban-drop-table
DROP TABLE audience_changes;
-- squawk-ignore ban-drop-table
DROP TABLE audience_members;
-- squawk-ignore ban-drop-table
DROP TABLE audience_builds;
-- squawk-ignore ban-drop-table
DROP TABLE audiences;
