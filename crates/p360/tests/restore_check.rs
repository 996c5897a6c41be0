//! `p360 restore-check` on embedded defaults (issue 20): a whole database
//! passes with its counts and one machine line; a creative whose file is
//! gone from the object store, and a tampered audit chain, each fail it
//! with one line naming the problem.

mod common;

use common::*;
use serde_json::json;

/// Walk `dir` for the files whose name starts with `prefix`.
fn files_named(dir: &std::path::Path, prefix: &str, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            files_named(&path, prefix, out);
        } else if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(prefix))
        {
            out.push(path);
        }
    }
}

#[tokio::test]
async fn a_restore_is_whole_or_the_check_names_what_is_missing() {
    let tmp = TempDir::new("restore-check");
    let data = tmp.path().join("var");
    let data_s = data.to_str().unwrap();
    let served = Served::start(&data, &[]);
    let customer = served_tenant(&served, data_s, "acme").await;
    let client = reqwest::Client::new();
    let adv: serde_json::Value = client
        .post(served.url("/v1/advertisers"))
        .bearer_auth(&customer)
        .json(&json!({"name": "A", "domain": "a.example", "currency": "USD"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = client
        .post(served.url("/v1/creatives"))
        .bearer_auth(&customer)
        .multipart(
            reqwest::multipart::Form::new()
                .text("advertiser_id", adv["id"].as_str().unwrap().to_string())
                .text("name", "MPU")
                .text("click_url", "https://a.example/")
                .part("file", reqwest::multipart::Part::bytes(ttd::png(300, 250))),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());

    let out = p360_ok(&["restore-check", "--record", "--data-dir", data_s]);
    let machine = out.lines().rev().nth(1).unwrap();
    assert!(
        out.lines()
            .last()
            .unwrap()
            .starts_with("recorded as restore-checks/"),
        "{out}"
    );
    assert!(
        machine.starts_with("restore_check ok=true migration=")
            && machine.ends_with("creatives_checked=1 creatives_missing=0"),
        "{out}"
    );
    let creatives = out.lines().find(|l| l.starts_with("creatives ")).unwrap();
    assert_eq!(creatives.split_whitespace().last(), Some("1"), "{out}");
    let tenants = out.lines().find(|l| l.starts_with("tenants ")).unwrap();
    assert_eq!(tenants.split_whitespace().last(), Some("1"), "{out}");

    // The creative's file is lost from the object store.
    let mut found = Vec::new();
    files_named(&data.join("objects"), "creative.", &mut found);
    assert_eq!(found.len(), 1, "{found:?}");
    let saved = std::fs::read(&found[0]).unwrap();
    std::fs::remove_file(&found[0]).unwrap();
    let out = p360(&["restore-check", "--data-dir", data_s])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("creative ") && err.contains("is not in local:"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ok=false"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    std::fs::write(&found[0], saved).unwrap();

    // A superuser rewrites an event of acme's chain.
    tamper_audit(
        data_s,
        "UPDATE audit_events SET changes = '{\"name\": \"forged\"}' \
           WHERE seq = 1 AND tenant_id = (SELECT id FROM tenants WHERE slug = 'acme');",
    );
    let out = p360(&["restore-check", "--record", "--data-dir", data_s])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the restore is not whole: audit:"), "{err}");
    assert!(!err.contains("creative "), "{err}");

    // Both recorded runs are in the object store: the newest failed, the
    // one before passed (what the restore-test metrics export).
    let config = platform::config::PlatformConfig {
        data_dir: data.clone(),
        ..Default::default()
    };
    let storage = platform::storage::Storage::from_config(&config).unwrap();
    let (last, passed) = platform::restore_check::newest(&storage).await.unwrap();
    let (last, passed) = (last.unwrap(), passed.unwrap());
    assert!(
        !last.ok && last.problems[0].starts_with("audit:"),
        "{last:?}"
    );
    assert!(passed.ok && passed.creatives_checked == 1, "{passed:?}");
    assert!(passed.at < last.at);
    drop(served);
}
