//! The SQS backend. The jobs table stays the outbox and the record operators
//! read: a job is inserted in the domain transaction as with PostgreSQL; a
//! relay sends committed, due jobs to the SQS queue of their job queue
//! (`{prefix}{queue}`) and marks them relayed in the same transaction (a
//! crash before the commit sends them again: delivery is at least once, and
//! job handlers are idempotent). Consumers long-poll SQS:
//!
//! - the visibility timeout is the lease, renewed while the job runs; a
//!   worker that dies leaves the message to reappear when it runs out;
//! - a failure makes the message invisible for the job's backoff;
//! - after `MAX_ATTEMPTS` receives (or a permanent error) the message goes to
//!   `{prefix}{queue}-dlq` and the job is dead;
//! - on shutdown, jobs that do not finish within the drain time are made
//!   visible again at once, without costing an attempt.
//!
//! The row of each job follows along (`running`, `succeeded`, `dead`, back to
//! `queued` with `locked_by = 'sqs'` while SQS holds it), so `GET /v1/jobs`
//! and retries work the same on both backends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageSystemAttributeName, SendMessageBatchRequestEntry};
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use uuid::Uuid;

use super::{
    CHANNEL, JobContext, Registry, WorkerConfig, finish, invoke, next_due, record_run, requeue,
    schedule_missing, schedule_next, supersede_if_duplicate,
};
use crate::config::SqsConfig;
use crate::shutdown::Shutdown;

/// Marks a job that SQS holds (relayed, or waiting out a backoff there).
const RELAYED: &str = "sqs";

/// An SQS client for `cfg` (endpoint, region and static credentials when
/// set; otherwise the AWS environment: task role, profile, ...).
pub async fn client(cfg: &SqsConfig) -> Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = &cfg.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(endpoint) = &cfg.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    if let (Some(id), Some(secret)) = (&cfg.access_key_id, &cfg.secret_access_key) {
        use secrecy::ExposeSecret;
        loader = loader.credentials_provider(aws_sdk_sqs::config::Credentials::new(
            id,
            secret.expose_secret(),
            None,
            None,
            "p360-config",
        ));
    }
    Client::new(&loader.load().await)
}

/// The SQS queue (and dead-letter queue) of each job queue.
#[derive(Clone)]
struct Queues {
    main: HashMap<String, String>,
    dlq: HashMap<String, String>,
}

async fn resolve(client: &Client, prefix: &str, queues: &[String]) -> anyhow::Result<Queues> {
    let mut q = Queues {
        main: HashMap::new(),
        dlq: HashMap::new(),
    };
    for name in queues {
        for (map, sqs_name) in [
            (&mut q.main, format!("{prefix}{name}")),
            (&mut q.dlq, format!("{prefix}{name}-dlq")),
        ] {
            let url = client
                .get_queue_url()
                .queue_name(&sqs_name)
                .send()
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "SQS queue {sqs_name} is not available: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(e)
                    )
                })?
                .queue_url
                .ok_or_else(|| anyhow::anyhow!("SQS gave no URL for {sqs_name}"))?;
            map.insert(name.clone(), url);
        }
    }
    Ok(q)
}

pub(crate) async fn run_worker(
    pool: PgPool,
    registry: Registry,
    config: WorkerConfig,
    sqs: SqsConfig,
    worker_id: String,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let client = client(&sqs).await;
    let kinds: Vec<String> = registry.handlers.keys().map(|k| k.to_string()).collect();
    let queue_names: Vec<String> = registry.queues.iter().map(|q| q.to_string()).collect();
    let queues = resolve(&client, &sqs.queue_prefix, &queue_names).await?;
    tracing::info!(worker = %worker_id, kinds = ?kinds, queues = ?queues.main.values().collect::<Vec<_>>(), "SQS job worker started");
    let registry = Arc::new(registry);
    let relay = tokio::spawn(relay(
        registry.clone(),
        pool.clone(),
        client.clone(),
        queues.clone(),
        kinds.clone(),
        config.poll,
        shutdown.clone(),
    ));
    let slots = Arc::new(tokio::sync::Semaphore::new(config.concurrency));
    // Receipts of the messages being worked on, to release them on shutdown.
    let held: Arc<Mutex<HashMap<Uuid, String>>> = Arc::new(Mutex::new(HashMap::new()));
    let mut running = tokio::task::JoinSet::new();
    let wait_secs = config.poll.as_secs().clamp(1, 20) as i32;
    let lease_secs = config.lease.as_secs().clamp(1, 43_200) as i32;
    let queue_list: Vec<(String, String)> = queues
        .main
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut next = 0usize;
    while !shutdown.is_triggered() {
        // Wait for a free slot before asking for work.
        let first = tokio::select! {
            p = slots.clone().acquire_owned() => p?,
            _ = shutdown.wait() => break,
        };
        let free = slots.available_permits() + 1;
        let (queue, url) = &queue_list[next % queue_list.len()];
        next += 1;
        let received = tokio::select! {
            r = client
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(free.min(10) as i32)
                .wait_time_seconds(wait_secs)
                .visibility_timeout(lease_secs)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .send() => r,
            _ = shutdown.wait() => break,
        };
        let messages = match received {
            Ok(out) => out.messages.unwrap_or_default(),
            Err(e) => {
                tracing::warn!(queue = %queue, error = %aws_sdk_sqs::error::DisplayErrorContext(e), "could not receive from SQS; retrying");
                drop(first);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let mut permit = Some(first);
        for m in messages {
            let permit = match permit.take() {
                Some(p) => p,
                None => slots.clone().acquire_owned().await?,
            };
            let ctx = Execution {
                pool: pool.clone(),
                client: client.clone(),
                registry: registry.clone(),
                queue_url: url.clone(),
                dlq_url: queues.dlq[queue].clone(),
                worker: worker_id.clone(),
                lease_secs,
                held: held.clone(),
            };
            running.spawn(async move {
                ctx.execute(m).await;
                drop(permit);
            });
        }
        while running.try_join_next().is_some() {}
    }
    super::drain(&mut running, config.drain).await;
    // What did not finish goes back at once, without costing an attempt.
    let left: Vec<(Uuid, String)> = held
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .drain()
        .collect();
    let mut released = 0;
    for (id, receipt) in left {
        let url = queue_url_of(&pool, &queues, id).await;
        if let Some(url) = url {
            let _ = client
                .change_message_visibility()
                .queue_url(url)
                .receipt_handle(receipt)
                .visibility_timeout(0)
                .send()
                .await;
        }
        let requeued = sqlx::query!(
            "UPDATE jobs SET status = 'queued', attempts = greatest(attempts - 1, 0), \
             locked_until = NULL, locked_by = $2, updated_at = now() \
             WHERE id = $1 AND status = 'running'",
            id,
            RELAYED
        )
        .execute(&pool)
        .await;
        if supersede_if_duplicate(&pool, id, &worker_id, requeued)
            .await
            .is_ok()
        {
            released += 1;
        }
    }
    relay.abort();
    tracing::info!(worker = %worker_id, released, "SQS job worker stopped");
    Ok(())
}

async fn queue_url_of(pool: &PgPool, queues: &Queues, id: Uuid) -> Option<String> {
    let queue: String = sqlx::query_scalar!("SELECT queue FROM jobs WHERE id = $1", id)
        .fetch_optional(pool)
        .await
        .ok()??;
    queues.main.get(&queue).cloned()
}

/// Move committed, due jobs from the outbox to SQS.
async fn relay(
    registry: Arc<Registry>,
    pool: PgPool,
    client: Client,
    queues: Queues,
    kinds: Vec<String>,
    poll: Duration,
    shutdown: Shutdown,
) {
    let queue_names: Vec<String> = queues.main.keys().cloned().collect();
    let mut listener = loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut l) => match l.listen(CHANNEL).await {
                Ok(()) => break l,
                Err(e) => tracing::warn!(error = %e, "relay: cannot LISTEN; retrying"),
            },
            Err(e) => tracing::warn!(error = %e, "relay: cannot connect; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let mut scheduled_at: Option<Instant> = None;
    while !shutdown.is_triggered() {
        if scheduled_at.is_none_or(|t| t.elapsed() > Duration::from_secs(1)) {
            scheduled_at = Some(Instant::now());
            schedule_missing(&pool, &registry).await;
        }
        let sent = match relay_batch(&pool, &client, &queues, &queue_names, &kinds).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "relay: could not move jobs to SQS; retrying"
                );
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if sent < RELAY_BATCH {
            let nap = match next_due(&pool, &queue_names, &kinds).await {
                Ok(Some(secs)) => poll.min(Duration::from_secs_f64(secs.max(0.0))),
                _ => poll,
            };
            tokio::select! {
                _ = listener.recv() => {}
                _ = tokio::time::sleep(nap) => {}
                _ = shutdown.wait() => {}
            }
        }
    }
}

const RELAY_BATCH: usize = 100;

struct Outgoing {
    id: Uuid,
    queue: String,
    kind: String,
    payload: Value,
    max_attempts: i64,
}

/// One batch: claim due jobs, send them, mark them relayed, commit.
async fn relay_batch(
    pool: &PgPool,
    client: &Client,
    queues: &Queues,
    queue_names: &[String],
    kinds: &[String],
) -> anyhow::Result<usize> {
    let mut tx = pool.begin().await?;
    // Per queue, in run_at order, on the relay's partial index.
    let mut jobs: Vec<Outgoing> = Vec::new();
    for queue in queue_names {
        let left = RELAY_BATCH as i64 - jobs.len() as i64;
        if left <= 0 {
            break;
        }
        let more = sqlx::query_as!(
            Outgoing,
            "SELECT id, queue, kind, payload, max_attempts FROM jobs \
             WHERE status = 'queued' AND locked_by IS NULL AND queue = $1 AND run_at <= now() \
               AND kind = ANY($2) \
             ORDER BY run_at LIMIT $3 FOR UPDATE SKIP LOCKED",
            queue,
            kinds,
            left
        )
        .fetch_all(&mut *tx)
        .await?;
        jobs.extend(more);
    }
    if jobs.is_empty() {
        return Ok(0);
    }
    let mut sent: Vec<Uuid> = Vec::with_capacity(jobs.len());
    let mut by_queue: HashMap<&str, Vec<&Outgoing>> = HashMap::new();
    for j in &jobs {
        by_queue.entry(j.queue.as_str()).or_default().push(j);
    }
    for (queue, list) in by_queue {
        let Some(url) = queues.main.get(queue) else {
            continue;
        };
        for chunk in list.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, j)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(
                            json!({"id": j.id, "kind": j.kind, "payload": j.payload, "max_attempts": j.max_attempts})
                                .to_string(),
                        )
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = client
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("{}", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
            for ok in out.successful {
                if let Some(j) = ok.id.parse::<usize>().ok().and_then(|i| chunk.get(i)) {
                    sent.push(j.id);
                }
            }
            for failed in out.failed {
                tracing::warn!(entry = %failed.id, code = %failed.code, "relay: SQS refused a job; it stays in the outbox");
            }
        }
    }
    sqlx::query!(
        "UPDATE jobs SET locked_by = $2, updated_at = now() WHERE id = ANY($1)",
        &sent,
        RELAYED
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    metrics::counter!("p360_jobs_relayed_total").increment(sent.len() as u64);
    Ok(jobs.len())
}

/// What one received message needs.
struct Execution {
    pool: PgPool,
    client: Client,
    registry: Arc<Registry>,
    queue_url: String,
    dlq_url: String,
    worker: String,
    lease_secs: i32,
    held: Arc<Mutex<HashMap<Uuid, String>>>,
}

impl Execution {
    async fn delete(&self, receipt: &str) {
        if let Err(e) = self
            .client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .send()
            .await
        {
            tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(e), "could not delete an SQS message; it will be delivered again");
        }
    }

    async fn execute(self, m: aws_sdk_sqs::types::Message) {
        let started = Instant::now();
        let Some(receipt) = m.receipt_handle.clone() else {
            return;
        };
        let body: Value = match m.body.as_deref().map(serde_json::from_str) {
            Some(Ok(v)) => v,
            _ => {
                tracing::error!(message = ?m.message_id, "an SQS message that is not a job; dead-lettered");
                self.to_dlq(m.body.as_deref().unwrap_or(""), "not a job")
                    .await;
                self.delete(&receipt).await;
                return;
            }
        };
        // A file landed (the landing Lambda's message): its job is queued,
        // or the message dead-lettered for an operator, or left to return.
        if let Some(landed) = super::landing::landing_message(&body) {
            match super::landing::dispose(&self.pool, &self.registry, landed).await {
                Some(Ok(())) => self.delete(&receipt).await,
                Some(Err(refused)) => {
                    self.to_dlq(&body.to_string(), &refused).await;
                    self.delete(&receipt).await;
                }
                None => {}
            }
            return;
        }
        let (Some(id), Some(kind)) = (
            body["id"].as_str().and_then(|s| s.parse::<Uuid>().ok()),
            body["kind"].as_str().map(str::to_owned),
        ) else {
            self.to_dlq(&body.to_string(), "no id or kind").await;
            self.delete(&receipt).await;
            return;
        };
        let attempt: i64 = m
            .attributes
            .as_ref()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .and_then(|c| c.parse().ok())
            .unwrap_or(1);
        let max_attempts = body["max_attempts"].as_i64().unwrap_or(1);
        // Delivered more often than it has attempts: each earlier delivery's
        // process died before it finished (crash, OOM, kill). Dead-lettered
        // instead of taking this process down too.
        if attempt > max_attempts {
            let err = format!(
                "the process running it stopped before it finished, on each of its {max_attempts} attempts (crash, out of memory or kill)"
            );
            tracing::error!(job = %id, kind = %kind, "job never finished on any of its attempts; dead-lettered");
            self.to_dlq(&body.to_string(), &err).await;
            self.delete(&receipt).await;
            let _ = finish(&self.pool, id, None, Some(&err)).await;
            metrics::counter!("p360_jobs_total", "kind" => kind, "outcome" => "dead").increment(1);
            return;
        }
        // The row says whether the job still wants running (a duplicate
        // delivery of a finished job does not).
        let claimed = sqlx::query!(
            "UPDATE jobs SET status = 'running', attempts = $2, locked_by = $3, \
             locked_until = now() + make_interval(secs => $4), updated_at = now() \
             WHERE id = $1 AND status IN ('queued', 'running')",
            id,
            attempt,
            &self.worker,
            f64::from(self.lease_secs)
        )
        .execute(&self.pool)
        .await;
        match claimed {
            Ok(r) if r.rows_affected() == 0 => {
                self.delete(&receipt).await;
                return;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(job = %id, error = %e, "could not mark a job running; SQS will deliver it again");
                return;
            }
        }
        let Some((handler, backoff)) = self.registry.handlers.get(kind.as_str()).cloned() else {
            return;
        };
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, receipt.clone());
        let ctx = JobContext {
            pool: self.pool.clone(),
            job_id: id,
            attempt,
            max_attempts,
            services: (),
        };
        let renew = {
            let (client, url, receipt, lease) = (
                self.client.clone(),
                self.queue_url.clone(),
                receipt.clone(),
                self.lease_secs,
            );
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs_f64(f64::from(lease) / 3.0)).await;
                    if let Err(e) = client
                        .change_message_visibility()
                        .queue_url(&url)
                        .receipt_handle(&receipt)
                        .visibility_timeout(lease)
                        .send()
                        .await
                    {
                        tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(e), "could not extend an SQS message's visibility");
                    }
                }
            })
        };
        let (error, permanent) = invoke(handler, body["payload"].clone(), ctx).await;
        renew.abort();
        let last = permanent || attempt >= max_attempts;
        let outcome = match &error {
            None => {
                self.delete(&receipt).await;
                let _ = finish(&self.pool, id, None, None).await;
                "succeeded"
            }
            Some(err) if last => {
                tracing::error!(job = %id, kind = %kind, error = %err, "job failed for the last time; dead-lettered");
                self.to_dlq(&body.to_string(), err).await;
                self.delete(&receipt).await;
                let _ = finish(&self.pool, id, None, Some(err)).await;
                "dead"
            }
            Some(err) => {
                let wait = backoff(attempt);
                tracing::warn!(job = %id, kind = %kind, attempt, retry_in_ms = wait.as_millis() as u64, error = %err, "job failed; will retry");
                let superseded =
                    requeue(&self.pool, id, &self.worker, err, wait, Some(RELAYED)).await;
                if matches!(superseded, Ok(true)) {
                    self.delete(&receipt).await;
                } else {
                    // SQS keeps it out of sight for the backoff.
                    let _ = self
                        .client
                        .change_message_visibility()
                        .queue_url(&self.queue_url)
                        .receipt_handle(&receipt)
                        .visibility_timeout(wait.as_secs().min(43_200) as i32)
                        .send()
                        .await;
                }
                "retried"
            }
        };
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        if outcome != "retried" {
            schedule_next(&self.pool, &self.registry, &kind).await;
        }
        record_run(&kind, outcome, started.elapsed());
    }

    async fn to_dlq(&self, body: &str, error: &str) {
        let sent = self
            .client
            .send_message()
            .queue_url(&self.dlq_url)
            .message_body(body)
            .message_attributes(
                "error",
                aws_sdk_sqs::types::MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(error.chars().take(1000).collect::<String>())
                    .build()
                    .expect("data type and value are set"),
            )
            .send()
            .await;
        if let Err(e) = sent {
            tracing::error!(error = %aws_sdk_sqs::error::DisplayErrorContext(e), "could not write to the dead-letter queue");
        }
    }
}
