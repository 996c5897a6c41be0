//! `p360 delivery ingest FILE...`: ingest REDS files, impressions and
//! clicks (TTD's layouts, gzip or plain) from disk, each known by its path and the BLAKE3
//! of its bytes: the same file again changes nothing, another file at the
//! same path replaces the earlier one's rows, a file that does not read
//! whole is quarantined with the reason. The files are then merged into
//! the tables reports read.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use delivery::ingest::Outcome as Ingested;
use p360::Config;
use platform::cli::{Outcome, with_database};
use platform::shutdown::Shutdown;

#[derive(Subcommand, Debug)]
pub enum DeliveryCommand {
    /// Ingest REDS files (impressions and clicks, told apart by their
    /// columns; impressions first).
    Ingest {
        /// The files (`.log.gz`, `.tsv.gz` or plain).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

pub async fn run(config: Config, action: DeliveryCommand, shutdown: Shutdown) -> Result<Outcome> {
    let DeliveryCommand::Ingest { files } = action;
    let mut keys = Vec::with_capacity(files.len());
    for file in &files {
        let path = std::fs::canonicalize(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        keys.push((file.clone(), path));
    }
    let layouts = config.delivery.layouts()?;
    // Impressions first, so that clicks given in the same command find them.
    let mut kinds = Vec::with_capacity(keys.len());
    for (given, path) in &keys {
        let kind = match delivery::ingest::kind_of(path, &layouts) {
            Ok(Ok(kind)) => kind,
            Ok(Err(_)) => delivery::ingest::Kind::Impressions, // quarantined with the reason
            Err(e) => anyhow::bail!("cannot read {}: {e}", given.display()),
        };
        kinds.push(kind == delivery::ingest::Kind::Clicks);
    }
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|i| kinds[*i]);
    let sources = delivery::ingest::Sources {
        landing: platform::storage::Storage::landing(&config.platform)?,
        scratch: config.platform.data_dir.join("tmp"),
    };
    with_database(&config.platform, &shutdown, |db| async move {
        super::require_migrated(&db).await?;
        let mut quarantined = 0;
        for (given, path) in order.iter().map(|i| &keys[*i]) {
            let key = format!("file://{}", path.display());
            let r = delivery::ingest::file(&db.pool, &key, path, layouts, &sources)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e}", given.display()))?;
            let what = match &r.outcome {
                Ingested::Quarantined(reason) => {
                    quarantined += 1;
                    format!("quarantined: {reason}")
                }
                other => format!("{other:?}"),
            };
            match r.kind {
                delivery::ingest::Kind::Impressions => println!(
                    "delivery: {} {what}: {} impressions, {} cells, {} unresolved, {} of campaigns P360 does not know",
                    given.display(),
                    r.rows,
                    r.cells,
                    r.unresolved,
                    r.unknown_campaigns
                ),
                delivery::ingest::Kind::Clicks => println!(
                    "delivery: {} {what}: {} clicks, {} joined to their impressions, {} unresolved",
                    given.display(),
                    r.rows,
                    r.clicks_joined,
                    r.unresolved
                ),
            }
        }
        // Reports read merged rows: merge now rather than wait for a worker
        // (the job the ingests queued then finds nothing to do).
        let merged = delivery::merge::run(&db.pool).await?;
        println!(
            "delivery: merged {} files for reports ({} replaced ones taken back)",
            merged.added, merged.taken_back
        );
        anyhow::ensure!(
            quarantined == 0,
            "{quarantined} of {} files quarantined, nothing of them applied",
            keys.len()
        );
        Ok(())
    })
    .await
}
