-- People reached: each rollup row's TDIDs as a K-minimum-values sketch (the
-- 128 smallest distinct 32-bit hashes, sorted; delivery::people). Exact
-- below 128 people, an estimate above; sketches of rows merge by union, so
-- a report adds them up over any grouping as it adds sums.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- 32-bit hashes on purpose: a sketch's size, not a count that grows.
-- squawk-ignore prefer-bigint-over-int
ALTER TABLE delivery_daily ADD COLUMN people int4[] NOT NULL DEFAULT '{}';
-- squawk-ignore prefer-bigint-over-int
ALTER TABLE delivery_cells ADD COLUMN people int4[] NOT NULL DEFAULT '{}';
-- squawk-ignore prefer-bigint-over-int
ALTER TABLE delivery_accounts ADD COLUMN people int4[] NOT NULL DEFAULT '{}';

-- The sketch of a set of hashes: its 128 smallest distinct, sorted.
CREATE FUNCTION p360_people_sketch(hashes int4[]) RETURNS int4[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(h ORDER BY h), '{}')
    FROM (SELECT DISTINCT h FROM unnest(hashes) AS u(h) ORDER BY h LIMIT 128) s
$$;
-- Two sketches merged (a row updated by the merge).
CREATE FUNCTION p360_people_union(a int4[], b int4[]) RETURNS int4[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN cardinality(b) = 0 THEN a
                WHEN cardinality(a) = 0 THEN b
                ELSE p360_people_sketch(a || b) END
$$;
-- Sketches of a group merged: concatenated, then cut once.
CREATE AGGREGATE p360_people(int4[]) (
    SFUNC = array_cat,
    STYPE = int4[],
    INITCOND = '{}',
    FINALFUNC = p360_people_sketch,
    PARALLEL = SAFE
);
GRANT EXECUTE ON FUNCTION p360_people_sketch(int4[]) TO p360_app;
GRANT EXECUTE ON FUNCTION p360_people_union(int4[], int4[]) TO p360_app;
GRANT EXECUTE ON FUNCTION p360_people(int4[]) TO p360_app;
