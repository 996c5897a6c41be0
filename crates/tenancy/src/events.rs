//! Domain events: the transactional outbox. A capability appends an event in
//! the same transaction as the change it announces, so a committed change
//! always has its event and a rolled-back one never does; background jobs
//! (e.g. the activation sync) consume them in `seq` order.

use serde_json::Value;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::scope::TenantId;

/// Append `event_type` (e.g. `campaign.approved`) about an aggregate.
pub async fn emit(
    tx: &mut Transaction<'static, Postgres>,
    tenant: TenantId,
    event_type: &str,
    aggregate_type: &str,
    aggregate_id: Uuid,
    payload: Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO domain_events (id, tenant_id, event_type, aggregate_type, aggregate_id, payload) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(Uuid::now_v7())
    .bind(tenant.0)
    .bind(event_type)
    .bind(aggregate_type)
    .bind(aggregate_id)
    .bind(payload)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
