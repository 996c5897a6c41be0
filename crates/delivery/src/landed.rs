//! REDS files that land in the object store (the landing bucket, under
//! `delivery.landing_prefix`): the landing Lambda announces each on the
//! ingest queue, the worker turns the announcement into a `delivery.ingest`
//! job ([`platform::jobs::landing`]), and the job downloads the object and
//! ingests it ([`crate::ingest`]) as `s3://bucket/key` — impressions or
//! clicks, by their columns: the same file again changes nothing, a
//! corrected one replaces the rows of the one before, and a file that does
//! not read whole is quarantined (recorded, logged, not retried: retrying
//! reads the same bytes). A click file reads the impression files it joins
//! again from the bucket.

use std::path::PathBuf;

use anyhow::Result;
use platform::jobs::landing::{Landed, OnLanding};
use platform::jobs::{Job, JobContext, Permanent};
use platform::storage::Storage;
use serde::{Deserialize, Serialize};

use crate::ingest::{self, Layouts, Outcome, Sources};

/// What the job needs.
#[derive(Clone)]
pub struct Landing {
    /// `storage.landing_bucket` and its store.
    pub bucket: String,
    pub store: Storage,
    /// Where a download is written before it is read.
    pub scratch: PathBuf,
    pub layouts: Layouts,
}

/// Ingest the REDS file that landed (`delivery.ingest`): the landing
/// Lambda's message as it came.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IngestObject(pub Landed);

impl OnLanding for IngestObject {
    fn landed(file: Landed) -> Self {
        IngestObject(file)
    }
}

impl Landing {
    /// Download and ingest one landed file.
    pub async fn ingest(&self, pool: &sqlx::PgPool, job: &IngestObject) -> Result<ingest::Report> {
        let job = &job.0;
        let source = format!("s3://{}/{}", job.bucket, job.key);
        if job.bucket != self.bucket {
            return Err(Permanent(format!(
                "{source}: only storage.landing_bucket ({}) is read",
                self.bucket
            ))
            .into());
        }
        let sources = Sources {
            landing: Some((self.bucket.clone(), self.store.clone())),
            scratch: self.scratch.clone(),
        };
        // Downloaded to scratch, removed when done with.
        let Some(local) = sources.fetch(&source).await? else {
            return Err(Permanent(format!("{source} is gone (removed after it landed)")).into());
        };
        ingest::file(pool, &source, local.path(), self.layouts, &sources).await
    }
}

impl Job for IngestObject {
    const KIND: &'static str = "delivery.ingest";
    const QUEUE: &'static str = "ingest";
    const MAX_ATTEMPTS: i64 = 5;
    type Context = Landing;

    fn dedup_key(&self) -> Option<String> {
        Some(format!("{}/{}", self.0.bucket, self.0.key))
    }

    async fn run(self, ctx: JobContext<Landing>) -> Result<()> {
        let r = ctx.services.ingest(&ctx.pool, &self).await?;
        let Landed { bucket, key, .. } = self.0;
        match &r.outcome {
            Outcome::Quarantined(reason) => tracing::warn!(
                bucket = %bucket,
                key = %key,
                reason = %reason,
                kind = r.kind.as_str(),
                "landed REDS file quarantined: nothing of it applied"
            ),
            outcome => tracing::info!(
                bucket = %bucket,
                key = %key,
                kind = r.kind.as_str(),
                outcome = ?outcome,
                rows = r.rows,
                clicks_joined = r.clicks_joined,
                cells = r.cells,
                unresolved = r.unresolved,
                unknown_campaigns = r.unknown_campaigns,
                "landed REDS file ingested"
            ),
        }
        Ok(())
    }
}
