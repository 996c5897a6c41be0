//! Job administration: list every tenant's jobs, retry a dead or waiting
//! one. The queue itself is `platform::jobs`; this is the operators' side,
//! with the permission check and the audit record.

pub mod api;

use platform::jobs::{JobFilter, JobView, RetryError};
use sqlx::PgPool;
use tenancy::audit::{self, NewEvent, Outcome, RequestMeta};
use tenancy::principal::Actor;
use tenancy::scope::{AllTenants, ScopedTx};
use uuid::Uuid;

/// Jobs matching `filter`, newest first.
pub async fn list(pool: &PgPool, filter: &JobFilter) -> Result<Vec<JobView>, sqlx::Error> {
    platform::jobs::list(pool, filter).await
}

/// Queue job `id` again (a dead one with fresh attempts, a waiting one now),
/// recorded on the platform's audit chain as done by `actor` (`via`: how).
pub async fn retry(
    pool: &PgPool,
    all: AllTenants,
    actor: &Actor,
    meta: &RequestMeta,
    id: Uuid,
    via: &str,
) -> Result<JobView, RetryError> {
    let mut tx = ScopedTx::all(pool, all).await?;
    let job = platform::jobs::retry(&mut tx, id).await?;
    audit::record(
        &mut tx,
        actor,
        meta,
        NewEvent {
            tenant: None,
            action: "job.retried",
            target_type: "job",
            target_id: Some(id.to_string()),
            changes: serde_json::json!({"after": {"status": job.status, "kind": job.kind}, "via": via}),
            outcome: Outcome::Success,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(job)
}
