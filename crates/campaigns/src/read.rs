//! What other capabilities may read of campaigns: a consistent snapshot of
//! a campaign and everything it runs (for the TTD sync; read it in a
//! `TenantTx::begin_snapshot` transaction, so that a concurrent change
//! cannot give a half-old, half-new picture), and for delivery reports the
//! names of campaigns and their parts, the campaigns of an advertiser or
//! insertion order, and which audiences campaigns target.

use std::collections::HashMap;

use tenancy::{TenantId, TenantTx};
use uuid::Uuid;

use crate::ad_groups::{self, AdGroupStatus};
use crate::advertisers::{self, Advertiser};
use crate::campaigns;
use crate::creatives::{self, Creative};
use crate::ids::CampaignId;

/// A campaign, its advertiser, its ad groups (all, oldest first) and the
/// active creatives its active ad groups run.
#[derive(Debug, Clone)]
pub struct CampaignSnapshot {
    pub campaign: campaigns::Row,
    pub advertiser: Advertiser,
    pub ad_groups: Vec<ad_groups::Row>,
    pub creatives: Vec<Creative>,
}

/// The snapshot of campaign `id`, if it exists.
pub async fn snapshot(
    tx: &mut TenantTx,
    id: CampaignId,
) -> Result<Option<CampaignSnapshot>, sqlx::Error> {
    let Some(campaign) = campaigns::store::get(tx, id).await? else {
        return Ok(None);
    };
    let advertiser = advertisers::store::get(tx, campaign.advertiser_id)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    let ad_groups = ad_groups::store::of_campaign(tx, id).await?;
    let wanted: Vec<_> = ad_groups
        .iter()
        .filter(|g| g.status == AdGroupStatus::Active)
        .flat_map(|g| g.creative_ids.iter().copied())
        .collect();
    let creatives = creatives::store::active_among(tx, &wanted).await?;
    Ok(Some(CampaignSnapshot {
        campaign,
        advertiser,
        ad_groups,
        creatives,
    }))
}

/// The names of campaigns, ad groups and creatives, by id (for reports).
#[derive(Debug, Default, Clone)]
pub struct Names {
    pub campaigns: HashMap<Uuid, String>,
    pub ad_groups: HashMap<Uuid, String>,
    pub creatives: HashMap<Uuid, String>,
}

/// The names of the tenant's campaigns, ad groups and creatives among
/// these ids, in one query.
pub async fn names(
    tx: &mut TenantTx,
    campaigns: &[Uuid],
    ad_groups: &[Uuid],
    creatives: &[Uuid],
) -> Result<Names, sqlx::Error> {
    let tenant = tx.tenant();
    let rows = sqlx::query!(
        r#"SELECT 'c' AS "kind!", id, name FROM campaigns WHERE tenant_id = $1 AND id = ANY($2)
           UNION ALL
           SELECT 'g', id, name FROM ad_groups WHERE tenant_id = $1 AND id = ANY($3)
           UNION ALL
           SELECT 'r', id, name FROM creatives WHERE tenant_id = $1 AND id = ANY($4)"#,
        tenant as TenantId,
        campaigns,
        ad_groups,
        creatives
    )
    .fetch_all(tx.conn())
    .await?;
    let mut names = Names::default();
    for r in rows {
        let (Some(id), Some(name)) = (r.id, r.name) else {
            continue;
        };
        match r.kind.as_str() {
            "c" => names.campaigns.insert(id, name),
            "g" => names.ad_groups.insert(id, name),
            _ => names.creatives.insert(id, name),
        };
    }
    Ok(names)
}

/// The tenant's campaigns of an advertiser and/or insertion order (every
/// campaign when neither is given).
pub async fn campaign_ids(
    tx: &mut TenantTx,
    advertiser: Option<Uuid>,
    insertion_order: Option<Uuid>,
) -> Result<Vec<Uuid>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar!(
        r#"SELECT id FROM campaigns
           WHERE tenant_id = $1 AND ($2::uuid IS NULL OR advertiser_id = $2)
             AND ($3::uuid IS NULL OR insertion_order_id = $3)
           ORDER BY id"#,
        tenant as TenantId,
        advertiser,
        insertion_order
    )
    .fetch_all(tx.conn())
    .await
}

/// The audiences the (not archived) ad groups of campaigns `ids` include.
pub async fn targeted_audiences(tx: &mut TenantTx, ids: &[Uuid]) -> Result<Vec<Uuid>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar!(
        r#"SELECT DISTINCT a.id::uuid AS "id!"
           FROM ad_groups g,
                jsonb_array_elements_text(coalesce(g.targeting #> '{audiences,include}', '[]')) AS a(id)
           WHERE g.tenant_id = $1 AND g.campaign_id = ANY($2) AND g.status = 'active'
           ORDER BY 1"#,
        tenant as TenantId,
        ids
    )
    .fetch_all(tx.conn())
    .await
}

/// The campaigns whose (not archived) ad groups include audience `id`.
pub async fn campaigns_targeting(tx: &mut TenantTx, id: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar!(
        r#"SELECT DISTINCT campaign_id FROM ad_groups
           WHERE tenant_id = $1 AND status = 'active'
             AND coalesce(targeting #> '{audiences,include}', '[]') ? $2::text
           ORDER BY 1"#,
        tenant as TenantId,
        id.to_string()
    )
    .fetch_all(tx.conn())
    .await
}

/// Campaign `id`, if it is the tenant's.
pub async fn campaign(
    tx: &mut TenantTx,
    id: CampaignId,
) -> Result<Option<campaigns::Row>, sqlx::Error> {
    campaigns::store::get(tx, id).await
}

/// Whether the advertiser and insertion order given (either may be absent)
/// are the tenant's.
pub async fn owner_exists(
    tx: &mut TenantTx,
    advertiser: Option<Uuid>,
    insertion_order: Option<Uuid>,
) -> Result<bool, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar!(
        r#"SELECT ($2::uuid IS NULL
                   OR EXISTS (SELECT 1 FROM advertisers WHERE tenant_id = $1 AND id = $2))
              AND ($3::uuid IS NULL
                   OR EXISTS (SELECT 1 FROM insertion_orders WHERE tenant_id = $1 AND id = $3))
              AS "exists!""#,
        tenant as TenantId,
        advertiser,
        insertion_order
    )
    .fetch_one(tx.conn())
    .await
}

/// What a campaign spends by: its budget, cap, flight and pacing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendTerms {
    pub id: Uuid,
    pub name: String,
    pub insertion_order_id: Uuid,
    /// `approved`, `active`, `paused`, ... (the campaign's status).
    pub status: String,
    pub currency: String,
    pub budget_micros: i64,
    pub daily_cap_micros: Option<i64>,
    pub flight_start: chrono::NaiveDate,
    /// The last day of the flight (included).
    pub flight_end: chrono::NaiveDate,
    /// `even`, `ahead` or `asap`.
    pub pacing: String,
}

/// The spend terms of the tenant's campaigns: those in `ids`, or of the
/// insertion order `io`, or (neither given) every campaign cleared to
/// spend (approved, active or paused); by name.
pub async fn spend_terms(
    tx: &mut TenantTx,
    ids: Option<&[Uuid]>,
    io: Option<Uuid>,
) -> Result<Vec<SpendTerms>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        SpendTerms,
        r#"SELECT id, name, insertion_order_id, status, currency, budget_micros, daily_cap_micros,
                  flight_start, flight_end, pacing
           FROM campaigns
           WHERE tenant_id = $1
             AND CASE WHEN $2::uuid[] IS NOT NULL THEN id = ANY($2)
                      WHEN $3::uuid IS NOT NULL THEN insertion_order_id = $3
                      ELSE status IN ('approved', 'active', 'paused') END
           ORDER BY name, id"#,
        tenant as TenantId,
        ids,
        io
    )
    .fetch_all(tx.conn())
    .await
}

/// An insertion order's budget and dates: (name, currency, budget, first
/// day, last day), if it is the tenant's.
pub async fn insertion_order_terms(
    tx: &mut TenantTx,
    id: Uuid,
) -> Result<Option<(String, String, i64, chrono::NaiveDate, chrono::NaiveDate)>, sqlx::Error> {
    let tenant = tx.tenant();
    let row = sqlx::query!(
        "SELECT name, currency, budget_micros, start_date, end_date FROM insertion_orders
         WHERE tenant_id = $1 AND id = $2",
        tenant as TenantId,
        id
    )
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.map(|r| {
        (
            r.name,
            r.currency,
            r.budget_micros,
            r.start_date,
            r.end_date,
        )
    }))
}

/// An insertion order as billing prices it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingOrder {
    pub id: Uuid,
    pub advertiser_id: Uuid,
    pub name: String,
    pub currency: String,
    pub budget_micros: i64,
    pub start_date: chrono::NaiveDate,
    /// The last day (included).
    pub end_date: chrono::NaiveDate,
    /// `cpm`, `cpc`, `flat_fee` or `cost_plus`.
    pub pricing_model: String,
    /// Micros of the currency; for `cost_plus`, micro-percent.
    pub pricing_rate_micros: i64,
}

/// The tenant's insertion orders whose flight starts on or before `through`.
pub async fn billing_orders(
    tx: &mut TenantTx,
    through: chrono::NaiveDate,
) -> Result<Vec<BillingOrder>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        BillingOrder,
        "SELECT id, advertiser_id, name, currency, budget_micros, start_date, end_date,
                pricing_model, pricing_rate_micros
         FROM insertion_orders WHERE tenant_id = $1 AND start_date <= $2
         ORDER BY advertiser_id, name, id",
        tenant as TenantId,
        through
    )
    .fetch_all(tx.conn())
    .await
}

/// The campaigns of the tenant's insertion orders `ios`: (campaign, its
/// order, its name), by name.
pub async fn campaigns_of_orders(
    tx: &mut TenantTx,
    ios: &[Uuid],
) -> Result<Vec<(Uuid, Uuid, String)>, sqlx::Error> {
    let tenant = tx.tenant();
    Ok(sqlx::query!(
        "SELECT id, insertion_order_id, name FROM campaigns
         WHERE tenant_id = $1 AND insertion_order_id = ANY($2) ORDER BY name, id",
        tenant as TenantId,
        ios
    )
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .map(|r| (r.id, r.insertion_order_id, r.name))
    .collect())
}

/// An advertiser as an invoice names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BilledAdvertiser {
    pub id: Uuid,
    pub name: String,
    pub domain: String,
}

/// The tenant's advertisers among `ids`.
pub async fn billed_advertisers(
    tx: &mut TenantTx,
    ids: &[Uuid],
) -> Result<Vec<BilledAdvertiser>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        BilledAdvertiser,
        "SELECT id, name, domain FROM advertisers WHERE tenant_id = $1 AND id = ANY($2)",
        tenant as TenantId,
        ids
    )
    .fetch_all(tx.conn())
    .await
}

/// The billing contacts of the tenant's insertion orders among `ids`:
/// (order, name, contact).
pub async fn order_contacts(
    tx: &mut TenantTx,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, String, Option<String>)>, sqlx::Error> {
    let tenant = tx.tenant();
    Ok(sqlx::query!(
        "SELECT id, name, billing_contact FROM insertion_orders
         WHERE tenant_id = $1 AND id = ANY($2) ORDER BY name, id",
        tenant as TenantId,
        ids
    )
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .map(|r| (r.id, r.name, r.billing_contact))
    .collect())
}

/// The object-store keys of the newest `limit` creatives' uploaded files
/// (the image, or an HTML5 bundle's zip), of every tenant `tx` sees, for
/// the restore check: (creative, key; none when its row names no file).
pub async fn creative_files(
    tx: &mut tenancy::scope::ScopedTx,
    limit: i64,
) -> Result<Vec<(Uuid, Option<String>)>, sqlx::Error> {
    use crate::creatives::{CreativeKind, PublicFile};
    Ok(sqlx::query!(
        r#"SELECT id, kind AS "kind: CreativeKind", mime, sha256, storage_prefix, files
           FROM creatives ORDER BY created_at DESC, id DESC LIMIT $1"#,
        limit
    )
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .map(|r| {
        let file = PublicFile {
            kind: r.kind,
            mime: r.mime,
            sha256: r.sha256,
            storage_prefix: r.storage_prefix,
            files: r.files,
        };
        (r.id, file.key())
    })
    .collect())
}
