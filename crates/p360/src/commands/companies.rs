//! `p360 companies import FILE` and `import-ip-ranges FILE`: load the
//! company universe and its IP ranges from CSV files (prints what it added,
//! changed or removed and left unchanged, and each line it skipped with its
//! number and reason).

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
    /// Import companies' IP ranges from a CSV file (domain, and cidr or
    /// start_ip and end_ip); they replace the stored ranges of the companies
    /// the file names, and never overlap.
    ImportIpRanges {
        /// The CSV file.
        file: PathBuf,
    },
}

/// How many skipped lines the command prints.
const SHOWN: usize = 20;

pub async fn run(config: Config, action: CompaniesCommand, shutdown: Shutdown) -> Result<Outcome> {
    let (file, ranges) = match action {
        CompaniesCommand::Import { file } => (file, false),
        CompaniesCommand::ImportIpRanges { file } => (file, true),
    };
    let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    with_database(&config.platform, &shutdown, |db| async move {
        super::require_migrated(&db).await?;
        // An operator on the machine itself: a system path.
        let mut tx = ScopedTx::all(&db.pool, AllTenants::system()).await?;
        let failed = |e: accounts::companies::service::ImportError| {
            anyhow::anyhow!("{}: {e}", file.display())
        };
        let (summary, skipped) = if ranges {
            let r = accounts::ranges::service::import(tx.conn(), &bytes)
                .await
                .map_err(failed)?;
            (
                format!(
                    "ip ranges: {} added, {} removed, {} unchanged, {} skipped",
                    r.added,
                    r.removed,
                    r.unchanged,
                    r.skipped.len()
                ),
                r.skipped,
            )
        } else {
            let r = accounts::companies::service::import(tx.conn(), &bytes)
                .await
                .map_err(failed)?;
            (
                format!(
                    "companies: {} added, {} changed, {} unchanged, {} skipped",
                    r.added,
                    r.changed,
                    r.unchanged,
                    r.skipped.len()
                ),
                r.skipped,
            )
        };
        tx.commit().await?;
        println!("{summary}");
        // The first lines skipped, enough to see what is wrong; the API's
        // report lists them all.
        for s in skipped.iter().take(SHOWN) {
            println!("  line {}: {}", s.line, s.reason);
        }
        if skipped.len() > SHOWN {
            println!("  ... and {} more lines skipped", skipped.len() - SHOWN);
        }
        Ok(())
    })
    .await
}
