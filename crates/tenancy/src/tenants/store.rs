//! The SQL of tenants (a global table: no tenant scope applies to it).

use sqlx::{PgConnection, PgPool};

use super::{Tenant, TenantStatus};
use crate::scope::TenantId;

/// Whether the tenant exists and is active.
pub async fn is_active(conn: &mut PgConnection, id: TenantId) -> Result<bool, sqlx::Error> {
    let status = sqlx::query_scalar!(
        r#"SELECT status AS "status: TenantStatus" FROM tenants WHERE id = $1"#,
        id as TenantId
    )
    .fetch_optional(conn)
    .await?;
    Ok(status == Some(TenantStatus::Active))
}

pub async fn insert(
    conn: &mut PgConnection,
    slug: &str,
    name: &str,
) -> Result<Tenant, sqlx::Error> {
    sqlx::query_as!(
        Tenant,
        r#"INSERT INTO tenants (id, slug, name) VALUES ($1, $2, $3)
           RETURNING id AS "id: TenantId", slug, name, status AS "status: TenantStatus", created_at"#,
        TenantId::new() as TenantId,
        slug,
        name
    )
    .fetch_one(conn)
    .await
}

/// Tenants among `ids` (all with `None`), by slug.
pub async fn list(pool: &PgPool, ids: Option<&[uuid::Uuid]>) -> Result<Vec<Tenant>, sqlx::Error> {
    sqlx::query_as!(
        Tenant,
        r#"SELECT id AS "id: TenantId", slug, name, status AS "status: TenantStatus", created_at
           FROM tenants WHERE ($1::uuid[] IS NULL OR id = ANY($1)) ORDER BY slug"#,
        ids
    )
    .fetch_all(pool)
    .await
}

/// (slug, id) of the tenants among `slugs`.
pub async fn ids_by_slugs(
    conn: &mut PgConnection,
    slugs: &[String],
) -> Result<Vec<(String, TenantId)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT slug, id AS "id: TenantId" FROM tenants WHERE slug = ANY($1)"#,
        slugs
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.slug, r.id)).collect())
}

/// The tenant's name (what its invoices are addressed to).
pub async fn name(conn: &mut PgConnection, id: TenantId) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT name FROM tenants WHERE id = $1", id as TenantId)
        .fetch_optional(conn)
        .await
}
