//! The audit log: every mutating action and system event, written in the same
//! transaction as the change, append-only and hash-chained per tenant.
//!
//! Chain: events of one tenant (or of the platform, under the nil uuid) are
//! numbered 1, 2, 3...; each stores the previous event's hash and
//! `SHA-256(previous hash || canonical form)`. The chain head (`audit_chains`)
//! is locked while appending, which serialises writers of one tenant only.

use aws_lc_rs::digest::{SHA256, digest};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

pub use crate::principal::RequestMeta;
use crate::principal::{Actor, Principal};
use crate::scope::{AllTenants, ScopedTx, TenantId, TenantTx};

pub mod api;
pub mod archive;
pub mod checkpoint;
pub mod retention;
pub mod store;

const GENESIS: [u8; 32] = [0; 32];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
    Denied,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
}

/// An event to append.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub tenant: Option<TenantId>,
    /// `noun.verb`, e.g. `api_key.created`.
    pub action: &'static str,
    pub target_type: &'static str,
    pub target_id: Option<String>,
    /// The change: `{"before": ..., "after": ...}` or a diff.
    pub changes: Value,
    pub outcome: Outcome,
}

/// A stored event, as listed by the API.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEvent {
    pub id: Uuid,
    #[serde(skip)]
    pub chain_id: Uuid,
    pub seq: i64,
    pub tenant_id: Option<Uuid>,
    pub occurred_at: DateTime<Utc>,
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub request_id: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    #[schema(value_type = Object)]
    pub changes: Value,
    pub outcome: String,
    #[serde(skip)]
    pub prev_hash: Vec<u8>,
    #[serde(skip)]
    pub hash: Vec<u8>,
}

impl AuditEvent {
    /// The bytes the hash covers: every field but the hashes, in a fixed order.
    /// `changes` is serialised with sorted keys (serde_json's default map), which
    /// is also what reading it back from jsonb yields.
    fn canonical(&self) -> Vec<u8> {
        let fields = serde_json::json!([
            self.chain_id,
            self.seq,
            self.id,
            self.tenant_id,
            self.occurred_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            self.actor_type,
            self.actor_id,
            self.action,
            self.target_type,
            self.target_id,
            self.request_id,
            self.source_ip,
            self.user_agent,
            self.changes,
            self.outcome,
        ]);
        serde_json::to_vec(&fields).expect("JSON values serialise")
    }

    /// The hash its content and its link to the event before give.
    pub fn compute_hash(&self) -> Vec<u8> {
        let mut input = self.prev_hash.clone();
        input.extend(self.canonical());
        digest(&SHA256, &input).as_ref().to_vec()
    }
}

/// Audit a successful change to an object of the transaction's tenant, made
/// by `by`, in the change's transaction.
pub async fn record_change(
    tx: &mut TenantTx,
    by: &Principal,
    action: &'static str,
    target_type: &'static str,
    target_id: impl ToString,
    changes: Value,
) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant();
    record(
        tx,
        &by.actor,
        &by.meta,
        NewEvent {
            tenant: Some(tenant),
            action,
            target_type,
            target_id: Some(target_id.to_string()),
            changes,
            outcome: Outcome::Success,
        },
    )
    .await?;
    Ok(())
}

/// Append an event inside `tx` (the transaction of the change it records):
/// a tenant's chain, or the platform's with `event.tenant` unset.
pub async fn record(
    tx: &mut PgConnection,
    actor: &Actor,
    meta: &RequestMeta,
    event: NewEvent,
) -> Result<Uuid, sqlx::Error> {
    let chain_id = event.tenant.map(|t| t.0).unwrap_or(Uuid::nil());
    let (last_seq, last_hash) = store::lock_head(tx, chain_id, &GENESIS).await?;
    let now = Utc::now();
    let (actor_type, actor_id) = actor.audit_parts();
    let mut ev = AuditEvent {
        id: Uuid::now_v7(),
        chain_id,
        seq: last_seq + 1,
        tenant_id: event.tenant.map(|t| t.0),
        // Stored with microsecond precision; hash what will be read back.
        occurred_at: DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now),
        actor_type: actor_type.to_string(),
        actor_id,
        action: event.action.to_string(),
        target_type: Some(event.target_type.to_string()),
        target_id: event.target_id,
        request_id: meta.request_id.clone(),
        source_ip: meta.source_ip.clone(),
        user_agent: meta.user_agent.clone(),
        // Round-trip through jsonb's normal form (e.g. numbers) before hashing.
        changes: serde_json::from_slice(&serde_json::to_vec(&event.changes).unwrap_or_default())
            .unwrap_or(Value::Null),
        outcome: event.outcome.as_str().to_string(),
        prev_hash: last_hash,
        hash: Vec::new(),
    };
    ev.hash = ev.compute_hash();
    store::append(tx, &ev).await?;
    Ok(ev.id)
}

/// The result of checking every chain.
#[derive(Debug, Default)]
pub struct VerifyReport {
    pub chains: usize,
    pub events: usize,
    /// The first broken link of each broken chain.
    pub broken: Vec<String>,
    /// Months archived and dropped from the table: the chains' events
    /// there are checked in the archive (`archive::verify`).
    pub dropped_months: usize,
}

/// Recompute every chain; report the first broken link of each.
pub async fn verify(pool: &PgPool) -> Result<VerifyReport, sqlx::Error> {
    let mut tx = ScopedTx::all(pool, AllTenants::system()).await?;
    let heads = store::heads(&mut tx).await?;
    let mut chain_ids: Vec<Uuid> = heads.iter().map(|h| h.0).collect();
    let orphans = store::headless_chains(&mut tx).await?;
    chain_ids.extend(&orphans);
    let bases = store::bases(&mut tx).await?;
    let mut report = VerifyReport {
        dropped_months: store::dropped_months(&mut tx).await?.len(),
        ..VerifyReport::default()
    };
    for chain in chain_ids {
        report.chains += 1;
        let events = store::chain(&mut tx, chain).await?;
        report.events += events.len();
        let head = heads.iter().find(|h| h.0 == chain);
        let base = bases.get(&chain).map(|(seq, hash)| (*seq, hash.as_slice()));
        if let Some(problem) =
            check_chain(chain, &events, base, head.map(|h| (h.1, h.2.as_slice())))
        {
            report.broken.push(problem);
        }
    }
    tx.commit().await?;
    Ok(report)
}

/// How reports name `chain`: the platform's, or a tenant's.
fn chain_name(chain: Uuid) -> String {
    if chain.is_nil() {
        "platform".to_string()
    } else {
        format!("tenant {chain}")
    }
}

/// Check `chain`'s `events` in the table: they follow `base` (the last
/// event of its dropped months, if any; the genesis otherwise) and end at
/// `head`.
fn check_chain(
    chain: Uuid,
    events: &[AuditEvent],
    base: Option<(i64, &[u8])>,
    head: Option<(i64, &[u8])>,
) -> Option<String> {
    let name = chain_name(chain);
    let (base_seq, mut prev) = match base {
        Some((seq, hash)) => (seq, hash.to_vec()),
        None => (0, GENESIS.to_vec()),
    };
    for (i, ev) in events.iter().enumerate() {
        let expected_seq = base_seq + i as i64 + 1;
        if ev.seq != expected_seq {
            return Some(format!(
                "chain {name}: event #{expected_seq} is missing (found #{} {} next)",
                ev.seq, ev.id
            ));
        }
        if ev.prev_hash != prev {
            return Some(format!(
                "chain {name}: event #{} {} does not follow #{} (previous hash differs: removed or reordered)",
                ev.seq,
                ev.id,
                ev.seq - 1
            ));
        }
        if ev.compute_hash() != ev.hash {
            return Some(format!(
                "chain {name}: event #{} {} was altered (its hash does not match its content)",
                ev.seq, ev.id
            ));
        }
        prev = ev.hash.clone();
    }
    let last_seq = events.last().map(|e| e.seq).unwrap_or(base_seq);
    match head {
        None => Some(format!(
            "chain {name}: no chain head (audit_chains row removed)"
        )),
        Some((seq, _)) if seq != last_seq => Some(format!(
            "chain {name}: head says #{seq} but the last event is #{last_seq} (events removed from the end)"
        )),
        Some((_, hash)) if hash != prev.as_slice() => Some(format!(
            "chain {name}: head hash differs from the last event's (altered or replaced)"
        )),
        Some(_) => None,
    }
}

/// Filters of `GET /v1/audit-events`.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub actor_id: Option<String>,
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Only events of this tenant (within the visibility).
    pub tenant: Option<TenantId>,
    /// The platform's own chain (no tenant: deployments, job retries)
    /// instead of the tenants' events.
    pub platform: bool,
}

/// Events the transaction sees, newest first, after `cursor` (occurred_at, id).
pub async fn list(
    tx: &mut ScopedTx,
    filter: &Filter,
    cursor: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<AuditEvent>, sqlx::Error> {
    let tenant_ids = tx.visibility().ids();
    let rows = store::list(tx.conn(), tenant_ids.as_deref(), filter, cursor, limit).await?;
    Ok(rows)
}
