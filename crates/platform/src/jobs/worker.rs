//! The PostgreSQL worker: claims due jobs with `FOR UPDATE SKIP LOCKED`,
//! runs them under a renewed lease, and writes their outcome (also used by
//! the SQS backend, whose rows follow the same lifecycle).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use uuid::Uuid;

use super::{
    CHANNEL, Handler, JobContext, Registry, is_permanent, schedule_missing, schedule_next,
};
use crate::shutdown::Shutdown;

/// How long a busy worker waits for more slots to free before claiming.
const CLAIM_GATHER: Duration = Duration::from_millis(3);

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
        return super::sqs::run_worker(pool, registry, config, sqs, worker_id, shutdown).await;
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
    super::drain(&mut running, config.drain).await;
    // Jobs still held by this worker go back to the queue without costing an
    // attempt (one by one: a job whose twin was queued meanwhile is superseded).
    let held: Vec<Uuid> = sqlx::query_scalar!(
        "SELECT id FROM jobs WHERE status = 'running' AND locked_by = $1",
        &worker_id
    )
    .fetch_all(&pool)
    .await?;
    let mut released = 0;
    for id in held {
        let requeued = sqlx::query!(
            "UPDATE jobs SET status = 'queued', attempts = greatest(attempts - 1, 0), \
             locked_until = NULL, locked_by = NULL, updated_at = now() \
             WHERE id = $1 AND status = 'running' AND locked_by = $2",
            id,
            &worker_id
        )
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
    sqlx::query!("UPDATE jobs SET status = $3, finished_at = now(), locked_until = NULL, \
         last_error = $4, updated_at = now() WHERE id = $1 AND ($2::text IS NULL OR locked_by = $2)", id, worker, if error.is_some() { "dead" } else { "succeeded" }, error)
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
    let requeued = sqlx::query!(
        "UPDATE jobs SET status = 'queued', run_at = now() + make_interval(secs => $4), \
         locked_until = NULL, locked_by = $5, last_error = $3, updated_at = now() \
         WHERE id = $1 AND locked_by = $2",
        id,
        worker,
        error,
        wait.as_secs_f64(),
        holder
    )
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
            sqlx::query!("UPDATE jobs SET status = 'superseded', finished_at = now(), locked_until = NULL, \
                 last_error = coalesce(last_error || ' ', '') || '(superseded by a newer queued job)', \
                 updated_at = now() WHERE id = $1 AND locked_by = $2", id, worker)
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
    sqlx::query_scalar!(
        "SELECT extract(epoch FROM min(run_at) - now())::float8 FROM jobs \
         WHERE status = 'queued' AND queue = ANY($1) AND kind = ANY($2)",
        queues,
        kinds
    )
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
        let mut claimed: Vec<Claimed> = Vec::new();
        if expired_too {
            // A job whose lease ran out on its last attempt never returned:
            // the process running it died each time (crash, OOM, kill).
            // It is dead-lettered instead of taking the next process down.
            let dead = sqlx::query!(
                "UPDATE jobs SET status = 'dead', finished_at = now(), locked_by = NULL, \
                 locked_until = NULL, updated_at = now(), \
                 last_error = format('the process running it stopped before it finished, \
                     on each of its %s attempts (crash, out of memory or kill)', attempts) \
                 WHERE id = ANY(ARRAY(SELECT id FROM jobs WHERE status = 'running' \
                     AND locked_until < now() AND attempts >= max_attempts \
                     AND queue = ANY($1) AND kind = ANY($2) FOR UPDATE SKIP LOCKED)) \
                 RETURNING id, kind",
                queues,
                kinds
            )
            .fetch_all(pool)
            .await?;
            for d in dead {
                tracing::error!(job = %d.id, kind = %d.kind, "job never finished on any of its attempts; dead-lettered");
                metrics::counter!("p360_jobs_total", "kind" => d.kind, "outcome" => "dead")
                    .increment(1);
            }
            claimed = sqlx::query_as!(
                Claimed,
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = $3, \
                 locked_until = now() + make_interval(secs => $5), updated_at = now() \
                 WHERE id = ANY(ARRAY(SELECT id FROM jobs WHERE status = 'running' \
                     AND locked_until < now() AND queue = ANY($1) AND kind = ANY($2) \
                     LIMIT $4 FOR UPDATE SKIP LOCKED)) \
                 RETURNING id, kind, payload, attempts, max_attempts",
                queues,
                kinds,
                worker,
                limit,
                lease.as_secs_f64()
            )
            .fetch_all(pool)
            .await?;
        }
        for i in 0..queues.len() {
            let left = limit - claimed.len() as i64;
            if left <= 0 {
                break;
            }
            let queue = &queues[(first + i) % queues.len()];
            let more = sqlx::query_as!(
                Claimed,
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = $3, \
                 locked_until = now() + make_interval(secs => $5), updated_at = now() \
                 WHERE id = ANY(ARRAY(SELECT id FROM jobs WHERE status = 'queued' AND queue = $1 \
                     AND run_at <= now() AND kind = ANY($2) ORDER BY run_at \
                     LIMIT $4 FOR UPDATE SKIP LOCKED)) \
                 RETURNING id, kind, payload, attempts, max_attempts",
                queue,
                kinds,
                worker,
                left,
                lease.as_secs_f64()
            )
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
        services: (),
    };
    // Renew the lease while the job runs.
    let renew = {
        let pool = pool.clone();
        let worker = worker.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                let renewed = sqlx::query!(
                    "UPDATE jobs SET locked_until = now() + make_interval(secs => $3) \
                     WHERE id = $1 AND locked_by = $2 AND status = 'running'",
                    job.id,
                    &worker,
                    lease.as_secs_f64()
                )
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
