//! Salesforce: a tenant connects its org by the JWT bearer flow (the key
//! sealed under the tenant's data key), the sync reads accounts,
//! opportunities and stage history page by page from a watermark with an
//! overlap, sees deletions through queryAll, backs off on the API limit,
//! signs in again when the session dies, resumes after a failure from the
//! last page it committed, and matches accounts to companies. The sandbox
//! refuses what Salesforce refuses, and `simple-salesforce` (PyPI) reads it
//! as it reads Salesforce.

mod common;

use std::time::Duration;

use common::salesforce::{USERNAME, connect, key_pair, register, sandbox, write};
use common::*;
use crm::salesforce::jwt;
use serde_json::{Value, json};

const CONSUMER_KEY: &str = "3MVG9p360sandboxKEY";

async fn sandbox_post(base: &str, path: &str, body: Value) -> reqwest::StatusCode {
    reqwest::Client::new()
        .post(format!("{base}{path}"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
}

async fn stats(base: &str) -> Value {
    reqwest::get(format!("{base}/_sandbox/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The token endpoint's answer to an assertion.
async fn token(base: &str, assertion: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("{base}/services/oauth2/token"))
        .form(&[("grant_type", jwt::GRANT_TYPE), ("assertion", assertion)])
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

fn claims(aud: &str, exp_in: i64) -> jwt::Claims {
    jwt::Claims {
        iss: CONSUMER_KEY.into(),
        sub: USERNAME.into(),
        aud: aud.into(),
        exp: chrono::Utc::now().timestamp() + exp_in,
    }
}

#[tokio::test]
async fn the_sandbox_refuses_a_bad_key_a_wrong_audience_an_expired_assertion_and_others() {
    let base = sandbox().await;
    let (private, public) = key_pair();
    register(&base, CONSUMER_KEY, USERNAME, &public).await;
    let key = jwt::private_key(&private).unwrap();
    let login = "https://login.salesforce.com";

    let (s, ok) = token(&base, &jwt::sign(&key, &claims(login, 170)).unwrap()).await;
    assert_eq!(s, 200, "{ok}");
    assert_eq!(ok["instance_url"], base.as_str());
    assert_eq!(ok["token_type"], "Bearer");

    let other = jwt::private_key(&jwt::generate_pem().unwrap()).unwrap();
    for (what, assertion, error, description) in [
        (
            "another key",
            jwt::sign(&other, &claims(login, 170)).unwrap(),
            "invalid_grant",
            "invalid assertion",
        ),
        (
            "the sandbox org's audience",
            jwt::sign(&key, &claims("https://test.salesforce.com", 170)).unwrap(),
            "invalid_grant",
            "audience is invalid",
        ),
        (
            "expired",
            jwt::sign(&key, &claims(login, -60)).unwrap(),
            "invalid_grant",
            "expired authorization code",
        ),
        (
            "valid for an hour",
            jwt::sign(&key, &claims(login, 3600)).unwrap(),
            "invalid_grant",
            "expired authorization code",
        ),
        (
            "another user",
            jwt::sign(
                &key,
                &jwt::Claims {
                    sub: "admin@acme.example".into(),
                    ..claims(login, 170)
                },
            )
            .unwrap(),
            "invalid_grant",
            "user hasn't approved this consumer",
        ),
        (
            "an unknown app",
            jwt::sign(
                &key,
                &jwt::Claims {
                    iss: "3MVG9unknown".into(),
                    ..claims(login, 170)
                },
            )
            .unwrap(),
            "invalid_client_id",
            "client identifier invalid",
        ),
        (
            "not a JWT",
            "a.b".to_string(),
            "invalid_grant",
            "invalid assertion",
        ),
    ] {
        let (s, body) = token(&base, &assertion).await;
        assert_eq!(s, 400, "{what}: {body}");
        assert_eq!(body["error"], error, "{what}: {body}");
        assert_eq!(body["error_description"], description, "{what}: {body}");
    }
    // A data call without a session is Salesforce's 401.
    let res = reqwest::get(format!(
        "{base}/services/data/v62.0/query?q=SELECT+Id+FROM+Account"
    ))
    .await
    .unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body[0]["errorCode"], "INVALID_SESSION_ID");
}

/// A platform reaching the sandbox at `base`, retrying fast.
async fn platform(base: &str) -> Platform {
    let base = base.to_string();
    Platform::start_with(move |c| {
        c.salesforce.sandbox_url = Some(base);
        c.salesforce.batch_size = 200;
        c.salesforce.backoff_ms = 20;
        c.salesforce.max_retries = 2;
        c.salesforce.overlap_secs = 300;
    })
    .await
}

fn sf(p: &Platform) -> crm::Salesforce {
    p360::salesforce(&p.config, p.app.addr).unwrap()
}

async fn tenant_id(p: &Platform, slug: &str) -> tenancy::TenantId {
    tenancy::scope::tenant_by_slug(&p.db.pool, slug)
        .await
        .unwrap()
        .unwrap()
}

/// The one number a compile-checked statement gives, on the owner's pool.
macro_rules! number {
    ($p:expr, $sql:literal $(, $arg:expr)*) => {
        sqlx::query_scalar!($sql $(, $arg)*)
            .fetch_one(&$p.db.pool)
            .await
            .unwrap()
    };
}

#[tokio::test]
async fn connecting_checks_the_key_by_signing_in_and_stores_it_sealed() {
    let base = sandbox().await;
    let (private, public) = key_pair();
    register(&base, CONSUMER_KEY, USERNAME, &public).await;
    let p = platform(&base).await;
    p.tenant("acme").await;
    p.tenant("globex").await;
    let admin = p.token("customer_admin", Some("acme"), "admin@acme.test");

    // Bad input names the field; nothing is stored.
    let (s, body) = p
        .post(
            "/v1/integrations/salesforce",
            &admin,
            json!({"consumer_key": CONSUMER_KEY, "username": USERNAME,
                   "login_host": "evil.example", "private_key": "not a key"}),
        )
        .await;
    assert_eq!(s, 422, "{body}");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["login_host", "private_key"], "{body}");
    // A key the app does not hold: Salesforce's refusal, as a 422.
    let (other, _) = key_pair();
    let (s, body) = connect(&p, &admin, CONSUMER_KEY, &other).await;
    assert_eq!(s, 422, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("invalid assertion"),
        "{body}"
    );
    // A marketer may not connect the org.
    let marketer = p.token("marketer", Some("acme"), "m@acme.test");
    assert_eq!(connect(&p, &marketer, CONSUMER_KEY, &private).await.0, 403);
    assert_eq!(
        number!(p, r#"SELECT count(*) AS "n!" FROM salesforce_connections"#),
        0
    );

    let (s, body) = connect(&p, &admin, CONSUMER_KEY, &private).await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["status"], "connected");
    assert_eq!(body["instance_url"], base.as_str());
    assert!(!body.to_string().contains("PRIVATE KEY"), "{body}");
    let (s, shown) = p.get("/v1/integrations/salesforce", &admin).await;
    assert_eq!(s, 200);
    assert!(!shown.to_string().contains("PRIVATE"));
    // Another tenant sees no connection.
    let globex = p.token("customer_admin", Some("globex"), "admin@globex.test");
    assert_eq!(p.get("/v1/integrations/salesforce", &globex).await.0, 404);

    // At rest the key is sealed: no PEM, no base64 of its body, anywhere in
    // the connection row, the audit log or the data key row.
    let der_b64 = private
        .lines()
        .find(|l| !l.starts_with("-----"))
        .unwrap()
        .to_string();
    let dump = sqlx::query_scalar!(
        r#"SELECT concat_ws(' ', (SELECT string_agg(encode(private_key_sealed, 'escape'), ' ') FROM salesforce_connections),
                              (SELECT string_agg(changes::text, ' ') FROM audit_events),
                              (SELECT string_agg(encode(wrapped, 'base64'), ' ') FROM tenant_data_keys)) AS "dump!""#
    )
    .fetch_one(&p.db.pool)
    .await
    .unwrap();
    assert!(!dump.contains("PRIVATE KEY") && !dump.contains(&der_b64[..40]));
    assert_eq!(
        number!(
            p,
            r#"SELECT count(*) AS "n!" FROM audit_events WHERE action = 'salesforce.connected'"#
        ),
        1
    );

    // The sealed key opens for its tenant only: moved to another tenant's
    // row it does not open (the tenant is in the associated data, and the
    // data keys differ).
    let acme = tenant_id(&p, "acme").await;
    let globex_id = tenant_id(&p, "globex").await;
    sqlx::query!(
        "INSERT INTO salesforce_connections (tenant_id, consumer_key, username, login_host, private_key_sealed)
         SELECT $2, consumer_key, username, login_host, private_key_sealed FROM salesforce_connections WHERE tenant_id = $1",
        acme.0,
        globex_id.0
    )
    .execute(&p.db.pool)
    .await
    .unwrap();
    let mut tx = tenancy::TenantTx::begin(&p.db.pool, globex_id)
        .await
        .unwrap();
    let err = crm::connection::service::client_of(&mut tx, &sf(&p))
        .await
        .err()
        .expect("another tenant's sealed key does not open");
    assert!(format!("{err:#}").contains("does not open"), "{err:#}");
    drop(tx);
    let mut tx = tenancy::TenantTx::begin(&p.db.pool, acme).await.unwrap();
    assert!(
        crm::connection::service::client_of(&mut tx, &sf(&p))
            .await
            .unwrap()
            .is_some()
    );
    drop(tx);

    // Sync now queues one job per tenant; disconnecting deletes the key.
    let (s, q) = p
        .post("/v1/integrations/salesforce/sync", &admin, json!({}))
        .await;
    assert_eq!(s, 202, "{q}");
    assert!(q["job_id"].is_string());
    let (s, q) = p
        .post("/v1/integrations/salesforce/sync", &admin, json!({}))
        .await;
    assert_eq!(
        (s.as_u16(), q["job_id"].is_null()),
        (202, true),
        "one waiting at most: {q}"
    );
    assert_eq!(
        p.call(
            reqwest::Method::DELETE,
            "/v1/integrations/salesforce",
            Some(&admin),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(p.get("/v1/integrations/salesforce", &admin).await.0, 404);
}

/// A connected tenant `acme` with the sandbox org's records; its id.
async fn connected(p: &Platform, base: &str) -> tenancy::TenantId {
    let (private, public) = key_pair();
    register(base, CONSUMER_KEY, USERNAME, &public).await;
    p.tenant("acme").await;
    let admin = p.token("customer_admin", Some("acme"), "admin@acme.test");
    let (s, body) = connect(p, &admin, CONSUMER_KEY, &private).await;
    assert_eq!(s, 201, "{body}");
    tenant_id(p, "acme").await
}

fn accounts(n: usize, from: usize) -> Value {
    Value::Array(
        (from..from + n)
            .map(|i| json!({"Name": format!("Account {i}"), "Website": format!("https://www.account{i}.example/"),
                            "Industry": "Software", "NumberOfEmployees": 100 + i, "BillingCountry": "Germany"}))
            .collect(),
    )
}

/// As [`accounts`], account `i` stamped `i` × 10 s after `start` (records
/// written over hours, so the overlap window holds only the last few).
fn accounts_stamped(n: usize, from: usize, start: chrono::DateTime<chrono::Utc>) -> Value {
    let mut v = accounts(n, from);
    for (k, a) in v.as_array_mut().unwrap().iter_mut().enumerate() {
        let at = start + chrono::Duration::seconds(10 * (from + k) as i64);
        a["SystemModstamp"] = json!(at.to_rfc3339());
    }
    v
}

#[tokio::test]
async fn the_sync_pages_moves_its_watermark_sees_deletions_and_late_commits() {
    let base = sandbox().await;
    let p = platform(&base).await;
    let tenant = connected(&p, &base).await;
    let ids = write(&base, "Account", accounts(1_050, 0)).await;
    let opps: Vec<Value> = (0..450)
        .map(|i| {
            json!({"AccountId": ids[i % 1_050], "Name": format!("Deal {i}"), "Amount": 1000.25 + i as f64,
                   "StageName": "Prospecting", "CloseDate": "2027-01-31", "IsClosed": false, "IsWon": false})
        })
        .collect();
    let opp_ids = write(&base, "Opportunity", Value::Array(opps)).await;

    let done = crm::sync::run(&p.db.pool, &sf(&p), tenant)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.records["Account"], 1_050);
    assert_eq!(done.records["Opportunity"], 450);
    assert_eq!(done.records["OpportunityHistory"], 450, "one stage each");
    // 6 + 3 + 3 pages of 200.
    assert_eq!(done.pages, 12);
    assert_eq!(
        number!(p, r#"SELECT count(*) AS "n!" FROM crm_accounts"#),
        1_050
    );
    assert_eq!(
        number!(
            p,
            r#"SELECT sum(amount_micros)::int8 AS "n!" FROM crm_opportunities"#
        ),
        (0..450).map(|i| 1_000_250_000 + i * 1_000_000).sum::<i64>()
    );

    // Nothing changed: the next sync reads only the overlap window.
    let served = stats(&base).await["records_served"].as_u64().unwrap();
    crm::sync::run(&p.db.pool, &sf(&p), tenant)
        .await
        .unwrap()
        .unwrap();
    let again = stats(&base).await["records_served"].as_u64().unwrap() - served;
    assert!(
        again <= 1_950,
        "the overlap re-reads at most what changed in 5 minutes: {again}"
    );

    // A won deal, a renamed account, a deleted account (its deals with it),
    // and a record committed late with a stamp before the watermark but
    // within the overlap.
    write(
        &base,
        "Opportunity",
        json!([{"Id": opp_ids[0], "StageName": "Closed Won", "IsClosed": true, "IsWon": true}]),
    )
    .await;
    write(&base, "Account", json!([{"Id": ids[1], "Name": "Renamed"}])).await;
    let res = reqwest::Client::new()
        .delete(format!(
            "{base}/_sandbox/orgs/{USERNAME}/Account/{}",
            ids[2]
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let watermark =
        sqlx::query_scalar!("SELECT watermark FROM salesforce_watermarks WHERE object = 'Account'")
            .fetch_one(&p.db.pool)
            .await
            .unwrap();
    let late = (watermark - chrono::Duration::seconds(60)).to_rfc3339();
    write(
        &base,
        "Account",
        json!([{"Name": "Late Commit", "SystemModstamp": late}]),
    )
    .await;

    crm::sync::run(&p.db.pool, &sf(&p), tenant)
        .await
        .unwrap()
        .unwrap();
    let row = sqlx::query!(
        "SELECT stage, is_won, is_closed FROM crm_opportunities WHERE id = $1",
        &opp_ids[0]
    )
    .fetch_one(&p.db.pool)
    .await
    .unwrap();
    assert_eq!(
        (row.stage.as_str(), row.is_won, row.is_closed),
        ("Closed Won", true, true)
    );
    assert_eq!(
        number!(
            p,
            r#"SELECT count(*) AS "n!" FROM crm_opportunity_history WHERE opportunity_id = $1"#,
            &opp_ids[0]
        ),
        2
    );
    assert_eq!(
        number!(
            p,
            r#"SELECT count(*) AS "n!" FROM crm_accounts WHERE id = $1 AND name = 'Renamed'"#,
            &ids[1]
        ),
        1
    );
    assert_eq!(
        number!(
            p,
            r#"SELECT count(*) AS "n!" FROM crm_accounts WHERE id = $1 AND is_deleted"#,
            &ids[2]
        ),
        1
    );
    // Account 2 had deals 2, 1052 - 1050 ... i.e. every i with i % 1050 == 2.
    assert_eq!(
        number!(
            p,
            r#"SELECT count(*) AS "n!" FROM crm_opportunities WHERE account_id = $1 AND is_deleted"#,
            &ids[2]
        ),
        1
    );
    assert_eq!(
        number!(
            p,
            r#"SELECT count(*) AS "n!" FROM crm_accounts WHERE name = 'Late Commit'"#
        ),
        1
    );
}

#[tokio::test]
async fn the_sync_backs_off_the_api_limit_signs_in_again_and_resumes_after_a_failure() {
    let base = sandbox().await;
    let p = platform(&base).await;
    let tenant = connected(&p, &base).await;
    let start = chrono::Utc::now() - chrono::Duration::hours(6);
    write(&base, "Account", accounts_stamped(1_000, 0, start)).await;

    // Two answers of REQUEST_LIMIT_EXCEEDED, then a dead session: the sync
    // waits, retries, signs in again and completes.
    assert_eq!(
        sandbox_post(
            &base,
            "/_sandbox/faults",
            json!({"kind": "limit", "count": 2, "after": 1})
        )
        .await,
        204
    );
    assert_eq!(
        sandbox_post(
            &base,
            "/_sandbox/faults",
            json!({"kind": "invalid_session", "count": 1, "after": 1})
        )
        .await,
        204
    );
    let tokens = stats(&base).await["tokens_issued"].as_u64().unwrap();
    let done = crm::sync::run(&p.db.pool, &sf(&p), tenant)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.records["Account"], 1_000);
    let st = stats(&base).await;
    assert_eq!(st["faults"], 3);
    assert_eq!(
        st["tokens_issued"].as_u64().unwrap(),
        tokens + 2,
        "one sign-in, one after the dead session"
    );

    // More accounts; the fourth page fails past the retries: the sync fails,
    // saying so on the connection, with three pages committed.
    write(&base, "Account", accounts_stamped(1_000, 1_000, start)).await;
    let served = stats(&base).await["records_served"].as_u64().unwrap();
    let metrics_before = common::scrape(&p.app).await;
    assert_eq!(
        sandbox_post(
            &base,
            "/_sandbox/faults",
            json!({"kind": "server_error", "count": 3, "after": 3})
        )
        .await,
        204
    );
    let err = crm::sync::run(&p.db.pool, &sf(&p), tenant)
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("UNKNOWN_EXCEPTION"), "{err:#}");
    let admin = p.token("customer_admin", Some("acme"), "admin@acme.test");
    let (_, shown) = p.get("/v1/integrations/salesforce", &admin).await;
    assert_eq!(shown["status"], "failing", "{shown}");
    assert!(
        shown["last_error"]
            .as_str()
            .unwrap()
            .contains("UNKNOWN_EXCEPTION")
    );
    let synced = number!(p, r#"SELECT count(*) AS "n!" FROM crm_accounts"#);
    assert!((1_000..2_000).contains(&synced), "{synced}");
    // The hourly round counts the failing connection for the alert, and
    // queues the tenant's next sync.
    sync_all(&p).await;
    assert_eq!(failing_gauge(&p).await, 1.0);
    assert_eq!(
        number!(
            p,
            r#"SELECT count(*) AS "n!" FROM jobs WHERE kind = 'crm.sync_salesforce' AND status = 'queued'"#
        ),
        1
    );

    // The next sync resumes from the watermark, not from the start.
    let before = stats(&base).await["records_served"].as_u64().unwrap();
    let resume = crm::sync::run(&p.db.pool, &sf(&p), tenant)
        .await
        .unwrap()
        .unwrap();
    let resumed = stats(&base).await["records_served"].as_u64().unwrap() - before;
    // The counters an SRE alerts on say the same.
    let metrics = common::scrape(&p.app).await;
    let grew = |series: &str| common::delta(&metrics_before, &metrics, series);
    assert_eq!(
        grew(r#"p360_salesforce_syncs_total{outcome="failed"}"#),
        1.0
    );
    assert_eq!(
        grew(r#"p360_salesforce_syncs_total{outcome="synced"}"#),
        1.0
    );
    assert_eq!(
        grew(r#"p360_salesforce_sync_records_total{object="Account"}"#),
        resume.records["Account"] as f64
    );
    assert_eq!(
        number!(p, r#"SELECT count(*) AS "n!" FROM crm_accounts"#),
        2_000
    );
    // The failed attempt read from 5 minutes (30 accounts, 10 s apart)
    // before the first sync's watermark (account 999): accounts 969 to
    // 1,568 in three pages. The resume reads from 30 before that: 1,538 to
    // 1,999, 462 accounts — not the 1,031 a restart would.
    assert_eq!(
        resumed,
        462,
        "resumed from the watermark: read {resumed} (the first attempt read {})",
        before - served
    );
    let (_, shown) = p.get("/v1/integrations/salesforce", &admin).await;
    assert_eq!(shown["status"], "connected", "{shown}");
    assert!(shown["last_error"].is_null());
    sync_all(&p).await;
    assert_eq!(failing_gauge(&p).await, 0.0, "the alert clears");
    let _ = Duration::ZERO;
}

async fn sync_all(p: &Platform) {
    use platform::jobs::{Job, JobContext};
    crm::sync::SyncAll
        .run(JobContext {
            pool: p.db.pool.clone(),
            job_id: uuid::Uuid::now_v7(),
            attempt: 1,
            max_attempts: 1,
            services: (),
        })
        .await
        .unwrap();
}

async fn failing_gauge(p: &Platform) -> f64 {
    let metrics = common::scrape(&p.app).await;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("p360_salesforce_connections_failing "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no p360_salesforce_connections_failing in {metrics}"))
}

#[tokio::test]
async fn salesforce_accounts_match_companies_and_the_report_counts_them() {
    let base = sandbox().await;
    let p = platform(&base).await;
    p.sample_universe().await;
    let tenant = connected(&p, &base).await;
    write(
        &base,
        "Account",
        json!([
            {"Name": "Acme", "Website": "https://www.acme.example/about"},
            {"Name": "Globex Corporation", "Website": "globex.example"},
            {"Name": "Initech, LLC"},
            {"Name": "Nobody Known", "Website": "https://nobody.invalid"},
            {"Name": "No Website Inc."}
        ]),
    )
    .await;
    let done = crm::sync::run(&p.db.pool, &sf(&p), tenant)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.matched, 3);
    let admin = p.token("viewer", Some("acme"), "v@acme.test");
    let (s, r) = p
        .get("/v1/integrations/salesforce/accounts/match-report", &admin)
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (
            r["accounts"].as_i64(),
            r["matched"].as_i64(),
            r["unmatched"].as_i64()
        ),
        (Some(5), Some(3), Some(2)),
        "{r}"
    );
    assert!((r["match_rate"].as_f64().unwrap() - 0.6).abs() < 1e-9);
    let company = sqlx::query_scalar!(
        r#"SELECT company AS "company!" FROM crm_accounts WHERE name = 'Initech, LLC'"#
    )
    .fetch_one(&p.db.pool)
    .await
    .unwrap();
    assert_eq!(company, "initech.example");
}

/// simple-salesforce (PyPI), the client integrators use, signs in with the
/// JWT bearer flow and pages through `query_all` against the sandbox as
/// against Salesforce (the connected app holds an X.509 certificate made by
/// openssl, as Salesforce asks for).
#[tokio::test]
async fn simple_salesforce_reads_the_sandbox_as_it_reads_salesforce() {
    let base = sandbox().await;
    let dir = TempDir::new("simple-salesforce");
    let key = dir.path().join("key.pem");
    let cert = dir.path().join("cert.pem");
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=p360-test",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    register(
        &base,
        CONSUMER_KEY,
        USERNAME,
        &std::fs::read_to_string(&cert).unwrap(),
    )
    .await;
    // The token endpoint creates the org on first sign-in; records are
    // written after one.
    let ids = {
        let client = reqwest::Client::new();
        let k = jwt::private_key(&std::fs::read_to_string(&key).unwrap()).unwrap();
        let (s, _) = token(
            &base,
            &jwt::sign(&k, &claims("https://login.salesforce.com", 100)).unwrap(),
        )
        .await;
        assert_eq!(s, 200);
        drop(client);
        write(&base, "Account", accounts(2_500, 0)).await
    };
    let res = reqwest::Client::new()
        .delete(format!(
            "{base}/_sandbox/orgs/{USERNAME}/Account/{}",
            ids[7]
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);

    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python/simple_salesforce_check.py");
    let out = tokio::process::Command::new("python3")
        .arg(&script)
        .args([base.as_str(), CONSUMER_KEY, USERNAME])
        .arg(&key)
        .output()
        .await
        .expect("python3 with simple-salesforce (scripts/lib.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["live_total"], 2_499, "{seen}");
    assert_eq!(seen["live_records"], 2_499, "two pages followed: {seen}");
    assert_eq!(seen["ids_sorted"], true);
    assert_eq!(seen["all_records"], 2_500);
    assert_eq!(seen["deleted"], 1);
    assert_eq!(seen["limited"], 5);
    assert_eq!(seen["malformed"], "MALFORMED_QUERY");
    assert_eq!(seen["unknown_object"], "INVALID_TYPE");
    assert_eq!(seen["other_user"], "user hasn't approved this consumer");
}

/// In production the tenants' data keys are made and opened by AWS KMS
/// (moto_server here): the key is sealed and opened through KMS, stored
/// wrapped as KMS returned it, and an instance configured with the local
/// key file instead says which master key it lacks rather than failing
/// obscurely.
#[tokio::test]
async fn with_kms_the_data_key_is_made_and_opened_by_kms() {
    let moto = Moto::start().await;
    let created: Value = reqwest::Client::new()
        .post(&moto.endpoint)
        .header("x-amz-target", "TrentService.CreateKey")
        .header("content-type", "application/x-amz-json-1.1")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20261206/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body("{}")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key_id = created["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let base = sandbox().await;
    let (b, endpoint, k) = (base.clone(), moto.endpoint.clone(), key_id.clone());
    let p = Platform::start_with(move |c| {
        c.salesforce.sandbox_url = Some(b);
        c.secrets.kms_key_id = Some(k);
        c.secrets.kms_endpoint = Some(endpoint);
        c.secrets.kms_region = Some("us-east-1".into());
        c.secrets.kms_access_key_id = Some("testing".into());
        c.secrets.kms_secret_access_key = Some(secrecy::SecretString::from("testing"));
    })
    .await;
    let tenant = connected(&p, &base).await;
    let by = sqlx::query_scalar!("SELECT wrapped_by FROM tenant_data_keys")
        .fetch_one(&p.db.pool)
        .await
        .unwrap();
    assert_eq!(by, format!("kms:{key_id}"));
    write(&base, "Account", accounts(3, 0)).await;
    let done = crm::sync::run(&p.db.pool, &sf(&p), tenant)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.records["Account"], 3);

    let mut local = p.config.clone();
    local.secrets = Default::default();
    let mut tx = tenancy::TenantTx::begin(&p.db.pool, tenant).await.unwrap();
    let err = crm::connection::service::client_of(
        &mut tx,
        &p360::salesforce(&local, p.app.addr).unwrap(),
    )
    .await
    .err()
    .expect("a local master key cannot open a KMS-wrapped data key");
    assert!(
        format!("{err:#}").contains(&format!("wrapped by kms:{key_id}")),
        "{err:#}"
    );
}

/// Matching accuracy on a labelled set (tests/data/salesforce_accounts_
/// labelled.csv: 256 accounts as CRMs hold them — websites with paths,
/// schemes and `www.`, names with and without legal forms, in capitals, a
/// broken website, typos, a subsidiary's unknown site, junk accounts —
/// each with the company a person would say it is, or none). Target: 95 %
/// (the plan's figure).
#[tokio::test]
async fn account_matching_is_accurate_on_a_labelled_set() {
    let base = sandbox().await;
    let p = platform(&base).await;
    p.sample_universe().await;
    let tenant = connected(&p, &base).await;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/salesforce_accounts_labelled.csv");
    let mut expected = std::collections::HashMap::new();
    let mut records = Vec::new();
    for row in csv::Reader::from_path(&path).unwrap().records() {
        let row = row.unwrap();
        let name = row[0].to_string();
        let website = (!row[1].is_empty()).then(|| row[1].to_string());
        records.push(json!({"Name": name, "Website": website}));
        expected.insert(
            records.len() - 1,
            (!row[2].is_empty()).then(|| row[2].to_string()),
        );
    }
    let ids = write(&base, "Account", Value::Array(records)).await;
    crm::sync::run(&p.db.pool, &sf(&p), tenant)
        .await
        .unwrap()
        .unwrap();
    let matched: std::collections::HashMap<String, Option<String>> =
        sqlx::query!("SELECT id, company FROM crm_accounts")
            .fetch_all(&p.db.pool)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.id, r.company))
            .collect();
    let mut right = 0;
    let mut wrong = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let got = matched[id].clone();
        if got == expected[&i] {
            right += 1;
        } else {
            wrong.push(format!("{:?} -> {got:?}", expected[&i]));
        }
    }
    let accuracy = right as f64 / ids.len() as f64;
    eprintln!(
        "account matching: {right} of {} right ({:.1} %); wrong: {wrong:?}",
        ids.len(),
        accuracy * 100.0
    );
    assert!(accuracy >= 0.95, "accuracy {accuracy}: {wrong:?}");
    // No account is matched to the wrong company: a miss is unmatched.
    assert!(wrong.iter().all(|w| w.ends_with("-> None")), "{wrong:?}");
}
