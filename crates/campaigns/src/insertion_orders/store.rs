//! The SQL of insertion orders.

use chrono::{DateTime, NaiveDate, Utc};
use tenancy::{TenantId, TenantTx};
use uuid::Uuid;

use super::{PricingModel, Row};
use crate::ids::{AdvertiserId, InsertionOrderId};

/// What an insert or update writes.
pub struct Values<'a> {
    pub name: Option<&'a str>,
    pub number: Option<&'a str>,
    pub budget_micros: i64,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub pricing_model: Option<PricingModel>,
    pub pricing_rate_micros: i64,
    pub billing_contact: Option<&'a str>,
}

pub async fn insert(
    tx: &mut TenantTx,
    advertiser: AdvertiserId,
    currency: &str,
    v: &Values<'_>,
) -> Result<InsertionOrderId, sqlx::Error> {
    let tenant = tx.tenant();
    let id = InsertionOrderId::new();
    sqlx::query!(
        "INSERT INTO insertion_orders (id, tenant_id, advertiser_id, currency, name, number, \
         budget_micros, start_date, end_date, pricing_model, pricing_rate_micros, billing_contact) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        id as InsertionOrderId,
        tenant as TenantId,
        advertiser as AdvertiserId,
        currency,
        v.name,
        v.number,
        v.budget_micros,
        v.start_date,
        v.end_date,
        v.pricing_model as Option<PricingModel>,
        v.pricing_rate_micros,
        v.billing_contact
    )
    .execute(tx.conn())
    .await?;
    Ok(id)
}

/// One insertion order with the budget its campaigns commit.
pub async fn get(tx: &mut TenantTx, id: InsertionOrderId) -> Result<Option<Row>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Row,
        r#"SELECT io.id AS "id: InsertionOrderId", io.advertiser_id AS "advertiser_id: AdvertiserId",
                  io.currency, io.name, io.number, io.budget_micros, io.start_date, io.end_date,
                  io.pricing_model AS "pricing_model: PricingModel", io.pricing_rate_micros,
                  io.billing_contact, io.version, io.created_at, io.updated_at,
                  coalesce((SELECT sum(c.budget_micros) FROM campaigns c
                            WHERE c.insertion_order_id = io.id AND c.status <> 'archived'), 0)::bigint
                      AS "committed_micros!"
           FROM insertion_orders io WHERE io.id = $1 AND io.tenant_id = $2"#,
        id as InsertionOrderId,
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
) -> Result<Vec<Row>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Row,
        r#"SELECT io.id AS "id: InsertionOrderId", io.advertiser_id AS "advertiser_id: AdvertiserId",
                  io.currency, io.name, io.number, io.budget_micros, io.start_date, io.end_date,
                  io.pricing_model AS "pricing_model: PricingModel", io.pricing_rate_micros,
                  io.billing_contact, io.version, io.created_at, io.updated_at,
                  coalesce((SELECT sum(c.budget_micros) FROM campaigns c
                            WHERE c.insertion_order_id = io.id AND c.status <> 'archived'), 0)::bigint
                      AS "committed_micros!"
           FROM insertion_orders io
           WHERE io.tenant_id = $1 AND ($2::uuid IS NULL OR io.advertiser_id = $2)
             AND ($3::timestamptz IS NULL OR (io.created_at, io.id) < ($3, $4))
           ORDER BY io.created_at DESC, io.id DESC LIMIT $5"#,
        tenant as TenantId,
        advertiser as Option<AdvertiserId>,
        before.map(|b| b.0),
        before.map(|b| b.1),
        limit
    )
    .fetch_all(tx.conn())
    .await
}

/// Lock the insertion order (serialising budget changes under it); its version.
pub async fn lock_version(
    tx: &mut TenantTx,
    id: InsertionOrderId,
) -> Result<Option<i64>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar!(
        "SELECT version FROM insertion_orders WHERE id = $1 AND tenant_id = $2 FOR UPDATE",
        id as InsertionOrderId,
        tenant as TenantId
    )
    .fetch_optional(tx.conn())
    .await
}

/// The first start and last end of its campaigns' flights (not archived).
pub async fn flight_span(
    tx: &mut TenantTx,
    id: InsertionOrderId,
) -> Result<(Option<NaiveDate>, Option<NaiveDate>), sqlx::Error> {
    let r = sqlx::query!(
        "SELECT min(flight_start) AS first, max(flight_end) AS last FROM campaigns \
         WHERE insertion_order_id = $1 AND status <> 'archived'",
        id as InsertionOrderId
    )
    .fetch_one(tx.conn())
    .await?;
    Ok((r.first, r.last))
}

pub async fn update(
    tx: &mut TenantTx,
    id: InsertionOrderId,
    v: &Values<'_>,
) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query!(
        "UPDATE insertion_orders SET name = coalesce($3, name), number = coalesce($4, number), \
         budget_micros = $5, start_date = $6, end_date = $7, \
         pricing_model = coalesce($8, pricing_model), pricing_rate_micros = $9, \
         billing_contact = coalesce($10, billing_contact), version = version + 1, updated_at = now() \
         WHERE id = $1 AND tenant_id = $2",
        id as InsertionOrderId,
        tenant as TenantId,
        v.name,
        v.number,
        v.budget_micros,
        v.start_date,
        v.end_date,
        v.pricing_model as Option<PricingModel>,
        v.pricing_rate_micros,
        v.billing_contact
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}
