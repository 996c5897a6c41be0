-- Campaign management: advertisers, insertion orders (the customer's
-- contract) and campaigns. Money is integer micro-units plus the advertiser's
-- ISO 4217 currency; every row carries tenant_id under row-level security.
-- `version` backs ETag / If-Match optimistic concurrency.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE advertisers (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    name text NOT NULL CONSTRAINT advertisers_name_length CHECK (length(name) BETWEEN 1 AND 200),
    domain text NOT NULL,
    industry text,
    currency text NOT NULL CONSTRAINT advertisers_currency_format CHECK (currency ~ '^[A-Z]{3}$'),
    click_lookback_days bigint NOT NULL DEFAULT 30 CONSTRAINT advertisers_click_lookback CHECK (click_lookback_days BETWEEN 1 AND 365),
    view_lookback_days bigint NOT NULL DEFAULT 90 CONSTRAINT advertisers_view_lookback CHECK (view_lookback_days BETWEEN 1 AND 365),
    version bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT advertisers_tenant_name_key UNIQUE (tenant_id, name),
    -- Lets children reference (tenant, advertiser, currency) and inherit them.
    CONSTRAINT advertisers_tenant_id_currency_key UNIQUE (tenant_id, id, currency)
);

CREATE TABLE insertion_orders (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    advertiser_id uuid NOT NULL,
    currency text NOT NULL,
    name text NOT NULL CONSTRAINT insertion_orders_name_length CHECK (length(name) BETWEEN 1 AND 200),
    number text,
    budget_micros bigint NOT NULL CONSTRAINT insertion_orders_budget_positive CHECK (budget_micros > 0),
    start_date date NOT NULL,
    end_date date NOT NULL,
    pricing_model text NOT NULL CONSTRAINT insertion_orders_pricing_model CHECK (pricing_model IN ('cpm', 'cpc', 'flat_fee', 'cost_plus')),
    -- cpm/cpc/flat_fee: micro-units of the currency; cost_plus: micro-percent of media.
    pricing_rate_micros bigint NOT NULL CONSTRAINT insertion_orders_rate_nonnegative CHECK (pricing_rate_micros >= 0),
    billing_contact text,
    version bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT insertion_orders_dates CHECK (end_date > start_date),
    CONSTRAINT insertion_orders_advertiser_fkey FOREIGN KEY (tenant_id, advertiser_id, currency)
        REFERENCES advertisers (tenant_id, id, currency),
    CONSTRAINT insertion_orders_advertiser_name_key UNIQUE (advertiser_id, name),
    CONSTRAINT insertion_orders_tenant_id_currency_key UNIQUE (tenant_id, id, currency)
);
CREATE INDEX insertion_orders_tenant_idx ON insertion_orders (tenant_id, advertiser_id);

CREATE TABLE campaigns (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    insertion_order_id uuid NOT NULL,
    advertiser_id uuid NOT NULL,
    currency text NOT NULL,
    name text NOT NULL CONSTRAINT campaigns_name_length CHECK (length(name) BETWEEN 1 AND 200),
    objective text NOT NULL CONSTRAINT campaigns_objective CHECK (objective IN ('awareness', 'engagement', 'pipeline')),
    budget_micros bigint NOT NULL CONSTRAINT campaigns_budget_positive CHECK (budget_micros > 0),
    daily_cap_micros bigint CONSTRAINT campaigns_daily_cap_positive CHECK (daily_cap_micros > 0),
    flight_start date NOT NULL,
    flight_end date NOT NULL,
    pacing text NOT NULL CONSTRAINT campaigns_pacing CHECK (pacing IN ('even', 'ahead', 'asap')),
    kpi_goal jsonb,
    status text NOT NULL DEFAULT 'draft' CONSTRAINT campaigns_status CHECK (status IN ('draft', 'pending_approval', 'approved', 'active', 'paused', 'completed', 'archived')),
    submitted_by text,
    submitted_at timestamptz,
    approved_by text,
    approved_at timestamptz,
    rejection_reason text,
    version bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT campaigns_flight CHECK (flight_end > flight_start),
    CONSTRAINT campaigns_insertion_order_fkey FOREIGN KEY (tenant_id, insertion_order_id, currency)
        REFERENCES insertion_orders (tenant_id, id, currency),
    CONSTRAINT campaigns_io_name_key UNIQUE (insertion_order_id, name)
);
CREATE INDEX campaigns_tenant_list_idx ON campaigns (tenant_id, created_at DESC, id DESC);
CREATE INDEX campaigns_io_idx ON campaigns (insertion_order_id);

ALTER TABLE advertisers ENABLE ROW LEVEL SECURITY;
ALTER TABLE advertisers FORCE ROW LEVEL SECURITY;
CREATE POLICY advertisers_tenant ON advertisers USING (p360_tenant_visible(tenant_id));
ALTER TABLE insertion_orders ENABLE ROW LEVEL SECURITY;
ALTER TABLE insertion_orders FORCE ROW LEVEL SECURITY;
CREATE POLICY insertion_orders_tenant ON insertion_orders USING (p360_tenant_visible(tenant_id));
ALTER TABLE campaigns ENABLE ROW LEVEL SECURITY;
ALTER TABLE campaigns FORCE ROW LEVEL SECURITY;
CREATE POLICY campaigns_tenant ON campaigns USING (p360_tenant_visible(tenant_id));
