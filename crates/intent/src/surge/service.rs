//! Ingesting a surge file and reading weeks back. A file is identified by
//! the BLAKE3 of its bytes, computed from what the reader reads (the file is
//! read once): the same file again changes nothing; another file for a week
//! that has one replaces it (a correction); a file that does not read whole
//! changes nothing and says where it broke. The raw file is archived and
//! the week stored compactly in the object store before the database says
//! the week is there.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use accounts::companies::NewCompany;
use axum::body::Bytes;
use chrono::NaiveDate;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};
use platform::storage::Storage;
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::parallel::{self, Text};
use super::parse::{self, SurgeError};
use super::store::{self, SurgeFile};
use super::{Week, format};

/// Where a file came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Upload,
    CommandLine,
    Bombora,
    ObjectStore,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Upload => "upload",
            Source::CommandLine => "command_line",
            Source::Bombora => "bombora",
            Source::ObjectStore => "object_store",
        }
    }
}

/// A file to ingest: in memory (an upload) or on disk.
#[derive(Debug, Clone)]
pub enum Input {
    Bytes(Bytes),
    /// Someone's file: archived as a copy (they may write it again).
    File(PathBuf),
    /// A file handed over (a download, `p360 intent import --move`) and
    /// removed after the ingest: the archive may be a second name of it
    /// rather than a copy.
    Scratch(PathBuf),
}

/// What an ingest did.
#[derive(Debug, Clone, Copy, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A new week.
    Ingested,
    /// The week had another file: this one is the week now.
    Replaced,
    /// This very file is the week already.
    Unchanged,
}

/// The answer to an ingest.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Ingested {
    pub outcome: Outcome,
    pub file: SurgeFile,
    /// The file this one replaced (a correction), if any.
    pub replaced: Option<String>,
    /// Companies added to the universe from the file (with
    /// `bombora.create_unknown_companies`).
    pub companies_added: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{0}")]
    File(#[from] SurgeError),
    #[error("this file was ingested as the week of {0}")]
    OtherWeek(NaiveDate),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// A copy of the file being written into the local object store, removed
/// unless it is kept (renamed to its key).
struct Staged(PathBuf);

impl Staged {
    /// A new name in the local object store `dir` (nothing there yet).
    fn new(dir: &Path) -> std::io::Result<Staged> {
        let staged = Staged(
            dir.join("intent/surge/incoming")
                .join(format!("{}.part", crate::random_hex(16))),
        );
        if let Some(parent) = staged.0.parent() {
            std::fs::create_dir_all(parent)?;
        }
        Ok(staged)
    }

    fn keep(self, dir: &std::path::Path, key: &ObjectPath) -> std::io::Result<()> {
        let to = dir.join(key.as_ref());
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::rename(&self.0, to)?;
        std::mem::forget(self);
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The week in the file and the file's BLAKE3 (hex), a file on disk also
/// written to `copy` (the archive's copy) as it is read: the parallel
/// reader when it takes the file (it hashes and copies the blocks it
/// reads), else the sequential one (which also says where a broken file
/// broke), hashing and copying the bytes as it reads them.
fn parse_input(
    week: NaiveDate,
    input: &Input,
    copy: Option<&std::fs::File>,
) -> Result<(Week, parse::Counts, String), IngestError> {
    let hex = |h: blake3::Hash| h.to_hex().to_string();
    let cannot_archive = |e: std::io::Error| anyhow::anyhow!("cannot archive the file: {e}");
    match input {
        Input::Bytes(b) => match parallel::read(week, Text::Bytes(b), None) {
            Ok(Some(r)) => Ok((r.week, r.counts, hex(r.checksum))),
            _ => {
                let (w, counts) = parse::read(week, b.as_ref())?;
                Ok((w, counts, crate::file_checksum(b)))
            }
        },
        Input::File(path) | Input::Scratch(path) => {
            let cannot = |e: std::io::Error| SurgeError {
                line: 0,
                byte: 0,
                reason: format!("cannot read {}: {e}", path.display()),
            };
            let f = std::fs::File::open(path).map_err(cannot)?;
            if let Some(r) = parallel::read(week, Text::File(&f), copy).map_err(cannot_archive)? {
                return Ok((r.week, r.counts, hex(r.checksum)));
            }
            // The parallel reader reads and writes at offsets: `f` and
            // `copy` are still at their start.
            if let Some(c) = copy {
                c.set_len(0).map_err(cannot_archive)?;
            }
            let mut tee = Tee {
                inner: f,
                hasher: blake3::Hasher::new(),
                copy,
                failed: None,
            };
            let read = parse::read(week, &mut tee);
            if let Some(e) = tee.failed.take() {
                return Err(cannot_archive(e).into());
            }
            let (w, counts) = read?;
            // Bytes the reader did not need count too.
            std::io::copy(&mut tee, &mut std::io::sink()).map_err(cannot)?;
            if let Some(e) = tee.failed.take() {
                return Err(cannot_archive(e).into());
            }
            Ok((w, counts, hex(tee.hasher.finalize())))
        }
    }
}

/// A reader hashing what it reads and writing it to `copy`.
struct Tee<'a, R> {
    inner: R,
    hasher: blake3::Hasher,
    copy: Option<&'a std::fs::File>,
    /// Why writing the copy failed.
    failed: Option<std::io::Error>,
}

impl<R: std::io::Read> std::io::Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::io::Write;
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        if let Some(mut c) = self.copy
            && let Err(e) = c.write_all(&buf[..n])
        {
            self.failed = Some(e);
            return Err(std::io::Error::other("the archive's copy failed"));
        }
        Ok(n)
    }
}

/// Archive a scratch file (P360's own, removed after the ingest) into the
/// local object store `dir` under `key`: a second name of it on the same
/// filesystem (no copy), else a copy (in the kernel); staged, then renamed
/// to its key when whole.
fn archive_scratch(dir: &Path, path: &Path, key: &ObjectPath) -> std::io::Result<()> {
    let staged = Staged::new(dir)?;
    if std::fs::hard_link(path, &staged.0).is_err() {
        std::fs::copy(path, &staged.0)?;
    }
    staged.keep(dir, key)
}

/// Archive the file as received, streaming a file on disk in parts.
async fn archive(storage: &Storage, key: &ObjectPath, input: &Input) -> anyhow::Result<()> {
    match input {
        Input::Bytes(b) => {
            storage.store.put(key, PutPayload::from(b.clone())).await?;
        }
        Input::File(path) | Input::Scratch(path) => {
            use tokio::io::AsyncReadExt;
            let upload = storage.store.put_multipart(key).await?;
            let mut parts = object_store::WriteMultipart::new_with_chunk_size(upload, 8 << 20);
            let mut f = tokio::fs::File::open(path).await?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = f.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                parts.write(&buf[..n]);
            }
            parts.finish().await?;
        }
    }
    Ok(())
}

/// Ingest a surge file as week `week` (the Monday of the week it scores)
/// in the caller's transaction; `create_companies`: add the companies the
/// universe lacks; `sha256`: the SHA-256 its source published for it,
/// which the download matched (Bombora's), recorded with the file.
pub async fn ingest(
    conn: &mut PgConnection,
    storage: &Storage,
    week: NaiveDate,
    source: Source,
    input: Input,
    create_companies: bool,
    sha256: Option<&str>,
) -> Result<Ingested, IngestError> {
    let week = super::monday_of(week);
    let input = Arc::new(input);
    // Someone's file on disk is copied into a local object store as it is
    // read (they may write it again; the archive must stay what was read).
    let staged = match (input.as_ref(), &storage.local_dir) {
        (Input::File(_), Some(dir)) => {
            let staged = Staged::new(dir)
                .and_then(|s| std::fs::File::create(&s.0).map(|f| (s, f)))
                .map_err(|e| anyhow::anyhow!("cannot archive the file: {e}"))?;
            Some(staged)
        }
        _ => None,
    };
    // Parse, hash and copy at once, on all cores (the file read once).
    let parsing = {
        let input = input.clone();
        tokio::task::spawn_blocking(move || {
            let done = parse_input(week, &input, staged.as_ref().map(|(_, f)| f));
            (done, staged.map(|(s, _)| s))
        })
    };
    let (parsed, staged) = parsing.await.map_err(anyhow::Error::from)?;
    let (parsed, counts, sum) = parsed?;
    if let Some(known) = store::file(conn, &sum).await? {
        if let Some(sha256) = sha256 {
            store::vouch(conn, &sum, sha256).await?;
        }
        if known.week != week {
            return Err(IngestError::OtherWeek(known.week));
        }
        let current = store::week_file(conn, week).await?;
        if current.as_ref().is_some_and(|c| c.checksum == sum) {
            return Ok(Ingested {
                outcome: Outcome::Unchanged,
                file: known,
                replaced: None,
                companies_added: 0,
            });
        }
        // An earlier file of the week made current again.
        let replaced = store::set_week(conn, week, &sum).await?;
        return Ok(Ingested {
            outcome: Outcome::Replaced,
            file: known,
            replaced,
            companies_added: 0,
        });
    }
    let parsed = Arc::new(parsed);
    let raw_key = ObjectPath::from(format!("intent/surge/raw/{sum}"));
    let week_key = ObjectPath::from(format!("intent/surge/weeks/{week}/{sum}.p360w"));
    // The compact week encoded (on both cores) and stored (36 MB take a
    // tenth of a second to write on a local disk) while the unknown
    // companies are counted and the file is recorded; it is in place
    // before the week points at it.
    let putting = {
        let parsed = parsed.clone();
        let (store, key) = (storage.store.clone(), week_key.clone());
        tokio::spawn(async move {
            let parts = tokio::task::spawn_blocking(move || format::encode_parts(&parsed)).await?;
            let payload: PutPayload = parts.into_iter().map(bytes::Bytes::from).collect();
            store.put(&key, payload).await?;
            Ok::<_, anyhow::Error>(())
        })
    };
    // Meanwhile the universe's domains are fetched and the week's unknown
    // companies counted (fetched during the parse, they took CPU from it),
    // and the raw file is archived.
    let known_domains = accounts::read::domains(conn).await?;
    let counting = {
        let parsed = parsed.clone();
        tokio::task::spawn_blocking(move || unknown(&parsed, known_domains))
    };
    match (input.as_ref(), staged, &storage.local_dir) {
        (_, Some(staged), Some(dir)) => staged
            .keep(dir, &raw_key)
            .map_err(|e| anyhow::anyhow!("cannot archive the file: {e}"))?,
        (Input::Scratch(path), _, Some(dir)) => {
            let (dir, path, key) = (dir.clone(), path.clone(), raw_key.clone());
            tokio::task::spawn_blocking(move || archive_scratch(&dir, &path, &key))
                .await
                .map_err(anyhow::Error::from)?
                .map_err(|e| anyhow::anyhow!("cannot archive the file: {e}"))?;
        }
        _ => archive(storage, &raw_key, &input).await?,
    }
    let unknown = counting.await.map_err(anyhow::Error::from)?;
    let file = SurgeFile {
        checksum: sum.clone(),
        sha256: sha256.map(str::to_string),
        week,
        source: source.as_str().to_string(),
        raw_key: raw_key.to_string(),
        week_key: week_key.to_string(),
        rows_read: counts.rows as i64,
        companies: parsed.profiles.len() as i64,
        topics: parsed.topics.len() as i64,
        scores: parsed.pairs() as i64,
        unusable_domains: counts.unusable_domains as i64,
        duplicates: counts.duplicates as i64,
        unknown_domains: unknown.len() as i64,
        received_at: chrono::Utc::now(),
    };
    let mut file = file;
    file.received_at = store::insert_file(conn, &file).await?;
    let names: Vec<&str> = parsed.topics.iter().map(|t| t.name.as_str()).collect();
    let categories: Vec<&str> = parsed.topics.iter().map(|t| t.category.as_str()).collect();
    store::upsert_topics(conn, week, &names, &categories).await?;
    let companies_added = if create_companies && !unknown.is_empty() {
        let new: Vec<NewCompany> = unknown
            .iter()
            .map(|i| new_company(&parsed.profiles[*i]))
            .collect();
        let added = accounts::companies::store::insert_new(conn, &new).await?;
        if added > 0 {
            accounts::companies::store::universe_changed(conn).await?;
        }
        added
    } else {
        0
    };
    putting.await.map_err(anyhow::Error::from)??;
    let replaced = store::set_week(conn, week, &sum).await?;
    remember(&sum, parsed);
    Ok(Ingested {
        outcome: if replaced.is_some() {
            Outcome::Replaced
        } else {
            Outcome::Ingested
        },
        file,
        replaced,
        companies_added,
    })
}

/// Ingest a file that `fetch` writes into `scratch` (a download, with no
/// transaction open; it answers the SHA-256 its source published for the
/// file and the download matched, if any) as week `week`, in a transaction
/// of its own, and remove it whatever happened. A file that did not ingest
/// is an [`IngestError`] in the error (`downcast_ref`).
#[allow(clippy::too_many_arguments)]
pub async fn ingest_fetched<Fut>(
    pool: &sqlx::PgPool,
    storage: &Storage,
    scratch: &std::path::Path,
    week: NaiveDate,
    source: Source,
    create_companies: bool,
    fetch: impl FnOnce(PathBuf) -> Fut,
) -> anyhow::Result<Ingested>
where
    Fut: std::future::Future<Output = anyhow::Result<Option<String>>>,
{
    use tenancy::scope::{AllTenants, ScopedTx};
    tokio::fs::create_dir_all(scratch).await?;
    let path = scratch.join(format!(
        "{}-{week}-{}",
        source.as_str(),
        crate::random_hex(8)
    ));
    let result = async {
        let sha256 = fetch(path.clone()).await?;
        let mut tx = ScopedTx::all(pool, AllTenants::system()).await?;
        let done = ingest(
            tx.conn(),
            storage,
            week,
            source,
            Input::Scratch(path.clone()),
            create_companies,
            sha256.as_deref(),
        )
        .await?;
        tx.commit().await?;
        anyhow::Ok(done)
    }
    .await;
    let _ = tokio::fs::remove_file(&path).await;
    result
}

/// The week's companies (their numbers) `known` (the universe's domains)
/// lacks.
fn unknown(week: &Week, known: Vec<String>) -> Vec<usize> {
    let known: rustc_hash::FxHashSet<&str> = known.iter().map(String::as_str).collect();
    week.profiles
        .iter()
        .enumerate()
        .filter(|(_, p)| !known.contains(p.domain.as_str()))
        .map(|(i, _)| i)
        .collect()
}

/// A company as the file describes it, within the universe's limits.
fn new_company(p: &super::Profile) -> NewCompany {
    let cut = |s: &Option<String>, n: usize| s.as_ref().map(|s| s.chars().take(n).collect());
    NewCompany {
        domain: p.domain.clone(),
        name: cut(&p.name, 300).unwrap_or_else(|| p.domain.clone()),
        aliases: Vec::new(),
        size: p.size,
        industry: cut(&p.industry, 200),
        country: cut(&p.country, 100),
    }
}

/// Weeks this instance holds in memory, by file checksum, the most recently
/// used last.
static HELD: Mutex<Vec<(String, Arc<Week>)>> = Mutex::new(Vec::new());
/// How many weeks an instance holds (a company's trend reads eight).
const HOLD: usize = 10;

fn remember(checksum: &str, week: Arc<Week>) {
    let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
    held.retain(|(c, _)| c != checksum);
    held.push((checksum.to_string(), week));
    if held.len() > HOLD {
        held.remove(0);
    }
}

/// The week of `file`, from memory or loaded from the object store.
pub async fn load(storage: &Storage, file: &SurgeFile) -> anyhow::Result<Arc<Week>> {
    let hit = {
        let held = HELD.lock().unwrap_or_else(|p| p.into_inner());
        held.iter()
            .find(|(c, _)| *c == file.checksum)
            .map(|(_, w)| w.clone())
    };
    if let Some(w) = hit {
        remember(&file.checksum, w.clone());
        return Ok(w);
    }
    let bytes = storage
        .store
        .get(&ObjectPath::from(file.week_key.as_str()))
        .await?
        .bytes()
        .await?;
    let week = tokio::task::spawn_blocking(move || format::decode(&bytes)).await??;
    let week = Arc::new(week);
    remember(&file.checksum, week.clone());
    Ok(week)
}

/// The latest week ingested, loaded (what audiences build from).
pub async fn latest(
    conn: &mut PgConnection,
    storage: &Storage,
) -> anyhow::Result<Option<Arc<Week>>> {
    match store::weeks(conn, None, 1).await?.first() {
        Some(file) => Ok(Some(load(storage, file).await?)),
        None => Ok(None),
    }
}
