//! Rate limits: token buckets per user, per API key and per source IP for
//! unauthenticated requests; in-process, shared through Redis, and falling
//! back to in-process limits when Redis goes away.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use platform::config::RateRule;
use secrecy::SecretString;

/// Three at once, then one a minute: no token comes back while a test runs,
/// however slowly the machine runs it, so every 429 below is the burst's
/// end and nothing else. (The refill itself is tested on the bucket with a
/// clock of its own: platform's `rate_limit` unit tests.)
const TIGHT: RateRule = RateRule {
    per_minute: 1,
    burst: 3,
};

/// The `Retry-After` of a 429 under [`TIGHT`]: the minute a token takes to
/// come back, less the little time since the burst.
fn assert_retry_after_a_minute(res: &reqwest::Response) {
    let secs: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((55..=60).contains(&secs), "Retry-After: {secs}");
}

/// Wait until the app's limiter has connected to Redis (it connects in the background).
async fn wait_for_redis(app: &TestApp) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !app.state.rate_limiter.redis_connected() {
        assert!(
            std::time::Instant::now() < deadline,
            "did not connect to Redis"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn start_redis(port: u16) -> std::process::Child {
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server (Debian package redis-server)");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "redis-server did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

async fn me_status(p: &Platform, app: &TestApp, token: &str) -> reqwest::Response {
    p.client
        .get(app.url("/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn in_process_limits_answer_429_with_retry_after() {
    let p = Platform::start_with(|c| {
        c.platform.rate_limit.user = TIGHT;
        c.platform.rate_limit.anonymous = TIGHT;
    })
    .await;
    p.tenant("acme").await;
    let ann = p.token("viewer", Some("acme"), "ann@acme.test");
    for _ in 0..3 {
        assert_eq!(me_status(&p, &p.app, &ann).await.status(), 200);
    }
    let res = me_status(&p, &p.app, &ann).await;
    assert_eq!(res.status(), 429);
    assert!(is_problem(&res));
    assert_retry_after_a_minute(&res);
    // Still refused: nothing came back meanwhile.
    assert_eq!(me_status(&p, &p.app, &ann).await.status(), 429);
    // Another user has a bucket of their own.
    let bob = p.token("viewer", Some("acme"), "bob@acme.test");
    assert_eq!(me_status(&p, &p.app, &bob).await.status(), 200);

    // Bad credentials are limited per source address: 401s, then 429.
    let statuses: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(me_status(&p, &p.app, "garbage").await.status().as_u16());
        }
        v
    };
    assert_eq!(statuses, [401, 401, 401, 429]);
}

#[tokio::test]
async fn redis_shares_limits_between_instances() {
    let redis_url = "redis://127.0.0.1:6379";
    let p = Platform::start_with(|c| {
        c.platform.rate_limit.user = TIGHT;
        c.platform.redis.url = Some(SecretString::from(redis_url));
    })
    .await;
    // A second instance on the same database and Redis.
    let other = p360::spawn_app(p.app.state.pool.clone(), p.config.clone())
        .await
        .unwrap();
    wait_for_redis(&p.app).await;
    wait_for_redis(&other).await;
    p.tenant("acme").await;
    let ann = p.token("viewer", Some("acme"), "ann@acme.test");
    assert_eq!(me_status(&p, &p.app, &ann).await.status(), 200);
    assert_eq!(me_status(&p, &other, &ann).await.status(), 200);
    assert_eq!(me_status(&p, &p.app, &ann).await.status(), 200);
    // The bucket is shared: the fourth request is refused whichever instance gets it.
    let res = me_status(&p, &other, &ann).await;
    assert_eq!(res.status(), 429);
    assert_retry_after_a_minute(&res);
    other.stop().await.unwrap();
}

#[tokio::test]
async fn starts_without_redis_shares_once_it_answers_and_falls_back_when_it_goes() {
    // A Redis of our own, so that it can be started late and stopped.
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}");
    // Nothing listens yet: the service starts anyway, limiting in-process.
    let p = Platform::start_with(|c| {
        c.platform.rate_limit.user = TIGHT;
        c.platform.redis.url = Some(SecretString::from(url.as_str()));
    })
    .await;
    p.tenant("acme").await;
    let ann = p.token("viewer", Some("acme"), "ann@acme.test");
    assert_eq!(me_status(&p, &p.app, &ann).await.status(), 200);
    assert!(!p.app.state.rate_limiter.redis_connected());

    let mut redis = start_redis(port);
    wait_for_redis(&p.app).await;
    let bob = p.token("viewer", Some("acme"), "bob@acme.test");
    assert_eq!(me_status(&p, &p.app, &bob).await.status(), 200);
    let mut check = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("p360:rl:*")
        .query_async(&mut check)
        .await
        .unwrap();
    assert!(!keys.is_empty(), "buckets now live in Redis");

    let before = scrape(&p.app).await;
    redis.kill().unwrap();
    redis.wait().unwrap();
    // Requests keep being served, and limited by the in-process buckets.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(me_status(&p, &p.app, &bob).await.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
    let after = scrape(&p.app).await;
    assert!(
        delta(&before, &after, "p360_rate_limit_redis_errors_total") >= 1.0,
        "fallback counted: {after}"
    );
}

#[tokio::test]
async fn behind_trusted_proxies_each_client_has_its_own_bucket_and_audit_address() {
    // As in AWS: the ALB (here: this machine) is trusted, CloudFront's edge
    // server is the one unlisted hop in front of it.
    let p = Platform::start_with(|c| {
        c.platform.rate_limit.anonymous = TIGHT;
        c.platform.http.trusted_proxies = vec!["127.0.0.0/8".into()];
        c.platform.http.forwarded_hops = 1;
    })
    .await;
    p.tenant("acme").await;
    let from = |client: &str, spoofed: &str| {
        p.client
            .get(p.app.url("/v1/me"))
            .bearer_auth("garbage")
            .header("x-forwarded-for", format!("{spoofed}{client}, 130.176.1.1"))
            .send()
    };
    // One client's bad credentials use up its own bucket, whatever it puts
    // at the start of the header...
    let mut statuses = Vec::new();
    for spoof in ["", "1.1.1.1, ", "2.2.2.2, ", "3.3.3.3, "] {
        statuses.push(from("203.0.113.7", spoof).await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 429]);
    // ...and not another client's behind the same edge server and ALB.
    assert_eq!(from("198.51.100.9", "").await.unwrap().status(), 401);

    // The audit log records the client, not the proxies.
    let admin = p.token("customer_admin", Some("acme"), "admin@acme.test");
    let res = p
        .client
        .post(p.app.url("/v1/api-keys"))
        .bearer_auth(&admin)
        .header("x-forwarded-for", "6.6.6.6, 203.0.113.50, 130.176.1.1")
        .json(&serde_json::json!({"name": "ci", "role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let (_, events) = p
        .get("/v1/audit-events?action=api_key.created", &admin)
        .await;
    assert_eq!(events["items"][0]["source_ip"], "203.0.113.50", "{events}");
}

#[tokio::test]
async fn a_flood_of_bad_api_keys_is_refused_from_memory() {
    let p = Platform::start_with(|c| {
        c.platform.rate_limit.anonymous = TIGHT;
    })
    .await;
    let key = |n: usize| format!("p360_{n:0>43}");
    let status = |token: String| {
        let p = &p;
        async move {
            p.client
                .get(p.app.url("/v1/me"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let before = scrape(&p.app).await;
    // The same unknown key twice: looked up once, then answered from memory.
    assert_eq!(status(key(0)).await, 401);
    assert_eq!(status(key(0)).await, 401);
    let mid = scrape(&p.app).await;
    assert_eq!(
        delta(
            &before,
            &mid,
            r#"p360_auth_refused_from_memory_total{reason="unknown_key"}"#
        ),
        1.0
    );
    // Random keys: the address's bucket (3) runs dry, and from then on every
    // new key is refused before it is looked up.
    let mut statuses = Vec::new();
    for n in 1..=20 {
        statuses.push(status(key(n)).await);
    }
    assert_eq!(&statuses[..2], [401, 429], "{statuses:?}");
    assert!(statuses[1..].iter().all(|s| *s == 429), "{statuses:?}");
    let after = scrape(&p.app).await;
    assert!(
        delta(
            &mid,
            &after,
            r#"p360_auth_refused_from_memory_total{reason="limited_source"}"#
        ) >= 18.0,
        "{}",
        after
            .lines()
            .filter(|l| l.starts_with("p360_auth"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The service stays ready meanwhile.
    assert_eq!(get(&p.app.url("/health/ready")).await.status(), 200);
}
