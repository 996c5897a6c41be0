//! What operators and `/metrics` see of the jobs: listing, retrying, queue
//! gauges, and the recurring prune of old finished jobs.

use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{CHANNEL, Job, JobContext};

/// Queue depth, oldest ready job and dead letters, for `/metrics` (each
/// query reads a partial or status index, not the job history).
pub async fn record_queue_metrics(pool: &PgPool) -> Result<(), sqlx::Error> {
    let r = sqlx::query!(
        r#"SELECT count(*) AS "ready!", extract(epoch FROM now() - min(run_at))::float8 AS oldest
           FROM jobs WHERE status = 'queued' AND run_at <= now()"#
    )
    .fetch_one(pool)
    .await?;
    let (ready, oldest) = (r.ready, r.oldest);
    let dead: i64 =
        sqlx::query_scalar!(r#"SELECT count(*) AS "dead!" FROM jobs WHERE status = 'dead'"#)
            .fetch_one(pool)
            .await?;
    metrics::gauge!("p360_jobs_ready").set(ready as f64);
    metrics::gauge!("p360_jobs_oldest_ready_seconds").set(oldest.unwrap_or(0.0));
    metrics::gauge!("p360_jobs_dead").set(dead as f64);
    Ok(())
}

/// The recurring job that forgets old finished jobs (every hour by default
/// in `p360::job_registry`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PruneJobs;

impl Job for PruneJobs {
    const KIND: &'static str = "jobs.prune";
    const MAX_ATTEMPTS: i64 = 3;
    type Context = ();

    async fn run(self, ctx: JobContext) -> anyhow::Result<()> {
        let removed = prune(&ctx.pool).await?;
        tracing::info!(removed, "pruned finished jobs older than a week");
        Ok(())
    }
}

/// Forget succeeded jobs older than a week (dead letters stay until retried
/// or removed by an operator), and landings older than S3 could announce
/// again (a month: the ingest queue keeps messages at most 14 days).
pub async fn prune(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let jobs = sqlx::query!(
        "DELETE FROM jobs WHERE status IN ('succeeded', 'superseded') \
         AND finished_at < now() - interval '7 days'"
    )
    .execute(pool)
    .await?
    .rows_affected();
    sqlx::query!("DELETE FROM file_landings WHERE landed_at < now() - interval '30 days'")
        .execute(pool)
        .await?;
    Ok(jobs)
}

/// A job as operators see it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct JobView {
    pub id: Uuid,
    pub queue: String,
    pub kind: String,
    /// `queued`, `running`, `succeeded`, `dead` or `superseded`.
    pub status: String,
    pub attempts: i64,
    pub max_attempts: i64,
    #[schema(value_type = Object, nullable)]
    pub payload: Value,
    pub dedup_key: Option<String>,
    /// When it runs next (queued) or ran last.
    pub run_at: chrono::DateTime<chrono::Utc>,
    pub locked_by: Option<String>,
    pub last_error: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Which jobs to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub status: Option<String>,
    pub kind: Option<String>,
    /// Jobs created before this (created_at, id).
    pub before: Option<(chrono::DateTime<chrono::Utc>, Uuid)>,
    pub limit: i64,
}

pub const STATUSES: [&str; 5] = ["queued", "running", "succeeded", "dead", "superseded"];

pub async fn list(pool: &PgPool, f: &JobFilter) -> Result<Vec<JobView>, sqlx::Error> {
    sqlx::query_as!(
        JobView,
        "SELECT id, queue, kind, status, attempts, max_attempts, payload, dedup_key, run_at, \
         locked_by, last_error, created_at, updated_at, finished_at FROM jobs \
         WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR kind = $2) \
           AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4)) \
         ORDER BY created_at DESC, id DESC LIMIT $5",
        f.status,
        f.kind,
        f.before.map(|b| b.0),
        f.before.map(|b| b.1),
        f.limit
    )
    .fetch_all(pool)
    .await
}

/// Why a job cannot be retried.
#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    #[error("no such job")]
    NotFound,
    #[error("the job is {0}; only dead or waiting (queued) jobs can be retried")]
    NotRetryable(String),
    #[error("a queued job of the same kind and key exists ({0}); it will do this work")]
    Duplicate(Uuid),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Run a dead job again with a fresh set of attempts, or a queued job now
/// instead of after its backoff, in `tx`; workers are notified on commit.
pub async fn retry(tx: &mut PgConnection, id: Uuid) -> Result<JobView, RetryError> {
    let current = sqlx::query!(
        "SELECT status, kind, dedup_key, queue FROM jobs WHERE id = $1 FOR UPDATE",
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    .map(|r| (r.status, r.kind, r.dedup_key, r.queue));
    let Some((status, kind, dedup_key, queue)) = current else {
        return Err(RetryError::NotFound);
    };
    if status != "dead" && status != "queued" {
        return Err(RetryError::NotRetryable(status));
    }
    if status == "dead"
        && let Some(key) = &dedup_key
    {
        let twin: Option<Uuid> = sqlx::query_scalar!(
            "SELECT id FROM jobs WHERE kind = $1 AND dedup_key = $2 AND status = 'queued'",
            &kind,
            key
        )
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(twin) = twin {
            return Err(RetryError::Duplicate(twin));
        }
    }
    let view = sqlx::query_as!(
        JobView,
        "UPDATE jobs SET status = 'queued', run_at = now(), finished_at = NULL, locked_by = NULL, \
         locked_until = NULL, attempts = CASE WHEN status = 'dead' THEN 0 ELSE attempts END, \
         updated_at = now() WHERE id = $1 \
         RETURNING id, queue, kind, status, attempts, max_attempts, payload, dedup_key, run_at, \
         locked_by, last_error, created_at, updated_at, finished_at",
        id
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!("SELECT pg_notify($1, $2)", CHANNEL, &queue)
        .execute(&mut *tx)
        .await?;
    tracing::info!(job = %id, kind = %kind, "job retried by an operator");
    Ok(view)
}
