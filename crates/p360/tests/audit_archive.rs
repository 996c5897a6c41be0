//! The audit archive (issue 20): months older than the hot window leave as
//! gzip NDJSON with every event's hashes and a manifest; the archive
//! verifies on its own and against the table, and an altered event or a
//! replaced file is named even when the manifest was rewritten to match.

mod common;

use std::io::{Read as _, Write as _};

use futures_util::TryStreamExt as _;

use common::*;
use tenancy::audit::archive;
use tenancy::audit::checkpoint::Checkpoints;

fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .unwrap();
    text
}

fn gzip(text: &str) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap()
}

#[tokio::test]
async fn a_month_is_archived_with_its_hashes_and_verifies_until_altered() {
    let p = Platform::start().await;
    p.tenant("acme").await;
    p.tenant("beta").await;
    let total = tenancy::audit::verify(&p.db.pool).await.unwrap().events;
    assert!(total >= 2);
    let checkpoints = Checkpoints::from_config(&p.config.audit, &p.config.platform).unwrap();
    let storage = checkpoints.storage();
    let now = chrono::Utc::now();

    // A signed checkpoint of every chain's head, as the hourly job takes.
    let (_, checkpoint) = checkpoints.take(&p.db.pool).await.unwrap();

    // Nothing has left the 90-day window yet.
    let done = archive::archive(&p.db.pool, storage, now, 90)
        .await
        .unwrap();
    assert!(done.is_empty(), "{done:?}");

    // Two months on, with no hot window: this month and the next (empty) one.
    let later = now + chrono::Duration::days(62);
    let done = archive::archive(&p.db.pool, storage, later, 0)
        .await
        .unwrap();
    let month = now.format("%Y-%m").to_string();
    assert_eq!(done.first(), Some(&(month.clone(), total)), "{done:?}");
    assert_eq!(done.len(), 2, "{done:?}");
    assert_eq!(done[1].1, 0);
    // Archived months are not archived again.
    assert!(
        archive::archive(&p.db.pool, storage, later, 0)
            .await
            .unwrap()
            .is_empty()
    );

    let report = archive::verify(&p.db.pool, &checkpoints).await.unwrap();
    assert_eq!((report.months, report.events), (2, total));
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    // Someone with write access to the bucket alters an event and rewrites
    // the manifest's checksum to match.
    let dir = p.data.path().join("objects/audit/archive");
    let file = dir.join(format!("{month}.ndjson.gz"));
    let manifest_file = dir.join(format!("{month}.json"));
    let original = std::fs::read(&file).unwrap();
    let original_manifest = std::fs::read(&manifest_file).unwrap();
    let text = gunzip(&original);
    assert_eq!(text.lines().count(), total);
    let altered = text.replacen("\"outcome\":\"success\"", "\"outcome\":\"failure\"", 1);
    assert_ne!(altered, text);
    let altered = gzip(&altered);
    std::fs::write(&file, &altered).unwrap();
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_file).unwrap()).unwrap();
    let sha = std::process::Command::new("sha256sum")
        .arg(&file)
        .output()
        .unwrap();
    let sha = String::from_utf8(sha.stdout).unwrap();
    manifest["sha256"] = serde_json::json!(sha.split_whitespace().next().unwrap());
    std::fs::write(&manifest_file, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let report = archive::verify(&p.db.pool, &checkpoints).await.unwrap();
    let all = report.problems.join("\n");
    assert!(
        all.contains("was altered (its hash does not match its content)"),
        "{all}"
    );
    assert!(!all.contains("differs from its manifest"), "{all}");

    // The original file back under the rewritten manifest: the checksum says so.
    std::fs::write(&file, &original).unwrap();
    let report = archive::verify(&p.db.pool, &checkpoints).await.unwrap();
    let all = report.problems.join("\n");
    assert!(
        all.contains(&format!(
            "archive {month}: the events file differs from its manifest"
        )),
        "{all}"
    );
    assert!(!all.contains("was altered"), "{all}");

    // The archive as it was, and the table's copy of an archived event
    // changed (by someone who can disable the table's trigger): verify
    // names that event, found among the archive's by its chain and
    // sequence, and nothing else.
    std::fs::write(&manifest_file, &original_manifest).unwrap();
    let mut conn = p.db.pool.acquire().await.unwrap();
    sqlx::raw_sql(
        "BEGIN; ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete; \
         SET LOCAL p360.all_tenants = 'on'; \
         UPDATE audit_events SET hash = sha256(hash) WHERE seq = 1 AND chain_id = \
           (SELECT min(chain_id::text)::uuid FROM audit_events WHERE tenant_id IS NOT NULL); \
         ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete; COMMIT;",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    let report = archive::verify(&p.db.pool, &checkpoints).await.unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(
        report.problems[0].ends_with("event #1 differs from the database's"),
        "{:?}",
        report.problems
    );

    // The month rewritten and rehashed: the other tenant's last event (a
    // head the checkpoint signed) changed and its hash recomputed, so the
    // archive agrees with itself and its manifest; and the table's copy
    // gone, as once the month's partition is dropped. Only the signed
    // checkpoint still says what the event was.
    let head = checkpoint
        .chains
        .iter()
        .filter(|h| !h.chain_id.is_nil())
        .max_by_key(|h| h.chain_id)
        .unwrap()
        .clone();
    let mut tx = tenancy::scope::ScopedTx::all(&p.db.pool, tenancy::scope::AllTenants::system())
        .await
        .unwrap();
    let start = chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    let mut events: Vec<_> = tenancy::audit::store::between(&mut tx, start, later)
        .try_collect()
        .await
        .unwrap();
    drop(tx);
    let last = events
        .iter()
        .filter(|e| e.chain_id == head.chain_id)
        .map(|e| e.seq)
        .max();
    assert_eq!(last, Some(head.seq), "the head is its chain's last event");
    let event = events
        .iter_mut()
        .find(|e| e.chain_id == head.chain_id && e.seq == head.seq)
        .unwrap();
    event.outcome = if event.outcome == "success" {
        "failure".into()
    } else {
        "success".into()
    };
    event.hash = event.compute_hash();
    let (body, manifest) = archive::export(&month, &events).unwrap();
    std::fs::write(&file, body).unwrap();
    std::fs::write(&manifest_file, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let mut t = p.db.pool.begin().await.unwrap();
    sqlx::raw_sql(
        "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete; \
         SET LOCAL p360.all_tenants = 'on'",
    )
    .execute(&mut *t)
    .await
    .unwrap();
    sqlx::query!(
        "DELETE FROM audit_events WHERE chain_id = $1 AND seq = $2",
        head.chain_id,
        head.seq
    )
    .execute(&mut *t)
    .await
    .unwrap();
    sqlx::raw_sql("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete")
        .execute(&mut *t)
        .await
        .unwrap();
    t.commit().await.unwrap();
    let report = archive::verify(&p.db.pool, &checkpoints).await.unwrap();
    let about: Vec<&String> = report
        .problems
        .iter()
        .filter(|m| m.contains(&head.chain_id.to_string()))
        .collect();
    assert_eq!(about.len(), 1, "{:?}", report.problems);
    assert!(
        about[0].contains(&format!(
            "event #{} differs from the signed checkpoint of",
            head.seq
        )),
        "{about:?}"
    );
}
