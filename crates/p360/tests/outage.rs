//! A database that disappears while serving: readiness goes false, requests
//! get 503 problem+json, and service recovers by itself when it returns.

mod common;

use std::time::{Duration, Instant};

use common::*;
use platform::embedded_pg::{EmbeddedPostgres, Ownership};

#[tokio::test]
async fn database_outage_is_503_and_recovers() {
    let tmp = TempDir::new("outage");
    let data = tmp.path().join("var");
    let pg = EmbeddedPostgres::start(&data, None, Ownership::Owned, Default::default())
        .await
        .unwrap();
    let url = pg.url();
    let mut config = platform::config::PlatformConfig::default();
    config.database.acquire_timeout_ms = 500;
    let pool = platform::db::connect(&url, &config.database).await.unwrap();
    platform::db::migrate_up(&pool).await.unwrap();
    let routes = platform::http::ApiRoutes::new().route(
        "/instance",
        axum::routing::get(
            |axum::extract::State(s): axum::extract::State<platform::http::AppState>| async move {
                let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM platform_instance")
                    .fetch_one(&s.pool)
                    .await
                    .map_err(platform::http::problem::ApiError::from)?;
                Ok::<_, platform::http::problem::ApiError>(id.to_string())
            },
        ),
    );
    let app = TestApp::spawn(pool, config, routes).await.unwrap();
    assert_eq!(get(&app.url("/health/ready")).await.status(), 200);
    assert_eq!(get(&app.url("/instance")).await.status(), 200);

    pg.stop().await.unwrap();
    let res = get(&app.url("/health/ready")).await;
    assert_eq!(res.status(), 503);
    assert!(is_problem(&res));
    let res = get(&app.url("/instance")).await;
    assert_eq!(
        res.status(),
        503,
        "a query during the outage is 503, not 500"
    );
    assert!(is_problem(&res));
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["type"], "urn:p360:problem:service-unavailable");
    assert_eq!(
        get(&app.url("/health/live")).await.status(),
        200,
        "still live"
    );
    let metrics = get(&app.url("/metrics")).await.text().await.unwrap();
    assert!(
        metrics.contains("p360_db_up 0"),
        "the outage shows: {metrics}"
    );

    let pg = EmbeddedPostgres::start(&data, None, Ownership::Owned, Default::default())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if get(&app.url("/health/ready")).await.status() == 200
            && get(&app.url("/instance")).await.status() == 200
        {
            break;
        }
        assert!(Instant::now() < deadline, "did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metrics = get(&app.url("/metrics")).await.text().await.unwrap();
    assert!(metrics.contains("p360_db_up 1"), "{metrics}");
    app.stop().await.unwrap();
    pg.stop().await.unwrap();
}
