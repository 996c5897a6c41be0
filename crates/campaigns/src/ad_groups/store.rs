//! The SQL of ad groups.

use sqlx::types::Json;
use tenancy::{TenantId, TenantTx};

use super::{AdGroupStatus, PendingOp, Row};
use crate::campaigns::{CampaignStatus, Pending};
use crate::ids::{AdGroupId, AdvertiserId, CampaignId, CreativeId};

/// The campaign an ad group change must fit, locked.
pub struct CampaignLock {
    pub currency: String,
    pub budget_micros: i64,
    pub status: CampaignStatus,
    pub advertiser_id: AdvertiserId,
    pub version: i64,
    /// Its change waiting for approval, if it is live and has one.
    pub pending: Option<Json<Pending>>,
}

impl CampaignLock {
    /// Live: approved, active or paused; its ad groups change by proposals.
    pub fn is_live(&self) -> bool {
        self.status.is_cleared_to_spend()
    }

    /// The budget its ad groups must fit: the proposed one while a change
    /// proposes one.
    pub fn budget_after_change(&self) -> i64 {
        self.pending
            .as_ref()
            .and_then(|p| p.budget_micros)
            .unwrap_or(self.budget_micros)
    }
}

pub async fn lock_campaign(
    tx: &mut TenantTx,
    id: CampaignId,
) -> Result<Option<CampaignLock>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        CampaignLock,
        r#"SELECT currency, budget_micros, status AS "status: CampaignStatus",
                  advertiser_id AS "advertiser_id: AdvertiserId", version,
                  pending AS "pending: Json<Pending>"
           FROM campaigns WHERE id = $1 AND tenant_id = $2 FOR UPDATE"#,
        id as CampaignId,
        tenant as TenantId
    )
    .fetch_optional(tx.conn())
    .await
}

/// The currency of a campaign, if it exists.
pub async fn campaign_currency(
    tx: &mut TenantTx,
    id: CampaignId,
) -> Result<Option<String>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar!(
        "SELECT currency FROM campaigns WHERE id = $1 AND tenant_id = $2",
        id as CampaignId,
        tenant as TenantId
    )
    .fetch_optional(tx.conn())
    .await
}

/// Budget the campaign's ad groups (but `except`) hold once its pending
/// change, if any, is approved (see `campaigns::store::ad_groups_budget`).
pub async fn committed(
    tx: &mut TenantTx,
    campaign: CampaignId,
    except: Option<AdGroupId>,
) -> Result<i64, sqlx::Error> {
    crate::campaigns::store::ad_groups_budget(tx, campaign, except).await
}

/// What an insert or update writes.
pub struct Values<'a> {
    pub name: Option<&'a str>,
    pub budget_micros: Option<i64>,
    pub base_bid_cpm_micros: Option<i64>,
    pub max_bid_cpm_micros: Option<i64>,
    pub frequency_impressions: Option<i64>,
    pub frequency_period_hours: Option<i64>,
    pub targeting: serde_json::Value,
    pub creative_ids: &'a [CreativeId],
}

/// Insert an ad group; `proposed`: for a live campaign, stored archived with
/// its creation pending.
pub async fn insert(
    tx: &mut TenantTx,
    campaign: CampaignId,
    v: &Values<'_>,
    proposed: bool,
) -> Result<Row, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Row,
        r#"INSERT INTO ad_groups (id, tenant_id, campaign_id, name, budget_micros,
               base_bid_cpm_micros, max_bid_cpm_micros, frequency_impressions,
               frequency_period_hours, targeting, creative_ids, status, pending)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
               CASE WHEN $12 THEN 'archived' ELSE 'active' END,
               CASE WHEN $12 THEN '{"op": "create"}'::jsonb END)
           RETURNING id AS "id: AdGroupId", campaign_id AS "campaign_id: CampaignId", name,
               budget_micros, base_bid_cpm_micros, max_bid_cpm_micros, frequency_impressions,
               frequency_period_hours, targeting, creative_ids AS "creative_ids: Vec<CreativeId>",
               status AS "status: AdGroupStatus", pending AS "pending: Json<PendingOp>", version,
               created_at, updated_at"#,
        AdGroupId::new() as AdGroupId,
        tenant as TenantId,
        campaign as CampaignId,
        v.name,
        v.budget_micros,
        v.base_bid_cpm_micros,
        v.max_bid_cpm_micros,
        v.frequency_impressions,
        v.frequency_period_hours,
        v.targeting,
        v.creative_ids as &[CreativeId],
        proposed
    )
    .fetch_one(tx.conn())
    .await
}

/// The ad groups of a campaign, oldest first.
pub async fn of_campaign(tx: &mut TenantTx, campaign: CampaignId) -> Result<Vec<Row>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Row,
        r#"SELECT id AS "id: AdGroupId", campaign_id AS "campaign_id: CampaignId", name,
               budget_micros, base_bid_cpm_micros, max_bid_cpm_micros, frequency_impressions,
               frequency_period_hours, targeting, creative_ids AS "creative_ids: Vec<CreativeId>",
               status AS "status: AdGroupStatus", pending AS "pending: Json<PendingOp>", version,
               created_at, updated_at
           FROM ad_groups WHERE campaign_id = $1 AND tenant_id = $2 ORDER BY created_at, id"#,
        campaign as CampaignId,
        tenant as TenantId
    )
    .fetch_all(tx.conn())
    .await
}

/// An ad group and its campaign's currency.
pub async fn get(tx: &mut TenantTx, id: AdGroupId) -> Result<Option<(Row, String)>, sqlx::Error> {
    let tenant = tx.tenant();
    let row = sqlx::query_as!(
        Row,
        r#"SELECT id AS "id: AdGroupId", campaign_id AS "campaign_id: CampaignId", name,
               budget_micros, base_bid_cpm_micros, max_bid_cpm_micros, frequency_impressions,
               frequency_period_hours, targeting, creative_ids AS "creative_ids: Vec<CreativeId>",
               status AS "status: AdGroupStatus", pending AS "pending: Json<PendingOp>", version,
               created_at, updated_at
           FROM ad_groups WHERE id = $1 AND tenant_id = $2"#,
        id as AdGroupId,
        tenant as TenantId
    )
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let currency = campaign_currency(tx, row.campaign_id)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    Ok(Some((row, currency)))
}

/// The campaign of an ad group (to lock it first).
pub async fn campaign_of(
    tx: &mut TenantTx,
    id: AdGroupId,
) -> Result<Option<CampaignId>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar!(
        r#"SELECT campaign_id AS "campaign_id: CampaignId" FROM ad_groups
           WHERE id = $1 AND tenant_id = $2"#,
        id as AdGroupId,
        tenant as TenantId
    )
    .fetch_optional(tx.conn())
    .await
}

pub async fn update(tx: &mut TenantTx, id: AdGroupId, v: &Values<'_>) -> Result<Row, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Row,
        r#"UPDATE ad_groups SET name = coalesce($3, name), budget_micros = $4,
               base_bid_cpm_micros = $5, max_bid_cpm_micros = $6, frequency_impressions = $7,
               frequency_period_hours = $8, targeting = $9, creative_ids = $10,
               version = version + 1, updated_at = now()
           WHERE id = $1 AND tenant_id = $2
           RETURNING id AS "id: AdGroupId", campaign_id AS "campaign_id: CampaignId", name,
               budget_micros, base_bid_cpm_micros, max_bid_cpm_micros, frequency_impressions,
               frequency_period_hours, targeting, creative_ids AS "creative_ids: Vec<CreativeId>",
               status AS "status: AdGroupStatus", pending AS "pending: Json<PendingOp>", version,
               created_at, updated_at"#,
        id as AdGroupId,
        tenant as TenantId,
        v.name,
        v.budget_micros,
        v.base_bid_cpm_micros,
        v.max_bid_cpm_micros,
        v.frequency_impressions,
        v.frequency_period_hours,
        v.targeting,
        v.creative_ids as &[CreativeId]
    )
    .fetch_one(tx.conn())
    .await
}

pub async fn archive(tx: &mut TenantTx, id: AdGroupId) -> Result<Row, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Row,
        r#"UPDATE ad_groups SET status = 'archived', version = version + 1, updated_at = now()
           WHERE id = $1 AND tenant_id = $2
           RETURNING id AS "id: AdGroupId", campaign_id AS "campaign_id: CampaignId", name,
               budget_micros, base_bid_cpm_micros, max_bid_cpm_micros, frequency_impressions,
               frequency_period_hours, targeting, creative_ids AS "creative_ids: Vec<CreativeId>",
               status AS "status: AdGroupStatus", pending AS "pending: Json<PendingOp>", version,
               created_at, updated_at"#,
        id as AdGroupId,
        tenant as TenantId
    )
    .fetch_one(tx.conn())
    .await
}

/// Rename an ad group (a rename needs no approval).
pub async fn rename(tx: &mut TenantTx, id: AdGroupId, name: &str) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query!(
        "UPDATE ad_groups SET name = $3, version = version + 1, updated_at = now() \
         WHERE id = $1 AND tenant_id = $2",
        id as AdGroupId,
        tenant as TenantId,
        name
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Set (or clear) the change waiting for an ad group of a live campaign.
pub async fn set_pending(
    tx: &mut TenantTx,
    id: AdGroupId,
    op: Option<&PendingOp>,
) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query!(
        "UPDATE ad_groups SET pending = $3, version = version + 1, updated_at = now() \
         WHERE id = $1 AND tenant_id = $2",
        id as AdGroupId,
        tenant as TenantId,
        op.map(Json) as Option<Json<&PendingOp>>
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}
