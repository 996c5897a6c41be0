-- Identity and tenancy: tenants, users (staff and customers), staff
-- assignments to tenants, API keys. Tenant-owned rows are guarded by row-level
-- security keyed on the per-transaction setting `p360.tenant_ids` (a comma
-- separated list of tenant ids the request may see); `p360.all_tenants = on`
-- is set only for platform-wide operations (platform_admin, auth look-ups,
-- system jobs). Without either setting a transaction sees no tenant rows.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE FUNCTION p360_tenant_visible(tenant uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('p360.all_tenants', true), '') = 'on'
        OR tenant = ANY (
            string_to_array(nullif(current_setting('p360.tenant_ids', true), ''), ',')::uuid[]
        )
$$;

CREATE TABLE tenants (
    id uuid PRIMARY KEY,
    slug text NOT NULL CONSTRAINT tenants_slug_key UNIQUE
        CONSTRAINT tenants_slug_format CHECK (slug ~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'),
    name text NOT NULL CONSTRAINT tenants_name_length CHECK (length(name) BETWEEN 1 AND 200),
    status text NOT NULL DEFAULT 'active' CONSTRAINT tenants_status CHECK (status IN ('active', 'suspended')),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id uuid PRIMARY KEY,
    -- NULL for staff; the customer organisation otherwise.
    tenant_id uuid REFERENCES tenants (id),
    kind text NOT NULL CONSTRAINT users_kind CHECK (kind IN ('staff', 'customer')),
    -- Identity at the issuer; NULL while an invitation is not yet accepted.
    issuer text,
    subject text,
    email text,
    name text,
    role text NOT NULL,
    status text NOT NULL DEFAULT 'active' CONSTRAINT users_status CHECK (status IN ('invited', 'active', 'deactivated')),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz,
    CONSTRAINT users_identity_key UNIQUE (issuer, subject),
    CONSTRAINT users_kind_tenant CHECK ((kind = 'staff') = (tenant_id IS NULL)),
    CONSTRAINT users_identity_complete CHECK ((issuer IS NULL) = (subject IS NULL)),
    CONSTRAINT users_invited_have_email CHECK (status <> 'invited' OR email IS NOT NULL)
);
CREATE INDEX users_tenant_idx ON users (tenant_id);
CREATE UNIQUE INDEX users_tenant_email_key ON users (tenant_id, lower(email)) WHERE email IS NOT NULL;

CREATE TABLE staff_assignments (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, tenant_id)
);
CREATE INDEX staff_assignments_tenant_idx ON staff_assignments (tenant_id);

CREATE TABLE api_keys (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    name text NOT NULL CONSTRAINT api_keys_name_length CHECK (length(name) BETWEEN 1 AND 100),
    role text NOT NULL,
    -- The first characters of the secret, to recognise a key in lists and logs.
    prefix text NOT NULL,
    -- SHA-256 of the whole secret; the secret itself is never stored.
    secret_hash bytea NOT NULL CONSTRAINT api_keys_secret_hash_key UNIQUE,
    created_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);
CREATE UNIQUE INDEX api_keys_tenant_name_key ON api_keys (tenant_id, name) WHERE revoked_at IS NULL;

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY users_tenant ON users
    USING (tenant_id IS NULL OR p360_tenant_visible(tenant_id));

ALTER TABLE staff_assignments ENABLE ROW LEVEL SECURITY;
ALTER TABLE staff_assignments FORCE ROW LEVEL SECURITY;
CREATE POLICY staff_assignments_tenant ON staff_assignments
    USING (p360_tenant_visible(tenant_id));

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY api_keys_tenant ON api_keys
    USING (p360_tenant_visible(tenant_id));
