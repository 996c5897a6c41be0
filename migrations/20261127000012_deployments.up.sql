-- Blue-green deployments driven by `p360 deploy`: each deployment's state
-- (phase, the new slot's traffic share, what was asked of it, how it ended)
-- so that a restarted controller can resume it or roll it back, and its
-- events (weights, readings, decisions) for `p360 deploy status|history`.
-- Only the migrating (owner) role uses them: the application role gets no grant.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE deployments (
    id uuid PRIMARY KEY,
    version text NOT NULL,
    status text NOT NULL DEFAULT 'running' CONSTRAINT deployments_status CHECK (status IN ('running', 'promoted', 'rolled_back', 'failed')),
    phase text NOT NULL,
    -- The slot serving when the deployment started, and the one it deploys to.
    from_slot text NOT NULL CONSTRAINT deployments_from_slot CHECK (from_slot IN ('blue', 'green')),
    to_slot text NOT NULL CONSTRAINT deployments_to_slot CHECK (to_slot IN ('blue', 'green') AND to_slot <> from_slot),
    -- The new slot's share of traffic, in percent, as last set.
    weight bigint NOT NULL DEFAULT 0 CONSTRAINT deployments_weight CHECK (weight BETWEEN 0 AND 100),
    steps bigint [] NOT NULL,
    dwell_ms bigint NOT NULL,
    -- An operator's request to the controller: promote or rollback.
    requested text CONSTRAINT deployments_requested CHECK (requested IN ('promote', 'rollback')),
    trigger text,
    reason text,
    backup_key text,
    controller text NOT NULL,
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
-- One deployment in progress at a time.
CREATE UNIQUE INDEX deployments_one_running ON deployments ((true)) WHERE status = 'running';
CREATE INDEX deployments_started_idx ON deployments (started_at DESC);

CREATE TABLE deployment_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    deployment_id uuid NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    at timestamptz NOT NULL DEFAULT now(),
    kind text NOT NULL,
    detail jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX deployment_events_deployment_idx ON deployment_events (deployment_id, id);
