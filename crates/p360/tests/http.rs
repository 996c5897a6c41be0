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

#[tokio::test]
async fn metrics_show_request_counters_latency_pool_and_build_info() {
    let (app, _db) = spawn_app().await;
    for _ in 0..3 {
        get(&app.url("/health/live")).await;
    }
    get(&app.url("/nope")).await;
    let res = get(&app.url("/metrics")).await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let count = text
        .lines()
        .find(|l| {
            l.starts_with("p360_http_requests_total{")
                && l.contains("route=\"/health/live\"")
                && l.contains("status=\"200\"")
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .expect("request counter for /health/live");
    assert!(count >= 3.0, "{count}");
    assert!(
        text.contains("route=\"unmatched\""),
        "unknown routes share one label"
    );
    assert!(text.contains("p360_http_request_duration_seconds_bucket{"));
    assert!(text.contains("p360_http_requests_in_flight{"));
    assert!(text.contains("p360_db_pool_connections{state=\"idle\"}"));
    assert!(text.contains("p360_db_pool_max_connections"));
    assert!(text.contains("p360_build_info{"));
    assert!(text.contains("p360_jobs_ready"), "queue depth");
    assert!(text.contains("p360_jobs_oldest_ready_seconds"));
    assert!(text.contains("p360_jobs_dead"));
    assert!(text.contains("p360_db_up 1"));
    let gauge = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    assert!(gauge("process_resident_memory_bytes") > 1e6);
    assert!(gauge("process_cpu_seconds_total") > 0.0);
    assert!(gauge("process_start_time_seconds") > 1.7e9);
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
    let metrics = get(&app.url("/metrics")).await;
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("p360_http_requests_total{")
                && l.contains("route=\"/health/live\"")
                && l.contains("status=\"500\"")),
        "injected failures are counted: {text}"
    );
    app.stop().await.unwrap();
}
