//! No secret at rest: a new API key's secret is shown once and stored
//! nowhere in plain text, not even in the idempotency record a retry replays
//! from, so a database dump (the pre-deploy `pg_dump` and its cross-region
//! copy) holds none.

mod common;

use common::*;
use serde_json::{Value, json};

async fn create_key(p: &Platform, token: &str, idem: &str, name: &str) -> (u16, Value) {
    let res = p
        .client
        .post(p.app.url("/v1/api-keys"))
        .bearer_auth(token)
        .header("idempotency-key", idem)
        .json(&json!({"name": name, "role": "marketer"}))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_replayed_key_creation_names_the_key_without_its_secret_and_no_dump_holds_one() {
    let p = Platform::start().await;
    p.tenant("acme").await;
    let admin = p.token("customer_admin", Some("acme"), "admin@acme.test");

    let mut secrets = Vec::new();
    for i in 0..3 {
        let (s, created) = create_key(&p, &admin, &format!("ci-key-{i}"), &format!("ci-{i}")).await;
        assert_eq!(s, 201, "{created}");
        let secret = created["secret"].as_str().unwrap().to_string();
        let id = created["id"].as_str().unwrap().to_string();

        // The retry of a lost response: the same key, the same body.
        let (s, replay) = create_key(&p, &admin, &format!("ci-key-{i}"), &format!("ci-{i}")).await;
        assert_eq!(s, 409, "{replay}");
        assert!(
            replay["detail"].as_str().unwrap().contains(&id),
            "the replay names the key it created: {replay}"
        );
        assert!(!replay.to_string().contains(&secret), "{replay}");
        // Still exactly one key of that name: the retry created nothing.
        let (_, listed) = p.get("/v1/api-keys", &admin).await;
        let named = listed
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["name"] == format!("ci-{i}"))
            .count();
        assert_eq!(named, 1, "{listed}");
        secrets.push(secret);
    }

    // Every secret the test created authenticates, and none is in a full dump.
    for s in &secrets {
        assert_eq!(p.get("/v1/campaigns", s).await.0, 200);
    }
    // libpq takes the URL without sqlx's own query parameters.
    let url = p.db.url.split('?').next().unwrap();
    let dump = std::process::Command::new("pg_dump")
        .args(["--no-owner", "--data-only", url])
        .output()
        .expect("pg_dump");
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let text = String::from_utf8_lossy(&dump.stdout);
    assert!(
        text.contains("ci-key-0"),
        "the dump has the idempotency records"
    );
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    for s in &secrets {
        // The secret and its random part alone, as text and as bytea (a
        // text dump writes bytea columns, such as stored bodies, in hex).
        let tail = s.trim_start_matches("p360_");
        for needle in [
            s.to_string(),
            tail.to_string(),
            hex(s.as_bytes()),
            hex(tail.as_bytes()),
        ] {
            assert!(
                !text.contains(&needle),
                "secret {s} is in the dump (as {needle})"
            );
        }
    }
}
