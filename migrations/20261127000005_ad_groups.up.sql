-- Ad groups: how a campaign's budget is split and bid, who sees it
-- (targeting) and how often (frequency cap). Audience references in targeting
-- are filled in by the audiences capability.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE ad_groups (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    campaign_id uuid NOT NULL REFERENCES campaigns (id),
    name text NOT NULL CONSTRAINT ad_groups_name_length CHECK (length(name) BETWEEN 1 AND 200),
    budget_micros bigint NOT NULL CONSTRAINT ad_groups_budget_positive CHECK (budget_micros > 0),
    base_bid_cpm_micros bigint NOT NULL CONSTRAINT ad_groups_base_bid_positive CHECK (base_bid_cpm_micros > 0),
    max_bid_cpm_micros bigint NOT NULL,
    frequency_impressions bigint CONSTRAINT ad_groups_frequency_impressions CHECK (frequency_impressions > 0),
    frequency_period_hours bigint CONSTRAINT ad_groups_frequency_period CHECK (frequency_period_hours BETWEEN 1 AND 720),
    targeting jsonb NOT NULL DEFAULT '{}',
    creative_ids uuid [] NOT NULL DEFAULT '{}',
    status text NOT NULL DEFAULT 'active' CONSTRAINT ad_groups_status CHECK (status IN ('active', 'archived')),
    version bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ad_groups_bids CHECK (max_bid_cpm_micros >= base_bid_cpm_micros),
    CONSTRAINT ad_groups_frequency_complete CHECK ((frequency_impressions IS NULL) = (frequency_period_hours IS NULL)),
    CONSTRAINT ad_groups_campaign_name_key UNIQUE (campaign_id, name)
);
CREATE INDEX ad_groups_tenant_campaign_idx ON ad_groups (tenant_id, campaign_id);

ALTER TABLE ad_groups ENABLE ROW LEVEL SECURITY;
ALTER TABLE ad_groups FORCE ROW LEVEL SECURITY;
CREATE POLICY ad_groups_tenant ON ad_groups USING (p360_tenant_visible(tenant_id));
