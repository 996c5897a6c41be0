SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

REVOKE ALL ON platform_instance, tenants, users, api_keys, advertisers, insertion_orders,
    campaigns, ad_groups, creatives, audit_chains, staff_assignments, idempotency_keys,
    audit_events FROM p360_app;
REVOKE EXECUTE ON FUNCTION p360_tenant_visible(uuid) FROM p360_app;
REVOKE USAGE ON SCHEMA public FROM p360_app;
-- The role is cluster-wide and may serve other databases; it is left in place.
