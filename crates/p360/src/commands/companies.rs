//! `p360 companies import FILE`: load the company universe from a CSV file
//! (an upsert: prints what it added, changed and left unchanged, and each
//! line it skipped with its number and reason).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use p360::Config;
use platform::cli::{Outcome, with_database};
use platform::shutdown::Shutdown;
use tenancy::scope::{AllTenants, ScopedTx};

#[derive(Subcommand, Debug)]
pub enum CompaniesCommand {
    /// Import companies from a CSV file (columns by header: domain, name,
    /// and optionally size, industry, country, aliases).
    Import {
        /// The CSV file.
        file: PathBuf,
    },
}

pub async fn run(config: Config, action: CompaniesCommand, shutdown: Shutdown) -> Result<Outcome> {
    let CompaniesCommand::Import { file } = action;
    let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    with_database(&config.platform, &shutdown, |db| async move {
        let pending = platform::db::pending_migrations(&db.owner).await?.len();
        if pending > 0 {
            anyhow::bail!(
                "the database is {pending} migration(s) behind this binary: \
                 run `p360 migrate up` first"
            );
        }
        // An operator on the machine itself: a system path.
        let mut tx = ScopedTx::all(&db.pool, AllTenants::system()).await?;
        let report = accounts::companies::service::import(tx.conn(), &bytes)
            .await
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        tx.commit().await?;
        println!(
            "companies: {} added, {} changed, {} unchanged, {} skipped",
            report.added,
            report.changed,
            report.unchanged,
            report.skipped.len()
        );
        for s in &report.skipped {
            println!("  line {}: {}", s.line, s.reason);
        }
        Ok(())
    })
    .await
}
