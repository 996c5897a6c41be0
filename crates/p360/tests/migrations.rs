//! Every migration is reversible: all the way up, down to zero, and up again.

mod common;

use common::*;
use platform::db;

#[tokio::test]
async fn migrations_go_up_down_to_zero_and_up_again() {
    let test_db = TestDb::empty(&cluster_dir()).await.unwrap();
    let pool = &test_db.pool;
    let total = db::MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .count();
    assert!(total > 0);

    let status = db::migration_status(pool).await.unwrap();
    assert!(status.iter().all(|m| m.applied_at.is_none()));

    let applied = db::migrate_up(pool).await.unwrap();
    assert_eq!(applied.len(), total);
    assert!(
        db::migrate_up(pool).await.unwrap().is_empty(),
        "second up is a no-op"
    );
    let status = db::migration_status(pool).await.unwrap();
    assert!(status.iter().all(|m| m.applied_at.is_some()));
    let tables_up = user_tables(pool).await;
    assert!(tables_up.contains(&"platform_instance".to_string()));

    let mut reverted = Vec::new();
    while let Some(v) = db::migrate_down(pool).await.unwrap() {
        reverted.push(v);
    }
    let mut expected = applied.clone();
    expected.reverse();
    assert_eq!(
        reverted, expected,
        "down reverts newest first, one at a time"
    );
    assert_eq!(
        user_tables(pool).await,
        vec!["_sqlx_migrations".to_string()],
        "down to zero leaves no platform table behind"
    );

    assert_eq!(db::migrate_up(pool).await.unwrap(), applied);
    assert_eq!(user_tables(pool).await, tables_up);
}

async fn user_tables(pool: &sqlx::PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}
