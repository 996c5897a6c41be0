//! The SQL of the audit log: chain heads and events.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
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

/// Every event that occurred in `[from, to)`, by chain and sequence, as
/// read (a month may not fit in memory).
pub fn between(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> impl futures_util::Stream<Item = Result<AuditEvent, sqlx::Error>> + '_ {
    sqlx::query_as!(
        AuditEvent,
        "SELECT id, chain_id, seq, tenant_id, occurred_at, actor_type, actor_id, action, \
         target_type, target_id, request_id, source_ip, user_agent, changes, outcome, prev_hash, \
         hash FROM audit_events WHERE occurred_at >= $1 AND occurred_at < $2 ORDER BY chain_id, seq",
        from,
        to
    )
    .fetch(conn)
}

/// The chain, sequence and hash of every event in `[from, to)`, in the
/// order of [`between`], as read.
pub fn links_between(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> impl futures_util::Stream<Item = Result<(Uuid, i64, Vec<u8>), sqlx::Error>> + '_ {
    use futures_util::TryStreamExt as _;
    sqlx::query!(
        "SELECT chain_id, seq, hash FROM audit_events \
         WHERE occurred_at >= $1 AND occurred_at < $2 ORDER BY chain_id, seq",
        from,
        to
    )
    .fetch(conn)
    .map_ok(|r| (r.chain_id, r.seq, r.hash))
}

/// When the oldest event occurred, if there is one.
pub async fn oldest(conn: &mut PgConnection) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar!("SELECT min(occurred_at) FROM audit_events")
        .fetch_one(conn)
        .await
}

/// The link each chain's events in the table follow once its older
/// months were dropped: by chain, the seq and hash of its last dropped
/// event.
pub async fn bases(conn: &mut PgConnection) -> Result<HashMap<Uuid, (i64, Vec<u8>)>, sqlx::Error> {
    let rows = sqlx::query!("SELECT chain_id, seq, hash FROM audit_chain_bases ORDER BY chain_id")
        .fetch_all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.chain_id, (r.seq, r.hash)))
        .collect())
}

/// A month dropped from the table: its first day, its events, and the
/// SHA-256 (hex) of the archive file it was dropped against.
pub struct Dropped {
    pub month: NaiveDate,
    pub events: i64,
    pub archive_sha256: String,
}

/// Every month dropped from the table, oldest first.
pub async fn dropped_months(conn: &mut PgConnection) -> Result<Vec<Dropped>, sqlx::Error> {
    sqlx::query_as!(
        Dropped,
        "SELECT month, events, archive_sha256 FROM audit_dropped_months ORDER BY month"
    )
    .fetch_all(conn)
    .await
}

/// The months the table has a partition for, oldest first (the default
/// partition, which takes the rows of a month without one, is not listed).
pub async fn partitions(conn: &mut PgConnection) -> Result<Vec<NaiveDate>, sqlx::Error> {
    let names = sqlx::query_scalar!(
        r#"SELECT c.relname::text AS "name!" FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'audit_events'::regclass ORDER BY 1"#
    )
    .fetch_all(conn)
    .await?;
    Ok(names
        .iter()
        .filter_map(|n| {
            let month = n.strip_prefix("audit_events_")?;
            NaiveDate::parse_from_str(&format!("{month}_01"), "%Y_%m_%d").ok()
        })
        .collect())
}

/// Make the partition of the month of `day` if it has none (moving any of
/// its rows out of the default partition); nothing for a dropped month.
pub async fn ensure_partition(conn: &mut PgConnection, day: NaiveDate) -> Result<(), sqlx::Error> {
    sqlx::query!("SELECT audit_month_partitions($1)", day)
        .execute(conn)
        .await?;
    Ok(())
}

/// Drop the partition of `month` (its first day), archived as a file of
/// `events` events with SHA-256 `sha256`; the database refuses unless it
/// is the oldest month in the table, ended at least 30 days ago, and holds
/// exactly `events`. The events dropped.
pub async fn drop_month(
    conn: &mut PgConnection,
    month: NaiveDate,
    sha256: &str,
    events: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT audit_drop_month($1, $2, $3) AS "dropped!""#,
        month,
        sha256,
        events
    )
    .fetch_one(conn)
    .await
}
