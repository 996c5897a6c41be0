//! The HTTP skeleton against the real app on a real database.

mod common;

use std::time::Duration;

use common::*;

#[tokio::test]
async fn live_and_ready_answer_200() {
    let (app, _db) = spawn_app().await;
    let res = get(&app.url("/health/live")).await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "live");

    let res = get(&app.url("/health/ready")).await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["checks"]["database"], "ok");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn unknown_route_is_404_problem_json_with_request_id() {
    let (app, _db) = spawn_app().await;
    let res = get(&app.url("/v1/nothing-here")).await;
    assert_eq!(res.status(), 404);
    assert!(is_problem(&res));
    let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["type"], "urn:p360:problem:not-found");
    assert_eq!(body["status"], 404);
    assert_eq!(body["request_id"], id.as_str());
    app.stop().await.unwrap();
}

#[tokio::test]
async fn wrong_method_is_405_problem_json() {
    let (app, _db) = spawn_app().await;
    let res = reqwest::Client::new()
        .delete(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert!(is_problem(&res));
    assert!(res.headers().contains_key("allow"));
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["type"], "urn:p360:problem:method-not-allowed");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn oversize_body_is_413_problem_json() {
    let (app, _db) = spawn_app_with(
        |c| c.http.body_limit_bytes = 1024,
        platform::http::ApiRoutes::new().route(
            "/echo",
            axum::routing::post(|body: String| async move { body }),
        ),
    )
    .await;
    let client = reqwest::Client::new();
    let res = client
        .post(app.url("/echo"))
        .body(vec![b'x'; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert!(is_problem(&res));
    // Within the limit the same route works.
    let res = client
        .post(app.url("/echo"))
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "hello");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn slow_request_times_out_with_problem_json() {
    let (app, _db) = spawn_app_with(
        |c| c.http.request_timeout_ms = 200,
        platform::http::ApiRoutes::new().route(
            "/slow",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        ),
    )
    .await;
    let res = get(&app.url("/slow")).await;
    assert_eq!(res.status(), 503);
    assert!(is_problem(&res));
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("200 ms"));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn request_id_is_taken_from_the_client_and_echoed() {
    let (app, _db) = spawn_app().await;
    let res = reqwest::Client::new()
        .get(app.url("/health/live"))
        .header("x-request-id", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-abc-123");
    // Unprintable or oversized ids are replaced, not echoed.
    let res = reqwest::Client::new()
        .get(app.url("/health/live"))
        .header("x-request-id", "a".repeat(500))
        .send()
        .await
        .unwrap();
    assert_ne!(res.headers()["x-request-id"], "a".repeat(500).as_str());
    app.stop().await.unwrap();
}

/// What this test's requests, pool and queue did, read as deltas of its own
/// app's `/metrics`: the recorder is process-wide, so under `cargo test` a
/// sibling test's app could otherwise make a series appear for us. The
/// request series use routes (and a method) no other test has.
#[tokio::test]
async fn metrics_show_request_counters_latency_pool_and_build_info() {
    let gate = std::sync::Arc::new(tokio::sync::Notify::new());
    let held = gate.clone();
    let routes = platform::http::ApiRoutes::new()
        .route("/metrics-probe", axum::routing::get(|| async { "ok" }))
        .route(
            "/metrics-probe/held",
            axum::routing::get(move || {
                let held = held.clone();
                async move {
                    held.notified().await;
                    "done"
                }
            }),
        );
    let db = migrated_db().await;
    // A pool size of its own, to see that the pool gauges are this app's.
    let mut config = platform::config::PlatformConfig::default();
    config.database.max_connections = 7;
    let pool = platform::db::connect(&db.url, &config.database)
        .await
        .unwrap();
    let app = TestApp::spawn(pool, config, routes).await.unwrap();

    let before = scrape(&app).await;
    for _ in 0..3 {
        assert_eq!(get(&app.url("/metrics-probe")).await.status(), 200);
    }
    let unknown = reqwest::Client::new()
        .request(
            reqwest::Method::from_bytes(b"PROBE").unwrap(),
            app.url("/nope"),
        )
        .send()
        .await
        .unwrap()
        .status();
    // Three ready jobs (the oldest due 90 s ago) and two dead ones.
    sqlx::raw_sql(
        "INSERT INTO jobs (id, queue, kind, payload, max_attempts, status, run_at) \
         SELECT gen_random_uuid(), 'default', 'metrics.probe', '{}', 1, s, now() - interval '90 seconds' \
         FROM unnest(ARRAY['queued', 'queued', 'queued', 'dead', 'dead']) AS s",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    // One request held in flight until the gauge shows it.
    let in_flight = tokio::spawn(reqwest::get(app.url("/metrics-probe/held")));
    let held_series = r#"p360_http_requests_in_flight{route="/metrics-probe/held"}"#;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let text = loop {
        let text = scrape(&app).await;
        if sample(&text, held_series) == 1.0 {
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{held_series}: {text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    gate.notify_one();
    assert_eq!(in_flight.await.unwrap().unwrap().status(), 200);

    let grew = |series: &str| delta(&before, &text, series);
    assert_eq!(
        grew(r#"p360_http_requests_total{route="/metrics-probe",method="GET",status="200"}"#),
        3.0,
        "{text}"
    );
    assert_eq!(
        grew(r#"p360_http_request_duration_seconds_count{route="/metrics-probe",method="GET"}"#),
        3.0
    );
    // Unknown routes share one label.
    assert_eq!(
        grew(&format!(
            r#"p360_http_requests_total{{route="unmatched",method="PROBE",status="{}"}}"#,
            unknown.as_str()
        )),
        1.0,
        "{text}"
    );
    assert_eq!(sample(&text, "p360_db_pool_max_connections"), 7.0);
    let open = sample(&text, r#"p360_db_pool_connections{state="idle"}"#)
        + sample(&text, r#"p360_db_pool_connections{state="in_use"}"#);
    assert!((1.0..=7.0).contains(&open), "{open} connections");
    assert_eq!(grew("p360_jobs_ready"), 3.0, "queue depth");
    assert_eq!(grew("p360_jobs_dead"), 2.0);
    assert!(sample(&text, "p360_jobs_oldest_ready_seconds") >= 90.0);
    assert_eq!(sample(&text, "p360_db_up"), 1.0);
    // Process-wide by nature: one binary, one process.
    assert!(text.contains("p360_build_info{"));
    assert!(sample(&text, "process_resident_memory_bytes") > 1e6);
    assert!(sample(&text, "process_cpu_seconds_total") > 0.0);
    assert!(sample(&text, "process_start_time_seconds") > 1.7e9);
    let after = scrape(&app).await;
    assert_eq!(
        sample(&after, held_series),
        0.0,
        "the held request finished"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn openapi_document_is_openapi_3_and_lists_the_routes() {
    let (app, _db) = spawn_app().await;
    let res = get(&app.url("/openapi.json")).await;
    assert_eq!(res.status(), 200);
    let doc: serde_json::Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/health/live", "/health/ready", "/metrics"] {
        assert!(doc["paths"][path]["get"].is_object(), "{path} missing");
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    app.stop().await.unwrap();
}

#[tokio::test]
async fn readiness_turns_false_as_soon_as_shutdown_begins() {
    let (app, _db) = spawn_app_with(
        |c| c.http.shutdown_delay_ms = 1500,
        platform::http::ApiRoutes::new(),
    )
    .await;
    let client = reqwest::Client::new();
    assert_eq!(
        client
            .get(app.url("/health/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    app.trigger_shutdown();
    // The server task turns readiness off when it sees the signal: wait for
    // that, well within the 1.5 s delay during which it keeps serving.
    let triggered = std::time::Instant::now();
    let res = loop {
        let res = client.get(app.url("/health/ready")).send().await.unwrap();
        if res.status() != 200 {
            break res;
        }
        assert!(
            triggered.elapsed() < Duration::from_millis(1000),
            "still ready {:?} after the shutdown began",
            triggered.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // Still serving during the delay, but no longer ready.
    assert_eq!(res.status(), 503);
    assert!(is_problem(&res));
    assert_eq!(
        client
            .get(app.url("/health/live"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn in_flight_requests_finish_during_graceful_shutdown() {
    // The handler says when the request is inside; the shutdown starts then.
    let inside = std::sync::Arc::new(tokio::sync::Notify::new());
    let (app, _db) = spawn_app_with(
        |c| c.http.drain_timeout_ms = 5000,
        platform::http::ApiRoutes::new().route(
            "/work",
            axum::routing::get({
                let inside = inside.clone();
                || async move {
                    inside.notify_one();
                    // The work: long enough to still run when the shutdown starts.
                    tokio::time::sleep(Duration::from_millis(700)).await;
                    "done"
                }
            }),
        ),
    )
    .await;
    let url = app.url("/work");
    let pending =
        tokio::spawn(async move { reqwest::get(url).await.unwrap().text().await.unwrap() });
    tokio::time::timeout(Duration::from_secs(10), inside.notified())
        .await
        .expect("the request reached its handler");
    app.stop().await.unwrap();
    assert_eq!(pending.await.unwrap(), "done");
}

#[tokio::test]
async fn injected_faults_fail_requests_but_spare_readiness_and_metrics() {
    let _db = migrated_db().await;
    let faults = release::config::FaultsConfig {
        error_rate: 1.0,
        latency_ms: 200,
    };
    let app = TestApp::spawn_wrapped(
        _db.pool.clone(),
        Default::default(),
        |_| Ok(platform::http::ApiRoutes::new()),
        |r| release::faults::wrap(r, &faults),
    )
    .await
    .expect("app starts");
    // /metrics is spared by the faults: read it before and after.
    let before = scrape(&app).await;
    let started = std::time::Instant::now();
    let res = get(&app.url("/health/live")).await;
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "latency added"
    );
    assert_eq!(res.status(), 500);
    assert!(is_problem(&res));
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["type"], "urn:p360:problem:injected-fault");
    assert_eq!(get(&app.url("/health/ready")).await.status(), 200);
    let text = scrape(&app).await;
    assert_eq!(
        delta(
            &before,
            &text,
            r#"p360_http_requests_total{route="/health/live",method="GET",status="500"}"#
        ),
        1.0,
        "the injected failure is counted: {text}"
    );
    app.stop().await.unwrap();
}

/// A transaction the database rolls back because of a concurrent one (here a
/// real deadlock between two transactions) is answered 409 "retry" with a
/// problem, not 500: the request did nothing and may be sent again.
#[tokio::test]
async fn a_transaction_lost_to_a_deadlock_is_a_409_to_retry() {
    use axum::response::IntoResponse;
    let db = migrated_db().await;
    // Two tenants' rows, each locked by one transaction, then by the other.
    for slug in ["one", "two"] {
        sqlx::query!(
            "INSERT INTO tenants (id, slug, name) VALUES (gen_random_uuid(), $1, $1)",
            slug
        )
        .execute(&db.pool)
        .await
        .unwrap();
    }
    let mut a = db.pool.begin().await.unwrap();
    let mut b = db.pool.begin().await.unwrap();
    lock_tenant(&mut a, "one").await.unwrap();
    lock_tenant(&mut b, "two").await.unwrap();
    let (ra, rb) = tokio::join!(lock_tenant(&mut a, "two"), lock_tenant(&mut b, "one"));
    let lost = ra.err().or(rb.err()).expect("one of them deadlocks");
    let res = platform::http::problem::ApiError::from(lost).into_response();
    assert_eq!(res.status(), 409);
    let body: serde_json::Value =
        serde_json::from_slice(&axum::body::to_bytes(res.into_body(), 4096).await.unwrap())
            .unwrap();
    assert!(body["detail"].as_str().unwrap().contains("retry"), "{body}");
}

async fn lock_tenant(conn: &mut sqlx::PgConnection, slug: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "SELECT 1 AS one FROM tenants WHERE slug = $1 FOR UPDATE",
        slug
    )
    .fetch_one(conn)
    .await
    .map(drop)
}
