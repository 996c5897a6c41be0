//! The SQL of idempotency keys, and their expiry (a recurring job).

use platform::jobs::{Job, JobContext};
use sqlx::{PgConnection, PgPool};

/// A key's request and, once the first request finished, its response.
pub struct Stored {
    pub request_hash: Vec<u8>,
    pub status: Option<i64>,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub etag: Option<String>,
    pub body: Option<Vec<u8>>,
}

/// What claiming a key found.
pub enum Claim {
    /// The key is this transaction's: the request runs.
    Ours,
    /// Another transaction holds it: that request is still running.
    Busy,
    /// A committed request answered it.
    Answered(Stored),
}

/// Claim `key` in `tx`, the transaction the request's work and answer will
/// commit in. The claim is a transaction-scoped advisory lock (so a
/// concurrent retry is told at once, not made to wait) and the key's row,
/// which becomes visible only with the work.
pub async fn claim(
    tx: &mut PgConnection,
    actor: &str,
    key: &str,
    hash: &[u8],
) -> Result<Claim, sqlx::Error> {
    let lock_name = format!("idempotency\n{actor}\n{key}");
    let free = sqlx::query_scalar!(
        r#"SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS "free!""#,
        lock_name
    )
    .fetch_one(&mut *tx)
    .await?;
    if !free {
        return Ok(Claim::Busy);
    }
    if let Some(stored) = find(&mut *tx, actor, key).await? {
        return Ok(Claim::Answered(stored));
    }
    let inserted = sqlx::query!(
        "INSERT INTO idempotency_keys (actor, key, request_hash) VALUES ($1, $2, $3) \
         ON CONFLICT (actor, key) DO NOTHING",
        actor,
        key,
        hash
    )
    .execute(&mut *tx)
    .await?;
    // A row committed between the look-up and the insert.
    Ok(if inserted.rows_affected() == 1 {
        Claim::Ours
    } else {
        Claim::Busy
    })
}

/// Store the answer in the claiming transaction, before it commits.
pub async fn save(
    tx: &mut PgConnection,
    actor: &str,
    key: &str,
    r: &Stored,
) -> Result<(), sqlx::Error> {
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
    .execute(tx)
    .await?;
    Ok(())
}

async fn find(
    tx: &mut PgConnection,
    actor: &str,
    key: &str,
) -> Result<Option<Stored>, sqlx::Error> {
    sqlx::query_as!(
        Stored,
        "SELECT request_hash, status, content_type, location, etag, body FROM idempotency_keys \
         WHERE actor = $1 AND key = $2",
        actor,
        key
    )
    .fetch_optional(tx)
    .await
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
