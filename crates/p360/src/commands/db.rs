//! `p360 db url|stop|backup`: the database in use, the embedded cluster, and
//! the backup a release takes before it migrates.

use anyhow::{Result, bail};
use clap::Subcommand;
use p360::Config;
use platform::cli::{Outcome, with_database};
use platform::config::PlatformConfig;
use platform::embedded_pg;
use platform::shutdown::Shutdown;
use secrecy::ExposeSecret;

#[derive(Subcommand, Debug)]
pub enum DbCommand {
    /// Print a connection URL for the database in use (e.g. `psql "$(p360 db url)"`).
    Url,
    /// Stop an embedded cluster that no running p360 process owns.
    Stop,
    /// pg_dump the database to the object store (backups/<time>-v<migration>.dump), streamed.
    Backup,
}

pub async fn run(config: Config, action: DbCommand, shutdown: Shutdown) -> Result<Outcome> {
    let config = config.platform;
    match action {
        DbCommand::Url => {
            println!("{}", url(&config).await?);
            Ok(Outcome::Completed)
        }
        DbCommand::Stop => {
            if stop(&config).await? {
                println!(
                    "stopped the embedded cluster in {}",
                    config.data_dir.display()
                );
            } else {
                println!(
                    "no embedded cluster is running in {}",
                    config.data_dir.display()
                );
            }
            Ok(Outcome::Completed)
        }
        DbCommand::Backup => backup(config, shutdown).await,
    }
}

/// `p360 db url`: the URL of the database in use, for psql and other tools.
async fn url(config: &PlatformConfig) -> Result<String> {
    if let Some(url) = &config.database.url {
        return Ok(url.expose_secret().to_string());
    }
    match embedded_pg::running_url(&config.data_dir).await? {
        Some(url) => Ok(url),
        None => bail!(
            "no PostgreSQL cluster is running for data dir {}; start one with `p360 serve --data-dir {}`",
            config.data_dir.display(),
            config.data_dir.display()
        ),
    }
}

/// `p360 db stop`: stop an embedded cluster no live p360 process owns (e.g. one
/// left by a killed process, or by the test harness); `false` if none runs.
async fn stop(config: &PlatformConfig) -> Result<bool> {
    if config.database.url.is_some() {
        bail!("database.url is configured: there is no embedded cluster to stop");
    }
    embedded_pg::stop_data_dir(
        &config.data_dir,
        config.database.postgres_bin_dir.as_deref(),
    )
    .await
}

/// `p360 db backup`: `pg_dump` (custom format) of the database streamed
/// to the object store, as `backups/<UTC time>-v<latest migration>.dump`: a
/// portable copy of any server (the embedded cluster's own backups are
/// `p360 backup`; RDS's are its automated backups).
async fn backup(config: PlatformConfig, shutdown: Shutdown) -> Result<Outcome> {
    let config2 = config.clone();
    with_database(&config, &shutdown, |database| async move {
        let (key, size, place) = platform::backup::pg_dump(&config2, &database).await?;
        println!("backup {key}: {size} bytes in {place}");
        Ok(())
    })
    .await
}
