-- Files announced as landed in the object store (S3 -> landing Lambda -> SQS
-- ingest queue): one row per landing, written with the job it became, so an
-- announcement delivered twice queues one job. S3's sequencer grows with
-- each write of a key: a file put again is a new landing.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE file_landings (
    bucket text NOT NULL,
    key text NOT NULL,
    sequencer text NOT NULL,
    size bigint NOT NULL,
    kind text NOT NULL,
    job_id uuid NOT NULL,
    landed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bucket, key, sequencer)
);
CREATE INDEX file_landings_landed_at_idx ON file_landings (landed_at);

GRANT SELECT, INSERT, DELETE ON file_landings TO p360_app;
