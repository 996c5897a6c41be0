-- Salesforce per tenant (issue 18): the connection (its private key sealed
-- under the tenant's data key), each object's sync watermark, and the
-- accounts, opportunities and stage history synced from the org.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- Envelope encryption: one data key per tenant (AES-256), kept only
-- wrapped by the master key — a local key file on embedded defaults, AWS
-- KMS in production (wrapped_by names which).
CREATE TABLE tenant_data_keys (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id),
    wrapped bytea NOT NULL,
    wrapped_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE tenant_data_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_data_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_data_keys_tenant ON tenant_data_keys
    USING ((SELECT p360_all_tenants_visible()) OR tenant_id = ANY ((SELECT p360_visible_tenant_ids())::uuid[]));
GRANT SELECT, INSERT ON tenant_data_keys TO p360_app;

CREATE TABLE salesforce_connections (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id),
    consumer_key text NOT NULL,
    username text NOT NULL,
    login_host text NOT NULL,
    -- A single-currency org's currency (a multi-currency org's
    -- opportunities carry their own).
    currency text NOT NULL DEFAULT 'USD',
    -- The private key, sealed (AES-256-GCM under the tenant's data key).
    private_key_sealed bytea NOT NULL,
    instance_url text,
    status text NOT NULL DEFAULT 'connected'
        CONSTRAINT salesforce_connections_status CHECK (status IN ('connected', 'failing')),
    last_error text,
    last_sync_at timestamptz,
    connected_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE salesforce_connections ENABLE ROW LEVEL SECURITY;
ALTER TABLE salesforce_connections FORCE ROW LEVEL SECURITY;
CREATE POLICY salesforce_connections_tenant ON salesforce_connections
    USING ((SELECT p360_all_tenants_visible()) OR tenant_id = ANY ((SELECT p360_visible_tenant_ids())::uuid[]));
GRANT SELECT, INSERT, UPDATE, DELETE ON salesforce_connections TO p360_app;

-- How far each object is synced: the greatest SystemModstamp committed.
-- A sync asks again from the watermark less an overlap, so a record
-- committed late with an earlier stamp is not missed.
CREATE TABLE salesforce_watermarks (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    object text NOT NULL,
    watermark timestamptz NOT NULL,
    records bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, object)
);
ALTER TABLE salesforce_watermarks ENABLE ROW LEVEL SECURITY;
ALTER TABLE salesforce_watermarks FORCE ROW LEVEL SECURITY;
CREATE POLICY salesforce_watermarks_tenant ON salesforce_watermarks
    USING ((SELECT p360_all_tenants_visible()) OR tenant_id = ANY ((SELECT p360_visible_tenant_ids())::uuid[]));
GRANT SELECT, INSERT, UPDATE, DELETE ON salesforce_watermarks TO p360_app;

CREATE TABLE crm_accounts (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id text NOT NULL,
    name text NOT NULL,
    website text,
    industry text,
    employees bigint,
    billing_country text,
    system_modstamp timestamptz NOT NULL,
    is_deleted boolean NOT NULL DEFAULT false,
    -- Matched to the company universe (the registrable domain), or why not.
    match_status text NOT NULL DEFAULT 'pending'
        CONSTRAINT crm_accounts_match_status CHECK (match_status IN ('pending', 'matched', 'ambiguous', 'unmatched')),
    matched_by text,
    company text,
    candidates text[] NOT NULL DEFAULT '{}',
    match_reason text,
    PRIMARY KEY (tenant_id, id)
);
ALTER TABLE crm_accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm_accounts FORCE ROW LEVEL SECURITY;
CREATE POLICY crm_accounts_tenant ON crm_accounts
    USING ((SELECT p360_all_tenants_visible()) OR tenant_id = ANY ((SELECT p360_visible_tenant_ids())::uuid[]));
GRANT SELECT, INSERT, UPDATE, DELETE ON crm_accounts TO p360_app;
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX crm_accounts_company ON crm_accounts (tenant_id, company) WHERE NOT is_deleted;

CREATE TABLE crm_opportunities (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id text NOT NULL,
    account_id text,
    name text NOT NULL,
    -- Micros of currency (Salesforce's Amount, exact: read from its decimal text).
    amount_micros bigint,
    currency text NOT NULL,
    stage text NOT NULL,
    close_date date,
    is_closed boolean NOT NULL,
    is_won boolean NOT NULL,
    created_at timestamptz NOT NULL,
    system_modstamp timestamptz NOT NULL,
    is_deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, id)
);
ALTER TABLE crm_opportunities ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm_opportunities FORCE ROW LEVEL SECURITY;
CREATE POLICY crm_opportunities_tenant ON crm_opportunities
    USING ((SELECT p360_all_tenants_visible()) OR tenant_id = ANY ((SELECT p360_visible_tenant_ids())::uuid[]));
GRANT SELECT, INSERT, UPDATE, DELETE ON crm_opportunities TO p360_app;
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX crm_opportunities_account ON crm_opportunities (tenant_id, account_id) WHERE NOT is_deleted;

-- OpportunityHistory: each change of stage (and amount, close date).
CREATE TABLE crm_opportunity_history (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id text NOT NULL,
    opportunity_id text NOT NULL,
    stage text NOT NULL,
    amount_micros bigint,
    close_date date,
    created_at timestamptz NOT NULL,
    system_modstamp timestamptz NOT NULL,
    is_deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, id)
);
ALTER TABLE crm_opportunity_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm_opportunity_history FORCE ROW LEVEL SECURITY;
CREATE POLICY crm_opportunity_history_tenant ON crm_opportunity_history
    USING ((SELECT p360_all_tenants_visible()) OR tenant_id = ANY ((SELECT p360_visible_tenant_ids())::uuid[]));
GRANT SELECT, INSERT, UPDATE, DELETE ON crm_opportunity_history TO p360_app;
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX crm_opportunity_history_opportunity ON crm_opportunity_history (tenant_id, opportunity_id);
