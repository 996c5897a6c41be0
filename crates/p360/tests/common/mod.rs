//! Shared test harness: databases, the in-process app, and the real binary.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use platform::testing::{TestApp, TestDb};
pub use ports::free_port;

pub mod invoices;
mod ports;
pub mod salesforce;
pub mod ttd;

/// Where the harness keeps its embedded cluster when `P360_TEST_DATABASE_URL` is unset.
pub fn cluster_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("p360-test-pg")
}

pub async fn migrated_db() -> TestDb {
    TestDb::migrated(&cluster_dir())
        .await
        .expect("test database")
}

/// The app on a fresh migrated database with default configuration.
pub async fn spawn_app() -> (TestApp, TestDb) {
    spawn_app_with(|_| {}, platform::http::ApiRoutes::new()).await
}

pub async fn spawn_app_with(
    configure: impl FnOnce(&mut platform::config::PlatformConfig),
    routes: platform::http::ApiRoutes,
) -> (TestApp, TestDb) {
    let db = migrated_db().await;
    let mut config = platform::config::PlatformConfig::default();
    configure(&mut config);
    let app = TestApp::spawn(db.pool.clone(), config, routes)
        .await
        .expect("app starts");
    (app, db)
}

/// A scratch directory that postgres (when the tests run as root) can traverse.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let dir = base.join(format!("{tag}-{}", uuid_like()));
        std::fs::create_dir_all(&dir).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Never leave a cluster behind in a directory we delete.
        let data = self.0.join("var/postgres/data");
        if data.join("postmaster.pid").exists() {
            let _ = p360(&[
                "db",
                "stop",
                "--data-dir",
                self.0.join("var").to_str().unwrap(),
            ])
            .output();
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn uuid_like() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}-{t}", std::process::id())
}

/// The built `p360` binary with a clean `P360_*` environment.
pub fn p360(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_p360"));
    for (k, _) in std::env::vars() {
        if k.starts_with("P360_") {
            cmd.env_remove(k);
        }
    }
    cmd.args(args);
    cmd
}

/// Run `p360 ARGS`, assert it succeeded, and return its stdout.
pub fn p360_ok(args: &[&str]) -> String {
    let out = p360(args).output().expect("run p360");
    assert!(
        out.status.success(),
        "p360 {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// A running `p360 serve` process.
pub struct Served {
    pub child: Child,
    pub addr: String,
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Served {
    /// Start `p360 serve` on the data dir with a free port and wait for the "listening" line.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Served {
        Served::start_env(data_dir, extra, &[])
    }

    /// Like [`Served::start`], with extra environment variables.
    pub fn start_env(data_dir: &Path, extra: &[&str], env: &[(&str, String)]) -> Served {
        let mut cmd = p360(&[
            "serve",
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ]);
        cmd.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
        cmd.args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn p360 serve");
        let stdout = child.stdout.take().unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let log2 = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                    && v["message"] == "listening"
                {
                    let _ = tx.send(v["addr"].as_str().unwrap_or_default().to_string());
                }
                log2.lock().unwrap().push(line);
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "p360 serve did not start listening: {}\nstdout: {:?}",
                    String::from_utf8_lossy(&out.stderr),
                    log.lock().unwrap()
                );
            }
        };
        Served { child, addr, log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) with a pid we spawned.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// Wait for exit, with a bound; returns the exit code and how long it took.
    pub fn wait_exit(&mut self, limit: Duration) -> (Option<i32>, Duration) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code(), started.elapsed());
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                panic!("p360 did not exit within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.signal(libc::SIGTERM);
            let _ = self.wait_exit(Duration::from_secs(20));
        }
    }
}

/// On `served` (data dir `data`), the tenant `slug` created by a platform
/// admin: a token of its customer admin.
pub async fn served_tenant(served: &Served, data: &str, slug: &str) -> String {
    let admin = p360_ok(&["token", "--data-dir", data, "--role", "platform_admin"]);
    let res = reqwest::Client::new()
        .post(served.url("/v1/tenants"))
        .bearer_auth(admin.trim())
        .json(&serde_json::json!({"slug": slug, "name": slug}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let token = p360_ok(&[
        "token",
        "--data-dir",
        data,
        "--tenant",
        slug,
        "--role",
        "customer_admin",
    ]);
    token.trim().to_string()
}

/// `sql` run on the audit log of the embedded cluster of `data` by its
/// superuser, who first switches off the trigger that refuses changes (an
/// attacker with the database owner's powers), seeing every tenant.
pub fn tamper_audit(data: &str, sql: &str) {
    let url = p360_ok(&["db", "url", "--data-dir", data]);
    let psql = Command::new("psql")
        .args([
            url.trim(),
            "-XAtc",
            &format!(
                "BEGIN; ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete; \
                 SET LOCAL p360.all_tenants = 'on'; {sql} \
                 ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete; COMMIT;"
            ),
        ])
        .output()
        .unwrap();
    assert!(
        psql.status.success(),
        "{}",
        String::from_utf8_lossy(&psql.stderr)
    );
}

/// PostgreSQL server processes whose command line mentions `dir`.
pub fn postgres_processes_for(dir: &Path) -> Vec<String> {
    let needle = dir.to_str().unwrap();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let program = cmdline.split(' ').next().unwrap_or_default();
        if program.ends_with("/postgres") && cmdline.contains(needle) {
            found.push(cmdline);
        }
    }
    found
}

/// Publish `body` as week `w` in the Bombora sandbox at `base`.
pub async fn put_week(base: &str, w: &str, body: String) {
    let res = reqwest::Client::new()
        .put(format!("{base}/_sandbox/weeks/{w}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
}

pub async fn get(url: &str) -> reqwest::Response {
    reqwest::get(url).await.expect("request")
}

pub fn is_problem(res: &reqwest::Response) -> bool {
    res.headers()
        .get("content-type")
        .is_some_and(|v| v == "application/problem+json")
}

/// The app with the tenancy capability, its development issuer, and helpers
/// to act as different people.
pub struct Platform {
    pub app: TestApp,
    pub db: TestDb,
    pub dev: tenancy::auth::dev::DevIssuer,
    pub data: TempDir,
    pub client: reqwest::Client,
    /// The configuration the app runs with.
    pub config: p360::Config,
}

impl Platform {
    pub async fn start() -> Platform {
        Platform::start_with(|_| {}).await
    }

    pub async fn start_with(configure: impl FnOnce(&mut p360::Config)) -> Platform {
        Platform::start_with_db(|config, _| configure(config)).await
    }

    /// As [`Platform::start_with`], the configuration made knowing the
    /// test's database.
    pub async fn start_with_db(configure: impl FnOnce(&mut p360::Config, &TestDb)) -> Platform {
        let data = TempDir::new("platform");
        let db = migrated_db().await;
        let mut config = p360::Config::default();
        config.platform.data_dir = data.path().to_path_buf();
        configure(&mut config, &db);
        // The app queries as the application role, as `p360 serve` does.
        let pool = platform::db::connect_app(&db.url, &config.platform.database).unwrap();
        let app = p360::spawn_app(pool, config.clone())
            .await
            .expect("app starts");
        let dev = tenancy::auth::dev::DevIssuer::load_or_create(data.path()).unwrap();
        Platform {
            app,
            db,
            dev,
            data,
            client: reqwest::Client::new(),
            config,
        }
    }

    /// A development token for `email` with `role` (in `tenant`, for customers).
    pub fn token(&self, role: &str, tenant: Option<&str>, email: &str) -> String {
        self.dev
            .mint(&tenancy::auth::dev::DevClaims {
                tenant: tenant.map(str::to_owned),
                role: role.into(),
                email: email.into(),
                ttl_secs: 600,
            })
            .unwrap()
    }

    pub fn admin(&self) -> String {
        self.token("platform_admin", None, "admin@agency.test")
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let mut req = self.client.request(method, self.app.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let text = res.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, json)
    }

    /// POST as agency staff (a platform admin) acting in `tenant`, through
    /// the `P360-Tenant` header: what only staff may do there, such as
    /// writing an insertion order's terms.
    pub async fn post_as_staff(
        &self,
        tenant: &str,
        path: &str,
        body: serde_json::Value,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let res = self
            .client
            .post(self.app.url(path))
            .bearer_auth(self.admin())
            .header(tenancy::principal::TENANT_HEADER, tenant)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = res.status();
        let text = res.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, json)
    }

    pub async fn get(&self, path: &str, token: &str) -> (reqwest::StatusCode, serde_json::Value) {
        self.call(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    pub async fn post(
        &self,
        path: &str,
        token: &str,
        body: serde_json::Value,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        self.call(reqwest::Method::POST, path, Some(token), Some(body))
            .await
    }

    /// POST `body` as a `text/csv` file to `path` (a path and query).
    pub async fn post_csv(
        &self,
        path: &str,
        token: &str,
        body: Vec<u8>,
    ) -> (u16, serde_json::Value) {
        let res = self
            .client
            .post(self.app.url(path))
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body(body)
            .send()
            .await
            .expect("request");
        (res.status().as_u16(), res.json().await.unwrap_or_default())
    }

    /// Load the sample company universe (`data/sample/companies.csv`).
    pub async fn sample_universe(&self) {
        let sample = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample/companies.csv"),
        )
        .unwrap();
        let mut conn = self.db.pool.acquire().await.unwrap();
        let report = accounts::companies::service::import(&mut conn, &sample)
            .await
            .unwrap();
        assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    }

    /// Load the generated universe's first `count` companies (seed `seed`)
    /// and their IP ranges (`accounts::generate`).
    pub async fn generated_universe(&self, count: u64, seed: u64) {
        let mut companies = Vec::new();
        accounts::generate::companies(count, seed, &mut companies).unwrap();
        let mut ranges = Vec::new();
        accounts::generate::ip_ranges(count, seed, &mut ranges).unwrap();
        let mut conn = self.db.pool.acquire().await.unwrap();
        accounts::companies::service::import(&mut conn, &companies)
            .await
            .unwrap();
        let r = accounts::ranges::service::import(&mut conn, &ranges)
            .await
            .unwrap();
        assert!(r.skipped.is_empty(), "{:?}", r.skipped);
    }

    /// Create a tenant as platform admin; returns its id.
    pub async fn tenant(&self, slug: &str) -> String {
        let (s, body) = self
            .post(
                "/v1/tenants",
                &self.admin(),
                serde_json::json!({"slug": slug, "name": slug}),
            )
            .await;
        assert_eq!(s, 201, "{body}");
        body["id"].as_str().unwrap().to_string()
    }
}

/// A `moto_server` (PyPI moto[server]) on a free port, stopped when dropped:
/// the S3- and SQS-compatible server the tests talk to.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub async fn start() -> Moto {
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server (PyPI moto[server])");
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while reqwest::get(format!("{}/moto-api/", moto.endpoint))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "moto_server did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        moto
    }

    /// SQS settings for this server, with queues `{prefix}{q}` and
    /// `{prefix}{q}-dlq` created for each of `queues`.
    pub async fn sqs(&self, prefix: &str, queues: &[&str]) -> platform::config::SqsConfig {
        let cfg = platform::config::SqsConfig {
            queue_prefix: prefix.into(),
            region: Some("us-east-1".into()),
            endpoint: Some(self.endpoint.clone()),
            access_key_id: Some("testing".into()),
            secret_access_key: Some("testing".to_string().into()),
        };
        let client = platform::jobs::sqs::client(&cfg).await;
        for q in queues {
            for name in [format!("{prefix}{q}"), format!("{prefix}{q}-dlq")] {
                client
                    .create_queue()
                    .queue_name(&name)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("create {name}: {e:?}"));
            }
        }
        cfg
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The newest migration this binary knows.
pub fn latest_migration() -> i64 {
    platform::db::MIGRATOR
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap()
}

/// How many migrations come after `version` (to go back to it with `migrate down`).
pub fn migrations_after(version: i64) -> usize {
    platform::db::MIGRATOR
        .iter()
        .filter(|m| m.version > version && m.migration_type.is_up_migration())
        .count()
}

/// How many migrations are classed contract.
pub fn contract_migrations() -> usize {
    platform::db::MIGRATION_CLASSES
        .iter()
        .filter(|(_, c, _)| *c == platform::db::MigrationClass::Contract)
        .count()
}

/// The Prometheus text an app's `/metrics` answers now.
pub async fn scrape(app: &TestApp) -> String {
    let res = get(&app.url("/metrics")).await;
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

/// One sample of a Prometheus text exposition: `series` is the name with its
/// labels (`p360_ttd_sync_total{object="campaign",outcome="synced"}`, in any
/// order). 0 when absent: a counter nobody has incremented yet.
pub fn sample(text: &str, series: &str) -> f64 {
    let wanted = parse_series(series);
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .find(|(s, _)| parse_series(s) == wanted)
        .map_or(0.0, |(_, v)| v.parse().expect("a sample value"))
}

/// A series' name and its labels, sorted.
fn parse_series(series: &str) -> (String, Vec<(String, String)>) {
    let Some((name, labels)) = series.split_once('{') else {
        return (series.trim().to_string(), Vec::new());
    };
    let mut parsed = Vec::new();
    let mut rest = labels.trim_end().strip_suffix('}').unwrap_or(labels);
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => value.extend(chars.next().map(|(_, c)| c)),
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        parsed.push((key.trim_start_matches(',').to_string(), value));
        rest = &after[end..];
    }
    parsed.sort();
    (name.to_string(), parsed)
}

/// How much `series` grew between two scrapes. The recorder is process-wide
/// (under `cargo test` every test's app shares it), so a test asserts on what
/// moved while it acted, never on a series merely being present.
pub fn delta(before: &str, after: &str, series: &str) -> f64 {
    sample(after, series) - sample(before, series)
}

/// The text of a gzip file.
pub fn gunzip(path: &Path) -> String {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text
}
