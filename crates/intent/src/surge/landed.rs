//! Surge files that land in the object store (the landing bucket, under
//! `bombora.landing_prefix`): the landing Lambda announces each on the ingest
//! queue, the worker turns the announcement into an `intent.ingest_object`
//! job ([`platform::jobs::landing`]), and the job downloads the object and
//! ingests it like any other arrival — idempotent per checksum, the week
//! from the date in the file's name (else in its key).

use std::path::PathBuf;

use anyhow::Result;
use chrono::NaiveDate;
use platform::jobs::landing::{Landed, OnLanding};
use platform::jobs::{Job, JobContext, Permanent};
use platform::storage::Storage;
use serde::{Deserialize, Serialize};

use super::service::{IngestError, Ingested, Source, ingest_fetched};

/// What the job needs.
#[derive(Clone)]
pub struct Landing {
    /// `storage.landing_bucket` and its store.
    pub bucket: String,
    pub store: Storage,
    /// Where weeks are archived.
    pub storage: Storage,
    /// Where a download is written before it is ingested.
    pub scratch: PathBuf,
    pub create_companies: bool,
}

/// Ingest the surge file at `key` in `bucket` (`intent.ingest_object`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IngestObject {
    pub bucket: String,
    pub key: String,
    pub size: i64,
}

impl OnLanding for IngestObject {
    fn landed(file: Landed) -> Self {
        IngestObject {
            bucket: file.bucket,
            key: file.key,
            size: file.size,
        }
    }
}

/// The week a landed file scores: the date in its name, else in its key
/// (`.../2026-11-30/surge.csv.gz`).
pub fn week_of(key: &str) -> Option<NaiveDate> {
    let name = key.rsplit('/').next().unwrap_or(key);
    super::date_in(name).or_else(|| super::date_in(key))
}

impl Landing {
    /// Download and ingest one landed file.
    pub async fn ingest(&self, pool: &sqlx::PgPool, job: &IngestObject) -> Result<Ingested> {
        if job.bucket != self.bucket {
            return Err(Permanent(format!(
                "{} landed in bucket {}; only storage.landing_bucket ({}) is read",
                job.key, job.bucket, self.bucket
            ))
            .into());
        }
        let week = week_of(&job.key).ok_or_else(|| {
            Permanent(format!(
                "{} has no date (YYYY-MM-DD or YYYYMMDD) in its name or key: the week it scores is unknown",
                job.key
            ))
        })?;
        ingest_fetched(
            pool,
            &self.storage,
            &self.scratch,
            week,
            Source::ObjectStore,
            self.create_companies,
            |path| async move { self.download(&job.key, &path).await.map(|()| None) },
        )
        .await
        .map_err(|e| match e.downcast_ref::<IngestError>() {
            // Retrying reads the same bytes again.
            Some(IngestError::File(_) | IngestError::OtherWeek(_)) => {
                Permanent(format!("s3://{}/{}: {e}", job.bucket, job.key)).into()
            }
            Some(_) => e.context(format!("s3://{}/{}", job.bucket, job.key)),
            None => e,
        })
    }

    /// Stream the object to `path`.
    async fn download(&self, key: &str, path: &std::path::Path) -> Result<()> {
        if self.store.download(key, path).await? {
            return Ok(());
        }
        Err(Permanent(format!(
            "s3://{}/{key} is gone (removed after it landed)",
            self.bucket
        ))
        .into())
    }
}

impl Job for IngestObject {
    const KIND: &'static str = "intent.ingest_object";
    const QUEUE: &'static str = "ingest";
    const MAX_ATTEMPTS: i64 = 5;
    type Context = Landing;

    fn dedup_key(&self) -> Option<String> {
        Some(format!("{}/{}", self.bucket, self.key))
    }

    async fn run(self, ctx: JobContext<Landing>) -> Result<()> {
        let done = ctx.services.ingest(&ctx.pool, &self).await?;
        let f = &done.file;
        tracing::info!(
            bucket = %self.bucket,
            key = %self.key,
            week = %f.week,
            outcome = ?done.outcome,
            rows = f.rows_read,
            companies = f.companies,
            unknown = f.unknown_domains,
            "landed surge file ingested"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::week_of;

    #[test]
    fn a_landed_files_week_is_in_its_name_or_its_key() {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 11, 30);
        assert_eq!(week_of("partner-files/bombora/surge_2026-11-30.csv.gz"), d);
        assert_eq!(week_of("partner-files/bombora/2026-11-30/all.csv.gz"), d);
        // The name wins over a folder's date.
        assert_eq!(
            week_of("partner-files/bombora/2026-11-23/surge_20261130.csv"),
            d
        );
        assert_eq!(week_of("partner-files/bombora/latest.csv"), None);
    }
}
