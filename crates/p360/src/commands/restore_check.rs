//! `p360 restore-check`: is a restored database whole? Run against the
//! restore (its `database.url`, or an embedded data dir) before anything
//! is pointed at it, and monthly against a scratch restore of the latest
//! backup. It checks that the schema is at this binary's migrations (none
//! pending, none unknown), that every audit chain verifies end to end, and
//! that a sample of the newest creatives' files are in the object store;
//! it prints the row counts of the core tables and one machine line:
//! `restore_check ok=… migration=… chains=… events=… creatives_checked=…
//! creatives_missing=…`. Exits 1 naming every problem found. With
//! `--record` the result is kept in the object store for the restore-test
//! metrics (`platform::restore_check`).

use anyhow::Result;
use clap::Args;
use p360::Config;
use platform::cli::{Outcome, with_database};
use platform::shutdown::Shutdown;
use tenancy::scope::{AllTenants, ScopedTx};

#[derive(Args, Debug)]
pub struct RestoreCheckArgs {
    /// How many of the newest creatives to look for in the object store.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(0..=100_000))]
    pub creatives: i64,
    /// Keep the result in the object store (`restore-checks/<time>.json`),
    /// passed or not, for the restore-test metrics and alerts.
    #[arg(long)]
    pub record: bool,
}

pub async fn run(config: Config, args: RestoreCheckArgs, shutdown: Shutdown) -> Result<Outcome> {
    let storage = platform::storage::Storage::from_config(&config.platform)?;
    let problems = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let found = problems.clone();
    let outcome = with_database(&config.platform, &shutdown, |db| async move {
        let mut problems = Vec::new();
        let status = platform::db::migration_status(&db.owner).await?;
        let pending = status.iter().filter(|m| m.applied_at.is_none()).count();
        let unknown: Vec<i64> = status.iter().filter(|m| m.unknown).map(|m| m.version).collect();
        let migration = status
            .iter()
            .filter(|m| m.applied_at.is_some())
            .map(|m| m.version)
            .max()
            .unwrap_or(0);
        if pending > 0 {
            problems.push(format!("{pending} migration(s) of this binary are not applied"));
        }
        if !unknown.is_empty() {
            problems.push(format!("migrations this binary does not know: {unknown:?}"));
        }
        let audit = tenancy::audit::verify(&db.owner).await?;
        problems.extend(audit.broken.iter().map(|b| format!("audit: {b}")));
        let mut all = ScopedTx::all(&db.owner, AllTenants::system()).await?;
        let counts = platform::backup::core_row_counts(all.conn()).await?;
        let files = campaigns::read::creative_files(&mut all, args.creatives).await?;
        all.commit().await?;
        for (table, n) in &counts {
            println!("{table:<18} {n:>12}");
        }
        let mut missing = 0;
        for (id, key) in &files {
            let present = match key {
                Some(k) => storage.exists(k).await?,
                None => false,
            };
            if !present {
                missing += 1;
                problems.push(format!(
                    "creative {id}: its file {} is not in {}",
                    key.as_deref().unwrap_or("(none named)"),
                    storage.describe
                ));
            }
        }
        let result = platform::restore_check::RestoreCheckResult {
            at: chrono::Utc::now(),
            ok: problems.is_empty(),
            migration,
            chains: audit.chains,
            events: audit.events,
            creatives_checked: files.len(),
            creatives_missing: missing,
            problems: problems.clone(),
        };
        println!(
            "restore_check ok={} migration={migration} chains={} events={} creatives_checked={} creatives_missing={missing}",
            result.ok, result.chains, result.events, result.creatives_checked
        );
        if args.record {
            let key = platform::restore_check::record(&storage, &result).await?;
            println!("recorded as {key} in {}", storage.describe);
        }
        *found.lock().unwrap() = problems;
        Ok(())
    })
    .await?;
    let problems = problems.lock().unwrap().clone();
    if !problems.is_empty() {
        anyhow::bail!("the restore is not whole: {}", problems.join("; "));
    }
    Ok(outcome)
}
