//! What attribution reads of delivery: the days each company was reached
//! by each of the tenant's campaigns (merged rollups, `delivery_accounts`),
//! and what each campaign spent; what billing reads: each campaign's
//! delivery per month.

use chrono::NaiveDate;
use tenancy::{TenantId, TenantTx};
use uuid::Uuid;

/// A company's day of one campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountDay {
    pub company: String,
    pub campaign_id: Uuid,
    pub day: NaiveDate,
    pub impressions: i64,
    pub clicks: i64,
}

/// Every day in `[from, to]` a company was reached (an impression or a
/// click) by one of the tenant's campaigns, by company, day and campaign.
pub async fn account_days(
    tx: &mut TenantTx,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<AccountDay>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        AccountDay,
        r#"SELECT company AS "company!", campaign_id, day, impressions, clicks
           FROM delivery_accounts
           WHERE tenant_id = $1 AND day BETWEEN $2 AND $3 AND company IS NOT NULL
             AND (impressions > 0 OR clicks > 0)
           ORDER BY company, day, campaign_id"#,
        tenant as TenantId,
        from,
        to
    )
    .fetch_all(tx.conn())
    .await
}

/// The days `company` was reached in `[from, to]`.
pub async fn company_days(
    tx: &mut TenantTx,
    company: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<AccountDay>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        AccountDay,
        r#"SELECT company AS "company!", campaign_id, day, impressions, clicks
           FROM delivery_accounts
           WHERE tenant_id = $1 AND day BETWEEN $2 AND $3 AND company = $4
             AND (impressions > 0 OR clicks > 0)
           ORDER BY day, campaign_id"#,
        tenant as TenantId,
        from,
        to,
        company
    )
    .fetch_all(tx.conn())
    .await
}

/// Each campaign's spend (TTD's advertiser cost, micro-dollars) in `[from, to]`.
pub async fn campaign_spend(
    tx: &mut TenantTx,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(Uuid, i64)>, sqlx::Error> {
    let tenant = tx.tenant();
    Ok(sqlx::query!(
        r#"SELECT campaign_id, sum(advertiser_cost_micros)::int8 AS "spend!"
           FROM delivery_accounts
           WHERE tenant_id = $1 AND day BETWEEN $2 AND $3
           GROUP BY campaign_id"#,
        tenant as TenantId,
        from,
        to
    )
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .map(|r| (r.campaign_id, r.spend))
    .collect())
}

/// What changes whenever the merge adds or takes back rows of one of the
/// tenant's campaigns: (campaigns, sum of their versions). A reader holding
/// touches read under the same pair holds what the database holds.
pub async fn version(tx: &mut TenantTx) -> Result<(i64, i64), sqlx::Error> {
    let tenant = tx.tenant();
    let r = sqlx::query!(
        r#"SELECT count(*) AS "campaigns!", coalesce(sum(version), 0)::int8 AS "versions!"
           FROM delivery_campaign_versions WHERE tenant_id = $1"#,
        tenant as TenantId
    )
    .fetch_one(tx.conn())
    .await?;
    Ok((r.campaigns, r.versions))
}

/// What one campaign delivered in one month (billing prices it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignMonth {
    pub campaign_id: Uuid,
    /// The month's first day.
    pub month: NaiveDate,
    pub impressions: i64,
    pub clicks: i64,
    /// TTD's advertiser cost, micros of the advertiser's currency.
    pub cost_micros: i64,
}

/// Each of `campaigns`' delivery per month over `[from, to]`.
pub async fn campaign_months(
    tx: &mut TenantTx,
    campaigns: &[Uuid],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<CampaignMonth>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        CampaignMonth,
        r#"SELECT campaign_id, date_trunc('month', day)::date AS "month!",
                  sum(impressions)::int8 AS "impressions!", sum(clicks)::int8 AS "clicks!",
                  sum(advertiser_cost_micros)::int8 AS "cost_micros!"
           FROM delivery_accounts
           WHERE tenant_id = $1 AND campaign_id = ANY($2) AND day BETWEEN $3 AND $4
           GROUP BY 1, 2 ORDER BY 1, 2"#,
        tenant as TenantId,
        campaigns,
        from,
        to
    )
    .fetch_all(tx.conn())
    .await
}
