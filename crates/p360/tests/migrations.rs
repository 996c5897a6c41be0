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

/// As production runs them: the owner is neither a superuser nor BYPASSRLS
/// (docs/runbooks/environment-setup.md), so row-level security, forced on
/// tenant tables, applies to it too. A migration's data step must still
/// see every tenant's rows: 14 copies each campaign's activation into
/// `campaign_activations`, and 15's down copies it back; 39 copies the
/// audit log into its partitioned table, and its down back. (The data steps'
/// queries are runtime ones: they address the schema of version 13, which
/// the compile-time checked queries do not know.)
#[tokio::test]
async fn migrations_move_every_tenants_rows_as_an_owner_that_is_not_a_superuser() {
    let test_db = TestDb::empty(&cluster_dir()).await.unwrap();
    let owner = "p360_test_owner";
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DO $$ BEGIN CREATE ROLE {owner} LOGIN CREATEROLE NOSUPERUSER NOBYPASSRLS; \
         EXCEPTION WHEN duplicate_object THEN NULL; END $$; \
         ALTER DATABASE {} OWNER TO {owner}",
        test_db.name()
    )))
    .execute(&test_db.pool)
    .await
    .unwrap();
    let mut url = url::Url::parse(&test_db.url).unwrap();
    url.set_username(owner).unwrap();
    url.set_password(None).unwrap();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(url.as_str())
        .await
        .unwrap();
    let is_superuser = sqlx::query_scalar!(
        r#"SELECT rolsuper AS "rolsuper!" FROM pg_roles WHERE rolname = current_user"#
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(!is_superuser);

    db::migrate_up_to(&pool, 20261203000013).await.unwrap();
    // Two tenants' campaigns, each synced to TTD.
    let mut tx = pool.begin().await.unwrap();
    sqlx::query_scalar!("SELECT set_config('p360.all_tenants', 'on', true)")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    for (slug, n) in [("acme", 1), ("globex", 2)] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "INSERT INTO tenants (id, slug, name) VALUES ('00000000-0000-7000-8000-00000000000{n}', '{slug}', '{slug}');
             INSERT INTO advertisers (id, tenant_id, name, domain, currency) VALUES
               ('00000000-0000-7000-8000-00000000001{n}', '00000000-0000-7000-8000-00000000000{n}', 'A', 'a.example', 'USD');
             INSERT INTO insertion_orders (id, tenant_id, advertiser_id, currency, name, budget_micros,
                 start_date, end_date, pricing_model, pricing_rate_micros) VALUES
               ('00000000-0000-7000-8000-00000000002{n}', '00000000-0000-7000-8000-00000000000{n}',
                '00000000-0000-7000-8000-00000000001{n}', 'USD', 'IO', 1000000000, '2027-01-01', '2027-12-31', 'cpm', 5000000);
             INSERT INTO campaigns (id, tenant_id, insertion_order_id, advertiser_id, currency, name, objective,
                 budget_micros, flight_start, flight_end, pacing, activation) VALUES
               ('00000000-0000-7000-8000-00000000003{n}', '00000000-0000-7000-8000-00000000000{n}',
                '00000000-0000-7000-8000-00000000002{n}', '00000000-0000-7000-8000-00000000001{n}', 'USD', 'C',
                'awareness', 100000000, '2027-02-01', '2027-02-28', 'even',
                '{{\"status\": \"synced\", \"generation\": {n}, \"ttd\": {{\"campaign_id\": \"ttd-{n}\"}}}}');
             INSERT INTO audit_events (id, chain_id, seq, tenant_id, occurred_at, actor_type, action,
                 changes, outcome, prev_hash, hash) VALUES
               ('00000000-0000-7000-8000-00000000004{n}', '00000000-0000-7000-8000-00000000000{n}', 1,
                '00000000-0000-7000-8000-00000000000{n}', '2026-0{n}-15T12:00:00Z', 'system', 'test',
                '{{}}', 'success', '\\x00', '\\x01');"
        )))
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    // Reading every tenant's rows, as the migrations wrote them.
    let all_tenants = || async {
        let mut tx = pool.begin().await.unwrap();
        sqlx::query_scalar!("SELECT set_config('p360.all_tenants', 'on', true)")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        tx
    };

    db::migrate_up_to(&pool, 20261203000014).await.unwrap();
    let mut tx = all_tenants().await;
    let copied = sqlx::query_scalar!(
        r#"SELECT ttd->>'campaign_id' AS "id!" FROM campaign_activations ORDER BY 1"#
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert_eq!(
        copied,
        ["ttd-1", "ttd-2"],
        "14 copied both tenants' activations"
    );
    drop(tx);
    // All the way up, back down to 14 (15's down brings the column back).
    db::migrate_up(&pool).await.unwrap();
    // 39 moved the audit log into monthly partitions, every tenant's events.
    let audit_events = || async {
        let mut tx = all_tenants().await;
        sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM audit_events"#)
            .fetch_one(&mut *tx)
            .await
            .unwrap()
    };
    assert_eq!(
        audit_events().await,
        2,
        "39 copied both tenants' audit events"
    );
    while db::migration_status(&pool)
        .await
        .unwrap()
        .iter()
        .any(|m| m.version > 20261203000014 && m.applied_at.is_some())
    {
        db::migrate_down(&pool).await.unwrap();
    }
    // `campaigns.activation` is gone from the current schema (15 drops it):
    // this one query cannot be compile-checked.
    let mut tx = all_tenants().await;
    let back: Vec<String> =
        sqlx::query_scalar("SELECT activation->'ttd'->>'campaign_id' FROM campaigns ORDER BY 1")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    assert_eq!(
        back,
        ["ttd-1", "ttd-2"],
        "15's down copied both tenants' activations back"
    );
    drop(tx);
    assert_eq!(audit_events().await, 2, "39's down copied them back");
    // And the rest of the way down and up again, as this owner.
    while db::migrate_down(&pool).await.unwrap().is_some() {}
    db::migrate_up(&pool).await.unwrap();
    // The session setting stayed with the migrations' own connections.
    let leaked = sqlx::query_scalar!("SELECT current_setting('p360.all_tenants', true)")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_ne!(leaked.as_deref(), Some("on"));
    pool.close().await;
}
