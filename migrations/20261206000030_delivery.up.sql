-- Delivery: The Trade Desk's raw event feed (REDS) rolled up per account.
--
-- Each feed file ingested is a row of delivery_files, known by where it
-- came from (its object key, or the path an operator named) and the BLAKE3
-- of its bytes: the same file again changes nothing; another file under
-- the same key is a correction that replaces the earlier one's rows
-- exactly (every rollup row names its file); a file that does not read
-- whole is recorded as quarantined with the reason, and nothing of it is
-- applied. A feed file spans the partner's advertisers, so the files are
-- platform records (no tenant); the rollups carry the tenant of their
-- campaign, or none for a TTD campaign P360 does not know (kept, counted,
-- visible to staff only).
--
-- Rollups are partitioned by month; delivery_month_partitions(day) makes a
-- month's partitions when an ingest first needs them (the application's
-- role owns no table, so the function runs as its owner and does only
-- that).
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE delivery_files (
    id uuid PRIMARY KEY,
    source_key text NOT NULL CONSTRAINT delivery_files_key_length CHECK (length(source_key) BETWEEN 1 AND 1024),
    checksum text NOT NULL CONSTRAINT delivery_files_checksum CHECK (checksum ~ '^[0-9a-f]{64}$'),
    kind text NOT NULL CONSTRAINT delivery_files_kind CHECK (kind IN ('impressions', 'clicks')),
    status text NOT NULL CONSTRAINT delivery_files_status CHECK (status IN ('applied', 'replaced', 'quarantined')),
    rows_read bigint NOT NULL DEFAULT 0,
    -- Impressions whose address is in no company's range.
    unresolved bigint NOT NULL DEFAULT 0,
    -- Impressions of TTD campaigns P360 does not know.
    unknown_campaigns bigint NOT NULL DEFAULT 0,
    cells bigint NOT NULL DEFAULT 0,
    reason text,
    received_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT delivery_files_once UNIQUE (source_key, checksum),
    CONSTRAINT delivery_files_quarantined CHECK ((status = 'quarantined') = (reason IS NOT NULL))
);
-- One applied file per key.
-- squawk-ignore require-concurrent-index-creation
CREATE UNIQUE INDEX delivery_files_applied ON delivery_files (source_key) WHERE status = 'applied';
GRANT SELECT, INSERT, UPDATE ON delivery_files TO p360_app;

-- Day x campaign x ad group x creative x company. P360's ids where the
-- activation mapping knows TTD's; TTD's always. company NULL: unresolved.
CREATE TABLE delivery_daily (
    day date NOT NULL,
    file_id uuid NOT NULL,
    tenant_id uuid,
    campaign_id uuid,
    ad_group_id uuid,
    creative_id uuid,
    ttd_campaign text NOT NULL,
    ttd_ad_group text NOT NULL,
    ttd_creative text NOT NULL,
    company text,
    impressions bigint NOT NULL,
    clicks bigint NOT NULL DEFAULT 0,
    advertiser_cost_micros bigint NOT NULL,
    media_cost_micros bigint NOT NULL
) PARTITION BY RANGE (day);
-- Rows are appended a file at a time (file ids are UUIDv7, in time order):
-- block-range indexes find a file's rows to replace them and a day's rows,
-- at a fraction of a b-tree's cost to keep up (a b-tree on the campaign
-- was a third of the insert's time). Reports will read rollups merged per
-- day (docs/architecture.md).
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX delivery_daily_file ON delivery_daily USING brin (file_id uuid_minmax_ops);
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX delivery_daily_day ON delivery_daily USING brin (day);

-- Campaign totals per hour, for pacing.
CREATE TABLE delivery_hourly (
    hour timestamptz NOT NULL,
    file_id uuid NOT NULL,
    tenant_id uuid,
    campaign_id uuid,
    ttd_campaign text NOT NULL,
    impressions bigint NOT NULL,
    advertiser_cost_micros bigint NOT NULL,
    media_cost_micros bigint NOT NULL
) PARTITION BY RANGE (hour);
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX delivery_hourly_file ON delivery_hourly USING brin (file_id uuid_minmax_ops);
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX delivery_hourly_campaign ON delivery_hourly (tenant_id, campaign_id, hour);

ALTER TABLE delivery_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE delivery_daily FORCE ROW LEVEL SECURITY;
CREATE POLICY delivery_daily_tenant ON delivery_daily USING (p360_tenant_visible(tenant_id));
ALTER TABLE delivery_hourly ENABLE ROW LEVEL SECURITY;
ALTER TABLE delivery_hourly FORCE ROW LEVEL SECURITY;
CREATE POLICY delivery_hourly_tenant ON delivery_hourly USING (p360_tenant_visible(tenant_id));
GRANT SELECT, INSERT, DELETE ON delivery_daily TO p360_app;
GRANT SELECT, INSERT, DELETE ON delivery_hourly TO p360_app;

CREATE FUNCTION delivery_month_partitions(day date) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    first date := date_trunc('month', day)::date;
    next date := (date_trunc('month', day) + interval '1 month')::date;
    suffix text := to_char(first, 'YYYY_MM');
BEGIN
    IF to_regclass('delivery_daily_' || suffix) IS NULL THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF delivery_daily FOR VALUES FROM (%L) TO (%L)',
            'delivery_daily_' || suffix, first, next);
    END IF;
    IF to_regclass('delivery_hourly_' || suffix) IS NULL THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF delivery_hourly FOR VALUES FROM (%L) TO (%L)',
            'delivery_hourly_' || suffix,
            first::timestamp AT TIME ZONE 'UTC', next::timestamp AT TIME ZONE 'UTC');
    END IF;
END
$$;
REVOKE ALL ON FUNCTION delivery_month_partitions(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION delivery_month_partitions(date) TO p360_app;
