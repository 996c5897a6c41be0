//! Files that land in the object store become jobs. In AWS, S3 tells the
//! landing Lambda (crates/landing-lambda) about each created object, and the
//! Lambda puts a `file.landed` message on the ingest queue; the SQS worker
//! hands such a message to [`accept`], which turns it into the job of the
//! capability that registered the key's prefix
//! ([`Registry::on_landing`](super::Registry::on_landing)), in one
//! transaction with a row of `file_landings`.
//!
//! S3 may announce an object twice and Lambda retries failed batches: a
//! landing is known by (bucket, key, sequencer) — S3's sequencer grows with
//! each write of a key, so a corrected file put again is a new landing —
//! and a landing already seen queues nothing.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::{Job, Registry};

/// The message the landing Lambda sends for a created object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Landed {
    pub bucket: String,
    pub key: String,
    #[serde(default)]
    pub size: i64,
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(default)]
    pub sequencer: Option<String>,
    #[serde(default)]
    pub event_time: Option<String>,
}

/// The `event` of a landing message.
pub const EVENT: &str = "file.landed";

/// A job made from a landed file.
pub trait OnLanding: Job {
    fn landed(file: Landed) -> Self;
}

/// Where the files under a key prefix go.
#[derive(Clone)]
pub(crate) struct Route {
    pub(crate) prefix: String,
    pub(crate) kind: &'static str,
    pub(crate) queue: &'static str,
    pub(crate) max_attempts: i64,
    pub(crate) build: fn(Landed) -> serde_json::Result<Value>,
}

pub(crate) fn payload<J: OnLanding>(file: Landed) -> serde_json::Result<Value> {
    serde_json::to_value(J::landed(file))
}

/// What became of a landing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// A job of this kind was queued for it.
    Queued { job: Uuid, kind: &'static str },
    /// The same landing was accepted before.
    Duplicate,
    /// No capability takes files under this key.
    Unrouted,
}

impl Registry {
    /// The route of `key`: the registered prefix that is its longest start.
    pub(crate) fn route(&self, key: &str) -> Option<&Route> {
        self.landings
            .iter()
            .filter(|r| key.starts_with(r.prefix.as_str()))
            .max_by_key(|r| r.prefix.len())
    }
}

/// Turn a landing message into its job (once per landing).
pub async fn accept(pool: &PgPool, registry: &Registry, file: &Landed) -> anyhow::Result<Accepted> {
    let Some(route) = registry.route(&file.key) else {
        metrics::counter!("p360_files_landed_total", "route" => "none").increment(1);
        tracing::warn!(bucket = %file.bucket, key = %file.key, "a file landed under a key no capability takes; ignored");
        return Ok(Accepted::Unrouted);
    };
    // Without a sequencer (not from S3), the ETag tells writes apart.
    let sequencer = file
        .sequencer
        .clone()
        .or_else(|| file.etag.clone())
        .unwrap_or_default();
    let job = Uuid::now_v7();
    let payload = (route.build)(file.clone())?;
    let mut tx = pool.begin().await?;
    let new = sqlx::query!(
        "INSERT INTO file_landings (bucket, key, sequencer, size, kind, job_id) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        file.bucket,
        file.key,
        sequencer,
        file.size,
        route.kind,
        job
    )
    .execute(&mut *tx)
    .await?;
    if new.rows_affected() == 0 {
        metrics::counter!("p360_files_landed_total", "route" => route.kind, "outcome" => "duplicate").increment(1);
        tracing::info!(bucket = %file.bucket, key = %file.key, "a landing announced again; nothing queued");
        return Ok(Accepted::Duplicate);
    }
    super::insert_job(
        &mut tx,
        job,
        route.queue,
        route.kind,
        &payload,
        None,
        route.max_attempts,
        None,
    )
    .await?;
    tx.commit().await?;
    metrics::counter!("p360_files_landed_total", "route" => route.kind, "outcome" => "queued")
        .increment(1);
    tracing::info!(bucket = %file.bucket, key = %file.key, size = file.size, kind = route.kind, job = %job, "file landed; job queued");
    Ok(Accepted::Queued {
        job,
        kind: route.kind,
    })
}

/// The landing in a queue message, if it is one.
pub fn landing_message(body: &Value) -> Option<anyhow::Result<Landed>> {
    if body.get("event").and_then(Value::as_str) != Some(EVENT) {
        return None;
    }
    Some(
        serde_json::from_value(body.clone())
            .map_err(|e| anyhow::anyhow!("a {EVENT} message that does not read: {e}")),
    )
}

/// What to do with a landing message: `Some(Ok)` done (delete it),
/// `Some(Err(why))` refused (dead-letter it), `None` not now (the database
/// failed: SQS delivers it again).
pub(crate) async fn dispose(
    pool: &PgPool,
    registry: &Registry,
    landed: anyhow::Result<Landed>,
) -> Option<Result<(), String>> {
    let file = match landed {
        Ok(f) => f,
        Err(e) => return Some(Err(e.to_string())),
    };
    match accept(pool, registry, &file).await {
        Ok(Accepted::Unrouted) => {
            Some(Err(format!("no capability takes files under {}", file.key)))
        }
        Ok(_) => Some(Ok(())),
        Err(e) => {
            tracing::warn!(bucket = %file.bucket, key = %file.key, error = format!("{e:#}"), "could not queue a landed file's job; SQS will deliver it again");
            None
        }
    }
}
