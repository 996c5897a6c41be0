//! The watch's SQL: the alerts open, opened and resolved, and those the
//! webhook has not taken yet.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// An alert as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub campaign_id: Option<Uuid>,
    pub kind: String,
    pub detail: serde_json::Value,
    pub opened_at: DateTime<Utc>,
}

/// The open alerts of `tenant` (`None`: the platform's): (campaign, kind).
pub async fn open(
    conn: &mut PgConnection,
    tenant: Option<Uuid>,
) -> Result<Vec<(Option<Uuid>, String)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT campaign_id, kind FROM delivery_alerts
         WHERE resolved_at IS NULL AND tenant_id IS NOT DISTINCT FROM $1",
        tenant
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.campaign_id, r.kind)).collect())
}

/// Open an alert unless one is open for the same (tenant, campaign, kind).
pub async fn raise(
    conn: &mut PgConnection,
    tenant: Option<Uuid>,
    campaign: Option<Uuid>,
    kind: &str,
    detail: &serde_json::Value,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "INSERT INTO delivery_alerts (id, tenant_id, campaign_id, kind, detail)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, campaign_id, kind) WHERE resolved_at IS NULL DO NOTHING",
        Uuid::now_v7(),
        tenant,
        campaign,
        kind,
        detail
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Resolve the open alert of (tenant, campaign, kind).
pub async fn resolve(
    conn: &mut PgConnection,
    tenant: Option<Uuid>,
    campaign: Option<Uuid>,
    kind: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE delivery_alerts SET resolved_at = now()
         WHERE resolved_at IS NULL AND tenant_id IS NOT DISTINCT FROM $1
           AND campaign_id IS NOT DISTINCT FROM $2 AND kind = $3",
        tenant,
        campaign,
        kind
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Open alerts the webhook has not taken, oldest first (every tenant the
/// connection sees).
pub async fn unsent(conn: &mut PgConnection, limit: i64) -> Result<Vec<Alert>, sqlx::Error> {
    sqlx::query_as!(
        Alert,
        "SELECT id, tenant_id, campaign_id, kind, detail, opened_at FROM delivery_alerts
         WHERE notified_at IS NULL AND resolved_at IS NULL ORDER BY opened_at, id LIMIT $1",
        limit
    )
    .fetch_all(conn)
    .await
}

pub async fn sent(conn: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE delivery_alerts SET notified_at = now() WHERE id = $1",
        id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Open alerts by kind (every tenant the connection sees).
pub async fn counts(conn: &mut PgConnection) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT kind, count(*) AS "n!" FROM delivery_alerts WHERE resolved_at IS NULL
           GROUP BY kind"#
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.kind, r.n)).collect())
}

/// The alerts of the transaction's tenant open now, newest first.
pub async fn of_tenant(conn: &mut PgConnection, tenant: Uuid) -> Result<Vec<Alert>, sqlx::Error> {
    sqlx::query_as!(
        Alert,
        "SELECT id, tenant_id, campaign_id, kind, detail, opened_at FROM delivery_alerts
         WHERE tenant_id = $1 AND resolved_at IS NULL ORDER BY opened_at DESC, id DESC",
        tenant
    )
    .fetch_all(conn)
    .await
}
