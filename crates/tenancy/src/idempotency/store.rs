//! The SQL of idempotency keys, and their expiry (a recurring job).

use platform::jobs::{Job, JobContext};
use sqlx::PgPool;

/// A key's request and, once the first request finished, its response.
pub struct Stored {
    pub request_hash: Vec<u8>,
    pub status: Option<i64>,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub etag: Option<String>,
    pub body: Option<Vec<u8>>,
}

/// Take `key` for a first request (or one whose first attempt died: an
/// unfinished first request older than 60 seconds); false when it is held or
/// answered already.
pub async fn claim(
    pool: &PgPool,
    actor: &str,
    key: &str,
    hash: &[u8],
) -> Result<bool, sqlx::Error> {
    let claimed = sqlx::query!(
        "INSERT INTO idempotency_keys (actor, key, request_hash) VALUES ($1, $2, $3) \
         ON CONFLICT (actor, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, \
         created_at = now(), status = NULL, body = NULL \
         WHERE idempotency_keys.status IS NULL \
           AND idempotency_keys.created_at < now() - interval '60 seconds' \
           AND idempotency_keys.request_hash = EXCLUDED.request_hash",
        actor,
        key,
        hash
    )
    .execute(pool)
    .await?;
    Ok(claimed.rows_affected() == 1)
}

pub async fn save(pool: &PgPool, actor: &str, key: &str, r: &Stored) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE idempotency_keys SET status = $3, content_type = $4, location = $5, etag = $6, \
         body = $7 WHERE actor = $1 AND key = $2",
        actor,
        key,
        r.status,
        r.content_type,
        r.location,
        r.etag,
        r.body
    )
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn find(pool: &PgPool, actor: &str, key: &str) -> Result<Option<Stored>, sqlx::Error> {
    sqlx::query_as!(
        Stored,
        "SELECT request_hash, status, content_type, location, etag, body FROM idempotency_keys \
         WHERE actor = $1 AND key = $2",
        actor,
        key
    )
    .fetch_optional(pool)
    .await
}

/// Release a key whose request failed, so that a retry runs again.
pub async fn forget(pool: &PgPool, actor: &str, key: &str) {
    if let Err(e) = sqlx::query!(
        "DELETE FROM idempotency_keys WHERE actor = $1 AND key = $2",
        actor,
        key
    )
    .execute(pool)
    .await
    {
        tracing::warn!(error = %e, "could not release an idempotency key; it expires by itself");
    }
}

/// Delete keys older than a day.
pub async fn expire(pool: &PgPool) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query!("DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'")
            .execute(pool)
            .await?
            .rows_affected(),
    )
}

/// The recurring job that forgets idempotency keys older than a day.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ExpireIdempotencyKeys;

impl Job for ExpireIdempotencyKeys {
    const KIND: &'static str = "idempotency.expire";
    const MAX_ATTEMPTS: i64 = 3;
    type Context = ();

    async fn run(self, ctx: JobContext) -> anyhow::Result<()> {
        let removed = expire(&ctx.pool).await?;
        tracing::info!(removed, "expired idempotency keys older than a day");
        Ok(())
    }
}
