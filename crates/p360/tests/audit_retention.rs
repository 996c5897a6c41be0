//! The audit log's hot window (issue 20): the table is partitioned by
//! month; an archived month leaves it by dropping its partition, only once
//! its archive read back holds exactly its events, and the chains still
//! verify — in the table from the link the drop recorded, in the archive
//! against that link and the months the table says it dropped. The
//! application's role cannot drop, delete or truncate a month itself.

mod common;

use chrono::{DateTime, Datelike as _, Months, Utc};
use common::*;
use tenancy::audit::checkpoint::{Checkpoints, Finding};
use tenancy::audit::{AuditEvent, archive, retention, store};
use tenancy::scope::{AllTenants, ScopedTx};
use uuid::Uuid;

/// Append an event to `chain` as the application does, but as of `at`.
async fn append_at(pool: &sqlx::PgPool, chain: Uuid, at: DateTime<Utc>) {
    let mut tx = ScopedTx::all(pool, AllTenants::system()).await.unwrap();
    let (seq, prev_hash) = store::lock_head(&mut tx, chain, &[0; 32]).await.unwrap();
    let mut event = AuditEvent {
        id: Uuid::now_v7(),
        chain_id: chain,
        seq: seq + 1,
        tenant_id: None,
        occurred_at: DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap(),
        actor_type: "system".into(),
        actor_id: None,
        action: "test.happened".into(),
        target_type: Some("test".into()),
        target_id: None,
        request_id: None,
        source_ip: None,
        user_agent: None,
        changes: serde_json::json!({"n": seq + 1}),
        outcome: "success".into(),
        prev_hash,
        hash: Vec::new(),
    };
    event.hash = event.compute_hash();
    store::append(&mut tx, &event).await.unwrap();
    tx.commit().await.unwrap();
}

/// The partition each event of `chain` is in, by sequence.
async fn partitions_of(pool: &sqlx::PgPool, chain: Uuid) -> Vec<(i64, String)> {
    let mut tx = ScopedTx::all(pool, AllTenants::system()).await.unwrap();
    let rows = sqlx::query!(
        r#"SELECT seq, tableoid::regclass::text AS "partition!" FROM audit_events
           WHERE chain_id = $1 ORDER BY seq"#,
        chain
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    rows.into_iter().map(|r| (r.seq, r.partition)).collect()
}

fn refused(e: sqlx::Error, expected: &str) {
    let text = e.to_string();
    assert!(text.contains(expected), "{text}");
}

#[tokio::test]
async fn archived_months_leave_the_table_and_every_chain_still_verifies() {
    let p = Platform::start().await;
    p.tenant("acme").await;
    let app = platform::db::connect_app(&p.db.url, &p.config.platform.database).unwrap();
    let checkpoints = Checkpoints::from_config(&p.config.audit, &p.config.platform).unwrap();
    let storage = checkpoints.storage();
    let now = Utc::now();
    let this_month = now.date_naive().with_day(1).unwrap();
    let at = |months_ago: u32| {
        (this_month - Months::new(months_ago) + chrono::Days::new(9))
            .and_hms_opt(12, 0, 0)
            .unwrap()
            .and_utc()
    };
    let name = |months_ago: u32| {
        (this_month - Months::new(months_ago))
            .format("%Y-%m")
            .to_string()
    };
    // Two chains with history, written as if months ago (the migration
    // made partitions from this month on, so they land in the default
    // partition): one goes on to this month, the other ends then.
    let going = Uuid::now_v7();
    let ended = Uuid::now_v7();
    append_at(&app, going, at(5)).await;
    append_at(&app, going, at(5)).await;
    append_at(&app, going, at(4)).await;
    append_at(&app, going, now).await;
    append_at(&app, ended, at(5)).await;
    append_at(&app, ended, at(5)).await;
    let stranded = partitions_of(&p.db.pool, going).await;
    assert_eq!(stranded[0].1, "audit_events_default", "{stranded:?}");
    let (_, checkpoint) = checkpoints.take(&app).await.unwrap();
    let before = tenancy::audit::verify(&app).await.unwrap();
    assert!(before.broken.is_empty(), "{:?}", before.broken);

    // An archive of five months ago that is not the table's (one of its
    // two events only): the job archives nothing over it and drops nothing.
    let mut tx = ScopedTx::all(&app, AllTenants::system()).await.unwrap();
    let short: Vec<AuditEvent> = sqlx::query_as!(
        AuditEvent,
        "SELECT id, chain_id, seq, tenant_id, occurred_at, actor_type, actor_id, action, \
         target_type, target_id, request_id, source_ip, user_agent, changes, outcome, prev_hash, \
         hash FROM audit_events WHERE chain_id = $1 AND seq = 1",
        going
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    drop(tx);
    assert_eq!(short.len(), 1);
    let dir = p.data.path().join("objects/audit/archive");
    std::fs::create_dir_all(&dir).unwrap();
    let (body, manifest) = archive::export(&name(5), &short).unwrap();
    std::fs::write(dir.join(format!("{}.ndjson.gz", name(5))), body).unwrap();
    std::fs::write(
        dir.join(format!("{}.json", name(5))),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    let err = retention::run(&app, storage, now, 60, true)
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains(&format!("audit month {} not dropped", name(5))),
        "{err:#}"
    );
    // The job made the months' partitions and moved their rows there.
    let moved = partitions_of(&p.db.pool, going).await;
    let partition =
        |months_ago: u32| format!("audit_events_{}", name(months_ago).replace('-', "_"));
    assert_eq!(moved[0], (1, partition(5)), "{moved:?}");
    assert_eq!(moved[2], (3, partition(4)), "{moved:?}");
    assert_eq!(
        tenancy::audit::verify(&app).await.unwrap().events,
        before.events
    );

    // The bogus archive gone: the months are archived and dropped, oldest
    // first, every month at least 60 days past (empty ones too).
    std::fs::remove_file(dir.join(format!("{}.ndjson.gz", name(5)))).unwrap();
    std::fs::remove_file(dir.join(format!("{}.json", name(5)))).unwrap();
    let pass = retention::run(&app, storage, now, 60, true).await.unwrap();
    assert_eq!(pass.dropped[0], (name(5), 4), "{pass:?}");
    assert_eq!(pass.dropped[1], (name(4), 1), "{pass:?}");
    assert!(pass.dropped[2..].iter().all(|(_, n)| *n == 0), "{pass:?}");
    // (The first pass archived the later months.)
    assert_eq!(pass.archived, vec![(name(5), 4)]);
    let left = partitions_of(&p.db.pool, going).await;
    assert_eq!(left, vec![(4, partition(0))]);
    assert!(partitions_of(&p.db.pool, ended).await.is_empty());

    // The table's chains verify from the links the drop recorded; the
    // checkpoint taken before still holds (the ended chain's head is in a
    // dropped month); the archive verifies against the table's record.
    let after = tenancy::audit::verify(&app).await.unwrap();
    assert!(after.broken.is_empty(), "{:?}", after.broken);
    assert_eq!(after.events, before.events - 5);
    assert_eq!(after.dropped_months, pass.dropped.len());
    let findings = checkpoints.check(&app, &checkpoint).await.unwrap();
    assert!(findings.is_empty(), "{findings:?}");
    let report = archive::verify(&app, &checkpoints).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.events, 5);
    // Nothing more to do.
    let again = retention::run(&app, storage, now, 60, true).await.unwrap();
    assert!(
        again.archived.is_empty() && again.dropped.is_empty(),
        "{again:?}"
    );

    // The application's role cannot remove a month by itself: not the
    // partition, not its rows, and the database refuses a month that
    // ended less than 30 days ago.
    let mut conn = app.acquire().await.unwrap();
    let current = partition(0);
    for (sql, expected) in [
        (format!("DROP TABLE {current}"), "must be owner"),
        (format!("TRUNCATE {current}"), "permission denied"),
        (format!("DELETE FROM {current}"), "permission denied"),
        ("DELETE FROM audit_events".to_string(), "permission denied"),
        (
            "DELETE FROM audit_chain_bases".to_string(),
            "permission denied",
        ),
    ] {
        // Names made from the date, not input.
        refused(
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut *conn)
                .await
                .unwrap_err(),
            expected,
        );
    }
    refused(
        sqlx::query_scalar!(
            "SELECT audit_drop_month($1, $2, 1)",
            this_month,
            "0".repeat(64)
        )
        .fetch_one(&mut *conn)
        .await
        .unwrap_err(),
        "ended less than 30 days ago",
    );
    drop(conn);
    // Nor can the owner truncate a partition by name.
    refused(
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("TRUNCATE {current}")))
            .execute(&p.db.pool)
            .await
            .unwrap_err(),
        "append-only",
    );

    // Someone with the owner's powers moves a chain's recorded link: the
    // table's chain no longer starts where it should, and the checkpoint
    // names the ended chain's head.
    sqlx::raw_sql(
        "UPDATE audit_chain_bases SET seq = seq - 1 WHERE seq = 3; \
         UPDATE audit_chain_bases SET hash = sha256(hash) WHERE seq = 2",
    )
    .execute(&p.db.pool)
    .await
    .unwrap();
    let broken = tenancy::audit::verify(&app)
        .await
        .unwrap()
        .broken
        .join("\n");
    assert!(
        broken.contains(&format!("chain tenant {going}: event #3 is missing")),
        "{broken}"
    );
    assert!(
        broken.contains(&format!("chain tenant {ended}: head hash differs")),
        "{broken}"
    );
    let findings = checkpoints.check(&app, &checkpoint).await.unwrap();
    assert!(
        matches!(&findings[..], [Finding::Tampered(t)] if t.contains(&format!("chain tenant {ended}: event #2 differs"))),
        "{findings:?}"
    );
    let problems = archive::verify(&app, &checkpoints).await.unwrap().problems;
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems
            .iter()
            .all(|p| p.contains("is not the one the table's events follow")),
        "{problems:?}"
    );

    // The archive of a dropped month removed from the bucket: named, and
    // the links the table's chains follow are nowhere in the archive.
    std::fs::remove_file(dir.join(format!("{}.json", name(5)))).unwrap();
    let problems = archive::verify(&app, &checkpoints)
        .await
        .unwrap()
        .problems
        .join("\n");
    assert!(
        problems.contains(&format!(
            "month {} was dropped from the table but is not in the archive",
            name(5)
        )),
        "{problems}"
    );
    assert!(
        problems.contains(&format!(
            "chain tenant {ended}: the table's events follow event #2, which no archived month holds"
        )),
        "{problems}"
    );
}
