//! Domain events: the transactional outbox, and the relay that delivers it.
//!
//! A capability announces a change with [`emit`] in the change's own
//! transaction, so a committed change always has its event and a rolled-back
//! one never does. Other capabilities subscribe with a [`Consumer`]
//! registered at start-up; they never read the emitter's tables.
//!
//! Delivery: `emit` also queues the [`RelayEvents`] job (deduplicated while
//! one waits). The relay reads `domain_events` for each consumer after its
//! stored cursor, in commit-safe order, and runs the consumer's handler for
//! each event in one transaction with the cursor's advance: a consumer sees
//! every event once, in order (at least once per event is never needed).
//!
//! Order and gaps: events are ordered by the id of the transaction that wrote
//! them (`tx_id`, `pg_current_xact_id()`), then `seq`. The relay only reads
//! events of transactions older than every transaction still running
//! (`pg_snapshot_xmin`), so an event committed late by a slow transaction can
//! never fall behind a cursor that already moved past it. When such events
//! wait, the relay looks again shortly (`RETRY_HIDDEN`). It also looks again
//! whenever a transaction older than its own is still running: that one may
//! have written an event not yet visible, and its relay job may be the one
//! running now (deduplication folds a new relay job into a queued one, which
//! can start before the later writer commits).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use platform::jobs::{Job, JobContext};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::scope::{AllTenants, ScopedTx, TenantId, TenantTx};

/// Events read per relay transaction.
const BATCH: i64 = 200;
/// How soon the relay looks again when committed events wait behind a
/// transaction that is still running.
const RETRY_HIDDEN: Duration = Duration::from_millis(100);

/// An event as stored and delivered.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: Uuid,
    pub seq: i64,
    pub tenant: TenantId,
    /// `noun.verb`, e.g. `campaign.approved`.
    pub event_type: String,
    pub aggregate_type: String,
    pub aggregate_id: Uuid,
    pub payload: Value,
    pub occurred_at: DateTime<Utc>,
}

/// Append `event_type` (e.g. `campaign.approved`) about an aggregate of the
/// transaction's tenant, and make sure a relay runs after the commit.
pub async fn emit(
    tx: &mut TenantTx,
    event_type: &str,
    aggregate_type: &str,
    aggregate_id: Uuid,
    payload: Value,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    let tenant = tx.tenant();
    sqlx::query!(
        "INSERT INTO domain_events (id, tenant_id, event_type, aggregate_type, aggregate_id, payload) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        id,
        tenant as TenantId,
        event_type,
        aggregate_type,
        aggregate_id,
        payload
    )
    .execute(tx.conn())
    .await?;
    platform::jobs::enqueue(tx.conn(), &RelayEvents, None).await?;
    Ok(id)
}

type HandlerFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>>;

/// What a consumer does with one event, in the relay's transaction (scoped to
/// the event's tenant).
pub type Handler =
    Arc<dyn for<'a> Fn(&'a mut TenantTx, &'a StoredEvent) -> HandlerFuture<'a> + Send + Sync>;

/// A subscriber: its name (its cursor's key), the event types it wants (a
/// type, or a prefix ending in `.`), and its handler.
#[derive(Clone)]
pub struct Consumer {
    pub name: &'static str,
    pub types: &'static [&'static str],
    pub handler: Handler,
}

impl Consumer {
    fn wants(&self, event_type: &str) -> bool {
        self.types
            .iter()
            .any(|t| *t == event_type || (t.ends_with('.') && event_type.starts_with(t)))
    }
}

/// Every consumer, registered at start-up.
#[derive(Clone, Default)]
pub struct Consumers(Arc<Vec<Consumer>>);

impl Consumers {
    pub fn with(mut self, consumer: Consumer) -> Consumers {
        Arc::make_mut(&mut self.0).push(consumer);
        self
    }
}

/// Deliver committed events to every consumer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RelayEvents;

impl Job for RelayEvents {
    const KIND: &'static str = "events.relay";
    const QUEUE: &'static str = "events";
    const MAX_ATTEMPTS: i64 = 50;
    type Context = Consumers;

    fn dedup_key(&self) -> Option<String> {
        Some("relay".into())
    }

    /// Short: a relay that failed (a consumer's error) holds up that
    /// consumer's later events, so it is tried again soon.
    fn backoff(attempt: i64) -> Duration {
        Duration::from_millis((200u64 << attempt.clamp(0, 8)).min(30_000))
    }

    async fn run(self, ctx: JobContext<Consumers>) -> anyhow::Result<()> {
        let mut hidden = false;
        for consumer in ctx.services.0.iter() {
            loop {
                let batch = relay(&ctx.pool, consumer).await?;
                hidden |= batch.hidden;
                if batch.delivered < BATCH {
                    break;
                }
            }
        }
        if hidden {
            let mut tx = ctx.pool.begin().await?;
            let at = Utc::now() + RETRY_HIDDEN;
            platform::jobs::enqueue(&mut tx, &RelayEvents, Some(at)).await?;
            tx.commit().await?;
        }
        Ok(())
    }
}

struct Batch {
    /// Events read (delivered or not wanted).
    delivered: i64,
    /// Committed events exist that a running transaction still hides.
    hidden: bool,
}

/// One transaction: lock the consumer's cursor, read the next events, hand
/// each wanted one to the handler, move the cursor.
async fn relay(pool: &PgPool, consumer: &Consumer) -> anyhow::Result<Batch> {
    let mut tx = ScopedTx::all(pool, AllTenants::system()).await?;
    sqlx::query!(
        "INSERT INTO event_consumers (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
        consumer.name
    )
    .execute(tx.conn())
    .await?;
    let cursor = sqlx::query!(
        r#"SELECT last_tx::text AS "last_tx!", last_seq FROM event_consumers
           WHERE name = $1 FOR UPDATE"#,
        consumer.name
    )
    .fetch_one(tx.conn())
    .await?;
    // A transaction older than this one still running may have written an
    // event we cannot see yet, whose relay job was folded into the one
    // running now (it was queued when that transaction enqueued): look again.
    let older_running = sqlx::query_scalar!(
        r#"SELECT pg_snapshot_xmin(pg_current_snapshot()) < pg_current_xact_id() AS "older!""#
    )
    .fetch_one(tx.conn())
    .await?;
    let rows = sqlx::query!(
        r#"SELECT id, seq, tx_id::text AS "tx_id!", tenant_id AS "tenant_id: TenantId",
                  event_type, aggregate_type, aggregate_id, payload, occurred_at,
                  tx_id < pg_snapshot_xmin(pg_current_snapshot()) AS "settled!"
           FROM domain_events
           WHERE tx_id IS NOT NULL AND (tx_id, seq) > ($1::text::xid8, $2)
           ORDER BY tx_id, seq LIMIT $3"#,
        cursor.last_tx,
        cursor.last_seq,
        BATCH
    )
    .fetch_all(tx.conn())
    .await?;
    let settled = rows.iter().take_while(|r| r.settled).count();
    let hidden = older_running || settled < rows.len();
    let Some(last) = rows[..settled].last() else {
        return Ok(Batch {
            delivered: 0,
            hidden,
        });
    };
    let (last_tx, last_seq) = (last.tx_id.clone(), last.seq);
    let mut tx = tx.into_tenant(rows[0].tenant_id).await?;
    for r in rows.into_iter().take(settled) {
        if !consumer.wants(&r.event_type) {
            continue;
        }
        let event = StoredEvent {
            id: r.id,
            seq: r.seq,
            tenant: r.tenant_id,
            event_type: r.event_type,
            aggregate_type: r.aggregate_type,
            aggregate_id: r.aggregate_id,
            payload: r.payload,
            occurred_at: r.occurred_at,
        };
        tx.rescope(event.tenant).await?;
        (consumer.handler)(&mut tx, &event).await.map_err(|e| {
            e.context(format!(
                "consumer {} failed on event {} ({} #{})",
                consumer.name, event.id, event.event_type, event.seq
            ))
        })?;
    }
    sqlx::query!(
        "UPDATE event_consumers SET last_tx = $2::text::xid8, last_seq = $3, updated_at = now() \
         WHERE name = $1",
        consumer.name,
        last_tx,
        last_seq
    )
    .execute(tx.conn())
    .await?;
    tx.commit().await?;
    Ok(Batch {
        delivered: settled as i64,
        hidden,
    })
}

/// Export `p360_events_behind{consumer}` (committed events a consumer has
/// not handled yet) on this process's `/metrics`: a consumer stuck on an
/// event it keeps failing shows there.
pub fn export_gauges() {
    platform::http::ops::on_scrape("events", |pool| {
        Box::pin(async move {
            for (consumer, behind) in lag(pool).await? {
                metrics::gauge!("p360_events_behind", "consumer" => consumer).set(behind as f64);
            }
            Ok(())
        })
    });
}

/// Where each consumer stands: (name, events behind). For `/metrics` and tests.
pub async fn lag(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let mut tx = ScopedTx::all(pool, AllTenants::system()).await?;
    let rows = sqlx::query!(
        r#"SELECT c.name, (SELECT count(*) FROM domain_events e
                           WHERE e.tx_id IS NOT NULL AND (e.tx_id, e.seq) > (c.last_tx, c.last_seq))
                          AS "behind!"
           FROM event_consumers c ORDER BY c.name"#
    )
    .fetch_all(tx.conn())
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(|r| (r.name, r.behind)).collect())
}
