-- Account lists: the companies a customer brings (a CRM export, a target
-- list), each row as given with how it matched the company universe. Tenant
-- data under row-level security. Also the universe's generation, changed by
-- every import that changes a company, so each instance knows when its
-- in-memory copy of the universe (accounts::universe) is stale.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE company_universe (
    singleton boolean PRIMARY KEY DEFAULT true CONSTRAINT company_universe_singleton CHECK (singleton),
    generation uuid NOT NULL
);
INSERT INTO company_universe (generation) VALUES (gen_random_uuid());
GRANT SELECT, UPDATE ON company_universe TO p360_app;

CREATE TABLE account_lists (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    name text NOT NULL CONSTRAINT account_lists_name_length CHECK (length(name) BETWEEN 1 AND 200),
    rows_total bigint NOT NULL,
    matched bigint NOT NULL,
    ambiguous bigint NOT NULL,
    unmatched bigint NOT NULL,
    -- Distinct companies matched (two rows may name one company).
    companies bigint NOT NULL,
    created_by text NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT account_lists_counts CHECK (rows_total = matched + ambiguous + unmatched),
    CONSTRAINT account_lists_tenant_name_key UNIQUE (tenant_id, name),
    -- Lets rows reference (tenant, list): a row is always its list's tenant's.
    CONSTRAINT account_lists_tenant_id_key UNIQUE (tenant_id, id)
);

CREATE TABLE account_list_rows (
    tenant_id uuid NOT NULL,
    list_id uuid NOT NULL,
    -- The row's line in the uploaded file (the header is line 1).
    line bigint NOT NULL,
    domain text,
    name text,
    salesforce_id text,
    status text NOT NULL CONSTRAINT account_list_rows_status CHECK (status IN ('matched', 'ambiguous', 'unmatched')),
    -- How it matched: by domain, by name, or picked by a user.
    matched_by text CONSTRAINT account_list_rows_matched_by CHECK (matched_by IN ('domain', 'name', 'picked')),
    -- No foreign key to companies: matching only ever names a company of
    -- the universe, companies are never deleted (imports upsert), and the
    -- check cost 0.4 s per 100,000 rows uploaded (docs/benchmarks.md).
    company text,
    candidates text[] NOT NULL DEFAULT '{}',
    reason text,
    CONSTRAINT account_list_rows_matched CHECK ((status = 'matched') = (company IS NOT NULL AND matched_by IS NOT NULL)),
    CONSTRAINT account_list_rows_list_fkey FOREIGN KEY (tenant_id, list_id)
        REFERENCES account_lists (tenant_id, id) ON DELETE CASCADE,
    PRIMARY KEY (list_id, line)
);

-- Created empty in this transaction: nothing to build concurrently.
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX account_lists_tenant_created ON account_lists (tenant_id, created_at DESC, id DESC);

ALTER TABLE account_lists ENABLE ROW LEVEL SECURITY;
ALTER TABLE account_lists FORCE ROW LEVEL SECURITY;
CREATE POLICY account_lists_tenant ON account_lists USING (p360_tenant_visible(tenant_id));
ALTER TABLE account_list_rows ENABLE ROW LEVEL SECURITY;
ALTER TABLE account_list_rows FORCE ROW LEVEL SECURITY;
CREATE POLICY account_list_rows_tenant ON account_list_rows USING (p360_tenant_visible(tenant_id));

GRANT SELECT, INSERT, UPDATE, DELETE ON account_lists TO p360_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON account_list_rows TO p360_app;
