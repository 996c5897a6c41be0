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
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::postgres::PgListener;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::shutdown::Shutdown;

pub mod sqs;

/// Queue the next run of a recurring job, `delay` from now, unless one is
/// already queued or running.
async fn schedule(pool: &PgPool, r: &Recurring, delay: Duration) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO jobs (id, queue, kind, payload, dedup_key, max_attempts, run_at) \
         SELECT $1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7) \
         WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE kind = $3 AND dedup_key = $5 \
                           AND status IN ('queued', 'running')) \
         ON CONFLICT (kind, dedup_key) WHERE dedup_key IS NOT NULL AND status = 'queued' DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(r.queue)
    .bind(r.kind)
    .bind(&r.payload)
    .bind(RECURRING_KEY)
    .bind(r.max_attempts)
    .bind(delay.as_secs_f64())
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

/// How long a busy worker waits for more slots to free before claiming.
const CLAIM_GATHER: Duration = Duration::from_millis(3);

pub(crate) const CHANNEL: &str = "p360_jobs";

/// What a running job can reach.
#[derive(Clone)]
pub struct JobContext {
    pub pool: PgPool,
    pub job_id: Uuid,
    /// 1 on the first run.
    pub attempt: i64,
    pub max_attempts: i64,
    services: Arc<axum::http::Extensions>,
}

impl JobContext {
    /// Whether a failure now makes the job a dead letter.
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }

    /// A service the registry was given with [`Registry::with_service`].
    pub fn service<T: Clone + Send + Sync + 'static>(&self) -> anyhow::Result<T> {
        self.services.get::<T>().cloned().ok_or_else(|| {
            anyhow::anyhow!(
                "no {} was registered with the job registry",
                std::any::type_name::<T>()
            )
        })
    }
}

/// An error no retry can fix (the partner refused the request as invalid,
/// the credentials are wrong): the job becomes a dead letter at once instead
/// of using up its attempts.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Permanent(pub String);

fn is_permanent(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<Permanent>())
}

/// A kind of background work.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Stable name, stored with each job.
    const KIND: &'static str;
    const QUEUE: &'static str = "default";
    const MAX_ATTEMPTS: i64 = 10;

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

    fn run(self, ctx: JobContext) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// Enqueue `job` in `tx`; returns its id, or `None` when a queued (not yet
/// running) job with the same dedup key exists: that one will see the change. Workers are notified when `tx` commits.
pub async fn enqueue<J: Job>(
    tx: &mut Transaction<'static, Postgres>,
    job: &J,
    run_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Option<Uuid>, sqlx::Error> {
    let id = Uuid::now_v7();
    let payload = serde_json::to_value(job).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let inserted = sqlx::query(
        "INSERT INTO jobs (id, queue, kind, payload, dedup_key, max_attempts, run_at) \
         VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, now())) \
         ON CONFLICT (kind, dedup_key) WHERE dedup_key IS NOT NULL AND status = 'queued' \
         DO NOTHING",
    )
    .bind(id)
    .bind(J::QUEUE)
    .bind(J::KIND)
    .bind(payload)
    .bind(job.dedup_key())
    .bind(J::MAX_ATTEMPTS)
    .bind(run_at)
    .execute(&mut **tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(None);
    }
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(J::QUEUE)
        .execute(&mut **tx)
        .await?;
    Ok(Some(id))
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
    services: Arc<axum::http::Extensions>,
    recurring: Vec<Recurring>,
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
    /// Make `service` (e.g. a partner API client) available to every job
    /// through [`JobContext::service`].
    pub fn with_service<T: Clone + Send + Sync + 'static>(mut self, service: T) -> Registry {
        Arc::make_mut(&mut self.services).insert(service);
        self
    }

    /// Run `job` every `every` (registering its kind too).
    pub fn every<J: Job>(self, every: Duration, job: &J) -> anyhow::Result<Registry> {
        let mut this = if self.handlers.contains_key(J::KIND) {
            self
        } else {
            self.register::<J>()
        };
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

    fn recurring(&self, kind: &str) -> Option<&Recurring> {
        self.recurring.iter().find(|r| r.kind == kind)
    }

    pub fn register<J: Job>(mut self) -> Registry {
        let handler: Handler = Arc::new(|payload, ctx| {
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

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Jobs run at once by this worker.
    pub concurrency: usize,
    /// A claimed job belongs to its worker this long; renewed every third of it.
    pub lease: Duration,
    /// Wake up at least this often even without a notification.
    pub poll: Duration,
    /// On shutdown, wait this long for running jobs before releasing them.
    pub drain: Duration,
    pub backend: Backend,
}

/// Where jobs wait between their commit and their run.
#[derive(Debug, Clone, Default)]
pub enum Backend {
    /// The jobs table is the queue.
    #[default]
    Postgres,
    /// The jobs table is the outbox; a relay moves committed jobs to SQS.
    Sqs(crate::config::SqsConfig),
}

impl From<&crate::config::JobsConfig> for WorkerConfig {
    fn from(c: &crate::config::JobsConfig) -> Self {
        WorkerConfig {
            concurrency: c.concurrency,
            lease: Duration::from_secs(c.lease_secs),
            poll: Duration::from_millis(c.poll_ms),
            backend: match c.backend {
                crate::config::JobsBackend::Postgres => Backend::Postgres,
                crate::config::JobsBackend::Sqs => Backend::Sqs(c.sqs.clone()),
            },
            ..WorkerConfig::default()
        }
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: 8,
            lease: Duration::from_secs(60),
            poll: Duration::from_secs(5),
            drain: Duration::from_secs(10),
            backend: Backend::Postgres,
        }
    }
}

#[derive(sqlx::FromRow)]
struct Claimed {
    id: Uuid,
    kind: String,
    payload: Value,
    attempts: i64,
    max_attempts: i64,
}

/// Run a worker until `shutdown`; in-flight jobs finish within the drain time
/// or are released for another worker.
pub async fn run_worker(
    pool: PgPool,
    registry: Registry,
    config: WorkerConfig,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let worker_id = format!("{}:{}", std::process::id(), Uuid::now_v7().simple());
    if registry.handlers.is_empty() {
        tracing::info!("no job kinds registered; no worker runs");
        return Ok(());
    }
    if let Backend::Sqs(sqs) = &config.backend {
        let sqs = sqs.clone();
        return sqs::run_worker(pool, registry, config, sqs, worker_id, shutdown).await;
    }
    let registry = Arc::new(registry);
    let slots = Arc::new(tokio::sync::Semaphore::new(config.concurrency));
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(CHANNEL).await?;
    let kinds: Vec<String> = registry.handlers.keys().map(|k| k.to_string()).collect();
    let queues: Vec<String> = registry.queues.iter().map(|q| q.to_string()).collect();
    let mut running = tokio::task::JoinSet::new();
    let mut scheduled_at: Option<Instant> = None;
    let mut expired_checked: Option<Instant> = None;
    let mut rounds = 0usize;
    tracing::info!(worker = %worker_id, kinds = ?kinds, "job worker started");
    while !shutdown.is_triggered() {
        if scheduled_at.is_none_or(|t| t.elapsed() > Duration::from_secs(1)) {
            scheduled_at = Some(Instant::now());
            schedule_missing(&pool, &registry).await;
        }
        let free = slots.available_permits();
        let claimed = if free > 0 {
            let expired_too = expired_checked
                .is_none_or(|t| t.elapsed() >= (config.lease / 4).max(Duration::from_secs(1)));
            if expired_too {
                expired_checked = Some(Instant::now());
            }
            rounds += 1;
            Claimer {
                pool: &pool,
                queues: &queues,
                kinds: &kinds,
                worker: &worker_id,
                lease: config.lease,
            }
            .claim(free as i64, expired_too, rounds)
            .await
        } else {
            Ok(Vec::new())
        };
        let claimed = match claimed {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "could not claim jobs; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let got = claimed.len();
        for job in claimed {
            let permit = slots.clone().acquire_owned().await?;
            let pool = pool.clone();
            let registry = registry.clone();
            let worker_id = worker_id.clone();
            let lease = config.lease;
            running.spawn(async move {
                execute(pool, registry, job, worker_id, lease).await;
                drop(permit);
            });
        }
        while running.try_join_next().is_some() {}
        if slots.available_permits() == 0 {
            // Busy: wait for a slot; then, for a few milliseconds, for half
            // of them, so that one claim fetches several short jobs instead
            // of one round trip per job.
            tokio::select! {
                Some(_) = running.join_next() => {}
                _ = shutdown.wait() => {}
            }
            let gather = Instant::now() + CLAIM_GATHER;
            while slots.available_permits() < config.concurrency.div_ceil(2) {
                match tokio::time::timeout_at(gather.into(), running.join_next()).await {
                    Ok(Some(_)) => {}
                    _ => break,
                }
            }
            while running.try_join_next().is_some() {}
        } else if got == 0 {
            // Idle: sleep until notified, a slot frees up, the next scheduled
            // job (e.g. a retry) is due, or the poll interval passes.
            let nap = match next_due(&pool, &queues, &kinds).await {
                Ok(Some(secs)) => config.poll.min(Duration::from_secs_f64(secs.max(0.0))),
                _ => config.poll,
            };
            tokio::select! {
                _ = listener.recv() => {}
                _ = tokio::time::sleep(nap) => {}
                Some(_) = running.join_next(), if !running.is_empty() => {}
                _ = shutdown.wait() => {}
            }
        }
    }
    let deadline = Instant::now() + config.drain;
    while !running.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if tokio::time::timeout(left, running.join_next())
            .await
            .is_err()
        {
            break;
        }
    }
    running.abort_all();
    // Jobs still held by this worker go back to the queue without costing an
    // attempt (one by one: a job whose twin was queued meanwhile is superseded).
    let held: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM jobs WHERE status = 'running' AND locked_by = $1")
            .bind(&worker_id)
            .fetch_all(&pool)
            .await?;
    let mut released = 0;
    for id in held {
        let requeued = sqlx::query(
            "UPDATE jobs SET status = 'queued', attempts = greatest(attempts - 1, 0), \
             locked_until = NULL, locked_by = NULL, updated_at = now() \
             WHERE id = $1 AND status = 'running' AND locked_by = $2",
        )
        .bind(id)
        .bind(&worker_id)
        .execute(&pool)
        .await;
        released += supersede_if_duplicate(&pool, id, &worker_id, requeued)
            .await?
            .rows_affected();
    }
    tracing::info!(worker = %worker_id, released, "job worker stopped");
    Ok(())
}

/// Record that a claimed job ended: `succeeded`, or `dead` with `error`.
/// With `worker`, only while that worker still holds it.
pub(crate) async fn finish(
    pool: &PgPool,
    id: Uuid,
    worker: Option<&str>,
    error: Option<&str>,
) -> Result<sqlx::postgres::PgQueryResult, sqlx::Error> {
    sqlx::query(
        "UPDATE jobs SET status = $3, finished_at = now(), locked_until = NULL, \
         last_error = $4, updated_at = now() WHERE id = $1 AND ($2::text IS NULL OR locked_by = $2)",
    )
    .bind(id)
    .bind(worker)
    .bind(if error.is_some() { "dead" } else { "succeeded" })
    .bind(error)
    .execute(pool)
    .await
}

/// Put a job `worker` failed back for another attempt in `wait`, marked as
/// held by `holder` (`None`: waiting in the table; `"sqs"`: SQS holds it).
/// Returns whether a queued twin superseded it instead.
pub(crate) async fn requeue(
    pool: &PgPool,
    id: Uuid,
    worker: &str,
    error: &str,
    wait: Duration,
    holder: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let requeued = sqlx::query(
        "UPDATE jobs SET status = 'queued', run_at = now() + make_interval(secs => $4), \
         locked_until = NULL, locked_by = $5, last_error = $3, updated_at = now() \
         WHERE id = $1 AND locked_by = $2",
    )
    .bind(id)
    .bind(worker)
    .bind(error)
    .bind(wait.as_secs_f64())
    .bind(holder)
    .execute(pool)
    .await;
    let superseded = matches!(
        &requeued,
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("jobs_dedup_key")
    );
    supersede_if_duplicate(pool, id, worker, requeued).await?;
    Ok(superseded)
}

/// A job going back to the queue while a twin with its dedup key is already
/// queued would break the one-queued-job rule; the twin will do the same work
/// with fresher input, so this one ends as `superseded`.
pub(crate) async fn supersede_if_duplicate(
    pool: &PgPool,
    id: Uuid,
    worker: &str,
    requeued: Result<sqlx::postgres::PgQueryResult, sqlx::Error>,
) -> Result<sqlx::postgres::PgQueryResult, sqlx::Error> {
    match requeued {
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("jobs_dedup_key") => {
            sqlx::query(
                "UPDATE jobs SET status = 'superseded', finished_at = now(), locked_until = NULL, \
                 last_error = coalesce(last_error || ' ', '') || '(superseded by a newer queued job)', \
                 updated_at = now() WHERE id = $1 AND locked_by = $2",
            )
            .bind(id)
            .bind(worker)
            .execute(pool)
            .await
        }
        other => other,
    }
}

/// Seconds until the next queued job of these queues and kinds is due.
pub(crate) async fn next_due(
    pool: &PgPool,
    queues: &[String],
    kinds: &[String],
) -> Result<Option<f64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT extract(epoch FROM min(run_at) - now())::float8 FROM jobs \
         WHERE status = 'queued' AND queue = ANY($1) AND kind = ANY($2)",
    )
    .bind(queues)
    .bind(kinds)
    .fetch_one(pool)
    .await
}

/// Claim up to `limit` jobs: running jobs whose worker's lease ran out (when
/// `expired_too`; that check is needed only every few seconds), then due
/// jobs queue by queue, starting at `first` so that no queue starves. Each
/// query is served by a partial index in `run_at` order (`queue = ANY(...)`
/// would make PostgreSQL sort every queued job on each claim).
struct Claimer<'a> {
    pool: &'a PgPool,
    queues: &'a [String],
    kinds: &'a [String],
    worker: &'a str,
    lease: Duration,
}

impl Claimer<'_> {
    async fn claim(
        &self,
        limit: i64,
        expired_too: bool,
        first: usize,
    ) -> Result<Vec<Claimed>, sqlx::Error> {
        let Claimer {
            pool,
            queues,
            kinds,
            worker,
            lease,
        } = *self;
        // `id = ANY(ARRAY(...))`: PostgreSQL cannot know the LIMIT of a prepared
        // statement and would join `id IN (...)` by scanning the table.
        const SET: &str = "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = $3, \
         locked_until = now() + make_interval(secs => $5), updated_at = now() WHERE id = ANY(ARRAY";
        const RETURNING: &str = " RETURNING id, kind, payload, attempts, max_attempts";
        let mut claimed: Vec<Claimed> = Vec::new();
        if expired_too {
            let sql = format!(
                "{SET}(SELECT id FROM jobs WHERE status = 'running' AND locked_until < now() \
             AND queue = ANY($1) AND kind = ANY($2) LIMIT $4 FOR UPDATE SKIP LOCKED)){RETURNING}"
            );
            claimed = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(queues)
                .bind(kinds)
                .bind(worker)
                .bind(limit)
                .bind(lease.as_secs_f64())
                .fetch_all(pool)
                .await?;
        }
        let sql = format!(
            "{SET}(SELECT id FROM jobs WHERE status = 'queued' AND queue = $1 AND run_at <= now() \
         AND kind = ANY($2) ORDER BY run_at LIMIT $4 FOR UPDATE SKIP LOCKED)){RETURNING}"
        );
        for i in 0..queues.len() {
            let left = limit - claimed.len() as i64;
            if left <= 0 {
                break;
            }
            let queue = &queues[(first + i) % queues.len()];
            let more: Vec<Claimed> = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(queue)
                .bind(kinds)
                .bind(worker)
                .bind(left)
                .bind(lease.as_secs_f64())
                .fetch_all(pool)
                .await?;
            claimed.extend(more);
        }
        Ok(claimed)
    }
}

/// Run a handler in its own task (a panic is a failure, not a crash);
/// returns the error, if any, and whether it is permanent.
pub(crate) async fn invoke(
    handler: Handler,
    payload: Value,
    ctx: JobContext,
) -> (Option<String>, bool) {
    match tokio::spawn(handler(payload, ctx)).await {
        Ok(Ok(())) => (None, false),
        Ok(Err(e)) => (Some(format!("{e:#}")), is_permanent(&e)),
        Err(e) => (Some(format!("the job panicked: {e}")), false),
    }
}

pub(crate) fn record_run(kind: &str, outcome: &'static str, took: Duration) {
    metrics::counter!("p360_jobs_total", "kind" => kind.to_owned(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!("p360_job_duration_seconds", "kind" => kind.to_owned())
        .record(took.as_secs_f64());
}

async fn execute(
    pool: PgPool,
    registry: Arc<Registry>,
    job: Claimed,
    worker: String,
    lease: Duration,
) {
    let started = Instant::now();
    let Some((handler, backoff)) = registry.handlers.get(job.kind.as_str()).cloned() else {
        return;
    };
    let ctx = JobContext {
        pool: pool.clone(),
        job_id: job.id,
        attempt: job.attempts,
        max_attempts: job.max_attempts,
        services: registry.services.clone(),
    };
    // Renew the lease while the job runs.
    let renew = {
        let pool = pool.clone();
        let worker = worker.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                let renewed = sqlx::query(
                    "UPDATE jobs SET locked_until = now() + make_interval(secs => $3) \
                     WHERE id = $1 AND locked_by = $2 AND status = 'running'",
                )
                .bind(job.id)
                .bind(&worker)
                .bind(lease.as_secs_f64())
                .execute(&pool)
                .await;
                if let Err(e) = renewed {
                    tracing::warn!(job = %job.id, error = %e, "could not renew a job lease");
                }
            }
        })
    };
    let (error, permanent) = invoke(handler, job.payload, ctx).await;
    renew.abort();
    let last = permanent || job.attempts >= job.max_attempts;
    let kind = job.kind.clone();
    let result = match &error {
        None => finish(&pool, job.id, Some(&worker), None).await.map(|_| ()),
        Some(err) if last => {
            tracing::error!(job = %job.id, kind = %kind, error = %err, "job failed for the last time; dead-lettered");
            finish(&pool, job.id, Some(&worker), Some(err))
                .await
                .map(|_| ())
        }
        Some(err) => {
            let wait = backoff(job.attempts);
            tracing::warn!(job = %job.id, kind = %kind, attempt = job.attempts, retry_in_ms = wait.as_millis() as u64, error = %err, "job failed; will retry");
            requeue(&pool, job.id, &worker, err, wait, None)
                .await
                .map(|_| ())
        }
    };
    if let Err(e) = result {
        tracing::warn!(job = %job.id, error = %e, "could not record a job's outcome; its lease will expire and it runs again");
    }
    let outcome = match (&error, last) {
        (None, _) => "succeeded",
        (Some(_), true) => "dead",
        (Some(_), false) => "retried",
    };
    if outcome != "retried" {
        schedule_next(&pool, &registry, &kind).await;
    }
    record_run(&kind, outcome, started.elapsed());
}

/// Queue depth, oldest ready job and dead letters, for `/metrics` (each
/// query reads a partial or status index, not the job history).
pub async fn record_queue_metrics(pool: &PgPool) -> Result<(), sqlx::Error> {
    let (ready, oldest): (i64, Option<f64>) = sqlx::query_as(
        "SELECT count(*), extract(epoch FROM now() - min(run_at))::float8 FROM jobs \
         WHERE status = 'queued' AND run_at <= now()",
    )
    .fetch_one(pool)
    .await?;
    let dead: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE status = 'dead'")
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

    async fn run(self, ctx: JobContext) -> anyhow::Result<()> {
        let removed = prune(&ctx.pool).await?;
        tracing::info!(removed, "pruned finished jobs older than a week");
        Ok(())
    }
}

/// Forget succeeded jobs older than a week (dead letters stay until retried
/// or removed by an operator).
pub async fn prune(pool: &PgPool) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "DELETE FROM jobs WHERE status IN ('succeeded', 'superseded') \
         AND finished_at < now() - interval '7 days'",
    )
    .execute(pool)
    .await?
    .rows_affected())
}

/// A job as operators see it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema, sqlx::FromRow)]
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
    sqlx::query_as(
        "SELECT id, queue, kind, status, attempts, max_attempts, payload, dedup_key, run_at, \
         locked_by, last_error, created_at, updated_at, finished_at FROM jobs \
         WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR kind = $2) \
           AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4)) \
         ORDER BY created_at DESC, id DESC LIMIT $5",
    )
    .bind(&f.status)
    .bind(&f.kind)
    .bind(f.before.map(|b| b.0))
    .bind(f.before.map(|b| b.1))
    .bind(f.limit)
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
pub async fn retry(
    tx: &mut Transaction<'static, Postgres>,
    id: Uuid,
) -> Result<JobView, RetryError> {
    let current: Option<(String, String, Option<String>, String)> =
        sqlx::query_as("SELECT status, kind, dedup_key, queue FROM jobs WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
    let Some((status, kind, dedup_key, queue)) = current else {
        return Err(RetryError::NotFound);
    };
    if status != "dead" && status != "queued" {
        return Err(RetryError::NotRetryable(status));
    }
    if status == "dead"
        && let Some(key) = &dedup_key
    {
        let twin: Option<Uuid> = sqlx::query_scalar(
            "SELECT id FROM jobs WHERE kind = $1 AND dedup_key = $2 AND status = 'queued'",
        )
        .bind(&kind)
        .bind(key)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(twin) = twin {
            return Err(RetryError::Duplicate(twin));
        }
    }
    let view: JobView = sqlx::query_as(
        "UPDATE jobs SET status = 'queued', run_at = now(), finished_at = NULL, locked_by = NULL, \
         locked_until = NULL, attempts = CASE WHEN status = 'dead' THEN 0 ELSE attempts END, \
         updated_at = now() WHERE id = $1 \
         RETURNING id, queue, kind, status, attempts, max_attempts, payload, dedup_key, run_at, \
         locked_by, last_error, created_at, updated_at, finished_at",
    )
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(&queue)
        .execute(&mut **tx)
        .await?;
    tracing::info!(job = %id, kind = %kind, "job retried by an operator");
    Ok(view)
}
