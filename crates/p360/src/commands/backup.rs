//! `p360 backup now|list|verify` and `p360 restore`: pgBackRest backups of
//! the embedded cluster, and point-in-time restore into a new data dir.

use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use p360::Config;
use platform::cli::{Outcome, until_shutdown, with_database};
use platform::config::PlatformConfig;
use platform::embedded_pg::backups::Backup;
use platform::embedded_pg::pgbackrest::{Repo, Target};
use platform::shutdown::Shutdown;

#[derive(Subcommand, Debug)]
pub enum BackupCommand {
    /// Take a backup now: differential (full when there is none), or --full.
    Now {
        #[arg(long)]
        full: bool,
    },
    /// The backups in the repository, oldest first, and the archived WAL.
    List,
    /// Check that WAL reaches the repository and every backup file and
    /// archived segment matches its checksum.
    Verify,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// A local pgBackRest repository to restore from (e.g. OLD_DATA_DIR/backup/repo)
    /// [default: the configured repository].
    #[arg(long, value_name = "DIR")]
    repo: Option<PathBuf>,
    /// Recover to this time (RFC 3339, e.g. 2026-12-06T21:31:02Z): the
    /// transactions committed by then, none after.
    #[arg(long, value_name = "TIMESTAMP", value_parser = parse_time, required_unless_present = "latest")]
    to: Option<DateTime<Utc>>,
    /// Recover everything archived.
    #[arg(long, conflicts_with = "to")]
    latest: bool,
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.to_utc())
        .map_err(|e| format!("not an RFC 3339 time (e.g. 2026-12-06T21:31:02Z): {e}"))
}

pub async fn run(config: Config, action: BackupCommand, shutdown: Shutdown) -> Result<Outcome> {
    let config = config.platform;
    let repo = repo(&config)?;
    match action {
        BackupCommand::List => {
            repo.prepare()?;
            let Some(info) = until_shutdown(&shutdown, repo.info()).await? else {
                return Ok(Outcome::Interrupted);
            };
            if info.backups.is_empty() {
                println!("no backups in {}", repo.describe());
            } else {
                println!(
                    "{:<26} {:<5} {:<20} {:>9} {:>10} {:>10}",
                    "LABEL", "TYPE", "STARTED (UTC)", "DURATION", "SIZE", "REPO SIZE"
                );
                for b in &info.backups {
                    println!(
                        "{:<26} {:<5} {:<20} {:>7} s {:>10} {:>10}",
                        b.label,
                        b.kind,
                        b.started.format("%Y-%m-%d %H:%M:%S"),
                        (b.finished - b.started).num_seconds(),
                        megabytes(b.size_bytes),
                        megabytes(b.repo_bytes)
                    );
                }
            }
            if let (Some(min), Some(max)) = (&info.wal_min, &info.wal_max) {
                println!("archived WAL: {min} .. {max}");
            }
            println!("in {}", repo.describe());
            // Creatives, partner files and exports are not in the database.
            let objects = platform::storage::Storage::from_config(&config)?;
            println!(
                "files (creatives, partner files, exports): {} — {}",
                objects.describe,
                if config.storage.s3_bucket.is_some() {
                    "the bucket's versioning (and replication in AWS) keeps them"
                } else {
                    "not in these backups: copy the directory with the backups, or set storage.s3_bucket"
                }
            );
            Ok(Outcome::Completed)
        }
        BackupCommand::Now { full } => {
            with_database(&config, &shutdown, |_db| async move {
                let b = repo.backup(full, true).await?;
                print_backup(&b, repo.describe());
                Ok(())
            })
            .await
        }
        BackupCommand::Verify => {
            with_database(&config, &shutdown, |_db| async move {
                repo.check().await?;
                println!("archiving: WAL reaches {}", repo.describe());
                let v = repo.verify().await?;
                print!("{}", v.report);
                if !v.ok {
                    bail!(
                        "the backups in {} are damaged (above: what pgBackRest found)",
                        repo.describe()
                    );
                }
                println!("backup verify ok");
                Ok(())
            })
            .await
        }
    }
}

/// `p360 restore`: into the (new) data dir given with `--data-dir`.
pub async fn restore(config: Config, args: RestoreArgs, shutdown: Shutdown) -> Result<Outcome> {
    let target = match args.to {
        Some(t) => Target::Time(t),
        None => Target::Latest,
    };
    let config = config.platform;
    let restoring = platform::backup::restore::restore(&config, args.repo.as_deref(), target, true);
    let Some(r) = until_shutdown(&shutdown, restoring).await? else {
        return Ok(Outcome::Interrupted);
    };
    println!(
        "restored backup={} recovered_to={} elapsed_s={:.1} data_dir={}",
        r.backup,
        r.recovered_to.map_or("-".to_string(), |t| t
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        r.elapsed.as_secs_f64(),
        config.data_dir.display()
    );
    Ok(Outcome::Completed)
}

fn repo(config: &PlatformConfig) -> Result<Repo> {
    Repo::from_config(config)?.ok_or_else(|| {
        if config.backup.enabled {
            anyhow!(
                "database.url is configured: the server keeps its own backups (RDS automated backups \
                 and point-in-time recovery; docs/runbooks/dr-failover.md); p360 backup is for the embedded cluster"
            )
        } else {
            anyhow!("backups are off (backup.enabled = false)")
        }
    })
}

fn print_backup(b: &Backup, place: &str) {
    println!(
        "backup {} ({}): {} of cluster, {} added to {place}, in {} s",
        b.label,
        b.kind,
        megabytes(b.size_bytes),
        megabytes(b.repo_bytes),
        (b.finished - b.started).num_seconds()
    );
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}
