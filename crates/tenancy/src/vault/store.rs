//! `tenant_data_keys`: each tenant's data key, wrapped.

use crate::scope::TenantTx;

/// The tenant's wrapped data key and what wrapped it.
pub(super) async fn get(tx: &mut TenantTx) -> Result<Option<(Vec<u8>, String)>, sqlx::Error> {
    let tenant = tx.tenant();
    let row = sqlx::query!(
        "SELECT wrapped, wrapped_by FROM tenant_data_keys WHERE tenant_id = $1",
        tenant.0
    )
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.map(|r| (r.wrapped, r.wrapped_by)))
}

/// Store the tenant's data key unless it has one: whether this one was stored.
pub(super) async fn insert(
    tx: &mut TenantTx,
    wrapped: &[u8],
    by: &str,
) -> Result<bool, sqlx::Error> {
    let tenant = tx.tenant();
    let done = sqlx::query!(
        "INSERT INTO tenant_data_keys (tenant_id, wrapped, wrapped_by) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id) DO NOTHING",
        tenant.0,
        wrapped,
        by
    )
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}
