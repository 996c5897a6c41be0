-- The role the application's queries run as (`SET ROLE p360_app` on every
-- pooled connection). It is neither a superuser nor BYPASSRLS, so the
-- row-level security policies apply to it, and it gets only the privileges
-- the application needs: on the audit log, SELECT and INSERT only.
-- Migrations keep running as the connecting (owner) role.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'p360_app') THEN
        CREATE ROLE p360_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO p360_app;
GRANT SELECT ON platform_instance TO p360_app;
GRANT SELECT, INSERT, UPDATE ON tenants, users, api_keys, advertisers, insertion_orders,
    campaigns, ad_groups, creatives, audit_chains TO p360_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON staff_assignments, idempotency_keys TO p360_app;
GRANT SELECT, INSERT ON audit_events TO p360_app;
GRANT EXECUTE ON FUNCTION p360_tenant_visible(uuid) TO p360_app;
