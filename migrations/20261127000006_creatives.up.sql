-- Creatives: an image (JPEG, PNG, GIF) or an HTML5 bundle (zip with
-- index.html at its root), checked on upload, kept in object storage under
-- storage_prefix. Dimensions are read from the file, never taken from the client.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE creatives (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    advertiser_id uuid NOT NULL REFERENCES advertisers (id),
    name text NOT NULL CONSTRAINT creatives_name_length CHECK (length(name) BETWEEN 1 AND 200),
    click_url text NOT NULL CONSTRAINT creatives_click_url_https CHECK (click_url LIKE 'https://%'),
    kind text NOT NULL CONSTRAINT creatives_kind CHECK (kind IN ('image', 'html5')),
    mime text NOT NULL,
    width bigint NOT NULL,
    height bigint NOT NULL,
    size_bytes bigint NOT NULL,
    unpacked_bytes bigint,
    sha256 text NOT NULL,
    storage_prefix text NOT NULL,
    -- HTML5: the files of the bundle (path, size, content type).
    files jsonb NOT NULL DEFAULT '[]',
    status text NOT NULL DEFAULT 'active' CONSTRAINT creatives_status CHECK (status IN ('active', 'archived')),
    version bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT creatives_advertiser_name_key UNIQUE (advertiser_id, name)
);
CREATE INDEX creatives_tenant_idx ON creatives (tenant_id, created_at DESC, id DESC);

ALTER TABLE creatives ENABLE ROW LEVEL SECURITY;
ALTER TABLE creatives FORCE ROW LEVEL SECURITY;
CREATE POLICY creatives_tenant ON creatives USING (p360_tenant_visible(tenant_id));
