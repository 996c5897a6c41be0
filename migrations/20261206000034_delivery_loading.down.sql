SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DROP POLICY delivery_hourly_tenant ON delivery_hourly;
CREATE POLICY delivery_hourly_tenant ON delivery_hourly USING (p360_tenant_visible(tenant_id));
DROP POLICY delivery_daily_tenant ON delivery_daily;
CREATE POLICY delivery_daily_tenant ON delivery_daily USING (p360_tenant_visible(tenant_id));
-- squawk-ignore ban-drop-table
DROP TABLE delivery_loading;
