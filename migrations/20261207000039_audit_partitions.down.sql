-- Back to one unpartitioned audit_events, its rows copied. Refused once a
-- month was dropped: the table no longer starts every chain at its first
-- event, which the version before this one would report as tampering (the
-- months are in the audit archive).
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '600s';

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM audit_dropped_months) THEN
        RAISE EXCEPTION 'archived audit months were dropped from the table (audit_dropped_months): '
            'the version before partitioning cannot verify the chains that remain';
    END IF;
END
$$;

-- squawk-ignore ban-drop-function
DROP FUNCTION audit_drop_month(date, text, bigint);
-- squawk-ignore ban-drop-function
DROP FUNCTION audit_month_partitions(date);
-- squawk-ignore ban-drop-table
DROP TABLE audit_dropped_months;
-- squawk-ignore ban-drop-table
DROP TABLE audit_chain_bases;

-- The old table leaves under another name and a new one takes its name in
-- this transaction: clients never see the rename.
-- squawk-ignore renaming-table
ALTER TABLE audit_events RENAME TO audit_events_partitioned;
-- squawk-ignore renaming-object
ALTER TABLE audit_events_partitioned RENAME CONSTRAINT audit_events_pkey TO audit_events_partitioned_pkey;
-- squawk-ignore renaming-object
ALTER INDEX audit_events_tenant_time_idx RENAME TO audit_events_partitioned_tenant_time_idx;

CREATE TABLE audit_events (
    id uuid PRIMARY KEY,
    chain_id uuid NOT NULL,
    seq bigint NOT NULL,
    tenant_id uuid REFERENCES tenants (id),
    occurred_at timestamptz NOT NULL,
    actor_type text NOT NULL CONSTRAINT audit_events_actor_type CHECK (actor_type IN ('user', 'api_key', 'system')),
    actor_id text,
    action text NOT NULL,
    target_type text,
    target_id text,
    request_id text,
    source_ip text,
    user_agent text,
    changes jsonb NOT NULL,
    outcome text NOT NULL CONSTRAINT audit_events_outcome CHECK (outcome IN ('success', 'failure', 'denied')),
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL,
    CONSTRAINT audit_events_chain_seq_key UNIQUE (chain_id, seq)
);
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX audit_events_tenant_time_idx ON audit_events (tenant_id, occurred_at DESC, id DESC);
CREATE TRIGGER audit_events_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION p360_audit_append_only();
CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION p360_audit_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM PUBLIC;
ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_events_tenant ON audit_events
    USING (p360_tenant_visible(tenant_id));
GRANT SELECT, INSERT ON audit_events TO p360_app;

-- The policy of the partitioned table would hide other tenants' rows.
SET LOCAL p360.all_tenants = 'on';
INSERT INTO audit_events SELECT * FROM audit_events_partitioned;
-- squawk-ignore ban-drop-table
DROP TABLE audit_events_partitioned;
