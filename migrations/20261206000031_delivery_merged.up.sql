-- Delivery rollups merged for reading. An ingest appends a file's rows to
-- delivery_daily and delivery_hourly (fast, and each file's contribution
-- kept so a correction can take it back exactly); the delivery.merge job
-- then adds them into the tables reports read, one row per cell and day,
-- and takes a replaced file's rows back out. delivery_files.merge_state
-- says where a file is: pending (applied, not merged yet), merged, or done
-- (replaced and taken back, or quarantined: nothing to merge).
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE delivery_files ADD COLUMN merge_state text NOT NULL DEFAULT 'pending'
    CONSTRAINT delivery_files_merge_state CHECK (merge_state IN ('pending', 'merged', 'done'));
-- Before this migration a replaced file's rows were deleted when it was
-- replaced, and a quarantined file has none.
UPDATE delivery_files SET merge_state = 'done' WHERE status <> 'applied';
-- The end of the latest hour a file holds: how far the feed reaches, for
-- pacing (which compares spend and plan there, not at the wall clock) and
-- the late-feed alert.
ALTER TABLE delivery_files ADD COLUMN data_until timestamptz;
-- The start of its earliest hour: which impression files a click file's
-- clicks may have been made on.
ALTER TABLE delivery_files ADD COLUMN data_from timestamptz;
-- A click file's clicks whose impressions were found (the others count on
-- their own campaign and address, ad group and creative unknown).
ALTER TABLE delivery_files ADD COLUMN clicks_joined bigint NOT NULL DEFAULT 0;
-- The merge finds its work without reading every file.
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX delivery_files_merge ON delivery_files (received_at)
    WHERE (status = 'applied' AND merge_state = 'pending')
       OR (status = 'replaced' AND merge_state <> 'done');

-- Row-level security the planner can evaluate once per statement: the
-- visibility settings read by two functions that the policies below call
-- as sub-selects (an init plan), instead of parsing the tenant list again
-- for every row as p360_tenant_visible(tenant_id) does — reports scan tens
-- of thousands of rows (30 ms against 10 ms for a campaign's 90 days).
-- p360_tenant_visible is rewritten on them, so the rule stays in one place.
CREATE FUNCTION p360_all_tenants_visible() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('p360.all_tenants', true), '') = 'on'
$$;
CREATE FUNCTION p360_visible_tenant_ids() RETURNS uuid[]
LANGUAGE sql STABLE AS $$
    SELECT string_to_array(nullif(current_setting('p360.tenant_ids', true), ''), ',')::uuid[]
$$;
GRANT EXECUTE ON FUNCTION p360_all_tenants_visible() TO p360_app;
GRANT EXECUTE ON FUNCTION p360_visible_tenant_ids() TO p360_app;
CREATE OR REPLACE FUNCTION p360_tenant_visible(tenant uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT p360_all_tenants_visible() OR tenant = ANY (p360_visible_tenant_ids())
$$;

-- Day x campaign x ad group x creative x company, every file's sums added.
CREATE TABLE delivery_cells (
    day date NOT NULL,
    tenant_id uuid,
    campaign_id uuid,
    ad_group_id uuid,
    creative_id uuid,
    ttd_campaign text NOT NULL,
    ttd_ad_group text NOT NULL,
    ttd_creative text NOT NULL,
    company text,
    impressions bigint NOT NULL,
    clicks bigint NOT NULL,
    advertiser_cost_micros bigint NOT NULL,
    media_cost_micros bigint NOT NULL
) PARTITION BY RANGE (day);
-- squawk-ignore require-concurrent-index-creation
CREATE UNIQUE INDEX delivery_cells_key ON delivery_cells
    (tenant_id, day, ttd_campaign, ttd_ad_group, ttd_creative, company) NULLS NOT DISTINCT;

-- Day x campaign x company (P360's campaigns only): the account view.
CREATE TABLE delivery_accounts (
    day date NOT NULL,
    tenant_id uuid NOT NULL,
    campaign_id uuid NOT NULL,
    company text,
    impressions bigint NOT NULL,
    clicks bigint NOT NULL,
    advertiser_cost_micros bigint NOT NULL,
    media_cost_micros bigint NOT NULL
) PARTITION BY RANGE (day);
-- squawk-ignore require-concurrent-index-creation
-- The sums ride in the index: the account view reads a campaign's days
-- from it alone (an index-only scan) instead of from heap pages that hold
-- every campaign's rows of each day.
CREATE UNIQUE INDEX delivery_accounts_key ON delivery_accounts
    (tenant_id, campaign_id, day, company)
    INCLUDE (impressions, clicks, advertiser_cost_micros, media_cost_micros) NULLS NOT DISTINCT;

-- A campaign's rollups change only when the merge adds or takes back a
-- file holding it: the version it bumps then lets an instance keep a
-- campaign's days in memory and know when they are stale.
CREATE TABLE delivery_campaign_versions (
    campaign_id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    version bigint NOT NULL
);

-- Campaign x hour: pacing.
CREATE TABLE delivery_campaign_hours (
    hour timestamptz NOT NULL,
    tenant_id uuid,
    campaign_id uuid,
    ttd_campaign text NOT NULL,
    impressions bigint NOT NULL,
    advertiser_cost_micros bigint NOT NULL,
    media_cost_micros bigint NOT NULL
) PARTITION BY RANGE (hour);
-- squawk-ignore require-concurrent-index-creation
CREATE UNIQUE INDEX delivery_campaign_hours_key ON delivery_campaign_hours
    (tenant_id, campaign_id, ttd_campaign, hour) NULLS NOT DISTINCT;

ALTER TABLE delivery_cells ENABLE ROW LEVEL SECURITY;
ALTER TABLE delivery_cells FORCE ROW LEVEL SECURITY;
CREATE POLICY delivery_cells_tenant ON delivery_cells
    USING ((SELECT p360_all_tenants_visible()) OR tenant_id = ANY ((SELECT p360_visible_tenant_ids())::uuid[]));
ALTER TABLE delivery_accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE delivery_accounts FORCE ROW LEVEL SECURITY;
CREATE POLICY delivery_accounts_tenant ON delivery_accounts
    USING ((SELECT p360_all_tenants_visible()) OR tenant_id = ANY ((SELECT p360_visible_tenant_ids())::uuid[]));
ALTER TABLE delivery_campaign_hours ENABLE ROW LEVEL SECURITY;
ALTER TABLE delivery_campaign_hours FORCE ROW LEVEL SECURITY;
CREATE POLICY delivery_campaign_hours_tenant ON delivery_campaign_hours
    USING ((SELECT p360_all_tenants_visible()) OR tenant_id = ANY ((SELECT p360_visible_tenant_ids())::uuid[]));
ALTER TABLE delivery_campaign_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE delivery_campaign_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY delivery_campaign_versions_tenant ON delivery_campaign_versions
    USING ((SELECT p360_all_tenants_visible()) OR tenant_id = ANY ((SELECT p360_visible_tenant_ids())::uuid[]));
GRANT SELECT, INSERT, UPDATE ON delivery_campaign_versions TO p360_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON delivery_cells TO p360_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON delivery_accounts TO p360_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON delivery_campaign_hours TO p360_app;

-- A tenant's reporting rules: when a reached account counts as engaged (at
-- least this many clicks, or at least this many impressions) and how far
-- from plan a campaign may pace before it is flagged (percent).
CREATE TABLE delivery_settings (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id),
    engaged_min_clicks bigint NOT NULL DEFAULT 1
        CONSTRAINT delivery_settings_clicks CHECK (engaged_min_clicks BETWEEN 1 AND 1000000),
    engaged_min_impressions bigint NOT NULL DEFAULT 10
        CONSTRAINT delivery_settings_impressions CHECK (engaged_min_impressions BETWEEN 1 AND 1000000),
    pacing_tolerance_pct bigint NOT NULL DEFAULT 20
        CONSTRAINT delivery_settings_tolerance CHECK (pacing_tolerance_pct BETWEEN 1 AND 100),
    version bigint NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE delivery_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE delivery_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY delivery_settings_tenant ON delivery_settings
    USING ((SELECT p360_all_tenants_visible()) OR tenant_id = ANY ((SELECT p360_visible_tenant_ids())::uuid[]));
GRANT SELECT, INSERT, UPDATE ON delivery_settings TO p360_app;

-- The business alerts the delivery watch raises: a campaign pacing under
-- or over plan beyond the tenant's tolerance, a live campaign without
-- delivery for 24 hours, the feed late (no file for hours: the platform's,
-- no tenant). One open alert per (tenant, campaign, kind); it is resolved
-- when the condition clears. notified_at: the webhook took it.
CREATE TABLE delivery_alerts (
    id uuid PRIMARY KEY,
    tenant_id uuid REFERENCES tenants (id),
    campaign_id uuid,
    kind text NOT NULL CONSTRAINT delivery_alerts_kind
        CHECK (kind IN ('under_pacing', 'over_pacing', 'no_delivery', 'feed_late')),
    detail jsonb NOT NULL DEFAULT '{}',
    opened_at timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    notified_at timestamptz
);
-- squawk-ignore require-concurrent-index-creation
CREATE UNIQUE INDEX delivery_alerts_open ON delivery_alerts (tenant_id, campaign_id, kind)
    NULLS NOT DISTINCT WHERE resolved_at IS NULL;
ALTER TABLE delivery_alerts ENABLE ROW LEVEL SECURITY;
ALTER TABLE delivery_alerts FORCE ROW LEVEL SECURITY;
CREATE POLICY delivery_alerts_tenant ON delivery_alerts
    USING ((SELECT p360_all_tenants_visible()) OR tenant_id = ANY ((SELECT p360_visible_tenant_ids())::uuid[]));
GRANT SELECT, INSERT, UPDATE ON delivery_alerts TO p360_app;

-- A month's partitions of every delivery table.
CREATE OR REPLACE FUNCTION delivery_month_partitions(day date) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    first date := date_trunc('month', day)::date;
    next date := (date_trunc('month', day) + interval '1 month')::date;
    suffix text := to_char(first, 'YYYY_MM');
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['delivery_daily', 'delivery_cells', 'delivery_accounts'] LOOP
        IF to_regclass(t || '_' || suffix) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                t || '_' || suffix, t, first, next);
        END IF;
    END LOOP;
    FOREACH t IN ARRAY ARRAY['delivery_hourly', 'delivery_campaign_hours'] LOOP
        IF to_regclass(t || '_' || suffix) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                t || '_' || suffix, t,
                first::timestamp AT TIME ZONE 'UTC', next::timestamp AT TIME ZONE 'UTC');
        END IF;
    END LOOP;
END
$$;
