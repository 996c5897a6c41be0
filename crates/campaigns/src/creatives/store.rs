//! The SQL of creatives.

use chrono::{DateTime, Utc};
use tenancy::scope::ScopedTx;
use tenancy::{TenantId, TenantTx};
use uuid::Uuid;

use super::{Creative, CreativeKind, CreativeStatus, PublicFile};
use crate::ids::{AdvertiserId, CreativeId};

/// What an upload stores.
pub struct New<'a> {
    pub id: CreativeId,
    pub advertiser_id: AdvertiserId,
    pub name: &'a str,
    pub click_url: &'a str,
    pub kind: CreativeKind,
    pub mime: &'a str,
    pub width: i64,
    pub height: i64,
    pub size_bytes: i64,
    pub unpacked_bytes: Option<i64>,
    pub sha256: &'a str,
    pub storage_prefix: &'a str,
    pub files: &'a serde_json::Value,
}

pub async fn insert(tx: &mut TenantTx, c: &New<'_>) -> Result<Creative, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Creative,
        r#"INSERT INTO creatives (id, tenant_id, advertiser_id, name, click_url, kind, mime, width,
               height, size_bytes, unpacked_bytes, sha256, storage_prefix, files)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
           RETURNING id AS "id: CreativeId", advertiser_id AS "advertiser_id: AdvertiserId", name,
               click_url, kind AS "kind: CreativeKind", mime, width, height, size_bytes,
               unpacked_bytes, sha256, status AS "status: CreativeStatus", created_at, updated_at,
               version, storage_prefix, files, pending_click_url"#,
        c.id as CreativeId,
        tenant as TenantId,
        c.advertiser_id as AdvertiserId,
        c.name,
        c.click_url,
        c.kind as CreativeKind,
        c.mime,
        c.width,
        c.height,
        c.size_bytes,
        c.unpacked_bytes,
        c.sha256,
        c.storage_prefix,
        c.files
    )
    .fetch_one(tx.conn())
    .await
}

pub async fn get(tx: &mut TenantTx, id: CreativeId) -> Result<Option<Creative>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Creative,
        r#"SELECT id AS "id: CreativeId", advertiser_id AS "advertiser_id: AdvertiserId", name,
               click_url, kind AS "kind: CreativeKind", mime, width, height, size_bytes,
               unpacked_bytes, sha256, status AS "status: CreativeStatus", created_at, updated_at,
               version, storage_prefix, files, pending_click_url
           FROM creatives WHERE id = $1 AND tenant_id = $2"#,
        id as CreativeId,
        tenant as TenantId
    )
    .fetch_optional(tx.conn())
    .await
}

pub async fn lock(tx: &mut TenantTx, id: CreativeId) -> Result<Option<Creative>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Creative,
        r#"SELECT id AS "id: CreativeId", advertiser_id AS "advertiser_id: AdvertiserId", name,
               click_url, kind AS "kind: CreativeKind", mime, width, height, size_bytes,
               unpacked_bytes, sha256, status AS "status: CreativeStatus", created_at, updated_at,
               version, storage_prefix, files, pending_click_url
           FROM creatives WHERE id = $1 AND tenant_id = $2 FOR UPDATE"#,
        id as CreativeId,
        tenant as TenantId
    )
    .fetch_optional(tx.conn())
    .await
}

/// Newest first, optionally of one advertiser, after the cursor (created_at, id).
pub async fn list(
    tx: &mut TenantTx,
    advertiser: Option<AdvertiserId>,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Creative>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Creative,
        r#"SELECT id AS "id: CreativeId", advertiser_id AS "advertiser_id: AdvertiserId", name,
               click_url, kind AS "kind: CreativeKind", mime, width, height, size_bytes,
               unpacked_bytes, sha256, status AS "status: CreativeStatus", created_at, updated_at,
               version, storage_prefix, files, pending_click_url
           FROM creatives WHERE tenant_id = $1 AND ($2::uuid IS NULL OR advertiser_id = $2)
             AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
           ORDER BY created_at DESC, id DESC LIMIT $5"#,
        tenant as TenantId,
        advertiser as Option<AdvertiserId>,
        before.map(|b| b.0),
        before.map(|b| b.1),
        limit
    )
    .fetch_all(tx.conn())
    .await
}

pub async fn update(
    tx: &mut TenantTx,
    id: CreativeId,
    name: Option<&str>,
    click_url: Option<&str>,
) -> Result<Creative, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Creative,
        r#"UPDATE creatives SET name = coalesce($3, name), click_url = coalesce($4, click_url),
               version = version + 1, updated_at = now()
           WHERE id = $1 AND tenant_id = $2
           RETURNING id AS "id: CreativeId", advertiser_id AS "advertiser_id: AdvertiserId", name,
               click_url, kind AS "kind: CreativeKind", mime, width, height, size_bytes,
               unpacked_bytes, sha256, status AS "status: CreativeStatus", created_at, updated_at,
               version, storage_prefix, files, pending_click_url"#,
        id as CreativeId,
        tenant as TenantId,
        name,
        click_url
    )
    .fetch_one(tx.conn())
    .await
}

pub async fn archive(tx: &mut TenantTx, id: CreativeId) -> Result<Creative, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Creative,
        r#"UPDATE creatives SET status = 'archived', version = version + 1, updated_at = now()
           WHERE id = $1 AND tenant_id = $2
           RETURNING id AS "id: CreativeId", advertiser_id AS "advertiser_id: AdvertiserId", name,
               click_url, kind AS "kind: CreativeKind", mime, width, height, size_bytes,
               unpacked_bytes, sha256, status AS "status: CreativeStatus", created_at, updated_at,
               version, storage_prefix, files, pending_click_url"#,
        id as CreativeId,
        tenant as TenantId
    )
    .fetch_one(tx.conn())
    .await
}

/// How many of `ids` are active creatives of `advertiser`.
pub async fn count_active(
    tx: &mut TenantTx,
    advertiser: AdvertiserId,
    ids: &[CreativeId],
) -> Result<i64, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM creatives WHERE tenant_id = $1 AND advertiser_id = $2
           AND id = ANY($3) AND status = 'active'"#,
        tenant as TenantId,
        advertiser as AdvertiserId,
        ids as &[CreativeId]
    )
    .fetch_one(tx.conn())
    .await
}

/// The active creatives among `ids`, oldest first.
pub async fn active_among(
    tx: &mut TenantTx,
    ids: &[CreativeId],
) -> Result<Vec<Creative>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Creative,
        r#"SELECT id AS "id: CreativeId", advertiser_id AS "advertiser_id: AdvertiserId", name,
               click_url, kind AS "kind: CreativeKind", mime, width, height, size_bytes,
               unpacked_bytes, sha256, status AS "status: CreativeStatus", created_at, updated_at,
               version, storage_prefix, files, pending_click_url
           FROM creatives WHERE id = ANY($1) AND tenant_id = $2 AND status = 'active'
           ORDER BY created_at, id"#,
        ids as &[CreativeId],
        tenant as TenantId
    )
    .fetch_all(tx.conn())
    .await
}

/// The public file of creative `id`, in whichever tenant holds it, if the
/// public may see it: the creative is active and an active ad group of an
/// approved, active or paused campaign runs it, as the TTD sync sends it. A
/// creative in no such campaign (a draft's, an archived one's) is not found.
pub async fn public_file(
    tx: &mut ScopedTx,
    id: CreativeId,
    kind: CreativeKind,
) -> Result<Option<PublicFile>, sqlx::Error> {
    sqlx::query_as!(
        PublicFile,
        r#"SELECT c.kind AS "kind: CreativeKind", c.mime, c.sha256, c.storage_prefix, c.files
           FROM creatives c
           WHERE c.id = $1 AND c.kind = $2 AND c.status = 'active'
             AND EXISTS (
               SELECT 1 FROM ad_groups g
               JOIN campaigns k ON k.id = g.campaign_id AND k.tenant_id = g.tenant_id
               WHERE g.tenant_id = c.tenant_id AND g.status = 'active'
                 AND c.id = ANY (g.creative_ids)
                 AND k.status IN ('approved', 'active', 'paused'))"#,
        id as CreativeId,
        kind as CreativeKind
    )
    .fetch_optional(tx.conn())
    .await
}

/// Which of `prefixes` a creative row stores its files under (any tenant:
/// the orphaned-files collector).
pub async fn known_prefixes(
    tx: &mut ScopedTx,
    prefixes: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT storage_prefix FROM creatives WHERE storage_prefix = ANY($1)",
        prefixes
    )
    .fetch_all(tx.conn())
    .await
}

/// Propose (or withdraw, `None`) a new click URL for a creative live
/// campaigns run; its own stays what TTD shows until the change is approved.
pub async fn set_pending_click_url(
    tx: &mut TenantTx,
    id: CreativeId,
    url: Option<&str>,
) -> Result<Creative, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query!(
        "UPDATE creatives SET pending_click_url = $3, version = version + 1, updated_at = now() \
         WHERE id = $1 AND tenant_id = $2",
        id as CreativeId,
        tenant as TenantId,
        url
    )
    .execute(tx.conn())
    .await?;
    get(tx, id).await?.ok_or(sqlx::Error::RowNotFound)
}
