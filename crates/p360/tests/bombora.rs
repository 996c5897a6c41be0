//! Company Surge from Bombora: the sandbox speaks Bombora's OAuth and
//! answers, the fetch job ingests each new or corrected week once, a
//! download cut short changes nothing, and under a 0.3 fault rate the
//! fetch converges with every week ingested exactly once.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use intent::bombora::BomboraClient;
use intent::bombora::client::Settings;
use intent::bombora::fetch::Fetcher;
use intent::bombora::sandbox::{SandboxOptions, router};
use secrecy::SecretString;
use serde_json::json;

const HEADER: &str = "Company Name,Domain,Size,Industry,Category,Topic,Composite Score,\
    Bucket Code,Metro Area,Metro Composite Score,Metro Bucket Code,Domain Origin Country\n";

fn week(score: u8) -> String {
    format!(
        "{HEADER}Acme GmbH,acme.example,Small (10 - 49 Employees),Software,Security,Firewalls,\
         {score},B,,,,Germany\nGlobex,globex.example,,,Cloud,Kubernetes,61,B,,,,\n"
    )
}

/// A sandbox on a free port; its base URL.
async fn sandbox(options: SandboxOptions) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(options)).await });
    format!("http://{addr}")
}

fn fetcher(p: &Platform, base: &str, secret: &str, retries: u32) -> Fetcher {
    let client = BomboraClient::new(Settings {
        base_url: base.to_string(),
        client_id: "p360".into(),
        client_secret: SecretString::from(secret.to_string()),
        timeout: Duration::from_secs(10),
        read_timeout: Duration::from_secs(5),
        max_retries: retries,
    })
    .unwrap();
    Fetcher {
        client: Arc::new(client),
        storage: platform::storage::Storage::from_config(&p.config.platform).unwrap(),
        weeks_back: 4,
        scratch: p.data.path().join("tmp"),
        create_companies: false,
    }
}

async fn get_json(url: &str) -> serde_json::Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

async fn files(p: &Platform) -> i64 {
    sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM surge_files"#)
        .fetch_one(&p.db.pool)
        .await
        .unwrap()
}

/// A platform with the sample universe, and a sandbox with no weeks that
/// knows P360's credentials (`p360`, `s3cret`).
async fn platform_and_empty_sandbox() -> (Platform, String) {
    let p = Platform::start().await;
    p.sample_universe().await;
    let base = sandbox(SandboxOptions {
        client_id: Some("p360".into()),
        client_secret: Some("s3cret".into()),
        generated_weeks: 0,
        ..SandboxOptions::default()
    })
    .await;
    (p, base)
}

/// Files the sandbox has served so far.
async fn downloads(base: &str) -> u64 {
    get_json(&format!("{base}/_sandbox/requests"))
        .await
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.ends_with("/file"))
        .map(|(_, v)| v.as_u64().unwrap())
        .sum()
}

#[tokio::test]
async fn new_and_corrected_weeks_are_fetched_once_each() {
    let (p, base) = platform_and_empty_sandbox().await;
    let http = reqwest::Client::new();
    // Bombora's token endpoint: JSON client credentials, a bearer token.
    let res = http
        .post(format!("{base}/oauth/token"))
        .json(&json!({"client_id": "p360", "client_secret": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap(),
        json!({"message": "Invalid client credentials"})
    );
    let wrong = fetcher(&p, &base, "wrong", 0).run(&p.db.pool).await;
    assert!(wrong.unwrap_err().to_string().contains("401"), "refused");

    put_week(&base, "2026-11-23", week(70)).await;
    put_week(&base, "2026-11-30", week(50)).await;
    let f = fetcher(&p, &base, "s3cret", 3);
    let done = f.run(&p.db.pool).await.unwrap();
    assert_eq!(done.ingested.len(), 2, "{done:?}");
    assert_eq!(files(&p).await, 2);
    // Nothing new: nothing downloaded.
    let before = downloads(&base).await;
    let again = f.run(&p.db.pool).await.unwrap();
    assert_eq!((again.ingested.len(), again.current.len()), (0, 2));
    assert_eq!(downloads(&base).await, before);
    // A corrected file for a week replaces it.
    put_week(&base, "2026-11-30", week(90)).await;
    let fixed = f.run(&p.db.pool).await.unwrap();
    assert_eq!(
        fixed.replaced,
        [chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()]
    );
    assert_eq!(files(&p).await, 3);
    p.tenant("acme").await;
    let viewer = p.token("viewer", Some("acme"), "v@acme.test");
    let (_, intent) = p.get("/v1/companies/acme.example/intent", &viewer).await;
    assert_eq!(
        intent["surging"],
        json!([{"topic": "Firewalls", "category": "Security", "score": 90}])
    );
}

/// A week staff loaded by hand (say it came by email) before the fetch saw
/// it: the fetch downloads it once to learn Bombora's SHA-256 (the same
/// bytes: nothing changes), then never again. A download that does not
/// match the SHA-256 Bombora published is refused.
#[tokio::test]
async fn a_week_loaded_by_hand_is_downloaded_once_for_its_sha256() {
    let (p, base) = platform_and_empty_sandbox().await;
    put_week(&base, "2026-11-30", week(70)).await;
    let f = fetcher(&p, &base, "s3cret", 3);
    let published = f.client.weeks().await.unwrap();
    let by_hand = p.data.path().join("by-hand.csv.gz");
    let sha256 = f.client.download(&published[0], &by_hand).await.unwrap();
    assert_eq!(sha256, published[0].sha256);
    let admin = p.admin();
    let (s, loaded) = p
        .post_csv(
            "/v1/intent/import?week=2026-11-30",
            &admin,
            std::fs::read(&by_hand).unwrap(),
        )
        .await;
    assert_eq!(s, 200, "{loaded}");
    assert_eq!(loaded["file"]["sha256"], serde_json::Value::Null);

    let before = downloads(&base).await;
    let done = f.run(&p.db.pool).await.unwrap();
    assert_eq!(done.current.len(), 1, "{done:?}");
    assert_eq!(downloads(&base).await, before + 1);
    assert_eq!(files(&p).await, 1);
    let again = f.run(&p.db.pool).await.unwrap();
    assert_eq!(again.current.len(), 1, "{again:?}");
    assert_eq!(downloads(&base).await, before + 1, "not downloaded again");
    let (_, weeks) = p.get("/v1/intent/weeks", &admin).await;
    assert_eq!(weeks["items"][0]["checksum"], loaded["file"]["checksum"]);
    assert_eq!(weeks["items"][0]["sha256"], published[0].sha256.as_str());

    let mut damaged = published[0].clone();
    damaged.sha256 = "0".repeat(64);
    let refused = f.client.download(&damaged, &by_hand).await.unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("does not match the SHA-256 Bombora published"),
        "{refused}"
    );
}

#[tokio::test]
async fn under_a_fault_rate_of_0_3_the_fetch_converges_without_duplicates() {
    let p = Platform::start().await;
    p.sample_universe().await;
    let base = sandbox(SandboxOptions {
        fault_rate: 0.3,
        seed: 7,
        generated_weeks: 4,
        ..SandboxOptions::default()
    })
    .await;
    // Few retries per call, so that faults reach the job, which is run
    // again as the job queue would.
    let f = fetcher(&p, &base, "any", 1);
    let mut failures = 0;
    let mut runs = 0;
    loop {
        runs += 1;
        match f.run(&p.db.pool).await {
            Ok(done) if done.current.len() == 4 => break,
            Ok(_) => {}
            Err(_) => failures += 1,
        }
        assert!(runs < 60, "no convergence after {runs} runs");
    }
    let faults = get_json(&format!("{base}/_sandbox/faults")).await;
    assert!(
        faults
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum::<u64>()
            > 0,
        "{faults}"
    );
    // Four weeks, each ingested once; a download cut short left nothing.
    assert_eq!(
        files(&p).await,
        4,
        "after {runs} runs, {failures} failed; faults {faults}"
    );
    let weeks = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM surge_weeks"#)
        .fetch_one(&p.db.pool)
        .await
        .unwrap();
    assert_eq!(weeks, 4);
}

/// On embedded defaults the sandbox is mounted in-process and the job's
/// configuration points at it.
#[tokio::test]
async fn the_in_process_sandbox_serves_the_sample_weeks() {
    let p = Platform::start().await;
    p.sample_universe().await;
    let url = p.app.url("/");
    let listen: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let f = intent::fetcher(
        &p.config.bombora,
        listen,
        platform::storage::Storage::from_config(&p.config.platform).unwrap(),
        p.data.path().join("tmp"),
    )
    .unwrap();
    let done = f.run(&p.db.pool).await.unwrap();
    assert_eq!(done.ingested.len(), 4, "{done:?}");
    p.tenant("acme").await;
    let viewer = p.token("viewer", Some("acme"), "v@acme.test");
    let (s, weeks) = p.get("/v1/intent/weeks", &viewer).await;
    assert_eq!(s, 200);
    let items = weeks["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert!(
        items
            .iter()
            .all(|w| w["source"] == "bombora" && w["unknown_domains"] == 0),
        "{weeks}"
    );
    let (_, topics) = p.get("/v1/intent/topics?limit=200", &viewer).await;
    assert!(topics["items"].as_array().unwrap().len() > 10, "{topics}");
}
