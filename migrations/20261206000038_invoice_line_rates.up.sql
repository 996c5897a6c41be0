-- An invoice line keeps the pricing it was billed under (issue 19): an
-- insertion order's rate may change later, an issued invoice's may not.
-- Nullable: adjustment, manual and credit-note lines may have none.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE invoice_lines ADD COLUMN pricing_model text
    CONSTRAINT invoice_lines_pricing_model CHECK (pricing_model IN ('cpm', 'cpc', 'flat_fee', 'cost_plus'));
-- Micros of the currency (cost plus: micro-percent of markup).
ALTER TABLE invoice_lines ADD COLUMN rate_micros bigint;
