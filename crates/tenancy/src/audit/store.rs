//! The SQL of the audit log: chain heads and events.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{AuditEvent, Filter};

/// The head of `chain` (its last seq and hash), created at genesis if new,
/// locked: appends to one chain are serialised.
pub async fn lock_head(
    conn: &mut PgConnection,
    chain: Uuid,
    genesis: &[u8],
) -> Result<(i64, Vec<u8>), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO audit_chains (chain_id, last_seq, last_hash) VALUES ($1, 0, $2) \
         ON CONFLICT (chain_id) DO NOTHING",
        chain,
        genesis
    )
    .execute(&mut *conn)
    .await?;
    let r = sqlx::query!(
        "SELECT last_seq, last_hash FROM audit_chains WHERE chain_id = $1 FOR UPDATE",
        chain
    )
    .fetch_one(conn)
    .await?;
    Ok((r.last_seq, r.last_hash))
}

/// Append `ev` and move its chain's head to it.
pub async fn append(conn: &mut PgConnection, ev: &AuditEvent) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO audit_events (id, chain_id, seq, tenant_id, occurred_at, actor_type, actor_id, \
         action, target_type, target_id, request_id, source_ip, user_agent, changes, outcome, \
         prev_hash, hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)",
        ev.id,
        ev.chain_id,
        ev.seq,
        ev.tenant_id,
        ev.occurred_at,
        ev.actor_type,
        ev.actor_id,
        ev.action,
        ev.target_type,
        ev.target_id,
        ev.request_id,
        ev.source_ip,
        ev.user_agent,
        ev.changes,
        ev.outcome,
        ev.prev_hash,
        ev.hash
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE audit_chains SET last_seq = $2, last_hash = $3 WHERE chain_id = $1",
        ev.chain_id,
        ev.seq,
        ev.hash
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Every chain head: (chain, last seq, last hash).
pub async fn heads(conn: &mut PgConnection) -> Result<Vec<(Uuid, i64, Vec<u8>)>, sqlx::Error> {
    let rows =
        sqlx::query!("SELECT chain_id, last_seq, last_hash FROM audit_chains ORDER BY chain_id")
            .fetch_all(conn)
            .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.chain_id, r.last_seq, r.last_hash))
        .collect())
}

/// Chains that have events but no head (a removed `audit_chains` row).
pub async fn headless_chains(conn: &mut PgConnection) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT DISTINCT chain_id AS "chain_id!" FROM audit_events e
           WHERE NOT EXISTS (SELECT 1 FROM audit_chains c WHERE c.chain_id = e.chain_id)"#
    )
    .fetch_all(conn)
    .await
}

/// The events of one chain, in order.
pub async fn chain(conn: &mut PgConnection, chain: Uuid) -> Result<Vec<AuditEvent>, sqlx::Error> {
    sqlx::query_as!(
        AuditEvent,
        "SELECT id, chain_id, seq, tenant_id, occurred_at, actor_type, actor_id, action, \
         target_type, target_id, request_id, source_ip, user_agent, changes, outcome, prev_hash, \
         hash FROM audit_events WHERE chain_id = $1 ORDER BY seq",
        chain
    )
    .fetch_all(conn)
    .await
}

/// Events among `tenants` (all with `None`), newest first, after `cursor`.
pub async fn list(
    conn: &mut PgConnection,
    tenants: Option<&[Uuid]>,
    f: &Filter,
    cursor: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<AuditEvent>, sqlx::Error> {
    sqlx::query_as!(
        AuditEvent,
        "SELECT id, chain_id, seq, tenant_id, occurred_at, actor_type, actor_id, action, \
         target_type, target_id, request_id, source_ip, user_agent, changes, outcome, prev_hash, \
         hash FROM audit_events \
         WHERE (($12 AND tenant_id IS NULL) \
             OR (NOT $12 AND tenant_id IS NOT NULL \
                 AND ($1::uuid[] IS NULL OR tenant_id = ANY($1)) \
                 AND ($2::uuid IS NULL OR tenant_id = $2))) \
           AND ($3::text IS NULL OR actor_id = $3) \
           AND ($4::text IS NULL OR action = $4) \
           AND ($5::text IS NULL OR target_type = $5) \
           AND ($6::text IS NULL OR target_id = $6) \
           AND ($7::timestamptz IS NULL OR occurred_at >= $7) \
           AND ($8::timestamptz IS NULL OR occurred_at < $8) \
           AND ($9::timestamptz IS NULL OR (occurred_at, id) < ($9, $10)) \
         ORDER BY occurred_at DESC, id DESC LIMIT $11",
        tenants,
        f.tenant.map(|t| t.0),
        f.actor_id,
        f.action,
        f.target_type,
        f.target_id,
        f.from,
        f.to,
        cursor.map(|c| c.0),
        cursor.map(|c| c.1),
        limit,
        f.platform
    )
    .fetch_all(conn)
    .await
}

/// The hash of event `seq` of `chain`, if it is there.
pub async fn hash_at(
    conn: &mut PgConnection,
    chain: Uuid,
    seq: i64,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT hash FROM audit_events WHERE chain_id = $1 AND seq = $2",
        chain,
        seq
    )
    .fetch_optional(conn)
    .await
}

/// The hashes of the events `chains[i]` #`seqs[i]` that are there: one
/// query for a batch of them.
pub async fn hashes_at(
    conn: &mut PgConnection,
    chains: &[Uuid],
    seqs: &[i64],
) -> Result<Vec<(Uuid, i64, Vec<u8>)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT e.chain_id AS "chain_id!", e.seq AS "seq!", e.hash AS "hash!"
           FROM audit_events e
           JOIN unnest($1::uuid[], $2::int8[]) AS k(chain_id, seq)
             ON e.chain_id = k.chain_id AND e.seq = k.seq"#,
        chains,
        seqs
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.chain_id, r.seq, r.hash))
        .collect())
}

/// Every event that occurred in `[from, to)`, by chain and sequence.
pub async fn between(
    conn: &mut PgConnection,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<AuditEvent>, sqlx::Error> {
    sqlx::query_as!(
        AuditEvent,
        "SELECT id, chain_id, seq, tenant_id, occurred_at, actor_type, actor_id, action, \
         target_type, target_id, request_id, source_ip, user_agent, changes, outcome, prev_hash, \
         hash FROM audit_events WHERE occurred_at >= $1 AND occurred_at < $2 ORDER BY chain_id, seq",
        from,
        to
    )
    .fetch_all(conn)
    .await
}

/// When the oldest event occurred, if there is one.
pub async fn oldest(
    conn: &mut PgConnection,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, sqlx::Error> {
    sqlx::query_scalar!("SELECT min(occurred_at) FROM audit_events")
        .fetch_one(conn)
        .await
}
