-- Idempotency-Key support for POST requests: the first response to a key is
-- stored and replayed for retries with the same request; the same key with a
-- different request is refused. Keys are scoped to the actor that sent them
-- and kept for 24 hours.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE idempotency_keys (
    actor text NOT NULL,
    key text NOT NULL,
    request_hash bytea NOT NULL,
    -- NULL while the first request is being processed.
    status bigint CONSTRAINT idempotency_keys_status CHECK (status BETWEEN 100 AND 599),
    content_type text,
    location text,
    etag text,
    body bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
