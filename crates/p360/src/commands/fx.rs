//! `p360 fx import FILE`: load dated exchange rates (`date,currency,
//! usd_per_unit`, US dollars per unit of the currency) that attribution
//! converts opportunities in other currencies with. A file with a bad line
//! loads nothing and names the line.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use p360::Config;
use platform::cli::{Outcome, with_database};
use platform::shutdown::Shutdown;

#[derive(Subcommand, Debug)]
pub enum FxCommand {
    /// Import rates from a CSV file: `date,currency,usd_per_unit` with a
    /// header line (a rate already held for a day is replaced).
    Import {
        /// The CSV file.
        file: PathBuf,
    },
}

pub async fn run(config: Config, action: FxCommand, shutdown: Shutdown) -> Result<Outcome> {
    let FxCommand::Import { file } = action;
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let lines =
        attribution::fx::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    with_database(&config.platform, &shutdown, |db| async move {
        super::require_migrated(&db).await?;
        let rows: Vec<_> = lines
            .into_iter()
            .map(|l| (l.currency, l.day, l.usd_per_unit_e9))
            .collect();
        let mut conn = db.pool.acquire().await?;
        let changed = attribution::store::put_rates(&mut conn, &rows).await?;
        println!(
            "exchange rates: {} read, {changed} new or changed",
            rows.len()
        );
        Ok(())
    })
    .await
}
