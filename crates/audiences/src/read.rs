//! What other capabilities may read of audiences: which exist, and the
//! companies they target (for the account view of delivery reports).

use tenancy::{TenantId, TenantTx};
use uuid::Uuid;

/// A company audiences name: targeted, or held out (kept from the
/// targeting to measure lift).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub domain: String,
    pub holdout: bool,
}

/// Which of `ids` are audiences of the transaction's tenant.
pub async fn existing(tx: &mut TenantTx, ids: &[Uuid]) -> Result<Vec<Uuid>, sqlx::Error> {
    crate::audience::store::existing(tx, ids).await
}

/// The current members of audiences `ids`, each company once, by domain:
/// held out only when every one of the audiences that has it holds it out.
pub async fn targets(tx: &mut TenantTx, ids: &[Uuid]) -> Result<Vec<Target>, sqlx::Error> {
    let tenant = tx.tenant();
    let rows = sqlx::query!(
        r#"SELECT domain, bool_and(holdout) AS "holdout!" FROM audience_members
           WHERE tenant_id = $1 AND audience_id = ANY($2)
           GROUP BY domain ORDER BY domain"#,
        tenant as TenantId,
        ids
    )
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Target {
            domain: r.domain,
            holdout: r.holdout,
        })
        .collect())
}
