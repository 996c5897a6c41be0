-- Intent: Bombora's weekly Company Surge. PostgreSQL keeps what users query
-- (the weeks, which file is each week's, the topics); the scores themselves
-- (millions a week) are in the object store in P360's compact form
-- (intent::surge::format) and in memory where used. Global reference data,
-- like the company universe: no tenant column.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- Every file ingested, by the SHA-256 of its bytes as received: the same
-- file twice is found here and is one week.
CREATE TABLE surge_files (
    checksum text PRIMARY KEY CONSTRAINT surge_files_checksum CHECK (checksum ~ '^[0-9a-f]{64}$'),
    week date NOT NULL,
    source text NOT NULL CONSTRAINT surge_files_source CHECK (source IN ('upload', 'command_line', 'bombora', 'object_store')),
    -- The file as received, and the week in its compact form.
    raw_key text NOT NULL,
    week_key text NOT NULL,
    rows_read bigint NOT NULL,
    companies bigint NOT NULL,
    topics bigint NOT NULL,
    scores bigint NOT NULL,
    unusable_domains bigint NOT NULL,
    duplicates bigint NOT NULL,
    unknown_domains bigint NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- The file that is each week's (a corrected file replaces the week).
CREATE TABLE surge_weeks (
    week date PRIMARY KEY CONSTRAINT surge_weeks_monday CHECK (extract(isodow FROM week) = 1),
    checksum text NOT NULL REFERENCES surge_files (checksum),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Topics as the weeks name them.
CREATE TABLE intent_topics (
    name text PRIMARY KEY CONSTRAINT intent_topics_name_length CHECK (length(name) BETWEEN 1 AND 200),
    category text NOT NULL DEFAULT '',
    first_week date NOT NULL,
    last_week date NOT NULL
);

GRANT SELECT, INSERT ON surge_files TO p360_app;
GRANT SELECT, INSERT, UPDATE ON surge_weeks TO p360_app;
GRANT SELECT, INSERT, UPDATE ON intent_topics TO p360_app;
