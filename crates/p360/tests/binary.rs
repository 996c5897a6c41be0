//! The real `p360` binary on its embedded defaults: start, serve, stop, and
//! the one-line errors of bad input.

mod common;

use std::time::Duration;

use common::*;

#[tokio::test]
async fn serve_on_embedded_defaults_then_sigterm_then_migrate_commands() {
    let tmp = TempDir::new("serve");
    let data = tmp.path().join("var");
    let data_s = data.to_str().unwrap();

    let mut served = Served::start(&data, &[]);
    assert_eq!(get(&served.url("/health/live")).await.status(), 200);
    assert_eq!(get(&served.url("/health/ready")).await.status(), 200);
    let res = get(&served.url("/no/such/route")).await;
    assert_eq!(res.status(), 404);
    assert!(is_problem(&res));
    let metrics = get(&served.url("/metrics")).await.text().await.unwrap();
    assert!(metrics.contains("p360_http_requests_total{route=\"/health/live\""));
    let doc: serde_json::Value = get(&served.url("/openapi.json"))
        .await
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(
        !postgres_processes_for(&data).is_empty(),
        "the embedded cluster runs"
    );

    // Access logs are JSON lines with the request id, method, route, status and latency.
    let logs = served.log.lock().unwrap().clone();
    let access = logs
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "request" && v["route"] == "/health/ready")
        .expect("an access log line");
    assert_eq!(access["method"], "GET");
    assert_eq!(access["status"], 200);
    assert!(access["latency_ms"].is_number());
    assert!(access["span"]["request_id"].is_string());

    // While serve runs, `db url` gives a URL psql (libpq) can use.
    let url = p360_ok(&["db", "url", "--data-dir", data_s])
        .trim()
        .to_string();
    let psql = std::process::Command::new("psql")
        .args([&url, "-XAtc", "SELECT count(*) FROM platform_instance"])
        .output()
        .unwrap();
    assert!(
        psql.status.success(),
        "{}",
        String::from_utf8_lossy(&psql.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&psql.stdout).trim(), "1");

    // A second command on the same data dir reuses the running cluster and leaves it running.
    let status = p360_ok(&["migrate", "status", "--data-dir", data_s]);
    assert!(status.contains("applied"), "{status}");
    assert_eq!(get(&served.url("/health/ready")).await.status(), 200);

    served.signal(libc::SIGTERM);
    let (code, took) = served.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(10));
    assert!(
        postgres_processes_for(&data).is_empty(),
        "cluster stopped with serve"
    );
    assert!(!data.join("postgres/data/postmaster.pid").exists());

    // `db url` with nothing running says so.
    let out = p360(&["db", "url", "--data-dir", data_s]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no PostgreSQL cluster is running"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    for (args, expect) in [
        (["migrate", "status"], "applied"),
        (["migrate", "down"], "reverted"),
        (["migrate", "status"], "pending"),
        (["migrate", "up"], "applied"),
    ] {
        let stdout = p360_ok(&[args[0], args[1], "--data-dir", data_s]);
        assert!(stdout.contains(expect), "{args:?}: {stdout}");
        assert!(
            postgres_processes_for(&data).is_empty(),
            "{args:?} left PostgreSQL running"
        );
    }
}

#[tokio::test]
async fn sigint_during_serve_also_exits_cleanly() {
    let tmp = TempDir::new("sigint");
    let data = tmp.path().join("var");
    p360_ok(&["migrate", "up", "--data-dir", data.to_str().unwrap()]);
    let mut served = Served::start(&data, &["--no-migrate"]);
    assert_eq!(get(&served.url("/health/ready")).await.status(), 200);
    served.signal(libc::SIGINT);
    let (code, _) = served.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert!(postgres_processes_for(&data).is_empty());
}

#[test]
fn port_in_use_is_one_clear_line() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = holder.local_addr().unwrap().to_string();
    let tmp = TempDir::new("port");
    let data = tmp.path().join("var");
    let out = p360(&[
        "serve",
        "--data-dir",
        data.to_str().unwrap(),
        "--listen",
        &addr,
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!("error: cannot listen on {addr}")),
        "{err}"
    );
    assert!(err.to_lowercase().contains("in use"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        !data.join("postgres").exists(),
        "no cluster started for a failed bind"
    );
}

#[test]
fn bad_configuration_is_one_line_naming_the_key() {
    let tmp = TempDir::new("cfg");
    let file = tmp.path().join("p360.toml");
    std::fs::write(
        &file,
        "[http]\nlisten = \"127.0.0.1:9\"\n[databse]\nurl = \"x\"\n",
    )
    .unwrap();
    // (environment, arguments, what the error line must name)
    type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![("P360_HTTP__LISTN", "1.2.3.4:5")],
            vec!["config"],
            "`http.listn`",
        ),
        (
            vec![("P360_DATABASE__MAX_CONNECTIONS", "lots")],
            vec!["config"],
            "`database.max_connections`",
        ),
        (
            vec![("P360_LOG__FORMAT", "xml")],
            vec!["config"],
            "`log.format`",
        ),
        (
            vec![],
            vec!["--config", file.to_str().unwrap(), "config"],
            "`databse`",
        ),
        (
            vec![("P360_CONFIG", "/nonexistent/p360.toml")],
            vec!["config"],
            "cannot read config file",
        ),
    ];
    for (env, args, expect) in cases {
        let mut cmd = p360(&args);
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{env:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("error: "), "{err}");
        assert!(err.contains(expect), "{env:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn config_command_redacts_secrets() {
    let out = p360(&["config"])
        .env(
            "P360_DATABASE__URL",
            "postgres://app:s3cr3t-pw@db.internal/p360",
        )
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("s3cr3t-pw"), "{text}");
    assert!(text.contains("db.internal"), "{text}");
    assert!(text.contains("[http]"), "{text}");
    let parsed: toml::Table = text.parse().expect("config output is TOML");
    assert!(parsed.contains_key("database"));
}

#[test]
fn unwritable_data_dir_is_one_clear_line() {
    // A path below a regular file cannot be created, even by root.
    let tmp = TempDir::new("unwritable");
    let file = tmp.path().join("plain-file");
    std::fs::write(&file, "").unwrap();
    let data = file.join("var");
    let out = p360(&["migrate", "status", "--data-dir", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot create data dir"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn configured_url_starts_no_cluster() {
    let tmp = TempDir::new("url");
    let data = tmp.path().join("var");
    // Nothing listens on this socket directory: the command must fail on the URL, not start a cluster.
    let out = p360(&["migrate", "status", "--data-dir", data.to_str().unwrap()])
        .env(
            "P360_DATABASE__URL",
            "postgresql://postgres@localhost:5/p360?host=/nonexistent-dir",
        )
        .env("P360_DATABASE__ACQUIRE_TIMEOUT_MS", "500")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot connect to PostgreSQL"), "{err}");
    assert!(!data.join("postgres").exists());
}

#[test]
fn two_commands_starting_together_share_one_cluster() {
    let tmp = TempDir::new("race");
    let data = tmp.path().join("var");
    let data_s = data.to_str().unwrap();
    // Both race for a data dir that does not exist yet: one initialises and
    // starts the cluster, the other waits for it; neither corrupts anything.
    let a = p360(&["migrate", "up", "--data-dir", data_s])
        .spawn()
        .unwrap();
    let b = p360(&["migrate", "status", "--data-dir", data_s])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let a = a.wait_with_output().unwrap();
    let b = b.wait_with_output().unwrap();
    assert!(a.status.success());
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    // Whichever owned the cluster stopped it; a later command starts it cleanly.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !postgres_processes_for(&data).is_empty() {
        assert!(std::time::Instant::now() < deadline, "cluster left running");
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = p360_ok(&["migrate", "status", "--data-dir", data_s]);
    assert!(status.contains("applied"), "{status}");
    assert!(postgres_processes_for(&data).is_empty());
}

#[test]
fn missing_server_binaries_is_one_line_saying_what_to_do() {
    let tmp = TempDir::new("nobin");
    let data = tmp.path().join("var");
    let out = p360(&["migrate", "status", "--data-dir", data.to_str().unwrap()])
        .env("P360_DATABASE__POSTGRES_BIN_DIR", tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no PostgreSQL server binaries"), "{err}");
    assert!(err.contains("apt-get install postgresql"), "{err}");
    assert!(err.contains("P360_DATABASE__URL"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[tokio::test]
async fn audit_verify_command_passes_then_names_the_broken_link() {
    let tmp = TempDir::new("audit");
    let data = tmp.path().join("var");
    let data_s = data.to_str().unwrap();
    let served = Served::start(&data, &[]);
    let customer = served_tenant(&served, data_s, "acme").await;
    for slug in ["globex", "initech"] {
        served_tenant(&served, data_s, slug).await;
    }
    let client = reqwest::Client::new();
    for name in ["a", "b", "c"] {
        let res = client
            .post(served.url("/v1/api-keys"))
            .bearer_auth(&customer)
            .json(&serde_json::json!({"name": name, "role": "viewer"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    let out = p360_ok(&["audit", "verify", "--data-dir", data_s]);
    assert!(out.contains("every chain is intact"), "{out}");

    // A superuser removes an event from the middle of acme's chain.
    tamper_audit(
        data_s,
        "DELETE FROM audit_events WHERE seq = 2 AND tenant_id = (SELECT id FROM tenants WHERE slug = 'acme');",
    );
    let out = p360(&["audit", "verify", "--data-dir", data_s])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("event #2 is missing"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    drop(served);
}

/// The owner of the database can make a chain whole again after removing
/// its newest events (moving the head back); the checkpoint, signed with a
/// key the database does not hold, still tells. A forged checkpoint is
/// refused for its signature.
#[tokio::test]
async fn a_checkpoint_outside_the_database_catches_a_rewritten_chain() {
    let tmp = TempDir::new("checkpoint");
    let data = tmp.path().join("var");
    let data_s = data.to_str().unwrap();
    let served = Served::start(&data, &[]);
    let customer = served_tenant(&served, data_s, "acme").await;
    let client = reqwest::Client::new();
    for name in ["a", "b", "c"] {
        let res = client
            .post(served.url("/v1/api-keys"))
            .bearer_auth(&customer)
            .json(&serde_json::json!({"name": name, "role": "viewer"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    // (The server's worker took one as it started, before any of this.)
    let out = p360_ok(&["audit", "checkpoint", "--data-dir", data_s]);
    let name = out
        .strip_prefix("checkpoint ")
        .and_then(|o| o.split(':').next())
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();
    assert!(name.starts_with("audit/checkpoints/"), "{out}");
    let out = p360_ok(&["audit", "verify", "--data-dir", data_s]);
    assert!(
        out.contains(&format!("against checkpoint {name}"))
            && out.contains("every chain is intact"),
        "{out}"
    );

    // The owner removes acme's newest event and moves the head back: the
    // chain alone is whole again.
    tamper_audit(
        data_s,
        "DELETE FROM audit_events e USING audit_chains c, tenants t \
           WHERE t.slug = 'acme' AND c.chain_id = t.id AND e.chain_id = c.chain_id AND e.seq = c.last_seq; \
         UPDATE audit_chains c SET last_seq = e.seq, last_hash = e.hash \
           FROM audit_events e, tenants t \
           WHERE t.slug = 'acme' AND c.chain_id = t.id AND e.chain_id = c.chain_id AND e.seq = c.last_seq - 1;",
    );
    let out = p360(&["audit", "verify", "--data-dir", data_s])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    // A whole chain that ends early is what a point-in-time restore leaves
    // too: it fails unless the operator says the database was restored.
    assert!(
        err.contains("end before the newest checkpoint")
            && err.contains("otherwise their tails were removed"),
        "{err}"
    );
    assert!(
        !err.contains("is missing"),
        "the chain alone looks whole: {err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    // Moving the checkpoint back too needs the key: refused.
    let file = data.join("objects").join(&name);
    let mut checkpoint: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    for chain in checkpoint["chains"].as_array_mut().unwrap() {
        let seq = chain["seq"].as_i64().unwrap();
        chain["seq"] = serde_json::json!(seq - 1);
    }
    std::fs::write(&file, serde_json::to_vec(&checkpoint).unwrap()).unwrap();
    let out = p360(&["audit", "verify", "--data-dir", data_s])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not signed with this key"), "{err}");
    drop(served);
}

/// The API and worker tasks hold only the application's login: without
/// --no-migrate serve says in one line why it cannot migrate, before
/// touching anything; with it, it serves (the schema migrated by the owner).
#[tokio::test]
async fn with_only_the_application_login_serve_serves_but_does_not_migrate() {
    let db = migrated_db().await;
    let mut app_url = reqwest::Url::parse(&db.url).unwrap();
    app_url.set_username("p360_app").unwrap();
    app_url.set_password(None).unwrap();
    let env = [("P360_DATABASE__APP_URL", app_url.to_string())];
    let tmp = TempDir::new("applogin");
    let data = tmp.path().join("var");
    let out = p360(&[
        "serve",
        "--data-dir",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ])
    .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(
            "error: migrations run as the schema's owner: set database.url, or pass --no-migrate"
        ),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!data.exists(), "nothing written before the refusal");

    let served = Served::start_env(&data, &["--no-migrate"], &env);
    assert!(
        !data.join("postgres").exists(),
        "no embedded cluster started"
    );
    let admin = p360_ok(&[
        "token",
        "--data-dir",
        data.to_str().unwrap(),
        "--role",
        "platform_admin",
    ]);
    let res = reqwest::Client::new()
        .post(served.url("/v1/tenants"))
        .bearer_auth(admin.trim())
        .json(&serde_json::json!({"slug": "acme", "name": "Acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    drop(served);
}

#[test]
fn migrate_plan_classifies_pending_migrations() {
    let tmp = TempDir::new("plan");
    let data = tmp.path().join("var");
    let data_s = data.to_str().unwrap();
    let plan = p360_ok(&["migrate", "plan", "--data-dir", data_s]);
    let rows: Vec<&str> = plan.lines().filter(|l| l.starts_with("2026")).collect();
    assert!(rows.len() >= 11, "{plan}");
    assert!(
        rows.iter()
            .all(|l| l.contains(" expand ") || l.contains(" contract ")),
        "{plan}"
    );
    let activation = rows.iter().find(|l| l.contains("activation")).unwrap();
    assert!(activation.contains(" contract "), "{activation}");
    let contract = format!("{} contract", contract_migrations());
    assert!(plan.lines().last().unwrap().contains(&contract), "{plan}");
    p360_ok(&["migrate", "up", "--data-dir", data_s]);
    let plan = p360_ok(&["migrate", "plan", "--data-dir", data_s]);
    assert!(plan.contains("nothing pending"), "{plan}");
}

/// A deploy must not start while a pending contract migration would break
/// the running version: here the real migration 10 (it replaces the dedup
/// index the previous version's enqueue names) before the expand migration 11.
#[test]
fn deploy_preflight_refuses_a_contract_migration_the_running_version_cannot_survive() {
    let tmp = TempDir::new("preflight");
    let data = tmp.path().join("var");
    let data_s = data.to_str().unwrap();
    // The database as the previous release left it: migrations up to 9.
    p360_ok(&["migrate", "up", "--data-dir", data_s]);
    for _ in 0..migrations_after(20261127000009) {
        p360_ok(&["migrate", "down", "--data-dir", data_s]);
    }
    let out = p360(&["deploy", "preflight", "--data-dir", data_s])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: deploy refused: contract migration 20261127000010"),
        "{stderr}"
    );
    assert!(
        stderr.contains("expand migration 20261127000011"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one clear line: {stderr}");
    // A first deploy has no running version to protect.
    let first = p360_ok(&["deploy", "preflight", "--first", "--data-dir", data_s]);
    let all = format!(
        "{} migration(s) run before start",
        migrations_after(20261127000009)
    );
    assert!(first.contains(&all), "{first}");
    // Up to date: nothing to hold back.
    p360_ok(&["migrate", "up", "--data-dir", data_s]);
    let ok = p360_ok(&["deploy", "preflight", "--data-dir", data_s]);
    assert!(ok.contains("preflight passed"), "{ok}");
}

#[test]
fn db_backup_writes_a_restorable_dump_to_the_object_store() {
    let tmp = TempDir::new("backup");
    let data = tmp.path().join("var");
    let data_s = data.to_str().unwrap();
    p360_ok(&["migrate", "up", "--data-dir", data_s]);
    let out = p360_ok(&["db", "backup", "--data-dir", data_s]);
    assert!(out.starts_with("backup backups/"), "{out}");
    let key = out.split_whitespace().nth(1).unwrap().trim_end_matches(':');
    assert!(
        key.ends_with(&format!("-v{}.dump", latest_migration())),
        "{key}"
    );
    let file = data.join("objects").join(key);
    assert!(file.metadata().unwrap().len() > 1000, "{}", file.display());
    // pg_restore reads it back: the schema is all there.
    let pg_restore = platform::embedded_pg::client_program(None, "pg_restore");
    let listing = std::process::Command::new(pg_restore)
        .args(["--list", file.to_str().unwrap()])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.contains("TABLE public campaigns"), "{listing}");
    assert!(listing.contains("TABLE public jobs"), "{listing}");
}

/// `p360 generate reds` writes an hour of impressions and clicks, gzip, in
/// TTD's layouts; a bad argument is one line.
#[test]
fn generate_reds_writes_an_hour_of_impressions_and_clicks() {
    use std::io::Read;
    let tmp = TempDir::new("reds");
    let out = tmp.path().join("reds");
    let args = |hour: &str| -> Vec<String> {
        [
            "generate",
            "reds",
            "--impressions",
            "4000",
            "--companies",
            "50",
            "--audience",
            "10",
            "--hour",
            hour,
            "--out",
            out.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };
    let ok = p360(
        &args("2026-11-30T07")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    )
    .output()
    .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let lines = |name: &str| -> Vec<String> {
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(out.join(name)).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        text.lines().map(String::from).collect()
    };
    let impressions = lines("impressions_2026-11-30T07.log.gz");
    assert_eq!(impressions.len(), 4000);
    assert!(
        impressions
            .iter()
            .all(|l| l.split('\t').count() == 42 && l.starts_with("2026-11-30T07:"))
    );
    let clicks = lines("clicks_2026-11-30T07.log.gz");
    assert!(clicks.iter().all(|l| l.split('\t').count() == 17));
    let bad = p360(
        &args("yesterday")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    )
    .output()
    .unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(
        err.trim(),
        "error: --hour yesterday: expected a date and an hour, as 2026-11-30T13"
    );
}
