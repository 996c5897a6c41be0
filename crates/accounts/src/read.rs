//! What other capabilities may read of accounts: which of a tenant's
//! account lists exist, and the companies they matched.

use tenancy::{TenantId, TenantTx};
use uuid::Uuid;

/// Which of `ids` are account lists of the transaction's tenant.
pub async fn existing_lists(tx: &mut TenantTx, ids: &[Uuid]) -> Result<Vec<Uuid>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar!(
        "SELECT id FROM account_lists WHERE tenant_id = $1 AND id = ANY($2)",
        tenant as TenantId,
        ids
    )
    .fetch_all(tx.conn())
    .await
}

/// The companies (domains) matched in the lists `ids`, each once.
pub async fn matched_companies(
    tx: &mut TenantTx,
    ids: &[Uuid],
) -> Result<Vec<String>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar!(
        r#"SELECT DISTINCT company AS "company!" FROM account_list_rows
           WHERE tenant_id = $1 AND list_id = ANY($2) AND company IS NOT NULL
           ORDER BY 1"#,
        tenant as TenantId,
        ids
    )
    .fetch_all(tx.conn())
    .await
}
