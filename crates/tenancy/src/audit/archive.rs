//! The audit archive: each month of audit events older than the hot window
//! (`audit.archive_after_days`, 90) exported to where the checkpoints go
//! (the object-locked audit bucket in AWS) as gzip NDJSON, one event per
//! line with its chain, sequence and hashes, and a manifest written last
//! (the file's SHA-256 and each chain's first and last link). An archived
//! month verifies on its own, against the months before it, against the
//! events still in the table, against every signed checkpoint, and against
//! what the table recorded when it dropped the month (`super::retention`):
//! `p360 audit verify --archive`.

use std::collections::HashMap;
use std::io::{BufRead as _, Write as _};

use anyhow::{Context, Result};
use aws_lc_rs::digest::{SHA256, digest};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use futures_util::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use platform::storage::Storage;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use super::checkpoint::{Checkpoints, SignedHeads};
use super::{AuditEvent, GENESIS, chain_name, store};
use crate::credentials::dev::hex;
use crate::scope::{AllTenants, ScopedTx};

/// Where archived months are kept: `<PREFIX><yyyy-mm>.ndjson.gz` and `.json`.
pub const PREFIX: &str = "audit/archive/";

/// One archived event: every field the hash covers, and the hashes (hex).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Line {
    chain_id: Uuid,
    seq: i64,
    id: Uuid,
    tenant_id: Option<Uuid>,
    occurred_at: DateTime<Utc>,
    actor_type: String,
    actor_id: Option<String>,
    action: String,
    target_type: Option<String>,
    target_id: Option<String>,
    request_id: Option<String>,
    source_ip: Option<String>,
    user_agent: Option<String>,
    changes: serde_json::Value,
    outcome: String,
    prev_hash: String,
    hash: String,
}

/// An archived month's manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub month: String,
    pub events: usize,
    pub sha256: String,
    pub chains: Vec<Span>,
}

/// A chain's part of a month: its first event's link to the one before,
/// and its last event's hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Span {
    pub chain_id: Uuid,
    pub first_seq: i64,
    pub last_seq: i64,
    pub first_prev_hash: String,
    pub last_hash: String,
}

pub(super) fn month_start(d: NaiveDate) -> DateTime<Utc> {
    d.with_day(1)
        .expect("day 1 exists")
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
}

pub(super) fn next_month(d: NaiveDate) -> NaiveDate {
    let first = d.with_day(1).expect("day 1 exists");
    first
        .checked_add_months(chrono::Months::new(1))
        .expect("a month after")
}

/// The bytes of hex `s`; none when it is not hex (the event's hash then
/// differs from what it should be, and is reported).
fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_default()
}

/// The archive's file and manifest of the month named `name` (`yyyy-mm`).
pub(super) fn objects(name: &str) -> (ObjectPath, ObjectPath) {
    (
        ObjectPath::from(format!("{PREFIX}{name}.ndjson.gz")),
        ObjectPath::from(format!("{PREFIX}{name}.json")),
    )
}

/// Archive every month that ended more than `after_days` before `now` and
/// is not archived yet; the months archived, with their event counts.
pub async fn archive(
    pool: &PgPool,
    storage: &Storage,
    now: DateTime<Utc>,
    after_days: u32,
) -> Result<Vec<(String, usize)>> {
    let mut tx = ScopedTx::all(pool, AllTenants::system()).await?;
    let oldest = store::oldest(&mut tx).await?;
    let done = archive_since(&mut tx, storage, oldest, now, after_days).await?;
    drop(tx); // read only
    Ok(done)
}

/// As [`archive`], the oldest event (when it occurred) known: the months
/// from its month on.
pub(super) async fn archive_since(
    conn: &mut sqlx::PgConnection,
    storage: &Storage,
    oldest: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    after_days: u32,
) -> Result<Vec<(String, usize)>> {
    let cutoff = now - chrono::Duration::days(after_days.into());
    let Some(oldest) = oldest else {
        return Ok(Vec::new());
    };
    let mut done = Vec::new();
    let mut month = oldest.date_naive().with_day(1).expect("day 1 exists");
    while month_start(next_month(month)) <= cutoff {
        let name = month.format("%Y-%m").to_string();
        if storage.store.head(&objects(&name).1).await.is_err() {
            let m = archive_month(conn, storage, month).await?;
            done.push((name, m.events));
        }
        month = next_month(month);
    }
    Ok(done)
}

/// Archive the month beginning `month` as the table holds it: the file,
/// then its manifest.
pub(super) async fn archive_month(
    conn: &mut sqlx::PgConnection,
    storage: &Storage,
    month: NaiveDate,
) -> Result<Manifest> {
    let name = month.format("%Y-%m").to_string();
    let mut export = Export::default();
    let mut events = store::between(conn, month_start(month), month_start(next_month(month)));
    while let Some(e) = events.try_next().await? {
        export.push(&e)?;
    }
    drop(events);
    let (body, manifest) = export.finish(&name)?;
    let (file, manifest_path) = objects(&name);
    storage
        .store
        .put(&file, body.into())
        .await
        .with_context(|| format!("cannot store the archive of {name}"))?;
    storage
        .store
        .put(&manifest_path, serde_json::to_vec_pretty(&manifest)?.into())
        .await
        .with_context(|| format!("cannot store the manifest of {name}"))?;
    Ok(manifest)
}

/// The archive file (gzip NDJSON) of `events`, a month's, and its manifest.
pub fn export(month: &str, events: &[AuditEvent]) -> Result<(Vec<u8>, Manifest)> {
    let mut export = Export::default();
    for e in events {
        export.push(e)?;
    }
    export.finish(month)
}

/// A month's archive being written, an event at a time, in chain and
/// sequence order. The JSON goes to the compressor in blocks (it writes a
/// token at a time: a compressor call and a checksum update per token
/// cost more than the compression).
struct Export {
    gz: std::io::BufWriter<flate2::write::GzEncoder<Vec<u8>>>,
    spans: Vec<Span>,
    events: usize,
}

impl Default for Export {
    fn default() -> Self {
        Export {
            gz: std::io::BufWriter::with_capacity(
                1 << 18,
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()),
            ),
            spans: Vec::new(),
            events: 0,
        }
    }
}

impl Export {
    fn push(&mut self, e: &AuditEvent) -> Result<()> {
        let line = Line {
            chain_id: e.chain_id,
            seq: e.seq,
            id: e.id,
            tenant_id: e.tenant_id,
            occurred_at: e.occurred_at,
            actor_type: e.actor_type.clone(),
            actor_id: e.actor_id.clone(),
            action: e.action.clone(),
            target_type: e.target_type.clone(),
            target_id: e.target_id.clone(),
            request_id: e.request_id.clone(),
            source_ip: e.source_ip.clone(),
            user_agent: e.user_agent.clone(),
            changes: e.changes.clone(),
            outcome: e.outcome.clone(),
            prev_hash: hex(&e.prev_hash),
            hash: hex(&e.hash),
        };
        serde_json::to_writer(&mut self.gz, &line)?;
        self.gz.write_all(b"\n")?;
        self.events += 1;
        match self.spans.last_mut() {
            Some(s) if s.chain_id == e.chain_id => {
                s.last_seq = e.seq;
                s.last_hash = hex(&e.hash);
            }
            _ => self.spans.push(Span {
                chain_id: e.chain_id,
                first_seq: e.seq,
                last_seq: e.seq,
                first_prev_hash: hex(&e.prev_hash),
                last_hash: hex(&e.hash),
            }),
        }
        Ok(())
    }

    fn finish(self, month: &str) -> Result<(Vec<u8>, Manifest)> {
        let body = self.gz.into_inner().map_err(|e| e.into_error())?.finish()?;
        let manifest = Manifest {
            month: month.to_string(),
            events: self.events,
            sha256: hex(digest(&SHA256, &body).as_ref()),
            chains: self.spans,
        };
        Ok((body, manifest))
    }
}

impl From<Line> for AuditEvent {
    fn from(l: Line) -> AuditEvent {
        AuditEvent {
            id: l.id,
            chain_id: l.chain_id,
            seq: l.seq,
            tenant_id: l.tenant_id,
            occurred_at: l.occurred_at,
            actor_type: l.actor_type,
            actor_id: l.actor_id,
            action: l.action,
            target_type: l.target_type,
            target_id: l.target_id,
            request_id: l.request_id,
            source_ip: l.source_ip,
            user_agent: l.user_agent,
            changes: l.changes,
            outcome: l.outcome,
            prev_hash: unhex(&l.prev_hash),
            hash: unhex(&l.hash),
        }
    }
}

/// What `verify` found in the archive.
#[derive(Debug, Default)]
pub struct ArchiveReport {
    pub months: usize,
    pub events: usize,
    pub problems: Vec<String>,
}

/// Check every archived month: the file against its manifest, each event's
/// hash and link, each chain across months, and against the events still
/// in the table.
pub async fn verify(pool: &PgPool, checkpoints: &Checkpoints) -> Result<ArchiveReport> {
    let storage = checkpoints.storage();
    let (heads, problems) = checkpoints.signed_heads().await?;
    let mut names: Vec<String> = storage
        .store
        .list(Some(&ObjectPath::from(PREFIX)))
        .map_ok(|m| m.location.to_string())
        .try_collect::<Vec<_>>()
        .await?
        .into_iter()
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    let mut report = ArchiveReport {
        problems,
        ..ArchiveReport::default()
    };
    let mut tx = ScopedTx::all(pool, AllTenants::system()).await?;
    let mut walk = Walk {
        last: HashMap::new(),
        signed: heads,
        bases: store::bases(&mut tx).await?,
    };
    // Each archived month's file checksum and events.
    let mut months: HashMap<String, (String, usize)> = HashMap::new();
    for name in names {
        report.months += 1;
        let manifest: Manifest = serde_json::from_slice(
            &storage
                .store
                .get(&ObjectPath::from(name.as_str()))
                .await?
                .bytes()
                .await?,
        )
        .with_context(|| format!("{name} is not an archive manifest"))?;
        let month = manifest.month.clone();
        months.insert(month.clone(), (manifest.sha256.clone(), manifest.events));
        let body = match storage.store.get(&objects(&month).0).await {
            Ok(r) => r.bytes().await?,
            Err(_) => {
                report
                    .problems
                    .push(format!("archive {month}: its events file is gone"));
                continue;
            }
        };
        if hex(digest(&SHA256, &body).as_ref()) != manifest.sha256 {
            report.problems.push(format!(
                "archive {month}: the events file differs from its manifest (replaced or altered)"
            ));
        }
        let reader =
            std::io::BufReader::with_capacity(1 << 18, flate2::read::GzDecoder::new(&body[..]));
        let mut count = 0;
        let mut batch: Vec<AuditEvent> = Vec::with_capacity(BATCH);
        for (n, line) in reader.lines().enumerate() {
            let line = line.with_context(|| format!("archive {month}: not gzip text"))?;
            let l: Line = match serde_json::from_str(&line) {
                Ok(l) => l,
                Err(e) => {
                    report.problems.push(format!(
                        "archive {month}: line {} is not an event: {e}",
                        n + 1
                    ));
                    break;
                }
            };
            count += 1;
            batch.push(l.into());
            if batch.len() == BATCH {
                follow(&mut tx, &month, &mut batch, &mut walk, &mut report).await?;
            }
        }
        follow(&mut tx, &month, &mut batch, &mut walk, &mut report).await?;
        if count != manifest.events {
            report.problems.push(format!(
                "archive {month}: {count} events, its manifest says {}",
                manifest.events
            ));
        }
        report.events += count;
    }
    for (chain, (seq, _)) in walk.bases {
        report.problems.push(format!(
            "chain {}: the table's events follow event #{seq}, which no archived month holds",
            chain_name(chain)
        ));
    }
    for d in store::dropped_months(&mut tx).await? {
        let month = d.month.format("%Y-%m").to_string();
        match months.get(&month) {
            None => report.problems.push(format!(
                "month {month} was dropped from the table but is not in the archive"
            )),
            Some((sha256, events)) if *sha256 != d.archive_sha256 || *events as i64 != d.events => {
                report.problems.push(format!(
                    "archive {month}: not the file the table's {} event(s) were dropped against \
                     (replaced after the drop)",
                    d.events
                ))
            }
            Some(_) => {}
        }
    }
    drop(tx); // read only
    Ok(report)
}

/// Where the walk through the archive is: each chain's last archived link
/// so far; and what archived events are compared with besides the table:
/// every head a signed checkpoint names, and the link each chain's events
/// in the table follow since its older months were dropped (taken out once
/// found).
struct Walk {
    last: HashMap<Uuid, (i64, Vec<u8>)>,
    signed: SignedHeads,
    bases: HashMap<Uuid, (i64, Vec<u8>)>,
}

/// Archived events checked at once against the table (one query).
const BATCH: usize = 10_000;

/// Check `batch` (the next events of month `month`'s archive, in order,
/// taken out of it): each follows the chain's last archived link in
/// `walk`, hashes to what it says, is the table's event where the table
/// still has it, is the event a signed checkpoint saw where one did (what
/// still catches a month rewritten and rehashed once the table no longer
/// holds it), and is the link the table's events follow where it is one.
async fn follow(
    conn: &mut sqlx::PgConnection,
    month: &str,
    batch: &mut Vec<AuditEvent>,
    walk: &mut Walk,
    report: &mut ArchiveReport,
) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let chains: Vec<Uuid> = batch.iter().map(|e| e.chain_id).collect();
    let seqs: Vec<i64> = batch.iter().map(|e| e.seq).collect();
    let stored: HashMap<(Uuid, i64), Vec<u8>> = store::hashes_at(conn, &chains, &seqs)
        .await?
        .into_iter()
        .map(|(chain, seq, hash)| ((chain, seq), hash))
        .collect();
    for event in batch.drain(..) {
        let chain = chain_name(event.chain_id);
        let (expected_seq, expected_prev) = match walk.last.get(&event.chain_id) {
            Some((seq, hash)) => (seq + 1, hash.clone()),
            None if event.seq == 1 => (1, GENESIS.to_vec()),
            // The chain's earlier events were never archived here.
            None => (event.seq, event.prev_hash.clone()),
        };
        if event.seq != expected_seq || event.prev_hash != expected_prev {
            report.problems.push(format!(
                "archive {month}: chain {chain} event #{} does not follow #{} (missing or reordered)",
                event.seq,
                expected_seq - 1
            ));
        }
        if event.compute_hash() != event.hash {
            report.problems.push(format!(
                "archive {month}: chain {chain} event #{} was altered (its hash does not match its content)",
                event.seq
            ));
        }
        if stored
            .get(&(event.chain_id, event.seq))
            .is_some_and(|h| *h != event.hash)
        {
            report.problems.push(format!(
                "archive {month}: chain {chain} event #{} differs from the database's",
                event.seq
            ));
        }
        if let Some((hash, taken_at)) = walk.signed.get(&(event.chain_id, event.seq))
            && *hash != hex(&event.hash)
        {
            report.problems.push(format!(
                "archive {month}: chain {chain} event #{} differs from the signed checkpoint of {} (history rewritten)",
                event.seq,
                taken_at.to_rfc3339()
            ));
        }
        if let Some((seq, hash)) = walk.bases.get(&event.chain_id)
            && *seq == event.seq
        {
            if *hash != event.hash {
                report.problems.push(format!(
                    "archive {month}: chain {chain} event #{} is not the one the table's events \
                     follow (history rewritten)",
                    event.seq
                ));
            }
            walk.bases.remove(&event.chain_id);
        }
        walk.last.insert(event.chain_id, (event.seq, event.hash));
    }
    Ok(())
}
