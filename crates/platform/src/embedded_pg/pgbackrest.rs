//! pgBackRest for the embedded cluster: continuous WAL archiving, full and
//! differential backups, retention, verification and point-in-time restore.
//!
//! One stanza (`p360`) per data dir. pgBackRest's configuration, logs and
//! locks live in `DATA_DIR/backup`; the repository is `DATA_DIR/backup/repo`
//! (or `backup.repo_path`), or the object store's S3 bucket under
//! `pgbackrest/`. pgBackRest works on the cluster's files, so it runs as the
//! cluster's user (the `postgres` system user under root). Repository
//! credentials reach it through its environment, never a file or a command
//! line.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::backups::{Backup, Info, parse_info};
use crate::config::{BackupRepo, PlatformConfig};
use crate::embedded_pg::{self, ClusterPaths, ServerOptions};

/// The stanza: pgBackRest's name for the cluster it backs up.
pub const STANZA: &str = "p360";

/// A pgBackRest repository, set up for one data dir's cluster.
#[derive(Debug, Clone)]
pub struct Repo {
    program: PathBuf,
    /// `DATA_DIR/backup`: configuration, logs and locks.
    dir: PathBuf,
    config_file: PathBuf,
    settings: String,
    env: Vec<(&'static str, SecretString)>,
    archive_timeout_secs: u64,
    local: Option<PathBuf>,
    describe: String,
}

/// What a restore recovers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Everything archived.
    Latest,
    /// The last transaction committed at or before this time.
    Time(DateTime<Utc>),
}

/// What `pgbackrest verify` found.
#[derive(Debug, Clone)]
pub struct Verification {
    pub ok: bool,
    pub report: String,
}

impl Repo {
    /// The repository of the embedded cluster of `config.data_dir`; `None`
    /// when backups are off or the database is not the embedded cluster.
    pub fn from_config(config: &PlatformConfig) -> Result<Option<Repo>> {
        if !config.backup.enabled
            || config.database.url.is_some()
            || config.database.app_url.is_some()
        {
            return Ok(None);
        }
        Repo::new(config, &config.data_dir, None, "pgbackrest.conf").map(Some)
    }

    /// The repository to restore the cluster of `config.data_dir` from:
    /// the local repository `from` if given, else the configured one.
    pub fn for_restore(config: &PlatformConfig, from: Option<&Path>) -> Result<Repo> {
        if config.database.url.is_some() || config.database.app_url.is_some() {
            bail!(
                "database.url is configured: p360 restores the embedded cluster; restore an external server with its own tools (RDS: docs/runbooks/dr-failover.md)"
            );
        }
        Repo::new(config, &config.data_dir, from, "restore.conf")
    }

    fn new(
        config: &PlatformConfig,
        data_dir: &Path,
        from: Option<&Path>,
        file_name: &str,
    ) -> Result<Repo> {
        let cfg = &config.backup;
        let cluster = ClusterPaths::new(data_dir)?;
        let base = cluster
            .root
            .parent()
            .ok_or_else(|| anyhow!("data dir {} has no parent", data_dir.display()))?;
        let dir = base.join("backup");
        let program = find_program(cfg.pgbackrest.as_deref())?;
        let mut env = Vec::new();
        let mut g = String::from("[global]\n");
        let (local, describe) = match (cfg.repo, from) {
            (BackupRepo::Local, _) | (BackupRepo::S3, Some(_)) => {
                let path = match (from, cfg.repo_path.as_deref()) {
                    (Some(p), _) | (None, Some(p)) => std::path::absolute(p)
                        .with_context(|| format!("backup repository {}", p.display()))?,
                    (None, None) => dir.join("repo"),
                };
                g.push_str(&format!("repo1-path={}\n", ini_value(&path)?));
                let describe = format!("local repository {}", path.display());
                (Some(path), describe)
            }
            (BackupRepo::S3, None) => {
                let s = &config.storage;
                let bucket = s
                    .s3_bucket
                    .as_deref()
                    .ok_or_else(|| anyhow!("backup.repo = \"s3\" needs storage.s3_bucket"))?;
                let region = s.s3_region.as_deref().unwrap_or("us-east-1");
                g.push_str(&format!(
                    "repo1-type=s3\nrepo1-path=/pgbackrest\nrepo1-s3-bucket={}\nrepo1-s3-region={}\n",
                    ini_text(bucket)?,
                    ini_text(region)?
                ));
                match s.s3_endpoint.as_deref() {
                    Some(endpoint) => {
                        let url = url::Url::parse(endpoint)
                            .with_context(|| format!("storage.s3_endpoint {endpoint}"))?;
                        if url.scheme() != "https" {
                            bail!(
                                "backup.repo = \"s3\": pgBackRest speaks only HTTPS to S3, and storage.s3_endpoint is {endpoint}"
                            );
                        }
                        let host = url.host_str().unwrap_or_default();
                        g.push_str(&format!(
                            "repo1-s3-endpoint={}\nrepo1-s3-uri-style=path\n",
                            ini_text(host)?
                        ));
                        if let Some(port) = url.port() {
                            g.push_str(&format!("repo1-storage-port={port}\n"));
                        }
                    }
                    None => g.push_str(&format!("repo1-s3-endpoint=s3.{region}.amazonaws.com\n")),
                }
                if !cfg.s3_verify_tls {
                    g.push_str("repo1-storage-verify-tls=n\n");
                }
                match (&s.s3_access_key_id, &s.s3_secret_access_key) {
                    (Some(id), Some(secret)) => {
                        env.push(("PGBACKREST_REPO1_S3_KEY", SecretString::from(id.clone())));
                        env.push(("PGBACKREST_REPO1_S3_KEY_SECRET", secret.clone()));
                    }
                    _ => g.push_str("repo1-s3-key-type=auto\n"),
                }
                (None, format!("s3://{bucket}/pgbackrest"))
            }
        };
        g.push_str(&format!(
            "repo1-retention-full-type=time\nrepo1-retention-full={}\n\
             log-path={}\nlock-path={}\n\
             compress-type=zst\nstart-fast=y\nprocess-max=2\n\
             log-level-console=warn\nlog-level-stderr=off\nlog-level-file=info\n\n\
             [{STANZA}]\npg1-path={}\npg1-socket-path={}\npg1-port={}\npg1-user={}\n",
            cfg.retention_days,
            ini_value(&dir.join("log"))?,
            ini_value(&dir.join("lock"))?,
            ini_value(&cluster.data)?,
            ini_value(&cluster.socket_dir)?,
            embedded_pg::PORT,
            embedded_pg::SUPERUSER,
        ));
        Ok(Repo {
            program,
            config_file: dir.join(file_name),
            dir,
            settings: g,
            env,
            archive_timeout_secs: cfg.archive_timeout_secs,
            local,
            describe,
        })
    }

    /// Where the backups are, for messages.
    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// The local repository's directory, if it is local.
    pub fn local_path(&self) -> Option<&Path> {
        self.local.as_deref()
    }

    /// Create the directories pgBackRest writes and (re)write its
    /// configuration, so a changed setting applies at the next start.
    pub fn prepare(&self) -> Result<()> {
        let data_dir = self.dir.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
        for d in [&self.dir, &self.dir.join("log"), &self.dir.join("lock")] {
            embedded_pg::server_user_dir(d)?;
        }
        if let Some(repo) = &self.local {
            embedded_pg::server_user_dir(repo)?;
        }
        std::fs::write(&self.config_file, &self.settings)
            .with_context(|| format!("cannot write {}", self.config_file.display()))?;
        embedded_pg::hand_to_server_user(&self.config_file)?;
        Ok(())
    }

    /// How the cluster runs: archiving its WAL into this repository.
    pub fn server_options(&self) -> ServerOptions {
        ServerOptions {
            archive: Some((
                format!(
                    "{} --config={} --stanza={STANZA} archive-push %p",
                    self.program.display(),
                    self.config_file.display()
                ),
                self.archive_timeout_secs,
            )),
            env: self.env.clone(),
        }
    }

    /// How a cluster restored from this repository runs while it recovers:
    /// fetching WAL from it, archiving nothing.
    pub fn recovery_options(&self) -> ServerOptions {
        ServerOptions {
            archive: None,
            env: self.env.clone(),
        }
    }

    /// Whether the local repository already holds the stanza.
    pub fn has_stanza(&self) -> bool {
        self.local.as_ref().is_some_and(|r| {
            r.join("archive")
                .join(STANZA)
                .join("archive.info")
                .is_file()
        })
    }

    /// Create the stanza (idempotent): the running cluster's archive and
    /// backups can go to the repository. Fails when the repository holds
    /// another cluster's backups.
    pub async fn ensure_stanza(&self) -> Result<()> {
        let created = self.run(&["stanza-create"], false).await;
        if let Err(e) = &created
            && e.to_string().contains("unable to acquire lock")
        {
            // Another process is creating it, or backing up: it exists.
            tracing::info!(error = %e, "pgBackRest stanza busy; another process has it");
            return Ok(());
        }
        created.map(|_| ()).map_err(|e| {
            if e.to_string().contains("do not match") {
                anyhow!(
                    "{} holds the backups of another cluster than the one in this data dir: \
                     restore from it with `p360 restore`, or move it away to start new backups ({e})",
                    self.describe
                )
            } else {
                e
            }
        })
    }

    /// The repository's backups and archived WAL.
    pub async fn info(&self) -> Result<Info> {
        let out = self.run(&["info", "--output=json"], false).await?;
        parse_info(&out)
    }

    /// Take a backup (`full`, else differential: pgBackRest takes a full one
    /// when there is none) and expire what retention no longer needs; the
    /// new backup. pgBackRest's progress goes to stderr when `progress`.
    pub async fn backup(&self, full: bool, progress: bool) -> Result<Backup> {
        let kind = if full { "--type=full" } else { "--type=diff" };
        let waiting = std::time::Instant::now();
        loop {
            match self.run(&["backup", kind], progress).await {
                Ok(_) => break,
                // Another backup (the schedule's, say) holds the stanza: ours follows it.
                Err(e)
                    if e.to_string().contains("unable to acquire lock")
                        && waiting.elapsed() < std::time::Duration::from_secs(3600) =>
                {
                    if progress && waiting.elapsed() < std::time::Duration::from_secs(1) {
                        eprintln!("another backup is running; waiting for it to finish");
                    }
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
                Err(e) => return Err(e),
            }
        }
        self.info()
            .await?
            .backups
            .pop()
            .ok_or_else(|| anyhow!("pgBackRest reported no backup after taking one"))
    }

    /// That the cluster archives into the repository (forces a WAL switch
    /// and waits for the segment to arrive).
    pub async fn check(&self) -> Result<()> {
        self.run(&["check"], false).await.map(|_| ())
    }

    /// Check every backup file and archived WAL segment against its checksum.
    pub async fn verify(&self) -> Result<Verification> {
        let out = self
            .run(&["verify", "--output=text", "--verbose"], false)
            .await?;
        let ok = !out.lines().any(|l| l.trim() == "status: error");
        Ok(Verification { ok, report: out })
    }

    /// Restore backup `set` into the (empty) PostgreSQL data directory
    /// `into`, recovering to `target` when the server next starts.
    pub async fn restore(
        &self,
        into: &Path,
        set: &str,
        target: Target,
        progress: bool,
    ) -> Result<()> {
        let pg1 = format!("--pg1-path={}", into.display());
        let set = format!("--set={set}");
        let mut args = vec!["restore", pg1.as_str(), set.as_str()];
        let time;
        if let Target::Time(t) = target {
            time = format!("--target={}", t.format("%Y-%m-%d %H:%M:%S%.6f+00"));
            args.extend(["--type=time", time.as_str(), "--target-action=promote"]);
        }
        self.run(&args, progress).await.map(|_| ())
    }

    /// Run pgBackRest on the stanza; its stdout, or an error with its own
    /// message. With `progress`, its info-level log goes to our stderr.
    async fn run(&self, args: &[&str], progress: bool) -> Result<String> {
        let config = format!("--config={}", self.config_file.display());
        let stanza = format!("--stanza={STANZA}");
        let mut all: Vec<&str> = vec![&config, &stanza];
        if progress {
            all.push("--log-level-console=info");
        }
        all.extend(args);
        let mut cmd = embedded_pg::server_user_command(&self.program, &all)?;
        for (k, v) in &self.env {
            cmd.env(k, v.expose_secret());
        }
        if progress {
            cmd.stdout(Stdio::from(std::io::stderr()));
        }
        // A cancelled job or command takes its pgBackRest with it.
        let out = tokio::process::Command::from(cmd)
            .kill_on_drop(true)
            .output()
            .await
            .with_context(|| format!("cannot run {}", self.program.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            let text = format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
            let reason = text
                .lines()
                .find(|l| l.contains("ERROR:"))
                .or_else(|| text.lines().rev().find(|l| !l.trim().is_empty()))
                .unwrap_or("no output")
                .trim()
                .to_string();
            bail!("pgbackrest {} failed: {reason}", args[0]);
        }
        Ok(stdout)
    }
}

/// `pgbackrest` as configured, else found on PATH.
fn find_program(configured: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = configured {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(anyhow!("backup.pgbackrest: no program at {}", p.display()))
        };
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("pgbackrest"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            anyhow!(
                "pgbackrest is not installed; it archives the embedded cluster's WAL and takes \
                 its backups: install it (`apt-get install pgbackrest`) or set backup.enabled = false"
            )
        })
}

/// A path as an ini value (and inside the archive command): no newline, no quote.
fn ini_value(path: &Path) -> Result<String> {
    let s = path
        .to_str()
        .ok_or_else(|| anyhow!("path is not UTF-8: {}", path.display()))?;
    ini_text(s)
}

fn ini_text(s: &str) -> Result<String> {
    if s.contains(['\n', '\r', '\'', '"']) {
        bail!("{s:?} cannot go in pgBackRest's configuration (newline or quote)");
    }
    Ok(s.to_string())
}
