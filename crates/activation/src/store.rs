//! The SQL of activation's own tables: each campaign's state in TTD
//! (`campaign_activations`) and the TTD object each P360 object became
//! (`ttd_objects`). Campaign data is never read here: it comes from
//! `campaigns::read`.

use campaigns::CampaignId;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tenancy::{TenantId, TenantTx};
use uuid::Uuid;

/// A campaign's activation as stored.
#[derive(Debug, Clone)]
pub struct State {
    pub campaign_id: CampaignId,
    pub status: String,
    pub generation: i64,
    pub campaign_version: i64,
    pub ttd: Value,
    pub last_error: Option<String>,
    pub synced_at: Option<DateTime<Utc>>,
}

pub async fn states(tx: &mut TenantTx, ids: &[CampaignId]) -> Result<Vec<State>, sqlx::Error> {
    sqlx::query_as!(
        State,
        r#"SELECT campaign_id AS "campaign_id: CampaignId", status, generation, campaign_version,
                  ttd, last_error, synced_at
           FROM campaign_activations WHERE campaign_id = ANY($1)"#,
        ids as &[CampaignId]
    )
    .fetch_all(tx.conn())
    .await
}

/// A change of the campaign (at `version`) that TTD must follow: the state
/// goes `pending` under a new generation. `first_time`: create the state if
/// the campaign has none (it was just approved); otherwise only a campaign
/// that reached TTD before needs a sync. Returns whether a sync is due.
pub async fn request_sync(
    tx: &mut TenantTx,
    campaign: CampaignId,
    version: i64,
    first_time: bool,
) -> Result<bool, sqlx::Error> {
    let tenant = tx.tenant();
    let changed = sqlx::query!(
        "INSERT INTO campaign_activations (campaign_id, tenant_id, status, generation, \
             campaign_version, requested_at) \
         SELECT $1, $2, 'pending', 1, $3, now() \
         WHERE $4 OR EXISTS (SELECT 1 FROM campaign_activations WHERE campaign_id = $1) \
         ON CONFLICT (campaign_id) DO UPDATE SET status = 'pending', \
             generation = campaign_activations.generation + 1, \
             campaign_version = greatest(campaign_activations.campaign_version, EXCLUDED.campaign_version), \
             last_error = NULL, requested_at = now(), updated_at = now()",
        campaign as CampaignId,
        tenant as TenantId,
        version,
        first_time
    )
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// A change TTD need not follow (e.g. back to approval): only note that the
/// state reflects the campaign at `version`.
pub async fn seen(
    tx: &mut TenantTx,
    campaign: CampaignId,
    version: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE campaign_activations SET campaign_version = greatest(campaign_version, $2) \
         WHERE campaign_id = $1",
        campaign as CampaignId,
        version
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The generation a sync works for.
pub async fn generation(
    tx: &mut TenantTx,
    campaign: CampaignId,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT generation FROM campaign_activations WHERE campaign_id = $1",
        campaign as CampaignId
    )
    .fetch_optional(tx.conn())
    .await
}

/// Record a sync's outcome, unless a newer change has queued another sync
/// since this one read the campaign (its generation moved on): `false` then.
pub async fn set_outcome(
    tx: &mut TenantTx,
    campaign: CampaignId,
    generation: i64,
    status: &str,
    ttd: Option<&Value>,
    error: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query!(
        "UPDATE campaign_activations SET status = $3, last_error = $4, \
             ttd = coalesce($5, ttd), \
             synced_at = CASE WHEN $5::jsonb IS NULL THEN synced_at ELSE now() END, \
             updated_at = now() \
         WHERE campaign_id = $1 AND generation = $2",
        campaign as CampaignId,
        generation,
        status,
        error,
        ttd
    )
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// The TTD object (`object`, `p360_id`) became, and the hash of what TTD last accepted.
pub async fn ttd_object(
    tx: &mut TenantTx,
    object: &str,
    p360_id: Uuid,
) -> Result<Option<(String, Option<String>)>, sqlx::Error> {
    let r = sqlx::query!(
        "SELECT ttd_id, synced_hash FROM ttd_objects WHERE object_type = $1 AND p360_id = $2",
        object,
        p360_id
    )
    .fetch_optional(tx.conn())
    .await?;
    Ok(r.map(|r| (r.ttd_id, r.synced_hash)))
}

/// Serialise writers of one TTD object (a transaction-level advisory lock:
/// a killed worker's lock dies with its connection).
pub async fn lock_object(
    tx: &mut TenantTx,
    object: &str,
    p360_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        format!("ttd:{object}:{p360_id}")
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn save_ttd_object(
    tx: &mut TenantTx,
    object: &str,
    p360_id: Uuid,
    ttd_id: &str,
    hash: &str,
) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query!(
        "INSERT INTO ttd_objects (object_type, p360_id, tenant_id, ttd_id, synced_hash, synced_at) \
         VALUES ($1, $2, $3, $4, $5, now()) \
         ON CONFLICT (object_type, p360_id) DO UPDATE \
         SET ttd_id = EXCLUDED.ttd_id, synced_hash = EXCLUDED.synced_hash, synced_at = now()",
        object,
        p360_id,
        tenant as TenantId,
        ttd_id,
        hash
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}
