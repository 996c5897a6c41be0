//! The Salesforce side of the tests: a sandbox on a free port, a connected
//! app registered in it, records written into its org.

use crm::salesforce::jwt;
use crm::salesforce::sandbox::{SandboxOptions, router};
use serde_json::{Value, json};

use super::Platform;

/// The integration user every test's org belongs to.
pub const USERNAME: &str = "sync@acme.example";

/// A sandbox on a free port; its base URL.
pub async fn sandbox() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(SandboxOptions {
        instance_url: None,
        mount_path: String::new(),
        fault_rate: 0.0,
        seed: 7,
        hang_ms: 1_000,
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// A key pair: (private key PEM, public key PEM).
pub fn key_pair() -> (String, String) {
    let private = jwt::generate_pem().unwrap();
    let public = jwt::pem(
        "PUBLIC KEY",
        &jwt::public_of(&jwt::private_key(&private).unwrap()),
    );
    (private, public)
}

/// Register a connected app holding `certificate` for `username`.
pub async fn register(base: &str, consumer_key: &str, username: &str, certificate: &str) {
    let res = reqwest::Client::new()
        .post(format!("{base}/_sandbox/apps"))
        .json(&json!({"consumer_key": consumer_key, "username": username, "certificate": certificate}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
}

/// Write (upsert) records of `object` into the org of [`USERNAME`]: their ids.
pub async fn write(base: &str, object: &str, records: Value) -> Vec<String> {
    let res = reqwest::Client::new()
        .post(format!("{base}/_sandbox/orgs/{USERNAME}/{object}"))
        .json(&records)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Connect the org of [`USERNAME`] through the API as `token`, by the app
/// `consumer_key` with `private` (PEM).
pub async fn connect(
    p: &Platform,
    token: &str,
    consumer_key: &str,
    private: &str,
) -> (reqwest::StatusCode, Value) {
    p.post(
        "/v1/integrations/salesforce",
        token,
        json!({
            "consumer_key": consumer_key,
            "username": USERNAME,
            "login_host": "login.salesforce.com",
            "private_key": private,
        }),
    )
    .await
}
