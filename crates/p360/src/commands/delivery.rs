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
        /// Leave merging the files for reports to the worker (the
        /// `delivery.merge` job each ingest queues), as for files landing in
        /// the bucket, instead of merging before returning.
        #[arg(long)]
        no_merge: bool,
    },
    /// Merge what ingests left pending into the tables reports read (what
    /// the `delivery.merge` job does), now.
    Merge,
    /// Write the REDS files TTD would deliver for the campaigns synced to
    /// the TTD sandbox (`ttd.base_url`, or the one `p360 serve` mounts at
    /// `http.listen`): hour by hour, impressions from the targeted
    /// companies' blocks and elsewhere, clicks, spend from budget and bids.
    Simulate {
        /// Where the files go (`impressions_<hour>.log.gz`, `clicks_<hour>.log.gz`).
        #[arg(long)]
        out: PathBuf,
        /// The first hour, as 2026-12-01T00 (UTC).
        #[arg(long, value_parser = hour)]
        from: chrono::NaiveDateTime,
        /// How many hours.
        #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=2_400))]
        hours: u32,
        /// Share of each campaign's plan delivered (1: on plan).
        #[arg(long, default_value_t = 1.0)]
        delivery_rate: f64,
        /// Percent of impressions from the targeted companies' blocks.
        #[arg(long, default_value_t = 70, value_parser = clap::value_parser!(u64).range(0..=100))]
        inside_percent: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

fn hour(s: &str) -> std::result::Result<chrono::NaiveDateTime, String> {
    chrono::NaiveDateTime::parse_from_str(&format!("{s}:00:00"), "%Y-%m-%dT%H:%M:%S")
        .map_err(|_| format!("{s} is not an hour such as 2026-12-01T00"))
}

pub async fn run(config: Config, action: DeliveryCommand, shutdown: Shutdown) -> Result<Outcome> {
    let (files, merge) = match action {
        DeliveryCommand::Ingest { files, no_merge } => (files, !no_merge),
        DeliveryCommand::Merge => {
            return with_database(&config.platform, &shutdown, |db| async move {
                super::require_migrated(&db).await?;
                let m = delivery::merge::run(&db.pool).await?;
                println!(
                    "delivery: merged {} files for reports ({} replaced ones taken back)",
                    m.added, m.taken_back
                );
                Ok(())
            })
            .await;
        }
        DeliveryCommand::Simulate {
            out,
            from,
            hours,
            delivery_rate,
            inside_percent,
            seed,
        } => {
            anyhow::ensure!(
                (0.0..=10.0).contains(&delivery_rate),
                "--delivery-rate must be 0 to 10 (1: on plan)"
            );
            let base = activation::base_url(&config.ttd, config.platform.http.listen);
            let client = activation::ttd::TtdClient::new(
                activation::ttd::TtdSettings::from_config(&config.ttd, base.clone()),
            )?;
            let lines = delivery::simulate::lines(
                &client,
                &reqwest::Client::new(),
                &base,
                &config.ttd.partner_id,
            )
            .await
            .map_err(|e| anyhow::anyhow!("reading the campaigns synced to {base}: {e}"))?;
            let opts = delivery::simulate::Options {
                from,
                hours,
                delivery_rate,
                inside_percent,
                seed,
            };
            let w = tokio::task::spawn_blocking(move || {
                delivery::simulate::write(&lines, &opts, &out).map(|w| (w, lines.len(), out))
            })
            .await??;
            println!(
                "delivery: {} hours for {} ad groups into {}: {} impressions ({} from targeted companies), {} clicks",
                hours,
                w.1,
                w.2.display(),
                w.0.impressions,
                w.0.inside,
                w.0.clicks
            );
            return Ok(Outcome::Completed);
        }
    };
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
        match delivery::ingest::kind_of(path, &layouts) {
            Ok(kind) => kinds.push(kind),
            Err(e) => anyhow::bail!("cannot read {}: {e}", given.display()),
        }
    }
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|i| kinds[*i] == Ok(delivery::ingest::Kind::Clicks));
    let sources = delivery::ingest::Sources {
        landing: platform::storage::Storage::landing(&config.platform)?,
        scratch: config.platform.data_dir.join("tmp"),
    };
    with_database(&config.platform, &shutdown, |db| async move {
        super::require_migrated(&db).await?;
        let mut quarantined = 0;
        for i in order {
            let (given, path) = &keys[i];
            let key = format!("file://{}", path.display());
            let kind = kinds[i].clone();
            let r = delivery::ingest::file_of_kind(&db.pool, &key, path, kind, layouts, &sources)
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
        if merge {
            let merged = delivery::merge::run(&db.pool).await?;
            println!(
                "delivery: merged {} files for reports ({} replaced ones taken back)",
                merged.added, merged.taken_back
            );
        }
        anyhow::ensure!(
            quarantined == 0,
            "{quarantined} of {} files quarantined, nothing of them applied",
            keys.len()
        );
        Ok(())
    })
    .await
}
