-- The application logs in as p360_app itself instead of switching to it with
-- SET ROLE from the owner's connection, which any statement could undo
-- (RESET ROLE) to act as the owner. The role owns nothing: it cannot alter
-- tables, disable triggers or switch roles. In AWS its password is set by the
-- environment setup runbook (which may create the role first, with LOGIN);
-- locally it logs in by trust or peer authentication.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'p360_app' AND NOT rolcanlogin) THEN
        BEGIN
            ALTER ROLE p360_app LOGIN;
        EXCEPTION WHEN internal_error THEN
            -- "tuple concurrently updated": another database of the same
            -- cluster migrated at the same moment and did it.
            NULL;
        END;
    END IF;
END
$$;
