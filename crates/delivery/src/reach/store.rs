//! The account view's SQL: what each company received from a set of
//! campaigns (`delivery_accounts`), and the tenant's reporting rules.

use std::collections::HashMap;

use chrono::NaiveDate;
use tenancy::{TenantId, TenantTx};
use uuid::Uuid;

use super::{Delivered, Settings};

/// What each company received from `campaigns` between `from` and `to`
/// (inclusive); `""` holds the unresolved impressions.
pub async fn delivered(
    tx: &mut TenantTx,
    campaigns: &[Uuid],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<HashMap<String, Delivered>, sqlx::Error> {
    let tenant = tx.tenant();
    let rows = sqlx::query!(
        r#"SELECT coalesce(company, '') AS "company!", sum(impressions)::int8 AS "impressions!",
                  sum(clicks)::int8 AS "clicks!", sum(advertiser_cost_micros)::int8 AS "spend!"
           FROM delivery_accounts
           WHERE tenant_id = $1 AND campaign_id = ANY($2) AND day BETWEEN $3 AND $4
           GROUP BY company"#,
        tenant as TenantId,
        campaigns,
        from,
        to
    )
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.company,
                Delivered {
                    impressions: r.impressions,
                    clicks: r.clicks,
                    spend: r.spend,
                },
            )
        })
        .collect())
}

/// The tenant's rules, if it set any.
pub async fn settings(tx: &mut TenantTx) -> Result<Option<Settings>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Settings,
        "SELECT engaged_min_clicks, engaged_min_impressions, pacing_tolerance_pct
         FROM delivery_settings WHERE tenant_id = $1",
        tenant as TenantId
    )
    .fetch_optional(tx.conn())
    .await
}

/// Set the tenant's rules.
pub async fn put_settings(tx: &mut TenantTx, s: &Settings) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query!(
        "INSERT INTO delivery_settings (tenant_id, engaged_min_clicks, engaged_min_impressions,
             pacing_tolerance_pct)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id) DO UPDATE SET
             engaged_min_clicks = EXCLUDED.engaged_min_clicks,
             engaged_min_impressions = EXCLUDED.engaged_min_impressions,
             pacing_tolerance_pct = EXCLUDED.pacing_tolerance_pct,
             version = delivery_settings.version + 1, updated_at = now()",
        tenant as TenantId,
        s.engaged_min_clicks,
        s.engaged_min_impressions,
        s.pacing_tolerance_pct
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}
