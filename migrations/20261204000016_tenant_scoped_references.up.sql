-- References follow tenancy in the database, not only in the application:
-- a foreign key check ignores row-level security, so an ad group in one
-- tenant could name another tenant's campaign, and a creative another
-- tenant's advertiser. Composite keys (tenant_id, id) close that; the
-- creatives an ad group runs (an array, which no foreign key can cover)
-- are checked by a trigger: each must be a creative of the campaign's
-- advertiser in the ad group's tenant.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- Small tables at this point; lock_timeout bounds the wait in the deploy's
-- expand step.
-- squawk-ignore require-concurrent-index-creation
CREATE UNIQUE INDEX campaigns_tenant_id_key ON campaigns (tenant_id, id);
-- squawk-ignore require-concurrent-index-creation
CREATE UNIQUE INDEX advertisers_tenant_id_key ON advertisers (tenant_id, id);
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX creatives_tenant_advertiser_idx ON creatives (tenant_id, advertiser_id);

-- Existing rows are checked too (VALIDATE): every row written so far went
-- through the application's own checks, so none should fail; if one does,
-- the migration stops and names the constraint.
ALTER TABLE ad_groups ADD CONSTRAINT ad_groups_tenant_campaign_fkey
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns (tenant_id, id) NOT VALID;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE ad_groups VALIDATE CONSTRAINT ad_groups_tenant_campaign_fkey;
ALTER TABLE creatives ADD CONSTRAINT creatives_tenant_advertiser_fkey
    FOREIGN KEY (tenant_id, advertiser_id) REFERENCES advertisers (tenant_id, id) NOT VALID;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE creatives VALIDATE CONSTRAINT creatives_tenant_advertiser_fkey;

-- Run as the writer, under its row-level security: a creative it cannot
-- see is refused as surely as one of another advertiser or tenant.
CREATE FUNCTION p360_ad_group_creatives_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    stray uuid;
BEGIN
    SELECT c.id INTO stray
    FROM unnest(NEW.creative_ids) AS c (id)
    WHERE NOT EXISTS (
        SELECT 1
        FROM public.creatives k
        JOIN public.campaigns m ON m.tenant_id = NEW.tenant_id AND m.id = NEW.campaign_id
        WHERE k.id = c.id AND k.tenant_id = NEW.tenant_id AND k.advertiser_id = m.advertiser_id
    )
    LIMIT 1;
    IF stray IS NOT NULL THEN
        RAISE EXCEPTION 'ad group % names creative %, which is not a creative of its campaign''s advertiser in its tenant', NEW.id, stray
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'ad_groups_creatives_fkey';
    END IF;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION p360_ad_group_creatives_check() FROM PUBLIC;

CREATE TRIGGER ad_groups_creatives_check
    BEFORE INSERT OR UPDATE OF creative_ids, campaign_id, tenant_id ON ad_groups
    FOR EACH ROW EXECUTE FUNCTION p360_ad_group_creatives_check();
