//! The `backup` section: pgBackRest for the embedded cluster.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Backups of the embedded cluster with pgBackRest: continuous WAL
/// archiving, and full and differential backups on a schedule. With
/// `database.url` set the server keeps its own backups (RDS automated
/// backups and point-in-time recovery) and this section is unused.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// Archive WAL and take scheduled backups (needs `pgbackrest`).
    pub enabled: bool,
    /// `local` (a directory) or `s3` (the object store's bucket, endpoint
    /// and credentials, under `pgbackrest/`).
    pub repo: BackupRepo,
    /// The local repository [default: DATA_DIR/backup/repo].
    pub repo_path: Option<PathBuf>,
    /// Switch WAL segments at least this often (1–60 s), so that an idle
    /// system also has its last writes archived within the RPO.
    pub archive_timeout_secs: u64,
    /// Keep full backups, and the WAL to recover from them, this many days.
    pub retention_days: u32,
    /// Take a full backup when the newest full one is this many days old.
    pub full_every_days: u32,
    /// Otherwise take a differential one when the newest backup is this many hours old.
    pub diff_every_hours: u32,
    /// Check the S3 endpoint's TLS certificate (off only for a test server).
    pub s3_verify_tls: bool,
    /// The pgbackrest program [default: `pgbackrest` on PATH].
    pub pgbackrest: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupRepo {
    #[default]
    Local,
    S3,
}

impl Default for BackupConfig {
    fn default() -> Self {
        BackupConfig {
            enabled: true,
            repo: BackupRepo::Local,
            repo_path: None,
            archive_timeout_secs: 30,
            retention_days: 30,
            full_every_days: 7,
            diff_every_hours: 24,
            s3_verify_tls: true,
            pgbackrest: None,
        }
    }
}

impl BackupConfig {
    pub(super) fn validate(&self, s3_bucket: Option<&str>) -> Result<(), ConfigError> {
        if !(1..=60).contains(&self.archive_timeout_secs) {
            return Err(ConfigError::invalid(
                "backup.archive_timeout_secs",
                "must be 1 to 60 seconds (the RPO is one minute)",
            ));
        }
        if !(1..=3650).contains(&self.retention_days) {
            return Err(ConfigError::invalid(
                "backup.retention_days",
                "must be 1 to 3650 days",
            ));
        }
        if !(1..=365).contains(&self.full_every_days) {
            return Err(ConfigError::invalid(
                "backup.full_every_days",
                "must be 1 to 365 days",
            ));
        }
        if !(1..=24 * 365).contains(&self.diff_every_hours) {
            return Err(ConfigError::invalid(
                "backup.diff_every_hours",
                "must be 1 to 8760 hours",
            ));
        }
        if self.repo == BackupRepo::S3 && s3_bucket.is_none() {
            return Err(ConfigError::invalid(
                "backup.repo",
                "`s3` keeps backups in the object store's bucket: set storage.s3_bucket",
            ));
        }
        Ok(())
    }
}
