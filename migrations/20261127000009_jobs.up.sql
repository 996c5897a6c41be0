-- The job queue (PostgreSQL backend): jobs are inserted in the transaction of
-- the change that needs them; workers claim them with FOR UPDATE SKIP LOCKED
-- under a lease they renew while running; failures are retried with
-- exponential backoff until max_attempts, then kept as dead letters.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE jobs (
    id uuid PRIMARY KEY,
    queue text NOT NULL,
    kind text NOT NULL,
    payload jsonb NOT NULL,
    dedup_key text,
    status text NOT NULL DEFAULT 'queued' CONSTRAINT jobs_status CHECK (status IN ('queued', 'running', 'succeeded', 'dead')),
    attempts bigint NOT NULL DEFAULT 0,
    max_attempts bigint NOT NULL CONSTRAINT jobs_max_attempts CHECK (max_attempts >= 1),
    run_at timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz,
    locked_by text,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
-- One pending job per (kind, dedup key).
CREATE UNIQUE INDEX jobs_dedup_key ON jobs (kind, dedup_key)
    WHERE dedup_key IS NOT NULL AND status IN ('queued', 'running');
CREATE INDEX jobs_ready_idx ON jobs (queue, run_at) WHERE status = 'queued';
CREATE INDEX jobs_lease_idx ON jobs (locked_until) WHERE status = 'running';
CREATE INDEX jobs_status_idx ON jobs (status, kind, created_at DESC);

GRANT SELECT, INSERT, UPDATE, DELETE ON jobs TO p360_app;
