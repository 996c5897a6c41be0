-- Attribution (issue 18): each tenant's rules (lookback, time decay's
-- half-life, the currency reports are in) and the dated exchange rates
-- opportunities in other currencies are converted with (reference data,
-- like the company universe: no tenant, loaded by staff).
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE attribution_settings (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id),
    lookback_days bigint NOT NULL DEFAULT 90
        CONSTRAINT attribution_settings_lookback CHECK (lookback_days BETWEEN 1 AND 730),
    half_life_days bigint NOT NULL DEFAULT 7
        CONSTRAINT attribution_settings_half_life CHECK (half_life_days BETWEEN 1 AND 365),
    currency text NOT NULL DEFAULT 'USD'
        CONSTRAINT attribution_settings_currency CHECK (currency ~ '^[A-Z]{3}$'),
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE attribution_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE attribution_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY attribution_settings_tenant ON attribution_settings
    USING ((SELECT p360_all_tenants_visible()) OR tenant_id = ANY ((SELECT p360_visible_tenant_ids())::uuid[]));
GRANT SELECT, INSERT, UPDATE ON attribution_settings TO p360_app;

-- US dollars per unit of a currency on a day, times 10^9 (exact integer
-- arithmetic: JPY at 0.0067 is 6700000). An opportunity is converted at
-- the rate of its day, or the latest before it.
CREATE TABLE fx_rates (
    currency text NOT NULL CONSTRAINT fx_rates_currency CHECK (currency ~ '^[A-Z]{3}$'),
    day date NOT NULL,
    usd_per_unit_e9 bigint NOT NULL CONSTRAINT fx_rates_positive CHECK (usd_per_unit_e9 > 0),
    PRIMARY KEY (currency, day)
);
GRANT SELECT, INSERT, UPDATE ON fx_rates TO p360_app;
