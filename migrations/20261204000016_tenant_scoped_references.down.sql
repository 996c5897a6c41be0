SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DROP TRIGGER ad_groups_creatives_check ON ad_groups;
-- squawk-ignore ban-drop-function
DROP FUNCTION p360_ad_group_creatives_check();
-- squawk-ignore ban-drop-constraint
ALTER TABLE creatives DROP CONSTRAINT creatives_tenant_advertiser_fkey;
-- squawk-ignore ban-drop-constraint
ALTER TABLE ad_groups DROP CONSTRAINT ad_groups_tenant_campaign_fkey;
-- squawk-ignore require-concurrent-index-deletion
DROP INDEX creatives_tenant_advertiser_idx;
-- squawk-ignore require-concurrent-index-deletion
DROP INDEX advertisers_tenant_id_key;
-- squawk-ignore require-concurrent-index-deletion
DROP INDEX campaigns_tenant_id_key;
