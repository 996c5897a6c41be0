//! Test support: a fresh database per test, cloned from a migrated template and
//! always dropped afterwards.
//!
//! The server is `P360_TEST_DATABASE_URL` (any database on it; the harness
//! creates and drops its own), or else an embedded cluster started through the
//! same code `p360 serve` uses, under a directory the caller names, left running
//! for the next test process (`p360 db stop --data-dir DIR` stops it).

use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, Result};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

use crate::embedded_pg::{EmbeddedPostgres, Ownership};

/// A database that exists for one test.
pub struct TestDb {
    pub pool: PgPool,
    pub url: String,
    name: String,
    admin_url: String,
}

impl TestDb {
    /// A fresh, fully migrated database. `cluster_dir` is used only when
    /// `P360_TEST_DATABASE_URL` is unset.
    pub async fn migrated(cluster_dir: &Path) -> Result<TestDb> {
        TestDb::create(cluster_dir, true).await
    }

    /// A fresh, empty database (no migrations applied).
    pub async fn empty(cluster_dir: &Path) -> Result<TestDb> {
        TestDb::create(cluster_dir, false).await
    }

    async fn create(cluster_dir: &Path, migrated: bool) -> Result<TestDb> {
        let admin_url = admin_url(cluster_dir).await?;
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .context("cannot connect to the test PostgreSQL server")?;
        sweep_abandoned(&mut admin).await?;
        let name = format!(
            "p360_test_{}_{}",
            std::process::id(),
            uuid::Uuid::now_v7().simple()
        );
        if migrated {
            let template = ensure_template(&mut admin, &admin_url).await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "CREATE DATABASE {name} TEMPLATE {template}"
            )))
            .execute(&mut admin)
            .await?;
        } else {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut admin)
                .await?;
        }
        admin.close().await.ok();
        let url = with_database(&admin_url, &name)?;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(5)
            .connect(&url)
            .await?;
        Ok(TestDb {
            pool,
            url,
            name,
            admin_url,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin_url = self.admin_url.clone();
        // Drop runs inside the test's runtime, which is blocked here: use a thread
        // with its own runtime, and leave the pool alone (its connections are
        // driven by the blocked runtime); FORCE ends them server-side.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let mut admin = PgConnection::connect(&admin_url).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await?;
                anyhow::Ok(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("warning: test database {} was not dropped", self.name);
        }
    }
}

/// Drop test databases left by test processes that died before their `Drop`
/// ran (killed, aborted). The creating process id is part of the name.
async fn sweep_abandoned(admin: &mut PgConnection) -> Result<()> {
    let names: Vec<String> = sqlx::query_scalar!(
        r#"SELECT datname::text AS "name!" FROM pg_database WHERE datname LIKE 'p360\_test\_%'"#
    )
    .fetch_all(&mut *admin)
    .await?;
    for name in names {
        let pid = name.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
        let abandoned = match pid {
            Some(pid) => !Path::new(&format!("/proc/{pid}")).exists(),
            None => true,
        };
        if abandoned {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut *admin)
            .await?;
        }
    }
    Ok(())
}

async fn admin_url(cluster_dir: &Path) -> Result<String> {
    if let Ok(url) = std::env::var("P360_TEST_DATABASE_URL") {
        return Ok(url);
    }
    let pg =
        EmbeddedPostgres::start(cluster_dir, None, Ownership::Detached, Default::default()).await?;
    Ok(pg.paths().url("postgres"))
}

fn with_database(url: &str, name: &str) -> Result<String> {
    let opts = PgConnectOptions::from_str(url)?.database(name);
    Ok(opts.to_url_lossy().to_string())
}

/// The template for migrated test databases, named after the migrations it
/// holds so that a changed migration gets a new one. Created once per server,
/// under an advisory lock because test processes run in parallel.
async fn ensure_template(admin: &mut PgConnection, admin_url: &str) -> Result<String> {
    let mut hasher = std::hash::DefaultHasher::new();
    for m in crate::db::MIGRATOR.iter() {
        std::hash::Hash::hash(&m.version, &mut hasher);
        std::hash::Hash::hash(&*m.checksum, &mut hasher);
    }
    let name = format!("p360_tpl_{:016x}", std::hash::Hasher::finish(&hasher));
    sqlx::query!("SELECT pg_advisory_lock(3600360)")
        .execute(&mut *admin)
        .await?;
    let result = async {
        let exists: bool = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS "exists!""#,
            &name
        )
        .fetch_one(&mut *admin)
        .await?;
        if !exists {
            let building = format!("{name}_building");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {building}"
            )))
            .execute(&mut *admin)
            .await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {building}")))
                .execute(&mut *admin)
                .await?;
            let url = with_database(admin_url, &building)?;
            let mut conn = PgConnection::connect(&url).await?;
            crate::db::MIGRATOR.run(&mut conn).await?;
            conn.close().await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "ALTER DATABASE {building} RENAME TO {name}"
            )))
            .execute(&mut *admin)
            .await?;
        }
        anyhow::Ok(())
    }
    .await;
    sqlx::query_scalar!("SELECT pg_advisory_unlock(3600360)")
        .fetch_one(&mut *admin)
        .await?;
    result?;
    Ok(name)
}

/// The real application, served in-process on an ephemeral loopback port.
pub struct TestApp {
    pub addr: std::net::SocketAddr,
    pub state: crate::http::AppState,
    shutdown: crate::shutdown::Shutdown,
    server: tokio::task::JoinHandle<Result<()>>,
}

impl TestApp {
    /// Serve the app on `pool` with `config` (its `http.listen` is replaced by
    /// port 0) and extra `routes`.
    pub async fn spawn(
        pool: PgPool,
        config: crate::config::PlatformConfig,
        routes: crate::http::ApiRoutes,
    ) -> Result<TestApp> {
        TestApp::spawn_with(pool, config, |_| Ok(routes)).await
    }

    /// Like [`TestApp::spawn`], with routes built from the app state (as `p360 serve` does).
    pub async fn spawn_with(
        pool: PgPool,
        config: crate::config::PlatformConfig,
        routes: impl FnOnce(&crate::http::AppState) -> Result<crate::http::ApiRoutes>,
    ) -> Result<TestApp> {
        TestApp::spawn_wrapped(pool, config, routes, |r| r).await
    }

    /// Like [`TestApp::spawn_with`], with `wrap` around every route inside
    /// the request middleware (see [`crate::http::router_with`]).
    pub async fn spawn_wrapped(
        pool: PgPool,
        mut config: crate::config::PlatformConfig,
        routes: impl FnOnce(&crate::http::AppState) -> Result<crate::http::ApiRoutes>,
        wrap: impl FnOnce(axum::Router<crate::http::AppState>) -> axum::Router<crate::http::AppState>,
    ) -> Result<TestApp> {
        config.http.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let listener = crate::server::bind(config.http.listen).await?;
        let addr = listener.local_addr()?;
        // Where it listens, as a server's own configuration says (what it
        // serves in-process, a partner sandbox, is reached there).
        config.http.listen = addr;
        let build = crate::telemetry::BuildInfo {
            version: "test",
            git_sha: "test",
        };
        let state = crate::http::AppState::new(pool, std::sync::Arc::new(config), build).await?;
        let shutdown = crate::shutdown::Shutdown::manual();
        let app = crate::http::router_with(state.clone(), routes(&state)?, wrap);
        let server = tokio::spawn(crate::server::serve(
            listener,
            app,
            state.clone(),
            shutdown.clone(),
        ));
        Ok(TestApp {
            addr,
            state,
            shutdown,
            server,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Begin a graceful shutdown and wait for the server to finish draining.
    pub async fn stop(self) -> Result<()> {
        self.shutdown.trigger();
        self.server.await.context("server task panicked")?
    }

    /// Begin a graceful shutdown without waiting for it.
    pub fn trigger_shutdown(&self) {
        self.shutdown.trigger();
    }
}
