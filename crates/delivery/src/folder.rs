//! The watched folder (`delivery.watch_folder`): REDS files dropped into a
//! folder of this machine are ingested as they settle — the laptop's and
//! the demo's way in, where AWS has its landing bucket. Every process that
//! runs the job worker scans its own folder.
//!
//! A scan takes the regular files at the top of the folder (not hidden,
//! not `.part` or `.tmp`, unchanged for [`SETTLE`]), impressions before
//! clicks, and ingests each as `file://<folder>/ingested/<name>`, where it
//! is moved once ingested: the same name dropped again with other bytes is
//! a corrected file and replaces the first one's rows; the same bytes
//! change nothing. A file that does not read whole goes to `quarantined/`
//! with its reason beside it (`<name>.reason`). A failure that is not the
//! file's (the database down) leaves it where it is for the next scan.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use sqlx::PgPool;

use crate::ingest::{self, Kind, Layouts, Outcome, Report, Sources};

/// How long a file must be left unchanged before it is read: a file still
/// being written is not one yet.
pub const SETTLE: Duration = Duration::from_secs(2);

/// A watched folder.
#[derive(Clone)]
pub struct Folder {
    pub dir: PathBuf,
    pub layouts: Layouts,
    pub sources: Sources,
}

impl Folder {
    /// The files ready to be read, impressions first (clicks find the
    /// impressions they were made on), then by name.
    fn ready(&self, settle: Duration) -> std::io::Result<Vec<(PathBuf, Result<Kind, String>)>> {
        let now = SystemTime::now();
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name.ends_with(".part") || name.ends_with(".tmp") {
                continue;
            }
            let meta = entry.metadata()?;
            let settled = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .is_some_and(|age| age >= settle);
            if !meta.is_file() || !settled {
                continue;
            }
            let path = entry.path();
            let kind = ingest::kind_of(&path, &self.layouts)?;
            found.push((path, kind));
        }
        found.sort_by(|a, b| {
            let clicks = |k: &Result<Kind, String>| *k == Ok(Kind::Clicks);
            (clicks(&a.1), &a.0).cmp(&(clicks(&b.1), &b.0))
        });
        Ok(found)
    }

    /// Ingest every file ready now (settled for `settle`); what became of
    /// each, by name.
    pub async fn scan(
        &self,
        pool: &PgPool,
        settle: Duration,
    ) -> anyhow::Result<Vec<(String, Report)>> {
        let me = self.clone();
        let ready = tokio::task::spawn_blocking(move || me.ready(settle)).await??;
        let mut done = Vec::with_capacity(ready.len());
        if ready.is_empty() {
            return Ok(done);
        }
        let ingested = self.dir.join("ingested");
        std::fs::create_dir_all(&ingested)?;
        for (path, kind) in ready {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let home = ingested.join(&name);
            let key = format!("file://{}", home.display());
            let r =
                ingest::file_of_kind(pool, &key, &path, kind, self.layouts, &self.sources).await?;
            match &r.outcome {
                Outcome::Quarantined(reason) => {
                    let aside = self.dir.join("quarantined");
                    std::fs::create_dir_all(&aside)?;
                    std::fs::rename(&path, aside.join(&name))?;
                    std::fs::write(aside.join(format!("{name}.reason")), format!("{reason}\n"))?;
                    tracing::warn!(file = %name, reason = %reason, "watched folder: REDS file quarantined");
                }
                outcome => {
                    std::fs::rename(&path, &home)?;
                    tracing::info!(file = %name, outcome = ?outcome, kind = r.kind.as_str(),
                        rows = r.rows, "watched folder: REDS file ingested");
                }
            }
            done.push((name, r));
        }
        Ok(done)
    }

    /// Scan every `every` until `shutdown`; a failed scan is logged and
    /// the next one tries again.
    pub async fn run(self, pool: PgPool, every: Duration, shutdown: platform::shutdown::Shutdown) {
        if let Err(e) = std::fs::create_dir_all(&self.dir) {
            tracing::warn!(folder = %self.dir.display(), error = %e,
                "watched folder: cannot create it; not watching");
            return;
        }
        tracing::info!(folder = %self.dir.display(), "watching for REDS files");
        loop {
            if let Err(e) = self.scan(&pool, SETTLE).await {
                tracing::warn!(folder = %self.dir.display(), error = format!("{e:#}"),
                    "watched folder: scan failed; trying again");
            }
            tokio::select! {
                _ = shutdown.wait() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}
