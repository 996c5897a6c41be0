-- The audit log: append-only and hash-chained per tenant (platform events, with
-- no tenant, form their own chain under the nil uuid). Each event stores the
-- hash of its predecessor and the SHA-256 of (previous hash || its canonical
-- form); `audit_chains` holds each chain's head so that removing the newest
-- event is detected too. `p360 audit verify` recomputes every chain.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE audit_chains (
    chain_id uuid PRIMARY KEY,
    last_seq bigint NOT NULL,
    last_hash bytea NOT NULL
);

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
CREATE INDEX audit_events_tenant_time_idx ON audit_events (tenant_id, occurred_at DESC, id DESC);

CREATE FUNCTION p360_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

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
