//! The connection's SQL.

use chrono::{DateTime, Utc};
use tenancy::{TenantId, TenantTx};

use super::ObjectSync;

/// A connection as stored (the sealed key included).
pub struct Stored {
    pub consumer_key: String,
    pub username: String,
    pub login_host: String,
    pub currency: String,
    pub private_key_sealed: Vec<u8>,
    pub instance_url: Option<String>,
    pub status: String,
    pub last_error: Option<String>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub connected_at: DateTime<Utc>,
}

pub async fn get(tx: &mut TenantTx) -> Result<Option<Stored>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Stored,
        "SELECT consumer_key, username, login_host, currency, private_key_sealed, instance_url,
                status, last_error, last_sync_at, connected_at
         FROM salesforce_connections WHERE tenant_id = $1",
        tenant as TenantId
    )
    .fetch_optional(tx.conn())
    .await
}

/// Insert or replace the tenant's connection.
pub async fn put(
    tx: &mut TenantTx,
    consumer_key: &str,
    username: &str,
    login_host: &str,
    currency: &str,
    sealed: &[u8],
    instance_url: &str,
) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query!(
        "INSERT INTO salesforce_connections
             (tenant_id, consumer_key, username, login_host, currency, private_key_sealed, instance_url)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (tenant_id) DO UPDATE SET
             consumer_key = EXCLUDED.consumer_key, username = EXCLUDED.username,
             login_host = EXCLUDED.login_host, currency = EXCLUDED.currency,
             private_key_sealed = EXCLUDED.private_key_sealed,
             instance_url = EXCLUDED.instance_url, status = 'connected', last_error = NULL,
             connected_at = now(), updated_at = now()",
        tenant as TenantId,
        consumer_key,
        username,
        login_host,
        currency,
        sealed,
        instance_url
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Forget the connection and the watermarks (a new connection syncs from
/// the start); synced records stay until the next sync of another org
/// replaces them.
pub async fn delete(tx: &mut TenantTx) -> Result<bool, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query!(
        "DELETE FROM salesforce_watermarks WHERE tenant_id = $1",
        tenant as TenantId
    )
    .execute(tx.conn())
    .await?;
    let done = sqlx::query!(
        "DELETE FROM salesforce_connections WHERE tenant_id = $1",
        tenant as TenantId
    )
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Record how a sync ended.
pub async fn sync_ended(
    tx: &mut TenantTx,
    instance_url: Option<&str>,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query!(
        "UPDATE salesforce_connections SET
             status = CASE WHEN $2::text IS NULL THEN 'connected' ELSE 'failing' END,
             last_error = $2,
             last_sync_at = CASE WHEN $2::text IS NULL THEN now() ELSE last_sync_at END,
             instance_url = coalesce($3, instance_url),
             updated_at = now()
         WHERE tenant_id = $1",
        tenant as TenantId,
        error,
        instance_url
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn objects(tx: &mut TenantTx) -> Result<Vec<ObjectSync>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        ObjectSync,
        "SELECT object, watermark, records FROM salesforce_watermarks
         WHERE tenant_id = $1 ORDER BY object",
        tenant as TenantId
    )
    .fetch_all(tx.conn())
    .await
}

/// Every tenant with a connection (the recurring sync).
/// How many tenants' connections failed their last sync.
pub async fn failing(conn: &mut sqlx::PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM salesforce_connections WHERE status = 'failing'"#
    )
    .fetch_one(conn)
    .await
}

pub async fn connected_tenants(
    conn: &mut sqlx::PgConnection,
) -> Result<Vec<TenantId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT tenant_id AS "tenant_id: TenantId" FROM salesforce_connections ORDER BY tenant_id"#
    )
    .fetch_all(conn)
    .await
}
