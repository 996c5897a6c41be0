-- Billing per tenant (issue 19): invoices per advertiser and month with
-- their lines, the per-tenant gap-free invoice numbers, and closed months.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- A month closed for billing: its invoices' lines are final; late
-- delivery becomes an adjustment on the next open month's invoice.
CREATE TABLE billing_periods (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    month date NOT NULL CONSTRAINT billing_periods_first_day CHECK (extract(day FROM month) = 1),
    closed_at timestamptz NOT NULL DEFAULT now(),
    closed_by text NOT NULL,
    PRIMARY KEY (tenant_id, month)
);
ALTER TABLE billing_periods ENABLE ROW LEVEL SECURITY;
ALTER TABLE billing_periods FORCE ROW LEVEL SECURITY;
CREATE POLICY billing_periods_tenant ON billing_periods
    USING ((SELECT p360_all_tenants_visible()) OR tenant_id = ANY ((SELECT p360_visible_tenant_ids())::uuid[]));
GRANT SELECT, INSERT ON billing_periods TO p360_app;

-- The last number issued per tenant: issuing takes the next under this
-- row's lock in the issuing transaction, so numbers have no gaps (a
-- rolled-back issue gives its number back) even when issued concurrently.
CREATE TABLE invoice_numbers (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id),
    last bigint NOT NULL CONSTRAINT invoice_numbers_positive CHECK (last > 0)
);
ALTER TABLE invoice_numbers ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoice_numbers FORCE ROW LEVEL SECURITY;
CREATE POLICY invoice_numbers_tenant ON invoice_numbers
    USING ((SELECT p360_all_tenants_visible()) OR tenant_id = ANY ((SELECT p360_visible_tenant_ids())::uuid[]));
GRANT SELECT, INSERT, UPDATE ON invoice_numbers TO p360_app;

CREATE TABLE invoices (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    advertiser_id uuid NOT NULL,
    currency text NOT NULL,
    month date NOT NULL CONSTRAINT invoices_first_day CHECK (extract(day FROM month) = 1),
    kind text NOT NULL DEFAULT 'invoice'
        CONSTRAINT invoices_kind CHECK (kind IN ('invoice', 'credit_note')),
    status text NOT NULL DEFAULT 'draft'
        CONSTRAINT invoices_status CHECK (status IN ('draft', 'issued', 'paid', 'void')),
    number bigint,
    -- A credit note's voided invoice.
    credits uuid REFERENCES invoices (id),
    total_micros bigint NOT NULL DEFAULT 0,
    over_delivery_micros bigint NOT NULL DEFAULT 0,
    issued_at timestamptz,
    paid_at timestamptz,
    voided_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT invoices_numbered_once_issued CHECK ((status = 'draft') = (number IS NULL)),
    CONSTRAINT invoices_credit_note_credits CHECK ((kind = 'credit_note') = (credits IS NOT NULL)),
    CONSTRAINT invoices_tenant_number_key UNIQUE (tenant_id, number),
    CONSTRAINT invoices_advertiser_fkey FOREIGN KEY (tenant_id, advertiser_id, currency)
        REFERENCES advertisers (tenant_id, id, currency)
);
ALTER TABLE invoices ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoices FORCE ROW LEVEL SECURITY;
CREATE POLICY invoices_tenant ON invoices
    USING ((SELECT p360_all_tenants_visible()) OR tenant_id = ANY ((SELECT p360_visible_tenant_ids())::uuid[]));
GRANT SELECT, INSERT, UPDATE ON invoices TO p360_app;
-- One live invoice per advertiser and month (a voided one may be billed again).
-- squawk-ignore require-concurrent-index-creation
CREATE UNIQUE INDEX invoices_one_per_month ON invoices (tenant_id, advertiser_id, month)
    WHERE kind = 'invoice' AND status <> 'void';
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX invoices_tenant_month ON invoices (tenant_id, month DESC, id);

CREATE TABLE invoice_lines (
    invoice_id uuid NOT NULL REFERENCES invoices (id),
    position bigint NOT NULL,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    kind text NOT NULL
        CONSTRAINT invoice_lines_kind CHECK (kind IN ('delivery', 'adjustment', 'detail', 'manual')),
    insertion_order_id uuid,
    campaign_id uuid,
    -- An adjustment's closed month.
    corrects_month date,
    description text NOT NULL,
    units bigint NOT NULL DEFAULT 0,
    amount_micros bigint NOT NULL,
    over_delivery_micros bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (invoice_id, position)
);
ALTER TABLE invoice_lines ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoice_lines FORCE ROW LEVEL SECURITY;
CREATE POLICY invoice_lines_tenant ON invoice_lines
    USING ((SELECT p360_all_tenants_visible()) OR tenant_id = ANY ((SELECT p360_visible_tenant_ids())::uuid[]));
-- Lines are written and replaced while their invoice is a draft of an open
-- month; the trigger below refuses any change after that.
GRANT SELECT, INSERT, DELETE ON invoice_lines TO p360_app;
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX invoice_lines_order ON invoice_lines (tenant_id, insertion_order_id);

-- Final lines stay final: a line may be added or removed only while its
-- invoice is a draft of a month not closed (a credit note's, while it is
-- a draft: it is written and issued in the voiding transaction).
CREATE FUNCTION invoice_lines_frozen() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    inv invoices%ROWTYPE;
BEGIN
    SELECT * INTO inv FROM invoices WHERE id = coalesce(NEW.invoice_id, OLD.invoice_id);
    IF inv.status <> 'draft' OR (inv.kind = 'invoice' AND EXISTS (
        SELECT 1 FROM billing_periods p WHERE p.tenant_id = inv.tenant_id AND p.month = inv.month
    )) THEN
        RAISE EXCEPTION 'invoice % is final: its lines cannot change', inv.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN coalesce(NEW, OLD);
END
$$;
CREATE TRIGGER invoice_lines_frozen BEFORE INSERT OR UPDATE OR DELETE ON invoice_lines
    FOR EACH ROW EXECUTE FUNCTION invoice_lines_frozen();

-- An issued invoice changes only by its state: draft → issued → paid or
-- void, its number, amounts and month never after issuing.
CREATE FUNCTION invoices_final() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'draft' THEN
        RETURN NEW;
    END IF;
    IF NEW.number IS DISTINCT FROM OLD.number OR NEW.total_micros <> OLD.total_micros
       OR NEW.over_delivery_micros <> OLD.over_delivery_micros OR NEW.month <> OLD.month
       OR NEW.advertiser_id <> OLD.advertiser_id OR NEW.currency <> OLD.currency
       OR NEW.kind <> OLD.kind OR NEW.credits IS DISTINCT FROM OLD.credits
       OR NEW.issued_at IS DISTINCT FROM OLD.issued_at
       OR NOT (NEW.status = OLD.status OR (OLD.status = 'issued' AND NEW.status IN ('paid', 'void'))) THEN
        RAISE EXCEPTION 'invoice % is % : only its state may change (issued to paid or void)', OLD.id, OLD.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER invoices_final BEFORE UPDATE ON invoices
    FOR EACH ROW EXECUTE FUNCTION invoices_final();
