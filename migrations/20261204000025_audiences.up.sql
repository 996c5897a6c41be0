-- Audiences: a tenant's definition (lists to include and exclude, an intent
-- rule, firmographic filters, a cap, a holdout share) and every build of it:
-- the members with the reason each qualified, and the changes from the
-- build before. Tenant data under row-level security.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE audiences (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    name text NOT NULL CONSTRAINT audiences_name_length CHECK (length(name) BETWEEN 1 AND 200),
    include_lists uuid[] NOT NULL DEFAULT '{}',
    exclude_lists uuid[] NOT NULL DEFAULT '{}',
    -- audiences::rule::Rule as JSON.
    rule jsonb NOT NULL,
    -- The latest build: its number, the surge week it used, its counts.
    builds bigint NOT NULL DEFAULT 0,
    built_week date,
    built_at timestamptz,
    members bigint NOT NULL DEFAULT 0,
    held_out bigint NOT NULL DEFAULT 0,
    created_by text NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT audiences_tenant_name_key UNIQUE (tenant_id, name),
    CONSTRAINT audiences_tenant_id_key UNIQUE (tenant_id, id)
);

CREATE TABLE audience_builds (
    tenant_id uuid NOT NULL,
    audience_id uuid NOT NULL,
    n bigint NOT NULL,
    week date,
    trigger text NOT NULL CONSTRAINT audience_builds_trigger CHECK (trigger IN ('saved', 'week', 'lists')),
    members bigint NOT NULL,
    held_out bigint NOT NULL,
    added bigint NOT NULL,
    removed bigint NOT NULL,
    unknown_topics text[] NOT NULL DEFAULT '{}',
    built_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT audience_builds_audience_fkey FOREIGN KEY (tenant_id, audience_id)
        REFERENCES audiences (tenant_id, id) ON DELETE CASCADE,
    PRIMARY KEY (audience_id, n)
);

CREATE TABLE audience_members (
    tenant_id uuid NOT NULL,
    audience_id uuid NOT NULL,
    domain text NOT NULL,
    holdout boolean NOT NULL,
    in_list boolean NOT NULL,
    -- The chosen topics it surged on: [[name, score], ...], highest first.
    topics jsonb NOT NULL DEFAULT '[]',
    CONSTRAINT audience_members_audience_fkey FOREIGN KEY (tenant_id, audience_id)
        REFERENCES audiences (tenant_id, id) ON DELETE CASCADE,
    PRIMARY KEY (audience_id, domain)
);

CREATE TABLE audience_changes (
    tenant_id uuid NOT NULL,
    audience_id uuid NOT NULL,
    build bigint NOT NULL,
    domain text NOT NULL,
    added boolean NOT NULL,
    reason text NOT NULL,
    CONSTRAINT audience_changes_audience_fkey FOREIGN KEY (tenant_id, audience_id)
        REFERENCES audiences (tenant_id, id) ON DELETE CASCADE,
    PRIMARY KEY (audience_id, build, domain)
);

-- Created empty in this transaction: nothing to build concurrently.
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX audiences_tenant_created ON audiences (tenant_id, created_at DESC, id DESC);

ALTER TABLE audiences ENABLE ROW LEVEL SECURITY;
ALTER TABLE audiences FORCE ROW LEVEL SECURITY;
CREATE POLICY audiences_tenant ON audiences USING (p360_tenant_visible(tenant_id));
ALTER TABLE audience_builds ENABLE ROW LEVEL SECURITY;
ALTER TABLE audience_builds FORCE ROW LEVEL SECURITY;
CREATE POLICY audience_builds_tenant ON audience_builds USING (p360_tenant_visible(tenant_id));
ALTER TABLE audience_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE audience_members FORCE ROW LEVEL SECURITY;
CREATE POLICY audience_members_tenant ON audience_members USING (p360_tenant_visible(tenant_id));
ALTER TABLE audience_changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE audience_changes FORCE ROW LEVEL SECURITY;
CREATE POLICY audience_changes_tenant ON audience_changes USING (p360_tenant_visible(tenant_id));

GRANT SELECT, INSERT, UPDATE, DELETE ON audiences, audience_builds, audience_members,
    audience_changes TO p360_app;
