//! `p360 intent import FILE [--week DATE] [--move]`: ingest a week's
//! Company Surge file (Bombora's CSV, plain or gzip) from disk, streaming.
//! The raw file is archived as a copy made while it is read; with `--move`
//! the file is handed over instead (a download nobody else keeps): on the
//! object store's filesystem the archive is the file itself under a second
//! name, as for the files the Bombora fetch and the landing job download,
//! and its own name is removed once the week is recorded.

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
        /// Hand the file over: archived without a copy where the object
        /// store is on the same filesystem, removed from where it is once
        /// the week is recorded (kept if the ingest fails).
        #[arg(long = "move")]
        move_file: bool,
    },
}

pub async fn run(config: Config, action: IntentCommand, shutdown: Shutdown) -> Result<Outcome> {
    let IntentCommand::Import {
        file,
        week,
        move_file,
    } = action;
    std::fs::metadata(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let week = week
        .or_else(|| intent::surge::date_in(name))
        .with_context(|| {
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
            if move_file {
                Input::Scratch(file.clone())
            } else {
                Input::File(file.clone())
            },
            create_companies,
            None,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        tx.commit().await?;
        if move_file {
            std::fs::remove_file(&file)
                .with_context(|| format!("ingested, but cannot remove {}", file.display()))?;
        }
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
