//! Background jobs on PostgreSQL: typed jobs enqueued inside the domain
//! transaction (a committed change always gets its job, a rolled-back one
//! never does), claimed with `FOR UPDATE SKIP LOCKED` under a lease that a
//! running job renews, retried with exponential backoff and jitter, kept as
//! dead letters after `MAX_ATTEMPTS`. Workers wake on `LISTEN/NOTIFY` (sent on
//! commit) instead of polling tightly. A worker that dies mid-job loses its
//! lease, and the job is claimed again when the lease runs out.
//!
//! A small runtime of our own rather than apalis: apalis-postgres brings its
//! own sqlx major, and the outbox guarantee needs enqueueing on *our*
//! transaction.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

mod admin;
pub mod landing;
pub mod sqs;
mod worker;

pub use admin::*;
pub use worker::{Backend, WorkerConfig, run_worker};
pub(crate) use worker::{finish, invoke, next_due, record_run, requeue, supersede_if_duplicate};

/// Queue the next run of a recurring job, `delay` from now, unless one is
/// already queued or running.
async fn schedule(pool: &PgPool, r: &Recurring, delay: Duration) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query!("INSERT INTO jobs (id, queue, kind, payload, dedup_key, max_attempts, run_at) \
         SELECT $1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7) \
         WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE kind = $3 AND dedup_key = $5 \
                           AND status IN ('queued', 'running')) \
         ON CONFLICT (kind, dedup_key) WHERE dedup_key IS NOT NULL AND status = 'queued' DO NOTHING", Uuid::now_v7(), r.queue, r.kind, &r.payload, RECURRING_KEY, r.max_attempts, delay.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Every recurring job that has no run queued or running gets one now.
pub(crate) async fn schedule_missing(pool: &PgPool, registry: &Registry) {
    for r in &registry.recurring {
        if let Err(e) = schedule(pool, r, Duration::ZERO).await {
            tracing::warn!(kind = r.kind, error = %e, "could not schedule a recurring job; will retry");
        }
    }
}

/// After a run of a recurring job ends (however), queue the next one.
pub(crate) async fn schedule_next(pool: &PgPool, registry: &Registry, kind: &str) {
    if let Some(r) = registry.recurring(kind)
        && let Err(e) = schedule(pool, r, r.every).await
    {
        tracing::warn!(kind, error = %e, "could not schedule the next run; a worker will");
    }
}

/// Let in-flight jobs finish within `within`, then abort the rest and wait
/// until they are gone (so nothing still holds a job the caller gives back).
pub(crate) async fn drain<T: 'static>(running: &mut tokio::task::JoinSet<T>, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    while !running.is_empty() {
        if tokio::time::timeout_at(deadline, running.join_next())
            .await
            .is_err()
        {
            break;
        }
    }
    running.abort_all();
    while running.join_next().await.is_some() {}
}

pub(crate) const CHANNEL: &str = "p360_jobs";

/// What a running job can reach: the database, its own run, and the
/// services its kind was registered with (`C`, the job's `Context`: a partner
/// client, settings), typed — not looked up at run time.
#[derive(Clone)]
pub struct JobContext<C = ()> {
    pub pool: PgPool,
    pub job_id: Uuid,
    /// 1 on the first run.
    pub attempt: i64,
    pub max_attempts: i64,
    pub services: C,
}

impl<C> JobContext<C> {
    /// Whether a failure now makes the job a dead letter.
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }

    fn with<D>(self, services: D) -> JobContext<D> {
        JobContext {
            pool: self.pool,
            job_id: self.job_id,
            attempt: self.attempt,
            max_attempts: self.max_attempts,
            services,
        }
    }
}

/// An error no retry can fix (the partner refused the request as invalid,
/// the credentials are wrong): the job becomes a dead letter at once instead
/// of using up its attempts.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Permanent(pub String);

pub(crate) fn is_permanent(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<Permanent>())
}

/// A kind of background work.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Stable name, stored with each job.
    const KIND: &'static str;
    const QUEUE: &'static str = "default";
    const MAX_ATTEMPTS: i64 = 10;

    /// The services the job needs besides the database, given when its kind
    /// is registered (`()` for none).
    type Context: Clone + Send + Sync + 'static;

    /// Jobs with the same key (and kind) are not queued twice: while one
    /// waits, enqueueing another is a no-op. A job already running does not
    /// count, since it may have read its input before the change.
    fn dedup_key(&self) -> Option<String> {
        None
    }

    /// Wait before attempt `attempt + 1`: exponential from 1 s, capped at an
    /// hour, with up to 25 % jitter so retries of many jobs spread out.
    fn backoff(attempt: i64) -> Duration {
        let base = 2u64.saturating_pow(attempt.clamp(0, 12) as u32).min(3600);
        // The low bits of a v7 UUID are random.
        let jitter = (Uuid::now_v7().as_u128() % 250) as u64;
        Duration::from_millis(base * 1000 + base * jitter)
    }

    fn run(self, ctx: JobContext<Self::Context>)
    -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// Enqueue `job` in `tx`; returns its id, or `None` when a queued (not yet
/// running) job with the same dedup key exists: that one will see the change. Workers are notified when `tx` commits.
pub async fn enqueue<J: Job>(
    tx: &mut PgConnection,
    job: &J,
    run_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Option<Uuid>, sqlx::Error> {
    let id = Uuid::now_v7();
    let payload = serde_json::to_value(job).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let inserted = insert_job(
        tx,
        id,
        J::QUEUE,
        J::KIND,
        &payload,
        job.dedup_key(),
        J::MAX_ATTEMPTS,
        run_at,
    )
    .await?;
    Ok(inserted.then_some(id))
}

/// Insert one job row and notify workers on commit; false when a queued job
/// of the kind has the same dedup key.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_job(
    tx: &mut PgConnection,
    id: Uuid,
    queue: &str,
    kind: &str,
    payload: &Value,
    dedup_key: Option<String>,
    max_attempts: i64,
    run_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query!(
        "INSERT INTO jobs (id, queue, kind, payload, dedup_key, max_attempts, run_at) \
         VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, now())) \
         ON CONFLICT (kind, dedup_key) WHERE dedup_key IS NOT NULL AND status = 'queued' \
         DO NOTHING",
        id,
        queue,
        kind,
        payload,
        dedup_key,
        max_attempts,
        run_at
    )
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query!("SELECT pg_notify($1, $2)", CHANNEL, queue)
        .execute(&mut *tx)
        .await?;
    Ok(true)
}

pub(crate) type Handler = Arc<
    dyn Fn(Value, JobContext) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>
        + Send
        + Sync,
>;

/// A job kind's handler and its backoff.
pub(crate) type Entry = (Handler, fn(i64) -> Duration);

/// The job kinds a worker runs, with their backoff.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<&'static str, Entry>,
    queues: Vec<&'static str>,
    recurring: Vec<Recurring>,
    landings: Vec<landing::Route>,
}

/// A job that runs every `every`: the next run is queued when one ends, and
/// workers queue one (due at once) whenever none is queued or running — on a
/// fresh database, or if a chain was lost. Its dedup key is `every`.
#[derive(Clone)]
pub(crate) struct Recurring {
    kind: &'static str,
    queue: &'static str,
    every: Duration,
    payload: Value,
    max_attempts: i64,
}

const RECURRING_KEY: &str = "every";

impl Registry {
    /// Run `job` every `every` (registering its kind too, with `services`).
    pub fn every<J: Job>(
        self,
        every: Duration,
        job: &J,
        services: J::Context,
    ) -> anyhow::Result<Registry> {
        let mut this = self.register::<J>(services);
        this.recurring.retain(|r| r.kind != J::KIND);
        this.recurring.push(Recurring {
            kind: J::KIND,
            queue: J::QUEUE,
            every,
            payload: serde_json::to_value(job)?,
            max_attempts: J::MAX_ATTEMPTS,
        });
        Ok(this)
    }

    /// Files landing under `prefix` (a key prefix) become jobs of kind `J`
    /// (registered too, with `services`); see [`landing`].
    pub fn on_landing<J: landing::OnLanding>(
        self,
        prefix: impl Into<String>,
        services: J::Context,
    ) -> Registry {
        let mut this = self.register::<J>(services);
        let prefix = prefix.into();
        this.landings.retain(|r| r.prefix != prefix);
        this.landings.push(landing::Route {
            prefix,
            kind: J::KIND,
            queue: J::QUEUE,
            max_attempts: J::MAX_ATTEMPTS,
            build: landing::payload::<J>,
        });
        this
    }

    fn recurring(&self, kind: &str) -> Option<&Recurring> {
        self.recurring.iter().find(|r| r.kind == kind)
    }

    /// Run jobs of kind `J`, giving each its `services`.
    pub fn register<J: Job>(mut self, services: J::Context) -> Registry {
        let handler: Handler = Arc::new(move |payload, ctx| {
            let ctx = ctx.with(services.clone());
            Box::pin(async move {
                let job: J = serde_json::from_value(payload)
                    .map_err(|e| anyhow::anyhow!("payload of {} does not decode: {e}", J::KIND))?;
                job.run(ctx).await
            })
        });
        self.handlers.insert(J::KIND, (handler, J::backoff));
        if !self.queues.contains(&J::QUEUE) {
            self.queues.push(J::QUEUE);
        }
        self
    }
}
