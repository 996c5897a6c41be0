//! The recurring job `intent.fetch_surge`: ask Bombora which weeks it has
//! published, and ingest each of the most recent ones whose file is not the
//! week's file here (a new week, or a corrected one: its checksum differs).
//! A download cut short or corrupt fails the ingest, which changes nothing;
//! the job's retry downloads it again.

use std::sync::Arc;

use anyhow::Result;
use platform::jobs::{Job, JobContext};
use platform::storage::Storage;
use serde::{Deserialize, Serialize};
use tenancy::scope::{AllTenants, ScopedTx};

use super::BomboraClient;
use crate::surge::service::{IngestError, Outcome, Source, ingest_fetched};
use crate::surge::store;

/// What the job needs.
#[derive(Clone)]
pub struct Fetcher {
    pub client: Arc<BomboraClient>,
    pub storage: Storage,
    /// How many of the most recent weeks are kept up to date.
    pub weeks_back: usize,
    /// Where downloads are written before they are ingested.
    pub scratch: std::path::PathBuf,
    /// Add the companies a week names that the universe lacks.
    pub create_companies: bool,
}

/// What one run did, week by week.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub ingested: Vec<chrono::NaiveDate>,
    pub replaced: Vec<chrono::NaiveDate>,
    pub current: Vec<chrono::NaiveDate>,
}

impl Fetcher {
    /// Bring the most recent weeks up to date.
    pub async fn run(&self, pool: &sqlx::PgPool) -> Result<Fetched> {
        let mut weeks = self.client.weeks().await?;
        weeks.sort_by_key(|w| std::cmp::Reverse(w.week));
        weeks.truncate(self.weeks_back);
        let mut done = Fetched::default();
        for published in weeks {
            let week = crate::surge::monday_of(published.week);
            let held = {
                let mut tx = ScopedTx::all(pool, AllTenants::system()).await?;
                store::week_file(tx.conn(), week).await?
            };
            if held.is_some_and(|f| {
                f.sha256
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case(published.sha256.trim()))
            }) {
                done.current.push(week);
                continue;
            }
            let ingested = ingest_fetched(
                pool,
                &self.storage,
                &self.scratch,
                week,
                Source::Bombora,
                self.create_companies,
                |path| async move { self.client.download(&published, &path).await.map(Some) },
            )
            .await
            .map_err(|e| {
                if e.is::<IngestError>() {
                    e.context(format!("the week of {week} from Bombora"))
                } else {
                    e
                }
            })?;
            match ingested.outcome {
                Outcome::Ingested => done.ingested.push(week),
                Outcome::Replaced => done.replaced.push(week),
                Outcome::Unchanged => done.current.push(week),
            }
        }
        Ok(done)
    }
}

/// The recurring job (`intent.fetch_surge`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct FetchSurge;

impl Job for FetchSurge {
    const KIND: &'static str = "intent.fetch_surge";
    const MAX_ATTEMPTS: i64 = 8;
    type Context = Fetcher;

    fn dedup_key(&self) -> Option<String> {
        Some("fetch".into())
    }

    async fn run(self, ctx: JobContext<Fetcher>) -> Result<()> {
        let done = ctx.services.run(&ctx.pool).await?;
        tracing::info!(
            ingested = ?done.ingested,
            replaced = ?done.replaced,
            current = done.current.len(),
            "surge weeks fetched from Bombora"
        );
        Ok(())
    }
}
