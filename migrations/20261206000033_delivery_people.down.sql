SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- squawk-ignore ban-drop-function
DROP AGGREGATE p360_people(int4[]);
-- squawk-ignore ban-drop-function
DROP FUNCTION p360_people_union(int4[], int4[]);
-- squawk-ignore ban-drop-function
DROP FUNCTION p360_people_sketch(int4[]);
-- squawk-ignore ban-drop-column
ALTER TABLE delivery_accounts DROP COLUMN people;
-- squawk-ignore ban-drop-column
ALTER TABLE delivery_cells DROP COLUMN people;
-- squawk-ignore ban-drop-column
ALTER TABLE delivery_daily DROP COLUMN people;
