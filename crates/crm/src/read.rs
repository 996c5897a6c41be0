//! What other capabilities may read of the CRM: the tenant's opportunities
//! with the company their account matched, and the companies its accounts
//! matched.

use chrono::{DateTime, NaiveDate, Utc};
use tenancy::{TenantId, TenantTx};

/// An opportunity as attribution reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opportunity {
    pub id: String,
    pub account_id: Option<String>,
    /// The company its account matched (registrable domain), if any.
    pub company: Option<String>,
    pub name: String,
    pub amount_micros: Option<i64>,
    pub currency: String,
    pub stage: String,
    pub created_at: DateTime<Utc>,
    pub close_date: Option<NaiveDate>,
    pub is_closed: bool,
    pub is_won: bool,
}

/// The tenant's live opportunities created in `[from, to]` or closed (won
/// or lost) with a close date in `[from, to]` (days, UTC).
pub async fn opportunities(
    tx: &mut TenantTx,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Opportunity>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Opportunity,
        r#"SELECT o.id, o.account_id, a.company AS "company?", o.name, o.amount_micros, o.currency,
                  o.stage, o.created_at, o.close_date, o.is_closed, o.is_won
           FROM crm_opportunities o
           LEFT JOIN crm_accounts a
             ON a.tenant_id = o.tenant_id AND a.id = o.account_id AND NOT a.is_deleted
                AND a.match_status = 'matched'
           WHERE o.tenant_id = $1 AND NOT o.is_deleted
             AND ((o.created_at >= $2::date AND o.created_at < $3::date + 1)
                  OR (o.is_closed AND o.close_date BETWEEN $2 AND $3))
           ORDER BY o.id"#,
        tenant as TenantId,
        from,
        to
    )
    .fetch_all(tx.conn())
    .await
}

/// One opportunity of the tenant, live or not.
pub async fn opportunity(tx: &mut TenantTx, id: &str) -> Result<Option<Opportunity>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Opportunity,
        r#"SELECT o.id, o.account_id, a.company AS "company?", o.name, o.amount_micros, o.currency,
                  o.stage, o.created_at, o.close_date, o.is_closed, o.is_won
           FROM crm_opportunities o
           LEFT JOIN crm_accounts a
             ON a.tenant_id = o.tenant_id AND a.id = o.account_id AND NOT a.is_deleted
                AND a.match_status = 'matched'
           WHERE o.tenant_id = $1 AND o.id = $2 AND NOT o.is_deleted"#,
        tenant as TenantId,
        id
    )
    .fetch_optional(tx.conn())
    .await
}

/// The companies the tenant's live accounts matched.
pub async fn matched_companies(tx: &mut TenantTx) -> Result<Vec<String>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar!(
        r#"SELECT DISTINCT company AS "company!" FROM crm_accounts
           WHERE tenant_id = $1 AND NOT is_deleted AND match_status = 'matched' AND company IS NOT NULL"#,
        tenant as TenantId
    )
    .fetch_all(tx.conn())
    .await
}

/// What changes whenever a sync commits a page or ends (its matching
/// done): the connection's last change, and the objects' synced records
/// and last commit. A reader holding opportunities read under the same
/// value holds what the database holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub connection: Option<DateTime<Utc>>,
    pub records: i64,
    pub committed: Option<DateTime<Utc>>,
}

pub async fn version(tx: &mut TenantTx) -> Result<Version, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Version,
        r#"SELECT (SELECT updated_at FROM salesforce_connections WHERE tenant_id = $1) AS connection,
                  coalesce(sum(records), 0)::int8 AS "records!",
                  max(updated_at) AS committed
           FROM salesforce_watermarks WHERE tenant_id = $1"#,
        tenant as TenantId
    )
    .fetch_one(tx.conn())
    .await
}
