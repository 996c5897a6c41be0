//! A private PostgreSQL cluster under `DATA_DIR/postgres`, started from the
//! system's server binaries when no database URL is configured.
//!
//! Layout: `postgres/data` (PGDATA), `postgres/run` (the unix socket; no TCP),
//! `postgres/server.log`, and two lock files.
//!
//! Sharing, "last one out turns off the lights": every p360 process using the
//! cluster holds a shared lock on `postgres/users.lock` for as long as it uses
//! it. Starting and stopping happen under an exclusive lock on
//! `postgres/manage.lock`, held only for those moments. A process that is done
//! stops the cluster only if it can take `users.lock` exclusively, i.e. nobody
//! else is using it; otherwise it leaves it running for the others, and the last
//! of them stops it. Locks die with their process, so a killed process never
//! blocks anyone; a cluster it left running is adopted by the next user.
//! PostgreSQL refuses to run as root, so under root every server command runs
//! as the `postgres` system user.

use std::ffi::OsStr;
use std::fs::{File, TryLockError};

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use sqlx::Connection;

/// The database the platform uses inside the embedded cluster.
pub const DATABASE: &str = "p360";
/// The cluster's superuser (trust authentication over its private socket).
pub const SUPERUSER: &str = "postgres";
/// The port in the socket's name (the cluster listens on no TCP port).
pub const PORT: u16 = 5432;
/// Unix socket paths are limited to 107 bytes on Linux.
const MAX_SOCKET_PATH: usize = 100;

/// Whether this process stops the cluster when it is done with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// Start (or adopt) and stop on [`EmbeddedPostgres::stop`]. Used by every p360 command.
    Owned,
    /// Start (or adopt) and leave running; used by the test harness, stopped by `p360 db stop`.
    Detached,
}

#[derive(Debug, Clone)]
struct RunAs {
    name: String,
    uid: u32,
    gid: u32,
}

/// Paths of the embedded cluster of one data dir.
#[derive(Debug, Clone)]
pub struct ClusterPaths {
    pub root: PathBuf,
    pub data: PathBuf,
    pub socket_dir: PathBuf,
    pub log_file: PathBuf,
    pub manage_lock: PathBuf,
    pub users_lock: PathBuf,
}

impl ClusterPaths {
    pub fn new(data_dir: &Path) -> Result<ClusterPaths> {
        let base = std::path::absolute(data_dir)
            .with_context(|| format!("data dir {}", data_dir.display()))?;
        let root = base.join("postgres");
        Ok(ClusterPaths {
            data: root.join("data"),
            socket_dir: root.join("run"),
            log_file: root.join("server.log"),
            manage_lock: root.join("manage.lock"),
            users_lock: root.join("users.lock"),
            root,
        })
    }

    fn socket_file(&self) -> PathBuf {
        self.socket_dir.join(format!(".s.PGSQL.{PORT}"))
    }

    /// Connection URL for `dbname` over the cluster's unix socket (works for sqlx and libpq).
    pub fn url(&self, dbname: &str) -> String {
        let host: String =
            url::form_urlencoded::byte_serialize(self.socket_dir.as_os_str().as_encoded_bytes())
                .collect();
        format!("postgresql://{SUPERUSER}@localhost:{PORT}/{dbname}?host={host}")
    }

    fn initialized(&self) -> bool {
        self.data.join("PG_VERSION").is_file()
    }
}

/// How a server this process starts runs.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// WAL archiving: PostgreSQL runs the command (as the server's user;
    /// `%p` is the segment) for every finished segment, and switches
    /// segments at least every so many seconds.
    pub archive: Option<(String, u64)>,
    /// Added to the server's environment, for its archive and restore
    /// commands (e.g. a backup repository's credentials: never on a
    /// command line).
    pub env: Vec<(&'static str, secrecy::SecretString)>,
}

/// A running embedded cluster this process uses.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    paths: ClusterPaths,
    server: ServerTools,
    options: ServerOptions,
    /// This process started the server (rather than joining a running one).
    started_here: bool,
    /// Shared lock on `users.lock`: this process uses the cluster.
    user_lock: Option<File>,
    /// Whether this process stops the cluster when done (if nobody else uses it).
    owned: bool,
}

impl EmbeddedPostgres {
    /// Start the cluster of `data_dir` (initialising it on first use), adopt one
    /// left running, or use the one another live p360 process manages. A
    /// server this process starts runs with `options`.
    pub async fn start(
        data_dir: &Path,
        bin_dir: Option<&Path>,
        ownership: Ownership,
        options: ServerOptions,
    ) -> Result<EmbeddedPostgres> {
        let paths = ClusterPaths::new(data_dir)?;
        let server = ServerTools::locate(bin_dir)?;
        prepare_dirs(data_dir, &paths, server.run_as.as_ref())?;
        if paths.socket_file().as_os_str().len() > MAX_SOCKET_PATH {
            bail!(
                "data dir path too long for a unix socket ({}); use a shorter --data-dir",
                paths.socket_file().display()
            );
        }
        let mut pg = EmbeddedPostgres {
            paths,
            server,
            options,
            started_here: false,
            user_lock: None,
            owned: false,
        };
        let manage = pg
            .lock_exclusive_blocking(&pg.paths.manage_lock.clone())
            .await?;
        let users = open_lock_file(&pg.paths.users_lock)?;
        users
            .lock_shared()
            .with_context(|| format!("cannot lock {}", pg.paths.users_lock.display()))?;
        pg.user_lock = Some(users);
        // From here on `Drop` stops what this start began if it is cut short.
        pg.owned = ownership == Ownership::Owned;
        let started = pg.start_managed().await;
        drop(manage);
        started?;
        if ownership == Ownership::Detached {
            pg.user_lock = None;
        }
        Ok(pg)
    }

    /// The cluster of `config.data_dir`, as every p360 command uses it:
    /// owned, archiving its WAL into the backup repository unless backups
    /// are off, whose stanza is created when this process starts the server
    /// (or finds a local repository without it).
    pub async fn start_configured(
        config: &crate::config::PlatformConfig,
    ) -> Result<EmbeddedPostgres> {
        let repo = pgbackrest::Repo::from_config(config)?;
        if let Some(repo) = &repo {
            repo.prepare()?;
        }
        let pg = EmbeddedPostgres::start(
            &config.data_dir,
            config.database.postgres_bin_dir.as_deref(),
            Ownership::Owned,
            repo.as_ref()
                .map(|r| r.server_options())
                .unwrap_or_default(),
        )
        .await?;
        if let Some(repo) = &repo
            && (pg.started_here() || (repo.local_path().is_some() && !repo.has_stanza()))
            && let Err(e) = repo.ensure_stanza().await
        {
            pg.stop().await.ok();
            return Err(e);
        }
        Ok(pg)
    }

    /// Take an exclusive lock, waiting (off the async threads) for whoever holds it.
    async fn lock_exclusive_blocking(&self, path: &Path) -> Result<File> {
        let file = open_lock_file(path)?;
        let shown = path.display().to_string();
        tokio::task::spawn_blocking(move || {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(TryLockError::WouldBlock) => {
                    tracing::info!(lock = %shown, "another p360 process is starting or stopping the cluster; waiting");
                }
                Err(TryLockError::Error(e)) => return Err(e),
            }
            file.lock().map(|()| file)
        })
        .await?
        .with_context(|| format!("cannot lock {}", path.display()))
    }

    /// URL of the platform database.
    pub fn url(&self) -> String {
        self.paths.url(DATABASE)
    }

    pub fn paths(&self) -> &ClusterPaths {
        &self.paths
    }

    /// Whether this process started the server (rather than joining one).
    pub fn started_here(&self) -> bool {
        self.started_here
    }

    /// Whether the cluster's server takes a connection on its socket: the
    /// common case of a command joining a running cluster, told in a few
    /// milliseconds (`pg_ctl status` as the cluster's user takes a tenth of
    /// a second).
    async fn accepts_connections(&self) -> bool {
        if !self.paths.initialized() || !self.paths.socket_file().exists() {
            return false;
        }
        match sqlx::PgConnection::connect(&self.paths.url("postgres")).await {
            Ok(conn) => {
                conn.close().await.ok();
                true
            }
            Err(_) => false,
        }
    }

    async fn start_managed(&mut self) -> Result<()> {
        if self.accepts_connections().await || self.server.is_running(&self.paths).await? {
            tracing::info!(dir = %self.paths.data.display(), "using running embedded PostgreSQL");
        } else {
            if !self.paths.initialized() {
                if self.paths.data.exists() {
                    // An initdb that never finished (its process was killed): start over.
                    std::fs::remove_dir_all(&self.paths.data).with_context(|| {
                        format!(
                            "cannot remove incomplete cluster {}",
                            self.paths.data.display()
                        )
                    })?;
                }
                self.initdb().await?;
            }
            let started = Instant::now();
            let mut opts = format!(
                "-k {} -c listen_addresses='' -p {PORT}",
                shell_quote(&self.paths.socket_dir)?
            );
            if let Some((command, timeout_secs)) = &self.options.archive {
                // pg_ctl hands the options to a shell: one single-quoted word.
                if command.contains('\'') {
                    bail!("the archive command must not contain a single quote");
                }
                opts.push_str(&format!(
                    " -c archive_mode=on -c archive_timeout={timeout_secs} -c 'archive_command={command}'"
                ));
            }
            let p = &self.paths;
            self.server
                .run_with_env(
                    "pg_ctl",
                    &self.options.env,
                    &[
                        OsStr::new("start"),
                        OsStr::new("-w"),
                        OsStr::new("-t"),
                        OsStr::new("60"),
                        OsStr::new("-D"),
                        p.data.as_os_str(),
                        OsStr::new("-l"),
                        p.log_file.as_os_str(),
                        OsStr::new("-o"),
                        OsStr::new(&opts),
                    ],
                )
                .await
                .with_context(|| {
                    format!(
                        "embedded PostgreSQL did not start (see {})",
                        self.paths.log_file.display()
                    )
                })?;
            self.started_here = true;
            tracing::info!(
                dir = %self.paths.data.display(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                archiving = self.options.archive.is_some(),
                "embedded PostgreSQL started"
            );
        }
        self.ensure_database().await
    }

    async fn initdb(&self) -> Result<()> {
        let started = Instant::now();
        let args: [&OsStr; 8] = [
            OsStr::new("-D"),
            self.paths.data.as_os_str(),
            OsStr::new("-U"),
            OsStr::new(SUPERUSER),
            OsStr::new("--auth=trust"),
            OsStr::new("--encoding=UTF8"),
            OsStr::new("--locale=C.UTF-8"),
            OsStr::new("--no-instructions"),
        ];
        self.server.run("initdb", &args).await?;
        tracing::info!(
            dir = %self.paths.data.display(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "initialised embedded PostgreSQL cluster"
        );
        Ok(())
    }

    async fn ensure_database(&self) -> Result<()> {
        let mut conn = sqlx::PgConnection::connect(&self.paths.url("postgres"))
            .await
            .context("cannot connect to embedded PostgreSQL")?;
        let exists: bool = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS "exists!""#,
            DATABASE
        )
        .fetch_one(&mut conn)
        .await?;
        if !exists {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {DATABASE}")))
                .execute(&mut conn)
                .await
                .context("cannot create the p360 database")?;
        }
        conn.close().await.ok();
        Ok(())
    }

    /// Done with the cluster: stop it if this process owns it and nobody else
    /// uses it; otherwise leave it running for the others.
    pub async fn stop(mut self) -> Result<()> {
        if !self.owned {
            self.user_lock = None;
            return Ok(());
        }
        self.owned = false;
        let manage = self
            .lock_exclusive_blocking(&self.paths.manage_lock.clone())
            .await?;
        // Upgrade our shared lock: only possible when no other process holds one.
        let users = self
            .user_lock
            .take()
            .expect("an owner holds the users lock");
        match users.try_lock() {
            Ok(()) => self.server.stop(&self.paths).await?,
            Err(TryLockError::WouldBlock) => {
                tracing::info!(
                    dir = %self.paths.data.display(),
                    "embedded PostgreSQL still used by another p360 process; leaving it running"
                );
            }
            Err(TryLockError::Error(e)) => return Err(e.into()),
        }
        drop(users);
        drop(manage);
        Ok(())
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        // A panic, error or cancelled start must not leave an owned cluster
        // behind; but never stop it under another user's feet.
        let alone = self
            .user_lock
            .as_ref()
            .is_some_and(|f| f.try_lock().is_ok());
        if self.owned && alone {
            let out = self
                .server
                .command("pg_ctl", &stop_args(&self.paths))
                .output();
            if let Err(e) = out {
                eprintln!("error: cannot stop embedded PostgreSQL: {e}");
            }
        }
    }
}

/// URL of the cluster of `data_dir` if its server is running, for `p360 db url`.
pub async fn running_url(data_dir: &Path) -> Result<Option<String>> {
    let paths = ClusterPaths::new(data_dir)?;
    if !paths.initialized() || !paths.socket_file().exists() {
        return Ok(None);
    }
    let url = paths.url(DATABASE);
    match sqlx::PgConnection::connect(&url).await {
        Ok(conn) => {
            conn.close().await.ok();
            Ok(Some(url))
        }
        Err(_) => Ok(None),
    }
}

/// Stop the cluster of `data_dir` whoever started it (`p360 db stop`).
/// Refuses while a live p360 process owns it.
pub async fn stop_data_dir(data_dir: &Path, bin_dir: Option<&Path>) -> Result<bool> {
    let paths = ClusterPaths::new(data_dir)?;
    if !paths.initialized() {
        return Ok(false);
    }
    let users = open_lock_file(&paths.users_lock)?;
    match users.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => bail!(
            "the cluster in {} is in use by a running p360 process; stop that process instead",
            paths.root.display()
        ),
        Err(TryLockError::Error(e)) => return Err(e.into()),
    }
    let server = ServerTools::locate(bin_dir)?;
    if !server.is_running(&paths).await? {
        return Ok(false);
    }
    server.stop(&paths).await?;
    Ok(true)
}

pub mod backups;
pub mod pgbackrest;
mod tools;

use tools::*;
pub use tools::{
    client_program, find_server_binaries, hand_to_server_user, server_user_command, server_user_dir,
};
