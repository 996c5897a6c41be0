-- What was sent to TTD is forgotten: the next sync of each audience sends
-- its whole segment again (same name: TTD keeps one copy of each range) and
-- creates new data groups (the old ones stay in TTD, unused).
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- The version before maps no data groups nor audiences.
DELETE FROM ttd_objects WHERE object_type IN ('data_group', 'audience');
-- One row per TTD object (small), and lock_timeout bounds the wait.
-- squawk-ignore ban-drop-constraint
ALTER TABLE ttd_objects DROP CONSTRAINT ttd_objects_type;
ALTER TABLE ttd_objects ADD CONSTRAINT ttd_objects_type
    CHECK (object_type IN ('advertiser', 'campaign', 'ad_group', 'creative')) NOT VALID;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE ttd_objects VALIDATE CONSTRAINT ttd_objects_type;

-- squawk-ignore ban-drop-table
DROP TABLE audience_segment_entries;
-- squawk-ignore ban-drop-table
DROP TABLE audience_segments;
