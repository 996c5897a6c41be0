-- The outbox of domain events: written in the same transaction as the change
-- they announce (e.g. campaign.approved), consumed by background jobs (the
-- activation sync). Rows are never updated by the writer; consumers record
-- their progress in their own tables.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE domain_events (
    id uuid PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT domain_events_seq_key UNIQUE,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    event_type text NOT NULL,
    aggregate_type text NOT NULL,
    aggregate_id uuid NOT NULL,
    payload jsonb NOT NULL,
    occurred_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX domain_events_aggregate_idx ON domain_events (aggregate_type, aggregate_id, seq);

ALTER TABLE domain_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE domain_events FORCE ROW LEVEL SECURITY;
CREATE POLICY domain_events_tenant ON domain_events USING (p360_tenant_visible(tenant_id));
GRANT SELECT, INSERT ON domain_events TO p360_app;
