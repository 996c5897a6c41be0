//! The account view's SQL: the tenant's reporting rules (what each company
//! received is read through [`crate::days`]).

use tenancy::{TenantId, TenantTx};

use super::Settings;

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
