-- A large file's rows are inserted on two connections at once (both cores
-- busy in PostgreSQL): the helper's transaction commits its half before
-- the ingest's transaction records the file. Until then the helper's rows
-- name a file no delivery_files row does; delivery_loading says so, and
-- the ingest's transaction deletes the note as it records the file. A
-- note left behind (the ingest failed after the helper committed) tells
-- the merge which rows to delete: nothing reads a file's rows without its
-- delivery_files row.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE delivery_loading (
    file_id uuid PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE delivery_loading ENABLE ROW LEVEL SECURITY;
ALTER TABLE delivery_loading FORCE ROW LEVEL SECURITY;
-- The platform's (the feed is every tenant's): staff and system only.
CREATE POLICY delivery_loading_system ON delivery_loading
    USING ((SELECT p360_all_tenants_visible()));
GRANT SELECT, INSERT, DELETE ON delivery_loading TO p360_app;

-- The per-file rows' policies as sub-selects the planner evaluates once
-- per statement (as migration 31 did for the merged tables), instead of
-- once for every row an ingest inserts.
DROP POLICY delivery_daily_tenant ON delivery_daily;
CREATE POLICY delivery_daily_tenant ON delivery_daily
    USING ((SELECT p360_all_tenants_visible()) OR tenant_id = ANY ((SELECT p360_visible_tenant_ids())::uuid[]));
DROP POLICY delivery_hourly_tenant ON delivery_hourly;
CREATE POLICY delivery_hourly_tenant ON delivery_hourly
    USING ((SELECT p360_all_tenants_visible()) OR tenant_id = ANY ((SELECT p360_visible_tenant_ids())::uuid[]));
