-- The outbox is consumed: a relay delivers domain_events to each consumer
-- after its stored cursor. Events are ordered by the id of the transaction
-- that wrote them, so that the relay can read only events of transactions
-- older than every running one and never skip a late commit. Events written
-- before this migration have no tx_id and are not relayed (the activation
-- sync handled them in their own transaction then).
--
-- Activation keeps its state of each campaign in a table of its own,
-- copied from campaigns.activation, which the next (contract) migration
-- drops once no running version writes it.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE domain_events ADD COLUMN tx_id xid8;
ALTER TABLE domain_events ALTER COLUMN tx_id SET DEFAULT pg_current_xact_id();
-- A new, empty-to-small index in the deploy's expand step; lock_timeout bounds the wait.
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX domain_events_relay_idx ON domain_events (tx_id, seq) WHERE tx_id IS NOT NULL;

CREATE TABLE event_consumers (
    name text PRIMARY KEY,
    last_tx xid8 NOT NULL DEFAULT '0',
    last_seq bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE ON event_consumers TO p360_app;

CREATE TABLE campaign_activations (
    campaign_id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    status text NOT NULL CONSTRAINT campaign_activations_status
        CHECK (status IN ('pending', 'synced', 'failed')),
    -- Bumped by every change that queues a sync; a sync reports only if no
    -- newer change queued another since it read the campaign.
    generation bigint NOT NULL DEFAULT 0,
    -- The campaign version of the last event consumed.
    campaign_version bigint NOT NULL DEFAULT 0,
    ttd jsonb NOT NULL DEFAULT '{}',
    last_error text,
    synced_at timestamptz,
    requested_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX campaign_activations_tenant_idx ON campaign_activations (tenant_id);

ALTER TABLE campaign_activations ENABLE ROW LEVEL SECURITY;
ALTER TABLE campaign_activations FORCE ROW LEVEL SECURITY;
CREATE POLICY campaign_activations_tenant ON campaign_activations
    USING (p360_tenant_visible(tenant_id));
GRANT SELECT, INSERT, UPDATE ON campaign_activations TO p360_app;

-- Whether a campaign was ever approved (campaigns' own fact): only those
-- can have a state in TTD, so only those need activation's view.
ALTER TABLE campaigns ADD COLUMN first_approved_at timestamptz;
UPDATE campaigns SET first_approved_at = coalesce(approved_at, updated_at)
WHERE activation IS NOT NULL;

INSERT INTO campaign_activations (campaign_id, tenant_id, status, generation, campaign_version,
    ttd, last_error, synced_at, requested_at)
SELECT id, tenant_id, activation->>'status',
       coalesce((activation->>'generation')::bigint, 0), version,
       coalesce(activation->'ttd', '{}'::jsonb), activation->>'last_error',
       (activation->>'synced_at')::timestamptz, (activation->>'requested_at')::timestamptz
FROM campaigns WHERE activation IS NOT NULL;
