SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE OR REPLACE FUNCTION delivery_month_partitions(day date) RETURNS void
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
-- squawk-ignore ban-drop-table
DROP TABLE delivery_campaign_versions;
-- squawk-ignore ban-drop-table
DROP TABLE delivery_alerts;
-- squawk-ignore ban-drop-table
DROP TABLE delivery_settings;
-- squawk-ignore ban-drop-table
DROP TABLE delivery_campaign_hours;
-- squawk-ignore ban-drop-table
DROP TABLE delivery_accounts;
-- squawk-ignore ban-drop-table
DROP TABLE delivery_cells;
-- The replaced files' rows the merge had not taken back yet.
DELETE FROM delivery_daily d USING delivery_files f WHERE d.file_id = f.id AND f.status <> 'applied';
DELETE FROM delivery_hourly h USING delivery_files f WHERE h.file_id = f.id AND f.status <> 'applied';
CREATE OR REPLACE FUNCTION p360_tenant_visible(tenant uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('p360.all_tenants', true), '') = 'on'
        OR tenant = ANY (
            string_to_array(nullif(current_setting('p360.tenant_ids', true), ''), ',')::uuid[]
        )
$$;
-- squawk-ignore ban-drop-function
DROP FUNCTION p360_visible_tenant_ids();
-- squawk-ignore ban-drop-function
DROP FUNCTION p360_all_tenants_visible();
-- squawk-ignore ban-drop-column
ALTER TABLE delivery_files DROP COLUMN merge_state;
-- squawk-ignore ban-drop-column
ALTER TABLE delivery_files DROP COLUMN data_until;
-- squawk-ignore ban-drop-column
ALTER TABLE delivery_files DROP COLUMN data_from;
-- squawk-ignore ban-drop-column
ALTER TABLE delivery_files DROP COLUMN clicks_joined;
