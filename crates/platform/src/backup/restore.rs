//! Point-in-time restore of the embedded cluster into a new data dir:
//! pgBackRest lays down the backup, PostgreSQL replays the archived WAL to
//! the target and promotes, and the cluster is stopped, ready for
//! `p360 serve`. Never over an existing cluster.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use sqlx::Connection;

use crate::config::PlatformConfig;
use crate::embedded_pg::pgbackrest::{Repo, Target};
use crate::embedded_pg::{self, ClusterPaths, EmbeddedPostgres, Ownership};

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The backup it started from.
    pub backup: String,
    /// The commit time of the last transaction recovered, if WAL was replayed.
    pub recovered_to: Option<DateTime<Utc>>,
    pub elapsed: Duration,
}

/// Restore the cluster of `config.data_dir` (which must hold none) from
/// the local repository `from`, or the configured one, to `target`.
/// With `progress`, each step is told on stderr.
pub async fn restore(
    config: &PlatformConfig,
    from: Option<&Path>,
    target: Target,
    progress: bool,
) -> Result<Restored> {
    let started = Instant::now();
    let say = |what: String| {
        if progress {
            eprintln!("[{:>5.1} s] {what}", started.elapsed().as_secs_f64());
        }
    };
    let paths = ClusterPaths::new(&config.data_dir)?;
    if has_entries(&paths.data)? {
        bail!(
            "{} is not empty: p360 restore only restores into a new data dir, never over a cluster \
             (choose another --data-dir)",
            paths.data.display()
        );
    }
    let repo = Repo::for_restore(config, from)?;
    repo.prepare()?;
    let info = repo.info().await?;
    let Some(newest) = info.newest() else {
        bail!("no backups in {}: nothing to restore", repo.describe());
    };
    let backup = match target {
        Target::Latest => newest.clone(),
        Target::Time(t) => {
            if t > Utc::now() {
                bail!("--to {t} is in the future");
            }
            info.backups
                .iter()
                .rev()
                .find(|b| b.finished <= t)
                .cloned()
                .ok_or_else(|| {
                    anyhow!(
                        "the earliest backup in {} finished at {}: nothing to recover to {t}",
                        repo.describe(),
                        info.backups[0].finished
                    )
                })?
        }
    };
    say(format!(
        "restoring backup {} ({}, {} MB) from {} into {}",
        backup.label,
        backup.kind,
        backup.size_bytes / 1_000_000,
        repo.describe(),
        paths.data.display()
    ));
    embedded_pg::server_user_dir(&paths.root)?;
    embedded_pg::server_user_dir(&paths.data)?;
    repo.restore(&paths.data, &backup.label, target, progress)
        .await?;
    say(match target {
        Target::Latest => "replaying the archived WAL to its end".to_string(),
        Target::Time(t) => format!("replaying the archived WAL to {t}"),
    });
    let pg = EmbeddedPostgres::start(
        &config.data_dir,
        config.database.postgres_bin_dir.as_deref(),
        Ownership::Owned,
        repo.recovery_options(),
    )
    .await?;
    let recovered = wait_for_promotion(&paths, &say).await;
    let stopped = pg.stop().await;
    let recovered_to = recovered?;
    stopped?;
    say(format!(
        "recovered to {}; the cluster is stopped: start it with `p360 --data-dir {} serve`",
        recovered_to.map_or("the backup's end".to_string(), |t| t.to_rfc3339()),
        config.data_dir.display()
    ));
    Ok(Restored {
        backup: backup.label,
        recovered_to,
        elapsed: started.elapsed(),
    })
}

/// Wait until the server has finished recovery and left it; the commit
/// time of the last transaction it replayed.
async fn wait_for_promotion(
    paths: &ClusterPaths,
    say: &impl Fn(String),
) -> Result<Option<DateTime<Utc>>> {
    let started = Instant::now();
    let mut told = Instant::now();
    loop {
        let state = async {
            let mut conn = sqlx::PgConnection::connect(&paths.url("postgres")).await?;
            let r = sqlx::query!(
                r#"SELECT pg_is_in_recovery() AS "recovering!",
                          pg_last_xact_replay_timestamp() AS replayed"#
            )
            .fetch_one(&mut conn)
            .await?;
            conn.close().await.ok();
            anyhow::Ok((r.recovering, r.replayed))
        }
        .await;
        match state {
            Ok((false, replayed)) => return Ok(replayed),
            Ok((true, _)) => {}
            Err(e) if started.elapsed() > Duration::from_secs(5) => {
                return Err(e).with_context(|| {
                    format!(
                        "PostgreSQL stopped during recovery: {}",
                        last_fatal(&paths.log_file)
                    )
                });
            }
            Err(_) => {}
        }
        if told.elapsed() > Duration::from_secs(10) {
            say(format!(
                "still replaying WAL ({} s)",
                started.elapsed().as_secs()
            ));
            told = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The server log's last FATAL line (why recovery stopped).
fn last_fatal(log: &Path) -> String {
    std::fs::read_to_string(log)
        .ok()
        .and_then(|t| {
            t.lines()
                .rev()
                .find(|l| l.contains("FATAL:"))
                .map(str::to_string)
        })
        .unwrap_or_else(|| format!("see {}", log.display()))
}

fn has_entries(dir: &Path) -> Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_some()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", dir.display())),
    }
}
