//! `p360 intent import FILE [--week DATE]`: ingest a week's Company Surge
//! file (Bombora's CSV, plain or gzip) from disk, streaming.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::Subcommand;
use intent::surge::service::{Input, Source, ingest};
use p360::Config;
use platform::cli::{Outcome, with_database};
use platform::shutdown::Shutdown;
use tenancy::scope::{AllTenants, ScopedTx};

#[derive(Subcommand, Debug)]
pub enum IntentCommand {
    /// Ingest a Company Surge file as one week's scores.
    Import {
        /// The file (`.csv` or `.csv.gz`).
        file: PathBuf,
        /// A day of the week it scores (default: the date in the file's
        /// name, `2026-11-30` or `20261130`).
        #[arg(long)]
        week: Option<NaiveDate>,
    },
}

/// The first date in a file name (`Surge_2026-11-30.csv.gz`, `surge_20261130.csv`).
fn date_in(name: &str) -> Option<NaiveDate> {
    let digits: Vec<(usize, char)> = name.char_indices().collect();
    (0..digits.len()).find_map(|i| {
        let rest: String = digits[i..].iter().map(|(_, c)| c).take(10).collect();
        NaiveDate::parse_from_str(rest.get(..10)?, "%Y-%m-%d")
            .ok()
            .or_else(|| NaiveDate::parse_from_str(rest.get(..8)?, "%Y%m%d").ok())
    })
}

pub async fn run(config: Config, action: IntentCommand, shutdown: Shutdown) -> Result<Outcome> {
    let IntentCommand::Import { file, week } = action;
    std::fs::metadata(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let week = week.or_else(|| date_in(name)).with_context(|| {
        format!("{name} has no date in its name: say which week with --week YYYY-MM-DD")
    })?;
    let storage = platform::storage::Storage::from_config(&config.platform)?;
    let create_companies = config.bombora.create_unknown_companies;
    with_database(&config.platform, &shutdown, |db| async move {
        super::require_migrated(&db).await?;
        // An operator on the machine itself: a system path.
        let mut tx = ScopedTx::all(&db.pool, AllTenants::system()).await?;
        let done = ingest(
            tx.conn(),
            &storage,
            week,
            Source::CommandLine,
            Input::File(file.clone()),
            create_companies,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        tx.commit().await?;
        let f = &done.file;
        let added = if done.companies_added > 0 {
            format!(", {} added to it", done.companies_added)
        } else {
            String::new()
        };
        println!(
            "intent: week {} {:?}: {} rows, {} companies ({} unknown to the universe{added}), \
             {} topics, {} scores, {} unusable domains, {} duplicates",
            f.week,
            done.outcome,
            f.rows_read,
            f.companies,
            f.unknown_domains,
            f.topics,
            f.scores,
            f.unusable_domains,
            f.duplicates
        );
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::{NaiveDate, date_in};

    #[test]
    fn a_files_name_says_its_week() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 30);
        assert_eq!(date_in("Bombora_Surge_2026-11-30.csv.gz"), d);
        assert_eq!(date_in("surge_20261130.csv"), d);
        assert_eq!(date_in("surge.csv"), None);
        assert_eq!(date_in("v2_surge_99999999.csv"), None);
    }
}
