//! The SQL of advertisers.

use chrono::{DateTime, Utc};
use tenancy::{TenantId, TenantTx};
use uuid::Uuid;

use super::{Advertiser, ValidNew, ValidPatch};
use crate::ids::AdvertiserId;

pub async fn insert(tx: &mut TenantTx, a: &ValidNew) -> Result<Advertiser, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Advertiser,
        r#"INSERT INTO advertisers (id, tenant_id, name, domain, industry, currency,
               click_lookback_days, view_lookback_days)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           RETURNING id AS "id: AdvertiserId", name, domain, industry, currency,
                     click_lookback_days, view_lookback_days, created_at, updated_at, version"#,
        AdvertiserId::new() as AdvertiserId,
        tenant as TenantId,
        a.name,
        a.domain,
        a.industry,
        a.currency,
        a.click_lookback_days,
        a.view_lookback_days
    )
    .fetch_one(tx.conn())
    .await
}

pub async fn get(tx: &mut TenantTx, id: AdvertiserId) -> Result<Option<Advertiser>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Advertiser,
        r#"SELECT id AS "id: AdvertiserId", name, domain, industry, currency,
                  click_lookback_days, view_lookback_days, created_at, updated_at, version
           FROM advertisers WHERE id = $1 AND tenant_id = $2"#,
        id as AdvertiserId,
        tenant as TenantId
    )
    .fetch_optional(tx.conn())
    .await
}

pub async fn lock(tx: &mut TenantTx, id: AdvertiserId) -> Result<Option<Advertiser>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Advertiser,
        r#"SELECT id AS "id: AdvertiserId", name, domain, industry, currency,
                  click_lookback_days, view_lookback_days, created_at, updated_at, version
           FROM advertisers WHERE id = $1 AND tenant_id = $2 FOR UPDATE"#,
        id as AdvertiserId,
        tenant as TenantId
    )
    .fetch_optional(tx.conn())
    .await
}

/// The currency of an advertiser, if it exists.
pub async fn currency(tx: &mut TenantTx, id: AdvertiserId) -> Result<Option<String>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar!(
        "SELECT currency FROM advertisers WHERE id = $1 AND tenant_id = $2",
        id as AdvertiserId,
        tenant as TenantId
    )
    .fetch_optional(tx.conn())
    .await
}

/// Newest first; `name` is a LIKE pattern (escaped), the cursor (created_at, id).
pub async fn list(
    tx: &mut TenantTx,
    name: Option<&str>,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Advertiser>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Advertiser,
        r#"SELECT id AS "id: AdvertiserId", name, domain, industry, currency,
                  click_lookback_days, view_lookback_days, created_at, updated_at, version
           FROM advertisers WHERE tenant_id = $1
             AND ($2::text IS NULL OR name ILIKE '%' || $2 || '%')
             AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
           ORDER BY created_at DESC, id DESC LIMIT $5"#,
        tenant as TenantId,
        name,
        before.map(|b| b.0),
        before.map(|b| b.1),
        limit
    )
    .fetch_all(tx.conn())
    .await
}

pub async fn update(
    tx: &mut TenantTx,
    id: AdvertiserId,
    p: &ValidPatch,
) -> Result<Advertiser, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Advertiser,
        r#"UPDATE advertisers SET name = coalesce($3, name), domain = coalesce($4, domain),
               industry = coalesce($5, industry),
               click_lookback_days = coalesce($6, click_lookback_days),
               view_lookback_days = coalesce($7, view_lookback_days),
               version = version + 1, updated_at = now()
           WHERE id = $1 AND tenant_id = $2
           RETURNING id AS "id: AdvertiserId", name, domain, industry, currency,
                     click_lookback_days, view_lookback_days, created_at, updated_at, version"#,
        id as AdvertiserId,
        tenant as TenantId,
        p.name,
        p.domain,
        p.industry,
        p.click_lookback_days,
        p.view_lookback_days
    )
    .fetch_one(tx.conn())
    .await
}
