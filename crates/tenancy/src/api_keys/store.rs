//! The SQL of API keys.

use sqlx::PgConnection;

use super::ApiKey;
use crate::principal::{ApiKeyId, UserId};
use crate::scope::{TenantId, TenantTx};

/// A key as authentication sees it.
pub struct KeyRow {
    pub id: ApiKeyId,
    pub tenant_id: TenantId,
    pub role: String,
    pub revoked: bool,
    pub tenant_active: bool,
    /// The user the key acts for (None: no user created it).
    pub created_by: Option<UserId>,
    /// Whether that user is still active (None without one).
    pub creator_active: Option<bool>,
}

/// The key with this secret hash, across tenants (authentication).
pub async fn by_hash(conn: &mut PgConnection, hash: &[u8]) -> Result<Option<KeyRow>, sqlx::Error> {
    sqlx::query_as!(
        KeyRow,
        r#"SELECT k.id AS "id: ApiKeyId", k.tenant_id AS "tenant_id: TenantId", k.role,
                  k.revoked_at IS NOT NULL AS "revoked!", t.status = 'active' AS "tenant_active!",
                  k.created_by AS "created_by: UserId",
                  (SELECT u.status <> 'deactivated' FROM users u WHERE u.id = k.created_by) AS "creator_active"
           FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.secret_hash = $1"#,
        hash
    )
    .fetch_optional(conn)
    .await
}

/// Record a use, at most once a minute (`every` set) or now.
pub async fn used(
    conn: &mut PgConnection,
    id: ApiKeyId,
    throttled: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE api_keys SET last_used_at = now() WHERE id = $1 \
         AND (NOT $2 OR last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
        id as ApiKeyId,
        throttled
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn insert(
    tx: &mut TenantTx,
    name: &str,
    role: &str,
    prefix: &str,
    hash: &[u8],
    created_by: Option<UserId>,
) -> Result<ApiKey, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        ApiKey,
        r#"INSERT INTO api_keys (id, tenant_id, name, role, prefix, secret_hash, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           RETURNING id AS "id: ApiKeyId", tenant_id AS "tenant_id: TenantId", name, role, prefix,
                     created_by AS "created_by: UserId", created_at, last_used_at, revoked_at"#,
        ApiKeyId::new() as ApiKeyId,
        tenant as TenantId,
        name,
        role,
        prefix,
        hash,
        created_by as Option<UserId>
    )
    .fetch_one(tx.conn())
    .await
}

pub async fn list(tx: &mut TenantTx) -> Result<Vec<ApiKey>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        ApiKey,
        r#"SELECT id AS "id: ApiKeyId", tenant_id AS "tenant_id: TenantId", name, role, prefix,
                  created_by AS "created_by: UserId", created_at, last_used_at, revoked_at
           FROM api_keys WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC"#,
        tenant as TenantId
    )
    .fetch_all(tx.conn())
    .await
}

pub async fn get(tx: &mut TenantTx, id: ApiKeyId) -> Result<Option<ApiKey>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        ApiKey,
        r#"SELECT id AS "id: ApiKeyId", tenant_id AS "tenant_id: TenantId", name, role, prefix,
                  created_by AS "created_by: UserId", created_at, last_used_at, revoked_at
           FROM api_keys WHERE id = $1 AND tenant_id = $2"#,
        id as ApiKeyId,
        tenant as TenantId
    )
    .fetch_optional(tx.conn())
    .await
}

pub async fn revoke(tx: &mut TenantTx, id: ApiKeyId) -> Result<Option<ApiKey>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        ApiKey,
        r#"UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
           WHERE id = $1 AND tenant_id = $2
           RETURNING id AS "id: ApiKeyId", tenant_id AS "tenant_id: TenantId", name, role, prefix,
                     created_by AS "created_by: UserId", created_at, last_used_at, revoked_at"#,
        id as ApiKeyId,
        tenant as TenantId
    )
    .fetch_optional(tx.conn())
    .await
}

/// The user who created key `id` in this tenant (None: no such key, or no user made it).
pub async fn creator(tx: &mut TenantTx, id: ApiKeyId) -> Result<Option<UserId>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar!(
        r#"SELECT created_by AS "created_by: UserId" FROM api_keys WHERE id = $1 AND tenant_id = $2"#,
        id as ApiKeyId,
        tenant as TenantId
    )
    .fetch_optional(tx.conn())
    .await
    .map(Option::flatten)
}
