-- One row identifying this installation's database. Logged at start and shown
-- by `p360 migrate status`, so an operator can tell which database (e.g. the
-- original or a restored copy) a process is connected to.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE platform_instance (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    singleton boolean NOT NULL DEFAULT true CONSTRAINT platform_instance_singleton CHECK (singleton),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT platform_instance_one_row UNIQUE (singleton)
);

INSERT INTO platform_instance DEFAULT VALUES;
