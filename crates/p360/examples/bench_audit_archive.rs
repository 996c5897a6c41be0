//! The audit archive job on a big month (docs/benchmarks.md, run by
//! `scripts/bench-audit-archive`).
//!
//! `bench_audit_archive load URL EVENTS CHAINS` writes EVENTS audit events,
//! hash-chained as the application chains them, over CHAINS chains, all in
//! the month five months back (URL: a migrated database; the events go in
//! as its owner, in batches, not through the API). It prints the month's
//! first day.
//!
//! `bench_audit_archive run URL DATA_DIR` is the daily `audit.archive` job's
//! pass as the worker runs it (the application's role, the hot window of
//! 90 days, archived months dropped) with the archive in DATA_DIR's object
//! store; the result is the line starting `archived=`.

use std::time::Instant;

use anyhow::{Context, bail};
use chrono::{Datelike as _, Months, Utc};
use tenancy::audit::AuditEvent;
use uuid::Uuid;

const BATCH: usize = 20_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("load") if args.len() == 5 => load(&args[2], args[3].parse()?, args[4].parse()?).await,
        Some("run") if args.len() == 4 => run(&args[2], &args[3]).await,
        _ => bail!(
            "usage: bench_audit_archive load URL EVENTS CHAINS | bench_audit_archive run URL DATA_DIR"
        ),
    }
}

async fn load(url: &str, events: usize, chains: usize) -> anyhow::Result<()> {
    let owner = sqlx::PgPool::connect(url).await?;
    let month = (Utc::now().date_naive().with_day(1).expect("day 1") - Months::new(5))
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    sqlx::query_scalar!("SELECT audit_month_partitions($1)", month.date_naive())
        .fetch_one(&owner)
        .await?;
    let started = Instant::now();
    let per_chain = events.div_ceil(chains);
    // 28 days of the month, evenly.
    let step_us = 28 * 86_400 * 1_000_000 / per_chain as i64;
    let mut batch: Vec<AuditEvent> = Vec::with_capacity(BATCH);
    let mut written = 0;
    let mut heads = Vec::new();
    for _ in 0..chains {
        let n = per_chain.min(events - written) as i64;
        if n == 0 {
            break;
        }
        let chain = Uuid::now_v7();
        let mut prev = vec![0u8; 32];
        for seq in 1..=n {
            let mut e = AuditEvent {
                id: Uuid::now_v7(),
                chain_id: chain,
                seq,
                tenant_id: None,
                occurred_at: month + chrono::Duration::microseconds(seq * step_us),
                actor_type: "user".into(),
                actor_id: Some(format!("user-{}", seq % 97)),
                action: "campaign.updated".into(),
                target_type: Some("campaign".into()),
                target_id: Some(Uuid::from_u128(seq as u128 % 5000).to_string()),
                request_id: Some(format!("req-{seq:012}")),
                source_ip: Some("203.0.113.7".into()),
                user_agent: Some("Mozilla/5.0 (X11; Linux x86_64)".into()),
                changes: serde_json::json!({"before": {"budget_micros": seq * 1000},
                                            "after": {"budget_micros": seq * 1000 + 500}}),
                outcome: "success".into(),
                prev_hash: prev,
                hash: Vec::new(),
            };
            e.hash = e.compute_hash();
            prev = e.hash.clone();
            batch.push(e);
            written += 1;
            if batch.len() == BATCH {
                insert(&owner, &mut batch).await?;
            }
        }
        heads.push((chain, n, prev));
    }
    insert(&owner, &mut batch).await?;
    let (ids, seqs, hashes) = unzip3(heads);
    sqlx::query!(
        "INSERT INTO audit_chains (chain_id, last_seq, last_hash) \
         SELECT * FROM UNNEST($1::uuid[], $2::int8[], $3::bytea[])",
        &ids,
        &seqs,
        &hashes
    )
    .execute(&owner)
    .await?;
    eprintln!(
        "loaded {written} events over {chains} chains in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!("{}", month.date_naive());
    Ok(())
}

fn unzip3(heads: Vec<(Uuid, i64, Vec<u8>)>) -> (Vec<Uuid>, Vec<i64>, Vec<Vec<u8>>) {
    let mut out = (Vec::new(), Vec::new(), Vec::new());
    for (a, b, c) in heads {
        out.0.push(a);
        out.1.push(b);
        out.2.push(c);
    }
    out
}

/// Insert `batch` (taken out of it) in one statement, every tenant visible.
async fn insert(pool: &sqlx::PgPool, batch: &mut Vec<AuditEvent>) -> anyhow::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let events = std::mem::take(batch);
    let col = |f: fn(&AuditEvent) -> Option<String>| events.iter().map(f).collect::<Vec<_>>();
    sqlx::query!(
        "INSERT INTO audit_events (id, chain_id, seq, tenant_id, occurred_at, actor_type, \
         actor_id, action, target_type, target_id, request_id, source_ip, user_agent, changes, \
         outcome, prev_hash, hash) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::int8[], $4::uuid[], $5::timestamptz[], \
         $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], \
         $13::text[], $14::jsonb[], $15::text[], $16::bytea[], $17::bytea[])",
        &events.iter().map(|e| e.id).collect::<Vec<_>>(),
        &events.iter().map(|e| e.chain_id).collect::<Vec<_>>(),
        &events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        &events.iter().map(|e| e.tenant_id).collect::<Vec<_>>() as &[Option<Uuid>],
        &events.iter().map(|e| e.occurred_at).collect::<Vec<_>>(),
        &events
            .iter()
            .map(|e| e.actor_type.clone())
            .collect::<Vec<_>>(),
        &col(|e| e.actor_id.clone()) as &[Option<String>],
        &events.iter().map(|e| e.action.clone()).collect::<Vec<_>>(),
        &col(|e| e.target_type.clone()) as &[Option<String>],
        &col(|e| e.target_id.clone()) as &[Option<String>],
        &col(|e| e.request_id.clone()) as &[Option<String>],
        &col(|e| e.source_ip.clone()) as &[Option<String>],
        &col(|e| e.user_agent.clone()) as &[Option<String>],
        &events.iter().map(|e| e.changes.clone()).collect::<Vec<_>>(),
        &events.iter().map(|e| e.outcome.clone()).collect::<Vec<_>>(),
        &events
            .iter()
            .map(|e| e.prev_hash.clone())
            .collect::<Vec<_>>(),
        &events.iter().map(|e| e.hash.clone()).collect::<Vec<_>>(),
    )
    .execute(pool)
    .await
    .context("cannot insert the events")?;
    Ok(())
}

async fn run(url: &str, data_dir: &str) -> anyhow::Result<()> {
    let mut config = p360::Config::default();
    config.platform.data_dir = data_dir.into();
    let app = platform::db::connect_app(url, &config.platform.database)?;
    let checkpoints =
        tenancy::audit::checkpoint::Checkpoints::from_config(&config.audit, &config.platform)?;
    let started = Instant::now();
    let pass = tenancy::audit::retention::run(
        &app,
        checkpoints.storage(),
        Utc::now(),
        config.audit.archive_after_days,
        config.audit.drop_archived_months,
    )
    .await?;
    let secs = started.elapsed().as_secs_f64();
    let archived: usize = pass.archived.iter().map(|(_, n)| n).sum();
    let dropped: i64 = pass.dropped.iter().map(|(_, n)| n).sum();
    println!(
        "archived={archived} dropped={dropped} months_archived={} months_dropped={} seconds={secs:.2} \
         events_per_s={:.0}",
        pass.archived.len(),
        pass.dropped.len(),
        archived as f64 / secs
    );
    Ok(())
}
