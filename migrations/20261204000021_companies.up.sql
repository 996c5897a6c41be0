-- The company universe: reference data every tenant reads and staff load
-- from files, keyed by the registrable domain (accounts::domain). Global: no
-- tenant_id and no row-level security, like `tenants`.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE companies (
    domain text PRIMARY KEY
        CONSTRAINT companies_domain_form CHECK (domain = lower(domain) AND length(domain) BETWEEN 3 AND 253),
    name text NOT NULL CONSTRAINT companies_name_length CHECK (length(name) BETWEEN 1 AND 300),
    aliases text[] NOT NULL DEFAULT '{}',
    size text CONSTRAINT companies_size CHECK (size IN ('micro', 'small', 'medium_small', 'medium',
        'medium_large', 'large', 'xlarge', 'xxlarge')),
    industry text CONSTRAINT companies_industry_length CHECK (length(industry) <= 200),
    country text CONSTRAINT companies_country_length CHECK (length(country) <= 100),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Prefix search on domain and name (GET /v1/companies?q=). The table is
-- created empty in this transaction: nothing to build concurrently.
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX companies_domain_prefix ON companies (domain text_pattern_ops);
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX companies_name_prefix ON companies (lower(name) text_pattern_ops);

GRANT SELECT, INSERT, UPDATE ON companies TO p360_app;
