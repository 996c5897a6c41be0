-- Activation on The Trade Desk: which TTD object each P360 object became,
-- the campaign's activation state as the API shows it, and job dedup that
-- only folds *queued* jobs together (a change made while a sync runs must get
-- a sync of its own, or the running one would miss it).
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- Null until the campaign is first approved; then
-- {"status": "pending|synced|failed", "ttd": {...}, "last_error", "synced_at"}.
ALTER TABLE campaigns ADD COLUMN activation jsonb;

CREATE TABLE ttd_objects (
    object_type text NOT NULL CONSTRAINT ttd_objects_type CHECK (object_type IN ('advertiser', 'campaign', 'ad_group', 'creative')),
    p360_id uuid NOT NULL,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    ttd_id text NOT NULL,
    -- Hash of the last payload TTD accepted; an unchanged object is not sent again.
    synced_hash text,
    synced_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (object_type, p360_id),
    CONSTRAINT ttd_objects_ttd_id_key UNIQUE (object_type, ttd_id)
);
CREATE INDEX ttd_objects_tenant_idx ON ttd_objects (tenant_id);

ALTER TABLE ttd_objects ENABLE ROW LEVEL SECURITY;
ALTER TABLE ttd_objects FORCE ROW LEVEL SECURITY;
CREATE POLICY ttd_objects_tenant ON ttd_objects USING (p360_tenant_visible(tenant_id));
GRANT SELECT, INSERT, UPDATE ON ttd_objects TO p360_app;

-- A job that a newer queued job makes redundant ends as 'superseded'.
-- The queue table is small (finished jobs are pruned) and lock_timeout bounds the wait.
-- squawk-ignore ban-drop-constraint
ALTER TABLE jobs DROP CONSTRAINT jobs_status;
ALTER TABLE jobs ADD CONSTRAINT jobs_status
    CHECK (status IN ('queued', 'running', 'succeeded', 'dead', 'superseded')) NOT VALID;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE jobs VALIDATE CONSTRAINT jobs_status;
-- squawk-ignore require-concurrent-index-deletion
DROP INDEX jobs_dedup_key;
-- squawk-ignore require-concurrent-index-creation
CREATE UNIQUE INDEX jobs_dedup_key ON jobs (kind, dedup_key)
    WHERE dedup_key IS NOT NULL AND status = 'queued';
