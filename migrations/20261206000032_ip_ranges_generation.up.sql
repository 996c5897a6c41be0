-- The IP ranges' own generation, changed by every import that adds or
-- removes a range: an instance keeps the structure it resolves addresses
-- with (delivery::resolve) until it changes.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE company_universe ADD COLUMN ranges_generation bigint NOT NULL DEFAULT 0;
